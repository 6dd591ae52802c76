"""StreamPublisher's promises, with a fake producer that behaves like librdkafka's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError

from kafka_client.config import ConnectionSettings, producer_config, redacted
from kafka_client.errors import (
    AuthenticationFailed,
    DeliveryTimedOut,
    ProducerConfigError,
    PublishFailed,
)
from kafka_client.publisher import StreamPublisher


@dataclass
class _Message:
    topic_name: str

    def topic(self) -> str:
        return self.topic_name


@dataclass
class FakeProducer:
    """Queues messages; `capacity` makes produce raise BufferError like a full local queue."""

    config: dict[str, Any]
    capacity: int = 1_000_000
    ack: bool = True  # whether flush/poll deliver what is queued
    fail_topic: str | None = None
    queued: list[tuple[str, bytes | None]] = field(default_factory=list)
    delivered: list[tuple[str, bytes | None]] = field(default_factory=list)
    pending_errors: list[KafkaError] = field(default_factory=list)
    buffer_errors: int = 0
    purged: int = 0

    def produce(self, topic: str, value: Any = None, key: Any = None, *_: Any, **__: Any) -> None:
        if len(self.queued) >= self.capacity:
            self.buffer_errors += 1
            raise BufferError("Local: Queue full")
        self.queued.append((topic, value))

    def _serve(self) -> None:
        for error in self.pending_errors:
            self.config["error_cb"](error)
        self.pending_errors.clear()
        if not self.ack:
            return
        for topic, value in self.queued:
            if topic == self.fail_topic:
                self.config["on_delivery"](
                    KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Message(topic)
                )
            else:
                self.delivered.append((topic, value))
        self.queued.clear()

    def poll(self, timeout: float = 0) -> int:
        self._serve()
        return 0

    def flush(self, timeout: float = 0) -> int:
        self._serve()
        if self.queued:
            time.sleep(min(timeout, 0.01))
        return len(self.queued)

    def purge(self, *_: Any) -> None:
        self.purged += len(self.queued)
        self.queued.clear()

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.queued)


def _publisher(**fake: Any) -> tuple[StreamPublisher, FakeProducer]:
    made: list[FakeProducer] = []

    def factory(config: dict[str, Any]) -> FakeProducer:
        made.append(FakeProducer(config, **fake))
        return made[0]

    publisher = StreamPublisher({"bootstrap.servers": "broker:9092"}, producer_factory=factory)
    return publisher, made[0]


def test_a_full_local_queue_is_waited_out_never_dropped() -> None:
    publisher, producer = _publisher(capacity=3)
    publisher.begin(time.monotonic() + 10)
    for n in range(20):
        publisher.send("t", str(n).encode(), b"k", [])
    publisher.settle()
    assert producer.buffer_errors > 0
    assert [value for _, value in producer.delivered] == [str(n).encode() for n in range(20)]
    assert publisher.sent == 20


def test_a_message_larger_than_the_whole_queue_fails_at_once_instead_of_waiting() -> None:
    publisher, _ = _publisher(capacity=0)  # librdkafka: the message exceeds the queue's bytes
    publisher.begin(time.monotonic() + 10)
    started = time.monotonic()
    with pytest.raises(PublishFailed, match=r"of 5 bytes is larger than the producer's whole"):
        publisher.send("t", b"value", None, [])
    assert time.monotonic() - started < 1


def test_once_a_quota_throttles_the_backlog_is_timed_at_the_throttled_rate() -> None:
    publisher, producer = _publisher(ack=False)
    publisher.begin(time.monotonic() + 60)
    for n in range(200):
        publisher.send("t", str(n).encode(), None, [])
    del producer.queued[:100]  # the quota's burst: half acknowledged at once
    time.sleep(0.3)
    before = publisher.backlog_seconds()
    assert before < 1  # 100 left at ~330 a second
    producer.config["throttle_cb"](SimpleNamespace(throttle_time=0.5))
    del producer.queued[:10]  # under the throttle: 10 in the next 0.3 s
    time.sleep(0.3)
    # 90 left at ~33 a second, plus the throttle: not the ~0.8 s the burst's rate would say.
    assert publisher.backlog_seconds() > 2.5


def test_a_failed_delivery_fails_the_settle_with_the_count_and_topic() -> None:
    publisher, _ = _publisher(fail_topic="bad")
    publisher.begin(time.monotonic() + 10)
    publisher.send("good", b"1", None, [])
    publisher.send("bad", b"2", None, [])
    with pytest.raises(PublishFailed, match=r"1 message\(s\) were not acknowledged .* for bad"):
        publisher.settle()


def test_an_authentication_error_ends_the_publication_at_once() -> None:
    publisher, producer = _publisher(ack=False)
    publisher.begin(time.monotonic() + 60)
    publisher.send("t", b"x", None, [])
    producer.pending_errors.append(
        KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error")
    )
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        publisher.settle()
    assert time.monotonic() - started < 1
    assert caught.value.fatal


def test_the_deadline_ends_an_unacknowledged_publication_in_time() -> None:
    publisher, producer = _publisher(ack=False)
    publisher.begin(time.monotonic() + 0.3)
    publisher.send("t", b"x", None, [])
    started = time.monotonic()
    with pytest.raises(DeliveryTimedOut, match="1 message"):
        publisher.settle()
    assert time.monotonic() - started < 0.6
    publisher.abort()
    assert producer.purged == 1
    assert len(producer) == 0


def test_a_new_publication_does_not_inherit_the_last_ones_failure() -> None:
    publisher, producer = _publisher(fail_topic="bad")
    publisher.begin(time.monotonic() + 10)
    publisher.send("bad", b"1", None, [])
    with pytest.raises(PublishFailed):
        publisher.settle()
    publisher.begin(time.monotonic() + 10)
    publisher.send("good", b"2", None, [])
    publisher.settle()
    assert producer.delivered == [("good", b"2")]


def test_producer_config_is_oci_ready_and_keeps_the_token_out_of_repr() -> None:
    connection = ConnectionSettings(
        bootstrap_servers="cell-1.streaming.us-phoenix-1.oci.oraclecloud.com:9092",
        username="tenancy/user@example.com/ocid1.streampool.oc1.phx.aaaa",
        password="secret-token-XYZ",
        properties={"linger.ms": "50"},
    )
    config = producer_config(connection)
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "PLAIN"
    assert config["enable.idempotence"] == "false"
    assert config["linger.ms"] == "50"
    assert "secret-token-XYZ" not in repr(connection)
    assert "secret-token-XYZ" not in str(redacted(config))


@pytest.mark.parametrize(
    "key", ["sasl.password", "sasl.username", "security.protocol", "bootstrap.servers"]
)
def test_credentials_and_protocol_cannot_be_set_through_kafka_properties(key: str) -> None:
    connection = ConnectionSettings(
        bootstrap_servers="b:9092", security_protocol="PLAINTEXT", properties={key: "x"}
    )
    with pytest.raises(ProducerConfigError, match=key):
        producer_config(connection)


def test_plaintext_sends_no_credentials() -> None:
    config = producer_config(
        ConnectionSettings(bootstrap_servers="b:9092", security_protocol="PLAINTEXT", username="u")
    )
    assert "sasl.username" not in config
    assert "sasl.password" not in config
