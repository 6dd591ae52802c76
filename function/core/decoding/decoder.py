"""`RecordDecoder`: an object's bytes in, its records out, whatever the format.

It decompresses (gzip, zstd), chooses the format (`detect`), strips a BOM, and hands the
chunks to the format's module. See the package docstring for each format's behaviour.

Parquet needs random access (its footer is at the end): the decoder is given a `ranged`
source (a `RandomAccess`, or a callable opening one) besides, or instead of, the stream. When
the settings or the object's name say Parquet, the caller opens only the ranged source
(`detect.needs_random_access`) and passes `stream=None`; when the Content-Type or the first
bytes say so, the decoder opens the ranged source then and leaves the stream.
"""

from __future__ import annotations

import io
import logging
from typing import IO, TYPE_CHECKING, TypeAlias

from function.core.decoding.buffering import Limits, Tally, read_head, stream_chunks, without_prefix
from function.core.decoding.compression import DecompressedStream, compression_hint
from function.core.decoding.csv_rows import csv_delimiter, csv_rows, csv_spans
from function.core.decoding.detect import (
    UTF8_BOM,
    FormatChoice,
    format_from_content_type,
    format_from_name,
    needs_random_access,
    resolve_format,
)
from function.core.decoding.json_array import Cursor, json_document
from function.core.decoding.lines import json_lines, line_batches, text_lines
from function.core.decoding.ranged import RandomAccess, SeekableObject
from function.core.decoding.raw import raw_chunks
from function.core.decoding.records import (
    DecodeOptions,
    DecodeSummary,
    FormatSource,
    Item,
    RecordFormat,
)
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from function.core.continuation import ResumePoint
    from function.core.decoding.avro import AvroRecords
    from function.core.decoding.parquet import ParquetRows
    from function.core.decoding.typed import Column

# A ranged source, or what opens one when it turns out to be needed.
Ranged: TypeAlias = "RandomAccess | Callable[[], RandomAccess]"

log = logging.getLogger(__name__)


