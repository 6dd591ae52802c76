"""Settings.from_env: the contract's configuration table, and one clear error per bad key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from function.core.decoding.records import RecordFormat
from function.errors import ConfigError
from function.settings import (
    BadRecordPolicy,
    KeyMode,
    OciAuth,
    SaslMechanism,
    SecurityProtocol,
    Settings,
    ValueFormat,
)

if TYPE_CHECKING:
    from pathlib import Path

OCI = {
    "STREAM_BOOTSTRAP_SERVERS": "cell-1.streaming.us-phoenix-1.oci.oraclecloud.com:9092",
    "STREAM_TOPIC": "uploads",
    "STREAM_USERNAME": "mytenancy/objstream@example.com/ocid1.streampool.oc1.phx.amaaaaaa",
    "STREAM_AUTH_TOKEN_SECRET_OCID": "ocid1.vaultsecret.oc1.phx.amaaaaaa",
}


def test_the_contracts_defaults_apply_when_only_the_required_keys_are_set() -> None:
    settings = Settings.from_env(OCI)
    assert settings.security_protocol is SecurityProtocol.SASL_SSL
    assert settings.sasl_mechanism is SaslMechanism.PLAIN
    assert settings.oci_auth is OciAuth.RESOURCE_PRINCIPAL
    assert settings.record_format is RecordFormat.AUTO
    assert settings.bad_record_policy is BadRecordPolicy.DEAD_LETTER
    assert settings.dlq_topic == "uploads"
    assert settings.key_mode is KeyMode.OBJECT
    assert settings.value_format is ValueFormat.JSON
    assert settings.oci_config_file == "~/.oci/config"
    assert settings.oci_config_profile == "DEFAULT"


def test_kafka_prefixed_keys_become_librdkafka_properties() -> None:
    settings = Settings.from_env({**OCI, "KAFKA_LINGER_MS": "50", "KAFKA_COMPRESSION_TYPE": "lz4"})
    assert settings.kafka_properties == {"linger.ms": "50", "compression.type": "lz4"}


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        pytest.param("STREAM_BOOTSTRAP_SERVERS", "STREAM_BOOTSTRAP_SERVERS", id="bootstrap"),
        pytest.param("STREAM_TOPIC", "STREAM_TOPIC", id="topic"),
        pytest.param("STREAM_USERNAME", "STREAM_USERNAME", id="username-with-sasl"),
        pytest.param(
            "STREAM_AUTH_TOKEN_SECRET_OCID", "STREAM_AUTH_TOKEN_SECRET_OCID", id="token-with-sasl"
        ),
    ],
)
def test_a_missing_required_setting_names_its_key(missing: str, named: str) -> None:
    env = {k: v for k, v in OCI.items() if k != missing}
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("STREAM_SECURITY_PROTOCOL", "TLS", id="protocol"),
        pytest.param("STREAM_SASL_MECHANISM", "GSSAPI", id="mechanism"),
        pytest.param("OCI_AUTH", "password", id="oci-auth"),
        pytest.param("RECORD_FORMAT", "xml", id="format"),
        pytest.param("BAD_RECORD_POLICY", "ignore", id="policy"),
        pytest.param("RECORD_KEY", "random", id="key"),
        pytest.param("MAX_MESSAGE_BYTES", "lots", id="not-a-number"),
        pytest.param("CSV_DELIMITER", "::", id="delimiter"),
        pytest.param("CONNECT_COLUMN_TYPES", "amount:money", id="column-type"),
        pytest.param("MESSAGE_PACKING", "gzip", id="packing"),
        pytest.param("PACK_MAX_RECORDS", "0", id="pack-max-records-zero"),
        pytest.param("PACK_MAX_RECORDS", "many", id="pack-max-records-not-a-number"),
    ],
)
def test_a_malformed_value_names_its_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Settings.from_env({**OCI, key: value})


def test_credentials_are_not_needed_without_sasl() -> None:
    settings = Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "localhost:9092",
            "STREAM_TOPIC": "t",
            "STREAM_SECURITY_PROTOCOL": "plaintext",
        }
    )
    assert settings.security_protocol is SecurityProtocol.PLAINTEXT


def test_both_token_sources_at_once_is_contradictory() -> None:
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env({**OCI, "STREAM_AUTH_TOKEN": "tok"})


def test_a_ca_file_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STREAM_SSL_CA_LOCATION"):
        Settings.from_env({**OCI, "STREAM_SSL_CA_LOCATION": str(tmp_path / "nope.pem")})


def test_the_auth_token_never_appears_in_repr() -> None:
    env = {k: v for k, v in OCI.items() if k != "STREAM_AUTH_TOKEN_SECRET_OCID"}
    settings = Settings.from_env({**env, "STREAM_AUTH_TOKEN": "tok-SECRET-123"})
    assert "tok-SECRET-123" not in repr(settings)
    assert settings.password_source == "STREAM_AUTH_TOKEN"


@pytest.mark.parametrize(
    ("raw", "mode", "field"),
    [
        pytest.param("object", KeyMode.OBJECT, None, id="object"),
        pytest.param("none", KeyMode.NONE, None, id="none"),
        pytest.param("field:customer_id", KeyMode.FIELD, "customer_id", id="field"),
    ],
)
def test_record_key_modes(raw: str, mode: KeyMode, field: str | None) -> None:
    settings = Settings.from_env({**OCI, "RECORD_KEY": raw})
    assert settings.key_mode is mode
    assert settings.key_field == field


def test_a_field_key_needs_a_field_name() -> None:
    with pytest.raises(ConfigError, match="RECORD_KEY"):
        Settings.from_env({**OCI, "RECORD_KEY": "field:"})


def test_dead_letters_can_go_to_their_own_topic() -> None:
    assert Settings.from_env({**OCI, "STREAM_DLQ_TOPIC": "uploads-dlq"}).dlq_topic == "uploads-dlq"


def test_packing_and_connect_envelopes_together_name_both_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**OCI, "MESSAGE_PACKING": "jsonl", "VALUE_FORMAT": "connect-json"})
    assert "MESSAGE_PACKING=jsonl" in str(caught.value)
    assert "VALUE_FORMAT=connect-json" in str(caught.value)


def test_packing_is_off_by_default_and_packs_hold_at_most_10000_records() -> None:
    settings = Settings.from_env(OCI)
    assert (settings.message_packing, settings.pack_max_records) == ("none", 10_000)
    packed = Settings.from_env({**OCI, "MESSAGE_PACKING": "jsonl", "PACK_MAX_RECORDS": "500"})
    assert (packed.message_packing, packed.pack_max_records) == ("jsonl", 500)


def test_a_producer_queue_smaller_than_one_message_is_refused_naming_both_keys() -> None:
    # librdkafka never queues a message larger than its whole queue: a publication would wait
    # for room forever.
    too_small = r"KAFKA_QUEUE_BUFFERING_MAX_KBYTES=256 holds .* MAX_MESSAGE_BYTES=1000000"
    with pytest.raises(ConfigError, match=too_small):
        Settings.from_env({**OCI, "KAFKA_QUEUE_BUFFERING_MAX_KBYTES": "256"})
    with pytest.raises(ConfigError, match="KAFKA_QUEUE_BUFFERING_MAX_KBYTES='lots'"):
        Settings.from_env({**OCI, "KAFKA_QUEUE_BUFFERING_MAX_KBYTES": "lots"})
    fits = Settings.from_env(
        {**OCI, "KAFKA_QUEUE_BUFFERING_MAX_KBYTES": "256", "MAX_MESSAGE_BYTES": "262144"}
    )
    assert fits.kafka_properties["queue.buffering.max.kbytes"] == "256"
