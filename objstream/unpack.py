"""Records back from objstream's messages, for Python consumers: `unpack(message)`.

One function for both modes (CONTRACT §2 and §5): a packed message (`objstream.records`,
`MESSAGE_PACKING=jsonl`) gives one `UnpackedRecord` per JSON line, a record message
(`objstream.record`) gives one, and every other message (the OCI event, dead letters,
checkpoints, markers) gives none. Each record has its index in the object and its id, the same
in both modes (`<object version id>-<index>`), so a consumer deduplicates by `id` whichever
mode the function ran in:

    seen: set[str] = set()
    for message in consumer:                  # confluent_kafka, kafka-python, aiokafka…
        for record in unpack(message):
            if record.id in seen:
                continue
            seen.add(record.id)
            handle(record.index, record.value)

`message` may be a confluent-kafka `Message` (`headers()`, `value()`), a kafka-python or
aiokafka `ConsumerRecord` (`.headers`, `.value`), or a plain `(headers, value)` pair, headers
as a list of `(name, value)` pairs or a dict, values bytes or str.

`value` is the record's data: a JSON value (CSV, JSON, JSON lines, Parquet, Avro), a `str`
(a text line), or `bytes` (a raw chunk, never packed).

Standard library only: copy this file into a consumer that does not install objstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

__all__ = ["PACKED_TYPE", "RECORD_TYPE", "UnpackedRecord", "unpack"]

PACKED_TYPE = "objstream.records"
RECORD_TYPE = "objstream.record"

HeaderValue: TypeAlias = bytes | str | None
Headers: TypeAlias = "list[tuple[str, HeaderValue]] | dict[str, HeaderValue] | None"


class KafkaMessage(Protocol):
    """confluent-kafka's Message, as far as unpack uses it."""

    def headers(self) -> Any:
        """The headers: a list of (name, value) pairs, or None."""

    def value(self) -> Any:
        """The value (bytes), or None."""


@dataclass(frozen=True, slots=True)
class UnpackedRecord:
    """One record of an object, whichever kind of message carried it."""

    index: int  # `ce_recordindex`: the record's 0-based ordinal in the object
    id: str  # `<object version id>-<index>`: the same for the same record in every replay
    value: Any  # JSON value, str (text line) or bytes (raw chunk)


def unpack(message: KafkaMessage | Any | tuple[Headers, bytes | None]) -> list[UnpackedRecord]:
    """The records a message carries, in index order (none for non-record messages)."""
    headers, value = _parts(message)
    kind = headers.get("ce_type")
    if kind not in {PACKED_TYPE, RECORD_TYPE}:
        return []
    ce_id, index = headers.get("ce_id", ""), int(headers.get("ce_recordindex", "0"))
    data = value or b""
    if kind == RECORD_TYPE:
        return [UnpackedRecord(index, ce_id, _record_value(data, headers.get("content-type")))]
    # A pack's ce_id is `<object version id>-<first>-<last>`; its records' ids are
    # `<object version id>-<index>`, as in a message of their own.
    prefix = ce_id.rsplit("-", 2)[0]
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # every line ends with \n
    count = int(headers.get("ce_recordcount", str(len(lines))))
    if count != len(lines):
        msg = f"message {ce_id} says {count} records (ce_recordcount) and holds {len(lines)}"
        raise ValueError(msg)
    return [
        UnpackedRecord(index + n, f"{prefix}-{index + n}", json.loads(line))
        for n, line in enumerate(lines)
    ]


def _parts(message: Any) -> tuple[dict[str, str], bytes | None]:
    """Headers (as text) and value, from any of the message shapes unpack takes."""
    if isinstance(message, tuple):
        raw_headers, value = message
    elif callable(getattr(message, "headers", None)):  # confluent-kafka
        raw_headers, value = message.headers(), message.value()
    else:  # kafka-python, aiokafka
        raw_headers, value = message.headers, message.value
    pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers or []
    headers = {
        name: item.decode("utf-8") if isinstance(item, bytes) else item
        for name, item in pairs
        if item is not None
    }
    return headers, value.encode("utf-8") if isinstance(value, str) else value


def _record_value(data: bytes, content_type: str | None) -> Any:
    """A record message's value as its content type says: JSON, text or bytes."""
    kind = (content_type or "").split(";")[0].strip()
    if kind == "application/json":
        return json.loads(data)
    if kind.startswith("text/"):
        return data.decode("utf-8")
    return data
