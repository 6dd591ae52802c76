"""The messages objstream writes, per the contract: CloudEvents 1.0 in Kafka binary mode.

Pure: no I/O. Every message carries the headers `ce_specversion`, `ce_id`, `ce_source`,
`ce_type`, `ce_time`, `ce_subject` and `content-type`; the value is the event's data.
Records add `ce_recordindex` and `ce_etag`; packs of records (§5) `ce_recordcount` too. Ids
are derived from the object version, so a replay of the same event yields the same ids.

Per-object parts (key, the headers every record shares, the id prefix) are built once in
`ObjectMessages`; per-record work is two small byte strings and one list.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from function.core.decoding.records import RecordFormat

if TYPE_CHECKING:
    from function.core.decoding import InvalidRecord
    from function.core.events import ObjectEvent
    from kafka_client.types import Headers


SPECVERSION = b"1.0"
TYPE_RECORD = "objstream.record"
TYPE_RECORDS = "objstream.records"  # a pack of consecutive records (CONTRACT §5)
TYPE_INVALID = "objstream.record.invalid"
TYPE_PUBLISHED = "objstream.object.published"
TYPE_REJECTED = "objstream.object.rejected"
TYPE_CONTINUED = "objstream.object.continued"
JSON = b"application/json"
NDJSON = b"application/x-ndjson"

_CONTENT_TYPES: dict[RecordFormat, bytes] = {
    RecordFormat.CSV: JSON,
    RecordFormat.JSON: JSON,
    RecordFormat.JSONL: JSON,
    RecordFormat.LINES: b"text/plain; charset=utf-8",
    RecordFormat.RAW: b"application/octet-stream",
    RecordFormat.PARQUET: JSON,  # a row as a JSON object (the README's mapping table)
    RecordFormat.AVRO: JSON,
}


def object_version_id(event: ObjectEvent) -> str:
    """A stable id for one version of one object: the prefix of every record's `ce_id`.

    Derived from (namespace, bucket, object name, eTag); without an eTag, from the event id,
    so two events about unknown versions never share ids.
    """
    version = event.etag if event.etag is not None else f"event:{event.event_id}"
    material = f"{event.namespace}\x00{event.bucket}\x00{event.object_name}\x00{version}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for the publisher."""

    value: bytes
    headers: Headers


