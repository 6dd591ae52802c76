"""The project end to end, in its own process, as OCI Functions runs it.

`FunctionUnderTest` serves `function/func.py` with the real fdk over its unix socket
(objstream.testing.fdk_server.FdkServer: a separate Python process, whose peak RSS is therefore
the function's own). The object comes over HTTP from the Object Storage stand-in
(objstream.testing.oci_standin, signature-verified; resource principal auth by default), the SASL
password from the stand-in's Vault, and the records go to the bench's broker.

One measurement (`measure`):

1. start the function process (a fresh one per measurement: fresh peak RSS, fresh topic);
2. a warm-up invocation with a 5-record object, as a warm container has had: it imports the
   OCI SDK, signs in, reads the token from Vault and connects the producer;
3. the measured invocation: clock from just before the POST to the reply, which objstream
   sends only after every message was acknowledged and the `published` marker too;
4. checks: HTTP 200, status `published`, the expected record count, and exactly
   records + 2 new messages on the topic (event, records, marker);
5. time to the first record: the first record message's timestamp minus the wall-clock time
   of the POST. The topic is made with LogAppendTime, so that timestamp is the broker's
   arrival time (millisecond resolution, the same machine's clock): it includes the object's
   first read, format detection, the first decode and librdkafka's batching (linger.ms);
6. CPU seconds of the function process and of the broker during the invocation, and the
   bytes the topic's log takes on the broker (everything on it but the warm-up's 7 messages);
7. peak RSS: VmHWM of the function process (/proc/<pid>/status) after the invocation, which
   covers its whole life: imports, warm-up and the measured object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import psutil

from objstream.testing.fdk_server import FdkServer, Reply
from objstream.testing.scenario import oci_event

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from bench.datasets import Dataset
    from bench.topics import Topics
    from objstream.testing.jvm_kafka import Listener
    from objstream.testing.oci_standin import OciStandIn

ROOT = Path(__file__).resolve().parents[1]
FUNC_PY = ROOT / "function" / "func.py"
NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"
SECRET_ID = "ocid1.vaultsecret.oc1.iad.amaaaaaabenchauthtoken"
WARMUP_NAME = "bench/warmup.jsonl"
WARMUP_RECORDS = 5
# Far beyond any run here: the bench measures the function's cost, not OCI's 300 s limit.
DEADLINE_SECONDS = 1800.0
Auth = Literal["resource_principal", "config_file"]


def fixed_etag(name: str) -> str:
    """A stable eTag per object name, so the ceiling can build the same ce_id headers."""
    return f"bench-{name.replace('/', '-')}-v1"


@dataclass
class ProjectRun:
    """One measured invocation."""

    seconds: float
    records: int
    value_bytes: int
    cpu_seconds: float
    broker_cpu_seconds: float
    peak_rss_bytes: int
    rss_after_warmup_bytes: int
    first_record_seconds: float
    stream_bytes: int | None  # the topic's log on the broker's disk: what OCI's 1 MB/s meters
    start_to_listen_seconds: float
    warmup_seconds: float
    summary: dict[str, Any]


class FunctionUnderTest:
    """The function's environment and a fresh fdk process per measurement."""

    def __init__(
        self,
        standin: OciStandIn,
        listener: Listener,
        topics: Topics,
        workdir: Path,
        *,
        broker_pid: int,
        broker_data: Path | None = None,
        auth: Auth = "resource_principal",
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self._properties = dict(properties or {})
        self._broker = psutil.Process(broker_pid)
        self._broker_data = broker_data
        self._standin = standin
        self._listener = listener
        self._topics = topics
        self._workdir = workdir
        self._auth = auth
        self._runs = 0
        standin.create_bucket(NAMESPACE, BUCKET)
        lines = (b'{"warm":%d}\n' % n for n in range(WARMUP_RECORDS))
        self._warmup_etag = standin.put_object(
            NAMESPACE, BUCKET, WARMUP_NAME, b"".join(lines), content_type="application/x-ndjson"
        )
        if listener.password is not None:
            standin.put_secret(SECRET_ID, listener.password)
        self._oci_env = standin.function_env(workdir / "oci", auth=auth)

    @property
    def warmup_etag(self) -> str:
        """The eTag of the warm-up object (WARMUP_NAME)."""
        return self._warmup_etag

    def upload(self, dataset: Dataset) -> str:
        """Make the dataset's file an object (served from disk); return its eTag."""
        return self._standin.put_object_file(
            NAMESPACE,
            BUCKET,
            dataset.object_name,
            dataset.path,
            content_type=dataset.content_type,
            etag=fixed_etag(dataset.object_name),
        )

    def event(self, object_name: str, etag: str) -> bytes:
        """The OCI createobject event about one object, as OCI Events delivers it."""
        return oci_event(NAMESPACE, BUCKET, object_name, etag, event_id=f"bench-{object_name}")

    def env(self, topic: str) -> dict[str, str]:
        """The function's configuration for one topic."""
        listener = self._listener
        env = {
            **self._oci_env,
            "STREAM_BOOTSTRAP_SERVERS": listener.bootstrap_servers,
            "STREAM_TOPIC": topic,
            "STREAM_SECURITY_PROTOCOL": listener.security_protocol,
        }
        if listener.sasl_mechanism:
            env["STREAM_SASL_MECHANISM"] = listener.sasl_mechanism
            env["STREAM_USERNAME"] = listener.username or ""
            env["STREAM_AUTH_TOKEN_SECRET_OCID"] = SECRET_ID
        if listener.ca_location:
            env["STREAM_SSL_CA_LOCATION"] = listener.ca_location
        for name, value in self._properties.items():
            env["KAFKA_" + name.upper().replace(".", "_")] = value
        return env

    def serve(self, topic: str, extra_env: Mapping[str, str] | None = None) -> FdkServer:
        """A new function process (not yet started: use it as a context manager)."""
        self._runs += 1
        workdir = self._workdir / f"fdk-{self._runs}"
        env = {**self.env(topic), **(extra_env or {})}
        return FdkServer(FUNC_PY, env, workdir, pythonpath=str(ROOT))

    def warm_up(self, server: FdkServer) -> Reply:
        """The small invocation a warm container has already served."""
        reply = server.call(self.event(WARMUP_NAME, self._warmup_etag), deadline_in=120)
        _check(reply, WARMUP_RECORDS, server)
        return reply

    def measure(self, dataset: Dataset, etag: str, topic: str) -> ProjectRun:
        """One end-to-end invocation of the dataset's object; see the module docstring."""
        spawned = time.perf_counter()
        with self.serve(topic) as server:
            listening = time.perf_counter() - spawned
            warmup = self.warm_up(server)
            process = psutil.Process(server.pid)
            rss_after_warmup = _status_bytes(server.pid, "VmRSS")
            before = self._topics.end_offset(topic)
            cpu_before = process.cpu_times()
            broker_before = _cpu(self._broker)
            wall = time.time()
            started = time.perf_counter()
            reply = server.call(self.event(dataset.object_name, etag), deadline_in=DEADLINE_SECONDS)
            seconds = time.perf_counter() - started
            cpu_after = process.cpu_times()
            broker_cpu = _cpu(self._broker) - broker_before
            peak = _status_bytes(server.pid, "VmHWM")
            summary = _check(reply, dataset.records, server)
        after = self._topics.end_offset(topic)
        if after - before != dataset.records + 2:
            raise AssertionError(
                f"{dataset.name}: {after - before} messages on {topic}, expected "
                f"{dataset.records + 2} (event, records, marker)"
            )
        stream_bytes = log_bytes(self._broker_data, topic)
        first_stamp, ce_type = self._topics.timestamp_at(topic, before + 1)
        if ce_type != b"objstream.record":
            raise AssertionError(f"offset {before + 1} of {topic} is {ce_type!r}, not a record")
        return ProjectRun(
            seconds=seconds,
            records=dataset.records,
            value_bytes=dataset.value_bytes,
            cpu_seconds=(cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
            broker_cpu_seconds=broker_cpu,
            peak_rss_bytes=peak,
            rss_after_warmup_bytes=rss_after_warmup,
            first_record_seconds=first_stamp - wall,
            stream_bytes=stream_bytes,
            start_to_listen_seconds=listening,
            warmup_seconds=warmup.seconds,
            summary=summary,
        )

    def cold_starts(self, topic: str, count: int) -> Iterator[dict[str, float]]:
        """Fresh function processes: start → listening, then two small invocations."""
        for _ in range(count):
            spawned = time.perf_counter()
            with self.serve(topic) as server:
                listening = time.perf_counter() - spawned
                first = self.warm_up(server)
                second = self.warm_up(server)
                yield {
                    "start_to_listen_seconds": listening,
                    "first_invocation_seconds": first.seconds,
                    "second_invocation_seconds": second.seconds,
                    "rss_after_first_bytes": _status_bytes(server.pid, "VmRSS"),
                }


def _check(reply: Reply, records: int, server: FdkServer) -> dict[str, Any]:
    if reply.status != 200:
        raise AssertionError(f"the function answered {reply.status}: {reply.body[:500]!r}")
    summary: dict[str, Any] = orjson.loads(reply.body)
    if summary.get("status") != "published" or summary.get("records") != records:
        raise AssertionError(f"unexpected outcome {summary}; log: {server.log()[-2000:]}")
    return summary


def log_bytes(data: Path | None, topic: str) -> int | None:
    """The size of a one-partition topic's log segments (record batches as the broker keeps
    them: values, keys, headers and batch overhead), when the broker's data dir is known."""
    if data is None or not (data / f"{topic}-0").is_dir():
        return None
    return sum(segment.stat().st_size for segment in (data / f"{topic}-0").glob("*.log"))


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _status_bytes(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmHWM: peak resident set), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text("ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")
