"""The results: machine details, the table printed on stdout, the JSON kept in bench/results/."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import confluent_kafka
import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MB = 1_000_000
MIB = 1024 * 1024

# Ratio project/ceiling per input (issue 15 raised issue 6's; issue 14 set Parquet's and Avro's),
# memory and import time.
RATIO_TARGETS: dict[str, float | None] = {
    "jsonl": 0.9,
    "csv": 0.8,
    "gzip": 0.9,
    "array": 0.8,
    "parquet": 0.6,
    "avro": 0.6,
}
PEAK_RSS_TARGET_BYTES = 150 * MB
IMPORT_TARGET_SECONDS = 0.300


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text("utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text("ascii").splitlines()[0]  # MemTotal: N kB
        memory = int(first.split()[1]) * 1024
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": memory,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "confluent_kafka": confluent_kafka.version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "orjson": orjson.__version__,
        "java": _java_version(),
        "kafka": _kafka_version(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "load_average": os.getloadavg(),
    }


def _java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "unknown"
    return out.stderr.splitlines()[0] if out.stderr else "unknown"


def _kafka_version() -> str:
    """The broker's version, from the jar objstream/testing/jvm_kafka.py runs."""
    jars = sorted((ROOT / "broker" / "cache" / "lib").glob("kafka_2.13-*.jar"))
    return jars[-1].stem.removeprefix("kafka_2.13-") if jars else "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=False, cwd=ROOT)
    except OSError:
        return ""
    return out.stdout.strip()


