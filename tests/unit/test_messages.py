"""The CloudEvents contract of every message objstream writes (CONTRACT.md §2), from events alone.

Events are the OCI samples in tests/events/ read by `parse_event` (or copies of them with one
field changed); expected ids are computed here with hashlib, never by asking the module.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from function.core.decoding import InvalidRecord
from function.core.decoding.records import RecordFormat
from function.core.events import ObjectEvent, parse_event
from function.core.messages import ObjectMessages, Outgoing

if TYPE_CHECKING:
    from collections.abc import Callable

    from kafka_client.types import Headers

EVENTS = Path(__file__).resolve().parent.parent / "events"
SPECIAL_NAME = "reports/Q1 2026/Zürich sales 100% +tax (final) 東京.csv"

EVENT_HEADERS = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_time",
    "ce_subject",
    "ce_type",
    "content-type",
]
RECORD_HEADERS = [
    "ce_specversion",
    "ce_id",
    "ce_recordindex",
    "ce_source",
    "ce_time",
    "ce_subject",
    "ce_type",
    "content-type",
    "ce_etag",
]
# Dead letters and the published/rejected markers: the event's headers and the eTag.
CONTROL_HEADERS = [*EVENT_HEADERS, "ce_etag"]

SUMMARY: dict[str, Any] = {
    "format": "csv",
    "compression": "none",
    "records": 3,
    "invalid": 1,
    "deadLettered": 1,
    "skippedInvalid": 0,
    "bytes": 120,
    "decodedBytes": 120,
    "durationMs": 12,
}


# --- building events and messages ------------------------------------------------------------


def sample(name: str) -> bytes:
    return (EVENTS / f"{name}.json").read_bytes()


def document(name: str = "createobject") -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(sample(name))
    return parsed


def event_from(
    *,
    name: str | None = None,
    namespace: str | None = None,
    bucket: str | None = None,
    etag: str | None = None,
    drop_etag: bool = False,
    event_id: str | None = None,
    event_time: str | None = None,
    base: str = "createobject",
) -> ObjectEvent:
    """The sample `base` with the given fields changed, or its eTag left out."""
    changed = copy.deepcopy(document(base))
    data = changed["data"]
    details = data["additionalDetails"]
    if name is not None:
        data["resourceName"] = name
    if namespace is not None:
        details["namespace"] = namespace
    if bucket is not None:
        details["bucketName"] = bucket
    if etag is not None:
        details["eTag"] = etag
    if drop_etag:
        del details["eTag"]
    if event_id is not None:
        changed["eventID"] = event_id
    if event_time is not None:
        changed["eventTime"] = event_time
    return parse_event(json.dumps(changed, ensure_ascii=False).encode())


def messages_for(
    event: ObjectEvent, record_format: RecordFormat = RecordFormat.CSV
) -> ObjectMessages:
    messages = ObjectMessages(event)
    messages.start_records(record_format)
    return messages


def expected_version_id(namespace: str, bucket: str, name: str, etag: str) -> str:
    material = f"{namespace}\x00{bucket}\x00{name}\x00{etag}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def invalid_record(index: int = 7, raw: bytes = b'{"broken": ', start: int = 100) -> InvalidRecord:
    return InvalidRecord(
        index=index,
        start=start,
        end=start + len(raw),
        reason="invalid JSON: unexpected end of data at 11",
        raw=raw,
    )


def header_values(headers: Headers) -> dict[str, bytes]:
    """Headers by name; every value is bytes and no name repeats."""
    values: dict[str, bytes] = {}
    for name, value in headers:
        assert isinstance(value, bytes), f"{name} is {value!r}, not bytes"
        assert name not in values, f"{name} appears twice"
        values[name] = value
    return values


def message_size(message: Outgoing) -> int:
    """The value and every header's name and value, in bytes."""
    header_bytes = 0
    for name, value in message.headers:
        text = value.encode() if isinstance(value, str) else value or b""
        header_bytes += len(name.encode()) + len(text)
    return len(message.value) + header_bytes


def body_of(message: Outgoing) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(message.value)
    return parsed


# Each message kind's headers, for an object whose records are CSV; records are index 7.
def _event_headers(messages: ObjectMessages) -> Headers:
    return messages.event_message().headers


def _record_headers(messages: ObjectMessages) -> Headers:
    return messages.record_headers(7)


def _invalid_headers(messages: ObjectMessages) -> Headers:
    return messages.invalid_message(invalid_record(index=7), max_bytes=1_000_000).headers


def _published_headers(messages: ObjectMessages) -> Headers:
    return messages.published_marker(SUMMARY).headers


