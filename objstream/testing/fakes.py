"""Fakes of the function's ports (function.ports), and the one way tests invoke with them.

`invoke(...)` goes through `Runtime.invoke`, the path the handler takes in production, with
a `FakeReader` and a `FakePublisher` in place of Object Storage and the broker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from function.core.deadline import Deadline
from function.errors import InvalidEvent
from function.ports import ObjectBody, RangedObject
from function.runtime import Runtime

if TYPE_CHECKING:
    from function.core.events import ObjectEvent
    from function.pipeline import Outcome
    from function.ports import ObjectReader, Publisher
    from function.settings import Settings
    from kafka_client.types import Headers


@dataclass
class Sent:
    """One message as the fake publisher received it (headers as bytes)."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: dict[str, bytes]

    @property
    def type(self) -> str:
        """Its ce_type."""
        return self.headers["ce_type"].decode()


@dataclass
class FakePublisher:
    """Keeps what is sent; `settled_at` records how many messages had been sent at each settle."""

    sent: list[Sent] = field(default_factory=list)
    settled_at: list[int] = field(default_factory=list)
    aborted: int = 0
    closed: int = 0

    def begin(self, deadline: float) -> None:
        """Nothing to prepare."""

    def ensure_topic(self, topic: str) -> None:
        """Every topic exists."""

    def send(self, topic: str, value: bytes | None, key: bytes | None, headers: Headers) -> None:
        """Keep the message."""
        as_bytes = {k: v if isinstance(v, bytes) else str(v).encode() for k, v in headers}
        self.sent.append(Sent(topic, value, key, as_bytes))

    def settle(self) -> None:
        """Everything sent is acknowledged at once."""
        self.settled_at.append(len(self.sent))

    def abort(self) -> None:
        """Count the abort."""
        self.aborted += 1

    def backlog_seconds(self) -> float:
        """Everything is acknowledged at once."""
        return 0.0

    def close(self, timeout: float = 5.0) -> None:
        """Count the close."""
        del timeout
        self.closed += 1


@dataclass
class FakeReader:
    """Serves `data` as every object (with the event's eTag), or raises `error`.

    `ranged` keeps every `RangedObject` handed out, so a test can count its range requests.
    """

    data: bytes = b""
    error: Exception | None = None
    content_type: str | None = None
    opened: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ranged: list[RangedObject] = field(default_factory=list)

    def open_ranged(self, event: ObjectEvent, deadline: Deadline) -> RangedObject:
        """The object's bytes, for ranged reads."""
        del deadline
        self.opened.append(event.object_name)
        if self.error is not None:
            raise self.error
        ranged = RangedObject.from_bytes(self.data, etag=event.etag, content_type=self.content_type)
        self.ranged.append(ranged)
        return ranged

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        """The object's bytes from `start`."""
        del deadline
        self.opened.append(event.object_name)
        self.starts.append(start)
        if self.error is not None:
            raise self.error
        if start > len(self.data):
            raise InvalidEvent(f"resumes at byte {start} of {len(self.data)}")
        return ObjectBody.from_bytes(
            self.data[start:], etag=event.etag, content_type=self.content_type
        )


@dataclass(frozen=True, slots=True)
class CountdownDeadline(Deadline):
    """A deadline that has plenty of time for `plenty` looks, then too little to go on.

    `remaining()` answers an hour for the first `plenty` calls, then one second: not passed,
    but less than a hand-off keeps (pipeline.HANDOFF_SECONDS), so a segment stops at its next
    look. Deterministic segment boundaries, whatever the machine's speed.
    """

    plenty: int = 0
    calls: list[int] = field(default_factory=lambda: [0])

    @classmethod
    def of(cls, plenty: int) -> CountdownDeadline:
        """A fresh one, `plenty` looks long."""
        return cls(time.monotonic() + 3600.0, plenty)

    def remaining(self) -> float:
        """An hour, then one second."""
        self.calls[0] += 1
        return 3600.0 if self.calls[0] <= self.plenty else 1.0


def invoke(
    body: bytes,
    *,
    settings: Settings,
    reader: ObjectReader,
    publisher: Publisher,
    deadline: Deadline,
    call_id: str | None = None,
) -> Outcome:
    """One invocation through `Runtime.invoke`, with these ports."""
    runtime = Runtime(
        settings,
        reader=lambda: reader,
        tokens=None,
        publisher_factory=lambda _config: publisher,
    )
    return runtime.invoke(body, deadline, call_id=call_id)


__all__ = ["FakePublisher", "FakeReader", "Sent", "invoke"]
