"""One invocation, start to end: parse → read → decode → publish, and the outcome.

This is where the contract's outcome table lives (CONTRACT.md §3). The runtime calls `parse`,
then `publish` with the container's ports (function.ports): an object reader and a publisher.

Order on the stream, one key per object: the OCI event, the records (and dead letters), then
exactly one terminal marker, sent only after everything before it was acknowledged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from function.core.connect_values import ConnectEnvelope
from function.core.decoding import DecodeOptions, InvalidRecord, RecordDecoder
from function.core.decoding.detect import needs_random_access
from function.core.events import parse_event
from function.core.limits import HEADER_ROOM
from function.core.messages import ObjectMessages
from function.errors import (
    ConnectValueError,
    InvalidEvent,
    ObjectRejected,
    ObjectSkipped,
)
from function.ports import RangedObject
from function.settings import BadRecordPolicy, KeyMode, Settings, ValueFormat

if TYPE_CHECKING:
    from collections.abc import Callable

    from function.core.deadline import Deadline
    from function.core.events import ObjectEvent
    from function.ports import ObjectBody, ObjectReader, Publisher

log = logging.getLogger(__name__)

# How often (in records) the deadline is looked at; a clock read per record would cost more.
_DEADLINE_EVERY = 256


class OutcomeStatus(StrEnum):
    """What an invocation answers (CONTRACT.md §3)."""

    PUBLISHED = "published"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    ERROR = "error"  # a malformed invocation body


@dataclass
class Outcome:
    """What an invocation answers (HTTP 200 with this JSON); failures raise instead."""

    status: OutcomeStatus
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The response body."""
        return orjson.dumps({"status": self.status, **self.detail})


def parse(body: bytes, *, call_id: str | None = None) -> ObjectEvent | Outcome:
    """The event to publish, or the outcome that says why there is none (no I/O at all)."""
    try:
        return parse_event(body)
    except InvalidEvent as exc:
        log.warning(
            "invalid invocation body: %s", exc, extra={"call_id": call_id, "outcome": "error"}
        )
        return Outcome(OutcomeStatus.ERROR, {"error": str(exc)})
    except ObjectSkipped as exc:
        log.info("skipped: %s", exc.reason, extra={"call_id": call_id, "outcome": "skipped"})
        return Outcome(OutcomeStatus.SKIPPED, {"reason": exc.reason})


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
    # formats (#14): an object that is Parquet by its settings or name is read by ranges only.
    ranged_only = needs_random_access(settings.record_format, event.object_name)
    try:
        opened: ObjectBody | RangedObject = (
            reader.open_ranged(event, deadline) if ranged_only else reader.open(event, deadline)
        )
    except ObjectSkipped as exc:
        return _skipped(event, exc, where, call_id)
    except ObjectRejected as exc:
        # Unreadable for good (e.g. archived): the stream still learns of it.
        return _publish_object(
            event, None, settings, publisher, deadline, rejection=exc.reason, call_id=call_id
        )
    try:
        with opened:
            return _publish_object(
                event, opened, settings, publisher, deadline, call_id=call_id, reader=reader
            )
    except ObjectSkipped as exc:
        # Overwritten or deleted while being read (a resumed read's If-Match failed): what was
        # sent has no marker, and the newer version's own event publishes it.
        return _skipped(event, exc, where, call_id)


def _skipped(
    event: ObjectEvent, exc: ObjectSkipped, where: dict[str, str], call_id: str | None
) -> Outcome:
    log.info(
        "skipped %s: %s",
        event.object_name,
        exc.reason,
        extra={**where, "call_id": call_id, "outcome": "skipped"},
    )
    return Outcome(OutcomeStatus.SKIPPED, {**where, "reason": exc.reason})


def _publish_object(
    event: ObjectEvent,
    body: ObjectBody | RangedObject | None,
    settings: Settings,
    publisher: Publisher,
    deadline: Deadline,
    *,
    rejection: str | None = None,
    call_id: str | None = None,
    reader: ObjectReader | None = None,
) -> Outcome:
    started = time.monotonic()
    messages = ObjectMessages(event)
    envelope = connect_envelope(settings)
    control = envelope.wrap_schemaless if envelope is not None else _as_is
    topic, dlq_topic = settings.topic, settings.dlq_topic
    decoder = _decoder(body, event, settings, reader, deadline) if body is not None else None
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
                _send_records(decoder, messages, settings, publisher, deadline, counts, envelope)
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
    status = OutcomeStatus.PUBLISHED if rejection is None else OutcomeStatus.REJECTED
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
        extra={**detail, "call_id": call_id, "outcome": str(status)},
    )
    return Outcome(status, detail)


def _decoder(
    body: ObjectBody | RangedObject,
    event: ObjectEvent,
    settings: Settings,
    reader: ObjectReader | None,
    deadline: Deadline,
) -> RecordDecoder:
    # formats (#14): Parquet is read by ranges. A body opened for ranges is the decoder's
    # ranged source; a streamed body found to be Parquet (Content-Type, first bytes) makes the
    # decoder open one then (and close it: it owns what it opened).
    def open_ranged() -> RangedObject:
        if reader is None:
            raise ObjectRejected("this object cannot be read by ranges")
        return reader.open_ranged(event, deadline)

    stream: ObjectBody | None = None
    ranged: RangedObject | Callable[[], RangedObject] = open_ranged
    if isinstance(body, RangedObject):
        ranged = body
    else:
        stream = body
    return RecordDecoder(
        stream,
        DecodeOptions(
            object_name=event.object_name,
            record_format=settings.record_format,
            content_type=body.content_type,
            content_encoding=body.content_encoding,
            csv_delimiter=settings.csv_delimiter,
            max_record_bytes=settings.max_message_bytes - HEADER_ROOM,
            max_object_bytes=settings.max_object_bytes,
            max_compression_ratio=settings.max_compression_ratio,
            max_row_group_bytes=settings.max_row_group_bytes,
        ),
        ranged=ranged,
    )


