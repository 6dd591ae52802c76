"""The pipeline's outcomes and message order, with a plain fake reader and publisher."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from function.core.deadline import Deadline
from function.errors import DeadlineExceeded, ObjectRejected, ObjectSkipped
from function.settings import Settings
from objstream.testing.fakes import FakePublisher, FakeReader, invoke

EVENT = (Path(__file__).resolve().parents[1] / "events" / "createobject.json").read_bytes()
NAME = json.loads(EVENT)["data"]["resourceName"]


def _settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            **env,
        }
    )


def _run(data: bytes, **env: str) -> tuple[dict[str, Any], FakePublisher]:
    publisher = FakePublisher()
    outcome = invoke(
        EVENT,
        settings=_settings(**env),
        reader=FakeReader(data),
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    return json.loads(outcome.to_json()), publisher


def test_the_marker_is_sent_only_after_everything_before_it_was_settled() -> None:
    result, publisher = _run(b"id,name\n1,a\n2,b\n")
    assert result["status"] == "published"
    types = [m.type for m in publisher.sent]
    assert types == [
        "com.oraclecloud.objectstorage.createobject",
        "objstream.record",
        "objstream.record",
        "objstream.object.published",
    ]
    # settled once before the marker (3 messages out) and once after it (4)
    assert publisher.settled_at == [3, 4]


def test_dead_letter_policy_sends_the_reason_range_and_raw_bytes() -> None:
    data = b'{"a": 1}\n{broken\n{"a": 3}\n'
    result, publisher = _run(data, RECORD_FORMAT="jsonl")
    assert (result["records"], result["invalid"], result["deadLettered"]) == (2, 1, 1)
    [dead] = [m for m in publisher.sent if m.type == "objstream.record.invalid"]
    body = json.loads(dead.value or b"")
    assert body["index"] == 1
    assert data[body["start"] : body["end"]] == b"{broken"
    assert base64.b64decode(body["raw"]) == b"{broken"
    assert dead.topic == "uploads"
    assert [
        m.headers.get("ce_recordindex") for m in publisher.sent if m.type == "objstream.record"
    ] == [b"0", b"2"]


def test_dead_letters_go_to_their_own_topic_when_set() -> None:
    _, publisher = _run(b"{x\n", RECORD_FORMAT="jsonl", STREAM_DLQ_TOPIC="uploads-dlq")
    assert {m.topic for m in publisher.sent if m.type == "objstream.record.invalid"} == {
        "uploads-dlq"
    }


def test_skip_policy_counts_bad_records_and_sends_nothing_for_them() -> None:
    result, publisher = _run(b'{"a": 1}\n{x\n', RECORD_FORMAT="jsonl", BAD_RECORD_POLICY="skip")
    assert (result["records"], result["invalid"], result["skippedInvalid"]) == (1, 1, 1)
    assert "objstream.record.invalid" not in [m.type for m in publisher.sent]


def test_fail_policy_rejects_the_object_after_what_came_before() -> None:
    result, publisher = _run(
        b'{"a": 1}\n{x\n{"a": 3}\n', RECORD_FORMAT="jsonl", BAD_RECORD_POLICY="fail"
    )
    assert result["status"] == "rejected"
    assert "record 1" in result["reason"]
    types = [m.type for m in publisher.sent]
    assert types[-1] == "objstream.object.rejected"
    assert types.count("objstream.record") == 1


def test_a_gzip_bomb_is_rejected_with_a_marker() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    result, publisher = _run(bomb)
    assert result["status"] == "rejected"
    assert publisher.sent[-1].type == "objstream.object.rejected"
    assert "objstream.object.published" not in [m.type for m in publisher.sent]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(ObjectSkipped("object no longer exists"), "skipped", id="gone"),
        pytest.param(
            ObjectRejected("the object is in the Archive storage tier"), "rejected", id="archived"
        ),
    ],
)
def test_what_the_reader_says_decides_the_outcome(error: Exception, status: str) -> None:
    publisher = FakePublisher()
    outcome = invoke(
        EVENT,
        settings=_settings(),
        reader=FakeReader(error=error),
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    assert outcome.status == status
    if status == "skipped":
        assert publisher.sent == []
    else:
        assert [m.type for m in publisher.sent][-1] == "objstream.object.rejected"


def test_a_passed_deadline_aborts_without_a_marker() -> None:
    publisher = FakePublisher()
    data = b"".join(b'{"n": %d}\n' % n for n in range(5000))
    with pytest.raises(DeadlineExceeded):
        invoke(
            EVENT,
            settings=_settings(),
            reader=FakeReader(data),
            publisher=publisher,
            deadline=Deadline.in_seconds(-1),
        )
    assert publisher.aborted == 1
    assert not [m for m in publisher.sent if m.type.startswith("objstream.object.")]


@pytest.mark.parametrize(
    ("record_key", "expected"),
    [
        pytest.param("object", f"axaxnpcrorw5/uploads/{NAME}".encode(), id="object"),
        pytest.param("none", None, id="none"),
        pytest.param("field:customer", b"acme", id="field"),
    ],
)
def test_record_keys_follow_record_key(record_key: str, expected: bytes | None) -> None:
    _, publisher = _run(b"customer,qty\nacme,1\n", RECORD_KEY=record_key)
    [record] = [m for m in publisher.sent if m.type == "objstream.record"]
    assert record.key == expected
    marker = publisher.sent[-1]
    assert marker.key == f"axaxnpcrorw5/uploads/{NAME}".encode()


def test_a_malformed_body_is_an_error_outcome_and_sends_nothing() -> None:
    publisher = FakePublisher()
    outcome = invoke(
        b"{nope",
        settings=_settings(),
        reader=FakeReader(),
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    assert outcome.status == "error"
    assert publisher.sent == []
