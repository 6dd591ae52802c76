"""The one settings object, built once from the function's configuration (environment).

Every configuration key objstream reads is named in this module and nowhere else. Secrets are
kept out of `repr` and never appear in an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from function.core.connect_values import ColumnType
from function.core.decoding.records import RecordFormat
from function.core.limits import OCI_MAX_MESSAGE_BYTES
from function.errors import ConfigError
from kafka_client.config import DEFAULTS, ConnectionSettings

if TYPE_CHECKING:
    from collections.abc import Mapping


class SecurityProtocol(StrEnum):
    """librdkafka's `security.protocol` values the contract allows."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_sasl(self) -> bool:
        """Whether credentials are sent."""
        return self in {SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL}

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is encrypted."""
        return self in {SecurityProtocol.SSL, SecurityProtocol.SASL_SSL}


class SaslMechanism(StrEnum):
    """SASL mechanisms; OCI Streaming speaks PLAIN."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class OciAuth(StrEnum):
    """How the OCI SDK signs its requests."""

    RESOURCE_PRINCIPAL = "resource_principal"
    INSTANCE_PRINCIPAL = "instance_principal"
    CONFIG_FILE = "config_file"


class BadRecordPolicy(StrEnum):
    """What happens to a record that cannot be decoded or does not fit in a message."""

    DEAD_LETTER = "dead-letter"
    SKIP = "skip"
    FAIL = "fail"


class ValueFormat(StrEnum):
    """How record values are written."""

    JSON = "json"  # the record itself (the contract's values)
    CONNECT_JSON = "connect-json"  # Kafka Connect JsonConverter envelope {schema, payload}


class KeyMode(StrEnum):
    """Which key record messages carry, and so how they spread over partitions."""

    OBJECT = "object"  # one object, one partition, file order kept (the contract's default)
    NONE = "none"  # no key: librdkafka spreads batches over partitions
    FIELD = "field"  # the value of one top-level field of the record


class ContinuationMode(StrEnum):
    """What happens when the deadline comes before the object's end (CONTRACT §4)."""

    DETACHED = "detached"  # hand the rest to a detached invocation of the function
    OFF = "off"  # answer 502 at the deadline; the retry starts over (v1)


class MessagePacking(StrEnum):
    """One record per message, or consecutive records packed into one (CONTRACT §5)."""

    NONE = "none"
    JSONL = "jsonl"


class MetricsMode(StrEnum):
    """Whether each invocation's figures go to OCI Monitoring."""

    AUTO = "auto"  # oci inside OCI Functions (resource principal), else off
    OCI = "oci"
    OFF = "off"


# OCI custom metric namespaces: letters, digits and underscores, not starting with oci_/oracle_.
_METRICS_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,254}")
_RESERVED_METRICS_PREFIXES = ("oci_", "oracle_")


