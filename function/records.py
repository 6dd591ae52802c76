"""Record decoding, the pure core: an object's bytes in, an iterator of records out.

No I/O clients here: the input is any `IO[bytes]` (an Object Storage body, a local file, a
BytesIO in a test) and memory stays flat whatever the object's size.

INTERFACE (fixed; the rest of objstream is built against it):

    decoder = RecordDecoder(stream, DecodeOptions(...))
    for item in decoder:            # Record | InvalidRecord, in index order
        ...
    decoder.summary                 # DecodeSummary, complete once iteration ended

    Raises ObjectRejected(reason) (function.errors) when the object as a whole can never be
    processed: decompression bomb, truncated/corrupt compressed stream, unsupported content,
    more than the allowed size. Records yielded before that stay yielded.
"""

from __future__ import annotations

from dataclasses import dataclass

from function.settings import OCI_MAX_MESSAGE_BYTES, RecordFormat


@dataclass(slots=True)
class Record:
    """One record of an object: its message value and where it lies in the object.

    Not frozen: a frozen dataclass pays object.__setattr__ per field, and one Record is made
    per record on the hot path. Treat it as immutable all the same.
    """

    index: int  # 0-based ordinal in the object, invalid records counted too
    start: int  # first byte, offset in the decompressed object
    end: int  # one past the last byte
    value: bytes  # the message value: JSON (csv/json/jsonl), UTF-8 text (lines), bytes (raw)


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
    max_record_bytes: int = OCI_MAX_MESSAGE_BYTES - 16 * 1024  # room for key and headers
    max_invalid_bytes: int = 64 * 1024  # raw bytes kept for a dead-letter message
    raw_chunk_bytes: int = 512 * 1024
    max_object_bytes: int = 10 * 1024**3  # decompressed
    max_compression_ratio: int = 200


@dataclass(frozen=True, slots=True)
class DecodeSummary:
    """What decoding saw, for the completion marker and the logs."""

    record_format: RecordFormat  # the format used (never AUTO)
    compression: str | None  # "gzip", "zstd" or None
    records: int  # valid records yielded
    invalid: int  # invalid records yielded
    bytes_in: int  # bytes read from the stream (compressed size when compressed)
    bytes_decoded: int  # decompressed bytes
