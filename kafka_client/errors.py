"""The exceptions kafka_client raises.

    KafkaClientError              base
    ├── ProducerConfigError       the producer cannot be built from this configuration
    └── PublishFailed             messages were not all acknowledged; a retry may succeed
        ├── AuthenticationFailed  the broker refused the credentials (check user name, token)
        ├── BrokerUnreachable     no broker answered within the grace period
        └── DeliveryTimedOut      the deadline came first; unsent messages were purged

Messages name the broker, the topic and the user name, never the password.
"""

from __future__ import annotations


class KafkaClientError(Exception):
    """Base of every error kafka_client raises on purpose."""


class ProducerConfigError(KafkaClientError):
    """The producer configuration is unusable."""


class PublishFailed(KafkaClientError):
    """Not every message was acknowledged by the broker."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        # A fatal error leaves the producer unusable: the owner must build a new one.
        self.fatal = fatal


class AuthenticationFailed(PublishFailed):
    """SASL authentication failed: the user name or the auth token is wrong or expired."""


class BrokerUnreachable(PublishFailed):
    """No broker could be reached (DNS, network, TLS handshake) within the grace period."""


class DeliveryTimedOut(PublishFailed):
    """The deadline came before every message was acknowledged."""
