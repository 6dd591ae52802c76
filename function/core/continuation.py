"""Continuation bodies: how one invocation hands the rest of an object to the next (CONTRACT §4).

Pure: no I/O. A continuation body is the JSON a segment sends to the next one through the
Functions invoke API (detached), and what `objstream backfill` sends as segment 1:

    {"objstreamContinuation": 1, "event": <the OCI event as received>, "segment": n,
     "nextIndex": i, "resume": {…}, "counts": {…}, "attempt": 1}

`parse_continuation` is strict: every field is checked for type and bounds, the embedded event
goes through the same parser as an event from OCI Events (`parse_event`), and anything else is
`InvalidEvent` (200 `error`, nothing sent). What it cannot check here, the pipeline checks
against the object itself: the eTag (If-Match: another version ends the chain as skipped),
and that `resume` lies inside the object.

`resume` says where the next segment starts reading (`ResumePoint`):

- `{"offset": o}`: a byte offset in the object, at a record boundary (lines, jsonl, raw);
- `{"offset": o, "header": [...], "delimiter": ","}`: csv, with the header row's keys;
- `{"offset": o, "inArray": true}`: a JSON array, after an element (a `,` or `]` follows);
- `{"rowGroup": g, "row": r}`: parquet, row `r` of row group `g`;
- `{"offset": o, "row": r}`: avro, row `r` of the block that starts at byte `o`;
- `{"skip": true}`: decode from the start and publish nothing before `nextIndex` (compressed
  objects, and any format without a byte position).

The format travels too (`"format"`), so the next segment decodes what the first one chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "Continuation",
    "Counts",
    "ResumePoint",
    "first_segment",
    "is_continuation",
    "parse_continuation",
]

from function.core.decoding.records import RecordFormat, ResumePoint
from function.core.events import MAX_EVENT_BYTES, ObjectEvent, parse_event
from function.errors import InvalidEvent

CONTINUATION_KEY: Final = "objstreamContinuation"
CONTINUATION_VERSION: Final = 1
# Bounds on what a body may claim; far beyond any real chain, small enough to be harmless.
MAX_SEGMENTS: Final = 100_000
MAX_ATTEMPTS: Final = 100
MAX_INDEX: Final = 2**53  # record indexes stay exact in every JSON reader
MAX_OFFSET: Final = 10 * 1024**4  # 10 TiB: Object Storage's object limit
MAX_HEADER_COLUMNS: Final = 100_000
MAX_HEADER_BYTES: Final = 1024 * 1024
_COUNT_KEYS: Final = ("records", "invalid", "deadLettered", "skippedInvalid", "bytes")


@dataclass(frozen=True, slots=True)
class Counts:
    """What the segments so far published: the published marker's counts are their sum."""

    records: int = 0
    invalid: int = 0
    dead_lettered: int = 0
    skipped_invalid: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, int]:
        """The `counts` object of a continuation body (and the marker's keys)."""
        return {
            "records": self.records,
            "invalid": self.invalid,
            "deadLettered": self.dead_lettered,
            "skippedInvalid": self.skipped_invalid,
            "bytes": self.bytes,
        }

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.records + other.records,
            self.invalid + other.invalid,
            self.dead_lettered + other.dead_lettered,
            self.skipped_invalid + other.skipped_invalid,
            self.bytes + other.bytes,
        )


