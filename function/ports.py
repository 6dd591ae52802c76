"""The ports: what the pipeline needs from the world, defined on the pipeline's side.

Adapters implement them (function.adapters over the oci SDK, kafka_client over librdkafka);
fakes implement them in tests (objstream.testing.fakes) without importing anything heavy:
this module imports no I/O library.

- `ObjectReader.open(event, deadline)` → `ObjectBody`: the object version the event is about;
- `TokenSource.token()`: the SASL password (auth token), cached, refreshable;
- `Publisher`: the stream;
- `FunctionInvoker.invoke_detached(body, deadline)`: hands a continuation to the next
  segment (OCI: the Functions invoke API, detached; the CLI: the same process);
- `MetricsSink.post(figures, deadline)`: an invocation's figures (OCI Monitoring), and
  `SpanSink.send(trace, deadline)`: its spans (OCI APM), both best effort.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from function.core.deadline import Deadline
    from function.core.events import ObjectEvent
    from function.figures import InvocationFigures
    from function.tracing import Trace
    from kafka_client.types import Headers

# The body's buffer: big enough that per-read overhead vanishes, small enough to keep memory flat.
BUFFER_BYTES = 1024 * 1024


class ObjectBody(io.BufferedReader):
    """An object's bytes as a buffered binary stream, plus the metadata a decoder needs.

    Use it as any `IO[bytes]`: `read(n)` returns n bytes unless the object ends first,
    `read1(n)` what one chunk gives, `b""` at the end. Close it (or use `with`) to release
    the connection. A fake reader builds one with `ObjectBody.from_bytes(...)`.
    """

    def __init__(
        self,
        raw: io.RawIOBase | io.BytesIO,
        *,
        etag: str | None,
        content_length: int | None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        buffer_size: int = BUFFER_BYTES,
    ) -> None:
        super().__init__(raw, buffer_size)
        self.etag = etag
        self.content_length = content_length
        self.content_type = content_type
        self.content_encoding = content_encoding

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        etag: str | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
    ) -> ObjectBody:
        """A body over bytes in memory, for fakes and tests."""
        return cls(
            io.BytesIO(data),
            etag=etag,
            content_length=len(data),
            content_type=content_type,
            content_encoding=content_encoding,
        )

    def __enter__(self) -> Self:
        return self

    def __repr__(self) -> str:
        return (
            f"ObjectBody(etag={self.etag!r}, content_length={self.content_length!r}, "
            f"content_type={self.content_type!r}, content_encoding={self.content_encoding!r})"
        )


class ObjectReader(Protocol):
    """Opens the object an event is about; raises ObjectSkipped, ObjectStorageError,
    DeadlineExceeded (and ObjectRejected for an archived object)."""

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        """Start reading `event`'s object version at byte `start`; the caller closes the body.

        A `start` past the object's end raises InvalidEvent (only a continuation asks for one).
        """
        ...


class TokenSource(Protocol):
    """Gives the auth token; `refresh=True` fetches it again instead of using a cached one.

    `deadline` is the invocation's: a fetch must not outlast it.
    """

    def token(self, *, refresh: bool = False, deadline: Deadline | None = None) -> str:
        """The current auth token."""
        ...


class Publisher(Protocol):
    """The stream (kafka_client.StreamPublisher): asynchronous sends, settled before a marker.

    `begin` starts an invocation bounded by `deadline` (a monotonic time); `send` queues
    (back-pressure, never a drop); `settle` returns once everything sent is acknowledged or
    raises; `abort` drops what is queued; `close` releases the producer.
    """

    def begin(self, deadline: float) -> None: ...
    def ensure_topic(self, topic: str) -> None: ...
    def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None: ...
    def settle(self) -> None: ...
    def abort(self) -> None: ...
    def close(self, timeout: float = ...) -> None: ...
    def backlog_seconds(self) -> float: ...


class FunctionInvoker(Protocol):
    """Starts the next segment of an object's chain with a continuation body (CONTRACT §4).

    Returns once the invocation was accepted (a detached invocation answers no one); raises
    HandOffError (IAM, endpoint, refused) or DeadlineExceeded, never waiting past `deadline`.
    """

    def invoke_detached(self, body: bytes, deadline: Deadline) -> None: ...


class MetricsSink(Protocol):
    """Where each invocation's figures go (OCI Monitoring: function.adapters.monitoring).

    `post` sends them in one call and returns, or raises TelemetryError (or DeadlineExceeded)
    without waiting past `deadline`; the runtime logs the first failure and carries on.
    """

    def post(self, figures: InvocationFigures, deadline: Deadline) -> None: ...


class SpanSink(Protocol):
    """Where an invocation's trace goes when tracing is on (function.adapters.zipkin).

    `send` exports the trace's spans in one request, or raises TelemetryError without waiting
    past `deadline`; the runtime logs the first failure and carries on.
    """

    def send(self, trace: Trace, deadline: Deadline) -> None: ...
