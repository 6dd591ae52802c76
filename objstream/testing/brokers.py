"""Which real broker the tests talk to, and small helpers to read what reached it.

The choice, in order:

1. an external broker: `OBJSTREAM_TEST_BROKER` names a broker description file (the JSON that
   `python -m objstream.testing.jvm_kafka start` writes to `<dir>/broker.json`);
2. Redpanda through testcontainers, when a Docker engine answers a ping (a `docker` client
   alone is not an engine);
3. Apache Kafka in KRaft mode from Maven Central jars (`objstream/testing/jvm_kafka.py`).

If none can run, the tests fail with one message saying what to install: never a skip.

OCI Streaming accepts 1 MB/s of writes per partition; `Broker.produce_quota` makes the broker
the tests started throttle producers likewise (a Kafka client quota, `producer_byte_rate`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # re-exported at run time, not in the stubs

from objstream.testing.jvm_kafka import BrokerError, BrokerInfo, KafkaBroker, Listener, write_users

if TYPE_CHECKING:
    from collections.abc import Iterator

    from confluent_kafka import Message


@dataclass
class Broker:
    """A running broker as the tests see it: listeners, topics, and control where we own it."""

    backend: str  # "external", "redpanda" or "jvm"
    info: BrokerInfo
    process: KafkaBroker | None = None  # present when the tests started a JVM broker
    redpanda: Any = None  # the Redpanda container, when that is the backend

    @property
    def sasl_ssl(self) -> Listener:
        """The listener configured like OCI Streaming."""
        return self.info.sasl_ssl

    @property
    def plaintext(self) -> Listener:
        """The unauthenticated local listener."""
        return self.info.plaintext

    def admin(self) -> AdminClient:
        """An admin client on the PLAINTEXT listener."""
        config: dict[str, str | int | float | bool] = {**self.plaintext.client_config()}
        return AdminClient(config)

    def create_topic(self, name: str | None = None, *, partitions: int = 1) -> str:
        """Create a topic with a fresh name (or the one given); return its name."""
        topic = name or f"test-{uuid.uuid4().hex[:12]}"
        admin = self.admin()  # kept alive: its futures fail once the client is collected
        futures = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
            operation_timeout=30,
        )
        for future in futures.values():
            future.result(timeout=30)
        _wait_for_leaders(admin, topic, partitions)
        return topic

    def set_password(self, username: str, password: str) -> None:
        """Change (or add) a SASL/PLAIN user's password while the broker runs."""
        if self.redpanda is not None:
            from objstream.testing.redpanda import set_redpanda_password

            set_redpanda_password(self.redpanda, username, password)
            return
        users_file = Path(self.info.users_file)
        users = _read_users(users_file)
        users[username] = password
        write_users(users_file, users)

    @contextlib.contextmanager
    def produce_quota(
        self,
        bytes_per_second: int,
        *,
        user: str | None = None,
        client_id: str | None = None,
    ) -> Iterator[None]:
        """Throttle producers to `bytes_per_second` for the `with` block, then remove the quota.

        OCI Streaming's limit is 1 MB/s per partition; a Kafka quota is per broker and entity,
        so on a one-partition topic `produce_quota(1_000_000)` throttles as OCI does. The quota
        applies to the SASL `user`, the `client_id` (objstream's producer says `objstream`),
        both, or by default to every client id. The broker answers a producer over its quota
        with `throttle_time_ms` and holds its connection; librdkafka waits. Expect a burst of
        about `quota_windows - 1` seconds' worth first (see objstream.testing.jvm_kafka).

        Only for brokers the tests started: an external broker is someone else's to throttle.
        """
        if self.process is not None:
            self.process.set_produce_quota(bytes_per_second, user=user, client_id=client_id)
            try:
                yield
            finally:
                self.process.set_produce_quota(None, user=user, client_id=client_id)
            return
        if self.redpanda is not None:
            from objstream.testing.redpanda import set_redpanda_produce_quota

            set_redpanda_produce_quota(
                self.redpanda, bytes_per_second, user=user, client_id=client_id
            )
            try:
                yield
            finally:
                set_redpanda_produce_quota(self.redpanda, None, user=user, client_id=client_id)
            return
        raise BrokerError(
            f"produce_quota needs a broker the tests start; this one is {self.backend} "
            f"({self.info.plaintext.bootstrap_servers}). Unset OBJSTREAM_TEST_BROKER to let the "
            "suite start its own, or set the quota on that broker yourself (kafka-configs.sh "
            "--alter --add-config producer_byte_rate=N --entity-type clients --entity-default)"
        )

    def consume(self, topic: str, *, timeout: float = 30.0) -> list[Message]:
        """Every message now in `topic`, all partitions, in partition then offset order."""
        consumer = Consumer(
            {
                **self.plaintext.client_config(),
                "group.id": f"objstream-tests-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": "false",
                "enable.partition.eof": "true",
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
            partitions = sorted(metadata.topics[topic].partitions)
            ends: dict[int, int] = {}
            assignment = []
            for partition in partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                if high > low:
                    ends[partition] = high
                    assignment.append(TopicPartition(topic, partition, low))
            if not assignment:
                return []
            consumer.assign(assignment)
            by_partition: dict[int, list[Message]] = {p: [] for p in ends}
            deadline = time.monotonic() + timeout
            while any(
                not by_partition[p] or (by_partition[p][-1].offset() or 0) < ends[p] - 1
                for p in ends
            ):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read all of {topic} in {timeout} s")
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise RuntimeError(str(error))
                partition = message.partition()
                assert partition is not None
                by_partition[partition].append(message)
            return [m for p in sorted(by_partition) for m in by_partition[p]]
        finally:
            consumer.close()


def _read_users(users_file: Path) -> dict[str, str]:
    users: dict[str, str] = {}
    for line in users_file.read_text("utf-8").splitlines():
        key, _, value = _split_property(line)
        users[key] = value
    return users


def _split_property(line: str) -> tuple[str, str, str]:
    # The inverse of jvm_kafka.write_users' escaping: the first unescaped '=' separates.
    key: list[str] = []
    chars = iter(line)
    for ch in chars:
        if ch == "\\":
            key.append(next(chars, ""))
        elif ch == "=":
            rest = "".join(chars)
            return "".join(key), "=", rest.replace("\\", "")
        else:
            key.append(ch)
    return "".join(key), "", ""


def _wait_for_leaders(admin: AdminClient, topic: str, partitions: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=10)
        described = metadata.topics.get(topic)
        if (
            described is not None
            and described.error is None
            and len(described.partitions) == partitions
            and all(p.leader >= 0 for p in described.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {topic} has no leader after 30 s")


def docker_engine_answers() -> bool:
    """Whether a Docker engine (not just the client) answers `GET /_ping`."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            name, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (name, int(port or "2375"))
        else:
            return False
        with sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in sock.recv(64)
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def running_broker(tmp_root: Path) -> Iterator[Broker]:
    """The broker for this test session, chosen as the module docstring says."""
    external = os.environ.get("OBJSTREAM_TEST_BROKER")
    if external:
        path = Path(external)
        if not path.is_file():
            raise BrokerError(
                f"OBJSTREAM_TEST_BROKER={external} is not a broker description file "
                "(the broker.json that `python -m objstream.testing.jvm_kafka start` writes)"
            )
        yield Broker("external", BrokerInfo.from_json(path.read_text("utf-8")))
        return
    if docker_engine_answers() and os.environ.get("OBJSTREAM_TEST_NO_DOCKER") != "1":
        from objstream.testing.redpanda import redpanda_broker

        with redpanda_broker(tmp_root) as broker:
            yield broker
        return
    process = KafkaBroker(tmp_root / "jvm-kafka")
    try:
        info = process.start()
    except (BrokerError, OSError) as exc:
        raise BrokerError(
            "no Kafka broker could be started for the tests: install Java 17 and Maven "
            "(apt-get install openjdk-17-jdk-headless maven) for the JVM broker, run a Docker "
            "engine for Redpanda, or point OBJSTREAM_TEST_BROKER at a running broker's "
            f"broker.json. Cause: {exc}"
        ) from exc
    try:
        yield Broker("jvm", info, process=process)
    finally:
        process.stop()
