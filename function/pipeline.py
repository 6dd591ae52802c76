"""One invocation, start to end: parse → read → decode → publish, and the outcome.

This is where the contract's outcome table lives (CONTRACT.md §3). The parts it composes are
behind small protocols, so tests swap in plain fakes:

- `ObjectReader.open(event, deadline)` → a readable body (Object Storage, or a local file);
- `Publisher` (kafka_client.StreamPublisher): begin / ensure_topic / send / settle / abort.

Order on the stream, one key per object: the OCI event, the records (and dead letters), then
exactly one terminal marker, sent only after everything before it was acknowledged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from function.connect_values import ConnectEnvelope, ConnectValueError
from function.errors import (
    InvalidEvent,
    ObjectRejected,
    ObjectSkipped,
)
from function.events import parse_event
from function.messages import ObjectMessages
from function.records import DecodeOptions, InvalidRecord, RecordDecoder
from function.settings import BadRecordPolicy, KeyMode, Settings, ValueFormat

if TYPE_CHECKING:
    from collections.abc import Callable

    from function.deadline import Deadline
    from function.events import ObjectEvent
    from function.messages import Headers
    from function.object_storage import ObjectBody, ObjectReader

log = logging.getLogger(__name__)

# Room kept in every record for the key and headers under the message limit.
HEADER_ROOM = 16 * 1024
# How often (in records) the deadline is looked at; a clock read per record would cost more.
_DEADLINE_EVERY = 256


class Publisher(Protocol):
    """What the pipeline needs of kafka_client.StreamPublisher."""

    def begin(self, deadline: float) -> None: ...
    def ensure_topic(self, topic: str) -> None: ...
    def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None: ...
    def settle(self) -> None: ...
    def abort(self) -> None: ...


@dataclass
class Outcome:
    """What an invocation answers (HTTP 200 with this JSON); failures raise instead."""

    status: str  # "published", "rejected", "skipped" or "error"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The response body."""
        return orjson.dumps({"status": self.status, **self.detail})


def process(
    body: bytes,
    *,
    settings: Settings,
    reader: ObjectReader,
    publisher: Publisher,
    deadline: Deadline,
    call_id: str | None = None,
) -> Outcome:
    """Handle one invocation body; raises TransientError (→ 502) when a retry is needed."""
    parsed = parse(body, call_id=call_id)
    if isinstance(parsed, Outcome):
        return parsed
    return publish(
        parsed,
        settings=settings,
        reader=reader,
        publisher=publisher,
        deadline=deadline,
        call_id=call_id,
    )


def parse(body: bytes, *, call_id: str | None = None) -> ObjectEvent | Outcome:
    """The event to publish, or the outcome that says why there is none (no I/O at all)."""
    try:
        return parse_event(body)
    except InvalidEvent as exc:
        log.warning(
            "invalid invocation body: %s", exc, extra={"call_id": call_id, "outcome": "error"}
        )
        return Outcome("error", {"error": str(exc)})
    except ObjectSkipped as exc:
        log.info("skipped: %s", exc.reason, extra={"call_id": call_id, "outcome": "skipped"})
        return Outcome("skipped", {"reason": exc.reason})


def publish(
    event: ObjectEvent,
    *,
    settings: Settings,
    reader: ObjectReader,
    publisher: Publisher,
    deadline: Deadline,
    call_id: str | None = None,
) -> Outcome:
    """Read, decode and publish the object `event` is about."""
    where = {"namespace": event.namespace, "bucket": event.bucket, "object": event.object_name}
    logged = {**where, "call_id": call_id}
    try:
        opened = reader.open(event, deadline)
    except ObjectSkipped as exc:
        log.info(
            "skipped %s: %s", event.object_name, exc.reason, extra={**logged, "outcome": "skipped"}
        )
        return Outcome("skipped", {**where, "reason": exc.reason})
    except ObjectRejected as exc:
        # Unreadable for good (e.g. archived): the stream still learns of it.
        return _publish_object(
            event, None, settings, publisher, deadline, rejection=exc.reason, call_id=call_id
        )
    try:
        with opened:
            return _publish_object(event, opened, settings, publisher, deadline, call_id=call_id)
    except ObjectSkipped as exc:
        # Overwritten or deleted while being read (a resumed read's If-Match failed): what was
        # sent has no marker, and the newer version's own event publishes it.
        log.info(
            "skipped %s: %s", event.object_name, exc.reason, extra={**logged, "outcome": "skipped"}
        )
        return Outcome("skipped", {**where, "reason": exc.reason})


