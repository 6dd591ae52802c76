"""`make demo`: the sample files through the real function path, on a fresh machine.

1. a local broker: `docker compose up -d` (Redpanda, SASL) when a Docker engine answers,
   else Apache Kafka from Maven jars (objstream.testing.jvm_kafka, SASL_SSL/PLAIN like OCI
   Streaming,
   state in broker/run/demo); an already running demo broker is reused;
2. the topic `objstream-demo` (3 partitions);
3. samples/* laid out as local objects (`LOCAL_OBJECTS_DIR/<namespace>/<bucket>/<name>`);
4. `objstream serve`: fdk serving function/func.py on a unix socket, as OCI Functions runs it;
5. one OCI createobject event per sample POSTed to it (Fn's /call, with Fn-Deadline);
6. the messages that reached the stream, as `objstream tail` prints them, and a summary;
7. the function server stopped; the broker stopped too unless `--keep-broker` (or it was
   already running before the demo), and the demo says which.

Exit code 0 only when every sample was published and its records are on the stream.
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
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # re-exported at run time, not in the stubs

from function.errors import FnServerError, ObjstreamError, StreamUnavailable
from function.settings import Settings
from objstream.cli.config import make_console
from objstream.cli.publish import FileResult, summary_table
from objstream.cli.tail import StreamMessage, StreamReader
from objstream.fn_server import call
from objstream.local_objects import local_etag
from objstream.oci_events import object_event_body

ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

SAMPLES = ROOT / "samples"
JVM_KAFKA = ["-m", "objstream.testing.jvm_kafka"]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEFAULT_RUN_DIR = ROOT / "broker" / "run" / "demo"
TOPIC = "objstream-demo"
NAMESPACE, BUCKET, PREFIX = "local", "uploads", "incoming/"
# Records shown per object before "… n more": enough to see the shape of each format.
RECORDS_SHOWN = 3


@dataclass
class DemoBroker:
    """A running broker as the demo uses it."""

    kind: str  # "jvm" or "docker"
    description: str
    admin_bootstrap: str  # an unauthenticated listener, to create the topic
    env: dict[str, str]  # the STREAM_* settings of the listener the function uses
    started_here: bool
    stop_command: list[str] = field(default_factory=list)
    stop_hint: str = ""  # the same command, as a user types it

    def stop(self) -> None:
        """Stop it (JVM: the state stays for the next run; Docker: `compose down -v`)."""
        subprocess.run(self.stop_command, cwd=ROOT, check=True, capture_output=True)


def _python_hint() -> str:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return ".venv/bin/python" if Path(sys.executable) == venv_python else "python"


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


class Clock:
    """Seconds since the demo started, for the step lines."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __str__(self) -> str:
        return f"[{time.monotonic() - self.started:5.1f}s]"


# -- the broker ---------------------------------------------------------------------------------


