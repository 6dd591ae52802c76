"""`objstream publish FILE...`: local files published as if they had been uploaded.

Each file stands for an object `<namespace>/<bucket>/<name>` (default `local/uploads/<the
file's path relative to the current folder>`). The function's own code does the rest: an OCI
createobject event carrying the file's eTag goes through `Runtime.invoke` — the same
`pipeline.process`, decoder, messages and publisher as in OCI Functions — with a
`LocalObjectReader` that finds the object's bytes in the file itself (no copy, so a 10 GB
file costs no disk). What reaches the stream is what an upload would have produced.

On a terminal a progress bar shows bytes read and records per second; a table sums up.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from function.adapters.auth import OciSigning, token_source
from function.core.deadline import Deadline
from function.errors import CliError, ConfigError, ObjectSkipped, TransientError
from function.pipeline import OutcomeStatus
from function.runtime import Runtime
from kafka_client.publisher import StreamPublisher
from objstream.local_chain import InProcessInvoker, run_chain
from objstream.local_objects import LocalObjectReader, local_etag
from objstream.oci_events import object_event_body

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from rich.console import Console

    from function.core.events import ObjectEvent
    from function.pipeline import Outcome
    from function.ports import ObjectBody
    from function.settings import Settings

# How many records between two progress updates: a clock read and a redraw per record would
# cost more than publishing it.
_PROGRESS_EVERY = 512
# A CLI run gives up on an unreachable broker sooner than a function invocation does.
_UNREACHABLE_GRACE = 10.0


@dataclass(frozen=True, slots=True)
class PublishOptions:
    """Where the files go in the object namespace, and how long each may take."""

    namespace: str = "local"
    bucket: str = "uploads"
    prefix: str = ""
    name: str | None = None  # the exact object name (one file only)
    timeout: float = 900.0  # seconds per file: the invocation's deadline


@dataclass(frozen=True, slots=True)
class LocalObject:
    """One file and the object name it is published as."""

    path: Path
    name: str


@dataclass(slots=True)
class FileResult:
    """How one file went: a row of the summary table."""

    file: str
    name: str
    status: str  # published, rejected, skipped, error, failed, not attempted
    records: int = 0
    invalid: int = 0
    bytes: int = 0
    seconds: float = 0.0
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    segments: int = 1  # invocations the file took (CONTRACT §4)

    @property
    def ok(self) -> bool:
        """Only a published file counts as done."""
        return self.status == "published"

    def to_json(self) -> dict[str, Any]:
        """The `--json` form: the outcome's fields plus the file."""
        return {
            **self.detail,
            "file": self.file,
            "object": self.name,
            "status": self.status,
            "records": self.records,
            "invalid": self.invalid,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "segments": self.segments,
            **({"reason": self.reason} if self.reason else {}),
        }


def local_objects(paths: Sequence[str], options: PublishOptions) -> list[LocalObject]:
    """The files to publish (folders expanded, sorted) and their object names.

    Raises CliError naming the first path that is not a readable file or folder.
    """
    cwd = Path.cwd().resolve()
    found: list[LocalObject] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            found.extend(
                LocalObject(f, options.prefix + _relative_name(f, cwd, path)) for f in files
            )
        elif path.is_file():
            if not os.access(path, os.R_OK):
                raise CliError(f"cannot read {given}: permission denied")
            found.append(LocalObject(path, options.prefix + _relative_name(path, cwd, None)))
        elif path.exists():
            raise CliError(f"{given} is neither a file nor a folder")
        else:
            raise CliError(f"no such file: {given}")
    if options.name is not None:
        if len(found) != 1:
            raise CliError(f"--name names one object, but {len(found)} files were given")
        found = [LocalObject(found[0].path, options.name)]
    if not found:
        raise CliError("no files to publish")
    return found


def _relative_name(path: Path, cwd: Path, folder: Path | None) -> str:
    """The path relative to the current folder; outside it, relative to the given folder."""
    resolved = path.resolve()
    if resolved.is_relative_to(cwd):
        return resolved.relative_to(cwd).as_posix()
    if folder is not None:
        base = folder.resolve().parent
        return resolved.relative_to(base).as_posix()
    return resolved.name


class _FileObjects(LocalObjectReader):
    """A LocalObjectReader whose objects are the given files, wherever they are.

    Only `path_of` differs: opening, the eTag check and the content type guess are the
    LocalObjectReader's own.
    """

    def __init__(self, files: Mapping[tuple[str, str, str], Path]) -> None:
        super().__init__(Path.cwd())
        self._files = dict(files)
        self.current: ObjectBody | None = None

    def path_of(self, namespace: str, bucket: str, name: str) -> Path:
        try:
            return self._files[(namespace, bucket, name)].resolve()
        except KeyError:
            raise ObjectSkipped(f"{namespace}/{bucket}/{name} is not one of the files") from None

    def open(self, event: ObjectEvent, deadline: Deadline, *, start: int = 0) -> ObjectBody:
        self.current = super().open(event, deadline, start=start)
        return self.current

    def position(self) -> int:
        """Bytes of the current file read so far (0 when none is open)."""
        body = self.current
        if body is None or body.closed:
            return 0
        try:
            return int(body.raw.tell())
        except (OSError, ValueError):
            return 0


class _CountingPublisher(StreamPublisher):
    """The function's publisher, telling `on_progress` how many messages it has sent."""

    on_progress: Callable[[int], None] | None = None

    def send(self, topic: str, value: bytes | None, key: bytes | None, headers: Any) -> None:
        super().send(topic, value, key, headers)
        if self.on_progress is not None and self.sent % _PROGRESS_EVERY == 0:
            self.on_progress(self.sent)