def _rejected_headers(messages: ObjectMessages) -> Headers:
    return messages.rejected_marker("the gzip data is truncated", SUMMARY).headers


KINDS: dict[str, Callable[[ObjectMessages], Headers]] = {
    "event": _event_headers,
    "record": _record_headers,
    "dead-letter": _invalid_headers,
    "published": _published_headers,
    "rejected": _rejected_headers,
}
ALL_KINDS = pytest.mark.parametrize("kind", list(KINDS))

UNUSUAL_NAMES = pytest.mark.parametrize(
    "name",
    [
        pytest.param("incoming/2026/orders.csv", id="plain-with-slashes"),
        pytest.param("monthly report final.csv", id="spaces"),
        pytest.param("100% done.csv", id="percent"),
        pytest.param("Q1%202026%2Forders.csv", id="percent-escapes-kept-literally"),
        pytest.param("a+b=c.csv", id="plus"),
        pytest.param(SPECIAL_NAME, id="unicode-space-percent-plus"),
        pytest.param("données/Ünïcødé/東京 🚀.jsonl", id="unicode-and-emoji"),
        pytest.param("a//b/./c/../d.txt", id="empty-dot-and-dotdot-segments"),
        pytest.param("/leading-and-trailing/", id="leading-and-trailing-slash"),
    ],
)


# --- the headers of every kind ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "names"),
    [
        pytest.param("event", EVENT_HEADERS, id="event"),
        pytest.param("record", RECORD_HEADERS, id="record"),
        pytest.param("dead-letter", CONTROL_HEADERS, id="dead-letter"),
        pytest.param("published", CONTROL_HEADERS, id="published"),
        pytest.param("rejected", CONTROL_HEADERS, id="rejected"),
    ],
)
def test_each_message_kind_has_exactly_its_headers_in_order(kind: str, names: list[str]) -> None:
    headers = KINDS[kind](messages_for(parse_event(sample("createobject"))))

    assert [name for name, _ in headers] == names
    header_values(headers)  # every value is bytes, no name twice


@pytest.mark.parametrize(
    ("kind", "ce_type", "ce_id_suffix"),
    [
        pytest.param("record", "objstream.record", "-7", id="record"),
        pytest.param("dead-letter", "objstream.record.invalid", "-7", id="dead-letter"),
        pytest.param("published", "objstream.object.published", "-published", id="published"),
        pytest.param("rejected", "objstream.object.rejected", "-rejected", id="rejected"),
    ],
)
def test_each_objstream_message_kind_has_its_ce_type_and_a_version_derived_ce_id(
    kind: str, ce_type: str, ce_id_suffix: str
) -> None:
    version = expected_version_id(
        "axaxnpcrorw5",
        "uploads",
        "incoming/2026/orders.csv",
        "f8ffb6e9-f602-460f-a6c0-00b5abfa24c7",
    )

    values = header_values(KINDS[kind](messages_for(parse_event(sample("createobject")))))

    assert values["ce_type"] == ce_type.encode()
    assert values["ce_id"] == f"{version}{ce_id_suffix}".encode()


@ALL_KINDS
@pytest.mark.parametrize(
    "sample_name",
    ["createobject", "updateobject", "createobject_special_name", "createobject_versioned"],
)
def test_every_message_kind_carries_specversion_source_time_and_subject(
    kind: str, sample_name: str
) -> None:
    event = parse_event(sample(sample_name))

    values = header_values(KINDS[kind](messages_for(event)))

    assert values["ce_specversion"] == b"1.0"
    assert values["ce_source"] == (
        f"/n/{event.namespace}/b/{event.bucket}/o/{event.object_name}".encode()
    )
    assert values["ce_time"] == event.event_time.encode()
    assert values["ce_subject"] == event.object_name.encode()


@ALL_KINDS
@UNUSUAL_NAMES
def test_ce_source_and_ce_subject_hold_the_object_name_verbatim(kind: str, name: str) -> None:
    values = header_values(KINDS[kind](messages_for(event_from(name=name))))

    assert values["ce_source"] == f"/n/axaxnpcrorw5/b/uploads/o/{name}".encode()
    assert values["ce_subject"] == name.encode("utf-8")


def test_ce_source_ignores_a_percent_encoded_resource_id_in_the_event() -> None:
    event = parse_event(sample("createobject_special_name_encoded_id"))

    values = header_values(messages_for(event).record_headers(0))

    assert values["ce_source"] == f"/n/axaxnpcrorw5/b/uploads/o/{SPECIAL_NAME}".encode()
    assert values["ce_subject"] == SPECIAL_NAME.encode()


