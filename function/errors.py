"""Every exception objstream raises on purpose, and what each means. The whole tree:

    ObjstreamError                 base of everything objstream raises on purpose
    ├── ConfigError                a setting is missing or contradictory (names the key)
    ├── InvalidEvent               the invocation body is not a usable OCI event (200, JSON error)
    ├── ObjectRejected             the object can never be processed (rejected marker)
    ├── ObjectSkipped              nothing to do: gone, superseded, not an object event (200)
    ├── ConnectValueError          a record does not fit its Kafka Connect column type (an
    │                              invalid record, dead-lettered by BAD_RECORD_POLICY)
    ├── TransientError             retrying can succeed; the handler raises (502), no marker
    │   ├── ObjectStorageError     Object Storage failed or timed out
    │   ├── VaultError             the auth token could not be read from OCI Vault
    │   ├── PublishError           the broker failed, refused or did not acknowledge in time
    │   ├── HandOffError           the Functions invoke API did not take the continuation
    │   └── DeadlineExceeded       the invocation's deadline came before the work was done
    ├── TelemetryError             metrics or spans could not be sent: logged once per
    │                              container, never an invocation's outcome (best effort)
    └── WorkstationError           raised only by the workstation kit (objstream/), never in
        │                          the function: the CLI prints one line and exits non-zero
        ├── CliError               a command was called in a way that cannot work
        ├── StreamUnavailable      the stream cannot be read (unreachable, login, TLS, topic)
        └── FnServerError          fdk could not be started, or nothing answers on its socket

kafka_client has a small tree of its own (it knows nothing of objstream); the runtime turns
those errors into PublishError and DeadlineExceeded, saying what to check.

Messages say what the user should check; none ever contains a secret.
"""

from __future__ import annotations

from enum import StrEnum


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

    @classmethod
    def overwritten(cls, etag: str | None) -> ObjectSkipped:
        """The object is no longer the version the event is about (If-Match failed)."""
        return cls(
            f"object was overwritten since the event (eTag {etag}); a later event covers the"
            " new version"
        )


class ConnectValueError(ObjstreamError, ValueError):
    """A record cannot be written as a Kafka Connect value; the message names field and cause."""


class TransientError(ObjstreamError):
    """A failure a retry of the same event can get past; the invocation answers 502."""


class ObjectStorageError(TransientError):
    """Object Storage could not be read (network, 429, 5xx, timeout)."""


class VaultError(TransientError):
    """The auth token could not be read from OCI Vault."""


class PublishError(TransientError):
    """The broker failed, refused the messages, or did not acknowledge them in time."""


class HandOffError(TransientError):
    """The next segment could not be invoked (Functions invoke API, GetFunction): IAM, endpoint."""


class DeadlineExceeded(TransientError):
    """The invocation's deadline came before every message was acknowledged."""


class TelemetryError(ObjstreamError):
    """OCI Monitoring or the trace collector did not take an invocation's figures or spans."""


class WorkstationError(ObjstreamError):
    """An error of the workstation kit (the CLI, the local fn server, the stream reader)."""


class CliError(WorkstationError):
    """The command was called in a way that cannot work: a wrong path, a bad option value."""


class StreamUnavailable(WorkstationError):
    """The stream could not be read: broker unreachable, login refused, or no such topic."""

    class Kind(StrEnum):
        """Why, in the words the CLI's checks report."""

        UNREACHABLE = "unreachable"
        AUTH = "auth"
        TLS = "tls"
        TOPIC = "topic"

    def __init__(self, kind: StreamUnavailable.Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class FnServerError(WorkstationError):
    """fdk could not be started, or nothing answers on the socket; the message says why."""
