"""What the fault tests share: the OCI stand-in, function environments, runtimes, fdk servers,
process measurements, and the table of how long each fault took to be answered.

Every fault test measures the time from the invocation to its answer and hands it to
`record_answer`; the table is printed at the end of the run (docs/faults.md quotes it).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from function.core.deadline import Deadline
from function.errors import ObjstreamError
from function.runtime import Runtime
from function.settings import Settings
from objstream.testing.fdk_server import FdkServer
from objstream.testing.oci_standin import OciStandIn
from objstream.testing.scenario import oci_event

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from function.pipeline import Outcome
    from function.runtime import PublisherFactory

ROOT = Path(__file__).resolve().parents[2]
FUNC_PY = ROOT / "function" / "func.py"
NAMESPACE, BUCKET = "faultsns", "uploads"
# A token nobody would write by chance: tests assert it never shows up where it must not.
CANARY = "TOKEN-canary-9f3b2c7e41d8a6b0"


# -- time to answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How one fault was answered, and how long it took."""

    test: str
    seconds: float
    deadline: float | None  # the Fn deadline, seconds after the invocation started
    outcome: str
    message: str  # what the caller was told (the 502 body, the error), for docs/faults.md


_ANSWERS: list[Answer] = []


class RecordAnswer(Protocol):
    """Signature of the `record_answer` fixture."""

    def __call__(
        self,
        seconds: float,
        outcome: str,
        *,
        deadline: float | None = None,
        message: str | bytes | BaseException | None = None,
    ) -> None:
        """Note that this test's fault was answered with `outcome` after `seconds`."""


@pytest.fixture
def record_answer(request: pytest.FixtureRequest) -> RecordAnswer:
    """Keep the measured time to answer for the end-of-run table."""

    def record(
        seconds: float,
        outcome: str,
        *,
        deadline: float | None = None,
        message: str | bytes | BaseException | None = None,
    ) -> None:
        text = (
            message.decode(errors="replace") if isinstance(message, bytes) else str(message or "")
        )
        test = request.node.nodeid.split("::", 1)[-1]
        _ANSWERS.append(Answer(test, seconds, deadline, outcome, text))

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the time to answer of every fault measured in this run."""
    if not _ANSWERS:
        return
    terminalreporter.write_sep("-", "faults: time to answer")
    for answer in _ANSWERS:
        deadline = f"{answer.deadline:5.1f}" if answer.deadline is not None else "    -"
        terminalreporter.write_line(
            f"{answer.seconds:7.2f} s  deadline {deadline} s  {answer.outcome:<10} {answer.test}"
        )
        if answer.message and os.environ.get("OBJSTREAM_FAULTS_MESSAGES") == "1":
            terminalreporter.write_line(f"{'':>12}{answer.message[:600]}")


# -- the stand-in and what is stored in it -----------------------------------------------------


@pytest.fixture(scope="module")
def standin() -> Iterator[OciStandIn]:
    """Object Storage and Vault over real HTTP, checking OCI signatures, for one module."""
    with OciStandIn() as running:
        running.create_bucket(NAMESPACE, BUCKET)
        yield running


def unique(name: str) -> str:
    """An object name no other test uses."""
    return f"faults/{uuid.uuid4().hex[:8]}/{name}"


def upload(standin: OciStandIn, name: str, data: bytes, **kw: str) -> bytes:
    """Store `data` as object `name`; return the invocation body of its create event."""
    etag = standin.put_object(NAMESPACE, BUCKET, name, data, **kw)
    return oci_event(NAMESPACE, BUCKET, name, etag)


def upload_file(standin: OciStandIn, name: str, path: Path, **kw: str) -> bytes:
    """Store the file at `path` as object `name` (served from disk); return the event body."""
    etag = standin.put_object_file(NAMESPACE, BUCKET, name, path, **kw)
    return oci_event(NAMESPACE, BUCKET, name, etag)


# -- the function in this process --------------------------------------------------------------


@dataclass
class Attempt:
    """One in-process invocation: its outcome or the error the handler would raise (→ 502)."""

    outcome: Outcome | None
    error: ObjstreamError | None
    seconds: float
    fn_deadline: float  # seconds after the start

    @property
    def status(self) -> str:
        """The outcome's status, or the HTTP status fdk would answer for an error."""
        return self.outcome.status if self.outcome is not None else "502"

    @property
    def answered_in_time(self) -> bool:
        """Whether the answer came before the Fn deadline."""
        return self.seconds < self.fn_deadline


def invoke(runtime: Runtime, body: bytes, *, fn_deadline_in: float = 30.0) -> Attempt:
    """Invoke as func.handler does, with an Fn deadline `fn_deadline_in` seconds away."""
    started = time.monotonic()
    deadline = Deadline(started + fn_deadline_in - runtime.settings.deadline_margin_seconds)
    try:
        outcome = runtime.invoke(body, deadline)
    except ObjstreamError as exc:  # func.handler re-raises these: fdk answers 502
        return Attempt(None, exc, time.monotonic() - started, fn_deadline_in)
    return Attempt(outcome, None, time.monotonic() - started, fn_deadline_in)


@contextlib.contextmanager
def running_runtime(
    env: Mapping[str, str], *, publisher_factory: PublisherFactory | None = None
) -> Iterator[Runtime]:
    """A Runtime built from `env` as a container would build it; released afterwards.

    `publisher_factory` replaces how its producer is made (a test's hook into publishing).
    """
    settings = Settings.from_env(env)
    runtime = (
        Runtime.for_oci(settings)
        if publisher_factory is None
        else Runtime.for_oci(settings, publisher_factory=publisher_factory)
    )
    try:
        yield runtime
    finally:
        release(runtime)


def release(runtime: Runtime) -> None:
    """Let the runtime's producer and HTTP clients go without waiting on a broker."""
    runtime.drop_publisher()
    for part in (runtime._reader, runtime._tokens):
        close = getattr(part, "close", None)
        if close is not None:
            close()


# -- the function behind fdk -------------------------------------------------------------------


@contextlib.contextmanager
def fdk_function(env: Mapping[str, str], workdir: Path) -> Iterator[FdkServer]:
    """`fdk func.py handler` from this checkout, on a unix socket in `workdir`."""
    with FdkServer(FUNC_PY, env, workdir, pythonpath=str(ROOT)) as server:
        yield server


# -- process measurements ----------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A memory figure (VmRSS, VmHWM, …) of process `pid` from /proc, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text("ascii").splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise LookupError(f"{field} is not in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> None:
    """Start measuring VmHWM afresh (Linux: writing 5 to clear_refs resets the peak)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5", "ascii")


def open_fds(pid: int) -> int:
    """How many file descriptors process `pid` has open."""
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def threads(pid: int) -> int:
    """How many threads (librdkafka's included) process `pid` runs."""
    return sum(1 for _ in Path(f"/proc/{pid}/task").iterdir())


def settled_self() -> tuple[int, int, int]:
    """This process's RSS (KiB), open fds and threads, after a full garbage collection."""
    gc.collect()
    pid = os.getpid()
    return status_kib(pid, "VmRSS"), open_fds(pid), threads(pid)
