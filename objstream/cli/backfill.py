"""`objstream backfill --bucket B`: objects already in a bucket, sent through the upload path.

Files uploaded before the Events rule existed, or while it was failing, never produced an
event. Backfill lists them (ListObjects, paged with `nextStartWith`, signed as OCI_AUTH says)
and hands each one on (CONTRACT §4):

- to the deployed function (`--function-ocid`, default FUNCTION_OCID): as segment 1 of a
  detached chain, `first_segment(<createobject event>)`, through the same Functions invoke
  adapter a segment uses to hand on the rest of an object, so its failures are handled as
  any detached segment's are;
- or through the local pipeline in this process (`--local`): `Runtime.for_oci(settings)`
  per worker thread, object by object; an object that needs more than `--timeout` goes on
  in segments in this process (objstream.local_chain), as the deployed function would.

The event is built from the listing: the object's eTag, and an event id and time derived from
the object version, so a re-run produces the same messages with the same ids. `--wait`
follows the stream until each object's terminal marker arrives (`ce_subject` and `ce_etag`).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import oci
import orjson

from function.adapters.auth import OciSigning
from function.adapters.functions import OciFunctionInvoker
from function.adapters.oci_sdk import UNREACHABLE, DeadlineRetryStrategy, build_client
from function.core.continuation import first_segment
from function.core.deadline import Deadline
from function.core.events import parse_event
from function.core.messages import TYPE_PUBLISHED, TYPE_REJECTED
from function.errors import CliError, ConfigError, DeadlineExceeded, TransientError
from function.runtime import Runtime
from objstream.cli.publish import FileResult, ProgressDisplay
from objstream.cli.tail import StreamReader
from objstream.local_chain import InProcessInvoker, run_chain
from objstream.oci_events import object_event_body

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from rich.console import Console

    from function.settings import Settings

# No answer at all: the network failed, or the listing's budget ran out.
_GAVE_UP: tuple[type[BaseException], ...] = (DeadlineExceeded, *UNREACHABLE)
# One ListObjects page may take this long, retries included.
_LIST_BUDGET = 30.0
# Objects queued to the pool beyond those being sent: enough to keep every worker busy.
_QUEUED_PER_WORKER = 2
# The event ids backfill makes: uuid5 of the object version under this namespace.
_EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/objstream/backfill")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# What each way of sending counts as done (exit code 0), before --wait.
DONE_LOCAL = frozenset({"published", "skipped"})
DONE_SENT = frozenset({"sent"})


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """What `objstream backfill` was asked for."""

    bucket: str
    namespace: str | None = None
    prefix: str = ""
    since: dt.datetime | None = None
    after: str | None = None
    function_ocid: str | None = None
    local: bool = False
    wait: bool = False
    wait_timeout: float = 600.0
    dry_run: bool = False
    concurrency: int = 4
    timeout: float = 300.0  # seconds per object: the invocation's (or the hand-off's) deadline


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One object version as ListObjects describes it."""

    name: str
    size: int
    etag: str
    time_modified: dt.datetime | None


def parse_since(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """`--since`: an RFC 3339 time (or a date, UTC) or a duration back from now (`2h`, `7d`)."""
    value = text.strip()
    duration = _DURATION.fullmatch(value)
    if duration is not None:
        seconds = float(duration.group(1)) * _UNITS[duration.group(2)]
        return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=seconds)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"--since {text!r} is neither an RFC 3339 time (2026-11-28T10:00:00Z) nor a "
            "duration (90s, 30m, 2h, 7d, 1w)"
        ) from None
    if when.tzinfo is None:
        if "T" in value or " " in value:
            raise CliError(f"--since {text!r} needs a time zone, e.g. Z or +01:00")
        when = when.replace(tzinfo=dt.UTC)  # a bare date: midnight UTC
    return when


def backfill_event(namespace: str, bucket: str, listed: ListedObject) -> bytes:
    """The createobject event for a listed object: same version, same event, same ids."""
    version = f"/n/{namespace}/b/{bucket}/o/{listed.name}#{listed.etag}"
    return object_event_body(
        namespace,
        bucket,
        listed.name,
        listed.etag,
        event_id=str(uuid.uuid5(_EVENT_ID_NAMESPACE, version)),
        event_time=listed.time_modified,
    )


