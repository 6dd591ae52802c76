"""What every format's splitter shares: limits, counts, and records that span chunks.

A record longer than the message limit is never held whole: `Accumulator` keeps its first
bytes and its extent, and `Overlong` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from function.core.decoding.detect import SNIFF_BYTES
from function.core.decoding.records import WHITESPACE, InvalidRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

    from function.core.decoding.compression import DecompressedStream


@dataclass(frozen=True, slots=True)
class Limits:
    record: int  # max_record_bytes
    keep: int  # max_invalid_bytes


class Tally:
    """Counts the decoders keep; written back when a decoder finishes, however it finishes."""

    __slots__ = ("blank", "index", "invalid")

    def __init__(self) -> None:
        self.index = 0  # records and invalid records yielded: the next record's index
        self.invalid = 0
        self.blank = 0


def read_head(content: DecompressedStream) -> tuple[list[bytes], bool]:
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


def without_prefix(parts: list[bytes], size: int) -> list[bytes]:
    """parts minus their first `size` bytes (a BOM may arrive split over several reads)."""
    rest = list(parts)
    while size and rest:
        cut = min(size, len(rest[0]))
        size -= cut
        rest[0] = rest[0][cut:]
        if not rest[0]:
            del rest[0]
    return rest


def stream_chunks(head: list[bytes], content: DecompressedStream, size: int) -> Iterator[bytes]:
    """The (decompressed) object in non-empty chunks, starting with the already-read head."""
    yield from head
    read = content.read
    while data := read(size):
        yield data


def too_long(size: int, limits: Limits) -> str:
    return f"record of {size} bytes exceeds the message limit of {limits.record} bytes"


CR: Final = b"\r"


class Overlong:
    """A record too long for a message: where it is and its first bytes, never all of it."""

    __slots__ = ("blank", "head", "size", "start", "trimmed")

    def __init__(self, start: int, size: int, trimmed: int, head: bytes, *, blank: bool) -> None:
        self.start = start
        self.size = size  # bytes up to its end (a line's CR excluded)
        self.trimmed = trimmed  # bytes up to its last non-whitespace byte
        self.head = head
        self.blank = blank  # whitespace only (a blank line is not a record, however long)

    def invalid(self, index: int, limits: Limits, *, trim: bool = False) -> InvalidRecord:
        size = self.trimmed if trim else self.size
        return InvalidRecord(
            index, self.start, self.start + size, too_long(size, limits), self.head[:size]
        )


class Accumulator:
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

    def __init__(self, limits: Limits) -> None:
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
        stripped = piece.rstrip(WHITESPACE)  # JSON's whitespace, for `trimmed`
        if stripped:
            self.trimmed = self.size + len(stripped)
        if self.blank and not piece.isspace():  # the same test as for a short blank line
            self.blank = False
        self.size += len(piece)
        self.ends_cr = piece.endswith(CR)
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

    def take_overlong(self, *, strip_cr: bool) -> Overlong:
        """The extent of a record that went past the limit."""
        self.active = False
        size = self.size - 1 if strip_cr and self.ends_cr else self.size
        return Overlong(self.start, size, self.trimmed, self._head, blank=self.blank)


def utf8_reason(exc: UnicodeDecodeError) -> str:
    """What is wrong with a record that is not UTF-8, where the text formats need it to be."""
    return f"invalid UTF-8 at byte {exc.start} of the record: {exc.reason}"
