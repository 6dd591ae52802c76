"""TLS: the broker's identity is checked, and the check cannot be lost by accident.

The session broker's SASL_SSL listener has a certificate from a private CA that names
`localhost` only. A CA that did not sign it, or an address the certificate does not name,
must fail the invocation (502); verification is on without any setting, and only a setting
that says it turns it off does, with a warning at every producer start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from function.errors import ConfigError, PublishError
from objstream.testing.scenario import function_env
from tests.faults.conftest import (
    fdk_function,
    invoke,
    running_runtime,
    unique,
    upload,
)

if TYPE_CHECKING:
    from pathlib import Path

    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

VERIFY_FAILED = "certificate verify failed"
WEAKENED = "TLS verification is weakened by configuration"


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


def _by_ip(broker: Broker) -> str:
    host, _, port = broker.sasl_ssl.bootstrap_servers.partition(":")
    assert host == "localhost"
    return f"127.0.0.1:{port}"


def _weakening(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.levelno == logging.WARNING and WEAKENED in r.getMessage()
    ]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param("wrong-ca", id="ca-that-did-not-sign-the-certificate"),
        pytest.param("ip-address", id="address-the-certificate-does-not-name"),
    ],
)
def test_a_broker_whose_identity_cannot_be_verified_fails_the_invocation(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path: Path,
    record_answer: RecordAnswer,
    fault: str,
) -> None:
    env = function_env(standin, tmp_path, broker.sasl_ssl, stream, DEADLINE_MARGIN_SECONDS="2")
    if fault == "wrong-ca":
        env["STREAM_SSL_CA_LOCATION"] = broker.info.wrong_ca_location
    else:
        env["STREAM_BOOTSTRAP_SERVERS"] = _by_ip(broker)
    name = unique("untrusted.jsonl")
    with running_runtime(env) as runtime:
        failed = invoke(runtime, upload(standin, name, b'{"a": 1}\n'), fn_deadline_in=8)
    record_answer(failed.seconds, failed.status, deadline=8, message=failed.error)
    assert isinstance(failed.error, PublishError), failed.outcome
    assert VERIFY_FAILED in str(failed.error)
    assert failed.answered_in_time


def test_an_unverifiable_broker_is_a_502_through_fdk_with_the_tls_error_in_the_body(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
) -> None:
    work = tmp_path_factory.mktemp("fdk")
    env = function_env(
        standin,
        work / "oci",
        broker.sasl_ssl,
        stream,
        STREAM_SSL_CA_LOCATION=broker.info.wrong_ca_location,
        DEADLINE_MARGIN_SECONDS="2",
    )
    with fdk_function(env, work) as function:
        reply = function.call(upload(standin, unique("untrusted.jsonl"), b"{}\n"), deadline_in=8)
    record_answer(reply.seconds, str(reply.status), deadline=8, message=reply.body)
    assert reply.status == 502
    assert VERIFY_FAILED.encode() in reply.body
    assert reply.seconds < 8


@pytest.mark.parametrize(
    ("setting", "value", "fault"),
    [
        pytest.param("KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION", "false", "wrong-ca", id="false"),
        pytest.param("KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION", "FALSE", "wrong-ca", id="FALSE"),
        pytest.param("KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION", "0", "wrong-ca", id="zero"),
        pytest.param("KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION", "f", "wrong-ca", id="f"),
        pytest.param(
            "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "none", "ip-address", id="no-hostname"
        ),
        pytest.param(
            "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "NONE", "ip-address", id="NO-HOSTNAME"
        ),
    ],
)
def test_every_setting_that_turns_verification_off_is_logged_as_a_warning(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    setting: str,
    value: str,
    fault: str,
) -> None:
    env = function_env(standin, tmp_path, broker.sasl_ssl, stream)
    env[setting] = value
    if fault == "wrong-ca":
        env["STREAM_SSL_CA_LOCATION"] = broker.info.wrong_ca_location
    else:
        env["STREAM_BOOTSTRAP_SERVERS"] = _by_ip(broker)
    caplog.set_level(logging.WARNING)
    with running_runtime(env) as runtime:
        attempt = invoke(runtime, upload(standin, unique("unverified.jsonl"), b"{}\n"))
    # The setting really does switch the check off (the broker is reached) …
    assert attempt.status == "published", attempt.error
    # … and says so.
    [warning] = _weakening(caplog)
    assert warning.name == "kafka_client.config"


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="nothing-set"),
        pytest.param({"KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION": "true"}, id="true"),
        pytest.param({"KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "https"}, id="https"),
        pytest.param({"STREAM_SECURITY_PROTOCOL": "sasl_ssl"}, id="protocol-in-lower-case"),
    ],
)
def test_settings_that_do_not_say_off_keep_verification_on(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    extra: dict[str, str],
) -> None:
    env = function_env(
        standin,
        tmp_path,
        broker.sasl_ssl,
        stream,
        STREAM_SSL_CA_LOCATION=broker.info.wrong_ca_location,
        DEADLINE_MARGIN_SECONDS="2",
    )
    env.update(extra)
    caplog.set_level(logging.WARNING)
    with running_runtime(env) as runtime:
        # As long a deadline as the other cases: with 5 s, a loaded machine's first
        # invocation (SDK import, Vault, the object) once left the TLS check too little time.
        failed = invoke(
            runtime, upload(standin, unique("checked.jsonl"), b"{}\n"), fn_deadline_in=8
        )
    assert isinstance(failed.error, PublishError), failed.outcome
    assert VERIFY_FAILED in str(failed.error)
    assert _weakening(caplog) == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        pytest.param("KAFKA_SSL_CA_LOCATION", "/etc/ssl/certs/ca-certificates.crt", id="ca"),
        pytest.param("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", id="protocol"),
        pytest.param("KAFKA_ENABLE_SSL_CERTIFICATE_VERIFICATION", "no", id="not-a-boolean"),
    ],
)
def test_tls_settings_through_kafka_properties_are_a_configuration_error_naming_the_key(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path: Path,
    setting: str,
    value: str,
) -> None:
    env = function_env(standin, tmp_path, broker.sasl_ssl, stream)
    env[setting] = value
    with running_runtime(env) as runtime:
        failed = invoke(runtime, upload(standin, unique("misconfigured.jsonl"), b"{}\n"))
    assert isinstance(failed.error, ConfigError), failed
    assert setting.removeprefix("KAFKA_").lower().replace("_", ".") in str(failed.error)
