"""librdkafka producer configuration for OCI Streaming's Kafka-compatible endpoint.

OCI Streaming speaks SASL_SSL with mechanism PLAIN; the user name is
`<tenancy>/<user>/<stream pool OCID>` and the password an auth token. It refuses idempotent
producers and messages over 1 MB. Everything else is librdkafka's own, and any producer property
can be set through `properties`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafka_client.errors import ProducerConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

# Set only through ConnectionSettings' own fields (or by the publisher itself), so that the
# password source and the security protocol are never split between two places.
RESERVED_PROPERTIES = frozenset(
    {
        "bootstrap.servers",
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "on_delivery",
        "error_cb",
        "throttle_cb",
    }
)
# Turning TLS verification off must be said in so many words; it is logged at every start.
_VERIFICATION = ("enable.ssl.certificate.verification", "ssl.endpoint.identification.algorithm")
# Every value that turns them off: librdkafka reads a boolean as false from "false", "f" or
# "0" (any case), and "none" is the identification algorithm that checks no host name.
_OFF_VALUES = frozenset({"false", "f", "0", "none", ""})

# objstream's defaults, chosen for OCI Streaming and a function with a deadline; any of them
# can be overridden with KAFKA_<PROPERTY>.
DEFAULTS: Mapping[str, str] = {
    "client.id": "objstream",
    "acks": "all",
    # OCI Streaming rejects idempotent producers (InitProducerId is not supported).
    "enable.idempotence": "false",
    # Without idempotence, a retried batch could land after the one behind it: one request in
    # flight per broker keeps an object's messages in file order (event, records, marker).
    "max.in.flight.requests.per.connection": "1",
    # One batch per request of up to 1 MB; a little linger fills batches at high rates.
    "linger.ms": "20",
    "batch.size": "1000000",
    # OCI Streaming's 1 MB limit applies to each request as well as to each message.
    "message.max.bytes": "1000000",
    # Bounded local queue: back-pressure (BufferError) instead of unbounded memory. A queued
    # message costs its value plus ~1.3 KB (nine headers, key, librdkafka's bookkeeping), so
    # this bounds the queue to ~40 MB whatever the records' size; 16 MiB is 16 s of a 1 MB/s
    # partition and still keeps a local broker busy at 100+ MB/s (bench/run.py, issue 6).
    "queue.buffering.max.kbytes": "16384",
    "queue.buffering.max.messages": "20000",
    # The invocation's deadline bounds delivery; this is only the outer limit.
    "message.timeout.ms": "300000",
    "socket.keepalive.enable": "true",
    "socket.connection.setup.timeout.ms": "10000",
    "reconnect.backoff.max.ms": "2000",
    # A successful delivery is implied by the queue draining; only failures call back.
    "delivery.report.only.error": "true",
}


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where and how to connect; the password is kept out of repr."""

    bootstrap_servers: str
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str = "PLAIN"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    # For error messages: what the caller's users call `properties`, and what they set
    # instead of each reserved property.
    properties_name: str = "properties"
    reserved_hint: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol authenticates with SASL."""
        return self.security_protocol.upper().startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        """Whether the protocol is encrypted."""
        return self.security_protocol.upper() in {"SSL", "SASL_SSL"}


# Properties the Python client reads itself (not librdkafka), which must be real booleans.
_PYTHON_BOOLEANS = {"delivery.report.only.error"}


def producer_config(connection: ConnectionSettings) -> dict[str, str | bool]:
    """The librdkafka configuration (callbacks excluded) for `connection`."""
    for key in connection.properties:
        if key in RESERVED_PROPERTIES:
            raise ProducerConfigError(
                f"the producer property {key} cannot be set with {connection.properties_name}: "
                f"use {connection.reserved_hint.get(key, 'its own setting')}"
            )
    config: dict[str, str | bool] = dict(DEFAULTS)
    config.update(connection.properties)
    for key in _PYTHON_BOOLEANS:
        config[key] = str(config[key]).strip().lower() in {"true", "1", "yes"}
    config["bootstrap.servers"] = connection.bootstrap_servers
    config["security.protocol"] = connection.security_protocol
    if connection.uses_sasl:
        if not connection.username or not connection.password:
            raise ProducerConfigError(
                f"security protocol {connection.security_protocol} needs a user name and an "
                "auth token"
            )
        config["sasl.mechanism"] = connection.sasl_mechanism
        config["sasl.username"] = connection.username
        config["sasl.password"] = connection.password
    if connection.uses_tls and connection.ssl_ca_location:
        config["ssl.ca.location"] = connection.ssl_ca_location
    for key in _VERIFICATION:
        value = connection.properties.get(key)
        if value is not None and value.strip().lower() in _OFF_VALUES:
            log.warning(
                "TLS verification is weakened by configuration (%s=%s): the broker's identity "
                "is not checked; never do this against OCI Streaming",
                key,
                value,
                extra={"property": key},
            )
    return config


# Properties that shape the connection, meaningful to every client type.
_CONNECTION_PREFIXES = (
    "bootstrap.",
    "security.",
    "sasl.",
    "ssl.",
    "enable.ssl.",
    "socket.",
    "client.",
    "broker.",
    "api.version",
    "reconnect.",
    "connections.",
    "metadata.",
    "topic.metadata.",
    "log.",
    "debug",
)


def connection_config(connection: ConnectionSettings, *, client_id: str) -> dict[str, str | bool]:
    """librdkafka settings for a client that is not a producer (a consumer, an admin client).

    The properties are checked as for the producer; only those that shape the connection (TLS,
    SASL, sockets, client id, debug) are kept, so librdkafka does not warn about producer-only
    ones. `client_id` applies unless the properties set one.
    """
    full = producer_config(connection)
    config = {key: value for key, value in full.items() if key.startswith(_CONNECTION_PREFIXES)}
    config["client.id"] = connection.properties.get("client.id", client_id)
    return config


def redacted(config: Mapping[str, object]) -> dict[str, object]:
    """A copy of a librdkafka configuration safe to log: secrets replaced."""
    return {
        key: "[redacted]" if "password" in key or "secret" in key else value
        for key, value in config.items()
        if not callable(value)
    }
