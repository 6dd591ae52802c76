"""The Events rule sends the function exactly the events `function.core.events` handles.

Every real event sample goes through both the rule's condition (matched as OCI Events matches
it) and `parse_event`; the two must agree for the rule's bucket.
"""

from __future__ import annotations

import copy
import json

import pytest

from function.core.events import HANDLED_EVENT_TYPES, parse_event
from function.errors import InvalidEvent, ObjectSkipped
from objstream.testing.terraform import (
    JsonValue,
    condition_matches,
    event_samples,
    json_body,
    literal,
    module_locals,
    nested,
    resource,
    rule_condition_from_locals,
    substitute,
)

BUCKET = "uploads"  # the bucket of the samples


def rule_condition(bucket: str = BUCKET) -> JsonValue:
    return substitute(rule_condition_from_locals(), {"${var.bucket_name}": bucket})


def handled(body: bytes) -> bool:
    try:
        parse_event(body)
    except (ObjectSkipped, InvalidEvent):
        return False
    return True


SAMPLES = event_samples()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_rule_and_parser_agree(name: str) -> None:
    body = SAMPLES[name]
    assert condition_matches(rule_condition(), json_body(body)) == handled(body), name


def test_samples_cover_both_sides() -> None:
    matched = {
        name
        for name, body in SAMPLES.items()
        if condition_matches(rule_condition(), json_body(body))
    }
    assert {"createobject.json", "updateobject.json", "createobject_versioned.json"} <= matched
    assert not {"deleteobject.json", "createbucket.json", "launchinstance.json"} & matched


def test_rule_event_types_are_the_handled_ones() -> None:
    condition = rule_condition_from_locals()
    assert isinstance(condition, dict)
    event_types = condition["eventType"]
    assert isinstance(event_types, list)
    assert set(event_types) == HANDLED_EVENT_TYPES


def test_rule_filters_on_the_bucket() -> None:
    event = json_body(SAMPLES["createobject.json"])
    assert isinstance(event, dict)
    other = copy.deepcopy(event)
    other["data"]["additionalDetails"]["bucketName"] = "someone-elses"
    assert condition_matches(rule_condition(), event)
    assert not condition_matches(rule_condition(), other)
    assert handled(json.dumps(other).encode())  # the parser alone would take it: the rule filters


def test_matcher_semantics() -> None:
    """The matcher itself: lists are OR, keys are AND, a missing attribute does not match."""
    condition: JsonValue = {"eventType": ["a", "b"], "data": {"x": ["1"]}}
    assert condition_matches(condition, {"eventType": "b", "data": {"x": "1", "y": "2"}})
    assert not condition_matches(condition, {"eventType": "c", "data": {"x": "1"}})
    assert not condition_matches(condition, {"eventType": "a", "data": {"x": "2"}})
    assert not condition_matches(condition, {"eventType": "a"})
    assert condition_matches({"data": {"name": ["in/*"]}}, {"data": {"name": "in/a.csv"}})


def test_rule_resource_uses_the_condition_and_invokes_the_function() -> None:
    rule = resource("oci_events_rule.objects").body
    assert rule["condition"] == "${local.rule_condition}"
    assert rule["is_enabled"] is True
    (outer,) = nested(rule, "actions")
    (action,) = nested(outer, "actions")
    assert literal(action["action_type"]) == "FAAS"
    assert action["function_id"] == "${oci_functions_function.this.id}"
    assert rule["depends_on"] == ["${oci_identity_policy.function}"]
    assert "rule_condition" in module_locals()


def test_bucket_emits_object_events() -> None:
    bucket = resource("oci_objectstorage_bucket.this").body
    assert bucket["object_events_enabled"] is True
    assert literal(bucket["access_type"]) == "NoPublicAccess"
    assert bucket["name"] == "${var.bucket_name}"
