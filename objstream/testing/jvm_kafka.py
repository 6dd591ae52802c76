"""A real Apache Kafka broker (KRaft, combined mode) run from Maven Central jars, no Docker.

It is configured like OCI Streaming where that matters to a client: a SASL_SSL listener with
mechanism PLAIN, a certificate from a private CA that clients verify (host name included), user
names of the form `<tenancy>/<user>/<stream pool OCID>` and the 1 MB message limit. Beside it,
SASL_PLAINTEXT and PLAINTEXT listeners for local work.

    python -m objstream.testing.jvm_kafka install   # jars (Maven), the PLAIN users handler (javac)
    python -m objstream.testing.jvm_kafka start [--dir D] [--produce-quota BYTES_PER_SEC]
    python -m objstream.testing.jvm_kafka stop  [--dir D]
    python -m objstream.testing.jvm_kafka status [--dir D]

OCI Streaming also limits writes to 1 MB/s per partition. The broker does not do that by
itself; `KafkaBroker.set_produce_quota` (or `start --produce-quota`) sets a Kafka client quota
(`producer_byte_rate`) through Kafka's own Admin API (`kafka.admin.ConfigCommand` from the jars),
and the broker then delays its produce responses (`throttle_time_ms`) and mutes the connection
so that the producer gets the quota, as a single-partition stream on OCI gets its limit. A Kafka
quota is per broker and per entity (user, client id), not per partition: it matches OCI's limit
for a one-partition topic with one producer. The rate is measured over `quota_windows` one-second
windows (6 here; Kafka's default is 11), so a producer first gets a burst of about
`quota_windows - 1` seconds' worth of its quota, and one throttle lasts at most `quota_windows`
seconds, which must exceed one request's worth (objstream sends requests of up to 1 MB: quotas
below ~200 KB/s are not held). Kafka's quota is an average: measured with objstream's producer
settings (1 MB batches, one request in flight) under 256 KiB/s, a one-partition producer got
~1.3 x the quota once past the burst, in steps of a few seconds (1.4 x with 2 windows, smooth;
1.2 x with 11, after a 10 s burst).

The test suite uses `KafkaBroker` directly. Only the standard library is used here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

# The broker's Maven project, handler source, jar cache and state live in the repository's broker/.
HERE = Path(__file__).resolve().parents[2] / "broker"
CACHE = HERE / "cache"
LIB = CACHE / "lib"
CLASSES = CACHE / "classes"
HANDLER_SOURCE = HERE / "src" / "dev" / "objstream" / "broker" / "PlainUsersCallbackHandler.java"
DEFAULT_RUN_DIR = HERE / "run" / "default"

# The identity the broker accepts on its SASL listeners, shaped like OCI Streaming's.
DEFAULT_USERNAME = (
    "objstreamtenancy/objstream-ci@example.com/ocid1.streampool.oc1.phx.amaaaaaatestpool"
)
DEFAULT_PASSWORD = "local-auth-token-0123456789"
STORE_PASSWORD = "objstream-local"


class BrokerError(RuntimeError):
    """The broker could not be installed or started; the message says what to check."""


# The Kafka client quota that limits what a producer may write per second, in bytes.
PRODUCE_QUOTA_KEY = "producer_byte_rate"


@dataclass(frozen=True)
class Listener:
    """One listener's client-side settings (librdkafka property names)."""

    bootstrap_servers: str
    security_protocol: str
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_location: str | None = None

    def client_config(self) -> dict[str, str]:
        """librdkafka configuration for this listener."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.username or ""
            config["sasl.password"] = self.password or ""
        if self.ca_location:
            config["ssl.ca.location"] = self.ca_location
        return config


@dataclass(frozen=True)
class BrokerInfo:
    """What a client needs to reach a running broker, written to `broker.json` in its dir."""

    plaintext: Listener
    sasl_plaintext: Listener
    sasl_ssl: Listener
    pid: int
    run_dir: str
    users_file: str
    wrong_ca_location: str  # a CA that did not sign the broker's certificate, for tests

    def to_json(self) -> str:
        """Serialise, secrets included: the file lives in the broker's private run dir."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> BrokerInfo:
        """The inverse of to_json."""
        raw = json.loads(text)
        return cls(
            plaintext=Listener(**raw["plaintext"]),
            sasl_plaintext=Listener(**raw["sasl_plaintext"]),
            sasl_ssl=Listener(**raw["sasl_ssl"]),
            pid=raw["pid"],
            run_dir=raw["run_dir"],
            users_file=raw["users_file"],
            wrong_ca_location=raw["wrong_ca_location"],
        )