# -- listing ----------------------------------------------------------------------------------


class BucketLister:
    """ListObjects and GetNamespace through the oci SDK, errors turned into one line."""

    def __init__(self, settings: Settings, signing: OciSigning) -> None:
        self._client = build_client(
            oci.object_storage.ObjectStorageClient,
            *signing(),
            endpoint=settings.object_storage_endpoint,
            endpoint_key="OBJECT_STORAGE_ENDPOINT",
            service="Object Storage",
        )
        self._auth = settings.oci_auth.value

    @property
    def endpoint(self) -> str:
        """Where the listing requests go."""
        return str(self._client.base_client.endpoint)

    def namespace(self, given: str | None) -> str:
        """`--namespace`, else the tenancy's (GetNamespace)."""
        if given:
            return given
        answer = self._call("read the Object Storage namespace", self._client.get_namespace)
        return str(answer.data)

    def objects(self, namespace: str, options: BackfillOptions) -> Iterator[ListedObject]:
        """The bucket's objects under --prefix, after --after, modified since --since."""
        start: str | None = None
        while True:
            page: dict[str, Any] = {"fields": "name,size,etag,timeModified"}
            if options.prefix:
                page["prefix"] = options.prefix
            if start is not None:
                page["start"] = start
            elif options.after is not None:
                page["start_after"] = options.after
            answer = self._call(
                f"list bucket {options.bucket} in namespace {namespace}",
                self._client.list_objects,
                namespace,
                options.bucket,
                **page,
            )
            for summary in answer.data.objects:
                listed = ListedObject(
                    summary.name, int(summary.size or 0), summary.etag, summary.time_modified
                )
                if options.since is None or (
                    listed.time_modified is not None and listed.time_modified >= options.since
                ):
                    yield listed
            start = answer.data.next_start_with
            if not start:
                return

    def _call(self, doing: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        deadline = Deadline.in_seconds(_LIST_BUDGET)
        strategy = DeadlineRetryStrategy(deadline, self._client.base_client)
        try:
            return method(*args, retry_strategy=strategy, **kwargs)
        except oci.exceptions.ServiceError as exc:
            answer = f"{exc.status} {exc.code}, opc-request-id {exc.request_id}"
            if exc.status in {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND}:
                raise CliError(
                    f"Object Storage refused to {doing} ({answer}): check --bucket and "
                    f"--namespace, OCI_AUTH={self._auth}, and a policy such as `allow group "
                    "<yours> to inspect objects in compartment <the bucket's>`"
                ) from exc
            raise CliError(
                f"Object Storage failed to {doing} ({answer}) after {strategy.attempts} attempts"
            ) from exc
        except _GAVE_UP as exc:
            raise CliError(
                f"could not {doing} at {self.endpoint}: {type(exc).__name__} after "
                f"{strategy.attempts} attempts; check OBJECT_STORAGE_ENDPOINT and the network"
            ) from exc


# -- sending ----------------------------------------------------------------------------------


class _FunctionSender:
    """Segment 1 of a detached chain per object, one invoker per worker thread."""

    def __init__(self, settings: Settings, signing: OciSigning, function_ocid: str) -> None:
        self._config, self._signer = signing()
        self._function_ocid = function_ocid
        self._management_endpoint = settings.functions_endpoint
        # Looked up here, once: a refused GetFunction is one error line, not one per object.
        first = self._make(settings.function_invoke_endpoint)
        self.endpoint = first.endpoint(Deadline.in_seconds(_LIST_BUDGET))
        self._local = threading.local()
        self._invokers: list[OciFunctionInvoker] = [first]
        self._lock = threading.Lock()

    def _make(self, endpoint: str | None) -> OciFunctionInvoker:
        return OciFunctionInvoker(
            self._config,
            self._signer,
            self._function_ocid,
            invoke_endpoint=endpoint,
            management_endpoint=self._management_endpoint,
        )

    def send(self, body: bytes, timeout: float) -> tuple[str, dict[str, Any]]:
        invoker: OciFunctionInvoker | None = getattr(self._local, "invoker", None)
        if invoker is None:
            invoker = self._make(self.endpoint)
            self._local.invoker = invoker
            with self._lock:
                self._invokers.append(invoker)
        segment = first_segment(parse_event(body)).to_json()
        invoker.invoke_detached(segment, Deadline.in_seconds(timeout))
        return "sent", {}

    def close(self) -> None:
        for invoker in self._invokers:
            invoker.close()


class _LocalSender:
    """The local pipeline, `Runtime.for_oci(settings)`, one runtime per worker thread.

    An object that needs more than `timeout` goes on in segments in this process (the
    in-process chain), as the deployed function hands them to detached invocations.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._runtimes: list[Runtime] = []
        self._lock = threading.Lock()

    def send(self, body: bytes, timeout: float) -> tuple[str, dict[str, Any]]:
        runtime: Runtime | None = getattr(self._local, "runtime", None)
        invoker: InProcessInvoker | None = getattr(self._local, "invoker", None)
        if runtime is None or invoker is None:
            invoker = InProcessInvoker()
            runtime = Runtime.for_oci(self._settings, invoker=invoker)
            self._local.runtime, self._local.invoker = runtime, invoker
            with self._lock:
                self._runtimes.append(runtime)
        outcomes = run_chain(runtime, invoker, body, lambda: Deadline.in_seconds(timeout))
        detail = {**outcomes[-1].detail, "segments": len(outcomes)}
        return str(outcomes[-1].status), detail

    def close(self) -> None:
        for runtime in self._runtimes:
            runtime.close()


def _send_one(
    sender: _FunctionSender | _LocalSender,
    namespace: str,
    bucket: str,
    listed: ListedObject,
    timeout: float,
) -> FileResult:
    started = time.monotonic()
    try:
        status, detail = sender.send(backfill_event(namespace, bucket, listed), timeout)
    except TransientError as exc:
        return FileResult(
            listed.name,
            listed.name,
            "failed",
            bytes=listed.size,
            seconds=time.monotonic() - started,
            reason=str(exc),
        )
    return FileResult(
        listed.name,
        listed.name,
        status,
        records=int(detail.get("records", 0)),
        invalid=int(detail.get("invalid", 0)),
        bytes=int(detail.get("bytes", listed.size)),
        seconds=time.monotonic() - started,
        reason=detail.get("reason") or detail.get("error"),
        detail={**detail, "eTag": listed.etag},
    )


# -- the command ------------------------------------------------------------------------------


@dataclass(slots=True)
class BackfillRun:
    """What a backfill did: one result per object, and which statuses count as done."""

    namespace: str
    results: list[FileResult]
    done: frozenset[str]

    @property
    def ok(self) -> bool:
        """Whether every object reached a done status."""
        return all(result.status in self.done for result in self.results)


def run_backfill(
    settings: Settings, options: BackfillOptions, console: Console, *, show_progress: bool
) -> BackfillRun:
    """List, then send each object (or, with --dry-run, only list); --wait for the markers."""
    signing = OciSigning(settings)
    lister = BucketLister(settings, signing)
    namespace = lister.namespace(options.namespace)
    listed = list(lister.objects(namespace, options))
    if options.dry_run:
        results = [
            FileResult(o.name, o.name, "would send", bytes=o.size, detail={"eTag": o.etag})
            for o in listed
        ]
        return BackfillRun(namespace, results, frozenset({"would send"}))
    if not options.local and not options.function_ocid:
        raise CliError(
            "backfill sends through the deployed function (--function-ocid, or FUNCTION_OCID) "
            "or through the local pipeline (--local); say which"
        )
    # Opened before anything is sent: every marker comes after the offsets read here.
    reader = StreamReader(settings) if options.wait else None
    try:
        starts = reader.end_offsets() if reader is not None else None
        sender: _FunctionSender | _LocalSender
        if options.local:
            sender, done = _LocalSender(settings), DONE_LOCAL
        else:
            assert options.function_ocid is not None
            sender, done = _FunctionSender(settings, signing, options.function_ocid), DONE_SENT
        try:
            display = ProgressDisplay(console) if show_progress else None
            results = _send_all(sender, namespace, listed, options, display=display)
        finally:
            sender.close()
        if reader is not None and starts is not None:
            _wait_for_markers(reader, starts, results, options.wait_timeout)
            done = frozenset({"published", "skipped"})
    finally:
        if reader is not None:
            reader.close()
    return BackfillRun(namespace, results, done)


class _Collector:
    """Results as the pool finishes them, in listing order; the progress bar moved on."""

    def __init__(self, listed: Sequence[ListedObject], display: ProgressDisplay | None) -> None:
        self._listed = listed
        self._display = display
        self._results: dict[int, FileResult] = {}
        self.pending: dict[Future[FileResult], int] = {}
        self.stopped: ConfigError | None = None
        self._bytes = self._records = 0

    def collect(self) -> None:
        """Wait for at least one object to finish; record every finished one."""
        finished, _ = wait(self.pending, return_when=FIRST_COMPLETED)
        for future in finished:
            index = self.pending.pop(future)
            name = self._listed[index].name
            try:
                result = future.result()
            except ConfigError as exc:  # the next object would fail the same way
                self.stopped = self.stopped or exc
                result = FileResult(name, name, "failed", reason=str(exc))
            self._results[index] = result
            self._bytes += self._listed[index].size
            self._records += result.records
        if self._display is not None:
            self._display.update(self._bytes, self._records)

    def results(self) -> list[FileResult]:
        return [self._results[index] for index in sorted(self._results)]


def _send_all(
    sender: _FunctionSender | _LocalSender,
    namespace: str,
    listed: Sequence[ListedObject],
    options: BackfillOptions,
    *,
    display: ProgressDisplay | None,
) -> list[FileResult]:
    """Send every object on a bounded pool; results in listing order."""
    collector = _Collector(listed, display)
    with ThreadPoolExecutor(options.concurrency, thread_name_prefix="backfill") as pool:
        if display is not None:
            display.progress.start()
            display.begin(f"backfill {options.bucket}", sum(o.size for o in listed))
        try:
            for index, item in enumerate(listed):
                if collector.stopped is not None:
                    break
                while len(collector.pending) >= options.concurrency * _QUEUED_PER_WORKER:
                    collector.collect()
                future = pool.submit(
                    _send_one, sender, namespace, options.bucket, item, options.timeout
                )
                collector.pending[future] = index
            while collector.pending:
                collector.collect()
        finally:
            if display is not None:
                display.end()
                display.progress.stop()
    if collector.stopped is not None:
        raise collector.stopped
    return collector.results()


def _wait_for_markers(
    reader: StreamReader, starts: dict[int, int], results: list[FileResult], timeout: float
) -> None:
    """Follow the stream until every object handed on has its terminal marker, or `timeout`."""
    awaited = {
        (result.name, str(result.detail.get("eTag"))): result
        for result in results
        if result.status not in {"failed", "skipped", "error"}
    }
    reader.assign(starts, from_beginning=False)
    end = time.monotonic() + timeout
    while awaited and time.monotonic() < end:
        for message in reader.messages(idle_timeout=max(0.1, min(1.0, end - time.monotonic()))):
            if message.type in {TYPE_PUBLISHED, TYPE_REJECTED}:
                key = (message.header("ce_subject") or "", message.header("ce_etag") or "")
                result = awaited.pop(key, None)
                if result is not None:
                    _settle(result, message.type, message.value)
            if not awaited or time.monotonic() >= end:
                break
    for result in awaited.values():
        result.status = "no marker"
        result.reason = f"no published or rejected marker within {timeout:g} s"


def _settle(result: FileResult, marker_type: str, value: bytes) -> None:
    try:
        summary = orjson.loads(value)
    except orjson.JSONDecodeError:
        summary = {}
    if not isinstance(summary, dict):
        summary = {}
    result.status = "published" if marker_type == TYPE_PUBLISHED else "rejected"
    result.records = int(summary.get("records", result.records))
    result.invalid = int(summary.get("invalid", result.invalid))
    result.bytes = int(summary.get("bytes", result.bytes))
    if result.status == "rejected":
        result.reason = str(summary.get("reason", "rejected"))
    result.detail = {**result.detail, **summary}
