"""jsonl and lines: one line splitter, and one loop that checks each line as its format says."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias

import orjson

from function.core.decoding.buffering import (
    Accumulator,
    Limits,
    Overlong,
    Tally,
    too_long,
    utf8_reason,
)
from function.core.decoding.records import InvalidRecord, Item, Record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


# (offset of the first line, the lines without their LF, whether any may end with a CR)
LineBatch: TypeAlias = tuple[int, list[bytes], bool]


def line_batches(
    chunks: Iterator[bytes], start: int, limits: Limits
) -> Iterator[LineBatch | Overlong]:
    """Complete lines, one batch per chunk (see LineBatch).

    Batching keeps the per-line work in the caller's tight loop, and looking for CRs once per
    chunk spares LF-only files a check per line. A line too long for a message arrives as an
    `Overlong` instead and is never held whole.
    """
    pending = Accumulator(limits)  # the line that continues past the current chunk
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


def json_lines(
    batches: Iterator[LineBatch | Overlong], limits: Limits, tally: Tally
) -> Iterator[Item]:
    """One JSON value per line; the value is the line's bytes, which orjson validated."""
    return _lines(batches, limits, tally, orjson.loads, _json_reason)


def text_lines(
    batches: Iterator[LineBatch | Overlong], limits: Limits, tally: Tally
) -> Iterator[Item]:
    """One UTF-8 text line per record; the value is the line's bytes."""
    return _lines(batches, limits, tally, _check_text, _text_reason)


class _BlankLine(ValueError):
    """A line with nothing but whitespace: not a record, and it takes no index."""


_BLANK_LINE: Final = _BlankLine()


def _check_text(line: bytes) -> None:
    if line.isascii():
        if not line or line.isspace():
            raise _BLANK_LINE
        return
    line.decode("utf-8")


def _json_reason(exc: ValueError) -> str:
    return f"invalid JSON: {exc}"


def _text_reason(exc: ValueError) -> str:
    return utf8_reason(exc) if isinstance(exc, UnicodeDecodeError) else str(exc)


def _lines(
    batches: Iterator[LineBatch | Overlong],
    limits: Limits,
    tally: Tally,
    check: Callable[[bytes], object],
    reason: Callable[[ValueError], str],
) -> Iterator[Item]:
    """The loop both line formats share: `check` raises ValueError for a line that is not a record.

    A line that fails its check and is whitespace only is blank (no JSON value is, and
    `_check_text` says so of them), so the common case, a good line, costs one call to `check`.
    """
    # The hot loop, once per line: names bound to locals, counts kept in locals and written
    # back however the loop ends.
    index, invalid, blank = tally.index, tally.invalid, tally.blank
    limit, keep = limits.record, limits.keep
    try:
        for batch in batches:
            if isinstance(batch, Overlong):
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
                item: Item
                if size > limit:
                    if line.isspace():
                        blank += 1
                        start = following
                        continue
                    item = InvalidRecord(
                        index, start, start + size, too_long(size, limits), line[:keep]
                    )
                    invalid += 1
                else:
                    try:
                        check(line)
                    except ValueError as exc:
                        if not line or line.isspace():
                            blank += 1
                            start = following
                            continue
                        item = InvalidRecord(index, start, start + size, reason(exc), line[:keep])
                        invalid += 1
                    else:
                        item = Record(index, start, start + size, line)
                yield item
                index += 1
                start = following
    finally:
        tally.index, tally.invalid, tally.blank = index, invalid, blank
