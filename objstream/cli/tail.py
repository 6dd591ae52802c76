"""`objstream tail`: the stream as a downstream consumer sees it, one line per message.

Each message is a CloudEvent in Kafka's binary mode (CONTRACT.md §2): what matters is in the
headers (`ce_type`, `ce_subject`, `ce_recordindex`, …) and the key; the value is the data.
A line shows partition/offset, type, subject, record index, key and a preview of the value;
`--json` prints one JSON object per message instead, for scripts. A packed message
(`objstream.records`, CONTRACT §5) is shown record by record, each with its index and id, as
`objstream.unpack` gives them back; `--messages` shows it as the one message it is.

The reader assigns every partition itself (no group membership, no rebalance wait) under a
group id of its own and never commits, so it cannot disturb real consumers' offsets.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TextIO

import orjson
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, TopicPartition
from rich.text import Text

from function.errors import StreamUnavailable
from objstream.stream_reader import (
    ClientErrors,
    auth_token,
    make_consumer,
    raise_for_errors,
    read_topic_metadata,
)
from objstream.unpack import PACKED_TYPE, unpack

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from types import TracebackType

    from confluent_kafka import Message
    from rich.console import Console

    from function.settings import Settings

# How long to wait for the broker's metadata (and so, for a refused login to show).
METADATA_TIMEOUT = 15.0
# One poll; short so that --timeout, --max and Ctrl-C are honoured promptly.
_POLL_STEP = 0.2

_TYPE_STYLES = {
    "objstream.record": "cyan",
    PACKED_TYPE: "cyan",
    "objstream.record.invalid": "bold red",
    "objstream.object.published": "bold green",
    "objstream.object.rejected": "bold red",
}


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One consumed message, headers decoded: what `tail` prints."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes
    headers: Mapping[str, bytes]

    @classmethod
    def from_kafka(cls, message: Message) -> StreamMessage:
        """Read a confluent_kafka message."""
        raw = message.headers() or []
        pairs = list(raw.items()) if isinstance(raw, dict) else list(raw)
        headers = {
            name: (value.encode() if isinstance(value, str) else value or b"")
            for name, value in pairs
        }
        kind, stamp = message.timestamp()
        return cls(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            timestamp_ms=stamp if kind else None,
            key=message.key(),
            value=message.value() or b"",
            headers=headers,
        )

    def header(self, name: str) -> str | None:
        """A header as text (None when absent)."""
        value = self.headers.get(name)
        return value.decode("utf-8", errors="replace") if value is not None else None

    @property
    def type(self) -> str:
        """`ce_type`: the OCI event type, objstream.record, …"""
        return self.header("ce_type") or "(no ce_type)"

    @property
    def index(self) -> int | None:
        """`ce_recordindex`, for records and invalid records."""
        raw = self.header("ce_recordindex")
        return int(raw) if raw is not None and raw.isdigit() else None

    @property
    def is_json(self) -> bool:
        """Whether the value is declared JSON."""
        return (self.header("content-type") or "").startswith("application/json")

    def decoded_value(self) -> tuple[Any, str]:
        """The value as JSON, text or base64, and which of those it is."""
        if self.is_json:
            try:
                return orjson.loads(self.value), "json"
            except orjson.JSONDecodeError:
                pass
        try:
            return self.value.decode("utf-8"), "text"
        except UnicodeDecodeError:
            return base64.b64encode(self.value).decode("ascii"), "base64"

    def to_json(self) -> dict[str, Any]:
        """One JSON object per message (`tail --json`)."""
        value, encoding = self.decoded_value()
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": _iso(self.timestamp_ms),
            "key": self.key.decode("utf-8", errors="replace") if self.key is not None else None,
            "type": self.header("ce_type"),
            "id": self.header("ce_id"),
            "source": self.header("ce_source"),
            "subject": self.header("ce_subject"),
            "index": self.index,
            "headers": {name: self.header(name) for name in self.headers},
            "value": value,
            "valueEncoding": encoding,
        }

    def preview(self, width: int) -> str:
        """The value on one line, at most `width` characters."""
        value, encoding = self.decoded_value()
        return _preview(value, encoding, len(self.value), width)

    def line(self, preview_width: int, *, show_key: bool = True) -> Text:
        """The readable one-line form (styled; printed plain when not on a terminal)."""
        return self._line(self.index, None, self.preview(preview_width), show_key=show_key)

    @property
    def is_packed(self) -> bool:
        """Whether this is a pack of records (`objstream.records`)."""
        return self.type == PACKED_TYPE

    def record_lines(self, preview_width: int, *, show_key: bool = True) -> list[Text]:
        """A pack's records, one line each: its index, its id and a preview of its value."""
        return [
            self._line(
                record.index,
                record.id,
                _preview(record.value, "json", 0, preview_width),
                show_key=show_key,
            )
            for record in unpack((list(self.headers.items()), self.value))
        ]

    def records_json(self) -> list[dict[str, Any]]:
        """A pack's records, one JSON object each (`tail --json`): the message's fields, the
        record's index, id and value, and `pack` (the message's id, first index and count)."""
        message = self.to_json()
        del message["value"], message["headers"]
        pack = {"id": self.header("ce_id"), "index": self.index, "count": self.count}
        return [
            {**message, "id": record.id, "index": record.index, "value": record.value,
             "valueEncoding": "json", "pack": pack}
            for record in unpack((list(self.headers.items()), self.value))
        ]  # fmt: skip

    @property
    def count(self) -> int | None:
        """`ce_recordcount`, for packs."""
        raw = self.header("ce_recordcount")
        return int(raw) if raw is not None and raw.isdigit() else None

    def _line(
        self, index: int | None, record_id: str | None, preview: str, *, show_key: bool
    ) -> Text:
        text = Text()
        text.append(f"{self.partition}/{self.offset}", style="dim")
        text.append("  ")
        text.append(self.type, style=_TYPE_STYLES.get(self.type, "magenta"))
        text.append("  ")
        text.append(self.header("ce_subject") or "-", style="bold")
        if index is not None:
            text.append(f" #{index}", style="yellow")
        if self.is_packed and record_id is None:
            text.append(f" ({self.count} records)", style="yellow")
        if record_id is not None:
            text.append(f"  id={record_id}", style="dim")
        if show_key:
            key = self.key.decode("utf-8", errors="replace") if self.key is not None else "(none)"
            text.append(f"  key={key}", style="dim")
        text.append("  ")
        text.append(preview)
        return text


