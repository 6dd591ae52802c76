"""Building blocks for end-to-end tests: OCI events as OCI sends them, and reading the stream.

`oci_event()` fills the fields of a real createobject/updateobject event (tests/events/).
`read_stream()` turns consumed messages into `Seen` values that are easy to assert on.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confluent_kafka import Message

    from tests.support.brokers import Broker

EVENTS = Path(__file__).resolve().parent.parent / "events"
CREATE = "com.oraclecloud.objectstorage.createobject"
UPDATE = "com.oraclecloud.objectstorage.updateobject"


def oci_event(
    namespace: str,
    bucket: str,
    name: str,
    etag: str | None,
    *,
    event_type: str = CREATE,
    event_id: str | None = None,
) -> bytes:
    """An Object Storage event about `name`, shaped exactly like the saved sample."""
    sample = "updateobject.json" if event_type == UPDATE else "createobject.json"
    event = json.loads((EVENTS / sample).read_text("utf-8"))
    event["eventType"] = event_type
    event["eventID"] = event_id or str(uuid.uuid4())
    data = event["data"]
    data["resourceName"] = name
    data["resourceId"] = f"/n/{namespace}/b/{bucket}/o/{name}"
    details = data["additionalDetails"]
    details["namespace"] = namespace
    details["bucketName"] = bucket
    if etag is None:
        details.pop("eTag", None)
    else:
        details["eTag"] = etag
    return json.dumps(event).encode()


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
