"""csv: rows cut by a byte splitter that knows quoted newlines, parsed as csv.DictReader does."""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Final, TypeAlias

import orjson

from function.core.decoding.buffering import (
    CR,
    Accumulator,
    Limits,
    Overlong,
    Tally,
    too_long,
    utf8_reason,
)
from function.core.decoding.detect import sniff_csv_delimiter
from function.core.decoding.records import InvalidRecord, Item, Record
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Iterator

_QUOTE: Final = ord('"')


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


def csv_spans(
    chunks: Iterator[bytes], start: int, delimiter: bytes, limits: Limits
) -> Iterator[_CsvSpan | Overlong]:
    """Each CSV record's bytes (line terminator excluded, except a CRLF's CR) and offset."""
    splitter = _CsvSplitter(start, delimiter, limits)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    if splitter.record.active:
        yield splitter.take()


class _CsvSplitter:
    """Cuts CSV text into records at the newlines that are not inside a quoted field."""

    def __init__(self, start: int, delimiter: bytes, limits: Limits) -> None:
        self._tracker = _QuoteTracker(delimiter)
        self._delimiter = delimiter[0]
        self._state = _FIELD_START
        self.record = Accumulator(limits)  # a record going on past a newline or a chunk
        self._record_start = start
        self._offset = start  # of the next chunk

    def feed(self, chunk: bytes) -> Iterator[_CsvSpan | Overlong]:
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

    def take(self) -> _CsvSpan | Overlong:
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


def _json_object_template(keys: list[str]) -> bytes | None:
    """`{"k1":"%s","k2":"%s"}`: what orjson writes for a row of strings, each string's body left
    for `%`. None if keys repeat (only a continuation's header could, and orjson.dumps of
    the dict is right for it)."""
    if len(set(keys)) != len(keys):
        return None
    members = (orjson.dumps(key).replace(b"%", b"%%") + b':"%s"' for key in keys)
    return b"{" + b",".join(members) + b"}"


def csv_delimiter(configured: str | None, head: bytes) -> str:
    delimiter = configured or sniff_csv_delimiter(head)
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        raise ObjectRejected(
            f"CSV delimiter {delimiter!r} cannot be used: it must be one ASCII character other"
            " than a quote or a line break (CSV_DELIMITER)"
        )
    return delimiter


def csv_rows(
    spans: Iterator[_CsvSpan | Overlong], rows: CsvRows, limits: Limits, tally: Tally
) -> Iterator[Item]:
    """The rows after the header (read from the first record unless `rows` already has one)."""
    index, invalid, blank = tally.index, tally.invalid, tally.blank
    try:
        for span in spans:
            if rows.keys is None:
                if not rows.read_header(span):
                    blank += 1
                continue
            item = (
                span.invalid(index, limits)
                if isinstance(span, Overlong)
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


class CsvRows:
    """Turns CSV records into JSON objects keyed by the header, the way csv.DictReader does.

    `header`: the header's keys when decoding resumes after the header row (a continuation).
    """

    def __init__(
        self, delimiter: str, limits: Limits, header: tuple[str, ...] | None = None
    ) -> None:
        # The csv module refuses fields over 128 KiB by default, but a field may be as large
        # as a message. The limit is process-wide, so it is only ever raised.
        if csv.field_size_limit() < limits.record:
            csv.field_size_limit(limits.record)
        self._line = _OneLine()
        self._reader = csv.reader(self._line, delimiter=delimiter)
        self._delimiter = delimiter
        self._delimiter_byte = delimiter.encode()
        # A row with none of these bytes needs neither the csv reader nor JSON escaping; the
        # delimiter (a tab, say) only separates fields.
        self._special = bytes(sorted({*range(0x20), *b'"\\'} - set(self._delimiter_byte)))
        self._limits = limits
        self.keys: list[str] | None = None  # the header's keys, then the extra values' key
        self._width = 0
        self._object: bytes | None = None  # see _json_object_template
        if header is not None:
            self._use_keys(list(header))

    @property
    def delimiter(self) -> str:
        """The field delimiter."""
        return self._delimiter

    @property
    def header(self) -> tuple[str, ...] | None:
        """The header's keys (without the extra values' key), once read."""
        return tuple(self.keys[: self._width]) if self.keys is not None else None

    def _use_keys(self, keys: list[str]) -> None:
        self._width = len(keys)
        self._object = _json_object_template(keys)
        keys.append(_unique(_EXTRA_KEY, set(keys), set()))
        self.keys = keys

    def read_header(self, span: _CsvSpan | Overlong) -> bool:
        """Take the header from the first record; False if it is a blank line."""
        limits = self._limits
        if isinstance(span, Overlong) or len(span[1].removesuffix(CR)) > limits.record:
            raise ObjectRejected(
                f"the CSV header row is longer than {limits.record} bytes; is this really CSV?"
            )
        start, data = span
        data = data.removesuffix(CR)
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
        self._use_keys(csv_header_keys(names))
        return True

    def item(self, index: int, start: int, data: bytes) -> Item | None:
        """The record for one CSV row, or None for a blank row."""
        data = data.removesuffix(CR)
        if not data:
            return None
        size = len(data)
        end = start + size
        # translate() deleting nothing: the quickest test that none of `_special` is there.
        if size <= self._limits.record and len(data.translate(None, self._special)) == size:
            value = self._plain_json(data)
            if value is not None:
                return self._record(index, start, end, data, value)
        row: list[str] | str
        if size <= self._limits.record and _QUOTE not in data and _CR_BYTE not in data:
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
        return self._record(index, start, end, data, value)

    def _plain_json(self, data: bytes) -> bytes | None:
        """The JSON object of a row with no quote, backslash or control character but the delimiter.

        Each field is then the bytes between two delimiters (what the csv reader finds), and,
        being UTF-8 without a quote, a backslash or a control character, also the body of its
        JSON string as orjson writes it (orjson escapes nothing else), so the row's JSON is
        its fields put into the header's template. None for a row the general path must take:
        more or fewer fields than the header has, or bytes that are not UTF-8 (`_row` says
        where).
        """
        fields = data.split(self._delimiter_byte)
        if self._object is None or len(fields) != self._width:
            return None
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return None
        return self._object % tuple(fields)

    def _record(self, index: int, start: int, end: int, data: bytes, value: bytes) -> Item:
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
            return too_long(len(data), self._limits)
        try:
            return self._parse(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return utf8_reason(exc)
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
