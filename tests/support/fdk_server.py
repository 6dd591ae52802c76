"""The function served by the real fdk over its unix socket, as Fn and OCI Functions do.

Fn starts the container with `FN_LISTENER=unix:/tmp/iofs/lsnr.sock` and `FN_FORMAT=http-stream`,
waits for the socket, then POSTs each invocation to `/call` with `Fn-Call-Id`, `Fn-Deadline`
and the body. `FdkServer` does the same with a subprocess running `fdk <func.py> handler`.
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
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from types import TracebackType


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


@dataclass
class Reply:
    """What the function answered."""

    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float


class FdkServer:
    """`fdk func.py handler` in a subprocess, listening on a unix socket in `workdir`."""

    def __init__(
        self,
        func_py: Path,
        env: Mapping[str, str],
        workdir: Path,
        *,
        python: str = sys.executable,
        pythonpath: str | None = None,
    ) -> None:
        self.socket_path = workdir / "lsnr.sock"
        self.log_path = workdir / "fdk.log"
        self._workdir = workdir
        self._func_py = func_py
        self._python = python
        self._env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "KAFKA_"))},
            **env,
            "FN_LISTENER": f"unix:{self.socket_path}",
            "FN_FORMAT": "http-stream",
            "FN_APP_NAME": "objstream-tests",
            "FN_FN_NAME": "objstream",
        }
        if pythonpath is not None:
            self._env["PYTHONPATH"] = pythonpath
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self._workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self._python,
                    "-c",
                    "from fdk.scripts.fdk import main; main()",
                    str(self._func_py),
                    "handler",
                ],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while not self.socket_path.exists():
            if self._process.poll() is not None:
                raise RuntimeError(f"fdk exited with {self._process.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"fdk did not listen within 60 s: {self.log()}")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    @property
    def pid(self) -> int:
        """The fdk process id."""
        assert self._process is not None
        return self._process.pid

    def log(self) -> str:
        """Everything the function wrote to stdout and stderr so far."""
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""

    def call(
        self, body: bytes, *, deadline_in: float = 60.0, timeout: float | None = None
    ) -> Reply:
        """POST one invocation to /call with an Fn-Deadline `deadline_in` seconds away."""
        when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=deadline_in)
        headers = {
            "Fn-Call-Id": uuid.uuid4().hex,
            "Fn-Deadline": when.isoformat(),
            "Content-Type": "application/json",
        }
        connection = _UnixConnection(str(self.socket_path), timeout or deadline_in + 30)
        started = time.monotonic()
        try:
            connection.request("POST", "/call", body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return Reply(
                response.status,
                data,
                {k.lower(): v for k, v in response.getheaders()},
                time.monotonic() - started,
            )
        finally:
            connection.close()
