"""json: a top-level array, one record per element, never holding more than one element.

Any other top-level value is one record. See the package docstring for how an element's end is
found.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import orjson

from function.core.decoding.buffering import Accumulator, Limits, Tally, too_long
from function.core.decoding.records import WHITESPACE, InvalidRecord, Item, Record
from function.errors import InvalidEvent, ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator


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
# Every byte up to the space is whitespace or a control character no JSON value starts or
# ends with: a line whose first and last bytes are above it needs no stripping.
_SPACE: Final = ord(" ")


class Cursor:
    """The chunk being scanned, the position in it, and the chunk's offset in the object."""

    __slots__ = ("base", "buf", "chunks", "pos")

    def __init__(self, chunks: Iterator[bytes], start: int) -> None:
        self.chunks = chunks
        self.buf = b""
        self.pos = 0
        self.base = start

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def advance(self) -> bool:
        """Move to the start of the next chunk; False at the end of the object."""
        self.base += len(self.buf)
        self.buf = next(self.chunks, b"")
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


def json_document(
    cursor: Cursor, limits: Limits, tally: Tally, *, on_array: Callable[[], None]
) -> Iterator[Item]:
    """The records of a JSON document from its start: an array's elements, or the document.

    `on_array` is called when the document turns out to be an array. Not a generator itself:
    it returns the one that yields the records, so each record passes one generator less.
    """
    if not cursor.skip_whitespace():
        return iter(())  # empty, or whitespace only: no records
    if cursor.buf[cursor.pos] == ord("["):
        on_array()
        cursor.pos += 1
        return _json_array(cursor, limits, tally)
    return _json_value(cursor, limits, tally)


def json_array_after_element(cursor: Cursor, limits: Limits, tally: Tally) -> Iterator[Item]:
    """The rest of a top-level array, from just after an element (a continuation's offset).

    What follows an element is whitespace and then `,` (more elements) or `]` (the end).
    """
    if not cursor.skip_whitespace():
        raise ObjectRejected(
            f"the JSON array is not closed: the object ends at byte {cursor.offset}; was the "
            "upload interrupted?"
        )
    separator = cursor.buf[cursor.pos]
    if separator not in (_COMMA, _CLOSE_ARRAY):
        raise InvalidEvent(
            f"the continuation resumes the JSON array at byte {cursor.offset}, which is not"
            " just after an element"
        )
    cursor.pos += 1
    return _json_array(cursor, limits, tally, closed=separator == _CLOSE_ARRAY)


def _json_value(cursor: Cursor, limits: Limits, tally: Tally) -> Iterator[Item]:
    """A document that is not an array: one record, the whole of it."""
    collected = Accumulator(limits)
    collected.begin(cursor.offset)
    collected.add(cursor.buf[cursor.pos :])
    while cursor.advance():
        collected.add(cursor.buf)
    item = _json_item(tally.index, collected, b"", limits)
    tally.index += 1
    tally.invalid += isinstance(item, InvalidRecord)
    yield item


def _json_array(
    cursor: Cursor, limits: Limits, tally: Tally, *, closed: bool = False
) -> Iterator[Item]:
    index, invalid = tally.index, tally.invalid
    scanner = _ElementScanner()
    collected = Accumulator(limits)
    try:
        if not closed and cursor.skip_whitespace() and cursor.buf[cursor.pos] == _CLOSE_ARRAY:
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
    buf: bytes, pos: int, base: int, index: int, invalid: int, *, limits: Limits
) -> Generator[Item, None, tuple[int, int, int]]:
    """The elements from pos that are each alone on their line, up to a trailing comma.

    Most arrays hold one element per line (`jq -c`, database and API exports), and then the
    line is the element: orjson confirms it, as it confirms _whole_elements' guesses (bytes
    that parse as one value starting at the element's first byte are the element). Stops at
    the first line that is not so (the last element, one cut by the chunk's end, any line
    of a pretty-printed array): at most one failed parse per chunk for other layouts.
    Returns (where it stopped, index, invalid).
    """
    # The hot loop, once per element: names bound to locals. A compact line, `<element>,\n`
    # with no whitespace around the element, is told by three bytes and sliced once; any
    # other line takes the general step (whitespace skipped and stripped) with the same result.
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    find, next_byte, limit = buf.find, _NON_WHITESPACE.search, limits.record
    while True:
        newline = find(b"\n", pos)
        comma = newline - 1
        if comma > pos and buf[comma] == _COMMA and buf[pos] > _SPACE < buf[comma - 1]:
            start, value, following = pos, buf[pos:comma], newline + 1
        else:
            first = next_byte(buf, pos)
            if first is None:
                break
            start = first.start()
            newline = find(b"\n", start)
            line = buf[start:newline].rstrip(WHITESPACE) if newline > 0 else b""
            if not line.endswith(b","):
                break
            value = line[:-1].rstrip(WHITESPACE)
            following = newline + 1  # what is left of the line is whitespace
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
        pos = following
    return pos, index, invalid


def _whole_elements(
    buf: bytes, pos: int, base: int, index: int, invalid: int, *, limits: Limits
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
        value = buf[start:end].rstrip(WHITESPACE)
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
    cursor: Cursor,
    scanner: _ElementScanner,
    collected: Accumulator,
    index: int,
    limits: Limits,
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
        item = _json_item_from(index, start, buf[pos:end].rstrip(WHITESPACE), limits)
    else:
        end = _collect_element(cursor, scanner, collected, start, index)
        item = _json_item(index, collected, cursor.buf[:end], limits)
    cursor.pos = end + 1
    return item, cursor.buf[end] == _CLOSE_ARRAY


def _collect_element(
    cursor: Cursor, scanner: _ElementScanner, collected: Accumulator, start: int, index: int
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
    cursor: Cursor, collected: Accumulator, index: int, limits: Limits
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


def _json_item(index: int, collected: Accumulator, last: bytes, limits: Limits) -> Item:
    collected.add(last)
    if collected.overflow:
        return collected.take_overlong(strip_cr=False).invalid(index, limits, trim=True)
    value = collected.take()[: collected.trimmed]
    return _json_item_from(index, collected.start, value, limits)


def _json_item_from(index: int, start: int, value: bytes, limits: Limits) -> Item:
    size = len(value)
    raw = value[: limits.keep]
    if size > limits.record:
        return InvalidRecord(index, start, start + size, too_long(size, limits), raw)
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return InvalidRecord(index, start, start + size, f"invalid JSON: {exc}", raw)
    return Record(index, start, start + size, value)