def _preview(value: Any, encoding: str, size: int, width: int) -> str:
    """A value on one line, at most `width` characters."""
    if encoding == "json":
        text = orjson.dumps(value).decode()
    elif encoding == "text":
        text = _visible(value)
    else:
        text = f"<{size} bytes>"
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def _visible(text: str) -> str:
    """Control characters escaped, so a preview stays on its line; the rest as it is."""
    return text.translate(_CONTROL)


def _iso(timestamp_ms: int | None) -> str | None:
    if timestamp_ms is None:
        return None
    when = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StreamReader:
    """A non-committing reader of every partition of the configured topic."""

    def __init__(self, settings: Settings, *, topic: str | None = None) -> None:
        self.settings = settings
        self.topic = topic or settings.topic
        self._errors = ClientErrors()
        self._consumer = make_consumer(settings, auth_token(settings), self._errors)
        try:
            described = read_topic_metadata(
                self._consumer,
                settings,
                self._errors,
                topic=self.topic,
                timeout=METADATA_TIMEOUT,
                serve=lambda: self._consumer.poll(0),
            )
        except BaseException:
            self._consumer.close()
            raise
        self.partitions: list[int] = sorted(described.partitions)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Leave the broker (nothing to commit)."""
        self._consumer.close()

    def end_offsets(self) -> dict[int, int]:
        """Each partition's next offset (its high watermark) now."""
        ends: dict[int, int] = {}
        for partition in self.partitions:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=METADATA_TIMEOUT
            )
            ends[partition] = high
        return ends

    def assign(self, start: Mapping[int, int] | None = None, *, from_beginning: bool) -> None:
        """Read from `start` offsets, else from the beginning or only new messages."""
        default = OFFSET_BEGINNING if from_beginning else OFFSET_END
        self._consumer.assign(
            [TopicPartition(self.topic, p, (start or {}).get(p, default)) for p in self.partitions]
        )

    def messages(
        self,
        *,
        max_messages: int | None = None,
        idle_timeout: float | None = None,
        stop_at: Mapping[int, int] | None = None,
    ) -> Iterator[StreamMessage]:
        """Messages as they come, until `max_messages`, `idle_timeout` s of quiet, or `stop_at`.

        `stop_at` (partition → offset, exclusive) ends the reading once every partition in
        it has been read up to there ("everything that was there"); partitions not in it are
        not read.
        """
        until = _Until(stop_at)
        count = 0
        last = time.monotonic()
        while not until.done and (max_messages is None or count < max_messages):
            message = self._consumer.poll(_POLL_STEP)
            raise_for_errors(self._errors, self.settings)
            if message is None:
                if idle_timeout is not None and time.monotonic() - last >= idle_timeout:
                    return
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:  # noqa: SLF001
                    continue
                raise StreamUnavailable(
                    StreamUnavailable.Kind.UNREACHABLE, f"reading {self.topic}: {error.str()}"
                )
            last = time.monotonic()
            seen = StreamMessage.from_kafka(message)
            if until.wanted(seen):
                count += 1
                yield seen