class RecordDecoder:
    """The records of one object, in index order; see the module docstring."""

    def __init__(
        self,
        stream: IO[bytes] | None,
        options: DecodeOptions,
        *,
        ranged: Ranged | None = None,
        resume: ResumePoint | None = None,
        first_index: int = 0,
    ) -> None:
        """`resume` (parquet, avro): start there; `first_index` is then the index at it (avro).

        For Avro, a resume at a block offset needs `stream` to start at that offset and
        `ranged` to read the header from the object's start.
        """
        if stream is None and ranged is None:
            raise ValueError("RecordDecoder needs a stream or a ranged source")
        self._options = options
        self._ranged = ranged
        self._random_access: RandomAccess | None = None
        if stream is None:
            stream = io.BufferedReader(_LazySeekable(self._open_ranged), options.chunk_bytes)
            self._stream_is_ranged = True
        else:
            self._stream_is_ranged = False
        self._content = DecompressedStream(
            stream,
            max_object_bytes=options.max_object_bytes,
            max_compression_ratio=options.max_compression_ratio,
        )
        self._resume = resume
        self._tally = Tally()
        self._tally.index = first_index
        self._choice: FormatChoice | None = None
        self._finished = False
        self._typed: ParquetRows | AvroRecords | None = None
        self._items = self._decode()

    def __iter__(self) -> Iterator[Item]:
        # The generator itself, so a for loop runs at generator speed rather than through
        # __next__ below (one Python call per record less on the hot path).
        return self._items

    def __next__(self) -> Item:
        return next(self._items)

    @property
    def record_format(self) -> RecordFormat:
        """The format being decoded (never AUTO); known once the first item was produced."""
        if self._choice is None:
            if not self._finished:
                raise RuntimeError("RecordDecoder.record_format is known after the first item")
            return self._unchosen_format()
        return self._choice.record_format

    @property
    def columns(self) -> tuple[Column, ...] | None:
        """The file's own columns (parquet, avro: known with the first item), else None."""
        return self._typed.columns if self._typed is not None else None

    def position_after_last(self) -> ResumePoint | None:
        """Where decoding resumes after the last item yielded (parquet and avro, for now).

        Parquet: `ResumePoint(parquet, row_group=g, row=r)`; Avro: `ResumePoint(avro,
        offset=<block offset>, row=r)`. None for the other formats (and before the first item).
        """
        from function.core.continuation import ResumePoint
        from function.core.decoding.parquet import ParquetRows

        typed = self._typed
        if typed is None:
            return None
        if isinstance(typed, ParquetRows):
            return ResumePoint(RecordFormat.PARQUET, row_group=typed.row_group, row=typed.row)
        return ResumePoint(RecordFormat.AVRO, offset=typed.block_offset, row=typed.row)

    @property
    def summary(self) -> DecodeSummary:
        """What was decoded; complete once iteration ended (exhausted or ObjectRejected)."""
        if not self._finished:
            raise RuntimeError("RecordDecoder.summary is complete only once iteration ended")
        tally = self._tally
        choice = self._choice
        bytes_in, bytes_out = self._content.bytes_in, self._content.bytes_out
        compression = self._content.compression
        if self._random_access is not None:
            # Parquet's compression is inside the file, per column chunk: the object's bytes.
            bytes_in = bytes_out = self._random_access.size
            compression = None
        return DecodeSummary(
            record_format=choice.record_format if choice else self._unchosen_format(),
            compression=compression,
            records=tally.index - tally.invalid,
            invalid=tally.invalid,
            bytes_in=bytes_in,
            bytes_decoded=bytes_out,
            format_source=choice.source if choice else None,
            blank=tally.blank,
        )

    def _open_ranged(self) -> RandomAccess:
        if self._random_access is None:
            ranged = self._ranged
            if ranged is None:
                raise ObjectRejected(
                    "Parquet is read by ranges (its footer is at the end), and this object "
                    "was given as a stream only"
                )
            self._random_access = ranged() if callable(ranged) else ranged
        return self._random_access

    def _unchosen_format(self) -> RecordFormat:
        """The format the metadata implies, for an object rejected before its content was seen."""
        options = self._options
        if options.record_format is not RecordFormat.AUTO:
            return options.record_format
        hint = format_from_name(options.object_name) or format_from_content_type(
            options.content_type
        )
        return hint[0] if hint else RecordFormat.RAW

    def _check_compression_hint(self) -> None:
        """Log when the metadata claims a compression the bytes do not have (they decide)."""
        options = self._options
        claimed = compression_hint(options.object_name, options.content_encoding)
        actual = self._content.compression
        if claimed is not None and claimed is not actual:
            log.info(
                "object metadata says %s but its bytes are %s; decoding what the bytes are",
                claimed,
                actual or "not compressed",
                extra={"object_name": options.object_name, "claimed": str(claimed)},
            )

    def _decode(self) -> Iterator[Item]:  # noqa: C901, PLR0912 - one branch per format
        options = self._options
        try:
            if self._stream_is_ranged and needs_random_access(
                options.record_format, options.object_name
            ):
                source = (
                    FormatSource.CONFIGURED
                    if options.record_format is RecordFormat.PARQUET
                    else FormatSource.OBJECT_NAME
                )
                self._choice = FormatChoice(RecordFormat.PARQUET, source)
                yield from self._parquet()
                return
            parts, complete = read_head(self._content)
            self._check_compression_hint()
            head = b"".join(parts)
            choice = resolve_format(
                configured=options.record_format,
                object_name=options.object_name,
                content_type=options.content_type,
                head=head,
                complete=complete,
            )
            self._choice = choice
            start = 0
            if choice.record_format is not RecordFormat.RAW and head.startswith(UTF8_BOM):
                head, start = head[len(UTF8_BOM) :], len(UTF8_BOM)
                parts = without_prefix(parts, len(UTF8_BOM))
            chunks = stream_chunks(parts, self._content, options.chunk_bytes)
            limits = Limits(options.max_record_bytes, options.max_invalid_bytes)
            fmt = choice.record_format
            if fmt in {RecordFormat.PARQUET, RecordFormat.AVRO} and complete and not head:
                return  # an empty object has no records, whatever its format
            if fmt is RecordFormat.PARQUET:
                yield from self._parquet()
            elif fmt is RecordFormat.AVRO:
                yield from self._avro(chunks, limits)
            elif fmt is RecordFormat.CSV:
                delimiter = csv_delimiter(options.csv_delimiter or choice.csv_delimiter, head)
                spans = csv_spans(chunks, start, delimiter.encode(), limits)
                yield from csv_rows(spans, delimiter, limits, self._tally)
            elif fmt is RecordFormat.JSON:
                yield from json_document(Cursor(chunks, start), limits, self._tally)
            elif fmt is RecordFormat.JSONL:
                yield from json_lines(line_batches(chunks, start, limits), limits, self._tally)
            elif fmt is RecordFormat.LINES:
                yield from text_lines(line_batches(chunks, start, limits), limits, self._tally)
            else:
                chunk_size = min(options.raw_chunk_bytes, options.max_record_bytes)
                yield from raw_chunks(chunks, start, chunk_size, self._tally)
        finally:
            self._finished = True
            if callable(self._ranged) and self._random_access is not None:
                # What the decoder opened itself, it closes.
                close = getattr(self._random_access, "close", None)
                if close is not None:
                    close()

    def _parquet(self) -> Iterator[Item]:
        from function.core.decoding.parquet import ParquetRows

        options, resume = self._options, self._resume
        source = self._open_ranged()
        if not source.size:
            return  # an empty object has no records, whatever its format
        rows = ParquetRows(
            source,
            Limits(options.max_record_bytes, options.max_invalid_bytes),
            self._tally,
            max_row_group_bytes=options.max_row_group_bytes,
            start_row_group=(resume.row_group or 0) if resume else 0,
            start_row=(resume.row or 0) if resume else 0,
        )
        self._typed = rows
        yield from rows

    def _avro(self, chunks: Iterator[bytes], limits: Limits) -> Iterator[Item]:
        from function.core.decoding.avro import MAX_HEADER_BYTES, AvroHeader, AvroRecords

        resume, header = self._resume, None
        offset = resume.offset if resume else 0
        if offset:
            # The chunks start at the block; the schema and sync marker are at the start.
            source = self._open_ranged()
            header = AvroHeader.parse(source.read(0, min(source.size, MAX_HEADER_BYTES)))
        records = AvroRecords(
            chunks,
            limits,
            self._tally,
            max_block_bytes=self._options.max_row_group_bytes,
            start_offset=offset,
            start_row=(resume.row or 0) if resume else 0,
            header=header,
        )
        self._typed = records
        yield from records


class _LazySeekable(io.RawIOBase):
    """The ranged source as a raw stream, opened at the first read (for non-Parquet objects
    that were opened for ranged reads because their name said Parquet)."""

    def __init__(self, opener: Callable[[], RandomAccess]) -> None:
        super().__init__()
        self._opener = opener
        self._file: SeekableObject | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._file is None:
            self._file = SeekableObject(self._opener())
        return self._file.readinto(buffer)
