"""`objstream tail`: the stream as a downstream consumer sees it, one line per message.

Each message is a CloudEvent in Kafka's binary mode (CONTRACT.md §2): what matters is in the
headers (`ce_type`, `ce_subject`, `ce_recordindex`, …) and the key; the value is the data.
A line shows partition/offset, type, subject, record index, key and a preview of the value;
`--json` prints one JSON object per message instead, for scripts.

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
        if encoding == "json":
            text = orjson.dumps(value).decode()
        elif encoding == "text":
            text = _visible(value)
        else:
            text = f"<{len(self.value)} bytes>"
        return text if len(text) <= width else text[: max(0, width - 1)] + "…"

    def line(self, preview_width: int, *, show_key: bool = True) -> Text:
        """The readable one-line form (styled; printed plain when not on a terminal)."""
        text = Text()
        text.append(f"{self.partition}/{self.offset}", style="dim")
        text.append("  ")
        text.append(self.type, style=_TYPE_STYLES.get(self.type, "magenta"))
        text.append("  ")
        text.append(self.header("ce_subject") or "-", style="bold")
        if self.index is not None:
            text.append(f" #{self.index}", style="yellow")
        if show_key:
            key = self.key.decode("utf-8", errors="replace") if self.key is not None else "(none)"
            text.append(f"  key={key}", style="dim")
        text.append("  ")
        text.append(self.preview(preview_width))
        return text


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
            if options.as_json:
                out.write(orjson.dumps(message.to_json()).decode() + "\n")
                out.flush()
            elif console.is_terminal:
                # One screen line per message: cropped at the terminal's edge, not wrapped.
                console.print(
                    message.line(options.preview_width), no_wrap=True, overflow="ellipsis"
                )
            else:
                out.write(message.line(options.preview_width).plain + "\n")
                out.flush()
    return count
