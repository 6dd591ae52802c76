"""OCI Events → `ObjectEvent`: the invocation body read into one typed, immutable value.

Pure: no I/O, no `oci` or `fdk`. OCI Events invokes the function with a CloudEvents 0.1
envelope (`eventType`, `eventID`, `eventTime`, …) whose `data` describes the resource:

    {"eventType": "com.oraclecloud.objectstorage.createobject", "eventID": "…",
     "eventTime": "2026-11-28T10:00:00Z", …,
     "data": {"resourceName": "incoming/2026/orders.csv",
              "resourceId": "/n/<namespace>/b/<bucket>/o/<object name>",
              "compartmentId": "ocid1.compartment…",
              "additionalDetails": {"namespace": "…", "bucketName": "…", "eTag": "…",
                                    "versionId": null, "archivalState": "Available", …}}}

The object name is taken from `data.resourceName`, which carries it verbatim (a JSON string:
spaces, `+`, `%` and any Unicode as they are). `data.resourceId` is not read for the name:
it is documented only as "an ID for the resource" and a percent-encoded form cannot be told
apart from a name that really contains `%xx`, so decoding it would be a guess. The
`resource_id` of an `ObjectEvent` is rebuilt from namespace, bucket and the verbatim name,
so it is the same whatever encoding the emitter used.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Final

from function.errors import InvalidEvent, ObjectSkipped

CREATE_OBJECT: Final = "com.oraclecloud.objectstorage.createobject"
UPDATE_OBJECT: Final = "com.oraclecloud.objectstorage.updateobject"
HANDLED_EVENT_TYPES: Final = frozenset({CREATE_OBJECT, UPDATE_OBJECT})

# An object event is about 1 KiB; Fn itself caps invocation bodies at 6 MB. Anything near
# this limit is not an OCI event, and refusing it keeps a hostile body from costing memory.
MAX_EVENT_BYTES: Final = 256 * 1024

# OCI object names: 1 to 1024 bytes of UTF-8, no line feed, carriage return or NUL.
MAX_OBJECT_NAME_BYTES: Final = 1024
_FORBIDDEN_NAME_CHARACTERS: Final = frozenset("\n\r\x00")


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One Object Storage create/update event, as objstream needs it."""

    event_type: str  # com.oraclecloud.objectstorage.createobject or .updateobject
    event_id: str  # the OCI eventID (a UUID, not an OCID)
    event_time: str  # RFC 3339, exactly as OCI sent it
    namespace: str
    bucket: str
    object_name: str  # verbatim, never percent-encoded
    etag: str | None  # the version the event is about; None if the emitter left it out
    resource_id: str  # /n/<namespace>/b/<bucket>/o/<object name>, built from the parts
    compartment_id: str | None = None
    version_id: str | None = None  # set when the bucket has versioning enabled
    raw: bytes = field(default=b"", repr=False)  # the body exactly as received, to republish

    @property
    def object_key(self) -> str:
        """`<namespace>/<bucket>/<object name>`: the contract's default message key."""
        return f"{self.namespace}/{self.bucket}/{self.object_name}"


def object_resource_id(namespace: str, bucket: str, object_name: str) -> str:
    """The resourceId form OCI uses for objects, with the name verbatim."""
    return f"/n/{namespace}/b/{bucket}/o/{object_name}"


def parse_event(body: bytes) -> ObjectEvent:
    """Read an OCI Events invocation body.

    Raises:
        InvalidEvent: the body is not an OCI event; the message names the offending field.
        ObjectSkipped: a well-formed event objstream has nothing to do with (delete, bucket
            and other services' events).
    """
    document = _load(body)
    event_type = _string(document, "eventType", "eventType")
    if event_type not in HANDLED_EVENT_TYPES:
        raise ObjectSkipped(f"not an object create/update event: {event_type}")

    event_id = _string(document, "eventID", "eventID")
    event_time = _string(document, "eventTime", "eventTime")
    _check_timestamp(event_time, "eventTime")

    data = _object(document, "data", "data")
    details = _object(data, "additionalDetails", "data.additionalDetails")
    namespace = _string(details, "namespace", "data.additionalDetails.namespace")
    bucket = _string(details, "bucketName", "data.additionalDetails.bucketName")
    object_name = _string(data, "resourceName", "data.resourceName")
    _check_object_name(object_name, "data.resourceName")

    return ObjectEvent(
        event_type=event_type,
        event_id=event_id,
        event_time=event_time,
        namespace=namespace,
        bucket=bucket,
        object_name=object_name,
        etag=_optional_string(details, "eTag", "data.additionalDetails.eTag"),
        resource_id=object_resource_id(namespace, bucket, object_name),
        compartment_id=_optional_string(data, "compartmentId", "data.compartmentId"),
        version_id=_optional_string(details, "versionId", "data.additionalDetails.versionId"),
        raw=bytes(body),
    )


_JsonObject = dict[str, object]


def _load(body: bytes) -> _JsonObject:
    if len(body) > MAX_EVENT_BYTES:
        # The handler reads at most one byte past the limit, so say "over", not the size.
        raise InvalidEvent(
            f"the invocation body is over {MAX_EVENT_BYTES} bytes: an OCI event is at most "
            f"{MAX_EVENT_BYTES} bytes"
        )
    if not body.strip():
        raise InvalidEvent("the invocation body is empty; expected an OCI Events JSON event")
    try:
        document = json.loads(body)
    except RecursionError:
        # A body of nothing but nested brackets exhausts the parser's stack.
        raise InvalidEvent("the invocation body is not JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidEvent(f"the invocation body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidEvent(f"the event must be a JSON object, not {_json_type(document)}")
    return document


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _object(parent: _JsonObject, key: str, path: str) -> _JsonObject:
    if key not in parent:
        raise InvalidEvent(f"{path} is missing")
    value = parent[key]
    if not isinstance(value, dict):
        raise InvalidEvent(f"{path} must be an object, not {_json_type(value)}")
    return value


def _string(parent: _JsonObject, key: str, path: str) -> str:
    if key not in parent:
        raise InvalidEvent(f"{path} is missing")
    value = parent[key]
    if not isinstance(value, str):
        raise InvalidEvent(f"{path} must be a string, not {_json_type(value)}")
    if not value:
        raise InvalidEvent(f"{path} is empty")
    return value


def _optional_string(parent: _JsonObject, key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{path} must be a string or null, not {_json_type(value)}")
    return value


def _check_timestamp(value: str, path: str) -> None:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{path} is not an RFC 3339 timestamp: {value!r}") from None


def _check_object_name(name: str, path: str) -> None:
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        # JSON can carry a lone surrogate (\ud800) that no real object name contains.
        raise InvalidEvent(f"{path} is not valid Unicode") from None
    if len(encoded) > MAX_OBJECT_NAME_BYTES:
        raise InvalidEvent(
            f"{path} is {len(encoded)} bytes long; OCI object names are at most "
            f"{MAX_OBJECT_NAME_BYTES} bytes"
        )
    if not _FORBIDDEN_NAME_CHARACTERS.isdisjoint(name):
        raise InvalidEvent(
            f"{path} contains a line feed, carriage return or NUL, which OCI object names cannot"
        )