class _Until:
    """Tracks `stop_at`: which partitions still have messages to read."""

    def __init__(self, stop_at: Mapping[int, int] | None) -> None:
        self._ends = None if stop_at is None else {p: e for p, e in stop_at.items() if e > 0}

    @property
    def done(self) -> bool:
        return self._ends is not None and not self._ends

    def wanted(self, message: StreamMessage) -> bool:
        if self._ends is None:
            return True
        end = self._ends.get(message.partition)
        if end is None or message.offset >= end:
            return False
        if message.offset >= end - 1:
            del self._ends[message.partition]
        return True


@dataclass(frozen=True, slots=True)
class TailOptions:
    """What `objstream tail` was asked for."""

    from_beginning: bool = False
    as_json: bool = False
    as_messages: bool = False  # packs as the messages they are, not record by record
    max_messages: int | None = None
    idle_timeout: float | None = None
    preview_width: int = 100


def run_tail(settings: Settings, options: TailOptions, console: Console, out: TextIO) -> int:
    """Print messages until told to stop; return how many were printed."""
    count = 0
    with StreamReader(settings) as reader:
        reader.assign(from_beginning=options.from_beginning)
        if not options.as_json:
            where = "from the beginning" if options.from_beginning else "new messages only"
            sys.stderr.write(
                f"tailing {reader.topic} ({len(reader.partitions)} partitions, {where})\n"
            )
        for message in reader.messages(
            max_messages=options.max_messages, idle_timeout=options.idle_timeout
        ):
            count += 1
            by_record = message.is_packed and not options.as_messages
            if options.as_json:
                shown = message.records_json() if by_record else [message.to_json()]
                out.write("".join(orjson.dumps(one).decode() + "\n" for one in shown))
                out.flush()
                continue
            width = options.preview_width
            lines = message.record_lines(width) if by_record else [message.line(width)]
            for line in lines:
                if console.is_terminal:
                    # One screen line per record: cropped at the terminal's edge, not wrapped.
                    console.print(line, no_wrap=True, overflow="ellipsis")
                else:
                    out.write(line.plain + "\n")
            out.flush()
    return count