def docker_engine_answers() -> bool:
    """Whether a Docker engine (not just a client) answers GET /_ping on its socket."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except OSError:
        return False


def jvm_broker(run_dir: Path) -> DemoBroker:
    """Apache Kafka from Maven jars; reuses the one already running in `run_dir`."""
    python = sys.executable
    running = (
        subprocess.run(
            [python, *JVM_KAFKA, "status", "--dir", str(run_dir)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if not running:
        # Its output includes the local password; show it only if starting fails.
        started = subprocess.run(
            [python, *JVM_KAFKA, "start", "--dir", str(run_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            tail = "\n".join((started.stdout + started.stderr).strip().splitlines()[-15:])
            raise SystemExit(f"demo: the JVM Kafka broker did not start:\n{tail}")
    info = json.loads((run_dir / "broker.json").read_text("utf-8"))
    listener = info["sasl_ssl"]
    return DemoBroker(
        kind="jvm",
        description=f"Apache Kafka (JVM, KRaft) in {_relative(run_dir)}",
        admin_bootstrap=info["plaintext"]["bootstrap_servers"],
        env={
            "STREAM_BOOTSTRAP_SERVERS": listener["bootstrap_servers"],
            "STREAM_SECURITY_PROTOCOL": "SASL_SSL",
            "STREAM_SASL_MECHANISM": "PLAIN",
            "STREAM_USERNAME": listener["username"],
            "STREAM_AUTH_TOKEN": listener["password"],
            "STREAM_SSL_CA_LOCATION": listener["ca_location"],
        },
        started_here=not running,
        stop_command=[python, *JVM_KAFKA, "stop", "--dir", str(run_dir)],
        stop_hint=(
            f"{_python_hint()} -m objstream.testing.jvm_kafka stop --dir {_relative(run_dir)}"
        ),
    )


def docker_broker() -> DemoBroker:
    """Redpanda from docker-compose.yml (SASL/PLAIN on localhost:19092)."""
    compose = ["docker", "compose", "-f", str(COMPOSE_FILE)]
    before = subprocess.run(
        [*compose, "ps", "-q", "redpanda"], capture_output=True, text=True, check=False
    )
    running = bool(before.stdout.strip())
    if not running:
        subprocess.run([*compose, "up", "-d"], cwd=ROOT, check=True)
    # The values docker-compose.yml documents; its init container creates the user.
    return DemoBroker(
        kind="docker",
        description="Redpanda (docker compose)",
        admin_bootstrap="localhost:19093",
        env={
            "STREAM_BOOTSTRAP_SERVERS": "localhost:19092",
            "STREAM_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STREAM_SASL_MECHANISM": "PLAIN",
            "STREAM_USERNAME": "objstream",
            "STREAM_AUTH_TOKEN": "objstream-local-token",
        },
        started_here=not running,
        stop_command=[*compose, "down", "-v"],
        stop_hint="docker compose down -v",
    )


def create_topic(bootstrap: str, topic: str, partitions: int, *, timeout: float = 120.0) -> str:
    """Create the topic unless it exists; wait until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    created = False
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=5)
        except KafkaException:
            time.sleep(1)  # a broker still starting (Redpanda's health check) answers soon
            continue
        described = metadata.topics.get(topic)
        if described is None and not created:
            futures = admin.create_topics(
                [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
            )
            for future in futures.values():
                with contextlib.suppress(KafkaException):  # created meanwhile: fine
                    future.result(timeout=30)
            created = True
            continue
        if (
            described is not None
            and described.error is None
            and all(p.leader >= 0 for p in described.partitions.values())
        ):
            state = "created" if created else "exists"
            return f"{topic} {state} ({len(described.partitions)} partitions)"
        time.sleep(0.2)
    raise SystemExit(f"demo: the topic {topic} was not ready within {timeout:.0f} s")


# -- the function -------------------------------------------------------------------------------


@contextlib.contextmanager
def objstream_serve(env: dict[str, str], socket_path: Path, log_path: Path) -> Iterator[int]:
    """`objstream serve` in a subprocess (the fdk path); stopped and checked on exit."""
    process_env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "objstream.cli", "serve", "--socket", str(socket_path)],
            cwd=ROOT,
            env=process_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            if process.poll() is not None:
                raise SystemExit(
                    f"demo: objstream serve exited with {process.returncode}:\n"
                    + log_path.read_text("utf-8", errors="replace")
                )
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"demo: objstream serve did not listen within 60 s; see {log_path}"
                )
            time.sleep(0.05)
        yield process.pid
    finally:
        # SIGTERM is how `serve` is told to stop: it stops fdk and removes the socket.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


