"""Cold start: module import times in fresh interpreters.

Each import is timed inside a new `python` process (interpreter start-up excluded: the clock
starts right before the import statement), `runs` times after one discarded run that warms
the OS file cache, and the median is reported. `-X importtime` shows where the handler
module's import time goes, by top-level package.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What fdk imports first (`func.py`'s module, through fdk's loader) and the heavy libraries.
MODULES = ("function.func", "fdk", "oci", "confluent_kafka")

_TIMER = (
    "import time, sys\n"
    "started = time.perf_counter()\n"
    "import {module}\n"
    "sys.stdout.write(repr(time.perf_counter() - started))\n"
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "0"}


def import_seconds(module: str, runs: int) -> list[float]:
    """Seconds to import `module` in `runs` fresh interpreters (after one discarded run)."""
    samples = []
    for attempt in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", _TIMER.format(module=module)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(),
        ).stdout
        if attempt:
            samples.append(float(out))
    return samples


def import_profile(module: str, top: int = 10) -> list[tuple[str, float]]:
    """Import time of `module` by top-level package (`-X importtime` self times), largest first.

    Self times are summed per top-level package name, so `asyncio` imported by fdk counts as
    asyncio: the list says which packages the handler's import pays for.
    """
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
    ).stderr
    totals: dict[str, float] = {}
    started = False
    for line in err.splitlines():
        # Each line: self µs | cumulative µs | the module's name, indented by nesting depth.
        if not line.startswith("import time:") or "imported package" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".", 1)[0]
        started = started or package == module.split(".", 1)[0]
        if started:  # interpreter start-up (site, encodings) comes first and is not the module's
            totals[package] = totals.get(package, 0.0) + int(own) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def measure(runs: int) -> dict[str, object]:
    """Median import seconds per module, the samples, and the handler's import profile."""
    result: dict[str, object] = {}
    for module in MODULES:
        samples = import_seconds(module, runs)
        result[module] = {
            "median_seconds": statistics.median(samples),
            "min_seconds": min(samples),
            "samples": [round(s, 4) for s in samples],
        }
    result["function.func_profile"] = [
        {"package": name, "seconds": round(seconds, 4)}
        for name, seconds in import_profile("function.func")
    ]
    return result
