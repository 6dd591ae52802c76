"""`RecordDecoder`: an object's bytes in, its records out, whatever the format.

It decompresses (gzip, zstd), chooses the format (`detect`), strips a BOM, and hands the
chunks to the format's module. See the package docstring for each format's behaviour.

Objects published in segments (CONTRACT §4): `resume_after(end)` is where the next segment
starts after the item that ends at `end`, and `RecordDecoder(..., resume=that, first_index=i)`
decodes from there (the stream then starts at `resume.offset`, as a Range read gives it),
with the same indexes, ranges and values as one pass over the whole object. Compressed
objects resume by decoding from the start (`ResumePoint.skip`): the caller publishes nothing
before its next index. Parquet resumes at a row group and row, Avro at a block and row.

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
from function.core.decoding.csv_rows import CsvRows, csv_delimiter, csv_rows, csv_spans
from function.core.decoding.detect import (
    UTF8_BOM,
    FormatChoice,
    format_from_content_type,
    format_from_name,
    needs_random_access,
    resolve_format,
)
from function.core.decoding.json_array import Cursor, json_array_after_element, json_document
from function.core.decoding.lines import json_lines, line_batches, text_lines
from function.core.decoding.ranged import RandomAccess, SeekableObject
from function.core.decoding.raw import raw_chunks
from function.core.decoding.records import (
    DecodeOptions,
    DecodeSummary,
    FormatSource,
    Item,
    RecordFormat,
    ResumePoint,
)
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from function.core.decoding.avro import AvroHeader, AvroRecords
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
        """`resume` and `first_index`: where a continuation starts, and the index there.

        Parquet resumes through `ranged` at a row group and row. Avro at a block offset needs
        `stream` to start at that offset and `ranged` to read the header at the object's start.
        """
        if stream is None and ranged is None:
            raise ValueError("RecordDecoder needs a stream or a ranged source")
        self._options = options
        self._ranged = ranged
        self._random_access: RandomAccess | None = None
        self._stream_is_ranged = stream is None
        if stream is None:
            stream = io.BufferedReader(_LazySeekable(self._open_ranged), options.chunk_bytes)
        self._resume = resume
        # Resumed at an offset: the stream starts inside the object, after the format was
        # chosen and any BOM stripped, and the object is not compressed.
        self._resumed = resume if resume is not None and not resume.skip else None
        self._content = DecompressedStream(
            stream,
            max_object_bytes=options.max_object_bytes,
            max_compression_ratio=options.max_compression_ratio,
            detect=self._resumed is None,
        )
        self._tally = Tally()
        self._offset = self._resumed.offset if self._resumed is not None else 0
        if self._resumed is not None:
            self._tally.index = first_index
        self._forced = resume.record_format if resume is not None else None
        self._csv: CsvRows | None = None
        self._in_array = False
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
    def summary(self) -> DecodeSummary:
        """What was decoded; complete once iteration ended (exhausted or ObjectRejected)."""
        if not self._finished:
            raise RuntimeError("RecordDecoder.summary is complete only once iteration ended")
        tally = self._tally
        choice = self._choice
        bytes_in, bytes_out = self.bytes_read, self._offset + self._content.bytes_out
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

    @property
    def bytes_read(self) -> int:
        """How far into the object reading has come (from its start, even when resumed)."""
        return self._offset + self._content.bytes_in

    @property
    def columns(self) -> tuple[Column, ...] | None:
        """The file's own columns (parquet, avro: known with the first item), else None."""
        return self._typed.columns if self._typed is not None else None

    def resume_after(self, end: int) -> ResumePoint:
        """Where the next segment starts when this one stops after the item ending at `end`.

        Parquet and Avro know their position themselves (a row group or block, and a row).
        """
        typed = self._typed
        if typed is not None:
            from function.core.decoding.parquet import ParquetRows

            if isinstance(typed, ParquetRows):
                return ResumePoint(RecordFormat.PARQUET, row_group=typed.row_group, row=typed.row)
            return ResumePoint(RecordFormat.AVRO, offset=typed.block_offset, row=typed.row)
        fmt = self.record_format
        if self._content.compression is not None or (
            fmt is RecordFormat.JSON and not self._in_array
        ):
            # No byte position to start from: the next segment decodes from the start.
            return ResumePoint(fmt, skip=True)
        csv = self._csv
        return ResumePoint(
            fmt,
            offset=end,
            csv_header=csv.header if csv is not None else None,
            csv_delimiter=csv.delimiter if csv is not None else None,
            in_array=self._in_array,
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

    def _choose(self, head: bytes, *, complete: bool) -> FormatChoice:
        if self._forced is not None:
            return FormatChoice(self._forced, FormatSource.RESUMED)
        options = self._options
        return resolve_format(
            configured=options.record_format,
            object_name=options.object_name,
            content_type=options.content_type,
            head=head,
            complete=complete,
        )

    def _decode(self) -> Iterator[Item]:  # noqa: C901, PLR0912 - one branch per format
        options = self._options
        resumed = self._resumed
        try:
            if self._stream_is_ranged and (
                self._forced is RecordFormat.PARQUET
                or needs_random_access(options.record_format, options.object_name)
            ):
                if self._forced is RecordFormat.PARQUET:
                    source = FormatSource.RESUMED
                elif options.record_format is RecordFormat.PARQUET:
                    source = FormatSource.CONFIGURED
                else:
                    source = FormatSource.OBJECT_NAME
                self._choice = FormatChoice(RecordFormat.PARQUET, source)
                yield from self._parquet()
                return
            parts, complete = read_head(self._content)
            self._check_compression_hint()
            head = b"".join(parts)
            choice = self._choose(head, complete=complete)
            self._choice = choice
            start = self._offset
            if (
                resumed is None
                and choice.record_format is not RecordFormat.RAW
                and head.startswith(UTF8_BOM)
            ):
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
                delimiter = options.csv_delimiter or choice.csv_delimiter
                yield from self._csv_rows(chunks, start, head, delimiter, limits)
            elif fmt is RecordFormat.JSON:
                yield from self._json(Cursor(chunks, start), limits)
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

    def _csv_rows(
        self,
        chunks: Iterator[bytes],
        start: int,
        head: bytes,
        delimiter: str | None,
        limits: Limits,
    ) -> Iterator[Item]:
        resumed = self._resumed
        if resumed is not None and resumed.csv_header is not None:
            # A continuation: the header row was read by the first segment.
            chosen = resumed.csv_delimiter or ","
            self._csv = CsvRows(chosen, limits, header=resumed.csv_header)
        else:
            chosen = csv_delimiter(delimiter, head)
            self._csv = CsvRows(chosen, limits)
        spans = csv_spans(chunks, start, chosen.encode(), limits)
        yield from csv_rows(spans, self._csv, limits, self._tally)

    def _json(self, cursor: Cursor, limits: Limits) -> Iterator[Item]:
        # Returns the format's generator rather than being one: a generator less per record.
        resumed = self._resumed
        if resumed is not None and resumed.in_array:
            self._in_array = True
            return json_array_after_element(cursor, limits, self._tally)
        return json_document(cursor, limits, self._tally, on_array=self._array)

    def _array(self) -> None:
        self._in_array = True

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
        from function.core.decoding.avro import AvroRecords

        resume, header = self._resume, None
        offset = resume.offset if resume else 0
        if offset:
            # The chunks start at the block; the schema and sync marker are at the start.
            header = _avro_header(self._open_ranged(), offset)
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


# A resumed Avro object's header is read in ranges this long at first, growing tenfold: a
# header is a schema (a few KiB), and the cap (avro.MAX_HEADER_BYTES) is for hostile files.
AVRO_HEADER_READ = 64 * 1024


def _avro_header(source: RandomAccess, first_block: int) -> AvroHeader:
    """The header of an Avro object resumed at the block at `first_block`, read by ranges."""
    from function.core.decoding.avro import MAX_HEADER_BYTES, AvroHeader

    cap = min(source.size, first_block, MAX_HEADER_BYTES)
    length = min(AVRO_HEADER_READ, cap)
    while True:
        try:
            return AvroHeader.parse(source.read(0, length))
        except ObjectRejected:
            if length >= cap:
                raise
            length = min(length * 10, cap)


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
