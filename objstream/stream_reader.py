"""The CLI's read side of the stream: the `tail` consumer and the `check` probe.

Both connect exactly as the function's producer does (`Settings.connection`, the same token
source: STREAM_AUTH_TOKEN or the Vault secret), but they are not producers: only the
connection-level properties are passed on (`kafka_client.config.connection_config`), so
librdkafka does not warn about producer-only ones.

A metadata request is how a client learns that it may talk to the broker: librdkafka reports
a refused login only through its error callback, so `read_topic_metadata` asks in short
steps and looks at the callback in between instead of waiting out one long timeout.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, KafkaException

from function.errors import ConfigError, StreamUnavailable
from kafka_client.config import connection_config
from kafka_client.errors import ProducerConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from function.settings import Settings

# librdkafka's own log lines (connection refused, retries, …), under the logger name the
# publisher uses too. On a terminal they are noise: the CLI reports what failed in one line,
# and `--debug` lets them through (see cli._configure_logging).
LIBRDKAFKA_LOGGER = logging.getLogger("kafka_client.librdkafka")

_TRANSPORT_CODES = frozenset(
    {
        KafkaError._TRANSPORT,  # noqa: SLF001 - librdkafka's public code names
        KafkaError._SSL,  # noqa: SLF001
        KafkaError._RESOLVE,  # noqa: SLF001
        KafkaError._ALL_BROKERS_DOWN,  # noqa: SLF001
    }
)
# One metadata attempt; short, so that an error callback is looked at between attempts.
_METADATA_STEP = 1.0


def auth_token(settings: Settings) -> str | None:
    """The SASL password as the function would get it (None when SASL is not used)."""
    if not settings.security_protocol.uses_sasl:
        return None
    from function.adapters.auth import OciSigning, token_source

    return token_source(settings, OciSigning(settings)).token()


def client_config(settings: Settings, token: str | None) -> dict[str, Any]:
    """librdkafka settings for a non-producer client; KAFKA_* checked as for the producer."""
    try:
        config: dict[str, Any] = connection_config(
            settings.connection(token), client_id="objstream-cli"
        )
    except ProducerConfigError as exc:
        raise ConfigError(str(exc)) from exc
    config["logger"] = LIBRDKAFKA_LOGGER
    return config


@dataclass
class ClientErrors:
    """librdkafka's error callback: remembers what matters to tell the user."""

    auth: KafkaError | None = None
    fatal: KafkaError | None = None
    transport: KafkaError | None = None
    seen: list[str] = field(default_factory=list)

    def __call__(self, error: KafkaError) -> None:
        code = error.code()
        if code == KafkaError._AUTHENTICATION:  # noqa: SLF001 - librdkafka's public code name
            self.auth = error
        elif error.fatal():
            self.fatal = error
        elif code in _TRANSPORT_CODES and (
            # The first transport error says most (e.g. the TLS failure before "all down").
            self.transport is None or self.transport.code() == KafkaError._ALL_BROKERS_DOWN  # noqa: SLF001
        ):
            self.transport = error
        self.seen.append(error.str())


def make_consumer(settings: Settings, token: str | None, errors: ClientErrors) -> Consumer:
    """A consumer that never commits, under a group id of its own (nobody else's offsets)."""
    config = {
        **client_config(settings, token),
        "group.id": f"objstream-cli-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "error_cb": errors,
    }
    try:
        return Consumer(config)
    except KafkaException as exc:
        raise ConfigError(
            f"the Kafka client refused the configuration: {exc.args[0].str()}"
        ) from exc


def read_topic_metadata(
    client: Any,
    settings: Settings,
    errors: ClientErrors,
    *,
    topic: str,
    timeout: float,
    serve: Callable[[], object] | None = None,
) -> Any:
    """The topic's metadata (confluent_kafka TopicMetadata), or StreamUnavailable saying why.

    `serve` serves the client's callbacks (its `poll(0)`); the error callback is what tells
    a refused login apart from a slow broker.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        metadata = None
        # A timeout raises KafkaException; the error callback says why, once served.
        with contextlib.suppress(KafkaException):
            metadata = client.list_topics(topic, timeout=max(0.1, min(_METADATA_STEP, remaining)))
        if serve is not None:
            serve()
        raise_for_errors(errors, settings)
        if metadata is not None:
            return _topic_of(metadata, topic, settings)
        if deadline - time.monotonic() <= 0:
            why = f" (last error: {errors.transport.str()})" if errors.transport else ""
            raise StreamUnavailable(
                StreamUnavailable.Kind.UNREACHABLE,
                f"no broker at {settings.bootstrap_servers} answered within {timeout:.0f} s{why};"
                " check STREAM_BOOTSTRAP_SERVERS and the network path to it",
            )


def raise_for_errors(errors: ClientErrors, settings: Settings) -> None:
    if errors.auth is not None:
        raise StreamUnavailable(
            StreamUnavailable.Kind.AUTH,
            f"the broker refused the login of {settings.username} "
            f"({settings.sasl_mechanism.value}): {errors.auth.str()}. {settings.password_hint}",
        )
    if errors.fatal is not None:
        raise StreamUnavailable(
            StreamUnavailable.Kind.UNREACHABLE, f"the Kafka client failed: {errors.fatal.str()}"
        )
    transport = errors.transport
    if transport is not None and transport.code() == KafkaError._SSL:  # noqa: SLF001
        raise StreamUnavailable(
            StreamUnavailable.Kind.TLS,
            f"TLS with {settings.bootstrap_servers} failed: {transport.str()}; check "
            "STREAM_SSL_CA_LOCATION (or the system CAs) and the host name in "
            "STREAM_BOOTSTRAP_SERVERS",
        )


def _topic_of(metadata: Any, topic: str, settings: Settings) -> Any:
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        reason = described.error.str() if described is not None else "not in the metadata"
        raise StreamUnavailable(
            StreamUnavailable.Kind.TOPIC,
            f"the stream (topic) {topic!r} is not available at {settings.bootstrap_servers}: "
            f"{reason}. Check STREAM_TOPIC and that the stream exists in the stream pool the "
            "user name points to",
        )
    return described