def install(*, quiet: bool = True) -> None:
    """Resolve the broker's jars from Maven Central and compile the PLAIN users handler."""
    if not _have_jars():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is needed to fetch Kafka's jars: apt-get install maven")
        args = [mvn, "-B", "-f", str(HERE / "pom.xml"), "dependency:copy-dependencies"]
        if quiet:
            args.insert(2, "-q")
        subprocess.run(args, check=True)
    handler_class = CLASSES / "dev" / "objstream" / "broker" / "PlainUsersCallbackHandler.class"
    if not handler_class.exists() or handler_class.stat().st_mtime < HANDLER_SOURCE.stat().st_mtime:
        javac = _java_tool("javac")
        CLASSES.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [javac, "-cp", f"{LIB}/*", "-d", str(CLASSES), str(HANDLER_SOURCE)], check=True
        )


def _have_jars() -> bool:
    return LIB.is_dir() and any(LIB.glob("kafka_2.13-*.jar")) and any(LIB.glob("log4j-core-*"))


def _java_tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidates = [Path(java_home) / "bin" / name] if java_home else []
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    raise BrokerError(
        f"{name} (Java 17 or newer) is needed: apt-get install openjdk-17-jdk-headless"
    )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _keytool(*args: str) -> None:
    subprocess.run([_java_tool("keytool"), *args], check=True, capture_output=True, text=True)


def _make_certificates(tls: Path) -> tuple[Path, Path, Path]:
    """A private CA, the broker's key store (signed for `localhost` only) and a foreign CA.

    The broker's certificate names `localhost` and no IP address, so a client that connects
    to 127.0.0.1 with host-name verification on fails, as it should.
    """
    tls.mkdir(parents=True, exist_ok=True)
    common = ["-storepass", STORE_PASSWORD, "-keypass", STORE_PASSWORD, "-noprompt"]
    ca_store, server_store = tls / "ca.p12", tls / "broker.p12"
    ca_pem, wrong_ca_pem = tls / "ca.pem", tls / "wrong-ca.pem"
    for path in (ca_store, server_store, tls / "wrong-ca.p12"):
        path.unlink(missing_ok=True)
    for store, pem, name in (
        (ca_store, ca_pem, "objstream local CA"),
        (tls / "wrong-ca.p12", wrong_ca_pem, "some other CA"),
    ):
        _keytool(
            "-genkeypair",
            "-alias",
            "ca",
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
            "-validity",
            "30",
            "-dname",
            f"CN={name}",
            "-ext",
            "bc:c",
            "-keystore",
            str(store),
            "-storetype",
            "PKCS12",
            *common,
        )
        _keytool(
            "-exportcert",
            "-rfc",
            "-alias",
            "ca",
            "-file",
            str(pem),
            "-keystore",
            str(store),
            "-storepass",
            STORE_PASSWORD,
        )
    _keytool(
        "-genkeypair",
        "-alias",
        "broker",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-validity",
        "30",
        "-dname",
        "CN=localhost",
        "-keystore",
        str(server_store),
        "-storetype",
        "PKCS12",
        *common,
    )
    csr, signed = tls / "broker.csr", tls / "broker.pem"
    _keytool(
        "-certreq",
        "-alias",
        "broker",
        "-file",
        str(csr),
        "-keystore",
        str(server_store),
        "-storepass",
        STORE_PASSWORD,
    )
    _keytool(
        "-gencert",
        "-alias",
        "ca",
        "-infile",
        str(csr),
        "-outfile",
        str(signed),
        "-rfc",
        "-validity",
        "30",
        "-ext",
        "san=dns:localhost",
        "-ext",
        "eku=serverAuth",
        "-keystore",
        str(ca_store),
        "-storepass",
        STORE_PASSWORD,
    )
    _keytool(
        "-importcert", "-alias", "ca", "-file", str(ca_pem), "-keystore", str(server_store), *common
    )
    _keytool(
        "-importcert",
        "-alias",
        "broker",
        "-file",
        str(signed),
        "-keystore",
        str(server_store),
        *common,
    )
    return server_store, ca_pem, wrong_ca_pem