@ALL_KINDS
@pytest.mark.parametrize(
    "event_time",
    [
        pytest.param("2026-11-28T10:00:00Z", id="seconds-utc"),
        pytest.param("2026-11-28T10:07:45.120Z", id="milliseconds-trailing-zero"),
        pytest.param("2026-11-28T11:00:00.000001+01:00", id="microseconds-offset"),
    ],
)
def test_ce_time_is_the_event_time_exactly_as_sent(kind: str, event_time: str) -> None:
    values = header_values(KINDS[kind](messages_for(event_from(event_time=event_time))))

    assert values["ce_time"] == event_time.encode()


@pytest.mark.parametrize(
    ("record_format", "content_type"),
    [
        pytest.param(RecordFormat.CSV, b"application/json", id="csv"),
        pytest.param(RecordFormat.JSON, b"application/json", id="json"),
        pytest.param(RecordFormat.JSONL, b"application/json", id="jsonl"),
        pytest.param(RecordFormat.LINES, b"text/plain; charset=utf-8", id="lines"),
        pytest.param(RecordFormat.RAW, b"application/octet-stream", id="raw"),
    ],
)
def test_record_content_type_follows_the_record_format(
    record_format: RecordFormat, content_type: bytes
) -> None:
    messages = messages_for(parse_event(sample("createobject")), record_format)

    assert header_values(messages.record_headers(0))["content-type"] == content_type


@pytest.mark.parametrize(
    "record_format",
    [pytest.param(fmt, id=fmt.value) for fmt in RecordFormat if fmt is not RecordFormat.AUTO],
)
def test_non_record_messages_are_json_whatever_the_record_format(
    record_format: RecordFormat,
) -> None:
    messages = messages_for(parse_event(sample("createobject")), record_format)

    for kind in ("event", "dead-letter", "published", "rejected"):
        assert header_values(KINDS[kind](messages))["content-type"] == b"application/json", kind


# --- the key ---------------------------------------------------------------------------------


@UNUSUAL_NAMES
def test_the_key_is_namespace_bucket_and_object_name_in_utf8(name: str) -> None:
    messages = ObjectMessages(event_from(name=name, namespace="ns-1", bucket="b.2"))

    assert messages.key == f"ns-1/b.2/{name}".encode()


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample_name",
    [
        "createobject",
        "updateobject",
        "createobject_special_name",
        "createobject_special_name_encoded_id",
        "createobject_versioned",
    ],
)
def test_the_version_id_is_sha256_of_namespace_bucket_name_and_etag(sample_name: str) -> None:
    raw = document(sample_name)
    details = raw["data"]["additionalDetails"]
    expected = expected_version_id(
        details["namespace"], details["bucketName"], raw["data"]["resourceName"], details["eTag"]
    )

    messages = ObjectMessages(parse_event(sample(sample_name)))

    assert messages.version_id == expected


@pytest.mark.parametrize("index", [0, 1, 7, 10, 1_234_567])
def test_a_records_ce_id_is_the_version_id_a_dash_and_its_index(index: int) -> None:
    expected = expected_version_id(
        "axaxnpcrorw5",
        "uploads",
        "incoming/2026/orders.csv",
        "f8ffb6e9-f602-460f-a6c0-00b5abfa24c7",
    )
    messages = messages_for(parse_event(sample("createobject")))

    values = header_values(messages.record_headers(index))

    assert values["ce_id"] == f"{expected}-{index}".encode()
    assert messages.record_id(index) == values["ce_id"]


@pytest.mark.parametrize(
    "sample_name", ["createobject", "createobject_special_name", "createobject_versioned"]
)
def test_two_parses_of_the_same_body_give_the_same_ids(sample_name: str) -> None:
    body = sample(sample_name)
    first, second = messages_for(parse_event(body)), messages_for(parse_event(body))

    for index in (0, 1, 99):
        assert first.record_headers(index) == second.record_headers(index)
        assert first.invalid_message(invalid_record(index), max_bytes=1_000_000) == (
            second.invalid_message(invalid_record(index), max_bytes=1_000_000)
        )
    assert first.published_marker(SUMMARY) == second.published_marker(SUMMARY)
    assert first.rejected_marker("bad", SUMMARY) == second.rejected_marker("bad", SUMMARY)


