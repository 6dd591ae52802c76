"""`make bench`: objstream's throughput next to a bare confluent-kafka ceiling, peak memory and
cold start, against a local JVM Kafka the bench starts (and stops) itself.

    .venv/bin/python bench/run.py                    # everything (~7.5 min on 2 quiet cores)
    .venv/bin/python bench/run.py --quick            # every input a tenth of the size (~2 min)
    .venv/bin/python bench/run.py --only jsonl,cold  # some of the steps (see --help)
    .venv/bin/python bench/run.py --listener plaintext --repeat 3

Per input (bench.datasets), in the same run and on the same listener (SASL_SSL by default,
as OCI Streaming), alternating `--repeat` times:

- the ceiling (bench.ceiling): the same records, key, header shape and producer settings
  from a bare produce loop in its own process;
- the project (bench.project): an OCI event into the function served by fdk over its unix
  socket in its own process, the object over HTTP from the signature-checking Object Storage
  stand-in, decode, publish, every message acknowledged;
- kcat (bench.kcat) right after the project in the first `--kcat-repeat` rounds.

After the array's rounds, one project run of the 1 GiB array (datasets.LARGE_ARRAY) gives the
peak RSS of a 1 GiB object, the memory target; its rate is shown, not paired.

Each project run is compared with the ceiling run right before it, and the median of those
ratios is the ratio reported (a burst of load from elsewhere moves one pair, not the median);
the rates shown are each side's best run. Also: the function's peak RSS (VmHWM), its time to
the first record and the CPU time per record of either process (much less sensitive to a
noisy machine than the rates). Then cold start (bench.coldstart and fresh function
processes). The table goes to stdout, everything to bench/results/latest[-quick].json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("jsonl", "csv", "gzip", "array", "parquet", "avro")
STEPS = (*INPUTS, "quota", "cold")

if TYPE_CHECKING:
    from bench.datasets import Dataset
    from bench.project import FunctionUnderTest
    from bench.topics import Topics
    from objstream.testing.jvm_kafka import Listener


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="every input a tenth of the size")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help=f"run only these steps, of: {' '.join(STEPS)}",
    )
    parser.add_argument(
        "--listener",
        choices=("sasl_ssl", "plaintext"),
        default="sasl_ssl",
        help="the broker listener both sides use (default: sasl_ssl, like OCI Streaming)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs per side and input (default: 5, with --quick 3)",
    )
    parser.add_argument(
        "--auth",
        choices=("resource_principal", "config_file"),
        default="resource_principal",
        help="how the function signs its Object Storage requests",
    )
    parser.add_argument(
        "--broker-json",
        type=Path,
        help="use a broker already running (its broker.json) instead of starting one",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PROPERTY=VALUE",
        help="a librdkafka producer property for both sides (KAFKA_<PROPERTY> for the function)",
    )
    parser.add_argument(
        "--kcat-repeat",
        type=int,
        default=3,
        help="kcat runs per input, in the first rounds (default: 3, at most --repeat)",
    )
    parser.add_argument("--out", type=Path, help="where to write the JSON results")
    args = parser.parse_args(argv)
    only = {name for value in args.only for name in value.split(",") if name}
    unknown = only - set(STEPS)
    if unknown:
        parser.error(f"unknown --only {sorted(unknown)}; choose from {' '.join(STEPS)}")
    args.steps = [step for step in STEPS if not only or step in only]
    try:
        args.properties = dict(item.split("=", 1) for item in args.set)
    except ValueError:
        parser.error("--set takes PROPERTY=VALUE, e.g. --set linger.ms=50")
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.kcat_repeat < 1:
        parser.error("--kcat-repeat must be at least 1")
    args.kcat_repeat = min(args.kcat_repeat, args.repeat)
    return args


def _say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target was met, 1 otherwise."""
    args = _arguments(argv)
    from bench import datasets, kcat, report

    try:
        kcat.executable()
    except RuntimeError as exc:
        _say(f"bench/run.py: {exc}")
        return 2

    every = datasets.ensure(quick=args.quick, log=_say)
    selected = [d for d in every if d.name in args.steps]
    for dataset in selected:
        datasets.check_against_decoder(dataset)
    large = (
        next(d for d in every if d.name == datasets.LARGE_ARRAY) if "array" in args.steps else None
    )
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "listener": args.listener,
        "repeat": args.repeat,
        "kcat_repeat": args.kcat_repeat,
        "auth": args.auth,
        "producer_properties": args.properties,
        "command": " ".join([".venv/bin/python", "bench/run.py", *(argv or sys.argv[1:])]),
        "machine": report.machine(),
        "load_before": os.getloadavg(),
        "inputs": {},
    }
    started = time.monotonic()
    results["machine"]["kcat"] = kcat.version()
    broker_control = _Broker(args.broker_json)
    with broker_control as broker:
        _measure(args, broker, selected, results, broker_control.process, large=large)
    results["load_after"] = os.getloadavg()
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["targets_met"] = _targets_met(results)
    path = report.write(results, args.out)
    _say("")
    _say(report.table(results))
    _say(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    _say(f"total {results['total_seconds']:.0f} s; targets met: {results['targets_met']}")
    return 0 if results["targets_met"] else 1


class _Broker:
    """The bench's own JVM Kafka in a temporary run dir (or a given running one)."""

    def __init__(self, broker_json: Path | None) -> None:
        self._given = broker_json
        self.process: Any = None  # the KafkaBroker, when the bench started it (quotas need it)
        self._run_dir: Path | None = None

    def __enter__(self) -> Any:
        from objstream.testing.jvm_kafka import BrokerInfo, KafkaBroker

        if self._given is not None:
            return BrokerInfo.from_json(self._given.read_text("utf-8"))
        self._run_dir = Path(tempfile.mkdtemp(prefix="objstream-bench-"))
        _say(f"starting a Kafka broker in {self._run_dir} …")
        self.process = KafkaBroker(self._run_dir, heap="1g")
        return self.process.start()

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None:
            self.process.stop()
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)


