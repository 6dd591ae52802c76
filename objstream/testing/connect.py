"""Kafka Connect standalone, from the Maven Central jars in connect/cache, for tests (no Docker).

`running_connect(run_dir, listener)` starts one worker with the project's worker config
(connect/worker.properties: SASL_SSL with PLAIN, the broker's CA as a PEM trust store, values
through JsonConverter with schemas) pointed at a broker listener, and stops it afterwards:

    with running_connect(tmp_path, broker.sasl_ssl, env={"JDBC_PASSWORD": ...}) as connect:
        connect.create_connector("sink", config)
        connect.wait_for_rows("sink", count_rows, 3)

The worker reads the connection from its environment (`${env:...}` in the template), which is
how it is meant to be run outside the tests as well; only the machine's own values
(REST port, plugin.path, offsets file) are appended to a copy of the template.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from objstream.testing.jvm_kafka import Listener

REPO = Path(__file__).resolve().parents[2]
CONNECT_DIR = REPO / "connect"
LIB = CONNECT_DIR / "cache" / "lib"
PLUGINS = CONNECT_DIR / "cache" / "plugins"
WORKER_TEMPLATE = CONNECT_DIR / "worker.properties"
JDBC_SINK_EXAMPLE = CONNECT_DIR / "jdbc-sink-postgres.json"


class ConnectError(RuntimeError):
    """The worker could not start, or a connector failed; the message carries Connect's words."""


def install() -> None:
    """Resolve the worker's and the sink's jars from Maven Central if they are missing."""
    if any(LIB.glob("connect-runtime-*.jar")) and any(PLUGINS.glob("*/debezium-connector-jdbc-*")):
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConnectError("Maven (mvn) is needed for Kafka Connect's jars: run connect/install.sh")
    subprocess.run(
        [mvn, "-B", "-q", "-f", str(CONNECT_DIR / "pom.xml"), "dependency:copy-dependencies"],
        check=True,
    )


def load_example(path: Path = JDBC_SINK_EXAMPLE) -> tuple[str, dict[str, str]]:
    """A connector file in the REST API's form, `{"name": ..., "config": {...}}`."""
    document = json.loads(path.read_text("utf-8"))
    return document["name"], dict(document["config"])


