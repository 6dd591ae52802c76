"""`RecordDecoder`: an object's bytes in, its records out, whatever the format.

It decompresses (gzip, zstd), chooses the format (`detect`), strips a BOM, and hands the
chunks to the format's module. See the package docstring for each format's behaviour.

Objects published in segments (CONTRACT §4): `resume_after(end)` is where the next segment
starts after the item that ends at `end`, and `RecordDecoder(..., resume=that, first_index=i)`
decodes from there (the stream then starts at `resume.offset`, as a Range read gives it),
with the same indexes, ranges and values as one pass over the whole object. Compressed
objects resume by decoding from the start (`ResumePoint.skip`): the caller publishes nothing
before its next index.
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING

from function.core.decoding.buffering import Limits, Tally, read_head, stream_chunks, without_prefix
from function.core.decoding.compression import DecompressedStream, compression_hint
from function.core.decoding.csv_rows import CsvRows, csv_delimiter, csv_rows, csv_spans
from function.core.decoding.detect import (
    UTF8_BOM,
    FormatChoice,
    format_from_content_type,
    format_from_name,
    resolve_format,
)
from function.core.decoding.json_array import Cursor, json_array_after_element, json_document
from function.core.decoding.lines import json_lines, line_batches, text_lines
from function.core.decoding.raw import raw_chunks
from function.core.decoding.records import (
    DecodeOptions,
    DecodeSummary,
    FormatSource,
    Item,
    RecordFormat,
    ResumePoint,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)


class RecordDecoder:
    """The records of one object, in index order; see the module docstring."""

    def __init__(
        self,
        stream: IO[bytes],
        options: DecodeOptions,
        *,
        resume: ResumePoint | None = None,
        first_index: int = 0,
    ) -> None:
        self._options = options
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
        return DecodeSummary(
            record_format=choice.record_format if choice else self._unchosen_format(),
            compression=self._content.compression,
            records=tally.index - tally.invalid,
            invalid=tally.invalid,
            bytes_in=self._offset + self._content.bytes_in,
            bytes_decoded=self._offset + self._content.bytes_out,
            format_source=choice.source if choice else None,
            blank=tally.blank,
        )

    @property
    def bytes_read(self) -> int:
        """How far into the object reading has come (from its start, even when resumed)."""
        return self._offset + self._content.bytes_in

    def resume_after(self, end: int) -> ResumePoint:
        """Where the next segment starts when this one stops after the item ending at `end`."""
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

    def _decode(self) -> Iterator[Item]:
        options = self._options
        resumed = self._resumed
        try:
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
            if fmt is RecordFormat.CSV:
                if resumed is not None and resumed.csv_header is not None:
                    delimiter = resumed.csv_delimiter or ","
                    self._csv = CsvRows(delimiter, limits, header=resumed.csv_header)
                else:
                    delimiter = csv_delimiter(options.csv_delimiter or choice.csv_delimiter, head)
                    self._csv = CsvRows(delimiter, limits)
                spans = csv_spans(chunks, start, delimiter.encode(), limits)
                yield from csv_rows(spans, self._csv, limits, self._tally)
            elif fmt is RecordFormat.JSON:
                cursor = Cursor(chunks, start)
                if resumed is not None and resumed.in_array:
                    self._in_array = True
                    yield from json_array_after_element(cursor, limits, self._tally)
                else:
                    yield from json_document(cursor, limits, self._tally, on_array=self._array)
            elif fmt is RecordFormat.JSONL:
                yield from json_lines(line_batches(chunks, start, limits), limits, self._tally)
            elif fmt is RecordFormat.LINES:
                yield from text_lines(line_batches(chunks, start, limits), limits, self._tally)
            else:
                chunk_size = min(options.raw_chunk_bytes, options.max_record_bytes)
                yield from raw_chunks(chunks, start, chunk_size, self._tally)
        finally:
            self._finished = True

    def _array(self) -> None:
        self._in_array = True
