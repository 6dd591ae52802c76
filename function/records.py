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

BEHAVIOUR

The stream is read `chunk_bytes` at a time (a read may return less; a network body does),
decompressed on the way when its first bytes are gzip or zstd (`function.compression`), and
the format is chosen by `function.formats` (precedence documented there). Offsets (`start`,
`end`) are in the decompressed object, `end` one past the last byte, so `object[start:end]`
is the record as it is in the file, without its line terminator; a consumer can fetch it
with a Range request. A UTF-8 BOM at the start of a text format is not part of any record.

Any record longer than `max_record_bytes` becomes an `InvalidRecord` ("record of N bytes
exceeds the message limit of M bytes") with its exact range. Its end is found by scanning on
without holding it: only its first `max_invalid_bytes` are kept, as `raw`.

- jsonl: one JSON value per line (LF or CRLF). Whitespace-only lines are not records and take
  no index. Each line is checked with orjson (numbers must fit a double, nesting at most 1024
  levels); the value is the line's original bytes. A line that does not parse is invalid,
  and the lines after it are decoded as usual.
- lines: one UTF-8 text line per record, LF or CRLF, whitespace-only lines skipped; the value
  is the line's bytes. A line that is not valid UTF-8 is invalid (only that line).
- json: a top-level array gives one record per element, never holding more than one. An
  element's end is found by a guess that orjson confirms (the first `}`/`]`/scalar end followed
  by `,` or `]`; a JSON value's extent is fixed by its first byte, so a guess that parses is
  right), else by one regex match for elements nested up to 4 levels, else by a resumable
  scanner that tracks strings, escapes and nesting across chunks (regex jumps, no per-byte
  Python loop). The value is the element's ORIGINAL bytes (not re-serialised), which orjson
  validated. A malformed element is invalid and decoding resumes at the next
  top-level comma; an empty element (`[1,,2]`, `[1,]`) is an invalid record with an empty
  range at the stray comma or bracket. Data after the closing bracket is one invalid record.
  An array the object ends inside (a truncated upload) rejects the object. Any other
  top-level value is one record (the whole document, surrounding whitespace excluded).
