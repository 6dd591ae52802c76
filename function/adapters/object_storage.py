"""Reads the object an event is about from OCI Object Storage, as a stream.

`OciObjectReader` is the adapter over the OCI SDK behind the `ObjectReader` port
(function.ports). What it guarantees:

- the version read is the event's: the GET carries `If-Match: <event eTag>`, so a 412 means
  a later upload replaced it (→ ObjectSkipped: that upload has its own event); a 404 means
  it is gone (→ ObjectSkipped);
- nothing is loaded whole: the body is the HTTP response's raw stream, not decompressed
  (`Content-Encoding` is reported, the decoder decides), read in chunks;
- a connection dropped mid-body is resumed with `Range: bytes=<bytes already returned>-` and
  the same If-Match, so the caller sees each byte exactly once, or an error;
- `open_ranged` (Parquet) reads the same version by byte ranges: a HeadObject (If-Match) for
  its size (a HEAD's 404 has no body to say whether the bucket or the object is missing: a
  GetObject tells them apart), then one GetObject per range, each with `Range: bytes=a-b`
  and If-Match (412 → ObjectSkipped, as for the streamed read); a range whose connection
  drops is resumed from the bytes already received, up to `max_resumes` times per range;
- every request, retry, backoff and socket read is bounded by the invocation's deadline
  (see `DeadlineRetryStrategy`); 429, 5xx and network failures that outlast the retries
  become ObjectStorageError, a passed deadline DeadlineExceeded.
"""

from __future__ import annotations

import io
import logging
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self

import oci
import urllib3.exceptions

from function.adapters.oci_sdk import UNREACHABLE, DeadlineRetryStrategy, build_client
from function.errors import (
    DeadlineExceeded,
    InvalidEvent,
    ObjectRejected,
    ObjectSkipped,
    ObjectStorageError,
    ObjstreamError,
)
from function.ports import BUFFER_BYTES, ObjectBody, RangedObject

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from function.core.deadline import Deadline
    from function.core.events import ObjectEvent
    from function.settings import Settings

logger = logging.getLogger(__name__)

# Enough to ride out a flaky network; a connection that keeps dropping is a real failure.
MAX_RESUMES = 5

