"""The ports: what the pipeline needs from the world, defined on the pipeline's side.

Adapters implement them (function.adapters over the oci SDK, kafka_client over librdkafka);
fakes implement them in tests (objstream.testing.fakes) without importing anything heavy:
this module imports no I/O library.

- `ObjectReader.open(event, deadline)` → `ObjectBody`: the object version the event is about;
- `ObjectReader.open_ranged(event, deadline)` → `RangedObject`: the same version, read by
  byte ranges (Parquet, whose footer is at the end);
- `TokenSource.token()`: the SASL password (auth token), cached, refreshable;
- `Publisher`: the stream;
- `FunctionInvoker.invoke_detached(body, deadline)`: hands a continuation to the next
  segment (OCI: the Functions invoke API, detached; the CLI: the same process);
- `MetricsSink.post(figures, deadline)`: an invocation's figures (OCI Monitoring), and
  `SpanSink.send(trace, deadline)`: its spans (OCI APM), both best effort.
"""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

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


class RangedObject:
    """An object version read by byte ranges: its size and metadata, and `read(start, length)`.

    `fetch(start, length)` is the reader's: one ranged read of exactly that many bytes (fewer
    only at the end), with If-Match on the version's eTag, deadline-bounded, resumed when a
    connection drops; it raises as `ObjectReader.open` does (ObjectSkipped on 412). This class
    keeps the bounds and counts the requests (`requests`, `bytes_read`: what a test checks to
    prove an object was not read whole). `read` is safe to call from several threads.
    """

    def __init__(
        self,
        fetch: Callable[[int, int], bytes],
        *,
        size: int,
        etag: str | None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.size = size
        self.etag = etag
        self.content_length = size
        self.content_type = content_type
        self.content_encoding = content_encoding
        self._on_close = on_close
        self._lock = threading.Lock()
        self.requests = 0
        self.bytes_read = 0

    @classmethod
    def from_bytes(
        cls, data: bytes, *, etag: str | None = None, content_type: str | None = None
    ) -> RangedObject:
        """A ranged object over bytes in memory, for fakes and tests."""
        return cls(
            lambda start, length: data[start : start + length],
            size=len(data),
            etag=etag,
            content_type=content_type,
        )

    def read(self, start: int, length: int) -> bytes:
        """`length` bytes from `start`, fewer only at the object's end."""
        length = max(0, min(length, self.size - start))
        if start < 0 or not length:
            return b""
        data = self._fetch(start, length)
        with self._lock:
            self.requests += 1
            self.bytes_read += len(data)
        return data

    def close(self) -> None:
        """Release what the reader holds for it."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"RangedObject(size={self.size!r}, etag={self.etag!r}, "
            f"content_type={self.content_type!r}, requests={self.requests!r})"
        )


class ObjectReader(Protocol):
    """Opens the object an event is about; raises ObjectSkipped, ObjectStorageError,
    DeadlineExceeded (and ObjectRejected for an archived object)."""

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        """Start reading `event`'s object version at byte `start`; the caller closes the body.

        A `start` past the object's end raises InvalidEvent (only a continuation asks for one).
        """
        ...

    def open_ranged(self, event: ObjectEvent, deadline: Deadline) -> RangedObject:
        """`event`'s object version for ranged reads (each one If-Match its eTag)."""
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
