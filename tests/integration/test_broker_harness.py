"""The test broker is real and configured like OCI Streaming: proven, not assumed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import KafkaError, Producer

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker


def _errors_within(config: dict[str, str], topic: str, seconds: float) -> list[KafkaError]:
    """Produce one message and collect the client's global errors for up to `seconds`."""
    errors: list[KafkaError] = []
    producer = Producer({**config, "error_cb": errors.append})
    producer.produce(topic, b"probe")
    deadline = time.monotonic() + seconds
    while not errors and time.monotonic() < deadline:
        producer.poll(0.1)
    producer.purge()
    producer.flush(1)
    return errors


def test_sasl_ssl_plain_round_trips_a_message_with_headers(broker: Broker, topic: str) -> None:
    config = broker.sasl_ssl.client_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "PLAIN"
    assert "/" in config["sasl.username"], "user names are shaped like OCI Streaming's"
    delivered: list[KafkaError | None] = []
    producer = Producer(config)
    producer.produce(
        topic,
        value=b'{"a": 1}',
        key=b"ns/bucket/object",
        headers=[("ce_id", b"id-1"), ("ce_type", b"objstream.record")],
        on_delivery=lambda err, _msg: delivered.append(err),
    )
    assert producer.flush(30) == 0
    assert delivered == [None]

    [message] = broker.consume(topic)
    assert message.key() == b"ns/bucket/object"
    assert message.value() == b'{"a": 1}'
    assert message.headers() == [("ce_id", b"id-1"), ("ce_type", b"objstream.record")]


def test_wrong_password_fails_with_an_authentication_error_within_seconds(
    broker: Broker, topic: str
) -> None:
    config = {**broker.sasl_ssl.client_config(), "sasl.password": "not-the-token"}
    started = time.monotonic()
    errors = _errors_within(config, topic, 10)
    elapsed = time.monotonic() - started
    assert errors, "no error reported in 10 s"
    assert errors[0].code() == KafkaError._AUTHENTICATION
    assert elapsed < 5


def test_ca_that_did_not_sign_the_broker_fails_the_tls_handshake(
    broker: Broker, topic: str
) -> None:
    config = {**broker.sasl_ssl.client_config(), "ssl.ca.location": broker.info.wrong_ca_location}
    errors = _errors_within(config, topic, 10)
    assert errors, "no error reported in 10 s"
    assert errors[0].code() in {
        KafkaError._SSL,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
    }
    assert "certificate verify failed" in str(errors[0])


def test_host_name_not_in_the_certificate_fails_verification(broker: Broker, topic: str) -> None:
    config = broker.sasl_ssl.client_config()
    port = config["bootstrap.servers"].rsplit(":", 1)[1]
    config["bootstrap.servers"] = f"127.0.0.1:{port}"  # the certificate names localhost only
    errors = _errors_within(config, topic, 10)
    assert errors, "no error reported in 10 s"
    assert "certificate verify failed" in str(errors[0]) or "hostname" in str(errors[0]).lower()


def test_sasl_plaintext_accepts_the_same_user(broker: Broker, topic: str) -> None:
    producer = Producer(broker.info.sasl_plaintext.client_config())
    producer.produce(topic, b"over sasl_plaintext")
    assert producer.flush(30) == 0
    assert [m.value() for m in broker.consume(topic)] == [b"over sasl_plaintext"]


def test_plaintext_listener_works_for_local_use(broker: Broker, topic: str) -> None:
    producer = Producer(broker.plaintext.client_config())
    producer.produce(topic, b"plain")
    assert producer.flush(30) == 0
    assert [m.value() for m in broker.consume(topic)] == [b"plain"]


def test_a_password_changed_while_running_takes_effect_on_the_next_login(
    broker: Broker, topic: str
) -> None:
    username = "tenancy2/rotating-user/ocid1.streampool.oc1.phx.rotation"
    broker.set_password(username, "first-token")
    config = {**broker.sasl_ssl.client_config(), "sasl.username": username}
    producer = Producer({**config, "sasl.password": "first-token"})
    producer.produce(topic, b"one")
    assert producer.flush(30) == 0
    broker.set_password(username, "second-token")
    errors = _errors_within({**config, "sasl.password": "first-token"}, topic, 10)
    assert errors
    assert errors[0].code() == KafkaError._AUTHENTICATION
