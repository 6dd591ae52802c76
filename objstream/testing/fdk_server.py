"""The function served by the real fdk over its unix socket, as Fn and OCI Functions do.

The server and the client live in the package (function/fn_server.py), where `objstream serve`
and `objstream call` use them too. This adapter gives the tests their layout: socket and log
in one work folder, and an environment that is the test's alone (no STREAM_* or KAFKA_* from
the developer's shell leaks into the function).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from objstream.fn_server import FdkServer as _FdkServer
from objstream.fn_server import Reply

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["FdkServer", "Reply"]


class FdkServer(_FdkServer):
    """`fdk func.py handler` in a subprocess, listening on `<workdir>/lsnr.sock`."""

    def __init__(
        self,
        func_py: Path,
        env: Mapping[str, str],
        workdir: Path,
        *,
        python: str = sys.executable,
        pythonpath: str | None = None,
    ) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("STREAM_", "KAFKA_"))}
        super().__init__(
            {**inherited, **env},
            workdir / "lsnr.sock",
            func_py=func_py,
            log_path=workdir / "fdk.log",
            python=python,
            pythonpath=pythonpath,
            app_name="objstream-tests",
        )
