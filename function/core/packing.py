"""Packed messages (CONTRACT §5): consecutive records of one object in one JSON-lines message.

Pure: the packs are handed to a `send` callable. A pack holds the contiguous indexes
`[first, first + count)`, each record's value as one JSON line (a text line becomes a JSON
string; the other packable formats' values are JSON already), every line ended by `\n`.

Where a pack ends depends only on the records and the settings, so a replay yields the same
packs and ids:
- the next record's line does not fit in the pack's room (`max_bytes`, the message limit less
  the header room) — a record exactly filling the room is still in its pack;
- the pack has `max_records` records;
- the next record has another key (`RECORD_KEY=field:<name>`);
- an invalid record (the pipeline closes the pack and dead-letters the record on its own);
- the object's end, or where the object is rejected.

A record whose line alone does not fit (a text line whose JSON escapes make it longer than
the room, or a record within a byte of the room: its line ends with `\n`) cannot be packed:
`line_too_long` says why, and the pipeline treats it as an invalid record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from function.core.decoding.records import RecordFormat

if TYPE_CHECKING:
    from collections.abc import Callable

    from function.core.messages import ObjectMessages
    from kafka_client.types import Headers

NEWLINE: Final = b"\n"
# JSON's line breaks are whitespace outside strings (a raw one inside a string is invalid
# JSON): a multi-line JSON array element becomes one line by turning them into spaces.
_ONE_LINE = bytes.maketrans(b"\r\n", b"  ")


def _text_as_json(value: bytes) -> bytes:
    # The decoder checked that a text line is UTF-8.
    return orjson.dumps(value.decode("utf-8"))


def _json_on_one_line(value: bytes) -> bytes:
    return value.translate(_ONE_LINE) if NEWLINE in value else value


def _as_is(value: bytes) -> bytes:
    return value


def line_maker(record_format: RecordFormat) -> Callable[[bytes], bytes]:
    """How a record of this format becomes its JSON line (chosen once per object)."""
    if record_format is RecordFormat.RAW:
        raise ValueError("raw chunks are not packed (CONTRACT §5)")
    if record_format is RecordFormat.LINES:
        return _text_as_json
    if record_format is RecordFormat.JSON:
        return _json_on_one_line
    # JSON lines have no line break; CSV, Parquet and Avro values are orjson's own output.
    return _as_is


class JsonLinesPacker:
    """Fills packs with consecutive records and sends each one when it closes.

    `add` puts a record in the open pack (sending the pack first when the record must start a
    new one); `close` sends the open pack. `send(value, key, headers)` puts a pack on the
    stream; `records_sent` counts the records of the packs sent.
    """

    __slots__ = (
        "_count",
        "_first",
        "_key",
        "_lines",
        "_max_bytes",
        "_max_records",
        "_messages",
        "_send",
        "_size",
        "records_sent",
    )

    def __init__(
        self,
        messages: ObjectMessages,
        send: Callable[[bytes, bytes | None, Headers], None],
        *,
        max_bytes: int,
        max_records: int,
    ) -> None:
        self._messages = messages
        self._send = send
        self._max_bytes = max_bytes
        self._max_records = max_records
        self._lines: list[bytes] = []
        self._first = 0
        self._count = 0
        self._size = 0
        self._key: bytes | None = None
        self.records_sent = 0

    def line_too_long(self, line: bytes) -> str | None:
        """Why this line can never be in a pack (too long even alone), else None."""
        if len(line) + 1 <= self._max_bytes:
            return None
        return (
            f"record of {len(line)} bytes as a JSON line exceeds a packed message's room of "
            f"{self._max_bytes - 1} bytes"
        )

    def starts_new_pack(self, line: bytes, key: bytes | None) -> bool:
        """Whether a record with this line and key would close the open pack first."""
        return bool(self._count) and (
            key != self._key or self._size + len(line) + 1 > self._max_bytes
        )

    def add(self, index: int, line: bytes, key: bytes | None) -> bool:
        """Pack record `index`; True when that filled the pack to `max_records` (sent)."""
        if self.starts_new_pack(line, key):
            self.close()
        if not self._count:
            self._first, self._key = index, key
        self._lines.append(line)
        self._count += 1
        self._size += len(line) + 1
        if self._count >= self._max_records:
            self.close()
            return True
        return False

    def close(self) -> None:
        """Send the open pack, if any: a pack boundary."""
        count = self._count
        if not count:
            return
        lines = self._lines
        lines.append(b"")  # every line ends with \n, the last one too
        headers = self._messages.pack_headers(self._first, count)
        self._send(NEWLINE.join(lines), self._key, headers)
        self.records_sent += count
        self._lines, self._count, self._size = [], 0, 0
