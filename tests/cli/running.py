"""Running `objstream` the way a user does: a subprocess, `python -m objstream.cli …`.

The environment is the test's alone: no STREAM_*, KAFKA_*, OCI_* or LOCAL_OBJECTS_DIR from the
developer's shell, and an OCI config path that does not exist (so `check` skips Object
Storage instead of calling a real tenancy).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from objstream.testing.brokers import Broker

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@dataclass(frozen=True)
class Ran:
    """A finished `objstream` run."""

    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """stdout and stderr together, for "never printed" checks."""
        return self.stdout + self.stderr


def clean_environment(tmp: Path) -> dict[str, str]:
    """os.environ without objstream's settings, importing this checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STREAM_", "KAFKA_", "OCI_", "LOCAL_OBJECTS_DIR", "FORCE_COLOR"))
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OCI_CONFIG_FILE"] = str(tmp / "no-oci-config")
    return env


def run_objstream(
    *args: str,
    env: Mapping[str, str],
    cwd: Path = ROOT,
    timeout: float = 60.0,
    stdin: str | None = None,
) -> Ran:
    """`python -m objstream.cli ARGS` to completion."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "objstream.cli", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def stream_settings(broker: Broker, topic: str) -> dict[str, str]:
    """STREAM_* for the broker's OCI-like SASL_SSL/PLAIN listener."""
    listener = broker.sasl_ssl
    return {
        "STREAM_BOOTSTRAP_SERVERS": listener.bootstrap_servers,
        "STREAM_TOPIC": topic,
        "STREAM_SECURITY_PROTOCOL": "SASL_SSL",
        "STREAM_SASL_MECHANISM": "PLAIN",
        "STREAM_USERNAME": listener.username or "",
        "STREAM_AUTH_TOKEN": listener.password or "",
        "STREAM_SSL_CA_LOCATION": listener.ca_location or "",
    }