def test_a_redelivery_of_the_same_version_under_another_event_id_keeps_the_record_ids() -> None:
    original = messages_for(parse_event(sample("createobject")))
    redelivered = messages_for(
        event_from(
            event_id="99999999-0000-4000-8000-000000000000", event_time="2026-11-29T00:00:00Z"
        )
    )

    assert redelivered.record_id(3) == original.record_id(3)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"etag": "0b9a1d52-7c3e-4f0e-9a4b-6d2c8e1f3a57"}, id="etag"),
        pytest.param({"namespace": "otherns"}, id="namespace"),
        pytest.param({"bucket": "uploads2"}, id="bucket"),
        pytest.param({"name": "incoming/2026/orders.csv.bak"}, id="name"),
    ],
)
def test_record_ids_differ_when_the_object_version_differs(change: dict[str, Any]) -> None:
    original = messages_for(parse_event(sample("createobject")))
    changed = messages_for(event_from(**change))

    assert changed.version_id != original.version_id
    assert changed.record_id(0) != original.record_id(0)


def test_fields_are_separated_so_shifting_a_slash_between_bucket_and_name_changes_the_id() -> None:
    # bucket "a" + name "b/c" and bucket "a/b" + name "c" would collide if joined with "/".
    one = ObjectMessages(event_from(bucket="a", name="b/c"))
    other = ObjectMessages(event_from(bucket="a/b", name="c"))

    assert one.version_id != other.version_id


def test_without_an_etag_two_parses_of_one_event_share_the_version_id() -> None:
    body = json.dumps(_without_etag(document())).encode()

    assert (
        ObjectMessages(parse_event(body)).version_id == ObjectMessages(parse_event(body)).version_id
    )


def test_without_an_etag_events_with_different_ids_never_share_record_ids() -> None:
    one = messages_for(event_from(drop_etag=True, event_id="11111111-1111-4111-8111-111111111111"))
    other = messages_for(
        event_from(drop_etag=True, event_id="22222222-2222-4222-8222-222222222222")
    )

    assert len(one.version_id) == 32
    assert int(one.version_id, 16) >= 0  # hex
    assert one.version_id != other.version_id
    assert one.record_id(0) != other.record_id(0)


def test_without_an_etag_the_version_id_is_not_the_one_of_any_etag_version() -> None:
    no_etag = ObjectMessages(event_from(drop_etag=True))
    with_etag = ObjectMessages(parse_event(sample("createobject")))

    assert no_etag.version_id != with_etag.version_id


def _without_etag(raw: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(raw)
    del changed["data"]["additionalDetails"]["eTag"]
    return changed


# --- extension headers -----------------------------------------------------------------------


@ALL_KINDS
def test_ce_recordindex_is_only_on_records(kind: str) -> None:
    values = header_values(KINDS[kind](messages_for(parse_event(sample("createobject")))))

    assert ("ce_recordindex" in values) == (kind == "record")


@pytest.mark.parametrize("index", [0, 7, 1_234_567])
def test_ce_recordindex_is_the_records_index_as_decimal_text(index: int) -> None:
    messages = messages_for(parse_event(sample("createobject")))

    assert header_values(messages.record_headers(index))["ce_recordindex"] == str(index).encode()


@ALL_KINDS
def test_ce_etag_is_on_every_message_but_the_event(kind: str) -> None:
    values = header_values(KINDS[kind](messages_for(parse_event(sample("createobject")))))

    if kind == "event":
        assert "ce_etag" not in values
    else:
        assert values["ce_etag"] == b"f8ffb6e9-f602-460f-a6c0-00b5abfa24c7"


# --- the event message -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(sample("createobject"), id="sample-as-delivered"),
        pytest.param(sample("createobject_special_name_encoded_id"), id="escaped-unicode"),
        pytest.param(b"\r\n  " + sample("createobject") + b"\n\n", id="surrounding-whitespace"),
        pytest.param(
            json.dumps(document("createobject_special_name"), ensure_ascii=False).encode(),
            id="compact-utf8",
        ),
    ],
)
def test_the_event_messages_value_is_the_body_exactly_as_received(body: bytes) -> None:
    message = ObjectMessages(parse_event(body)).event_message()

    assert message.value == body


@pytest.mark.parametrize("sample_name", ["createobject", "updateobject", "createobject_versioned"])
def test_the_event_messages_ce_id_and_ce_type_are_the_oci_event_id_and_type(
    sample_name: str,
) -> None:
    raw = document(sample_name)

    values = header_values(ObjectMessages(parse_event(sample(sample_name))).event_message().headers)

    assert values["ce_id"] == raw["eventID"].encode()
    assert values["ce_type"] == raw["eventType"].encode()
    assert values["content-type"] == b"application/json"


# --- dead letters ----------------------------------------------------------------------------


