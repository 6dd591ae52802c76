"""Fakes of the function's ports (function.ports), and the one way tests invoke with them.

`invoke(...)` goes through `Runtime.invoke`, the path the handler takes in production, with
a `FakeReader` and a `FakePublisher` in place of Object Storage and the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from function.ports import ObjectBody, RangedObject
from function.runtime import Runtime

if TYPE_CHECKING:
    from function.core.deadline import Deadline
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

    def open(self, event: ObjectEvent, deadline: Deadline) -> ObjectBody:
        """The object's bytes."""
        del deadline
        self.opened.append(event.object_name)
        if self.error is not None:
            raise self.error
        return ObjectBody.from_bytes(self.data, etag=event.etag, content_type=self.content_type)


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
