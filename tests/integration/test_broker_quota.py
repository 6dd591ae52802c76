"""The test broker can hold a producer to OCI Streaming's kind of limit: a produce quota.

OCI Streaming accepts 1 MB/s of writes per partition. `Broker.produce_quota` sets a Kafka client
quota; these tests prove that it throttles a one-partition producer with objstream's own
producer settings to about the quota (the broker says so in `throttle_time_ms`), and that
removing it gives the full speed back. Rates are ratios to the quota with wide bands: the
machine is shared, and Kafka's quota is an average over a few seconds that lets a burst through.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import Producer

from kafka_client.config import DEFAULTS, ConnectionSettings, producer_config
from objstream.testing.jvm_kafka import DEFAULT_USERNAME

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker
    from objstream.testing.jvm_kafka import Listener

pytestmark = pytest.mark.broker

QUOTA = 200 * 1024  # bytes per second
MESSAGE = 1024
TOTAL = 3 * 1024 * 1024  # bytes: a burst's worth and about ten seconds under the quota


def _burst(broker: Broker) -> int:
    """How many bytes the quota lets through before its first throttle (see jvm_kafka)."""
    windows = broker.process.quota_windows if broker.process is not None else 2
    return (windows - 1) * QUOTA


def _produce(listener: Listener, topic: str, total: int) -> tuple[float, list[int]]:
    """Produce `total` bytes of 1 KiB messages as objstream's producer would; return the time
    it took until all were acknowledged and the throttle times the broker reported (ms)."""
    throttles: list[int] = []

    def on_throttle(event: Any) -> None:
        throttles.append(round(event.throttle_time * 1000))

    connection = ConnectionSettings(
        listener.bootstrap_servers,
        listener.security_protocol,
        username=listener.username,
        password=listener.password,
        ssl_ca_location=listener.ca_location,
    )
    producer = Producer({**producer_config(connection), "throttle_cb": on_throttle})
    payload = b"q" * MESSAGE
    started = time.monotonic()
    for _ in range(total // MESSAGE):
        while True:
            try:
                producer.produce(topic, payload)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0, "not everything was delivered in 120 s"
    return time.monotonic() - started, throttles


@pytest.mark.parametrize(
    ("listener_name", "entity"),
    [
        pytest.param("sasl_ssl", {"user": DEFAULT_USERNAME}, id="sasl-ssl-user"),
        pytest.param("plaintext", {"client_id": DEFAULTS["client.id"]}, id="plaintext-client-id"),
    ],
)
def test_a_quota_holds_a_one_partition_producer_to_about_its_rate(
    broker: Broker, topic: str, listener_name: str, entity: dict[str, str]
) -> None:
    listener: Listener = getattr(broker.info, listener_name)
    with broker.produce_quota(QUOTA, **entity):
        seconds, throttles = _produce(listener, topic, TOTAL)
    # Past the burst, the rest went at about the quota: not faster than 1.5 x, and not so
    # slow that something other than the quota held it.
    rate = (TOTAL - _burst(broker)) / seconds
    assert 0.3 * QUOTA <= rate <= 1.5 * QUOTA, f"{rate / QUOTA:.2f} x the quota in {seconds:.1f} s"
    assert throttles, "the broker never reported a throttle time"
    assert max(throttles) > 0


def test_removing_the_quota_restores_full_speed(broker: Broker, topic: str) -> None:
    # Throttled first (the default entity: every client id), so that removing it matters.
    with broker.produce_quota(QUOTA):
        _, throttles = _produce(broker.sasl_ssl, topic, _burst(broker) + 2 * QUOTA)
    assert any(throttles)
    seconds, throttles = _produce(broker.sasl_ssl, topic, TOTAL)
    assert TOTAL / seconds > 10 * QUOTA, f"{TOTAL / seconds / QUOTA:.1f} x the quota"
    assert not any(throttles)