@dataclass(frozen=True, slots=True)
class Continuation:
    """Segment `segment` of the chain publishing `event`'s object, from `next_index` on."""

    event: ObjectEvent
    segment: int
    next_index: int
    resume: ResumePoint | None  # None: from the start (segment 1 from backfill)
    counts: Counts = field(default_factory=Counts)
    attempt: int = 1

    def to_json(self) -> bytes:
        """The invocation body that carries this continuation."""
        return json.dumps(
            {
                CONTINUATION_KEY: CONTINUATION_VERSION,
                "event": json.loads(self.event.raw),
                "segment": self.segment,
                "nextIndex": self.next_index,
                "resume": self.resume.to_json() if self.resume is not None else {},
                "counts": self.counts.to_json(),
                "attempt": self.attempt,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")

    def next_segment(self, next_index: int, resume: ResumePoint, counts: Counts) -> Continuation:
        """The continuation that picks up where this segment stopped."""
        return Continuation(self.event, self.segment + 1, next_index, resume, counts, attempt=1)

    def again(self) -> Continuation:
        """The same segment, handed on again after a failure (one attempt more)."""
        return Continuation(
            self.event,
            self.segment,
            self.next_index,
            self.resume,
            self.counts,
            attempt=self.attempt + 1,
        )


def first_segment(event: ObjectEvent) -> Continuation:
    """Segment 1 of a chain: what `objstream backfill` hands the deployed function."""
    return Continuation(event, segment=1, next_index=0, resume=None)


def is_continuation(document: object) -> bool:
    """Whether a parsed invocation body claims to be a continuation (then it must be one)."""
    return isinstance(document, dict) and CONTINUATION_KEY in document


def parse_continuation(document: dict[str, Any]) -> Continuation:
    """A continuation body, checked field by field; InvalidEvent names the first bad one.

    Raises:
        InvalidEvent: the body is not a well-formed continuation (nothing is sent).
        ObjectSkipped: the embedded event is well formed but not an object create/update.
    """
    version = document.get(CONTINUATION_KEY)
    if version != CONTINUATION_VERSION or isinstance(version, bool):
        raise InvalidEvent(
            f"{CONTINUATION_KEY} must be {CONTINUATION_VERSION}, not {json.dumps(version)}"
        )
    unknown = set(document) - {
        CONTINUATION_KEY,
        "event",
        "segment",
        "nextIndex",
        "resume",
        "counts",
        "attempt",
    }
    if unknown:
        raise InvalidEvent(f"the continuation has unknown fields: {', '.join(sorted(unknown))}")
    raw_event = document.get("event")
    if not isinstance(raw_event, dict):
        raise InvalidEvent("continuation.event must be the OCI event object")
    encoded = json.dumps(raw_event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(encoded) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"continuation.event is over {MAX_EVENT_BYTES} bytes")
    event = parse_event(encoded)
    segment = _integer(document, "segment", low=1, high=MAX_SEGMENTS)
    next_index = _integer(document, "nextIndex", low=0, high=MAX_INDEX)
    attempt = _integer(document, "attempt", low=1, high=MAX_ATTEMPTS)
    counts = _counts(document.get("counts"))
    resume = _resume(document.get("resume"), segment=segment, next_index=next_index)
    if segment == 1 and (next_index or counts != Counts()):
        raise InvalidEvent("continuation segment 1 starts at nextIndex 0 with no counts")
    if segment > 1 and resume is None:
        raise InvalidEvent("continuation.resume is required after segment 1")
    if counts.records + counts.invalid != next_index:
        raise InvalidEvent(
            "continuation.counts do not add up: records + invalid must equal nextIndex"
        )
    return Continuation(event, segment, next_index, resume, counts, attempt)


def _integer(document: dict[str, Any], key: str, *, low: int, high: int) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent(f"continuation.{key} must be a whole number")
    if not low <= value <= high:
        raise InvalidEvent(f"continuation.{key}={value} is out of bounds ({low}..{high})")
    return value


def _counts(value: object) -> Counts:
    if not isinstance(value, dict):
        raise InvalidEvent("continuation.counts must be an object")
    if set(value) != set(_COUNT_KEYS):
        raise InvalidEvent(f"continuation.counts must have exactly: {', '.join(_COUNT_KEYS)}")
    numbers = [_integer(value, key, low=0, high=MAX_OFFSET) for key in _COUNT_KEYS]
    records, invalid, dead_lettered, skipped, size = numbers
    if dead_lettered + skipped > invalid:
        raise InvalidEvent("continuation.counts: more invalid records handled than seen")
    return Counts(records, invalid, dead_lettered, skipped, size)


def _resume(value: object, *, segment: int, next_index: int) -> ResumePoint | None:
    if not isinstance(value, dict):
        raise InvalidEvent("continuation.resume must be an object")
    if not value:
        return None
    known = {"format", "offset", "skip", "header", "delimiter", "inArray", "rowGroup", "row"}
    if set(value) - known:
        raise InvalidEvent(
            f"continuation.resume has unknown fields: {', '.join(sorted(set(value) - known))}"
        )
    record_format = _record_format(value.get("format"))
    if value.get("skip") is True:
        if set(value) != {"format", "skip"}:
            raise InvalidEvent("continuation.resume with skip has no other position")
        return ResumePoint(record_format, skip=True)
    if "skip" in value:
        raise InvalidEvent("continuation.resume.skip must be true when present")
    typed = _typed_position(value, record_format)
    if typed is not None:
        return typed
    offset = _integer(value, "offset", low=0, high=MAX_OFFSET)
    if segment > 1 and next_index > 0 and offset == 0:
        raise InvalidEvent("continuation.resume.offset 0 cannot follow published records")
    header, delimiter = _csv_part(value, record_format)
    in_array = value.get("inArray", False)
    if not isinstance(in_array, bool) or (in_array and record_format is not RecordFormat.JSON):
        raise InvalidEvent("continuation.resume.inArray is a boolean, for json only")
    return ResumePoint(
        record_format,
        offset=offset,
        csv_header=header,
        csv_delimiter=delimiter,
        in_array=in_array,
    )


def _typed_position(value: dict[str, Any], record_format: RecordFormat) -> ResumePoint | None:
    """Parquet's (row group, row) and Avro's (block offset, row); None for other formats."""
    if record_format is RecordFormat.PARQUET:
        if set(value) != {"format", "rowGroup", "row"}:
            raise InvalidEvent("continuation.resume for parquet is exactly rowGroup and row")
        return ResumePoint(
            record_format,
            row_group=_integer(value, "rowGroup", low=0, high=MAX_OFFSET),
            row=_integer(value, "row", low=0, high=MAX_INDEX),
        )
    if record_format is RecordFormat.AVRO:
        if set(value) != {"format", "offset", "row"}:
            raise InvalidEvent("continuation.resume for avro is exactly offset and row")
        return ResumePoint(
            record_format,
            offset=_integer(value, "offset", low=0, high=MAX_OFFSET),
            row=_integer(value, "row", low=0, high=MAX_INDEX),
        )
    if "rowGroup" in value or "row" in value:
        raise InvalidEvent("continuation.resume.rowGroup and row are for parquet and avro only")
    return None


def _record_format(value: object) -> RecordFormat:
    formats = {str(member): member for member in RecordFormat if member is not RecordFormat.AUTO}
    if not isinstance(value, str) or value not in formats:
        raise InvalidEvent(
            f"continuation.resume.format must be the format decoded: one of {', '.join(formats)}"
        )
    return formats[value]


def _csv_part(
    value: dict[str, Any], record_format: RecordFormat
) -> tuple[tuple[str, ...] | None, str | None]:
    if record_format is not RecordFormat.CSV:
        if "header" in value or "delimiter" in value:
            raise InvalidEvent("continuation.resume.header and delimiter are for csv only")
        return None, None
    header, delimiter = value.get("header"), value.get("delimiter")
    if (
        not isinstance(header, list)
        or not header
        or len(header) > MAX_HEADER_COLUMNS
        or not all(isinstance(name, str) for name in header)
    ):
        raise InvalidEvent("continuation.resume.header must be the csv header's keys")
    if sum(len(name.encode("utf-8", "surrogatepass")) for name in header) > MAX_HEADER_BYTES:
        raise InvalidEvent(f"continuation.resume.header is over {MAX_HEADER_BYTES} bytes")
    if len(set(header)) != len(header):
        raise InvalidEvent("continuation.resume.header has a key twice")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidEvent("continuation.resume.delimiter must be one character")
    return tuple(header), delimiter