def _measure(
    args: argparse.Namespace,
    broker: Any,
    selected: list[Dataset],
    results: dict[str, Any],
    broker_process: Any,
    *,
    large: Dataset | None,
) -> None:
    from bench.project import FunctionUnderTest
    from bench.topics import Topics
    from objstream.testing.oci_standin import OciStandIn

    listener: Listener = broker.sasl_ssl if args.listener == "sasl_ssl" else broker.plaintext
    topics = Topics(broker.plaintext)
    with (
        tempfile.TemporaryDirectory(prefix="objstream-bench-fn-") as workdir,
        OciStandIn() as standin,
    ):
        function = FunctionUnderTest(
            standin,
            listener,
            topics,
            Path(workdir),
            broker_pid=broker.pid,
            broker_data=Path(broker.run_dir) / "data",
            auth=args.auth,
            properties=args.properties,
        )
        for dataset in selected:
            results["inputs"][dataset.name] = _measure_input(
                args,
                dataset=dataset,
                listener=listener,
                topics=topics,
                function=function,
                broker_pid=broker.pid,
            )
        if large is not None:
            results["inputs"]["array"]["large"] = _large_array(large, topics, function)
        if "quota" in args.steps:
            from bench import quota

            results["quota"] = quota.measure(
                quick=args.quick,
                broker_process=broker_process,
                broker_data=Path(broker.run_dir) / "data",
                listener=listener,
                topics=topics,
                function=function,
                standin=standin,
                log=_say,
            )
        if "cold" in args.steps:
            results["cold_start"] = _cold_start(args, topics, function)


