"""function.figures: an invocation's body and answer → its metric streams (pure)."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from function.figures import NO_BUCKET, figures_of
from function.pipeline import Outcome, OutcomeStatus
from objstream.oci_events import object_event_body

NOW = dt.datetime(2026, 11, 28, 10, 1, 0, tzinfo=dt.UTC)
EVENT = object_event_body(
    "ns",
    "uploads",
    "in/a.csv",
    "etag-1",
    event_time=dt.datetime(2026, 11, 28, 10, 0, 0, tzinfo=dt.UTC),
)


def test_a_published_outcome_gives_its_counts_bytes_and_lag() -> None:
    outcome = Outcome(
        OutcomeStatus.PUBLISHED, {"records": 7, "invalid": 2, "bytes": 900, "segments": 1}
    )

    figures = figures_of(EVENT, outcome, duration_seconds=0.25, now=NOW)

    assert figures.dimensions == {"bucket": "uploads", "outcome": "published"}
    assert {m.name: m.value for m in figures.metrics()} == {
        "records": 7,
        "invalid_records": 2,
        "bytes_read": 900,
        "duration_ms": 250.0,
        "segments": 1,
        "handoffs": 0,
        "lag_seconds": 60.0,
    }
    assert {m.name: str(m.unit) for m in figures.metrics()}["lag_seconds"] == "seconds"


def test_a_raised_invocation_is_failed_with_nothing_counted() -> None:
    figures = figures_of(EVENT, None, duration_seconds=1.0, now=NOW)

    assert figures.outcome == "failed"
    assert figures.records == figures.bytes_read == 0
    assert figures.object_name == "in/a.csv"


def test_a_continued_segment_counts_one_handoff_and_its_segment() -> None:
    body = orjson.dumps(
        {"objstreamContinuation": 1, "event": orjson.loads(EVENT), "segment": 3, "nextIndex": 9}
    )
    outcome = Outcome(OutcomeStatus.PUBLISHED, {})
    # The lead's `continued` status (CONTRACT §3) is not in this branch's OutcomeStatus yet.
    continued = Outcome("continued", {"segment": 3, "nextIndex": 20})  # type: ignore[arg-type]

    assert figures_of(body, outcome, duration_seconds=0, now=NOW).segment == 3
    figures = figures_of(body, continued, duration_seconds=0, now=NOW)
    assert (figures.outcome, figures.handoffs, figures.segment) == ("continued", 1, 3)
    assert figures.bucket == "uploads"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"eventType": "com.oraclecloud.computeapi.launchinstance.end"}', id="other"),
    ],
)
def test_a_body_without_an_object_has_no_bucket_and_no_lag(body: bytes) -> None:
    figures = figures_of(body, Outcome(OutcomeStatus.ERROR), duration_seconds=0, now=NOW)

    assert figures.bucket == NO_BUCKET
    assert figures.lag_seconds is None
    assert "lag_seconds" not in {m.name for m in figures.metrics()}


def test_an_event_from_the_future_has_no_negative_lag() -> None:
    early = NOW - dt.timedelta(minutes=5)

    assert figures_of(EVENT, None, duration_seconds=0, now=early).lag_seconds == 0.0
