"""The decoding vocabulary: records, invalid records, the options and the summary.

Pure values, shared by every format's module and by the pipeline that consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeAlias

from function.core.limits import HEADER_ROOM, OCI_MAX_MESSAGE_BYTES

# JSON's whitespace, which every text format treats as blank.
WHITESPACE: Final = b" \t\r\n"


class RecordFormat(StrEnum):
    """How an object is split into records (`auto` picks one of the others per object)."""

    AUTO = "auto"
    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"
    LINES = "lines"
    RAW = "raw"
    PARQUET = "parquet"
    AVRO = "avro"


class FormatSource(StrEnum):
    """What decided an object's record format (for the logs and the summary)."""

    CONFIGURED = "configured"  # RECORD_FORMAT
    OBJECT_NAME = "object name"
    CONTENT_TYPE = "content type"
    CONTENT = "content"
    RESUMED = "resumed"  # a continuation: the format the first segment chose


# Where a record lies, for every format: `start`/`end` are byte offsets in the (decompressed)
# object, `end` one past the last byte. Parquet and Avro rows have no byte range of their own:
# there they are the range of the row group (its column chunks) or of the Avro block
# (count, size, data and sync marker) the row is in, and the reason of an invalid record names
# the row group and row, or the block's offset and the row in it.


@dataclass(slots=True)
class Record:
    """One record of an object: its message value and where it lies in the object.

    Not frozen: a frozen dataclass pays object.__setattr__ per field, and one Record is made
    per record on the hot path. Treat it as immutable all the same.
    """

    index: int  # 0-based ordinal in the object, invalid records counted too
    start: int  # first byte, offset in the decompressed object
    end: int  # one past the last byte
    value: bytes  # the message value: JSON (csv/json/jsonl/parquet/avro), text (lines), bytes (raw)


@dataclass(slots=True)
class InvalidRecord:
    """A record that could not be decoded or does not fit in a message."""

    index: int
    start: int
    end: int
    reason: str  # says what is wrong, e.g. "invalid JSON: unexpected character at 17"
    raw: bytes  # the record's first bytes (at most DecodeOptions.max_invalid_bytes)


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to split one object; built by the handler from Settings and the object's metadata."""

    object_name: str
    record_format: RecordFormat = RecordFormat.AUTO
    content_type: str | None = None
    content_encoding: str | None = None
    csv_delimiter: str | None = None  # None: sniffed from the header row
    max_record_bytes: int = OCI_MAX_MESSAGE_BYTES - HEADER_ROOM  # room for key and headers
    max_invalid_bytes: int = 64 * 1024  # raw bytes kept for a dead-letter message
    raw_chunk_bytes: int = 512 * 1024
    max_object_bytes: int = 10 * 1024**3  # decompressed
    max_compression_ratio: int = 200
    chunk_bytes: int = 1024 * 1024  # how much is asked of the stream per read
    # parquet: a row group, avro: a block, over this many (uncompressed) bytes is rejected
    max_row_group_bytes: int = 64 * 1024**2

    def __post_init__(self) -> None:
        # A zero read size would look like the end of the object and decode nothing.
        for name in (
            "chunk_bytes",
            "max_record_bytes",
            "raw_chunk_bytes",
            "max_object_bytes",
            "max_row_group_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"DecodeOptions.{name} must be at least 1")
        if self.max_invalid_bytes < 0 or self.max_compression_ratio < 1:
            raise ValueError(
                "DecodeOptions.max_invalid_bytes and max_compression_ratio are too low"
            )


@dataclass(frozen=True, slots=True)
class DecodeSummary:
    """What decoding saw, for the completion marker and the logs."""

    record_format: RecordFormat  # the format used (never AUTO)
    compression: str | None  # "gzip", "zstd" or None
    records: int  # valid records yielded
    invalid: int  # invalid records yielded
    bytes_in: int  # bytes read from the stream (compressed size when compressed)
    bytes_decoded: int  # decompressed bytes
    format_source: FormatSource | None = None  # what chose the format; None if never chosen
    blank: int = 0  # blank lines / rows skipped (not records)


Item: TypeAlias = Record | InvalidRecord


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where decoding starts when an object is published in segments (CONTRACT §4).

    function.core.continuation carries it from one segment to the next.
    """

    record_format: RecordFormat
    offset: int = 0  # a byte offset in the object, at a record boundary
    skip: bool = False  # decode from the start, publish nothing before next_index
    csv_header: tuple[str, ...] | None = None  # csv: the header row's keys, in order
    csv_delimiter: str | None = None
    in_array: bool = False  # json: the offset lies inside the top-level array
    row_group: int | None = None  # parquet: the row group to start in
    row: int | None = None  # parquet: the row in that row group; avro: in the block at offset

    def to_json(self) -> dict[str, Any]:
        """The `resume` object of a continuation body."""
        document: dict[str, Any] = {"format": str(self.record_format)}
        if self.skip:
            document["skip"] = True
            return document
        document["offset"] = self.offset
        if self.csv_header is not None:
            document["header"] = list(self.csv_header)
            document["delimiter"] = self.csv_delimiter
        if self.in_array:
            document["inArray"] = True
        if self.row_group is not None:
            document["rowGroup"] = self.row_group
            del document["offset"]
        if self.row is not None:
            document["row"] = self.row
        return document