def _measure_input(
    args: argparse.Namespace,
    *,
    dataset: Dataset,
    listener: Listener,
    topics: Topics,
    function: FunctionUnderTest,
    broker_pid: int,
) -> dict[str, Any]:
    from bench import report

    etag = function.upload(dataset)
    event = function.event(dataset.object_name, etag)
    warmup_topic = topics.create("warmup")
    ceilings: list[dict[str, Any]] = []
    projects: list[dict[str, Any]] = []
    kcats: list[dict[str, Any]] = []
    peer = _KcatPeer(dataset, listener, topics, event, args.properties)
    load = os.getloadavg()[0]
    try:
        peer.start_up(warmup_topic)
        for attempt in range(1, args.repeat + 1):
            ceiling = _ceiling(
                dataset,
                listener,
                topics,
                event,
                warmup_topic,
                broker_pid=broker_pid,
                properties=args.properties,
            )
            ceilings.append(ceiling)
            _say(
                f"{dataset.name} #{attempt} ceiling: {ceiling['records_per_second']:,.0f} rec/s "
                f"in {ceiling['seconds']:.1f} s"
            )
            project = _project(dataset, etag, topics, function)
            projects.append(project)
            _say(
                f"{dataset.name} #{attempt} project: {project['records_per_second']:,.0f} rec/s "
                f"in {project['seconds']:.1f} s, peak RSS "
                f"{project['peak_rss_bytes'] / report.MB:.0f} MB"
            )
            if attempt > args.kcat_repeat:
                continue
            peer_run = peer.run()
            kcats.append(peer_run)
            _say(
                f"{dataset.name} #{attempt} kcat: {peer_run['records_per_second']:,.0f} rec/s "
                f"in {peer_run['seconds']:.1f} s (+{peer_run['startup_seconds']:.2f} s start-up)"
            )
    finally:
        topics.delete(warmup_topic)
    best_ceiling = max(ceilings, key=lambda run: run["records_per_second"])
    best_project = max(projects, key=lambda run: run["records_per_second"])
    # Each project run is compared with the ceiling run just before it, under the same load;
    # the median of those ratios is what one burst of load on the machine cannot move.
    pairs = [
        p["records_per_second"] / c["records_per_second"]
        for c, p in zip(ceilings, projects, strict=True)
    ]
    ratio = statistics.median(pairs)
    # The kcat run comes right after the project run it is compared with (in the first rounds).
    kcat_pairs = [
        p["records_per_second"] / k["records_per_second"]
        for p, k in zip(projects[: len(kcats)], kcats, strict=True)
    ]
    kcat_over_ceiling = [
        k["records_per_second"] / c["records_per_second"]
        for c, k in zip(ceilings[: len(kcats)], kcats, strict=True)
    ]
    best_kcat = max(kcats, key=lambda run: run["records_per_second"])
    target = report.RATIO_TARGETS.get(dataset.name)
    stream_bytes = [p["stream_bytes"] for p in projects if p["stream_bytes"]]
    return {
        "object": dataset.object_name,
        "object_bytes": dataset.object_bytes,
        "records": dataset.records,
        "value_bytes": dataset.value_bytes,
        "ceiling": best_ceiling,
        "project": {**best_project, "peak_rss_bytes": max(p["peak_rss_bytes"] for p in projects)},
        "ratio": round(ratio, 3),
        "ratio_per_pair": [round(pair, 3) for pair in pairs],
        "kcat": best_kcat,
        "ratio_to_kcat": round(statistics.median(kcat_pairs), 3),
        "ratio_to_kcat_per_pair": [round(pair, 3) for pair in kcat_pairs],
        "kcat_over_ceiling": round(statistics.median(kcat_over_ceiling), 3),
        "kcat_over_ceiling_per_pair": [round(pair, 3) for pair in kcat_over_ceiling],
        # The topic's log on disk over its messages (the event and the marker included).
        "stream_bytes_per_record": (
            round(statistics.median(stream_bytes) / (dataset.records + 2), 1)
            if stream_bytes
            else None
        ),
        "message_sizes": projects[-1].get("message_sizes"),
        "ratio_of_bests": round(
            best_project["records_per_second"] / best_ceiling["records_per_second"], 3
        ),
        "target": target,
        "met": target is None or ratio >= target,
        "load_average_before": load,
        "runs": {"ceiling": ceilings, "project": projects, "kcat": kcats},
    }