_MAX_ROW_GROUP_BYTES = 64 * 1024**2


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an invocation needs to know, read once per container."""

    bootstrap_servers: str
    topic: str
    security_protocol: SecurityProtocol = SecurityProtocol.SASL_SSL
    sasl_mechanism: SaslMechanism = SaslMechanism.PLAIN
    username: str | None = None
    auth_token_secret_ocid: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    # repr=False: KAFKA_* may carry secrets (ssl.key.password, sasl.oauthbearer.client.secret…).
    kafka_properties: Mapping[str, str] = field(default_factory=dict, repr=False)
    oci_auth: OciAuth = OciAuth.RESOURCE_PRINCIPAL
    oci_config_file: str = "~/.oci/config"
    oci_config_profile: str = "DEFAULT"
    object_storage_endpoint: str | None = None
    secrets_endpoint: str | None = None
    record_format: RecordFormat = RecordFormat.AUTO
    bad_record_policy: BadRecordPolicy = BadRecordPolicy.DEAD_LETTER
    dlq_topic: str = ""
    # Extensions beyond the contract's table, documented in the README.
    key_mode: KeyMode = KeyMode.OBJECT
    key_field: str | None = None
    csv_delimiter: str | None = None
    value_format: ValueFormat = ValueFormat.JSON
    column_types: Mapping[str, ColumnType] = field(default_factory=dict)
    infer_types: bool = False
    record_id_field: str = "objstream_id"
    max_message_bytes: int = OCI_MAX_MESSAGE_BYTES
    max_object_bytes: int = 10 * 1024**3
    max_compression_ratio: int = 200
    # A Parquet row group / an Avro block, uncompressed: peak memory is about 160 MiB + 5 times it
    # (measured, tests/e2e/test_large_parquet_memory.py), so 64 MiB fits a 512 MB function.
    max_row_group_bytes: int = _MAX_ROW_GROUP_BYTES
    deadline_margin_seconds: float = 5.0
    # v2: objects larger than one invocation (CONTRACT §4)
    continuation: ContinuationMode = ContinuationMode.DETACHED
    function_ocid: str | None = None  # FUNCTION_OCID, else FN_FN_ID (set by OCI Functions)
    function_invoke_endpoint: str | None = None
    functions_endpoint: str | None = None  # the management API (GetFunction), for overrides
    continuation_max_attempts: int = 5
    # v2: packed messages (CONTRACT §5)
    message_packing: MessagePacking = MessagePacking.NONE
    pack_max_records: int = 10_000
    # v2: metrics in OCI Monitoring
    metrics: MetricsMode = MetricsMode.AUTO
    metrics_namespace: str = "objstream"
    metrics_compartment_ocid: str | None = None
    monitoring_endpoint: str | None = None
    in_oci_functions: bool = False  # FN_FN_ID and a resource principal are present
    # OCI Functions tracing (set by OCI when the application's tracing is on), for the spans
    tracing_enabled: bool = False  # OCI_TRACING_ENABLED=1
    trace_collector_url: str | None = None  # OCI_TRACE_COLLECTOR_URL: the APM collector (Zipkin)

    @property
    def continues(self) -> bool:
        """Whether an object the deadline cuts short is handed to a detached invocation."""
        return self.continuation is ContinuationMode.DETACHED and self.function_ocid is not None

    @property
    def sends_traces(self) -> bool:
        """Whether OCI Functions tracing is on and there is a collector to send spans to."""
        return self.tracing_enabled and bool(self.trace_collector_url)

    @property
    def posts_metrics(self) -> bool:
        """Whether each invocation's figures are posted to OCI Monitoring."""
        if self.metrics is MetricsMode.AUTO:
            return self.in_oci_functions
        return self.metrics is MetricsMode.OCI

    def __post_init__(self) -> None:
        if not self.dlq_topic:
            object.__setattr__(self, "dlq_topic", self.topic)

    @property
    def password_source(self) -> str:
        """Where the SASL password comes from, in words (never the password)."""
        if self.auth_token is not None:
            return "STREAM_AUTH_TOKEN"
        return f"the Vault secret {self.auth_token_secret_ocid}"

    @property
    def password_hint(self) -> str:
        """What to check when the broker refuses the login (said by the function and the CLI)."""
        return (
            f"The password is the auth token from {self.password_source}: check that it is"
            " current and belongs to that user, and that STREAM_USERNAME is"
            " <tenancy name>/<user name>/<stream pool OCID>"
        )

    def connection(self, password: str | None) -> ConnectionSettings:
        """How every client of the stream connects (producer, the CLI's consumer), with `password`.

        The producer's request limit follows MAX_MESSAGE_BYTES unless KAFKA_MESSAGE_MAX_BYTES
        sets it on its own.
        """
        return ConnectionSettings(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol=self.security_protocol.value,
            sasl_mechanism=self.sasl_mechanism.value,
            username=self.username,
            password=password,
            ssl_ca_location=self.ssl_ca_location,
            properties={"message.max.bytes": str(self.max_message_bytes), **self.kafka_properties},
            properties_name="KAFKA_*",
            reserved_hint=_RESERVED_PROPERTY_KEYS,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and check the configuration; raise ConfigError naming the first bad key."""
        reader = _Reader(env)
        settings = cls(
            bootstrap_servers=reader.required("STREAM_BOOTSTRAP_SERVERS"),
            topic=reader.required("STREAM_TOPIC"),
            security_protocol=reader.choice(
                "STREAM_SECURITY_PROTOCOL", SecurityProtocol, SecurityProtocol.SASL_SSL
            ),
            sasl_mechanism=reader.choice(
                "STREAM_SASL_MECHANISM", SaslMechanism, SaslMechanism.PLAIN
            ),
            username=reader.optional("STREAM_USERNAME"),
            auth_token_secret_ocid=reader.optional("STREAM_AUTH_TOKEN_SECRET_OCID"),
            auth_token=reader.optional("STREAM_AUTH_TOKEN"),
            ssl_ca_location=reader.optional("STREAM_SSL_CA_LOCATION"),
            kafka_properties=_kafka_properties(env),
            oci_auth=reader.choice("OCI_AUTH", OciAuth, OciAuth.RESOURCE_PRINCIPAL),
            oci_config_file=reader.optional("OCI_CONFIG_FILE") or "~/.oci/config",
            oci_config_profile=reader.optional("OCI_CONFIG_PROFILE") or "DEFAULT",
            object_storage_endpoint=reader.optional("OBJECT_STORAGE_ENDPOINT"),
            secrets_endpoint=reader.optional("VAULT_SECRETS_ENDPOINT"),
            record_format=reader.choice("RECORD_FORMAT", RecordFormat, RecordFormat.AUTO),
            bad_record_policy=reader.choice(
                "BAD_RECORD_POLICY", BadRecordPolicy, BadRecordPolicy.DEAD_LETTER
            ),
            dlq_topic=reader.optional("STREAM_DLQ_TOPIC") or "",
            key_mode=_key_mode(reader),
            key_field=_key_field(reader),
            csv_delimiter=_csv_delimiter(reader),
            value_format=reader.choice("VALUE_FORMAT", ValueFormat, ValueFormat.JSON),
            column_types=_column_types(reader),
            infer_types=reader.flag("CONNECT_INFER_TYPES", default=False),
            record_id_field=reader.optional("CONNECT_ID_FIELD") or "objstream_id",
            max_message_bytes=reader.integer(
                "MAX_MESSAGE_BYTES",
                OCI_MAX_MESSAGE_BYTES,
                low=64 * 1024,
                high=OCI_MAX_MESSAGE_BYTES * 8,
            ),
            max_object_bytes=reader.integer("MAX_OBJECT_BYTES", 10 * 1024**3, low=1),
            max_compression_ratio=reader.integer("MAX_COMPRESSION_RATIO", 200, low=1),
            max_row_group_bytes=reader.integer(
                "MAX_ROW_GROUP_BYTES", _MAX_ROW_GROUP_BYTES, low=64 * 1024
            ),
            deadline_margin_seconds=reader.number("DEADLINE_MARGIN_SECONDS", 5.0, low=0.0),
            continuation=reader.choice("CONTINUATION", ContinuationMode, ContinuationMode.DETACHED),
            function_ocid=reader.optional("FUNCTION_OCID") or reader.optional("FN_FN_ID"),
            function_invoke_endpoint=reader.optional("FUNCTION_INVOKE_ENDPOINT"),
            functions_endpoint=reader.optional("FUNCTIONS_ENDPOINT"),
            continuation_max_attempts=reader.integer(
                "CONTINUATION_MAX_ATTEMPTS", 5, low=1, high=100
            ),
            message_packing=reader.choice("MESSAGE_PACKING", MessagePacking, MessagePacking.NONE),
            pack_max_records=reader.integer("PACK_MAX_RECORDS", 10_000, low=1, high=1_000_000),
            metrics=reader.choice("METRICS", MetricsMode, MetricsMode.AUTO),
            metrics_namespace=reader.optional("METRICS_NAMESPACE") or "objstream",
            metrics_compartment_ocid=reader.optional("METRICS_COMPARTMENT_OCID"),
            monitoring_endpoint=reader.optional("MONITORING_ENDPOINT"),
            in_oci_functions=bool(
                reader.optional("FN_FN_ID") and reader.optional("OCI_RESOURCE_PRINCIPAL_VERSION")
            ),
            tracing_enabled=reader.flag("OCI_TRACING_ENABLED", default=False),
            trace_collector_url=reader.optional("OCI_TRACE_COLLECTOR_URL"),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Reject contradictory combinations, naming the key to fix."""
        if self.security_protocol.uses_sasl:
            if not self.username:
                raise ConfigError(
                    f"STREAM_USERNAME is required with STREAM_SECURITY_PROTOCOL="
                    f"{self.security_protocol}; for OCI Streaming it is "
                    "<tenancy name>/<user name>/<stream pool OCID>"
                )
            if self.auth_token is None and not self.auth_token_secret_ocid:
                raise ConfigError(
                    "STREAM_AUTH_TOKEN_SECRET_OCID (or, for local development, STREAM_AUTH_TOKEN)"
                    f" is required with STREAM_SECURITY_PROTOCOL={self.security_protocol}"
                )
            if self.auth_token is not None and self.auth_token_secret_ocid:
                raise ConfigError(
                    "set either STREAM_AUTH_TOKEN_SECRET_OCID or STREAM_AUTH_TOKEN, not both"
                )
        if self.ssl_ca_location and not Path(self.ssl_ca_location).expanduser().is_file():
            raise ConfigError(
                f"STREAM_SSL_CA_LOCATION={self.ssl_ca_location} is not a readable file"
            )
        if (
            self.message_packing is MessagePacking.JSONL
            and self.value_format is ValueFormat.CONNECT_JSON
        ):
            raise ConfigError(
                "MESSAGE_PACKING=jsonl cannot be combined with VALUE_FORMAT=connect-json: a Kafka"
                " Connect sink wants one row per message"
            )
        if not _METRICS_NAMESPACE.fullmatch(self.metrics_namespace) or (
            self.metrics_namespace.startswith(_RESERVED_METRICS_PREFIXES)
        ):
            raise ConfigError(
                f"METRICS_NAMESPACE={self.metrics_namespace!r} must be lower-case letters, digits"
                " and underscores, start with a letter, and not start with oci_ or oracle_"
            )
        if (
            self.metrics is MetricsMode.OCI
            and not self.in_oci_functions
            and not self.metrics_compartment_ocid
        ):
            raise ConfigError(
                "METRICS_COMPARTMENT_OCID is required with METRICS=oci outside OCI Functions"
            )
        self._check_queue_holds_a_message()
        if (self.key_mode is KeyMode.FIELD) != bool(self.key_field):
            raise ConfigError("RECORD_KEY=field:<name> needs a field name, e.g. field:customer_id")

    def _check_queue_holds_a_message(self) -> None:
        """The producer's local queue must hold one message of the largest size.

        librdkafka refuses a message larger than `queue.buffering.max.kbytes` even when its
        queue is empty, so a publication would wait for room that never comes (a pack, which
        fills up to MAX_MESSAGE_BYTES, is the first to hit it).
        """
        raw = self.kafka_properties.get(_QUEUE_KBYTES, DEFAULTS[_QUEUE_KBYTES])
        try:
            kbytes = int(raw)
        except ValueError:
            raise ConfigError(
                f"KAFKA_QUEUE_BUFFERING_MAX_KBYTES={raw!r} is not a whole number"
            ) from None
        if kbytes * 1024 < self.max_message_bytes:
            raise ConfigError(
                f"KAFKA_QUEUE_BUFFERING_MAX_KBYTES={kbytes} holds less than one message of "
                f"MAX_MESSAGE_BYTES={self.max_message_bytes}: set it to at least "
                f"{-(-self.max_message_bytes // 1024)} (or lower MAX_MESSAGE_BYTES)"
            )


_QUEUE_KBYTES = "queue.buffering.max.kbytes"

_E = TypeVar("_E", bound=StrEnum)

_PROPERTY_PREFIX = "KAFKA_"
# The settings that stand for the producer properties KAFKA_* may not set.
_RESERVED_PROPERTY_KEYS: Mapping[str, str] = {
    "bootstrap.servers": "STREAM_BOOTSTRAP_SERVERS",
    "security.protocol": "STREAM_SECURITY_PROTOCOL",
    "sasl.mechanism": "STREAM_SASL_MECHANISM",
    "sasl.mechanisms": "STREAM_SASL_MECHANISM",
    "sasl.username": "STREAM_USERNAME",
    "sasl.password": "STREAM_AUTH_TOKEN_SECRET_OCID or STREAM_AUTH_TOKEN",
    "ssl.ca.location": "STREAM_SSL_CA_LOCATION",
    "on_delivery": "(set by objstream)",
    "error_cb": "(set by objstream)",
    "throttle_cb": "(set by objstream)",
}


def _kafka_properties(env: Mapping[str, str]) -> dict[str, str]:
    """`KAFKA_LINGER_MS=50` → `linger.ms=50`: any librdkafka producer property."""
    return {
        key[len(_PROPERTY_PREFIX) :].lower().replace("_", "."): value
        for key, value in env.items()
        if key.startswith(_PROPERTY_PREFIX) and len(key) > len(_PROPERTY_PREFIX)
    }


def _key_mode(reader: _Reader) -> KeyMode:
    raw = reader.optional("RECORD_KEY") or KeyMode.OBJECT.value
    mode, _, _ = raw.partition(":")
    try:
        return KeyMode(mode)
    except ValueError:
        raise ConfigError(f"RECORD_KEY={raw!r} is not one of: object, none, field:<name>") from None


def _key_field(reader: _Reader) -> str | None:
    raw = reader.optional("RECORD_KEY") or ""
    mode, _, name = raw.partition(":")
    return name or None if mode == KeyMode.FIELD.value else None


def _column_types(reader: _Reader) -> dict[str, ColumnType]:
    """`CONNECT_COLUMN_TYPES=amount:float64,qty:int64` → {"amount": float64, "qty": int64}."""
    raw = reader.optional("CONNECT_COLUMN_TYPES")
    if raw is None:
        return {}
    types: dict[str, ColumnType] = {}
    for part in raw.split(","):
        name, _, kind = part.strip().rpartition(":")
        try:
            types[name or ""] = ColumnType.parse(kind)
        except ValueError as exc:
            problem = str(exc)
        else:
            if name:
                continue
            problem = "no column name"
        raise ConfigError(
            f"CONNECT_COLUMN_TYPES entry {part.strip()!r} is not <column>:<type>: {problem}"
        )
    return types


def _csv_delimiter(reader: _Reader) -> str | None:
    raw = reader.optional("CSV_DELIMITER")
    if raw is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    delimiter = named.get(raw.lower(), raw)
    if len(delimiter) != 1:
        raise ConfigError(
            f"CSV_DELIMITER={raw!r} must be one character (or tab, comma, semicolon, pipe)"
        )
    return delimiter


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads typed values out of the environment, naming the key in every error."""

    env: Mapping[str, str]

    def optional(self, key: str) -> str | None:
        value = self.env.get(key, "").strip()
        return value or None

    def required(self, key: str) -> str:
        value = self.optional(key)
        if value is None:
            raise ConfigError(f"{key} is required but not set")
        return value

    def choice(self, key: str, kind: type[_E], default: _E) -> _E:
        value = self.optional(key)
        if value is None:
            return default
        for member in kind:
            if member.value.lower() == value.lower():
                return member
        allowed = ", ".join(member.value for member in kind)
        raise ConfigError(f"{key}={value!r} is not one of: {allowed}")

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.optional(key)
        if value is None:
            return default
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{key}={value!r} is not true or false")

    def integer(self, key: str, default: int, *, low: int, high: int | None = None) -> int:
        value = self.optional(key)
        if value is None:
            return default
        try:
            number = int(value.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a whole number") from None
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{key}={number} must be {bound}")
        return number

    def number(self, key: str, default: float, *, low: float) -> float:
        value = self.optional(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a number") from None
        if number < low:
            raise ConfigError(f"{key}={number} must be at least {low}")
        return number
