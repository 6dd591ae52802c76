"""The exceptions objstream raises, and what each means for an invocation.

    ObjstreamError                 base of everything objstream raises on purpose
    ├── ConfigError                a setting is missing or contradictory (names the key)
    ├── InvalidEvent               the invocation body is not a usable OCI event (200, JSON error)
    ├── ObjectRejected             the object can never be processed (rejected marker)
    ├── ObjectSkipped              nothing to do: gone, superseded, not an object event (200)
    └── TransientError             retrying can succeed; the handler raises (502), no marker
        ├── ObjectStorageError     Object Storage failed or timed out
        ├── VaultError             the auth token could not be read from OCI Vault
        ├── PublishError           the broker failed, refused or did not acknowledge in time
        └── DeadlineExceeded       the invocation's deadline came before the work was done

Messages say what the user should check; none ever contains a secret.
"""

from __future__ import annotations


class ObjstreamError(Exception):
    """Base of every error objstream raises on purpose."""


class ConfigError(ObjstreamError):
    """A setting is missing, malformed or contradicts another; the message names the key."""


class InvalidEvent(ObjstreamError):
    """The invocation body is not an OCI event objstream can read; the message names the field."""


class ObjectRejected(ObjstreamError):
    """The object can never be processed as it is: the stream gets a rejected marker."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ObjectSkipped(ObjstreamError):
    """There is nothing to publish for this event (object gone, superseded, not applicable)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(ObjstreamError):
    """A failure a retry of the same event can get past; the invocation answers 502."""


class ObjectStorageError(TransientError):
    """Object Storage could not be read (network, 429, 5xx, timeout)."""


class VaultError(TransientError):
    """The auth token could not be read from OCI Vault."""


class PublishError(TransientError):
    """The broker failed, refused the messages, or did not acknowledge them in time."""


class DeadlineExceeded(TransientError):
    """The invocation's deadline came before every message was acknowledged."""