def test_a_dead_letters_body_has_reason_range_object_and_raw() -> None:
    raw = b'{"broken": '
    record = InvalidRecord(index=7, start=100, end=111, reason="invalid JSON", raw=raw)

    message = messages_for(parse_event(sample("createobject"))).invalid_message(
        record, max_bytes=1_000_000
    )

    assert body_of(message) == {
        "reason": "invalid JSON",
        "index": 7,
        "start": 100,
        "end": 111,
        "object": {
            "namespace": "axaxnpcrorw5",
            "bucket": "uploads",
            "object": "incoming/2026/orders.csv",
            "eTag": "f8ffb6e9-f602-460f-a6c0-00b5abfa24c7",
            "eventID": "1a2b3c4d-0e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "eventType": "com.oraclecloud.objectstorage.createobject",
        },
        "raw": base64.b64encode(raw).decode(),
        "rawTruncated": False,
    }


def test_a_dead_letters_ce_id_is_the_id_its_record_would_have_had() -> None:
    messages = messages_for(parse_event(sample("createobject")))

    message = messages.invalid_message(invalid_record(index=42), max_bytes=1_000_000)

    assert header_values(message.headers)["ce_id"] == messages.record_id(42)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe not utf-8 \x00", id="binary"),
        pytest.param('Zoë,"unterminated\r\n'.encode(), id="csv-fragment"),
        pytest.param(b"x" * 60_000, id="60-kb"),
    ],
)
def test_a_small_raw_record_is_kept_whole_and_not_marked_truncated(raw: bytes) -> None:
    message = messages_for(parse_event(sample("createobject"))).invalid_message(
        invalid_record(raw=raw), max_bytes=1_000_000
    )

    body = body_of(message)
    assert base64.b64decode(body["raw"]) == raw
    assert body["rawTruncated"] is False


def test_raw_bytes_the_decoder_already_cut_short_are_marked_truncated() -> None:
    # The decoder keeps at most the record's first bytes; the byte range says how long it was.
    record = InvalidRecord(index=0, start=0, end=5_000_000, reason="over the limit", raw=b"x" * 10)

    body = body_of(
        messages_for(parse_event(sample("createobject"))).invalid_message(
            record, max_bytes=1_000_000
        )
    )

    assert base64.b64decode(body["raw"]) == b"x" * 10
    assert body["rawTruncated"] is True


@pytest.mark.parametrize("max_bytes", [8_192, 65_536, 300_000, 1_000_000])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param("incoming/2026/orders.csv", id="short-name"),
        pytest.param("長" * 341, id="1023-byte-name"),
    ],
)
def test_a_huge_raw_record_is_truncated_so_the_dead_letter_fits_max_bytes(
    max_bytes: int, name: str
) -> None:
    raw = bytes(range(256)) * (2 * max_bytes // 256 + 1)
    record = InvalidRecord(index=3, start=10, end=10 + len(raw), reason="too large", raw=raw)

    message = messages_for(event_from(name=name)).invalid_message(record, max_bytes=max_bytes)

    body = body_of(message)
    kept = base64.b64decode(body["raw"])
    assert message_size(message) <= max_bytes
    assert body["rawTruncated"] is True
    assert raw.startswith(kept)
    assert len(kept) >= (max_bytes - 8_192) * 3 // 4  # most of the room goes to the raw bytes


# --- the published and rejected markers ------------------------------------------------------


def _object_fields(raw: dict[str, Any]) -> dict[str, Any]:
    details = raw["data"]["additionalDetails"]
    return {
        "namespace": details["namespace"],
        "bucket": details["bucketName"],
        "object": raw["data"]["resourceName"],
        "eTag": details["eTag"],
        "eventID": raw["eventID"],
        "eventType": raw["eventType"],
    }


@pytest.mark.parametrize("sample_name", ["createobject", "createobject_special_name"])
def test_the_published_marker_is_the_object_fields_and_the_summary(sample_name: str) -> None:
    raw = document(sample_name)
    messages = ObjectMessages(parse_event(sample(sample_name)))

    marker = messages.published_marker(SUMMARY)

    assert body_of(marker) == {**_object_fields(raw), **SUMMARY}
    assert header_values(marker.headers)["ce_id"] == f"{messages.version_id}-published".encode()


@pytest.mark.parametrize("sample_name", ["createobject", "createobject_special_name"])
def test_the_rejected_marker_is_the_object_fields_the_reason_and_the_summary(
    sample_name: str,
) -> None:
    raw = document(sample_name)
    messages = ObjectMessages(parse_event(sample(sample_name)))

    marker = messages.rejected_marker("the gzip data is truncated", SUMMARY)

    assert body_of(marker) == {
        **_object_fields(raw),
        "reason": "the gzip data is truncated",
        **SUMMARY,
    }
    assert header_values(marker.headers)["ce_id"] == f"{messages.version_id}-rejected".encode()
