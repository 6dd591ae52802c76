"""What lives as long as the function's container: settings, OCI clients, the producer.

Built on the first invocation and reused: one Object Storage client, one Vault token (cached),
one librdkafka producer. A producer that hit a fatal or authentication error is replaced; an
authentication failure also re-reads the token from Vault and, if it changed, tries once more
within the same invocation (a rotated token then costs no failed invocation).

kafka_client's errors are turned into the function's own here, with what to check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from function.errors import ConfigError, DeadlineExceeded, PublishError
from function.pipeline import Outcome, parse, publish
from kafka_client.config import ConnectionSettings, producer_config
from kafka_client.errors import (
    AuthenticationFailed,
    DeliveryTimedOut,
    ProducerConfigError,
    PublishFailed,
)
from kafka_client.publisher import StreamPublisher

if TYPE_CHECKING:
    from function.deadline import Deadline
    from function.object_storage import ObjectReader
    from function.settings import Settings
    from function.vault import TokenSource

log = logging.getLogger(__name__)

PublisherFactory = Callable[[Mapping[str, str | bool]], StreamPublisher]


class Runtime:
    """The container-lifetime state and the invocation entry point."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: Callable[[], ObjectReader],
        tokens: Callable[[], TokenSource] | None,
        publisher_factory: PublisherFactory = StreamPublisher,
    ) -> None:
        self.settings = settings
        self._make_reader = reader
        self._make_tokens = tokens
        self._publisher_factory = publisher_factory
        self._reader: ObjectReader | None = None
        self._tokens: TokenSource | None = None
        self._publisher: StreamPublisher | None = None

    @classmethod
    def for_oci(cls, settings: Settings) -> Runtime:
        """Object Storage and Vault through the OCI SDK, signed as OCI_AUTH says."""
        from function import oci_auth
        from function.object_storage import OciObjectReader
        from function.vault import make_token_source

        signing: list[tuple[Any, Any]] = []

        def config_and_signer() -> tuple[Any, Any]:
            if not signing:
                signing.append(oci_auth.oci_config_and_signer(settings))
            return signing[0]

        def reader() -> ObjectReader:
            if settings.local_objects_dir:
                from function.local_objects import LocalObjectReader

                return LocalObjectReader(Path(settings.local_objects_dir))
            return OciObjectReader.from_settings(settings, *config_and_signer())

        def tokens() -> TokenSource:
            if settings.auth_token is not None:
                return make_token_source(settings, {}, None)
            return make_token_source(settings, *config_and_signer())

        return cls(settings, reader=reader, tokens=tokens)

    # -- lazily built parts -----------------------------------------------------------------

    @property
    def reader(self) -> ObjectReader:
        """The object reader, built on first use."""
        if self._reader is None:
            self._reader = self._make_reader()
        return self._reader

    def _token(self, deadline: Deadline | None) -> str | None:
        if not self.settings.security_protocol.uses_sasl or self._make_tokens is None:
            return None
        if self._tokens is None:
            self._tokens = self._make_tokens()
        return self._tokens.token(deadline=deadline)

    def publisher(self, deadline: Deadline | None = None) -> StreamPublisher:
        """The producer for this container, built on first use (by `deadline`, if given)."""
        if self._publisher is None:
            settings = self.settings
            connection = ConnectionSettings(
                bootstrap_servers=settings.bootstrap_servers,
                security_protocol=settings.security_protocol.value,
                sasl_mechanism=settings.sasl_mechanism.value,
                username=settings.username,
                password=self._token(deadline),
                ssl_ca_location=settings.ssl_ca_location,
                # The producer's request limit follows MAX_MESSAGE_BYTES unless set on its own.
                properties={
                    "message.max.bytes": str(settings.max_message_bytes),
                    **settings.kafka_properties,
                },
            )
            try:
                config = producer_config(connection)
                self._publisher = self._publisher_factory(config)
            except ProducerConfigError as exc:
                raise ConfigError(str(exc)) from exc
        return self._publisher

    def drop_publisher(self) -> None:
        """Discard the producer now; the next invocation builds a new one."""
        if self._publisher is not None:
            self._publisher.abort()
            self._publisher.close(timeout=0)  # destroyed now, not at the next gc
            self._publisher = None

    def close(self) -> None:
        """Flush and release the producer (end of a CLI run; containers just stop)."""
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    # -- one invocation ---------------------------------------------------------------------

    def invoke(self, body: bytes, deadline: Deadline, *, call_id: str | None = None) -> Outcome:
        """Process one invocation body; raises TransientError or ConfigError (→ 502)."""
        # Parse first: a malformed body or another kind of event is answered without touching
        # Vault, Object Storage or the broker (an outage there must not turn them into 502s).
        parsed = parse(body, call_id=call_id)
        if isinstance(parsed, Outcome):
            return parsed
        for attempt in (1, 2):
            publisher = self.publisher(deadline)
            try:
                return publish(
                    parsed,
                    settings=self.settings,
                    reader=self.reader,
                    publisher=publisher,
                    deadline=deadline,
                    call_id=call_id,
                )
            except AuthenticationFailed as exc:
                self.drop_publisher()
                if attempt == 1 and self._token_changed(deadline):
                    log.warning("authentication failed; retrying with the token re-read from Vault")
                    continue
                raise PublishError(
                    f"{exc}.{_username_hint(self.settings.username)} The password is the auth"
                    f" token from {self.settings.password_source}: check that it is current and"
                    " belongs to that user, and that STREAM_USERNAME is"
                    " <tenancy name>/<user name>/<stream pool OCID>"
                ) from exc
            except DeliveryTimedOut as exc:
                raise DeadlineExceeded(str(exc)) from exc
            except PublishFailed as exc:
                if exc.fatal:
                    self.drop_publisher()
                raise PublishError(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _token_changed(self, deadline: Deadline) -> bool:
        if self._tokens is None:
            return False
        before = self._tokens.token()
        return self._tokens.token(refresh=True, deadline=deadline) != before


def _username_hint(username: str | None) -> str:
    """The likely cause of a refusal when the user name is not shaped like OCI Streaming's."""
    # <tenancy name>/<user name>/<pool OCID>, or <tenancy>/<domain>/<user>/<pool OCID>
    parts = (username or "").split("/")
    if len(parts) < len(("tenancy", "user", "pool")) or not parts[-1].startswith(
        "ocid1.streampool."
    ):
        return (
            " STREAM_USERNAME does not end with a stream pool OCID (ocid1.streampool…), as"
            " OCI Streaming's user names do."
        )
    if parts[0].startswith("ocid1.tenancy."):
        return " STREAM_USERNAME starts with a tenancy OCID; OCI Streaming wants the tenancy name."
    return ""
