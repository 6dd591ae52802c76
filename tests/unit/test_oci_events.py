"""The kit's OCI events (`objstream publish`, the demo, the tests) are shaped like OCI's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from function.core.events import CREATE_OBJECT, UPDATE_OBJECT, parse_event
from objstream.oci_events import object_event, object_event_body

EVENTS = Path(__file__).resolve().parents[1] / "events"


def _shape(value: Any) -> Any:
    """The keys of every object, recursively, and the JSON type of every leaf."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__ if value is not None else "null"


@pytest.mark.parametrize(
    ("sample", "event_type"),
    [
        pytest.param("createobject.json", CREATE_OBJECT, id="createobject"),
        pytest.param("updateobject.json", UPDATE_OBJECT, id="updateobject"),
    ],
)
def test_the_built_event_has_the_keys_and_types_of_the_saved_oci_event(
    sample: str, event_type: str
) -> None:
    saved = json.loads((EVENTS / sample).read_text("utf-8"))
    built = object_event("ns", "bucket", "a/b.csv", "etag-1", event_type=event_type)

    # OCI adds the object's tags to data when it has any (the update sample's object has).
    for tags in ("freeformTags", "definedTags"):
        saved["data"].pop(tags, None)
    assert _shape(built) == _shape(saved)
    assert built["eventType"] == saved["eventType"]


def test_the_body_parses_to_the_object_it_names() -> None:
    body = object_event_body("ns", "bucket", "dir/ü x.jsonl", "etag-2", event_id="id-1")

    event = parse_event(body)
    assert (event.namespace, event.bucket, event.object_name) == ("ns", "bucket", "dir/ü x.jsonl")
    assert (event.etag, event.event_id, event.event_type) == ("etag-2", "id-1", CREATE_OBJECT)
    assert event.resource_id == "/n/ns/b/bucket/o/dir/ü x.jsonl"


def test_an_event_without_an_etag_leaves_the_field_out() -> None:
    built = object_event("ns", "bucket", "x", None)

    assert "eTag" not in built["data"]["additionalDetails"]
