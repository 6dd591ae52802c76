"""Building blocks for end-to-end tests: OCI events as OCI sends them, and reading the stream.

`oci_event()` is an Object Storage event as OCI Events delivers it (objstream.oci_events;
tests/unit/test_oci_events.py pins its shape to the saved samples in tests/events/).
`read_stream()` turns consumed messages into `Seen` values that are easy to assert on.
`function_env()` is the function's configuration for a listener, the token in a Vault secret.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from function.core.events import CREATE_OBJECT, UPDATE_OBJECT
from objstream.oci_events import object_event_body

if TYPE_CHECKING:
    from pathlib import Path

    from confluent_kafka import Message

    from objstream.testing.brokers import Broker
    from objstream.testing.jvm_kafka import Listener
    from objstream.testing.oci_standin import OciStandIn

CREATE = CREATE_OBJECT
UPDATE = UPDATE_OBJECT
# The saved samples' eventTime: tests see the same ce_time in every run.
EVENT_TIME = dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC)
oci_event = functools.partial(object_event_body, event_time=EVENT_TIME)


@dataclass(frozen=True)
class Seen:
    """One message as a consumer sees it."""

    type: str
    id: str
    subject: str
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    topic: str

    @property
    def index(self) -> int | None:
        """ce_recordindex, for records."""
        raw = self.headers.get("ce_recordindex")
        return int(raw) if raw is not None else None

    def json(self) -> Any:
        """The value parsed as JSON."""
        return json.loads(self.value)


def seen(message: Message) -> Seen:
    """A consumed message as `Seen`."""
    raw = message.headers() or []
    # Consumers get headers as a list of pairs; the stubs also allow a dict (producer side).
    pairs = list(raw.items()) if isinstance(raw, dict) else list(raw)
    headers: dict[str, bytes] = {}
    for name, value in pairs:
        headers[name] = value.encode() if isinstance(value, str) else (value or b"")
    return Seen(
        type=headers.get("ce_type", b"").decode(),
        id=headers.get("ce_id", b"").decode(),
        subject=headers.get("ce_subject", b"").decode(),
        key=message.key(),
        value=message.value() or b"",
        headers=headers,
        partition=message.partition() or 0,
        topic=message.topic() or "",
    )


def read_stream(broker: Broker, topic: str, *, subject: str | None = None) -> list[Seen]:
    """Every message in `topic` (optionally only those about one object), in offset order."""
    messages = [seen(m) for m in broker.consume(topic)]
    return [m for m in messages if subject is None or m.subject == subject]


def function_env(
    standin: OciStandIn,
    workdir: Path,
    listener: Listener,
    topic: str,
    *,
    secret_id: str | None = None,
    auth: Literal["config_file", "resource_principal"] = "config_file",
    **extra: str,
) -> dict[str, str]:
    """The function's configuration for `listener`, the token read from a Vault secret.

    The listener's password is stored in the secret (`secret_id`, or a fresh OCID); a test
    that wants another content puts the secret again after this call. `extra` adds or
    overrides configuration keys.
    """
    secret = secret_id or f"ocid1.vaultsecret.oc1.phx.amaaaaaa{uuid.uuid4().hex}"
    if listener.password is not None:
        standin.put_secret(secret, listener.password)
    env = {
        **standin.function_env(workdir, auth=auth),
        "STREAM_BOOTSTRAP_SERVERS": listener.bootstrap_servers,
        "STREAM_TOPIC": topic,
        "STREAM_SECURITY_PROTOCOL": listener.security_protocol,
    }
    if listener.sasl_mechanism:
        env["STREAM_USERNAME"] = listener.username or ""
        env["STREAM_AUTH_TOKEN_SECRET_OCID"] = secret
    if listener.ca_location:
        env["STREAM_SSL_CA_LOCATION"] = listener.ca_location
    env.update(extra)
    return env