def _large_array(dataset: Dataset, topics: Topics, function: FunctionUnderTest) -> dict[str, Any]:
    """One project run of the 1 GiB array: the peak RSS of a 1 GiB object (and its rate)."""
    from bench import report

    etag = function.upload(dataset)
    run = _project(dataset, etag, topics, function)
    _say(
        f"{dataset.name}: {run['records_per_second']:,.0f} rec/s in {run['seconds']:.1f} s, "
        f"peak RSS {run['peak_rss_bytes'] / report.MB:.0f} MB"
    )
    return {
        "object": dataset.object_name,
        "object_bytes": dataset.object_bytes,
        "records": dataset.records,
        "value_bytes": dataset.value_bytes,
        "project": run,
    }


def _rates(
    records: int, value_bytes: int, seconds: float, cpu_seconds: float, broker_cpu_seconds: float
) -> dict[str, float]:
    return {
        "records_per_second": records / seconds,
        "mb_per_second": value_bytes / seconds / 1_000_000,
        "cpu_us_per_record": cpu_seconds / records * 1e6,
        "broker_cpu_us_per_record": broker_cpu_seconds / records * 1e6,
    }


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _ceiling(
    dataset: Dataset,
    listener: Listener,
    topics: Topics,
    event: bytes,
    warmup_topic: str,
    *,
    broker_pid: int,
    properties: dict[str, str],
) -> dict[str, Any]:
    from bench import datasets

    topic = topics.create(f"{dataset.name}-ceiling")
    try:
        job = {
            "dataset": datasets.to_json(dataset),
            "event": event.decode(),
            "topic": topic,
            "warmup_topic": warmup_topic,
            "connection": {
                "bootstrap_servers": listener.bootstrap_servers,
                "security_protocol": listener.security_protocol,
                "sasl_mechanism": listener.sasl_mechanism or "PLAIN",
                "username": listener.username,
                "password": listener.password,
                "ssl_ca_location": listener.ca_location,
                "properties": properties,
            },
        }
        broker_before = _cpu_seconds(broker_pid)
        out = subprocess.run(
            [sys.executable, "-m", "bench.ceiling"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'broker'}"},
        )
        # The broker is idle while the ceiling splits and prebuilds: its CPU is the loop's.
        broker_cpu = _cpu_seconds(broker_pid) - broker_before
        if out.returncode != 0:
            raise RuntimeError(f"the ceiling failed: {out.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.stdout)
        published = topics.end_offset(topic)
        if published != dataset.records:
            raise AssertionError(f"ceiling: {published} messages on {topic}, not {dataset.records}")
    finally:
        topics.delete(topic)
    return {
        **result,
        **_rates(
            result["records"],
            result["value_bytes"],
            result["seconds"],
            result["cpu_seconds"],
            broker_cpu,
        ),
    }


def _project(
    dataset: Dataset, etag: str, topics: Topics, function: FunctionUnderTest
) -> dict[str, Any]:
    topic = topics.create(f"{dataset.name}-project", arrival_time=True)
    try:
        run = function.measure(dataset, etag, topic)
        # Offset 0 is the OCI event: a sample of records from offset 1.
        sizes = topics.message_sizes(topic, start=1, count=2000)
    finally:
        topics.delete(topic)
    return {
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "peak_rss_bytes": run.peak_rss_bytes,
        "rss_after_warmup_bytes": run.rss_after_warmup_bytes,
        "first_record_seconds": run.first_record_seconds,
        "stream_bytes": run.stream_bytes,
        "start_to_listen_seconds": run.start_to_listen_seconds,
        "warmup_seconds": run.warmup_seconds,
        "summary": run.summary,
        "message_sizes": sizes,
        **_rates(
            run.records, run.value_bytes, run.seconds, run.cpu_seconds, run.broker_cpu_seconds
        ),
    }


class _KcatPeer:
    """kcat publishing a dataset's values (bench.kcat), with the ceiling's key and headers."""

    def __init__(
        self,
        dataset: Dataset,
        listener: Listener,
        topics: Topics,
        event: bytes,
        properties: dict[str, str],
    ) -> None:
        from bench import datasets
        from function.core.decoding.records import RecordFormat
        from function.core.events import parse_event
        from function.core.messages import ObjectMessages
        from kafka_client.config import ConnectionSettings, producer_config

        messages = ObjectMessages(parse_event(event))
        messages.start_records(RecordFormat(dataset.record_format))
        self._key = messages.key
        self._headers = [
            (name, value if isinstance(value, bytes) else str(value).encode())
            for name, value in messages.record_headers(0)
        ]
        connection = ConnectionSettings(
            bootstrap_servers=listener.bootstrap_servers,
            security_protocol=listener.security_protocol,
            sasl_mechanism=listener.sasl_mechanism or "PLAIN",
            username=listener.username,
            password=listener.password,
            ssl_ca_location=listener.ca_location,
            properties=properties,
        )
        self._config = producer_config(connection)
        self._listener = listener
        self._dataset = dataset
        self._path = datasets.kcat_values(dataset)
        self._topics = topics
        self._startup = 0.0

    def argv(self, topic: str, path: Path) -> list[str]:
        """kcat's command line for one file and topic."""
        from bench import kcat

        return kcat.command(
            self._listener,
            topic,
            path,
            key=self._key,
            headers=self._headers,
            config=self._config,
        )

    def start_up(self, topic: str) -> None:
        """Measure kcat's own start, connection and exit once per input."""
        from bench import kcat

        self._startup = kcat.startup_seconds(self.argv, topic)

    def run(self) -> dict[str, Any]:
        """One kcat run of the whole dataset, checked on the broker."""
        from bench import kcat

        dataset = self._dataset
        topic = self._topics.create(f"{dataset.name}-kcat")
        try:
            wall = kcat.run(self.argv(topic, self._path))
            published = self._topics.end_offset(topic)
        finally:
            self._topics.delete(topic)
        if published != dataset.records:
            raise AssertionError(f"kcat: {published} messages on {topic}, not {dataset.records}")
        seconds = max(wall - self._startup, 1e-3)
        return {
            "wall_seconds": round(wall, 3),
            "startup_seconds": round(self._startup, 3),
            "seconds": seconds,
            "records_per_second": dataset.records / seconds,
            "mb_per_second": dataset.value_bytes / seconds / 1_000_000,
        }


def _cold_start(
    args: argparse.Namespace, topics: Topics, function: FunctionUnderTest
) -> dict[str, Any]:
    from bench import coldstart

    _say("cold start: imports in fresh interpreters …")
    imports = coldstart.measure(runs=3 if args.quick else 7)
    topic = topics.create("cold")
    try:
        samples = list(function.cold_starts(topic, 1 if args.quick else 3))
    finally:
        topics.delete(topic)
    process = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    return {"imports": imports, "process": process, "process_samples": samples}


def _targets_met(results: dict[str, Any]) -> bool:
    from bench import report

    met = all(row["met"] for row in results["inputs"].values())
    quota = results.get("quota")
    if quota is not None and "skipped" not in quota:
        met = met and quota["met"]
    large = results["inputs"].get("array", {}).get("large")
    if large is not None and results["mode"] == "full":
        met = met and large["project"]["peak_rss_bytes"] <= report.PEAK_RSS_TARGET_BYTES
    cold = results.get("cold_start")
    if cold is not None:
        handler = cold["imports"]["function.func"]["median_seconds"]
        met = met and handler <= report.IMPORT_TARGET_SECONDS
    return bool(met)


if __name__ == "__main__":
    sys.exit(main())