def table(results: dict[str, Any]) -> str:
    """The results as Markdown tables (the ones docs/performance.md shows)."""
    machine_info = results["machine"]
    heading = (
        f"listener {results['listener']}, {results['mode']} run, {results['repeat']} runs per "
        f"side, {machine_info['cores']} cores ({machine_info['cpu_model']}), "
        f"load average {results['load_before'][0]:.1f} at the start"
    )
    lines = [
        heading,
        "",
        (
            "| input | records | value MB | ceiling rec/s | kcat rec/s | project rec/s "
            "| project MB/s | ÷ ceiling (min-max) | ÷ kcat (min-max) | kcat ÷ ceiling | target "
            "| peak RSS | stream B/rec | first record | CPU µs/rec c / p |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    inputs = results["inputs"]
    ordered = sorted(inputs, key=lambda name: [*RATIO_TARGETS, name].index(name))
    lines += [_input_row(name, inputs[name]) for name in ordered]
    large = inputs.get("array", {}).get("large")
    if large:
        lines += ["", _large_array_line(large, full=results["mode"] == "full")]
    cold = results.get("cold_start")
    if cold:
        lines += ["", "| cold start | median |", "|---|---:|"]
        lines += [
            f"| {label} | {_ms(cold['imports'][module]['median_seconds'])} |"
            for module, label in _IMPORT_LABELS.items()
            if module in cold["imports"]
        ]
        process = cold["process"]
        lines += [f"| {label} | {_ms(process[key])} |" for key, label in _PROCESS_LABELS.items()]
    quota = results.get("quota")
    if quota:
        lines += ["", *quota_table(quota)]
    return "\n".join(lines)


def quota_table(quota: dict[str, Any]) -> list[str]:
    """The quota step's figures as a Markdown table."""
    if "skipped" in quota:
        return [f"quota step skipped: {quota['skipped']}"]
    bare, chain = quota["bare"], quota["chain"]
    handoffs = ", ".join(f"{h:.2f}" for h in chain["handoff_seconds"]) or "none"
    rows = [
        ("quota (nominal)", f"{quota['quota_bytes_per_second'] / MB:.2f} MB/s"),
        (
            "bare producer, stored (past the burst)",
            (
                f"{bare['bytes_per_second'] / MB:.2f} MB/s "
                f"({bare['steady_bytes_per_second'] / MB:.2f})"
            ),
        ),
        (
            (
                f"objstream chain ({quota['records']:,} records, "
                f"{quota['fn_deadline_seconds']:.0f} s deadlines, {chain['segments']} segments), "
                "stored"
            ),
            f"{chain['bytes_per_second'] / MB:.2f} MB/s in {chain['seconds']:.1f} s",
        ),
        ("fraction of the quota kept busy (goal ≥ 0.9)", f"{quota['busy_fraction']:.2f}"),
        ("hand-offs, last record → next first record (goal ≤ 1 s)", f"{handoffs} s"),
        (
            "stream bytes per record: key + value + headers + framing",
            (
                f"{chain['stream_bytes_per_record']:.0f} = {chain['key_bytes']:.0f} + "
                f"{chain['value_bytes']:.0f} + {chain['header_bytes']:.0f} + "
                f"{chain['framing_bytes_per_message']:.0f}"
            ),
        ),
    ]
    packing = quota["packing"]
    if "skipped" in packing:
        rows.append(("packing (MESSAGE_PACKING=jsonl)", f"skipped: {packing['skipped']}"))
    else:
        rows += [
            (
                "packing: records/s packed ÷ per record, past the burst (goal ≥ 3)",
                f"{packing['speedup']:.2f}",
            ),
            (
                "packing: stream bytes per record ÷ value bytes (goal ≤ 1.15)",
                f"{packing['stream_over_value_bytes']:.2f}",
            ),
        ]
    verdict = "met" if quota["met"] else "MISSED"
    return [
        f"| under the quota ({verdict}) | |",
        "|---|---:|",
        *(f"| {label} | {value} |" for label, value in rows),
    ]


_IMPORT_LABELS = {
    "function.func": "import function.func (the handler module, fdk included)",
    "fdk": "import fdk (bare)",
    "oci": "import oci (bare)",
    "confluent_kafka": "import confluent_kafka (bare)",
}
_PROCESS_LABELS = {
    "start_to_listen_seconds": "fdk process start → listening on its socket",
    "first_invocation_seconds": "first invocation (5-record object, SDK import, sign-in, connect)",
    "second_invocation_seconds": "second invocation (same object)",
}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _input_row(name: str, row: dict[str, Any]) -> str:
    ceiling, project, target = row["ceiling"], row["project"], row["target"]
    verdict = "—" if target is None else f"≥ {target:.1f} {'met' if row['met'] else 'MISSED'}"
    per_record = row.get("stream_bytes_per_record")
    cells = [
        name,
        f"{row['records']:,}",
        f"{row['value_bytes'] / MB:,.0f}",
        f"{ceiling['records_per_second']:,.0f}",
        f"{row['kcat']['records_per_second']:,.0f}",
        f"{project['records_per_second']:,.0f}",
        f"{project['mb_per_second']:,.1f}",
        _spread(row["ratio"], row["ratio_per_pair"]),
        _spread(row["ratio_to_kcat"], row["ratio_to_kcat_per_pair"]),
        f"{row['kcat_over_ceiling']:.2f}",
        verdict,
        f"{project['peak_rss_bytes'] / MB:,.0f} MB",
        "—" if per_record is None else f"{per_record:,.0f}",
        _ms(project["first_record_seconds"]),
        f"{ceiling['cpu_us_per_record']:.1f} / {project['cpu_us_per_record']:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


def _large_array_line(large: dict[str, Any], *, full: bool) -> str:
    """The one run of the large array: the peak RSS target's object (a full run's 1 GiB)."""
    project = large["project"]
    peak = project["peak_rss_bytes"]
    verdict = ""
    if full:
        met = "met" if peak <= PEAK_RSS_TARGET_BYTES else "MISSED"
        verdict = f" (target ≤ {PEAK_RSS_TARGET_BYTES / MB:.0f} MB {met})"
    return (
        f"Large array, one run: {large['object_bytes'] / MB:,.0f} MB, {large['records']:,} "
        f"records: peak RSS {peak / MB:,.0f} MB{verdict}; {project['records_per_second']:,.0f} "
        f"rec/s, CPU {project['cpu_us_per_record']:.1f} µs/rec"
    )


def _spread(median: float, pairs: list[float]) -> str:
    return f"{median:.2f} ({min(pairs):.2f}-{max(pairs):.2f})"


def write(results: dict[str, Any], path: Path | None) -> Path:
    """Save the results as JSON; returns the path (bench/results/latest[-quick].json)."""
    if path is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / ("latest-quick.json" if results["mode"] == "quick" else "latest.json")
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path