@dataclass
class _Counts:
    records: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    skipped: int = 0


# A record's value as it goes on the stream, from its decoded value and its index.
_Serializer: TypeAlias = "Callable[[bytes, int], bytes]"


def _send_records(  # noqa: PLR0917 - the loop's parts, chosen by the caller once per object
    decoder: RecordDecoder,
    messages: ObjectMessages,
    settings: Settings,
    publisher: Publisher,
    deadline: Deadline,
    counts: _Counts,
    envelope: ConnectEnvelope | None,
) -> None:
    items = iter(decoder)
    first = next(items, None)
    if first is None:
        deadline.check("publishing records")
        return
    # The object's format, and so its content type and serializer, is known once the first
    # item is out; the key, the serializer and the bad-record policy are chosen here, once.
    messages.start_records(decoder.record_format)
    serialize = _serializer(envelope, decoder, messages)
    key_of = _record_key(settings, messages.key)
    control = envelope.wrap_schemaless if envelope is not None else _as_is
    on_invalid = _bad_record_policy(settings, messages, publisher, counts, control)
    topic = settings.topic
    # The hot loop, once per record: everything it uses is bound to a local first.
    send, headers_of, every = publisher.send, messages.record_headers, _DEADLINE_EVERY
    sent = 0
    try:
        for item in chain((first,), items):
            index = item.index  # one more per item, invalid ones included
            if not index % every:
                # Stop at a record boundary while there is still time to answer.
                deadline.check("publishing records")
            if isinstance(item, InvalidRecord):
                on_invalid(item)
                continue
            try:
                value = serialize(item.value, index)
            except ConnectValueError as exc:
                # A value that does not fit its declared column type is a bad record.
                on_invalid(InvalidRecord(index, item.start, item.end, str(exc), item.value))
                continue
            send(topic, value, key_of(value), headers_of(index))
            sent += 1
    finally:
        counts.records += sent
    deadline.check("publishing records")


def _serializer(
    envelope: ConnectEnvelope | None, decoder: RecordDecoder, messages: ObjectMessages
) -> _Serializer:
    """The record value as decoded (the contract's values), or in a Kafka Connect envelope."""
    if envelope is None:
        return _value_as_is
    # formats (#14): parquet and avro bring their own columns, which type the envelope.
    to_connect = envelope.for_records(decoder.record_format, decoder.columns)
    record_id = messages.record_id
    return lambda value, index: to_connect(value, record_id(index))


def _value_as_is(value: bytes, index: int) -> bytes:
    del index
    return value


def _record_key(settings: Settings, object_key: bytes) -> Callable[[bytes], bytes | None]:
    """The key of a record's message, from its value (RECORD_KEY)."""
    if settings.key_mode is KeyMode.OBJECT:
        return lambda _value: object_key
    if settings.key_mode is KeyMode.NONE:
        return lambda _value: None
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


def _bad_record_policy(
    settings: Settings,
    messages: ObjectMessages,
    publisher: Publisher,
    counts: _Counts,
    control: Callable[[bytes], bytes],
) -> Callable[[InvalidRecord], None]:
    """What becomes of an invalid record (BAD_RECORD_POLICY), counted in `counts`."""
    policy = settings.bad_record_policy
    if policy is BadRecordPolicy.DEAD_LETTER:
        topic, key, limit = settings.dlq_topic, messages.key, settings.max_message_bytes

        def dead_letter(invalid: InvalidRecord) -> None:
            counts.invalid += 1
            dead = messages.invalid_message(invalid, max_bytes=limit)
            publisher.send(topic, control(dead.value), key, dead.headers)
            counts.dead_lettered += 1

        return dead_letter
    if policy is BadRecordPolicy.SKIP:

        def skip(invalid: InvalidRecord) -> None:
            counts.invalid += 1
            counts.skipped += 1
            log.info("skipped invalid record %d: %s", invalid.index, invalid.reason)

        return skip

    def fail(invalid: InvalidRecord) -> None:
        counts.invalid += 1
        raise ObjectRejected(
            f"record {invalid.index} (bytes {invalid.start}-{invalid.end}) is invalid and "
            f"BAD_RECORD_POLICY=fail: {invalid.reason}"
        )

    return fail


def connect_envelope(settings: Settings) -> ConnectEnvelope | None:
    """The Kafka Connect envelope for VALUE_FORMAT=connect-json, else None.

    CONNECT_COLUMN_TYPES, CONNECT_INFER_TYPES and CONNECT_ID_FIELD shape it; an envelope
    larger than a message's room for its value raises ConnectValueError (the schema travels
    in every message and can push a record over the message limit).
    """
    if settings.value_format is not ValueFormat.CONNECT_JSON:
        return None
    return ConnectEnvelope(
        column_types=settings.column_types,
        infer_types=settings.infer_types,
        id_field=settings.record_id_field,
        max_value_bytes=settings.max_message_bytes - HEADER_ROOM,
    )


def _as_is(value: bytes) -> bytes:
    return value


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
