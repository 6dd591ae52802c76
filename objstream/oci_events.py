"""OCI Object Storage events for local files, shaped exactly like the ones OCI Events delivers.

`objstream publish`, `objstream event` and the demo hand the function the same body it gets
in OCI: a CloudEvents 0.1 envelope of type `com.oraclecloud.objectstorage.createobject` whose
`data` names the namespace, bucket, object and eTag. The eTag is the local file's
(`local_etag`), so the reader's If-Match-like check applies as it would in OCI. Compartment
and bucket OCIDs are placeholders that say they are local.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson

from function.core.events import CREATE_OBJECT, object_resource_id

# Recognisably not real OCIDs: nothing downstream may mistake a local run for a tenancy's.
LOCAL_COMPARTMENT_ID = "ocid1.compartment.oc1..objstreamlocal"
LOCAL_BUCKET_ID = "ocid1.bucket.oc1..objstreamlocal"


def object_event(
    namespace: str,
    bucket: str,
    name: str,
    etag: str | None,
    *,
    event_type: str = CREATE_OBJECT,
    event_id: str | None = None,
    event_time: dt.datetime | None = None,
) -> dict[str, Any]:
    """An Object Storage event about one object version, as a JSON-ready dict."""
    when = (event_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    details: dict[str, Any] = {
        "bucketName": bucket,
        "versionId": None,
        "archivalState": "Available",
        "namespace": namespace,
        "bucketId": LOCAL_BUCKET_ID,
    }
    if etag is not None:
        details["eTag"] = etag
    return {
        "eventType": event_type,
        "cloudEventsVersion": "0.1",
        "eventTypeVersion": "2.0",
        "source": "ObjectStorage",
        # OCI sends whole seconds with a Z suffix.
        "eventTime": when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "contentType": "application/json",
        "data": {
            "compartmentId": LOCAL_COMPARTMENT_ID,
            "compartmentName": "local",
            "resourceName": name,
            "resourceId": object_resource_id(namespace, bucket, name),
            "availabilityDomain": "all",
            "additionalDetails": details,
        },
        "eventID": event_id or str(uuid.uuid4()),
        "extensions": {"compartmentId": LOCAL_COMPARTMENT_ID},
    }


def object_event_body(
    namespace: str,
    bucket: str,
    name: str,
    etag: str | None,
    *,
    event_type: str = CREATE_OBJECT,
    event_id: str | None = None,
    event_time: dt.datetime | None = None,
) -> bytes:
    """The invocation body for `object_event(...)`: the JSON bytes the function receives."""
    event = object_event(
        namespace,
        bucket,
        name,
        etag,
        event_type=event_type,
        event_id=event_id,
        event_time=event_time,
    )
    return orjson.dumps(event, option=orjson.OPT_INDENT_2)
