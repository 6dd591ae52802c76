"""The function served by the real fdk over a unix socket, and a client that calls it as Fn does.

OCI Functions (Fn) starts the container with `FN_LISTENER=unix:/tmp/iofs/lsnr.sock` and
`FN_FORMAT=http-stream`, runs the image's command (`fdk /function/func.py handler`), waits for
the socket to appear, then POSTs every invocation to `/call` with the headers `Fn-Call-Id` and
`Fn-Deadline` (RFC 3339) and the event as the body. `FdkServer` runs that same command in a
subprocess and `call()` makes that same request, so `objstream serve`/`objstream call`, the demo
and the end-to-end tests all exercise the production path, fdk's HTTP layer included.

fdk binds `phony<name>` beside the socket path and then symlinks the path to it, so the path
appearing means the server accepts connections.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

import function
from function.errors import FnServerError
from objstream.local_objects import LOCAL_OBJECTS_DIR

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

# The handler module fdk loads: the function's func.py, wherever the package is installed; on a
# workstation with LOCAL_OBJECTS_DIR, the kit's entry that reads objects from that folder.
FUNC_PY = Path(function.__file__).resolve().parent / "func.py"
LOCAL_FUNC_PY = Path(__file__).resolve().parent / "local_func.py"
# The folder `function` lives in; fdk's child must be able to import the package from there.
PACKAGE_ROOT = FUNC_PY.parent.parent
# fdk's own default when no deadline is sent; OCI Functions' default timeout is the same.
DEFAULT_DEADLINE_SECONDS = 30.0
# Linux limits a unix socket path to 107 bytes (sun_path is 108 with the NUL).
MAX_SOCKET_PATH_BYTES = 107


@dataclass(frozen=True, slots=True)
class Reply:
    """What the function answered to one call."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket: what Fn's agent speaks to fdk."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def default_socket_path() -> Path:
    """A per-user socket path that `serve` and `call` agree on without being told."""
    return Path("/tmp") / f"objstream-{os.getuid()}" / "lsnr.sock"  # noqa: S108 - a private per-user folder, created 0700


def fn_environment(socket_path: Path, *, app_name: str = "objstream-local") -> dict[str, str]:
    """The variables Fn sets for a function container that fdk reads."""
    return {
        "FN_LISTENER": f"unix:{socket_path}",
        "FN_FORMAT": "http-stream",
        "FN_APP_NAME": app_name,
        "FN_FN_NAME": "objstream",
    }


def call(
    socket_path: Path,
    body: bytes,
    *,
    deadline_in: float = DEFAULT_DEADLINE_SECONDS,
    timeout: float | None = None,
    call_id: str | None = None,
) -> Reply:
    """POST one invocation to `/call`, with an `Fn-Deadline` `deadline_in` seconds from now.

    `timeout` bounds the whole exchange on our side (default: the deadline plus 30 s, the
    grace Fn itself gives before it gives up on a container).
    """
    if not socket_path.exists():
        raise FnServerError(
            f"nothing listens on {socket_path}: start the function with `objstream serve"
            f" --socket {socket_path}` first"
        )
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=deadline_in)
    headers = {
        "Fn-Call-Id": call_id or uuid.uuid4().hex,
        "Fn-Deadline": when.isoformat(),
        "Content-Type": "application/json",
    }
    limit = timeout or deadline_in + 30
    connection = _UnixConnection(str(socket_path), limit)
    started = time.monotonic()
    try:
        connection.request("POST", "/call", body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        raise FnServerError(
            f"nothing answers on {socket_path} ({exc.strerror}): is `objstream serve` running?"
        ) from exc
    except TimeoutError as exc:
        raise FnServerError(
            f"the function on {socket_path} did not answer within {limit:.0f} s"
        ) from exc
    finally:
        connection.close()
    return Reply(
        response.status,
        data,
        {k.lower(): v for k, v in response.getheaders()},
        time.monotonic() - started,
    )


def func_py_for(env: Mapping[str, str]) -> Path:
    """The handler module to serve for the environment `env` (see FUNC_PY)."""
    return LOCAL_FUNC_PY if env.get(LOCAL_OBJECTS_DIR, "").strip() else FUNC_PY


class FdkServer:
    """`fdk <func.py> handler` in a subprocess, listening on `socket_path`, as Fn runs it.

    `env` is the function's whole environment (its configuration); the FN_* variables are
    added here. Output goes to `log_path` when given, else to this process's stdout/stderr.
    Use it as a context manager: the server is stopped, and its socket removed, on exit.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        socket_path: Path,
        *,
        func_py: Path | None = None,
        log_path: Path | None = None,
        python: str = sys.executable,
        pythonpath: str | None = None,
        app_name: str = "objstream-local",
        start_timeout: float = 60.0,
    ) -> None:
        self.socket_path = socket_path.absolute()
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise FnServerError(
                f"the socket path {self.socket_path} is longer than the {MAX_SOCKET_PATH_BYTES}"
                " bytes a unix socket allows; choose a shorter --socket"
            )
        self.log_path = log_path
        self._func_py = func_py or func_py_for(env)
        self._python = python
        self._start_timeout = start_timeout
        self._env = {**env, **fn_environment(self.socket_path, app_name=app_name)}
        # The package must be importable by fdk's child whether or not it is installed.
        paths = [pythonpath or str(PACKAGE_ROOT), self._env.get("PYTHONPATH", "")]
        self._env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def phony_path(self) -> Path:
        """The socket fdk really binds (the socket path is a symlink to it)."""
        return self.socket_path.with_name("phony" + self.socket_path.name)

    def start(self) -> None:
        """Start fdk and return once it accepts connections."""
        folder = self.socket_path.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A socket left behind by a server that was killed would look like a ready server.
        for stale in (self.socket_path, self.phony_path):
            stale.unlink(missing_ok=True)
        output: IO[bytes] | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and func.py
                [
                    self._python,
                    "-c",
                    "from fdk.scripts.fdk import main; main()",
                    str(self._func_py),
                    "handler",
                ],
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT if output is not None else None,
                # Its own session: a Ctrl-C meant for the caller stops it through stop(),
                # cleanly, instead of reaching it directly mid-request.
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()
        deadline = time.monotonic() + self._start_timeout
        while not self.socket_path.exists():
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise FnServerError(f"fdk exited with code {code} before listening{self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise FnServerError(
                    f"fdk did not listen on {self.socket_path} within "
                    f"{self._start_timeout:.0f} s{self._tail()}"
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop fdk (SIGTERM, then SIGKILL) and remove its socket; return its exit code."""
        code = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
            try:
                code = self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait(timeout)
            self._process = None
        for path in (self.socket_path, self.phony_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return code

    def wait(self) -> int:
        """Block until fdk exits by itself; return its exit code."""
        if self._process is None:
            raise FnServerError("fdk is not running")
        return self._process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The fdk process id."""
        if self._process is None:
            raise FnServerError("fdk is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the fdk process is alive."""
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """Everything fdk and the function wrote so far (when writing to a log file)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", errors="replace")

    def call(
        self, body: bytes, *, deadline_in: float = 60.0, timeout: float | None = None
    ) -> Reply:
        """POST one invocation to this server; see `call()`."""
        return call(self.socket_path, body, deadline_in=deadline_in, timeout=timeout)

    def _tail(self, lines: int = 20) -> str:
        text = self.log().strip()
        if not text:
            return ""
        return ":\n" + "\n".join(text.splitlines()[-lines:])