class ProgressDisplay:
    """The progress bar (terminal only): bytes, messages, their rate (publish and backfill)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[records]:>10,} messages"),
            TextColumn("{task.fields[rate]:>9,.0f}/s"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task: TaskID | None = None
        self.started = 0.0

    def begin(self, name: str, size: int) -> None:
        self.started = time.monotonic()
        self.task = self.progress.add_task(name, total=size, records=0, rate=0.0)

    def update(self, position: int, messages: int) -> None:
        if self.task is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(
            self.task, completed=position, records=messages, rate=messages / elapsed
        )

    def segment(self, outcome: Outcome) -> None:
        """Say when a segment hands the rest of the file on (CONTRACT §4)."""
        if outcome.status is OutcomeStatus.CONTINUED:
            detail = outcome.detail
            self.progress.console.print(
                f"  segment {detail.get('segment')} handed on at record {detail.get('nextIndex')}",
                markup=False,
            )

    def end(self) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None


def publish_files(
    settings: Settings,
    files: Sequence[LocalObject],
    options: PublishOptions,
    console: Console,
    *,
    show_progress: bool,
) -> tuple[list[FileResult], Exception | None]:
    """Publish each file through the function's runtime; stop at the first broker failure.

    Returns a result per file (the ones after a stop are "not attempted") and the error
    that stopped the run, if any.
    """
    reader = _FileObjects(
        {(options.namespace, options.bucket, item.name): item.path for item in files}
    )
    display = ProgressDisplay(console) if show_progress else None
    publishers: list[_CountingPublisher] = []

    def make_publisher(config: Mapping[str, str | bool]) -> StreamPublisher:
        publisher = _CountingPublisher(config, unreachable_grace=_UNREACHABLE_GRACE)
        if display is not None:
            publisher.on_progress = lambda sent: display.update(reader.position(), sent)
        publishers.append(publisher)
        return publisher

    # A file that needs more than one invocation's time goes on in segments, here in this
    # process, exactly as the deployed function hands them to detached invocations.
    invoker = InProcessInvoker()
    runtime = Runtime(
        settings,
        reader=lambda: reader,
        tokens=lambda: token_source(settings, OciSigning(settings)),
        publisher_factory=make_publisher,
        invoker=lambda: invoker,
    )
    results: list[FileResult] = []
    stopped: Exception | None = None
    try:
        if display is not None:
            display.progress.start()
        for item in files:
            if stopped is not None:
                results.append(FileResult(str(item.path), item.name, "not attempted"))
                continue
            result, stopped = _publish_one(runtime, invoker, item, options, display)
            results.append(result)
    finally:
        if display is not None:
            display.progress.stop()
        runtime.close()
    return results, stopped


def _publish_one(
    runtime: Runtime,
    invoker: InProcessInvoker,
    item: LocalObject,
    options: PublishOptions,
    display: ProgressDisplay | None,
) -> tuple[FileResult, Exception | None]:
    started = time.monotonic()
    try:
        etag = local_etag(item.path)
        size = item.path.stat().st_size
    except OSError as exc:
        return FileResult(str(item.path), item.name, "failed", reason=exc.strerror), None
    body = object_event_body(options.namespace, options.bucket, item.name, etag)
    if display is not None:
        display.begin(item.name, size)
    try:
        outcomes = run_chain(
            runtime,
            invoker,
            body,
            lambda: Deadline.in_seconds(options.timeout),
            on_segment=display.segment if display is not None else None,
        )
    except (ConfigError, TransientError) as exc:
        # Broker, Vault or configuration trouble: the next file would fail the same way.
        failed = FileResult(
            str(item.path), item.name, "failed", seconds=time.monotonic() - started, reason=str(exc)
        )
        return failed, exc
    finally:
        if display is not None:
            display.end()
    outcome = outcomes[-1]
    detail = dict(outcome.detail)
    return (
        FileResult(
            str(item.path),
            item.name,
            outcome.status,
            records=int(detail.get("records", 0)),
            invalid=int(detail.get("invalid", 0)),
            bytes=int(detail.get("bytes", 0)),
            seconds=time.monotonic() - started,
            reason=detail.get("reason") or detail.get("error"),
            detail=detail,
            segments=len(outcomes),
        ),
        None,
    )


_STATUS_STYLES = {
    "published": "green",
    "skipped": "yellow",
    "sent": "cyan",  # backfill: handed to the deployed function
    "continued": "cyan",
    "would send": "dim",  # backfill --dry-run
}


def summary_table(results: Iterable[FileResult], *, title: str | None = None) -> Table:
    """file, status, records, invalid, bytes, seconds — and a total line for several files."""
    rows = list(results)
    table = Table(title=title, title_justify="left")
    # A segments column only when a file took more than one invocation.
    segmented = any(row.segments > 1 for row in rows)
    table.add_column("file", overflow="fold")
    table.add_column("status")
    for column in ("records", "invalid", "bytes", "seconds", *(["segments"] * segmented)):
        table.add_column(column, justify="right")
    for row in rows:
        style = _STATUS_STYLES.get(row.status, "bold red")
        table.add_row(
            row.name,
            f"[{style}]{row.status}[/]",
            f"{row.records:,}",
            f"{row.invalid:,}",
            f"{row.bytes:,}",
            f"{row.seconds:.2f}",
            *([f"{row.segments}"] * segmented),
        )
    if len(rows) > 1:
        table.add_section()
        done = sum(1 for r in rows if r.ok)
        table.add_row(
            f"{len(rows)} files",
            f"{done} published",
            f"{sum(r.records for r in rows):,}",
            f"{sum(r.invalid for r in rows):,}",
            f"{sum(r.bytes for r in rows):,}",
            f"{sum(r.seconds for r in rows):.2f}",
            *([f"{sum(r.segments for r in rows)}"] * segmented),
        )
    return table