@dataclass
class ConnectWorker:
    """One Connect standalone worker process and its REST API."""

    run_dir: Path
    listener: Listener
    env: Mapping[str, str] = field(default_factory=dict)
    heap: str = "512m"
    port: int = 0
    started_in: float = 0.0  # seconds from launch until the REST API answered
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The REST API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 120.0) -> None:
        """Write the config, launch the worker, return once its REST API lists connectors."""
        install()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        properties = self.run_dir / "worker.properties"
        properties.write_text(
            WORKER_TEMPLATE.read_text("utf-8")
            + "\n# --- this machine's values (tests/support/connect.py); the last one wins\n"
            + f"listeners=http://127.0.0.1:{self.port}\n"
            + f"plugin.path={PLUGINS}\n"
            + f"offset.storage.file.filename={self.run_dir / 'offsets'}\n"
            # Sink tasks commit consumed offsets this often: tests wait on them.
            + "offset.flush.interval.ms=1000\n",
            "utf-8",
        )
        log4j = self.run_dir / "log4j2.properties"
        log4j.write_text(
            "rootLogger.level = INFO\nrootLogger.appenderRef.file.ref = FILE\n"
            "appender.file.type = File\nappender.file.name = FILE\n"
            f"appender.file.fileName = {self.log}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n",
            "utf-8",
        )
        environment = {
            **os.environ,
            "STREAM_BOOTSTRAP_SERVERS": self.listener.bootstrap_servers,
            "STREAM_USERNAME": self.listener.username or "",
            "STREAM_AUTH_TOKEN": self.listener.password or "",
            "STREAM_SSL_CA_LOCATION": self.listener.ca_location or "",
            **self.env,
        }
        java = shutil.which("java")
        if java is None:
            raise ConnectError("java (17 or newer) is needed: apt-get install openjdk-17-jdk")
        started = time.monotonic()
        with (self.run_dir / "stdout.log").open("ab") as out:
            self.process = subprocess.Popen(
                [
                    java,
                    f"-Xmx{self.heap}",
                    "-XX:+UseSerialGC",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    f"{LIB}/*",
                    "org.apache.kafka.connect.cli.ConnectStandalone",
                    str(properties),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=self.run_dir,
                start_new_session=True,
            )
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                raise ConnectError(
                    f"Kafka Connect exited with code {self.process.returncode}; "
                    f"see {self.run_dir / 'stdout.log'} and {self.log}"
                )
            with contextlib.suppress(OSError, ConnectError):
                self.request("GET", "/connectors")
                break
            if time.monotonic() > deadline:
                self.stop()
                raise ConnectError(
                    f"Kafka Connect did not start in {timeout:.0f} s; see {self.log}"
                )
            time.sleep(0.2)
        self.started_in = time.monotonic() - started

    @property
    def log(self) -> Path:
        """The worker's log file."""
        return self.run_dir / "connect.log"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call; the parsed JSON answer, or ConnectError with Connect's message."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read().decode("utf-8", errors="replace")
            raise ConnectError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def create_connector(
        self, name: str, config: Mapping[str, str], *, timeout: float = 60
    ) -> None:
        """Create (or reconfigure) a connector; return once it and its tasks run."""
        self.request("PUT", f"/connectors/{name}/config", dict(config))
        deadline = time.monotonic() + timeout
        while True:
            status = self._status_or_none(name)
            if status is not None:
                _raise_if_failed(name, status)
                tasks = status.get("tasks", [])
                running = [status["connector"], *tasks]
                if tasks and all(state["state"] == "RUNNING" for state in running):
                    return
            if time.monotonic() > deadline:
                raise ConnectError(f"connector {name} is not running after {timeout} s: {status}")
            time.sleep(0.2)

    def status(self, name: str) -> dict[str, Any]:
        """GET /connectors/<name>/status."""
        answer: dict[str, Any] = self.request("GET", f"/connectors/{name}/status")
        return answer

    def _status_or_none(self, name: str) -> dict[str, Any] | None:
        try:
            return self.status(name)
        except ConnectError:  # 404 while the connector is being created
            return None

    def committed_offsets(self, name: str) -> dict[int, int]:
        """A sink connector's committed offsets: partition → next offset to consume."""
        answer = self.request("GET", f"/connectors/{name}/offsets")
        return {
            int(entry["partition"]["kafka_partition"]): int(entry["offset"]["kafka_offset"])
            for entry in answer.get("offsets", [])
        }

    def wait_for_rows(
        self, name: str, count_rows: Callable[[], int], expected: int, *, timeout: float = 60
    ) -> int:
        """Wait until `count_rows()` reaches `expected`; fail at once if a task fails."""
        deadline = time.monotonic() + timeout
        count = 0
        while True:
            _raise_if_failed(name, self.status(name))
            count = count_rows()
            if count >= expected:
                return count
            if time.monotonic() > deadline:
                raise ConnectError(
                    f"{count} rows instead of {expected} after {timeout} s; "
                    f"status {self.status(name)}; see {self.log}"
                )
            time.sleep(0.2)

    def wait_until_consumed(
        self, name: str, ends: Mapping[int, int], *, timeout: float = 60
    ) -> None:
        """Wait until the sink committed offsets up to `ends` (partition → offset).

        A sink task commits only what it has written, so this proves every record before
        those offsets is in the destination. (Debezium's JDBC sink commits up to the last
        record it was handed: messages a transform drops after it do not count.)
        """
        deadline = time.monotonic() + timeout
        while True:
            _raise_if_failed(name, self.status(name))
            committed = self.committed_offsets(name)
            if all(committed.get(p, -1) >= end for p, end in ends.items()):
                return
            if time.monotonic() > deadline:
                raise ConnectError(
                    f"connector {name} committed {committed}, not {dict(ends)}, in {timeout} s"
                )
            time.sleep(0.2)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop the worker (SIGTERM: tasks stop and commit), then SIGKILL if it hangs."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def running_connect(
    run_dir: Path, listener: Listener, *, env: Mapping[str, str] | None = None
) -> Iterator[ConnectWorker]:
    """A started worker, stopped on exit."""
    worker = ConnectWorker(run_dir, listener, env=dict(env or {}))
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def _raise_if_failed(name: str, status: dict[str, Any]) -> None:
    states = [status["connector"], *status.get("tasks", [])]
    for state in states:
        if state.get("state") == "FAILED":
            raise ConnectError(f"connector {name} failed: {state.get('trace', state)}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