def _publish_object(
    event: ObjectEvent,
    body: ObjectBody | None,
    settings: Settings,
    publisher: Publisher,
    deadline: Deadline,
    *,
    rejection: str | None = None,
    call_id: str | None = None,
) -> Outcome:
    started = time.monotonic()
    messages = ObjectMessages(event)
    envelope = _envelope(settings)
    control = envelope.wrap_schemaless if envelope is not None else _as_is
    topic, dlq_topic = settings.topic, settings.dlq_topic
    decoder = (
        RecordDecoder(
            body,
            DecodeOptions(
                object_name=event.object_name,
                record_format=settings.record_format,
                content_type=body.content_type,
                content_encoding=body.content_encoding,
                csv_delimiter=settings.csv_delimiter,
                max_record_bytes=settings.max_message_bytes - HEADER_ROOM,
                max_object_bytes=settings.max_object_bytes,
                max_compression_ratio=settings.max_compression_ratio,
            ),
        )
        if body is not None
        else None
    )
    publisher.begin(deadline.at)
    try:
        publisher.ensure_topic(topic)
        if dlq_topic != topic and settings.bad_record_policy is BadRecordPolicy.DEAD_LETTER:
            publisher.ensure_topic(dlq_topic)
        first = messages.event_message()
        publisher.send(topic, control(first.value), messages.key, first.headers)
        counts = _Counts()
        try:
            if decoder is not None:
                _send_records(
                    decoder,
                    messages,
                    settings=settings,
                    publisher=publisher,
                    deadline=deadline,
                    counts=counts,
                    envelope=envelope,
                )
        except ObjectRejected as exc:
            rejection = exc.reason
        # Everything before the marker must be acknowledged before the marker is sent.
        publisher.settle()
        # A marker sent at the deadline could be delivered after a 502 has already told the
        # caller to retry: once the deadline has come, no marker.
        deadline.check("acknowledging the records")
        summary = _summary(decoder, counts, started)
        if rejection is None:
            marker = messages.published_marker(summary)
        else:
            marker = messages.rejected_marker(rejection, summary)
        publisher.send(topic, control(marker.value), messages.key, marker.headers)
        publisher.settle()
    except BaseException:
        publisher.abort()
        raise
    status = "published" if rejection is None else "rejected"
    detail = {**messages.object_fields(), **summary}
    if rejection is not None:
        detail["reason"] = rejection
    log.info(
        "%s %s: %d records, %d invalid, %d bytes in %.0f ms",
        status,
        event.object_name,
        counts.records,
        counts.invalid,
        summary["bytes"],
        summary["durationMs"],
        extra={**detail, "call_id": call_id, "outcome": status},
    )
    return Outcome(status, detail)


@dataclass
class _Counts:
    records: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    skipped: int = 0


