"""StreamPublisher against the real broker's OCI-like listener."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from kafka_client.config import ConnectionSettings, producer_config
from kafka_client.errors import AuthenticationFailed, BrokerUnreachable, PublishFailed
from kafka_client.publisher import StreamPublisher

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker


def _publisher(broker: Broker, **properties: str) -> StreamPublisher:
    listener = broker.sasl_ssl
    connection = ConnectionSettings(
        bootstrap_servers=listener.bootstrap_servers,
        username=listener.username,
        password=listener.password,
        ssl_ca_location=listener.ca_location,
        properties=properties,
    )
    return StreamPublisher(producer_config(connection), unreachable_grace=5)


def test_every_message_of_a_tiny_local_queue_arrives_in_order(broker: Broker, topic: str) -> None:
    publisher = _publisher(broker, **{"queue.buffering.max.messages": "10"})
    publisher.begin(time.monotonic() + 60)
    publisher.ensure_topic(topic)
    for n in range(3000):
        publisher.send(topic, str(n).encode(), b"same-key", [("n", str(n).encode())])
    publisher.settle()
    values = [m.value() for m in broker.consume(topic)]
    assert values == [str(n).encode() for n in range(3000)]


def test_a_missing_topic_is_named_before_anything_is_sent(broker: Broker) -> None:
    publisher = _publisher(broker)
    publisher.begin(time.monotonic() + 30)
    with pytest.raises(PublishFailed, match="no-such-stream"):
        publisher.ensure_topic("no-such-stream")


def test_a_wrong_token_is_an_authentication_failure_within_seconds(
    broker: Broker, topic: str
) -> None:
    listener = broker.sasl_ssl
    connection = ConnectionSettings(
        bootstrap_servers=listener.bootstrap_servers,
        username=listener.username,
        password="expired-token",
        ssl_ca_location=listener.ca_location,
    )
    publisher = StreamPublisher(producer_config(connection))
    publisher.begin(time.monotonic() + 60)
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        publisher.ensure_topic(topic)
    assert time.monotonic() - started < 10
    assert str(listener.username) in str(caught.value)
    assert "expired-token" not in str(caught.value)


def test_a_closed_port_is_unreachable_well_before_the_deadline() -> None:
    connection = ConnectionSettings(bootstrap_servers="127.0.0.1:1", security_protocol="PLAINTEXT")
    publisher = StreamPublisher(producer_config(connection), unreachable_grace=3)
    publisher.begin(time.monotonic() + 60)
    started = time.monotonic()
    with pytest.raises(BrokerUnreachable, match=r"127\.0\.0\.1:1"):
        publisher.ensure_topic("anything")
    assert time.monotonic() - started < 10