- csv: the first non-blank row is the header; every later row becomes a JSON object keyed by
  it, values the strings as in the file (quotes, embedded delimiters, newlines and doubled
  quotes handled as Python's csv module does, `excel` dialect with the chosen delimiter).
  Like `csv.DictReader(restkey="_extra")`: a row with fewer fields than the header has
  the missing keys as null; a row with more has the extra values, as a list of strings,
  under `_extra`; a blank row is skipped and takes no index. Header names are made usable as
  keys: an empty name becomes `column_N` (N its 1-based position) and a repeated name gets
  `_2`, `_3`, … (the smallest suffix not used by any header name), so no value is lost; the
  extra key is renamed the same way if the header already uses `_extra`. The range of a row
  covers all its physical lines. Rows are found by a byte-level splitter that knows, like the
  csv reader, whether a newline lies inside a quoted field (a quote opens one only at the start
  of a field), so each row is parsed alone by the csv module and its byte span is exact.
  A header row longer than `max_record_bytes`, not UTF-8 or not CSV rejects the object. Line
  ends are LF or CRLF; a lone CR outside quotes makes that row invalid.
- raw: consecutive chunks of `raw_chunk_bytes` (at most `max_record_bytes`), the last one
  shorter; concatenated in index order they are the (decompressed) object.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, TypeAlias

import orjson

from function.compression import DecompressedStream, compression_hint
from function.errors import ObjectRejected
from function.formats import (
    SNIFF_BYTES,
    UTF8_BOM,
    FormatChoice,
    FormatSource,
    format_from_content_type,
    format_from_name,
    resolve_format,
    sniff_csv_delimiter,
)
from function.settings import OCI_MAX_MESSAGE_BYTES, RecordFormat

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

log = logging.getLogger(__name__)


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
    chunk_bytes: int = 1024 * 1024  # how much is asked of the stream per read

    def __post_init__(self) -> None:
        # A zero read size would look like the end of the object and decode nothing.
        for name in ("chunk_bytes", "max_record_bytes", "raw_chunk_bytes", "max_object_bytes"):
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


class RecordDecoder:
    """The records of one object, in index order; see the module docstring."""

    def __init__(self, stream: IO[bytes], options: DecodeOptions) -> None:
        self._options = options
        self._content = DecompressedStream(
            stream,
            max_object_bytes=options.max_object_bytes,
            max_compression_ratio=options.max_compression_ratio,
        )
        self._tally = _Tally()
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
            bytes_in=self._content.bytes_in,
            bytes_decoded=self._content.bytes_out,
            format_source=choice.source if choice else None,
            blank=tally.blank,
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

    def _decode(self) -> Iterator[Item]:
        options = self._options
        try:
            parts, complete = _read_head(self._content)
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
                parts = _without_prefix(parts, len(UTF8_BOM))
            chunks = _chunks(parts, self._content, options.chunk_bytes)
            limits = _Limits(options.max_record_bytes, options.max_invalid_bytes)
            fmt = choice.record_format
            if fmt is RecordFormat.CSV:
                delimiter = _csv_delimiter(options.csv_delimiter or choice.csv_delimiter, head)
                spans = _csv_spans(chunks, start, delimiter.encode(), limits)
                yield from _csv_rows(spans, delimiter, limits, self._tally)
            elif fmt is RecordFormat.JSON:
                yield from _json_document(_Cursor(chunks, start), limits, self._tally)
            elif fmt is RecordFormat.JSONL:
                yield from _json_lines(_line_batches(chunks, start, limits), limits, self._tally)
            elif fmt is RecordFormat.LINES:
                yield from _text_lines(_line_batches(chunks, start, limits), limits, self._tally)
            else:
                chunk_size = min(options.raw_chunk_bytes, options.max_record_bytes)
                yield from _raw_chunks(chunks, start, chunk_size, self._tally)
        finally:
            self._finished = True


# -- shared plumbing ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Limits:
    record: int  # max_record_bytes
    keep: int  # max_invalid_bytes


class _Tally:
    """Counts the decoders keep; written back when a decoder finishes, however it finishes."""

    __slots__ = ("blank", "index", "invalid")

    def __init__(self) -> None:
        self.index = 0  # records and invalid records yielded: the next record's index
        self.invalid = 0
        self.blank = 0


def _read_head(content: DecompressedStream) -> tuple[list[bytes], bool]:
    """The reads making up the object's first SNIFF_BYTES, and whether that is all of it.

    The reads stay separate so that the decoders see the stream's chunks as they came, head
    or not (and tests with tiny reads cross every boundary from the first byte on).
    """
    parts: list[bytes] = []
    size = 0
    while size < SNIFF_BYTES:
        data = content.read(SNIFF_BYTES - size)
        if not data:
            return parts, True
        parts.append(data)
        size += len(data)
    return parts, False


def _without_prefix(parts: list[bytes], size: int) -> list[bytes]:
    """parts minus their first `size` bytes (a BOM may arrive split over several reads)."""
    rest = list(parts)
    while size and rest:
        cut = min(size, len(rest[0]))
        size -= cut
        rest[0] = rest[0][cut:]
        if not rest[0]:
            del rest[0]
    return rest


def _chunks(head: list[bytes], content: DecompressedStream, size: int) -> Iterator[bytes]:
    """The (decompressed) object in non-empty chunks, starting with the already-read head."""
    yield from head
    read = content.read
    while data := read(size):
        yield data


def _too_long(size: int, limits: _Limits) -> str:
    return f"record of {size} bytes exceeds the message limit of {limits.record} bytes"


_WHITESPACE: Final = b" \t\r\n"
_CR: Final = b"\r"


class _Overlong:
    """A record too long for a message: where it is and its first bytes, never all of it."""

    __slots__ = ("blank", "head", "size", "start", "trimmed")

    def __init__(self, start: int, size: int, trimmed: int, head: bytes, *, blank: bool) -> None:
        self.start = start
        self.size = size  # bytes up to its end (a line's CR excluded)
        self.trimmed = trimmed  # bytes up to its last non-whitespace byte
        self.head = head
        self.blank = blank  # whitespace only (a blank line is not a record, however long)

    def invalid(self, index: int, limits: _Limits, *, trim: bool = False) -> InvalidRecord:
        size = self.trimmed if trim else self.size
        return InvalidRecord(
            index, self.start, self.start + size, _too_long(size, limits), self.head[:size]
        )


class _Accumulator:
    """The pieces of one record that spans chunks; past the limit it keeps only the first bytes.

    Memory stays under limit + one chunk whatever the record's size.
    """

    __slots__ = (
        "_head",
        "_limits",
        "_pieces",
        "active",
        "blank",
        "ends_cr",
        "overflow",
        "size",
        "start",
        "trimmed",
    )

    def __init__(self, limits: _Limits) -> None:
        self._limits = limits
        self._pieces: list[bytes] = []
        self._head = b""
        self.active = False
        self.start = 0
        self.size = 0
        self.trimmed = 0
        self.overflow = False
        self.blank = True
        self.ends_cr = False

    def begin(self, start: int) -> None:
        self._pieces.clear()
        self._head = b""
        self.active = True
        self.start = start
        self.size = self.trimmed = 0
        self.overflow = False
        self.blank = True
        self.ends_cr = False

    def add(self, piece: bytes) -> None:
        if not piece:
            return
        stripped = piece.rstrip(_WHITESPACE)  # JSON's whitespace, for `trimmed`
        if stripped:
            self.trimmed = self.size + len(stripped)
        if self.blank and not piece.isspace():  # the same test as for a short blank line
            self.blank = False
        self.size += len(piece)
        self.ends_cr = piece.endswith(_CR)
        if self.overflow:
            missing = self._limits.keep - len(self._head)
            if missing > 0:
                self._head += piece[:missing]
            return
        self._pieces.append(piece)
        # +1: a trailing CR may still turn out to be half of a CRLF line end.
        if self.size > self._limits.record + 1:
            self._head = b"".join(self._pieces)[: self._limits.keep]
            self._pieces.clear()
            self.overflow = True

    def take(self) -> bytes:
        """All bytes of a record that stayed within the limit."""
        self.active = False
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data

    def take_overlong(self, *, strip_cr: bool) -> _Overlong:
        """The extent of a record that went past the limit."""
        self.active = False
        size = self.size - 1 if strip_cr and self.ends_cr else self.size
        return _Overlong(self.start, size, self.trimmed, self._head, blank=self.blank)


# -- lines: the splitter behind jsonl and lines ------------------------------------------

# (offset of the first line, the lines without their LF, whether any may end with a CR)
_LineBatch: TypeAlias = tuple[int, list[bytes], bool]


def _line_batches(
    chunks: Iterator[bytes], start: int, limits: _Limits
) -> Iterator[_LineBatch | _Overlong]:
    """Complete lines, one batch per chunk (see _LineBatch).

    Batching keeps the per-line work in the caller's tight loop, and looking for CRs once per
    chunk spares LF-only files a check per line. A line too long for a message arrives as an
    `_Overlong` instead and is never held whole.
    """
    pending = _Accumulator(limits)  # the line that continues past the current chunk
    offset = start  # of the current chunk
    for chunk in chunks:
        lines = chunk.split(b"\n")
        tail = lines.pop()  # after the chunk's last LF: the start of a line, or b""
        if lines:
            batch_start = offset
            crlf = b"\r" in chunk
            if pending.active:
                pending.add(lines[0])
                if pending.overflow:
                    yield pending.take_overlong(strip_cr=True)
                    batch_start += len(lines[0]) + 1
                    del lines[0]
                else:
                    batch_start = pending.start
                    crlf = crlf or pending.ends_cr
                    lines[0] = pending.take()
            if lines:
                yield batch_start, lines, crlf
        if tail:
            if not pending.active:
                pending.begin(offset + len(chunk) - len(tail))
            pending.add(tail)
        offset += len(chunk)
    if pending.active:
        if pending.overflow:
            yield pending.take_overlong(strip_cr=True)
        else:
            yield pending.start, [pending.take()], True


def _json_lines(
    batches: Iterator[_LineBatch | _Overlong], limits: _Limits, tally: _Tally
) -> Iterator[Item]:
    index, invalid, blank = tally.index, tally.invalid, tally.blank
    limit, keep = limits.record, limits.keep
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    try:
        for batch in batches:
            if isinstance(batch, _Overlong):
                if batch.blank:
                    blank += 1
                    continue
                yield batch.invalid(index, limits)
                index += 1
                invalid += 1
                continue
            start, lines, crlf = batch
            for physical in lines:
                following = start + len(physical) + 1
                line = physical[:-1] if crlf and physical[-1:] == b"\r" else physical
                size = len(line)
                if size > limit:
                    if line.isspace():
                        blank += 1
                        start = following
                        continue
                    item: Item = InvalidRecord(
                        index, start, start + size, _too_long(size, limits), line[:keep]
                    )
                    invalid += 1
                else:
                    try:
                        loads(line)
                        item = Record(index, start, start + size, line)
                    except decode_error as exc:
                        if not line or line.isspace():
                            blank += 1
                            start = following
                            continue
                        item = InvalidRecord(
                            index, start, start + size, f"invalid JSON: {exc}", line[:keep]
                        )
                        invalid += 1
                yield item
                index += 1
                start = following
    finally:
        tally.index, tally.invalid, tally.blank = index, invalid, blank


def _text_lines(
    batches: Iterator[_LineBatch | _Overlong], limits: _Limits, tally: _Tally
) -> Iterator[Item]:
    index, invalid, blank = tally.index, tally.invalid, tally.blank
    limit, keep = limits.record, limits.keep
    try:
        for batch in batches:
            if isinstance(batch, _Overlong):
                if batch.blank:
                    blank += 1
                    continue
                yield batch.invalid(index, limits)
                index += 1
                invalid += 1
                continue
            start, lines, crlf = batch
            for physical in lines:
                following = start + len(physical) + 1
                line = physical[:-1] if crlf and physical[-1:] == b"\r" else physical
                size = len(line)
                if not line or line.isspace():
                    blank += 1
                    start = following
                    continue
                if size > limit:
                    item: Item = InvalidRecord(
                        index, start, start + size, _too_long(size, limits), line[:keep]
                    )
                    invalid += 1
                elif line.isascii():
                    item = Record(index, start, start + size, line)
                else:
                    problem = _utf8_problem(line)
                    if problem is None:
                        item = Record(index, start, start + size, line)
                    else:
                        item = InvalidRecord(index, start, start + size, problem, line[:keep])
                        invalid += 1
                yield item
                index += 1
                start = following
    finally:
        tally.index, tally.invalid, tally.blank = index, invalid, blank


def _utf8_problem(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start} of the record: {exc.reason}"
    return None


# -- raw ---------------------------------------------------------------------------------


def _raw_chunks(chunks: Iterator[bytes], start: int, size: int, tally: _Tally) -> Iterator[Item]:
    index = tally.index
    offset = start  # of the next record
    pending: list[bytes] = []  # fewer than `size` bytes waiting for the next chunk
    pending_size = 0
    try:
        for chunk in chunks:
            data = chunk
            if pending:
                if pending_size + len(chunk) < size:
                    pending.append(chunk)
                    pending_size += len(chunk)
                    continue
                take = size - pending_size
                pending.append(chunk[:take])
                yield Record(index, offset, offset + size, b"".join(pending))
                index += 1
                offset += size
                pending.clear()
                pending_size = 0
                data = chunk[take:]
            whole = len(data) - len(data) % size
            for cut in range(0, whole, size):
                yield Record(index, offset, offset + size, data[cut : cut + size])
                index += 1
                offset += size
            if whole < len(data):
                pending.append(data[whole:])
                pending_size = len(data) - whole
        if pending:
            yield Record(index, offset, offset + pending_size, b"".join(pending))
            index += 1
    finally:
        tally.index = index


# -- json --------------------------------------------------------------------------------

_NON_WHITESPACE: Final = re.compile(rb"[^ \t\r\n]")
# A JSON string, whole: possessive quantifiers so a string cut off by the end of a chunk fails
# at once instead of backtracking through it.
_STRING: Final = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# Runs the scanner can jump over: everything but brackets, quotes (and commas at the top
# level, where they separate elements), with whole strings swallowed in one go.
_SKIP_TOP: Final = re.compile(rb'(?:[^"\[\]{},]++|' + _STRING + rb")*+", re.DOTALL)
_SKIP_NESTED: Final = re.compile(rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+", re.DOTALL)
_STRING_REST: Final = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)


def _whole_element_pattern(levels: int) -> re.Pattern[bytes]:
    """Leading whitespace, then an element nested at most `levels` deep, then `,` or `]`.

    One match finds a typical element's extent in C; an element nested deeper, or cut off by
    the end of the chunk, does not match and goes to the resumable _ElementScanner instead.
    Bracket kinds are not paired (the scanner does not pair them either; orjson does).
    """
    inside = rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+"
    for _ in range(levels - 1):
        inside = rb'(?:[^"\[\]{}]++|' + _STRING + rb"|[\[{]" + inside + rb"[\]}])*+"
    element = rb'(?:[^"\[\]{},]++|' + _STRING + rb"|[\[{]" + inside + rb"[\]}])*+"
    return re.compile(rb"[ \t\r\n]*+(" + element + rb")[,\]]", re.DOTALL)


_WHOLE_ELEMENT: Final = _whole_element_pattern(levels=4)

# Where an element probably ends, by its first byte: after the first `}` (object), `]` (array)
# or right away (scalar) that is followed by `,` or `]`. Group 1 starts where the element
# would end. A guess is confirmed by orjson accepting the bytes up to it: a JSON value's
# extent is fixed by its first byte, so if `buf[start:guess]` parses, the element starting at
# `start` ends exactly there; a guess inside a string or a nested value never parses.
_GUESS_AFTER_OBJECT: Final = re.compile(rb"\}([ \t\r\n]*+)[,\]]")
_GUESS_AFTER_ARRAY: Final = re.compile(rb"\]([ \t\r\n]*+)[,\]]")
_GUESS_AFTER_SCALAR: Final = re.compile(rb"([ \t\r\n]*+)[,\]]")
_GUESSES: Final = {ord("{"): _GUESS_AFTER_OBJECT.search, ord("["): _GUESS_AFTER_ARRAY.search}
_QUOTE: Final = ord('"')
_OPENERS: Final = frozenset(b"[{")
_CLOSE_ARRAY: Final = ord("]")
_COMMA: Final = ord(",")


class _Cursor:
    """The chunk being scanned, the position in it, and the chunk's offset in the object."""

    __slots__ = ("_chunks", "base", "buf", "pos")

    def __init__(self, chunks: Iterator[bytes], start: int) -> None:
        self._chunks = chunks
        self.buf = b""
        self.pos = 0
        self.base = start

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def advance(self) -> bool:
        """Move to the start of the next chunk; False at the end of the object."""
        self.base += len(self.buf)
        self.buf = next(self._chunks, b"")
        self.pos = 0
        return bool(self.buf)

    def skip_whitespace(self) -> bool:
        """Move to the next non-whitespace byte; False if there is none."""
        while True:
            found = _NON_WHITESPACE.search(self.buf, self.pos)
            if found is not None:
                self.pos = found.start()
                return True
            if not self.advance():
                return False


class _ElementScanner:
    """Finds where a top-level array element ends, resumable across chunks.

    State: nesting depth (1 = directly in the array), inside a string or not, and whether the
    previous chunk ended on a backslash inside a string. Bracket kinds are not matched (a
    mismatch is for orjson to report on the element); a stray `}` at the top level is part
    of the (malformed) element rather than its end.
    """

    __slots__ = ("depth", "escaped", "in_string")

    def __init__(self) -> None:
        self.depth = 1
        self.in_string = False
        self.escaped = False

    def reset(self) -> None:
        self.depth = 1
        self.in_string = self.escaped = False

    def scan(self, buf: bytes, pos: int) -> int:
        """Index of the `,` or `]` ending the element, or -1 if buf ends first."""
        if self.escaped or self.in_string:
            pos = self._resume(buf, pos)
            if pos < 0:
                return -1
        size = len(buf)
        depth = self.depth
        skip_top, skip_nested = _SKIP_TOP.match, _SKIP_NESTED.match
        while True:
            jump = skip_top(buf, pos) if depth == 1 else skip_nested(buf, pos)
            pos = jump.end() if jump is not None else pos
            if pos >= size:
                self.depth = depth
                return -1
            byte = buf[pos]
            if byte == _QUOTE:
                # The jump swallows whole strings, so this one goes on past the chunk's end.
                pos = self._string_end(buf, pos + 1)
                if pos < 0:
                    self.depth = depth
                    return -1
                continue
            if byte in _OPENERS:
                depth += 1
            elif depth > 1:
                depth -= 1
            elif byte in (_COMMA, _CLOSE_ARRAY):
                self.depth = depth
                return pos
            pos += 1

    def _resume(self, buf: bytes, pos: int) -> int:
        """Finish what the previous chunk left open: an escape, a string."""
        if self.escaped:
            pos += 1  # the escaped byte
            self.escaped = False
        return self._string_end(buf, pos) if self.in_string else pos

    def _string_end(self, buf: bytes, pos: int) -> int:
        """Index after the closing quote of the string pos is in, or -1 if buf ends first."""
        body = _STRING_REST.match(buf, pos)
        end = body.end() if body is not None else pos
        if end < len(buf) and buf[end] == _QUOTE:
            self.in_string = False
            return end + 1
        self.in_string = True
        self.escaped = end == len(buf) - 1  # a lone backslash ends the chunk
        return -1


def _json_document(cursor: _Cursor, limits: _Limits, tally: _Tally) -> Iterator[Item]:
    if not cursor.skip_whitespace():
        return  # empty, or whitespace only: no records
    if cursor.buf[cursor.pos] == ord("["):
        cursor.pos += 1
        yield from _json_array(cursor, limits, tally)
    else:
        yield from _json_value(cursor, limits, tally)


def _json_value(cursor: _Cursor, limits: _Limits, tally: _Tally) -> Iterator[Item]:
    """A document that is not an array: one record, the whole of it."""
    collected = _Accumulator(limits)
    collected.begin(cursor.offset)
    collected.add(cursor.buf[cursor.pos :])
    while cursor.advance():
        collected.add(cursor.buf)
    item = _json_item(tally.index, collected, b"", limits)
    tally.index += 1
    tally.invalid += isinstance(item, InvalidRecord)
    yield item


def _json_array(cursor: _Cursor, limits: _Limits, tally: _Tally) -> Iterator[Item]:
    index, invalid = tally.index, tally.invalid
    scanner = _ElementScanner()
    collected = _Accumulator(limits)
    closed = False
    try:
        if cursor.skip_whitespace() and cursor.buf[cursor.pos] == _CLOSE_ARRAY:  # []
            cursor.pos += 1
            closed = True
        while not closed:
            cursor.pos, index, invalid = yield from _elements_by_line(
                cursor.buf, cursor.pos, cursor.base, index, invalid, limits=limits
            )
            cursor.pos, index, invalid, closed = yield from _whole_elements(
                cursor.buf, cursor.pos, cursor.base, index, invalid, limits=limits
            )
            if not closed:
                item, closed = _json_slow_element(cursor, scanner, collected, index, limits)
                yield item
                index += 1
                invalid += isinstance(item, InvalidRecord)
        if cursor.skip_whitespace():
            yield _trailing_data(cursor, collected, index, limits)
            index += 1
            invalid += 1
    finally:
        tally.index, tally.invalid = index, invalid


def _elements_by_line(
    buf: bytes, pos: int, base: int, index: int, invalid: int, *, limits: _Limits
) -> Generator[Item, None, tuple[int, int, int]]:
    """The elements from pos that are each alone on their line, up to a trailing comma.

    Most arrays hold one element per line (`jq -c`, database and API exports), and then the
    line is the element: orjson confirms it, as it confirms _whole_elements' guesses (bytes
    that parse as one value starting at the element's first byte are the element). Stops at
    the first line that is not so (the last element, one cut by the chunk's end, any line
    of a pretty-printed array): at most one failed parse per chunk for other layouts.
    Returns (where it stopped, index, invalid).
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    next_byte, limit = _NON_WHITESPACE.search, limits.record
    while (first := next_byte(buf, pos)) is not None:
        start = first.start()
        newline = buf.find(b"\n", start)
        line = buf[start:newline].rstrip(_WHITESPACE) if newline > 0 else b""
        if not line.endswith(b","):
            break
        value = line[:-1].rstrip(_WHITESPACE)
        try:
            loads(value)
        except decode_error:
            break
        if len(value) <= limit:
            yield Record(index, base + start, base + start + len(value), value)
        else:
            yield _json_item_from(index, base + start, value, limits)
            invalid += 1
        index += 1
        pos = start + len(line)
    return pos, index, invalid


def _whole_elements(
    buf: bytes, pos: int, base: int, index: int, invalid: int, *, limits: _Limits
) -> Generator[Item, None, tuple[int, int, int, bool]]:
    """The elements lying whole in buf from pos: first a guess orjson confirms, else one regex.

    Returns (where it stopped, index, invalid, whether the array closed); it stops before an
    element that needs the resumable scanner.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    next_byte, whole_element = _NON_WHITESPACE.search, _WHOLE_ELEMENT.match
    guesses, guess_after_scalar = _GUESSES, _GUESS_AFTER_SCALAR.search
    limit = limits.record
    while (first := next_byte(buf, pos)) is not None:
        start = first.start()
        guess = guesses.get(buf[start], guess_after_scalar)(buf, start)
        if guess is not None:
            end = guess.start(1)
            value = buf[start:end]
            try:
                loads(value)
            except decode_error:
                pass
            else:
                if end - start <= limit:
                    item: Item = Record(index, base + start, base + end, value)
                else:
                    item = _json_item_from(index, base + start, value, limits)
                    invalid += 1
                yield item
                index += 1
                pos = guess.end()
                if buf[pos - 1] == _CLOSE_ARRAY:
                    return pos, index, invalid, True
                continue
        found = whole_element(buf, pos)
        if found is None:
            break
        start, end = found.span(1)
        value = buf[start:end].rstrip(_WHITESPACE)
        if value:
            item = _json_item_from(index, base + start, value, limits)
        else:
            at = base + end
            item = InvalidRecord(index, at, at, "empty array element (a stray comma)", b"")
        yield item
        index += 1
        invalid += isinstance(item, InvalidRecord)
        pos = found.end()
        if buf[pos - 1] == _CLOSE_ARRAY:
            return pos, index, invalid, True
    return pos, index, invalid, False


def _json_slow_element(
    cursor: _Cursor,
    scanner: _ElementScanner,
    collected: _Accumulator,
    index: int,
    limits: _Limits,
) -> tuple[Item, bool]:
    """One element the fast path could not take (it spans chunks or nests deeply).

    Returns the item and whether it was the array's last.
    """
    if not cursor.skip_whitespace():
        raise ObjectRejected(
            f"the JSON array is not closed: the object ends after {index} elements"
            f" ({cursor.offset} bytes); was the upload interrupted?"
        )
    buf, pos = cursor.buf, cursor.pos
    item: Item
    if buf[pos] in (_COMMA, _CLOSE_ARRAY):
        at = cursor.offset
        cursor.pos += 1
        item = InvalidRecord(index, at, at, "empty array element (a stray comma)", b"")
        return item, buf[pos] == _CLOSE_ARRAY
    scanner.reset()
    start = cursor.offset
    end = scanner.scan(buf, pos)
    if end >= 0:
        item = _json_item_from(index, start, buf[pos:end].rstrip(_WHITESPACE), limits)
    else:
        end = _collect_element(cursor, scanner, collected, start, index)
        item = _json_item(index, collected, cursor.buf[:end], limits)
    cursor.pos = end + 1
    return item, cursor.buf[end] == _CLOSE_ARRAY


def _collect_element(
    cursor: _Cursor, scanner: _ElementScanner, collected: _Accumulator, start: int, index: int
) -> int:
    """Gather an element spanning chunks; return where its terminator is in the last chunk."""
    collected.begin(start)
    collected.add(cursor.buf[cursor.pos :])
    while True:
        if not cursor.advance():
            raise ObjectRejected(
                f"the JSON array is not closed: the object ends inside element {index}"
                f" (starting at byte {start}); was the upload interrupted?"
            )
        end = scanner.scan(cursor.buf, 0)
        if end >= 0:
            return end
        collected.add(cursor.buf)


def _trailing_data(
    cursor: _Cursor, collected: _Accumulator, index: int, limits: _Limits
) -> InvalidRecord:
    collected.begin(cursor.offset)
    collected.add(cursor.buf[cursor.pos :])
    while cursor.advance():
        collected.add(cursor.buf)
    head = collected.take_overlong(strip_cr=False).head if collected.overflow else collected.take()
    start = collected.start
    end = start + collected.trimmed
    return InvalidRecord(
        index,
        start,
        end,
        "unexpected data after the end of the top-level JSON array",
        head[: min(limits.keep, end - start)],
    )


def _json_item(index: int, collected: _Accumulator, last: bytes, limits: _Limits) -> Item:
    collected.add(last)
    if collected.overflow:
        return collected.take_overlong(strip_cr=False).invalid(index, limits, trim=True)
    value = collected.take()[: collected.trimmed]
    return _json_item_from(index, collected.start, value, limits)


def _json_item_from(index: int, start: int, value: bytes, limits: _Limits) -> Item:
    size = len(value)
    raw = value[: limits.keep]
    if size > limits.record:
        return InvalidRecord(index, start, start + size, _too_long(size, limits), raw)
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return InvalidRecord(index, start, start + size, f"invalid JSON: {exc}", raw)
    return Record(index, start, start + size, value)


# -- csv ---------------------------------------------------------------------------------

# Where a CSV record stands after some of its bytes, as Python's csv reader would see it.
_FIELD_START: Final = 0  # at the start of a field: a quote here opens a quoted field
_UNQUOTED: Final = 1  # inside an unquoted field: quotes are ordinary characters
_QUOTED: Final = 2  # inside a quoted field: newlines and delimiters are data
_QUOTE_IN_QUOTED: Final = 3  # just after a quote in a quoted field: `""` or the field's end
_CR_BYTE: Final = ord("\r")


class _QuoteTracker:
    """Advances the quote state of a CSV record over its bytes (no newlines in them)."""

    def __init__(self, delimiter: bytes) -> None:
        self._delimiter = delimiter[0]
        # A delimiter followed by a quote opens a quoted field; a delimiter at the end of
        # the bytes leaves the next field's start undecided.
        self._field_opening = re.compile(re.escape(delimiter) + rb'(?:"|\Z)')

    def advance(self, data: bytes, state: int) -> int:
        pos, size = 0, len(data)
        while pos < size:
            if state == _QUOTED:
                pos = data.find(b'"', pos) + 1
                if pos == 0:
                    return _QUOTED
                state = _QUOTE_IN_QUOTED
            elif state == _QUOTE_IN_QUOTED:
                byte = data[pos]
                if byte == _QUOTE:  # a doubled quote: still inside
                    state, pos = _QUOTED, pos + 1
                elif byte == self._delimiter:
                    state, pos = _FIELD_START, pos + 1
                else:  # the csv reader (not strict) goes on with the field unquoted
                    state = _UNQUOTED
            elif state == _FIELD_START and data[pos] == _QUOTE:
                state, pos = _QUOTED, pos + 1
            else:
                found = self._field_opening.search(data, pos)
                if found is None:
                    return _UNQUOTED
                pos = found.end()
                state = _QUOTED if data[pos - 1] == _QUOTE else _FIELD_START
        return state


_CsvSpan: TypeAlias = tuple[int, bytes]


def _csv_spans(
    chunks: Iterator[bytes], start: int, delimiter: bytes, limits: _Limits
) -> Iterator[_CsvSpan | _Overlong]:
    """Each CSV record's bytes (line terminator excluded, except a CRLF's CR) and offset."""
    splitter = _CsvSplitter(start, delimiter, limits)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    if splitter.record.active:
        yield splitter.take()


class _CsvSplitter:
    """Cuts CSV text into records at the newlines that are not inside a quoted field."""

    def __init__(self, start: int, delimiter: bytes, limits: _Limits) -> None:
        self._tracker = _QuoteTracker(delimiter)
        self._delimiter = delimiter[0]
        self._state = _FIELD_START
        self.record = _Accumulator(limits)  # a record going on past a newline or a chunk
        self._record_start = start
        self._offset = start  # of the next chunk

    def feed(self, chunk: bytes) -> Iterator[_CsvSpan | _Overlong]:
        lines = chunk.split(b"\n")
        tail = lines.pop()  # after the chunk's last LF; goes on in the next chunk
        line_end = self._offset
        record = self.record
        for line in lines:
            line_end += len(line) + 1
            if not record.active and _QUOTE not in line:  # an int: memchr, no buffer protocol
                # A line that starts a record (so in the _FIELD_START state) and has no quote
                # is a whole record, whatever the quote tracker would say: most lines are.
                yield self._record_start, line
                self._record_start = line_end
                continue
            self._advance(line)
            if self._state == _QUOTED:  # the newline is inside a quoted field
                self._extend(line)
                self._extend(b"\n")
                continue
            if self.record.active:
                self.record.add(line)
                yield self.take()
            else:
                yield self._record_start, line
            self._record_start = line_end
            self._state = _FIELD_START
        if tail:
            self._advance(tail)
            self._extend(tail)
        self._offset += len(chunk)

    def take(self) -> _CsvSpan | _Overlong:
        record = self.record
        if record.overflow:
            return record.take_overlong(strip_cr=True)
        return record.start, record.take()

    def _advance(self, line: bytes) -> None:
        if self._state >= _QUOTED or b'"' in line:
            self._state = self._tracker.advance(line, self._state)
        elif line:  # no quote: only whether the last byte starts a new field can matter
            self._state = _FIELD_START if line[-1] == self._delimiter else _UNQUOTED

    def _extend(self, piece: bytes) -> None:
        if not self.record.active:
            self.record.begin(self._record_start)
        self.record.add(piece)


class _OneLine:
    """Hands the csv reader one record's text, then says it has no more."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text: str | None = None

    def __iter__(self) -> _OneLine:
        return self

    def __next__(self) -> str:
        text, self.text = self.text, None
        if text is None:
            raise StopIteration
        return text


_EXTRA_KEY: Final = "_extra"


def csv_header_keys(names: list[str]) -> list[str]:
    """JSON keys for a CSV header: empty → `column_N`, repeats → `_2`, `_3`… (module docstring)."""
    explicit = set(names)
    keys: list[str] = []
    used: set[str] = set()
    for position, name in enumerate(names, start=1):
        key = _unique(name or f"column_{position}", used, explicit)
        keys.append(key)
        used.add(key)
    return keys


def _unique(name: str, used: set[str], reserved: set[str]) -> str:
    if name not in used:
        return name
    suffix = 2
    while f"{name}_{suffix}" in used or f"{name}_{suffix}" in reserved:
        suffix += 1
    return f"{name}_{suffix}"


def _csv_delimiter(configured: str | None, head: bytes) -> str:
    delimiter = configured or sniff_csv_delimiter(head)
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        raise ObjectRejected(
            f"CSV delimiter {delimiter!r} cannot be used: it must be one ASCII character other"
            " than a quote or a line break (CSV_DELIMITER)"
        )
    return delimiter


def _csv_rows(
    spans: Iterator[_CsvSpan | _Overlong], delimiter: str, limits: _Limits, tally: _Tally
) -> Iterator[Item]:
    rows = _CsvRows(delimiter, limits)
    index, invalid, blank = tally.index, tally.invalid, tally.blank
    try:
        for span in spans:
            if rows.keys is None:
                if not rows.read_header(span):
                    blank += 1
                continue
            item = (
                span.invalid(index, limits)
                if isinstance(span, _Overlong)
                else rows.item(index, *span)
            )
            if item is None:
                blank += 1
                continue
            yield item
            index += 1
            invalid += isinstance(item, InvalidRecord)
    finally:
        tally.index, tally.invalid, tally.blank = index, invalid, blank


class _CsvRows:
    """Turns CSV records into JSON objects keyed by the header, the way csv.DictReader does."""

    def __init__(self, delimiter: str, limits: _Limits) -> None:
        # The csv module refuses fields over 128 KiB by default, but a field may be as large
        # as a message. The limit is process-wide, so it is only ever raised.
        if csv.field_size_limit() < limits.record:
            csv.field_size_limit(limits.record)
        self._line = _OneLine()
        self._reader = csv.reader(self._line, delimiter=delimiter)
        self._delimiter = delimiter
        self._limits = limits
        self.keys: list[str] | None = None  # the header's keys, then the extra values' key
        self._width = 0

    def read_header(self, span: _CsvSpan | _Overlong) -> bool:
        """Take the header from the first record; False if it is a blank line."""
        limits = self._limits
        if isinstance(span, _Overlong) or len(span[1].removesuffix(_CR)) > limits.record:
            raise ObjectRejected(
                f"the CSV header row is longer than {limits.record} bytes; is this really CSV?"
            )
        start, data = span
        data = data.removesuffix(_CR)
        if not data:
            return False
        try:
            names = self._parse(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ObjectRejected(f"the CSV header row is not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise ObjectRejected(f"the CSV header row at byte {start} is not CSV: {exc}") from exc
        if not names:
            return False
        keys = csv_header_keys(names)
        self._width = len(keys)
        keys.append(_unique(_EXTRA_KEY, set(keys), set()))
        self.keys = keys
        return True

    def item(self, index: int, start: int, data: bytes) -> Item | None:
        """The record for one CSV row, or None for a blank row."""
        data = data.removesuffix(_CR)
        if not data:
            return None
        end = start + len(data)
        row: list[str] | str
        if len(data) <= self._limits.record and _QUOTE not in data and _CR_BYTE not in data:
            # Without a quote or a CR, the fields are exactly the text split at the delimiter
            # (what the csv reader finds): most rows of most files skip the reader.
            try:
                row = data.decode("utf-8").split(self._delimiter)
            except UnicodeDecodeError:
                row = self._row(data)  # which says where
        else:
            row = self._row(data)
        if isinstance(row, str):
            return InvalidRecord(index, start, end, row, data[: self._limits.keep])
        if not row:
            return None
        value = orjson.dumps(
            dict(zip(self.keys or (), row, strict=False))
            if len(row) == self._width
            else self._fields(row)
        )
        if len(value) > self._limits.record:
            reason = (
                f"record of {len(value)} bytes as a JSON object exceeds the message limit of"
                f" {self._limits.record} bytes"
            )
            return InvalidRecord(index, start, end, reason, data[: self._limits.keep])
        return Record(index, start, end, value)

    def _row(self, data: bytes) -> list[str] | str:
        """The row's fields, or why there are none."""
        if len(data) > self._limits.record:
            return _too_long(len(data), self._limits)
        try:
            return self._parse(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return f"invalid UTF-8 at byte {exc.start} of the record: {exc.reason}"
        except csv.Error as exc:
            return f"invalid CSV: {exc}"

    def _parse(self, text: str) -> list[str]:
        self._line.text = text
        # A default, not StopIteration, which must not escape the generator above.
        return next(self._reader, [])

    def _fields(self, row: list[str]) -> dict[str, str | list[str] | None]:
        keys, width = self.keys or [], self._width
        fields: dict[str, str | list[str] | None] = dict(zip(keys, row, strict=False))
        if len(row) < width:  # like DictReader's restval
            fields.update(dict.fromkeys(keys[len(row) : width]))
        elif len(row) > width:  # like DictReader's restkey
            fields[keys[width]] = row[width:]
        return fields