# What a connection lost or stalled mid-body looks like from urllib3 and http.client.
_DROPPED = (urllib3.exceptions.HTTPError, OSError)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class OciObjectReader:
    """`ObjectReader` over the OCI SDK's ObjectStorageClient.

    Build one per container and reuse it: the client keeps its connection pool, while
    timeouts and retries are set per call from that invocation's deadline. OCI Functions
    runs one invocation per container at a time, which is what the per-call timeouts of
    the shared client rely on.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        signer: Any,
        *,
        endpoint: str | None = None,
        max_resumes: int = MAX_RESUMES,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retry_base_sleep: float = 0.25,
        buffer_size: int = BUFFER_BYTES,
    ) -> None:
        self._client = build_client(
            oci.object_storage.ObjectStorageClient,
            config,
            signer,
            endpoint=endpoint,
            endpoint_key="OBJECT_STORAGE_ENDPOINT",
            service="Object Storage",
        )
        self._max_resumes = max_resumes
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry_base_sleep = retry_base_sleep
        self._buffer_size = buffer_size

    @classmethod
    def from_settings(
        cls, settings: Settings, config: Mapping[str, Any], signer: Any
    ) -> OciObjectReader:
        """The reader for the configured endpoint (OBJECT_STORAGE_ENDPOINT or the region's)."""
        return cls(config, signer, endpoint=settings.object_storage_endpoint)

    @property
    def endpoint(self) -> str:
        """The Object Storage endpoint requests go to."""
        return str(self._client.base_client.endpoint)

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        """GET the event's object version (If-Match its eTag) from byte `start`: its body stream."""
        deadline.check(f"opening {event.resource_id}")
        try:
            response = self.get(event, deadline, if_match=event.etag, start=start)
        except _PastTheEnd as past:
            if past.size != start:
                raise InvalidEvent(
                    f"the continuation resumes at byte {start} of {event.resource_id}, which "
                    f"has {past.size} bytes"
                ) from None
            # Resumed exactly at the end: nothing is left to read.
            return ObjectBody.from_bytes(b"", etag=event.etag)
        headers = response.headers
        etag = headers.get("etag") or event.etag
        length = _int_or_none(headers.get("content-length"))
        if start:
            # A ranged body: positions stay the object's own, so a resume asks for the rest.
            if _range_start(headers.get("content-range")) != start:
                response.data.close()
                raise ObjectStorageError(
                    f"Object Storage answered a read of {event.resource_id} from byte {start} "
                    f"with Content-Range {headers.get('content-range')!r}"
                )
            length = _range_size(headers.get("content-range"))
        stream = _ResumingStream(
            self,
            event,
            deadline,
            response.data,
            etag=etag,
            length=length,
            start=start,
            max_resumes=self._max_resumes,
            read_timeout=self._read_timeout,
        )
        logger.info(
            "reading object",
            extra={
                "namespace": event.namespace,
                "bucket": event.bucket,
                "object": event.object_name,
                "etag": etag,
                "content_length": length,
                "opc_request_id": headers.get("opc-request-id"),
            },
        )
        return ObjectBody(
            stream,
            etag=etag,
            content_length=length,
            content_type=headers.get("content-type"),
            content_encoding=headers.get("content-encoding"),
            buffer_size=self._buffer_size,
        )

    def open_ranged(self, event: ObjectEvent, deadline: Deadline) -> RangedObject:
        """HeadObject (If-Match the event's eTag), then ranged GetObjects as they are asked for."""
        deadline.check(f"opening {event.resource_id}")
        response = self._head(event, deadline)
        headers = response.headers
        etag = headers.get("etag") or event.etag
        size = _int_or_none(headers.get("content-length"))
        if size is None:
            raise ObjectStorageError(
                f"Object Storage gave no Content-Length for {event.resource_id}"
            )

        def fetch(start: int, length: int) -> bytes:
            return self._read_range(event, deadline, etag, start, length)

        logger.info(
            "reading object by ranges",
            extra={
                "namespace": event.namespace,
                "bucket": event.bucket,
                "object": event.object_name,
                "etag": etag,
                "content_length": size,
                "opc_request_id": headers.get("opc-request-id"),
            },
        )
        return RangedObject(
            fetch,
            size=size,
            etag=etag,
            content_type=headers.get("content-type"),
            content_encoding=headers.get("content-encoding"),
        )

    def _head(self, event: ObjectEvent, deadline: Deadline) -> Any:
        """HeadObject (If-Match); a 404 is told apart with a GetObject.

        A HEAD answer has no body, so its 404 cannot say BucketNotFound (no bucket, or a
        policy that does not let the function read it) from ObjectNotFound: the SDK sees no
        error code. A GetObject's 404 carries the code, and needs no permission besides
        `read objects`. When that GET succeeds (the object came back, same eTag), its
        headers serve as the HEAD's; its body is left unread.
        """
        try:
            return self._call(self._client.head_object, event, deadline, if_match=event.etag)
        except ObjectSkipped as exc:
            cause = exc.__cause__
            if not (
                isinstance(cause, oci.exceptions.ServiceError)
                and cause.status == HTTPStatus.NOT_FOUND
            ):
                raise
        response = self.get(event, deadline, if_match=event.etag)
        response.data.close()
        return response

    def _read_range(
        self, event: ObjectEvent, deadline: Deadline, etag: str | None, start: int, length: int
    ) -> bytes:
        """Exactly `length` bytes from `start` (the caller keeps within the object).

        The chunks are written into one growing buffer whose bytes `getvalue` hands out without
        a copy: a range is held once, not as its chunks and then their join.
        """
        buffer = io.BytesIO()
        received = resumes = 0
        while received < length:
            first, last = start + received, start + length - 1
            response = self.get(event, deadline, if_match=etag, start=first, end=last)
            if (
                response.status != HTTPStatus.PARTIAL_CONTENT
                or _range_start(response.headers.get("content-range")) != first
            ):
                response.data.close()
                raise ObjectStorageError(
                    f"cannot read bytes {first}-{last} of {event.resource_id}: Object Storage "
                    f"answered {response.status} with Content-Range "
                    f"{response.headers.get('content-range')!r}"
                )
            raw = response.data.raw
            try:
                while received < length:
                    deadline.check(f"reading {event.resource_id}")
                    sock = getattr(raw.connection, "sock", None)
                    if sock is not None:
                        sock.settimeout(max(0.001, min(self._read_timeout, deadline.remaining())))
                    chunk = raw.read1(length - received, decode_content=False)
                    if not chunk:
                        break
                    buffer.write(chunk)
                    received += len(chunk)
            except _DROPPED as exc:
                response.data.close()
                if resumes >= self._max_resumes:
                    raise ObjectStorageError(
                        f"the connection to Object Storage dropped {resumes + 1} times while "
                        f"reading bytes {start}-{last} of {event.resource_id}; gave up at "
                        f"byte {start + received}"
                    ) from exc
                resumes += 1
                continue
            if received < length:
                response.data.close()
                if resumes >= self._max_resumes:
                    raise ObjectStorageError(
                        f"Object Storage ended bytes {first}-{last} of {event.resource_id} early "
                        f"{resumes + 1} times"
                    )
                resumes += 1
                continue
            raw.release_conn()
            response.data.close()
        return buffer.getvalue()

    def get(
        self,
        event: ObjectEvent,
        deadline: Deadline,
        *,
        if_match: str | None,
        start: int = 0,
        end: int | None = None,
    ) -> Any:
        """One GetObject (bytes `start`..`end`, inclusive) with deadline-bound retries."""
        options: dict[str, Any] = {}
        if start or end is not None:
            options["range"] = f"bytes={start}-{'' if end is None else end}"
        return self._call(
            self._client.get_object, event, deadline, if_match=if_match, start=start, **options
        )

    def _call(
        self,
        method: Any,
        event: ObjectEvent,
        deadline: Deadline,
        *,
        if_match: str | None,
        start: int = 0,
        **extra: Any,
    ) -> Any:
        """One Object Storage call with deadline-bound retries; errors translated."""
        strategy = DeadlineRetryStrategy(
            deadline,
            self._client.base_client,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            base_sleep=self._retry_base_sleep,
        )
        options: dict[str, Any] = {
            "retry_strategy": strategy,
            # Percent-encode every character but unreserved ones, `/` included, so names
            # with `..` segments, `?`, `#` or `%` reach Object Storage exactly as they are.
            "enable_strict_url_encoding": True,
        }
        if if_match:
            options["if_match"] = if_match
        options.update(extra)
        try:
            return method(event.namespace, event.bucket, event.object_name, **options)
        except oci.exceptions.ServiceError as exc:
            if exc.status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE and start:
                size = _range_size((exc.headers or {}).get("content-range"))
                raise _PastTheEnd(size if size is not None else -1) from exc
            raise self._service_error(exc, event, deadline, if_match, strategy.attempts) from exc
        except DeadlineExceeded as exc:
            # The retry strategy's own "before a request" says nothing of what was read.
            resuming = f" (resuming at byte {start})" if start else ""
            raise DeadlineExceeded(
                f"the invocation's deadline was reached while reading {event.resource_id} "
                f"from Object Storage{resuming}"
            ) from exc
        except UNREACHABLE as exc:
            deadline.check(f"reading {event.resource_id} from Object Storage")
            raise ObjectStorageError(
                f"could not read {event.resource_id} from Object Storage at {self.endpoint}: "
                f"{type(exc).__name__} after {strategy.attempts} attempts; check the endpoint "
                "and the function's network path (service gateway or NAT)"
            ) from exc

    def _service_error(
        self,
        exc: Any,
        event: ObjectEvent,
        deadline: Deadline,
        if_match: str | None,
        attempts: int,
    ) -> Exception:
        status, code = exc.status, exc.code
        answer = f"{status} {code}, opc-request-id {exc.request_id}"
        if status == HTTPStatus.PRECONDITION_FAILED:
            return ObjectSkipped.overwritten(if_match)
        if status == HTTPStatus.NOT_FOUND and code not in {"BucketNotFound", "NamespaceNotFound"}:
            return ObjectSkipped("object no longer exists")
        if status == HTTPStatus.NOT_FOUND:
            # Object Storage answers 404 BucketNotFound when the caller may not read the
            # bucket: skipping would silently drop every object of a misconfigured function.
            return ObjectStorageError(
                f"Object Storage says bucket {event.bucket} in namespace {event.namespace} "
                f"does not exist or may not be read ({answer}); check the IAM policy, e.g. "
                "`allow dynamic-group <functions> to read objects in compartment <bucket's>`"
            )
        if status == HTTPStatus.CONFLICT and code == "NotRestored":
            return ObjectRejected(
                "the object is in the Archive storage tier; restore it and upload it again "
                "to have it published"
            )
        if status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}:
            return ObjectStorageError(
                f"Object Storage refused to read {event.resource_id} ({answer}); check OCI_AUTH, "
                "the function's dynamic group and its `read objects` policy"
            )
        deadline.check(f"reading {event.resource_id} from Object Storage ({answer})")
        return ObjectStorageError(
            f"Object Storage failed to serve {event.resource_id} ({answer}) after {attempts} "
            f"attempts, {max(deadline.remaining(), 0.0):.1f}s before the deadline"
        )

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.base_client.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _ResumingStream(io.RawIOBase):
    """The raw body of one GET, resumed with a Range request when the connection drops.

    `position` counts the bytes passed up (into the ObjectBody's buffer, so to the caller);
    a resume asks for exactly the rest, so nothing is repeated or skipped.
    """

    def __init__(
        self,
        reader: OciObjectReader,
        event: ObjectEvent,
        deadline: Deadline,
        response: Any,
        *,
        etag: str | None,
        length: int | None,
        start: int = 0,
        max_resumes: int,
        read_timeout: float,
    ) -> None:
        super().__init__()
        self._reader = reader
        self._max_resumes = max_resumes
        self._read_timeout = read_timeout
        self._event = event
        self._deadline = deadline
        self._response: Any = response  # a requests.Response whose body is unread
        self._etag = etag
        self._length = length
        self.position = start  # in the object: the next byte to pass up
        self.resumes = 0
        self._failure: ObjstreamError | None = None

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        if self._failure is not None:
            # A failed read never turns into an end of object a decoder could mistake for
            # the real one: every later read fails the same way.
            raise self._failure
        try:
            return self._readinto(memoryview(buffer).cast("B"))
        except ObjstreamError as exc:
            self._failure = exc
            raise

    def _readinto(self, view: memoryview) -> int:
        while True:
            if not view or self._response is None:
                return 0
            if self._length is not None and self.position >= self._length:
                self._finish()
                return 0
            self._deadline.check(f"reading {self._event.resource_id}")
            try:
                self._bound_socket_timeout()
                chunk = self._response.raw.read1(len(view), decode_content=False)
            except _DROPPED as exc:
                self._resume(exc)
                continue
            if not chunk:
                if self._length is None or self.position >= self._length:
                    self._finish()
                    return 0
                self._resume(None)  # the server ended the body early
                continue
            size = len(chunk)
            view[:size] = chunk
            self.position += size
            return size

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()

    def _bound_socket_timeout(self) -> None:
        # The read timeout was fixed when the request was sent; the deadline keeps moving.
        connection = self._response.raw.connection
        sock = getattr(connection, "sock", None)
        if sock is not None:
            remaining = self._deadline.remaining()
            sock.settimeout(max(0.001, min(self._read_timeout, remaining)))

    def _finish(self) -> None:
        """End of body: hand the drained connection back to the pool, then close."""
        if self._response is not None:
            self._response.raw.release_conn()
            self._response.close()
            self._response = None

    def _resume(self, cause: BaseException | None) -> None:
        self._response.close()
        self._response = None
        where = f"byte {self.position} of {self._length if self._length is not None else '?'}"
        if self.resumes >= self._max_resumes:
            raise ObjectStorageError(
                f"the connection to Object Storage dropped {self.resumes + 1} times while "
                f"reading {self._event.resource_id}; gave up at {where}"
            ) from cause
        self.resumes += 1
        logger.warning(
            "object read interrupted; resuming",
            extra={
                "object": self._event.object_name,
                "offset": self.position,
                "resume": self.resumes,
                "cause": type(cause).__name__ if cause else "body ended early",
            },
        )
        response = self._reader.get(
            self._event, self._deadline, if_match=self._etag, start=self.position
        )
        start = _range_start(response.headers.get("content-range"))
        if response.status != HTTPStatus.PARTIAL_CONTENT or start != self.position:
            response.data.close()
            raise ObjectStorageError(
                f"cannot resume reading {self._event.resource_id} at {where}: Object Storage "
                f"answered {response.status} with Content-Range "
                f"{response.headers.get('content-range')!r}"
            ) from cause
        self._response = response.data


class _PastTheEnd(Exception):
    """A ranged GET started at or past the object's end (416); `size` is the object's."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _range_size(content_range: str | None) -> int | None:
    """The object's whole size from `bytes a-b/size` or `bytes */size`."""
    _, _, size = (content_range or "").rpartition("/")
    return int(size) if size.isdigit() else None


def _range_start(content_range: str | None) -> int | None:
    match = _CONTENT_RANGE.fullmatch(content_range or "")
    return int(match.group(1)) if match else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
