"""What lives as long as the function's container, and the one entry to the pipeline.

    handler (func.py) → Runtime.invoke → pipeline.parse, then pipeline.publish

Built on the first invocation and reused: the object reader, the token source (cached), one
producer. A producer that hit a fatal or authentication error is replaced; an authentication
failure also re-reads the token and, if it changed, tries once more within the same
invocation (a rotated token then costs no failed invocation).

kafka_client's errors are turned into the function's own here, with what to check.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeAlias

from function import pipeline
from function.errors import ConfigError, DeadlineExceeded, PublishError
from kafka_client.config import producer_config
from kafka_client.errors import (
    AuthenticationFailed,
    DeliveryTimedOut,
    ProducerConfigError,
    PublishFailed,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from function.core.deadline import Deadline
    from function.pipeline import Outcome
    from function.ports import ObjectReader, Publisher, TokenSource
    from function.settings import Settings

log = logging.getLogger(__name__)

# How the runtime makes its producer from a librdkafka configuration (a fake, in tests).
PublisherFactory: TypeAlias = "Callable[[Mapping[str, str | bool]], Publisher]"


def _stream_publisher(config: Mapping[str, str | bool]) -> Publisher:
    from kafka_client.publisher import StreamPublisher

    return StreamPublisher(config)


class Runtime:
    """The container-lifetime state and the invocation entry point."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: Callable[[], ObjectReader],
        tokens: Callable[[], TokenSource] | None,
        publisher_factory: PublisherFactory = _stream_publisher,
    ) -> None:
        self.settings = settings
        self._make_reader = reader
        self._make_tokens = tokens
        self._publisher_factory = publisher_factory
        self._reader: ObjectReader | None = None
        self._tokens: TokenSource | None = None
        self._publisher: Publisher | None = None

    @classmethod
    def for_oci(
        cls,
        settings: Settings,
        *,
        reader: ObjectReader | None = None,
        publisher_factory: PublisherFactory = _stream_publisher,
    ) -> Runtime:
        """The production wiring: Object Storage and Vault through the OCI SDK, as OCI_AUTH says.

        The workstation kit passes its own `reader` (local files), tests a `publisher_factory`;
        nothing else changes.
        """
        from function.adapters.auth import OciSigning, token_source

        signing = OciSigning(settings)

        def oci_reader() -> ObjectReader:
            from function.adapters.object_storage import OciObjectReader

            return OciObjectReader.from_settings(settings, *signing())

        return cls(
            settings,
            reader=oci_reader if reader is None else lambda: reader,
            tokens=lambda: token_source(settings, signing),
            publisher_factory=publisher_factory,
        )

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

    def publisher(self, deadline: Deadline | None = None) -> Publisher:
        """The producer for this container, built on first use (by `deadline`, if given)."""
        if self._publisher is None:
            try:
                config = producer_config(self.settings.connection(self._token(deadline)))
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
        parsed = pipeline.parse(body, call_id=call_id)
        if isinstance(parsed, pipeline.Outcome):
            return parsed
        for attempt in (1, 2):
            publisher = self.publisher(deadline)
            try:
                return pipeline.publish(
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
                    f"{exc}.{_username_hint(self.settings.username)} {self.settings.password_hint}"
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
