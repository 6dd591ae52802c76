"""parse_event against OCI events as OCI delivers them (tests/events/*.json) and broken bodies."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from function.core.events import (
    CREATE_OBJECT,
    MAX_EVENT_BYTES,
    UPDATE_OBJECT,
    ObjectEvent,
    parse_event,
)
from function.errors import InvalidEvent, ObjectSkipped

EVENTS = Path(__file__).resolve().parent.parent / "events"
SPECIAL_NAME = "reports/Q1 2026/Zürich sales 100% +tax (final) 東京.csv"


def sample(name: str) -> bytes:
    return (EVENTS / f"{name}.json").read_bytes()


def sample_document(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(sample(name))
    return document


def encode(document: object) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("name", "event_type", "object_name", "etag"),
    [
        pytest.param(
            "createobject",
            CREATE_OBJECT,
            "incoming/2026/orders.csv",
            "f8ffb6e9-f602-460f-a6c0-00b5abfa24c7",
            id="createobject",
        ),
        pytest.param(
            "updateobject",
            UPDATE_OBJECT,
            "incoming/2026/orders.csv",
            "0b9a1d52-7c3e-4f0e-9a4b-6d2c8e1f3a57",
            id="updateobject",
        ),
        pytest.param(
            "createobject_special_name",
            CREATE_OBJECT,
            SPECIAL_NAME,
            "7e5a3c1b-9d8f-4a6e-b2c0-d4e6f8a0b2c4",
            id="name-with-space-unicode-percent-plus",
        ),
        pytest.param(
            "createobject_special_name_encoded_id",
            CREATE_OBJECT,
            SPECIAL_NAME,
            "8f6b4d2c-0e9a-4b7f-a3d1-e5f7a9b1c3d5",
            id="name-escaped-in-json-and-percent-encoded-resource-id",
        ),
        pytest.param(
            "createobject_versioned",
            CREATE_OBJECT,
            "incoming/2026/returns.jsonl",
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            id="versioned-bucket",
        ),
    ],
)
def test_object_create_and_update_events_are_read(
    name: str, event_type: str, object_name: str, etag: str
) -> None:
    body = sample(name)

    event = parse_event(body)

    assert event.event_type == event_type
    assert event.namespace == "axaxnpcrorw5"
    assert event.bucket == "uploads"
    assert event.object_name == object_name
    assert event.etag == etag
    assert event.resource_id == f"/n/axaxnpcrorw5/b/uploads/o/{object_name}"
    assert event.object_key == f"axaxnpcrorw5/uploads/{object_name}"
    assert event.compartment_id is not None
    assert event.compartment_id.startswith("ocid1.compartment.oc1..")
    assert event.raw == body


def test_every_field_of_the_createobject_sample_is_read() -> None:
    event = parse_event(sample("createobject"))

    assert event == ObjectEvent(
        event_type=CREATE_OBJECT,
        event_id="1a2b3c4d-0e5f-4a6b-8c7d-9e0f1a2b3c4d",
        event_time="2026-11-28T10:00:00Z",
        namespace="axaxnpcrorw5",
        bucket="uploads",
        object_name="incoming/2026/orders.csv",
        etag="f8ffb6e9-f602-460f-a6c0-00b5abfa24c7",
        resource_id="/n/axaxnpcrorw5/b/uploads/o/incoming/2026/orders.csv",
        compartment_id="ocid1.compartment.oc1..aaaaaaaa3pqdmkxu4cs5jv2rbkmf7kfdq6mb2bfz3fclcbnyvb5nrzkbzkxq",
        version_id=None,
        raw=sample("createobject"),
    )


def test_version_id_is_read_from_a_versioned_bucket_event() -> None:
    event = parse_event(sample("createobject_versioned"))

    assert event.version_id == "8c2b6a58-c3a1-4c8e-b9f7-0e1d2c3b4a59"


def test_the_raw_body_is_kept_byte_for_byte() -> None:
    body = b"\xef\xbb\xbf  \n" + sample("createobject") + b"\r\n\r\n"

    assert parse_event(body).raw == body


def test_the_repr_leaves_out_the_raw_body() -> None:
    assert "raw" not in repr(parse_event(sample("createobject")))


def test_the_event_is_immutable() -> None:
    event = parse_event(sample("createobject"))

    with pytest.raises(AttributeError):
        event.bucket = "other"  # type: ignore[misc]  # proving the dataclass is frozen


_OBJECT_STORAGE = "com.oraclecloud.objectstorage"


@pytest.mark.parametrize(
    ("name", "event_type"),
    [
        pytest.param("deleteobject", f"{_OBJECT_STORAGE}.deleteobject", id="deleteobject"),
        pytest.param("createbucket", f"{_OBJECT_STORAGE}.createbucket", id="bucket-event"),
        pytest.param(
            "launchinstance", "com.oraclecloud.computeapi.launchinstance.end", id="other-service"
        ),
    ],
)
def test_other_event_types_are_skipped_naming_the_type(name: str, event_type: str) -> None:
    with pytest.raises(ObjectSkipped) as caught:
        parse_event(sample(name))

    assert caught.value.reason == f"not an object create/update event: {event_type}"


def without(path: str) -> bytes:
    document = sample_document("createobject")
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    del node[last]
    return encode(document)


def replaced(path: str, value: object) -> bytes:
    document = sample_document("createobject")
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value
    return encode(document)


@pytest.mark.parametrize(
    "path",
    [
        "eventType",
        "eventID",
        "eventTime",
        "data",
        "data.resourceName",
        "data.additionalDetails",
        "data.additionalDetails.namespace",
        "data.additionalDetails.bucketName",
    ],
)
def test_a_missing_required_field_is_named(path: str) -> None:
    with pytest.raises(InvalidEvent, match=rf"^{path} is missing$"):
        parse_event(without(path))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param("eventType", 7, "eventType must be a string, not a number", id="type-number"),
        pytest.param("eventID", None, "eventID must be a string, not null", id="id-null"),
        pytest.param("eventID", "", "eventID is empty", id="id-empty"),
        pytest.param("data", None, "data must be an object, not null", id="data-null"),
        pytest.param("data", [], "data must be an object, not an array", id="data-array"),
        pytest.param(
            "data.resourceName",
            True,
            "data.resourceName must be a string, not a boolean",
            id="name-boolean",
        ),
        pytest.param(
            "data.additionalDetails",
            "x",
            "data.additionalDetails must be an object, not a string",
            id="details-string",
        ),
        pytest.param(
            "data.additionalDetails.namespace",
            {},
            "data.additionalDetails.namespace must be a string, not an object",
            id="namespace-object",
        ),
        pytest.param(
            "data.additionalDetails.eTag",
            12,
            "data.additionalDetails.eTag must be a string or null, not a number",
            id="etag-number",
        ),
        pytest.param(
            "data.compartmentId",
            ["a"],
            "data.compartmentId must be a string or null, not an array",
            id="compartment-array",
        ),
        pytest.param(
            "eventTime",
            "yesterday",
            "eventTime is not an RFC 3339 timestamp: 'yesterday'",
            id="time-not-rfc3339",
        ),
    ],
)
def test_a_wrongly_typed_field_is_named(path: str, value: object, message: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(replaced(path, value))

    assert str(caught.value) == message


def test_a_missing_etag_is_none() -> None:
    assert parse_event(without("data.additionalDetails.eTag")).etag is None


def test_a_missing_compartment_is_none() -> None:
    assert parse_event(without("data.compartmentId")).compartment_id is None


def test_resource_id_is_rebuilt_even_when_the_event_has_none() -> None:
    event = parse_event(without("data.resourceId"))

    assert event.resource_id == "/n/axaxnpcrorw5/b/uploads/o/incoming/2026/orders.csv"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"", "the invocation body is empty", id="empty"),
        pytest.param(b" \r\n", "the invocation body is empty", id="whitespace"),
        pytest.param(b"{not json", "the invocation body is not JSON", id="not-json"),
        pytest.param(b'{"eventType": "\xff"}', "the invocation body is not JSON", id="bad-utf8"),
        pytest.param(b"[" * 100_000, "the invocation body is not JSON", id="deep-nesting"),
        pytest.param(b"[1, 2]", "the event must be a JSON object, not an array", id="array"),
        pytest.param(b'"createobject"', "the event must be a JSON object, not a string", id="str"),
        pytest.param(b"null", "the event must be a JSON object, not null", id="null"),
    ],
)
def test_a_body_that_is_not_an_event_is_invalid(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=f"^{message}"):
        parse_event(body)


def test_a_body_over_the_limit_is_refused_before_parsing() -> None:
    document = sample_document("createobject")
    document["padding"] = "x" * MAX_EVENT_BYTES
    body = encode(document)

    with pytest.raises(InvalidEvent, match="at most 262144 bytes"):
        parse_event(body)


def test_a_body_just_under_the_limit_is_read() -> None:
    document = sample_document("createobject")
    body = encode(document)
    document["padding"] = "x" * (MAX_EVENT_BYTES - len(body) - len(',"padding":""'))
    body = encode(document).replace(b", ", b",").replace(b": ", b":")

    assert len(body) <= MAX_EVENT_BYTES
    assert parse_event(body).object_name == "incoming/2026/orders.csv"


_CONTROL = "contains a line feed, carriage return or NUL"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("a\nb.csv", _CONTROL, id="line-feed"),
        pytest.param("a\rb.csv", _CONTROL, id="carriage-return"),
        pytest.param("a\x00b.csv", _CONTROL, id="nul"),
        pytest.param("\ud800.csv", "is not valid Unicode", id="lone-surrogate"),
        pytest.param("é" * 513, "is 1026 bytes long", id="too-long"),
    ],
)
def test_an_object_name_oci_cannot_have_is_invalid(name: str, message: str) -> None:
    with pytest.raises(InvalidEvent, match=f"^data.resourceName {message}"):
        parse_event(replaced("data.resourceName", name))


def test_a_skipped_event_is_not_checked_further() -> None:
    """A bucket event has no object fields; it must be skipped, not called invalid."""
    document = sample_document("createbucket")
    del document["data"]["additionalDetails"]

    with pytest.raises(ObjectSkipped):
        parse_event(encode(document))


object_names = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00"),
    min_size=1,
    max_size=200,
)


@given(name=object_names, ensure_ascii=st.booleans())
def test_any_valid_object_name_comes_back_verbatim(name: str, ensure_ascii: bool) -> None:
    document = copy.deepcopy(_CREATE)
    document["data"]["resourceName"] = name

    event = parse_event(json.dumps(document, ensure_ascii=ensure_ascii).encode())

    assert event.object_name == name
    assert event.resource_id == f"/n/axaxnpcrorw5/b/uploads/o/{name}"


@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_are_invalid_never_a_crash(body: bytes) -> None:
    with pytest.raises((InvalidEvent, ObjectSkipped)):
        parse_event(body)


_CREATE = sample_document("createobject")
