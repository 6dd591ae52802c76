"""Continuation bodies: what a segment hands the next one, read strictly (CONTRACT §4).

A malformed or forged body is answered 200 `error` and nothing is sent; these tests pin the
parser and, through `Runtime.invoke`, that nothing reaches the stream for any of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from function.core.continuation import (
    Continuation,
    Counts,
    first_segment,
    parse_continuation,
)
from function.core.deadline import Deadline
from function.core.decoding.records import RecordFormat, ResumePoint
from function.core.events import parse_event
from function.errors import InvalidEvent, ObjectSkipped
from function.settings import Settings
from objstream.local_chain import InProcessInvoker
from objstream.testing.fakes import FakePublisher, FakeReader
from objstream.testing.fakes import invoke as invoke_with

EVENT = (Path(__file__).resolve().parents[1] / "events" / "createobject.json").read_bytes()
DATA = b"".join(b'{"n": %d}\n' % n for n in range(100))  # 9 bytes a line for n < 10


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objstreamContinuation": 1,
        "event": json.loads(EVENT),
        "segment": 2,
        "nextIndex": 10,
        "resume": {"format": "jsonl", "offset": 90},
        "counts": {
            "records": 10,
            "invalid": 0,
            "deadLettered": 0,
            "skippedInvalid": 0,
            "bytes": 90,
        },
        "attempt": 1,
    }
    for key, value in changes.items():
        if value is _DROP:
            del body[key]
        else:
            body[key] = value
    return body


_DROP = object()


def test_a_continuation_round_trips_through_its_body() -> None:
    event = parse_event(EVENT)
    resume = ResumePoint(RecordFormat.CSV, offset=123, csv_header=("a", "b"), csv_delimiter=";")
    original = Continuation(event, 3, 40, resume, Counts(38, 2, 1, 1, 123), attempt=2)

    parsed = parse_continuation(json.loads(original.to_json()))

    assert parsed == Continuation(parsed.event, 3, 40, resume, Counts(38, 2, 1, 1, 123), 2)
    assert (parsed.event.object_name, parsed.event.etag) == (event.object_name, event.etag)


def test_the_first_segment_starts_at_the_objects_start() -> None:
    first = parse_continuation(json.loads(first_segment(parse_event(EVENT)).to_json()))
    assert (first.segment, first.next_index, first.resume, first.counts) == (1, 0, None, Counts())


def test_the_next_segment_and_another_attempt_are_what_they_say() -> None:
    first = first_segment(parse_event(EVENT))
    resume = ResumePoint(RecordFormat.JSONL, offset=90)
    second = first.next_segment(10, resume, Counts(10, 0, 0, 0, 90))
    assert (second.segment, second.next_index, second.attempt) == (2, 10, 1)
    assert second.again().attempt == 2
    assert second.again().next_index == 10


FORGED = {
    "wrong-version": _body(objstreamContinuation=2),
    "boolean-version": _body(objstreamContinuation=True),
    "unknown-field": {**_body(), "extra": 1},
    "event-not-an-object": _body(event="{}"),
    "event-malformed": _body(event={"eventType": "com.oraclecloud.objectstorage.createobject"}),
    "negative-index": _body(nextIndex=-1),
    "index-not-a-number": _body(nextIndex="10"),
    "index-huge": _body(nextIndex=2**60),
    "segment-zero": _body(segment=0),
    "attempt-zero": _body(attempt=0),
    "attempt-absurd": _body(attempt=10_000),
    "counts-missing": _body(counts=_DROP),
    "counts-do-not-add-up": _body(nextIndex=11),
    "counts-negative": _body(
        counts={"records": -1, "invalid": 11, "deadLettered": 0, "skippedInvalid": 0, "bytes": 0}
    ),
    "counts-more-handled-than-invalid": _body(
        counts={"records": 10, "invalid": 0, "deadLettered": 1, "skippedInvalid": 0, "bytes": 0}
    ),
    "resume-missing-after-segment-1": _body(resume={}),
    "resume-not-an-object": _body(resume=[90]),
    "resume-unknown-field": _body(resume={"format": "jsonl", "offset": 90, "x": 1}),
    "resume-format-auto": _body(resume={"format": "auto", "offset": 90}),
    "resume-format-unknown": _body(resume={"format": "xml", "offset": 90}),
    "resume-negative-offset": _body(resume={"format": "jsonl", "offset": -5}),
    "resume-offset-zero-after-records": _body(resume={"format": "jsonl", "offset": 0}),
    "resume-skip-with-offset": _body(resume={"format": "jsonl", "skip": True, "offset": 3}),
    "resume-skip-false": _body(resume={"format": "jsonl", "skip": False, "offset": 90}),
    "resume-header-not-csv": _body(resume={"format": "jsonl", "offset": 90, "header": ["a"]}),
    "resume-csv-without-header": _body(resume={"format": "csv", "offset": 90}),
    "resume-csv-duplicate-key": _body(
        resume={"format": "csv", "offset": 90, "header": ["a", "a"], "delimiter": ","}
    ),
    "resume-csv-bad-delimiter": _body(
        resume={"format": "csv", "offset": 90, "header": ["a"], "delimiter": '"'}
    ),
    "resume-in-array-not-json": _body(resume={"format": "jsonl", "offset": 90, "inArray": True}),
    "segment-1-with-counts": _body(segment=1),
}


@pytest.mark.parametrize("document", list(FORGED.values()), ids=list(FORGED))
def test_a_forged_or_malformed_body_is_refused_naming_what_is_wrong(
    document: dict[str, Any],
) -> None:
    with pytest.raises(InvalidEvent, match=r"(?i)continuation|event|eventID|data"):
        parse_continuation(document)


def test_a_continuation_about_another_kind_of_event_is_skipped() -> None:
    event = json.loads(EVENT)
    event["eventType"] = "com.oraclecloud.objectstorage.deleteobject"
    with pytest.raises(ObjectSkipped):
        parse_continuation(_body(event=event))


def _settings() -> Settings:
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        }
    )


def _invoke(document: dict[str, Any], data: bytes = DATA) -> tuple[Any, FakePublisher]:
    publisher = FakePublisher()
    outcome = invoke_with(
        json.dumps(document).encode(),
        settings=_settings(),
        reader=FakeReader(data),
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    return outcome, publisher


@pytest.mark.parametrize("document", list(FORGED.values()), ids=list(FORGED))
def test_the_function_answers_a_forged_body_with_an_error_and_sends_nothing(
    document: dict[str, Any],
) -> None:
    outcome, publisher = _invoke(document)
    assert outcome.status == "error"
    assert publisher.sent == []


def test_a_resume_offset_past_the_objects_end_is_an_error_and_sends_nothing() -> None:
    outcome, publisher = _invoke(_body(resume={"format": "jsonl", "offset": len(DATA) + 1}))
    assert outcome.status == "error"
    assert "resumes at byte" in outcome.detail["error"]
    assert publisher.sent == []


def test_a_next_index_past_the_end_of_a_compressed_object_is_an_error_and_sends_nothing() -> None:
    import gzip

    document = _body(
        nextIndex=1000,
        resume={"format": "jsonl", "skip": True},
        counts={"records": 1000, "invalid": 0, "deadLettered": 0, "skippedInvalid": 0, "bytes": 10},
    )
    outcome, publisher = _invoke(document, gzip.compress(DATA))
    assert outcome.status == "error"
    assert "has 100" in outcome.detail["error"]
    assert publisher.sent == []


def test_a_good_continuation_publishes_the_rest_without_the_event_again() -> None:
    outcome, publisher = _invoke(_body())
    assert outcome.status == "published"
    types = [m.type for m in publisher.sent]
    assert "com.oraclecloud.objectstorage.createobject" not in types
    indexes = [
        int(m.headers["ce_recordindex"]) for m in publisher.sent if "ce_recordindex" in m.headers
    ]
    assert indexes == list(range(10, 100))
    marker = json.loads(publisher.sent[-1].value or b"")
    assert (marker["records"], marker["segments"], marker["bytes"]) == (100, 2, len(DATA))


def test_an_in_process_invoker_keeps_the_bodies_in_order() -> None:
    invoker = InProcessInvoker()
    invoker.invoke_detached(b"one", Deadline.in_seconds(1))
    invoker.invoke_detached(b"two", Deadline.in_seconds(1))
    assert list(invoker.pending) == [b"one", b"two"]
