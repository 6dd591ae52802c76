"""The C peer: Debian's `kcat` (librdkafka's own command-line producer) publishing the same values.

`kcat -P -l FILE` reads FILE, produces one message per line, flushes and exits once every
message was acknowledged. The bench gives it exactly what the ceiling publishes for a dataset
(one value per line: bench.datasets.kcat_values), to the same broker and listener, with:

- the same key (`-k`, the object's key);
- the same number of headers: the nine CloudEvents headers of record 0, static (`-H name=value`
  nine times; kcat cannot vary them per message, so `ce_id` and `ce_recordindex` keep record
  0's value: a few bytes shorter per record than objstream's, nothing else differs);
- objstream's producer properties (kafka_client.config.producer_config: acks=all, no
  idempotence, max.in.flight=1, linger.ms, batch.size, queue bounds …), each as `-X`, except
  `delivery.report.only.error` (see _NOT_FOR_KCAT).

Timed: the process's wall clock, less its start-up (`startup_seconds`: the best of two runs
publishing one message, which is start, TLS + SASL connection, one acknowledged produce and
exit): the ceiling and objstream are measured on a warm connection too.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from objstream.testing.jvm_kafka import Listener

MISSING = (
    "kcat is missing: the bench measures objstream against it. Install Debian's kcat package "
    "(apt-get install kcat; .ci/run installs it)."
)


# `delivery.report.only.error` is objstream's (its Python callback then runs only for
# failures); kcat waits on delivery reports when its queue is full (a poll of up to 1 s that
# only a report ends), so it keeps its own default: a report per message.
_NOT_FOR_KCAT = frozenset({"bootstrap.servers", "delivery.report.only.error"})


def executable() -> str:
    """The kcat on PATH, or a RuntimeError that says how to install it."""
    found = shutil.which("kcat")
    if found is None:
        raise RuntimeError(MISSING)
    return found


def version() -> str:
    """kcat's and its librdkafka's versions, as `kcat -V` prints them."""
    out = subprocess.run([executable(), "-V"], capture_output=True, text=True, check=False)
    words = (out.stdout + out.stderr).split()
    versions = [w for w in words if w[:1].isdigit() and "." in w]
    return " / ".join(versions[:2]) or "unknown"


def command(
    listener: Listener,
    topic: str,
    path: Path,
    *,
    key: bytes,
    headers: Sequence[tuple[str, bytes]],
    config: Mapping[str, Any],
) -> list[str]:
    """The kcat command line that produces every line of `path` to `topic`."""
    argv = [executable(), "-P", "-q", "-b", listener.bootstrap_servers, "-t", topic]
    argv += ["-p", "0", "-k", key.decode(), "-l", str(path)]
    for name, value in headers:
        argv += ["-H", f"{name}={value.decode()}"]
    for name, value in config.items():
        if name in _NOT_FOR_KCAT or callable(value):
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        argv += ["-X", f"{name}={text}"]
    return argv


def run(argv: list[str]) -> float:
    """Run kcat once; its wall-clock seconds (RuntimeError if it failed)."""
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    seconds = time.perf_counter() - started
    if out.returncode != 0 or "fail" in out.stderr.lower():
        raise RuntimeError(f"kcat failed ({out.returncode}): {out.stderr[-2000:]}")
    return seconds


def startup_seconds(argv_for: Any, topic: str) -> float:
    """Best of two runs of one message: kcat's start, connection and exit."""
    with tempfile.TemporaryDirectory(prefix="objstream-bench-kcat-") as tmp:
        one = Path(tmp) / "one.jsonl"
        one.write_bytes(b"{}\n")
        return min(run(argv_for(topic, one)) for _ in range(2))
