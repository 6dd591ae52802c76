"""What one invocation amounts to in numbers: the figures posted to OCI Monitoring.

`figures_of(body, outcome, …)` takes the invocation body and what it answered (or None when it
raised: the `failed` outcome) and returns `InvocationFigures`; `metrics()` lists them as the
metric streams a `MetricsSink` posts (names, values, units), with the dimensions `bucket` and
`outcome`. Pure: no I/O, nothing but the body's own JSON is parsed.

The metric names are the alarms' (deploy/terraform/modules/objstream/monitoring.tf): change
them together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from function.core.events import parse_event
from function.errors import InvalidEvent, ObjectSkipped

if TYPE_CHECKING:
    from function.core.events import ObjectEvent
    from function.pipeline import Outcome

# The `bucket` dimension of an invocation whose body names no bucket (a malformed body, another
# kind of event). Not a valid bucket name, so it never stands for a real one.
NO_BUCKET = "(none)"
FAILED = "failed"  # the outcome of an invocation that raised (502)
CONTINUED = "continued"  # the outcome of a segment that handed the rest on (CONTRACT §3)


class Unit(StrEnum):
    """The `unit` metadata of each metric stream (shown by the Console's Metrics Explorer)."""

    COUNT = "count"
    BYTES = "bytes"
    MILLISECONDS = "milliseconds"
    SECONDS = "seconds"


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric stream of one invocation: a name, one value, its unit."""

    name: str
    value: float
    unit: Unit


@dataclass(frozen=True, slots=True)
class InvocationFigures:
    """One invocation's figures, with the dimensions they are posted under."""

    outcome: str  # published, rejected, skipped, error, continued, failed
    bucket: str  # NO_BUCKET when the body names none
    object_name: str | None
    records: int
    invalid_records: int
    bytes_read: int
    duration_ms: float
    lag_seconds: float | None  # None without an event time (a malformed body)
    segment: int  # which segment of its object this invocation was (1 unless continued)
    handoffs: int  # 1 when it handed the rest of the object to the next segment
    taken_at: dt.datetime  # UTC, the datapoints' timestamp

    @property
    def dimensions(self) -> dict[str, str]:
        """The dimensions every metric stream of the invocation carries."""
        return {"bucket": self.bucket, "outcome": self.outcome}

    def metrics(self) -> list[Metric]:
        """The metric streams to post, in a stable order (lag only when known)."""
        metrics = [
            Metric("records", self.records, Unit.COUNT),
            Metric("invalid_records", self.invalid_records, Unit.COUNT),
            Metric("bytes_read", self.bytes_read, Unit.BYTES),
            Metric("duration_ms", self.duration_ms, Unit.MILLISECONDS),
            Metric("segments", self.segment, Unit.COUNT),
            Metric("handoffs", self.handoffs, Unit.COUNT),
        ]
        if self.lag_seconds is not None:
            metrics.append(Metric("lag_seconds", self.lag_seconds, Unit.SECONDS))
        return metrics


def figures_of(
    body: bytes,
    outcome: Outcome | None,
    *,
    duration_seconds: float,
    now: dt.datetime,
) -> InvocationFigures:
    """The figures of an invocation of `body` that answered `outcome` (None: it raised)."""
    event, segment = _event_of(body)
    detail: dict[str, Any] = outcome.detail if outcome is not None else {}
    status = str(outcome.status) if outcome is not None else FAILED
    return InvocationFigures(
        outcome=status,
        bucket=event.bucket if event is not None else NO_BUCKET,
        object_name=event.object_name if event is not None else None,
        records=_count(detail, "records"),
        invalid_records=_count(detail, "invalid"),
        bytes_read=_count(detail, "bytes"),
        duration_ms=round(duration_seconds * 1000, 1),
        lag_seconds=_lag(event, now),
        segment=_count(detail, "segment") or segment,
        handoffs=1 if status == CONTINUED else 0,
        taken_at=now,
    )


def _event_of(body: bytes) -> tuple[ObjectEvent | None, int]:
    """The object event a body is about, and its segment: an OCI event or a continuation."""
    try:
        return parse_event(body), 1
    except (InvalidEvent, ObjectSkipped):
        pass
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, 1
    # A continuation body (CONTRACT §4) carries the OCI event as received, and its segment.
    if not isinstance(document, dict) or "objstreamContinuation" not in document:
        return None, 1
    segment = document.get("segment")
    try:
        event = parse_event(orjson.dumps(document.get("event")))
    except (InvalidEvent, ObjectSkipped):
        event = None
    return event, segment if isinstance(segment, int) and segment > 0 else 1


def _count(detail: dict[str, Any], key: str) -> int:
    value = detail.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _lag(event: ObjectEvent | None, now: dt.datetime) -> float | None:
    """Seconds from the event's `eventTime` to `now` (never negative: clocks differ)."""
    if event is None:
        return None
    try:
        when = dt.datetime.fromisoformat(event.event_time)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round(max(0.0, (now - when).total_seconds()), 3)