def open_reader(settings: Settings, patience: float) -> StreamReader:
    """A stream reader, retried for `patience` seconds while the login is not accepted yet."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return StreamReader(settings)
        except StreamUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def lay_out_samples(objects_dir: Path) -> list[tuple[Path, str]]:
    """Copy samples/* to `<objects_dir>/<namespace>/<bucket>/incoming/<name>`."""
    bucket_dir = objects_dir / NAMESPACE / BUCKET / PREFIX
    bucket_dir.mkdir(parents=True)
    laid_out = []
    for sample in sorted(p for p in SAMPLES.iterdir() if p.is_file()):
        target = bucket_dir / sample.name
        shutil.copyfile(sample, target)
        laid_out.append((target, PREFIX + sample.name))
    if not laid_out:
        raise SystemExit(f"demo: no sample files in {SAMPLES}")
    return laid_out


def invoke_all(socket_path: Path, objects: list[tuple[Path, str]]) -> list[FileResult]:
    """POST one createobject event per object, as OCI Events → Fn would."""
    results = []
    for path, name in objects:
        body = object_event_body(NAMESPACE, BUCKET, name, local_etag(path))
        reply = call(socket_path, body, deadline_in=60)
        try:
            answer: dict[str, Any] = json.loads(reply.body)
        except ValueError:
            answer = {
                "status": f"HTTP {reply.status}",
                "reason": reply.body.decode(errors="replace"),
            }
        status = answer.get("status", "?") if reply.status == 200 else f"HTTP {reply.status}"  # noqa: PLR2004
        results.append(
            FileResult(
                str(path),
                name,
                status,
                records=int(answer.get("records", 0)),
                invalid=int(answer.get("invalid", 0)),
                bytes=int(answer.get("bytes", 0)),
                seconds=reply.seconds,
                reason=answer.get("reason") or answer.get("error"),
            )
        )
    return results


def show_stream(
    console: Console, messages: list[StreamMessage], names: list[str]
) -> dict[str, list[StreamMessage]]:
    """The messages per object, as `objstream tail` prints them, long runs of records cut."""
    by_subject: dict[str, list[StreamMessage]] = {name: [] for name in names}
    for message in messages:
        by_subject.setdefault(message.header("ce_subject") or "-", []).append(message)
    # The key is the same for every message of an object (said once, above the listing).
    width = console.width
    for subject_messages in by_subject.values():
        records_seen = hidden = 0
        for message in subject_messages:
            if message.type == "objstream.record":
                records_seen += 1
                if records_seen > RECORDS_SHOWN:
                    hidden += 1
                    continue
            elif hidden:
                console.print(
                    f"     … {hidden} more record{'s' if hidden > 1 else ''}", style="dim"
                )
                hidden = 0
            # Cropped at the terminal's edge (a pipe gets the plain width): one line each.
            console.print(message.line(width, show_key=False), no_wrap=True, overflow="ellipsis")
        console.print()
    return by_subject


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """The demo broker's settings for `objstream --env-file` (0600: it holds the token)."""
    lines = ["# objstream settings for the demo broker (written by scripts/demo.py)"]
    lines += [f"{key}={value}" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    path.chmod(0o600)


# -- the demo -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> int:
    """The demo, step by step; 0 when every sample's records reached the stream."""
    clock = Clock()
    say = console.print
    say("[bold]objstream demo[/]: sample files → fdk (as OCI Functions runs it) → Kafka\n")
    use_docker = args.broker == "docker" or (args.broker == "auto" and docker_engine_answers())
    say(f"{clock} starting a local broker ({'Docker engine found' if use_docker else 'JVM'}) …")
    broker_started = time.monotonic()
    broker = docker_broker() if use_docker else jvm_broker(args.run_dir)
    verb = "started" if broker.started_here else "reusing the running"
    say(
        f"{clock} broker: {verb} {broker.description}, "
        f"{broker.env['STREAM_SECURITY_PROTOCOL']} on {broker.env['STREAM_BOOTSTRAP_SERVERS']}"
        f" ({time.monotonic() - broker_started:.1f} s)"
    )
    ok = False
    try:
        say(f"{clock} topic: {create_topic(broker.admin_bootstrap, TOPIC, 3)}")
        with tempfile.TemporaryDirectory(prefix="objstream-demo-") as scratch:
            ok = demo_function(broker, Path(scratch), args.run_dir, console, clock)
    finally:
        finish_broker(broker, args, console, clock)
    say(f"{clock} demo {'done' if ok else 'FAILED'}")
    return 0 if ok else 1


def demo_function(
    broker: DemoBroker, work: Path, run_dir: Path, console: Console, clock: Clock
) -> bool:
    """Serve the function, invoke it once per sample, show what reached the stream."""
    say = console.print
    objects = lay_out_samples(work / "objects")
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STREAM_", "KAFKA_", "OCI_", "LOCAL_OBJECTS_DIR"))
    }
    env = {
        **inherited,
        **broker.env,
        "STREAM_TOPIC": TOPIC,
        "LOCAL_OBJECTS_DIR": str(work / "objects"),
        "OCI_AUTH": "config_file",  # unused: the objects are local and the token is given
    }
    say(
        f"{clock} objects: {len(objects)} samples as {NAMESPACE}/{BUCKET}/{PREFIX}* "
        f"in LOCAL_OBJECTS_DIR={work / 'objects'}"
    )
    # Redpanda's init container creates the SASL user a little after the broker answers.
    patience = 90.0 if broker.kind == "docker" else 0.0
    with open_reader(Settings.from_env(env), patience) as reader:
        before = reader.end_offsets()
        socket_path = work / "fn.sock"
        log_path = run_dir / "fdk.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with objstream_serve(env, socket_path, log_path) as pid:
            say(f"{clock} function: `objstream serve` (fdk, pid {pid}) on unix:{socket_path}")
            results = invoke_all(socket_path, objects)
            say(f"{clock} invoked: {len(results)} events POSTed to /call (Fn-Deadline set)")
        after = reader.end_offsets()
        say(
            f"{clock} function: stopped (socket removed: {not socket_path.exists()}; "
            f"its log: {_relative(log_path)})\n"
        )
        stop_at = {p: end for p, end in after.items() if end > before.get(p, 0)}
        reader.assign(before, from_beginning=False)
        messages = list(reader.messages(stop_at=stop_at, idle_timeout=10))
    say(
        f"[bold]On the stream[/] {TOPIC}: {len(messages)} new messages, as `objstream tail` "
        "shows them:\npartition/offset, ce_type, ce_subject #ce_recordindex, value "
        f"(the key of every message is {NAMESPACE}/{BUCKET}/<object name>)\n"
    )
    by_subject = show_stream(console, messages, [name for _, name in objects])
    say(summary_table(results, title="What the function answered"))
    for result in results:
        if result.reason:
            say(f"  {result.name}: {result.reason}", markup=False)
    visible = sum(1 for m in messages if m.type in {"objstream.record", "objstream.record.invalid"})
    published = [r for r in results if r.ok]
    complete = all(
        any(m.type == "objstream.object.published" for m in by_subject.get(r.name, []))
        for r in published
    )
    say(
        f"\n{clock} {visible} records on the stream; "
        f"{len(published)}/{len(results)} files published"
        + ("" if complete else "; some published markers are missing")
    )
    return len(published) == len(results) and complete and visible > 0


def finish_broker(
    broker: DemoBroker, args: argparse.Namespace, console: Console, clock: Clock
) -> None:
    """Stop the broker if the demo started it (unless --keep-broker); say what was done."""
    say = console.print
    if broker.started_here and not args.keep_broker:
        broker.stop()
        say(f"{clock} broker: stopped (`--keep-broker` leaves it running)")
        return
    reason = "as asked (--keep-broker)" if args.keep_broker else "it was running before the demo"
    say(f"{clock} broker: left running, {reason}; stop it with: {broker.stop_hint}")
    if broker.kind == "jvm":
        env_file = args.run_dir / "objstream.env"
        write_env_file(env_file, {**broker.env, "STREAM_TOPIC": TOPIC})
        hint = f".venv/bin/objstream {{}} --env-file {_relative(env_file)}"
        say(f"  try: {hint.format('check')}")
        say(f"       {hint.format('tail')} --from-beginning --timeout 3")
        say(f"       {hint.format('publish')} samples/orders.csv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--keep-broker", action="store_true", help="leave the broker running afterwards"
    )
    parser.add_argument(
        "--broker",
        choices=["auto", "docker", "jvm"],
        default="auto",
        help="auto: Docker when an engine answers, else the JVM broker",
    )
    parser.add_argument(
        "--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="JVM broker state directory"
    )
    args = parser.parse_args()
    args.run_dir = args.run_dir.resolve()
    console = make_console()
    try:
        return run(args, console)
    except KeyboardInterrupt:
        return 130
    except (ObjstreamError, FnServerError, OSError, subprocess.CalledProcessError) as exc:
        console.print(f"demo: error: {exc}", markup=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
