"""One invocation, start to end: parse → read → decode → publish, and the outcome.

This is where the contract's outcome table lives (CONTRACT.md §3). The runtime calls `parse`,
then `publish` with the container's ports (function.ports): an object reader and a publisher.

Order on the stream, one key per object: the OCI event, the records (and dead letters), then
exactly one terminal marker, sent only after everything before it was acknowledged.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from function import tracing
from function.core.connect_values import ConnectEnvelope
from function.core.continuation import (
    Continuation,
    Counts,
    first_segment,
    is_continuation,
    parse_continuation,
)
from function.core.decoding import DecodeOptions, InvalidRecord, Item, RecordDecoder
from function.core.decoding.detect import needs_random_access
from function.core.decoding.records import RecordFormat
from function.core.events import MAX_EVENT_BYTES, parse_event
from function.core.limits import HEADER_ROOM
from function.core.messages import ObjectMessages
from function.core.packing import JsonLinesPacker, line_maker
from function.errors import (
    ConnectValueError,
    InvalidEvent,
    ObjectRejected,
    ObjectSkipped,
)
from function.ports import RangedObject
from function.settings import BadRecordPolicy, KeyMode, MessagePacking, Settings, ValueFormat

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from function.core.deadline import Deadline
    from function.core.decoding.records import ResumePoint
    from function.core.events import ObjectEvent
    from function.ports import FunctionInvoker, ObjectBody, ObjectReader, Publisher

log = logging.getLogger(__name__)
# One line per invocation's outcome (published, continued, rejected, skipped, error; the
# runtime adds failed), under one name: OCI Logging searches it, the CLI reports outcomes
# itself and quiets it unless -v.
OUTCOME_LOGGER = "function.outcome"
outcome_log = logging.getLogger(OUTCOME_LOGGER)

# How often (in records) the deadline is looked at; a clock read per record would cost more.
_DEADLINE_EVERY = 256
_SKIP_CHECK_EVERY = 4096
# The longest stretch of records between two looks at the clock that _Pace lets stand.
_LOOK_SECONDS = 0.25
# Time kept for a hand-off once the queue is acknowledged: the checkpoint (settled) and the
# Functions invoke call, besides DEADLINE_MARGIN_SECONDS already kept back.
HANDOFF_SECONDS = 3.0


class OutcomeStatus(StrEnum):
    """What an invocation answers (CONTRACT.md §3)."""

    PUBLISHED = "published"
    CONTINUED = "continued"  # the rest of the object goes on in a detached invocation
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


@dataclass(frozen=True, slots=True)
class Request:
    """What an invocation asks for: one segment of the chain publishing an object.

    `handed_on`: the body was a continuation (a detached invocation, or backfill's segment 1),
    not an event from OCI Events: its failures are handed on again instead of answered 502.
    """

    segment: Continuation
    handed_on: bool

    @property
    def event(self) -> ObjectEvent:
        """The object version the chain publishes."""
        return self.segment.event


def parse(body: bytes, *, call_id: str | None = None) -> Request | Outcome:
    """The segment to publish, or the outcome that says why there is none (no I/O at all).

    The body is an OCI event (segment 1 of a new chain) or a continuation body.
    """
    try:
        document = _json_object(body)
        if isinstance(document, dict) and is_continuation(document):
            return Request(parse_continuation(document), handed_on=True)
        return Request(first_segment(parse_event(body)), handed_on=False)
    except InvalidEvent as exc:
        outcome_log.warning(
            "invalid invocation body: %s", exc, extra={"call_id": call_id, "outcome": "error"}
        )
        return Outcome(OutcomeStatus.ERROR, {"error": str(exc)})
    except ObjectSkipped as exc:
        outcome_log.info(
            "skipped: %s", exc.reason, extra={"call_id": call_id, "outcome": "skipped"}
        )
        return Outcome(OutcomeStatus.SKIPPED, {"reason": exc.reason})


def _json_object(body: bytes) -> object:
    """The body as JSON when it is a small JSON object; else None (parse_event says why)."""
    if len(body) > MAX_EVENT_BYTES or body.lstrip()[:1] != b"{":
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def publish(
    request: Request,
    *,
    settings: Settings,
    reader: ObjectReader,
    publisher: Publisher,
    deadline: Deadline,
    invoker: FunctionInvoker | None = None,
    call_id: str | None = None,
) -> Outcome:
    """Read, decode and publish one segment of the object the request is about.

    With an `invoker`, a deadline that comes before the object's end hands the rest on to the
    next segment (CONTRACT §4); without one, it is a DeadlineExceeded (502, v1).
    """
    event, segment = request.event, request.segment
    where = {"namespace": event.namespace, "bucket": event.bucket, "object": event.object_name}
    resume = segment.resume
    start = resume.offset if resume is not None and not resume.skip else 0
    # formats (#14): an object that is Parquet by its settings or name is read by ranges only.
    ranged_only = needs_random_access(settings.record_format, event.object_name)
    # formats2 (#14): so is a Parquet continuation (found by Content-Type or magic): no GET
    # of the whole object just to be dropped after its first bytes.
    parquet_resumed = resume is not None and resume.record_format is RecordFormat.PARQUET
    ranged_only = ranged_only or parquet_resumed
    tracing.phase(tracing.READ)  # ops (issue #13): a span mark, a no-op unless tracing
    try:
        opened: ObjectBody | RangedObject = (
            reader.open_ranged(event, deadline)
            if ranged_only
            else reader.open(event, deadline, start=start)
        )
    except ObjectSkipped as exc:
        return _skipped(event, exc, where, call_id)
    except InvalidEvent as exc:
        return _invalid_continuation(exc, where, call_id)
    except ObjectRejected as exc:
        # Unreadable for good (e.g. archived): the stream still learns of it.
        job = _Segment(segment, settings, publisher, deadline, None, call_id, reader)
        return job.publish(None, rejection=exc.reason)
    try:
        with opened:
            job = _Segment(segment, settings, publisher, deadline, invoker, call_id, reader)
            return job.publish(opened)
    except ObjectSkipped as exc:
        # Overwritten or deleted while being read (a resumed read's If-Match failed): what was
        # sent has no marker, and the newer version's own event publishes it.
        return _skipped(event, exc, where, call_id)
    except InvalidEvent as exc:
        return _invalid_continuation(exc, where, call_id)


def _invalid_continuation(exc: InvalidEvent, where: dict[str, str], call_id: str | None) -> Outcome:
    """A continuation whose position the object does not have: nothing is sent."""
    outcome_log.warning(
        "invalid continuation: %s", exc, extra={**where, "call_id": call_id, "outcome": "error"}
    )
    return Outcome(OutcomeStatus.ERROR, {**where, "error": str(exc)})


def _skipped(
    event: ObjectEvent, exc: ObjectSkipped, where: dict[str, str], call_id: str | None
) -> Outcome:
    outcome_log.info(
        "skipped %s: %s",
        event.object_name,
        exc.reason,
        extra={**where, "call_id": call_id, "outcome": "skipped"},
    )
    return Outcome(OutcomeStatus.SKIPPED, {**where, "reason": exc.reason})


@dataclass
class _Counts:
    records: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class _Stop:
    """The segment stopped for a hand-off after the item ending at `end`, index `last`.

    `resume`: where the next segment starts, when it was taken before the decoder went on
    (packing: the item after `last` was read, then left to the next segment).
    """

    last: int
    end: int
    resume: ResumePoint | None = None


class _Segment:
    """One invocation's part of an object: its messages, in the contract's order."""

    def __init__(  # noqa: PLR0917 - the parts of one segment, built by publish() only
        self,
        segment: Continuation,
        settings: Settings,
        publisher: Publisher,
        deadline: Deadline,
        invoker: FunctionInvoker | None,
        call_id: str | None,
        reader: ObjectReader,
    ) -> None:
        self.segment = segment
        self.reader = reader
        self.settings = settings
        self.publisher = publisher
        self.deadline = deadline
        self.invoker = invoker
        self.call_id = call_id
        self.messages = ObjectMessages(segment.event)
        self.envelope = connect_envelope(settings)
        self.control = self.envelope.wrap_schemaless if self.envelope is not None else _as_is
        self.counts = _Counts()
        self.started = time.monotonic()

    def publish(
        self, body: ObjectBody | RangedObject | None, *, rejection: str | None = None
    ) -> Outcome:
        """Send this segment's messages; answer published, rejected or continued."""
        settings, publisher, messages, segment = (
            self.settings,
            self.publisher,
            self.messages,
            self.segment,
        )
        decoder = self._decoder(body) if body is not None else None
        topic, dlq_topic = settings.topic, settings.dlq_topic
        publisher.begin(self.deadline.at)
        stop: _Stop | None = None
        try:
            publisher.ensure_topic(topic)
            if dlq_topic != topic and settings.bad_record_policy is BadRecordPolicy.DEAD_LETTER:
                publisher.ensure_topic(dlq_topic)
            if segment.segment == 1:
                # The event once per chain: later segments go on where the first one stopped.
                first = messages.event_message()
                publisher.send(topic, self.control(first.value), messages.key, first.headers)
            tracing.phase(tracing.DECODE)  # ops (issue #13): a span mark
            try:
                if decoder is not None:
                    stop = self._send_records(decoder)
            except ObjectRejected as exc:
                rejection = exc.reason
            # Everything before a marker or checkpoint is acknowledged before it is sent.
            tracing.phase(tracing.PUBLISH)  # ops (issue #13): a span mark
            publisher.settle()
            # A marker sent at the deadline could be delivered after a 502 has already told the
            # caller to retry: once the deadline has come, no marker.
            self.deadline.check("acknowledging the records")
            if stop is not None and decoder is not None and rejection is None:
                return self._hand_off(decoder, stop)
            summary = self._summary(decoder)
            if rejection is None:
                marker = messages.published_marker(summary)
            else:
                marker = messages.rejected_marker(rejection, summary)
            publisher.send(topic, self.control(marker.value), messages.key, marker.headers)
            publisher.settle()
        except BaseException:
            publisher.abort()
            raise
        status = OutcomeStatus.PUBLISHED if rejection is None else OutcomeStatus.REJECTED
        detail = {**messages.object_fields(), **summary}
        if rejection is not None:
            detail["reason"] = rejection
        self._log(status, detail)
        return Outcome(status, detail)

    def _decoder(self, body: ObjectBody | RangedObject) -> RecordDecoder:
        settings, segment, reader, deadline = (
            self.settings,
            self.segment,
            self.reader,
            self.deadline,
        )
        event = segment.event

        # formats (#14): Parquet is read by ranges. A body opened for ranges is the decoder's
        # ranged source; a streamed body found to be Parquet (Content-Type, first bytes), or an
        # Avro object resumed at a block (its header is at the start), makes the decoder open
        # one then (and close it: it owns what it opened).
        def open_ranged() -> RangedObject:
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
                object_name=segment.event.object_name,
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
            resume=segment.resume,
            first_index=segment.next_index,
        )

    def _send_records(self, decoder: RecordDecoder) -> _Stop | None:
        """The records (and dead letters) of this segment; a `_Stop` when it hands off."""
        deadline, segment = self.deadline, self.segment
        items: Iterator[Item] = iter(decoder)
        resume = segment.resume
        if resume is not None and resume.skip and segment.next_index:
            items = _after(items, segment.next_index, deadline)
        first = next(items, None)
        if first is None:
            self._check_nothing_missing(decoder)
            deadline.check("publishing records")
            return None
        # The object's format, and so its content type and serializer, is known once the first
        # item is out; the key, the serializer and the bad-record policy are chosen here, once.
        messages, settings, publisher, counts = (
            self.messages,
            self.settings,
            self.publisher,
            self.counts,
        )
        messages.start_records(decoder.record_format)
        serialize = _serializer(self.envelope, decoder, messages)
        key_of = _record_key(settings, messages.key)
        on_invalid = _bad_record_policy(settings, messages, publisher, counts, self.control)
        if _packs(settings, decoder.record_format):
            # v2 (CONTRACT §5): the one choice point between packs and a message per record.
            return self._send_packs(
                decoder, chain((first,), items), first.index, key_of, on_invalid
            )
        time_to_stop = self._time_to_stop()
        pace = _Pace()
        topic = settings.topic
        # The hot loop, once per record: everything it uses is bound to a local first.
        send, headers_of = publisher.send, messages.record_headers
        # Raw chunks are large (up to a message each): a look at the clock per chunk is cheap.
        every = 1 if decoder.record_format is RecordFormat.RAW else _DEADLINE_EVERY
        sent = 0
        stopping = False
        first_index = first.index
        try:
            for item in chain((first,), items):
                index = item.index  # one more per item, invalid ones included
                if not index % every:
                    deadline.check("publishing records")
                    # Stop after this item while there is still time to answer, and before
                    # the decoder goes past it (Parquet and Avro know only where they are).
                    stopping = index > first_index and time_to_stop()
                    every = pace.every(every)
                if isinstance(item, InvalidRecord):
                    on_invalid(item)
                else:
                    try:
                        value = serialize(item.value, index)
                    except ConnectValueError as exc:
                        # A value that does not fit its declared column type is a bad record.
                        invalid = InvalidRecord(index, item.start, item.end, str(exc), item.value)
                        on_invalid(invalid)
                    else:
                        send(topic, value, key_of(value), headers_of(index))
                        sent += 1
                if stopping:
                    return _Stop(index, item.end)
        finally:
            counts.records += sent
        deadline.check("publishing records")
        return None

    def _send_packs(
        self,
        decoder: RecordDecoder,
        items: Iterator[Item],
        first_index: int,
        key_of: Callable[[bytes], bytes | None],
        on_invalid: Callable[[InvalidRecord], None],
    ) -> _Stop | None:
        """The records in packs (CONTRACT §5); a `_Stop` when the segment hands off.

        A segment stops only at a pack boundary, so that where packs end does not depend on
        where segments do: once it is time to stop, the open pack is filled on until it
        closes (`_PackedRecords.finish`).
        """
        deadline, settings, send = self.deadline, self.settings, self.publisher.send
        topic = settings.topic
        packer = JsonLinesPacker(
            self.messages,
            lambda value, key, headers: send(topic, value, key, headers),
            max_bytes=settings.max_message_bytes - HEADER_ROOM,
            max_records=settings.pack_max_records,
        )
        packed = _PackedRecords(packer, line_maker(decoder.record_format), key_of, on_invalid)
        # The hot loop, once per record: what it uses is bound to locals first.
        pack, time_to_stop, pace, every = (
            packed.pack,
            self._time_to_stop(),
            _Pace(),
            _DEADLINE_EVERY,
        )
        try:
            for item in items:
                index = item.index
                if not index % every:
                    deadline.check("publishing records")
                    stopping = index > first_index and time_to_stop()
                    every = pace.every(every)
                    if stopping:
                        return packed.finish(item, items, decoder, deadline)
                pack(item)
            packer.close()
        except ObjectRejected:
            # The object cannot go on (a bad record under `fail`, corrupt data further on):
            # the records before it are published, as without packing.
            packer.close()
            raise
        finally:
            self.counts.records += packer.records_sent
        deadline.check("publishing records")
        return None

    def _time_to_stop(self) -> Callable[[], bool]:
        """Whether the rest must go to the next segment now, to answer in time."""
        if self.invoker is None:
            return lambda: False
        deadline, publisher = self.deadline, self.publisher

        def time_to_stop() -> bool:
            # What is queued must be acknowledged, then a checkpoint, then the hand-off.
            return deadline.remaining() < publisher.backlog_seconds() + HANDOFF_SECONDS

        return time_to_stop

    def _check_nothing_missing(self, decoder: RecordDecoder) -> None:
        """A continuation that claims more records than the object has is not a real one."""
        segment = self.segment
        if segment.next_index and decoder.summary.records + decoder.summary.invalid < (
            segment.next_index
        ):
            found = decoder.summary.records + decoder.summary.invalid
            raise InvalidEvent(
                f"the continuation resumes at record {segment.next_index}, but "
                f"{segment.event.resource_id} has {found}"
            )

    def _totals(self, decoder: RecordDecoder | None) -> Counts:
        """The counts of every segment so far, this one included (the chain's, at its end)."""
        counts, before = self.counts, self.segment.counts
        # Bytes: how far into the object the chain has read (a segment that decodes a
        # compressed object again from its start reads what an earlier one did).
        read = decoder.bytes_read if decoder is not None else 0
        return Counts(
            before.records + counts.records,
            before.invalid + counts.invalid,
            before.dead_lettered + counts.dead_lettered,
            before.skipped_invalid + counts.skipped,
            max(before.bytes, read),
        )

    def _hand_off(self, decoder: RecordDecoder, stop: _Stop) -> Outcome:
        """Checkpoint, then invoke the next segment; answer `continued`."""
        segment, messages, publisher = self.segment, self.messages, self.publisher
        totals = self._totals(decoder)
        resume = stop.resume if stop.resume is not None else decoder.resume_after(stop.end)
        following = segment.next_segment(stop.last + 1, resume, totals)
        progress = {
            "nextIndex": following.next_index,
            "counts": totals.to_json(),
            "resume": following.resume.to_json() if following.resume is not None else {},
        }
        checkpoint = messages.checkpoint(segment.segment, progress)
        publisher.send(
            self.settings.topic, self.control(checkpoint.value), messages.key, checkpoint.headers
        )
        publisher.settle()
        self.deadline.check("acknowledging the checkpoint")
        if self.invoker is None:  # pragma: no cover - _time_to_stop never stops without one
            raise AssertionError("unreachable")
        self.invoker.invoke_detached(following.to_json(), self.deadline)
        detail = {
            **messages.object_fields(),
            "segment": segment.segment,
            "nextIndex": following.next_index,
            **totals.to_json(),
            "durationMs": round((time.monotonic() - self.started) * 1000, 1),
        }
        self._log(OutcomeStatus.CONTINUED, detail)
        return Outcome(OutcomeStatus.CONTINUED, detail)

    def _summary(self, decoder: RecordDecoder | None) -> dict[str, Any]:
        summary = None
        if decoder is not None:
            try:
                summary = decoder.summary
            except RuntimeError:
                # Iteration stopped before the object's end (an invalid record under
                # BAD_RECORD_POLICY=fail): only the counts so far are known.
                summary = None
        totals = self._totals(decoder)
        return {
            "format": str(summary.record_format) if summary else None,
            "compression": summary.compression if summary else None,
            "records": totals.records,
            "invalid": totals.invalid,
            "deadLettered": totals.dead_lettered,
            "skippedInvalid": totals.skipped_invalid,
            "bytes": summary.bytes_in if summary else totals.bytes,
            "decodedBytes": summary.bytes_decoded if summary else 0,
            "segments": self.segment.segment,
            "durationMs": round((time.monotonic() - self.started) * 1000, 1),
        }

    def _log(self, status: OutcomeStatus, detail: dict[str, Any]) -> None:
        outcome_log.info(
            "%s %s: %d records, %d invalid, %d bytes in %.0f ms (segment %d)",
            status,
            self.segment.event.object_name,
            detail["records"],
            detail["invalid"],
            detail["bytes"],
            detail["durationMs"],
            self.segment.segment,
            extra={**detail, "call_id": self.call_id, "outcome": str(status)},
        )