def _send_records(
    decoder: RecordDecoder,
    messages: ObjectMessages,
    *,
    settings: Settings,
    publisher: Publisher,
    deadline: Deadline,
    counts: _Counts,
    envelope: ConnectEnvelope | None,
) -> None:
    # The hot loop, once per record: everything it uses is bound to a local first, so a
    # plain record costs one header list, one send and two integer operations here.
    items = iter(decoder)
    first = next(items, None)
    if first is None:
        deadline.check("publishing records")
        return
    # The object's format, and so its content type, is known once the first item is out.
    messages.start_records(decoder.record_format)
    to_connect = envelope.for_records(decoder.record_format) if envelope is not None else None
    control = envelope.wrap_schemaless if envelope is not None else _as_is
    topic, dlq_topic, policy = settings.topic, settings.dlq_topic, settings.bad_record_policy
    object_key = messages.key
    # RECORD_KEY=object and none give every record the same key: no call per record.
    key_of = _record_key(settings, object_key) if settings.key_mode is KeyMode.FIELD else None
    fixed_key = object_key if settings.key_mode is KeyMode.OBJECT else None
    send, headers_of, every = publisher.send, messages.record_headers, _DEADLINE_EVERY
    sent = 0
    try:
        for item in chain((first,), items):
            index = item.index  # one more per item, invalid ones included
            if not index % every:
                # Stop at a record boundary while there is still time to answer.
                deadline.check("publishing records")
            if isinstance(item, InvalidRecord):
                invalid = item
            else:
                value = item.value
                key = fixed_key if key_of is None else key_of(value)
                if to_connect is None:
                    send(topic, value, key, headers_of(index))
                    sent += 1
                    continue
                try:
                    wrapped = to_connect(value, messages.record_id(index))
                except ConnectValueError as exc:
                    # A value that does not fit its declared column type is a bad record.
                    invalid = InvalidRecord(index, item.start, item.end, str(exc), value)
                else:
                    send(topic, wrapped, key, headers_of(index))
                    sent += 1
                    continue
            counts.invalid += 1
            if policy is BadRecordPolicy.DEAD_LETTER:
                dead = messages.invalid_message(invalid, max_bytes=settings.max_message_bytes)
                send(dlq_topic, control(dead.value), object_key, dead.headers)
                counts.dead_lettered += 1
            elif policy is BadRecordPolicy.SKIP:
                counts.skipped += 1
                log.info("skipped invalid record %d: %s", invalid.index, invalid.reason)
            else:
                raise ObjectRejected(
                    f"record {invalid.index} (bytes {invalid.start}-{invalid.end}) is invalid and "
                    f"BAD_RECORD_POLICY=fail: {invalid.reason}"
                )
    finally:
        counts.records += sent
    deadline.check("publishing records")


def _envelope(settings: Settings) -> ConnectEnvelope | None:
    """The Kafka Connect envelope for VALUE_FORMAT=connect-json, else None."""
    if settings.value_format is not ValueFormat.CONNECT_JSON:
        return None
    return ConnectEnvelope.from_settings(
        settings, max_value_bytes=settings.max_message_bytes - HEADER_ROOM
    )


def _as_is(value: bytes) -> bytes:
    return value


def _record_key(settings: Settings, object_key: bytes) -> Callable[[bytes], bytes]:
    """The key function for RECORD_KEY=field:<name> (the other modes need no function)."""
    name = settings.key_field or ""

    def field_key(value: bytes) -> bytes:
        # Only JSON objects have fields; anything else keeps the object's key.
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return object_key
        if isinstance(parsed, dict) and parsed.get(name) is not None:
            found = parsed[name]
            return (found if isinstance(found, str) else orjson.dumps(found).decode()).encode()
        return object_key

    return field_key


def _summary(decoder: RecordDecoder | None, counts: _Counts, started: float) -> dict[str, Any]:
    summary = None
    if decoder is not None:
        try:
            summary = decoder.summary
        except RuntimeError:
            # Iteration stopped before the object's end (an invalid record under
            # BAD_RECORD_POLICY=fail): only the counts so far are known.
            summary = None
    return {
        "format": str(summary.record_format) if summary else None,
        "compression": summary.compression if summary else None,
        "records": counts.records,
        "invalid": counts.invalid,
        "deadLettered": counts.dead_lettered,
        "skippedInvalid": counts.skipped,
        "bytes": summary.bytes_in if summary else 0,
        "decodedBytes": summary.bytes_decoded if summary else 0,
        "durationMs": round((time.monotonic() - started) * 1000, 1),
    }