def _config_command(bootstrap_servers: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Kafka's `kafka-configs.sh` (`kafka.admin.ConfigCommand`) against a broker."""
    install()
    return subprocess.run(
        [
            _java_tool("java"),
            # A short-lived admin client: start fast rather than run fast.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xmx128m",
            "-cp",
            f"{LIB}/*",
            "kafka.admin.ConfigCommand",
            "--bootstrap-server",
            bootstrap_servers,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _quota_entity(user: str | None, client_id: str | None) -> list[str]:
    entity = []
    if user is not None:
        entity += ["--entity-type", "users", "--entity-name", user]
    if client_id is not None:
        entity += ["--entity-type", "clients", "--entity-name", client_id]
    return entity or ["--entity-type", "clients", "--entity-default"]


def set_produce_quota(
    bootstrap_servers: str,
    bytes_per_second: int | None,
    *,
    user: str | None = None,
    client_id: str | None = None,
    timeout: float = 30.0,
) -> None:
    """Set (or, with None, remove) a `producer_byte_rate` quota on a Kafka broker.

    The quota's entity is the SASL user (e.g. `<tenancy>/<user>/<ocid>`; `ANONYMOUS` on the
    PLAINTEXT listener), the client id (objstream's producer says `objstream`), both (that
    user with that client id), or, when neither is given, the default client id: every
    producer on every listener that no more specific quota names. Kafka applies the most
    specific quota that matches (user and client id, then user, then client id; see Kafka's
    documentation on quotas). `bootstrap_servers` should name the PLAINTEXT listener.

    Returns once the broker describes the new quota, i.e. it is in force. Quotas live in the
    cluster's metadata: they survive a restart of the broker.
    """
    if bytes_per_second is not None and bytes_per_second <= 0:
        raise ValueError(
            f"a produce quota is a positive number of bytes per second, not {bytes_per_second}"
        )
    entity = _quota_entity(user, client_id)
    change = (
        ["--delete-config", PRODUCE_QUOTA_KEY]
        if bytes_per_second is None
        else ["--add-config", f"{PRODUCE_QUOTA_KEY}={bytes_per_second}"]
    )
    result = _config_command(bootstrap_servers, "--alter", *change, *entity)
    # Removing a quota that is not there fails with "Invalid config(s)": it is removed.
    absent = bytes_per_second is None and "Invalid config(s)" in result.stdout + result.stderr
    if result.returncode != 0 and not absent:
        raise BrokerError(
            f"could not {'remove' if bytes_per_second is None else 'set'} the produce quota "
            f"of {' '.join(entity[1::2]) or 'the default client id'} on {bootstrap_servers}: "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )
    deadline = time.monotonic() + timeout
    while True:
        described = produce_quota(bootstrap_servers, user=user, client_id=client_id)
        if described == bytes_per_second:
            return
        if time.monotonic() > deadline:
            raise BrokerError(
                f"the broker at {bootstrap_servers} still describes a produce quota of "
                f"{described} bytes/s instead of {bytes_per_second} after {timeout:.0f} s"
            )
        time.sleep(0.2)


def produce_quota(
    bootstrap_servers: str, *, user: str | None = None, client_id: str | None = None
) -> int | None:
    """The `producer_byte_rate` quota set on exactly this entity (see set_produce_quota)."""
    result = _config_command(bootstrap_servers, "--describe", *_quota_entity(user, client_id))
    if result.returncode != 0:
        raise BrokerError(f"could not describe quotas on {bootstrap_servers}: {result.stderr}")
    # The answer reads: Quota configs for client-id 'objstream' are producer_byte_rate=262144.0
    for word in result.stdout.replace(",", " ").split():
        key, _, value = word.partition("=")
        if key == PRODUCE_QUOTA_KEY:
            return round(float(value))
    return None


def write_users(users_file: Path, users: dict[str, str]) -> None:
    """Write the SASL/PLAIN users (user name → password); the broker re-reads it per login."""

    def escape(text: str) -> str:
        return "".join("\\" + ch if ch in "\\=: #!" else ch for ch in text)

    tmp = users_file.with_suffix(".tmp")
    tmp.write_text("".join(f"{escape(u)}={escape(p)}\n" for u, p in users.items()), "utf-8")
    tmp.chmod(0o600)
    tmp.replace(users_file)


@dataclass
class KafkaBroker:
    """One broker process in `run_dir`; `start()` returns once every listener answers."""

    run_dir: Path
    heap: str = "768m"
    quota_windows: int = 6  # see the module docstring
    process: subprocess.Popen[bytes] | None = None
    info: BrokerInfo | None = None
    ports: list[int] = field(default_factory=list)

    def start(self, *, timeout: float = 90.0) -> BrokerInfo:
        """Install if needed, configure (first time), format and start; wait until ready."""
        install()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.ports:
            self.ports = _free_ports(4)
        plain, sasl_plain, sasl_ssl, controller = self.ports
        tls = self.run_dir / "tls"
        keystore = tls / "broker.p12"
        ca_pem, wrong_ca = tls / "ca.pem", tls / "wrong-ca.pem"
        if not keystore.exists():
            keystore, ca_pem, wrong_ca = _make_certificates(tls)
        users_file = self.run_dir / "users.properties"
        if not users_file.exists():
            write_users(users_file, {DEFAULT_USERNAME: DEFAULT_PASSWORD})
        data_dir = self.run_dir / "data"
        properties = self.run_dir / "server.properties"
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'users_file="{users_file}";'
        )
        handler = "dev.objstream.broker.PlainUsersCallbackHandler"
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl_plain},"
                f"SASL_SSL://localhost:{sasl_ssl},CONTROLLER://127.0.0.1:{controller}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl_plain},"
                f"SASL_SSL://localhost:{sasl_ssl}"
            ),
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,"
                "CONTROLLER:PLAINTEXT"
            ),
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.plain.sasl.server.callback.handler.class": handler,
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
            "listener.name.sasl_plaintext.plain.sasl.server.callback.handler.class": handler,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(keystore),
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.key.password": STORE_PASSWORD,
            "ssl.client.auth": "none",
            "log.dirs": str(data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.flush.interval.messages": str(2**62),
            # OCI Streaming's limit: 1 MB per message.
            "message.max.bytes": "1048588",
            # Client quotas (set_produce_quota) are measured over this many one-second windows.
            # Kafka's default of 11 lets a producer burst ten seconds' worth of its quota before
            # the first throttle; OCI Streaming's limit is per second (module docstring).
            "quota.window.num": str(self.quota_windows),
            "quota.window.size.seconds": "1",
        }
        properties.write_text("".join(f"{k}={v}\n" for k, v in config.items()), "utf-8")
        log4j = self.run_dir / "log4j2.properties"
        log4j.write_text(
            "rootLogger.level = INFO\nrootLogger.appenderRef.file.ref = FILE\n"
            "appender.file.type = File\nappender.file.name = FILE\n"
            f"appender.file.fileName = {self.run_dir / 'server.log'}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
            "logger.apache.name = org.apache\nlogger.apache.level = WARN\n",
            "utf-8",
        )
        java = _java_tool("java")
        classpath = f"{CLASSES}:{LIB}/*"
        jvm = [
            java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
        ]
        if not (data_dir / "meta.properties").exists():
            subprocess.run(
                [
                    *jvm,
                    "kafka.tools.StorageTool",
                    "format",
                    "--config",
                    str(properties),
                    "--cluster-id",
                    _cluster_id(),
                    "--ignore-formatted",
                ],
                check=True,
                capture_output=True,
            )
        out = (self.run_dir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            [*jvm, "kafka.Kafka", str(properties)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.info = BrokerInfo(
            plaintext=Listener(f"127.0.0.1:{plain}", "PLAINTEXT"),
            sasl_plaintext=Listener(
                f"127.0.0.1:{sasl_plain}",
                "SASL_PLAINTEXT",
                "PLAIN",
                DEFAULT_USERNAME,
                DEFAULT_PASSWORD,
            ),
            sasl_ssl=Listener(
                f"localhost:{sasl_ssl}",
                "SASL_SSL",
                "PLAIN",
                DEFAULT_USERNAME,
                DEFAULT_PASSWORD,
                str(ca_pem),
            ),
            pid=self.process.pid,
            run_dir=str(self.run_dir),
            users_file=str(users_file),
            wrong_ca_location=str(wrong_ca),
        )
        self._wait_ready(timeout)
        info_file = self.run_dir / "broker.json"
        info_file.write_text(self.info.to_json(), "utf-8")
        info_file.chmod(0o600)
        return self.info

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        log = self.run_dir / "server.log"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the Kafka broker exited with code {self.process.returncode}; "
                    f"see {self.run_dir / 'stdout.log'} and {log}"
                )
            if (
                log.exists()
                and "started (kafka.server.KafkaRaftServer)"
                in log.read_text("utf-8", errors="replace")
                and all(_port_open(port) for port in self.ports[:3])
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"the Kafka broker did not start within {timeout:.0f} s; see {log}")

    def stop(self, *, timeout: float = 20.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its data stays for a restart."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        """Kill the broker at once, as a crash would (SIGKILL)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def set_produce_quota(
        self,
        bytes_per_second: int | None,
        *,
        user: str | None = None,
        client_id: str | None = None,
    ) -> None:
        """Limit what producers may write to this broker per second (None removes the limit).

        OCI Streaming's limit is 1 MB/s per partition: on a one-partition topic,
        `set_produce_quota(1_000_000)` makes this broker throttle as OCI does. The entity is as
        in `set_produce_quota` (module level): the SASL `user`, the `client_id`, both, or by
        default every client id. The broker must be running.
        """
        if self.info is None or self.process is None:
            raise BrokerError("the broker is not running: start() it before setting a quota")
        set_produce_quota(
            self.info.plaintext.bootstrap_servers,
            bytes_per_second,
            user=user,
            client_id=client_id,
        )

    def restart(self, *, timeout: float = 90.0) -> BrokerInfo:
        """Stop if running, then start again on the same ports and data."""
        self.stop()
        return self.start(timeout=timeout)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cluster_id() -> str:
    # Kafka's cluster ids are base64url (no padding) of a UUID's 16 bytes. One that starts
    # with "-" (1 in 64) would be read as an option by the storage tool's command line.
    import base64

    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster.startswith("-"):
            return cluster


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="objstream.testing.jvm_kafka", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_RUN_DIR, help="state directory")
    parser.add_argument(
        "--produce-quota",
        type=int,
        metavar="BYTES_PER_SEC",
        help="start: limit every producer to this many bytes/s (OCI: 1000000 per partition); "
        "0 removes the limit. Applied to a running broker too",
    )
    args = parser.parse_args(argv)
    run_dir: Path = args.dir.resolve()
    info_file = run_dir / "broker.json"
    if args.command == "install":
        install(quiet=False)
        print(f"Kafka jars in {LIB}")
        return 0
    if args.command == "start":
        if info_file.exists() and _alive(BrokerInfo.from_json(info_file.read_text()).pid):
            info = BrokerInfo.from_json(info_file.read_text())
        else:
            started = time.monotonic()
            info = KafkaBroker(run_dir).start()
            print(json.dumps({"started_in_seconds": round(time.monotonic() - started, 1)}))
        if args.produce_quota is not None:
            quota = args.produce_quota or None
            set_produce_quota(info.plaintext.bootstrap_servers, quota)
            print(json.dumps({PRODUCE_QUOTA_KEY: quota, "entity": "default client id"}))
        print(info.to_json())
        return 0
    if not info_file.exists():
        print(f"no broker state in {run_dir}")
        return 1 if args.command == "status" else 0
    info = BrokerInfo.from_json(info_file.read_text())
    if args.command == "status":
        alive = _alive(info.pid)
        print(f"pid {info.pid} {'running' if alive else 'not running'}")
        return 0 if alive else 1
    if _alive(info.pid):
        os.killpg(info.pid, signal.SIGTERM)
        for _ in range(200):
            if not _alive(info.pid):
                break
            time.sleep(0.1)
        else:
            os.killpg(info.pid, signal.SIGKILL)
    info_file.unlink()
    print(f"stopped the broker in {run_dir}")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()
        return status[0] != "Z"
    return True


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