class ObjectMessages:
    """Builds every message about one object version."""

    __slots__ = (
        "_common",
        "_etag",
        "_id_prefix",
        "_pack_tail",
        "_record_tail",
        "event",
        "key",
        "version_id",
    )

    def __init__(self, event: ObjectEvent) -> None:
        self.event = event
        self.key = f"{event.namespace}/{event.bucket}/{event.object_name}".encode()
        self.version_id = object_version_id(event)
        self._id_prefix = f"{self.version_id}-".encode()
        self._etag = (event.etag or "").encode()
        self._common: Headers = [
            ("ce_source", event.resource_id.encode()),
            ("ce_time", event.event_time.encode()),
            ("ce_subject", event.object_name.encode()),
        ]
        self._record_tail: Headers = []
        head = self._headers(b"", TYPE_RECORDS, NDJSON)
        self._pack_tail: Headers = [*head[2:], ("ce_etag", self._etag)]

    def _headers(self, ce_id: bytes, ce_type: str, content_type: bytes) -> Headers:
        return [
            ("ce_specversion", SPECVERSION),
            ("ce_id", ce_id),
            *self._common,
            ("ce_type", ce_type.encode()),
            ("content-type", content_type),
        ]

    def event_message(self) -> Outgoing:
        """The OCI event exactly as received, first on the stream."""
        return Outgoing(
            self.event.raw,
            self._headers(self.event.event_id.encode(), self.event.event_type, JSON),
        )

    def start_records(self, record_format: RecordFormat) -> None:
        """Fix the content type of the records once the object's format is known."""
        head = self._headers(b"", TYPE_RECORD, _CONTENT_TYPES[record_format])
        self._record_tail = [*head[2:], ("ce_etag", self._etag)]

    def record_id(self, index: int) -> bytes:
        """Record `index`'s ce_id."""
        return self._id_prefix + str(index).encode()

    def record_headers(self, index: int) -> Headers:
        """Headers of record `index` (hot path: called once per record)."""
        number = str(index).encode()
        return [
            ("ce_specversion", SPECVERSION),
            ("ce_id", self._id_prefix + number),
            ("ce_recordindex", number),
            *self._record_tail,
        ]

    def pack_headers(self, first: int, count: int) -> Headers:
        """Headers of the pack of records `[first, first + count)` (CONTRACT §5).

        `ce_id` = `<object version id>-<first>-<last>`; each record in it keeps its own id,
        `<object version id>-<index>`, as in a message of its own.
        """
        number = str(first).encode()
        return [
            ("ce_specversion", SPECVERSION),
            ("ce_id", b"%s%s-%d" % (self._id_prefix, number, first + count - 1)),
            ("ce_recordindex", number),
            ("ce_recordcount", str(count).encode()),
            *self._pack_tail,
        ]

    def invalid_message(self, record: InvalidRecord, *, max_bytes: int) -> Outgoing:
        """A dead-letter message: the reason, the index, the byte range and the raw bytes."""
        number = str(record.index).encode()
        body: dict[str, Any] = {
            "reason": record.reason,
            "index": record.index,
            "start": record.start,
            "end": record.end,
            "object": self.object_fields(),
        }
        # Base64 grows bytes by 4/3; keep what fits in the message with room for the rest.
        room = max(0, (max_bytes - 4096 - len(orjson.dumps(body))) * 3 // 4)
        raw = record.raw[:room]
        body["raw"] = base64.b64encode(raw).decode("ascii")
        body["rawTruncated"] = len(raw) < record.end - record.start
        headers = self._headers(self._id_prefix + number, TYPE_INVALID, JSON)
        # No ce_recordindex: that header marks record messages, and only them (Kafka Connect
        # sinks keep records with a HasHeaderKey predicate on it); the index is in the body.
        headers.append(("ce_etag", self._etag))
        return Outgoing(orjson.dumps(body), headers)

    def published_marker(self, summary: dict[str, Any]) -> Outgoing:
        """The completion marker: sent only after every earlier message was acknowledged."""
        body = {**self.object_fields(), **summary}
        headers = self._headers(self._id_prefix + b"published", TYPE_PUBLISHED, JSON)
        headers.append(("ce_etag", self._etag))
        return Outgoing(orjson.dumps(body), headers)

    def checkpoint(self, segment: int, progress: dict[str, Any]) -> Outgoing:
        """Segment `segment` hands the rest of the object on (CONTRACT §2.4): sent only after
        every earlier message of the object was acknowledged. `progress` holds `nextIndex`,
        the counts so far and `resume`."""
        body = {**self.object_fields(), "segment": segment, **progress}
        ce_id = self._id_prefix + b"continued-" + str(segment).encode()
        headers = self._headers(ce_id, TYPE_CONTINUED, JSON)
        headers.append(("ce_etag", self._etag))
        return Outgoing(orjson.dumps(body), headers)

    def rejected_marker(self, reason: str, summary: dict[str, Any]) -> Outgoing:
        """The object can never be processed: why, and what was seen before that."""
        body = {**self.object_fields(), "reason": reason, **summary}
        headers = self._headers(self._id_prefix + b"rejected", TYPE_REJECTED, JSON)
        headers.append(("ce_etag", self._etag))
        return Outgoing(orjson.dumps(body), headers)

    def object_fields(self) -> dict[str, Any]:
        """The object version a message or an outcome is about."""
        event = self.event
        return {
            "namespace": event.namespace,
            "bucket": event.bucket,
            "object": event.object_name,
            "eTag": event.etag,
            "eventID": event.event_id,
            "eventType": event.event_type,
        }