class _Pace:
    """How many records between two looks at the clock: fewer when records are slow to send.

    256 small records take milliseconds; 256 raw chunks, or records near the message limit
    under a throughput quota, can take minutes. When the last stretch took longer than
    _LOOK_SECONDS the interval halves (to one record at the least); it never grows back
    within an object, whose records are alike.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = time.monotonic()

    def every(self, current: int) -> int:
        """The interval to use from now on."""
        now = time.monotonic()
        took, self._last = now - self._last, now
        while current > 1 and took > _LOOK_SECONDS:
            current //= 2
            took /= 2
        return current


class _PackedRecords:
    """Records into packs, and where a segment may stop among them (MESSAGE_PACKING=jsonl)."""

    __slots__ = ("_key_of", "_on_invalid", "_to_line", "packer")

    def __init__(
        self,
        packer: JsonLinesPacker,
        to_line: Callable[[bytes], bytes],
        key_of: Callable[[bytes], bytes | None],
        on_invalid: Callable[[InvalidRecord], None],
    ) -> None:
        self.packer = packer
        self._to_line = to_line
        self._key_of = key_of
        self._on_invalid = on_invalid

    def pack(self, item: Item) -> bool:
        """Pack a record, or dead-letter an invalid one; True when a pack is open after it."""
        if not isinstance(item, InvalidRecord):
            line = self._to_line(item.value)
            unfit = self.packer.line_too_long(line)
            if unfit is None:
                return not self.packer.add(item.index, line, self._key_of(item.value))
            item = InvalidRecord(item.index, item.start, item.end, unfit, item.value)
        self.packer.close()  # an invalid record ends a pack, and is dead-lettered on its own
        self._on_invalid(item)
        return False

    def finish(
        self, item: Item, items: Iterator[Item], decoder: RecordDecoder, deadline: Deadline
    ) -> _Stop | None:
        """Pack `item` and what follows until the open pack closes; the stop after it.

        A pack that closes because the next record does not fit, or has another key, leaves
        that record (read already) to the next segment, which starts at it; None when the
        object ends first.
        """
        packer, to_line, key_of = self.packer, self._to_line, self._key_of
        while self.pack(item):
            # Taken now: Parquet and Avro know where they are, not where they were.
            stop = _Stop(item.index, item.end, decoder.resume_after(item.end))
            following = next(items, None)
            if following is None:
                packer.close()
                return None
            item = following
            if not item.index % _DEADLINE_EVERY:
                deadline.check("publishing records")
            if not isinstance(item, InvalidRecord) and packer.starts_new_pack(
                to_line(item.value), key_of(item.value)
            ):
                packer.close()
                return stop
        return _Stop(item.index, item.end)


def _packs(settings: Settings, record_format: RecordFormat) -> bool:
    """Whether this object's records go in packs: MESSAGE_PACKING=jsonl, and not raw chunks."""
    if settings.message_packing is not MessagePacking.JSONL:
        return False
    if record_format is RecordFormat.RAW:
        _say_raw_is_not_packed()
        return False
    return True


@functools.cache
def _say_raw_is_not_packed() -> None:
    """Once per container, not per object: CONTRACT §5, packing does not apply to raw."""
    log.info(
        "MESSAGE_PACKING=jsonl does not apply to raw objects (their chunks are large already):"
        " one message per chunk (logged once)"
    )


def _after(items: Iterator[Item], first_index: int, deadline: Deadline) -> Iterator[Item]:
    """The items from index `first_index` on: a resumed compressed object, decoded again."""
    for item in items:
        if item.index >= first_index:
            yield item
            yield from items
            return
        if not item.index % _SKIP_CHECK_EVERY:
            # No hand-off while skipping (the next segment would skip the same): only the
            # deadline, which answers 502 and lets the chain's retry try again.
            deadline.check("skipping the records earlier segments published")


# A record's value as it goes on the stream, from its decoded value and its index.
_Serializer: TypeAlias = "Callable[[bytes, int], bytes]"


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
