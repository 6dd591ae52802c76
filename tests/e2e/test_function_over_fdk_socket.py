"""The function end to end, as OCI Functions runs it, against real parts.

- the function's files are laid out as the image has them (the Dockerfile's COPY sources:
  `function` and `kafka_client` under one folder), and fdk serves `function/func.py` from it
  over its unix socket;
- Object Storage and Vault are the signature-checking stand-in, reached by the real `oci` SDK
  with resource-principal auth (the token comes from a Vault secret, as in production);
- the stream is the real broker's SASL_SSL/PLAIN listener, certificate verified.
"""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from objstream.testing.scenario import UPDATE, Seen, oci_event, read_stream
from tests.e2e.conftest import function_over_fdk

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker
    from objstream.testing.fdk_server import FdkServer
    from objstream.testing.oci_standin import OciStandIn

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"
SECRET_ID = "ocid1.vaultsecret.oc1.phx.amaaaaaae2etoken"


installed, standin, stream, function = function_over_fdk(NAMESPACE, BUCKET, SECRET_ID, partitions=3)


def _upload(standin: OciStandIn, name: str, data: bytes, **kw: str) -> str:
    return standin.put_object(NAMESPACE, BUCKET, name, data, **kw)


def _invoke(
    function: FdkServer, standin: OciStandIn, name: str, data: bytes, **kw: str
) -> dict[str, object]:
    etag = _upload(standin, name, data, **kw)
    reply = function.call(oci_event(NAMESPACE, BUCKET, name, etag))
    assert reply.status == 200, reply.body
    result: dict[str, object] = json.loads(reply.body)
    return result


def _unique(name: str) -> str:
    return f"e2e/{uuid.uuid4().hex[:8]}/{name}"


def _check_envelope(messages: list[Seen], *, name: str, records: int) -> None:
    """Event first, then the records in order, then exactly one published marker."""
    assert [m.type for m in messages] == (
        ["com.oraclecloud.objectstorage.createobject"]
        + ["objstream.record"] * records
        + ["objstream.object.published"]
    )
    key = f"{NAMESPACE}/{BUCKET}/{name}".encode()
    assert {m.key for m in messages} == {key}
    assert len({m.partition for m in messages}) == 1
    for message in messages:
        assert message.headers["ce_specversion"] == b"1.0"
        assert message.headers["ce_source"] == f"/n/{NAMESPACE}/b/{BUCKET}/o/{name}".encode()
        assert message.subject == name
        assert message.headers["ce_time"] == b"2026-11-28T10:00:00Z"
        assert "content-type" in message.headers
    assert [m.index for m in messages[1:-1]] == list(range(records))
    ids = [m.id for m in messages]
    assert len(set(ids)) == len(ids)


def test_csv_with_bom_crlf_and_quoted_commas_becomes_json_rows(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("orders.csv")
    data = '\ufeffid,customer,note\r\n1,"Smith, Jane","said ""hi"""\r\n2,Żółć,"two\r\nlines"\r\n'
    result = _invoke(function, standin, name, data.encode(), content_type="text/csv")
    assert result["status"] == "published"
    assert result["records"] == 2
    messages = read_stream(broker, stream, subject=name)
    _check_envelope(messages, name=name, records=2)
    assert [m.json() for m in messages[1:-1]] == [
        {"id": "1", "customer": "Smith, Jane", "note": 'said "hi"'},
        {"id": "2", "customer": "Żółć", "note": "two\r\nlines"},
    ]
    assert messages[1].headers["content-type"] == b"application/json"
    assert messages[1].headers["ce_etag"] == messages[-1].headers["ce_etag"]
    marker = messages[-1].json()
    assert marker["records"] == 2
    assert marker["invalid"] == 0
    assert marker["object"] == name


def test_the_event_message_is_the_oci_event_exactly_as_received(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("one.jsonl")
    etag = _upload(standin, name, b'{"a":1}\n')
    body = oci_event(NAMESPACE, BUCKET, name, etag)
    assert function.call(body).status == 200
    first = read_stream(broker, stream, subject=name)[0]
    assert first.value == body
    assert first.id == json.loads(body)["eventID"]
    assert first.headers["content-type"] == b"application/json"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param(
            "a.json",
            b'[{"a": 1}, [2, 3], "x", null]',
            [{"a": 1}, [2, 3], "x", None],
            id="json-array",
        ),
        pytest.param("a.jsonl", b'{"a": 1}\n\n{"b": 2}\r\n', [{"a": 1}, {"b": 2}], id="jsonl"),
        pytest.param(
            "a.jsonl.gz",
            gzip.compress(b'{"a": 1}\n{"b": 2}\n'),
            [{"a": 1}, {"b": 2}],
            id="gzip-jsonl",
        ),
    ],
)
def test_json_shapes_become_one_message_per_value(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    name: str,
    data: bytes,
    expected: list[object],
) -> None:
    object_name = _unique(name)
    assert _invoke(function, standin, object_name, data)["status"] == "published"
    messages = read_stream(broker, stream, subject=object_name)
    _check_envelope(messages, name=object_name, records=len(expected))
    assert [m.json() for m in messages[1:-1]] == expected


def test_text_lines_become_utf8_text_records(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("app.log")
    _invoke(function, standin, name, b"first line\r\n\r\nsecond \xc3\xa9\n")
    records = read_stream(broker, stream, subject=name)[1:-1]
    assert [m.value for m in records] == [b"first line", "second é".encode()]
    assert records[0].headers["content-type"].startswith(b"text/plain")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("reports/Q1 2026/sales+returns 100%.csv", id="spaces-plus-percent"),
        pytest.param("données/été/日本語.csv", id="unicode"),
    ],
)
def test_awkward_object_names_are_read_and_named_verbatim(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str, name: str
) -> None:
    object_name = _unique(name)
    assert _invoke(function, standin, object_name, b"a,b\n1,2\n")["status"] == "published"
    messages = read_stream(broker, stream, subject=object_name)
    _check_envelope(messages, name=object_name, records=1)


def test_an_update_event_is_published_like_a_create(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("updated.jsonl")
    etag = _upload(standin, name, b'{"v": 2}\n')
    reply = function.call(oci_event(NAMESPACE, BUCKET, name, etag, event_type=UPDATE))
    assert json.loads(reply.body)["status"] == "published"
    types = [m.type for m in read_stream(broker, stream, subject=name)]
    assert types == [UPDATE, "objstream.record", "objstream.object.published"]


def test_a_replay_of_the_same_event_yields_identical_record_ids(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("replayed.jsonl")
    etag = _upload(standin, name, b'{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    body = oci_event(NAMESPACE, BUCKET, name, etag)
    assert function.call(body).status == 200
    assert function.call(body).status == 200
    messages = read_stream(broker, stream, subject=name)
    first, second = messages[: len(messages) // 2], messages[len(messages) // 2 :]
    assert [m.id for m in first] == [m.id for m in second]
    assert [m.value for m in first[1:-1]] == [m.value for m in second[1:-1]]


def test_a_stale_etag_publishes_nothing_and_says_superseded(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("overwritten.jsonl")
    old = _upload(standin, name, b'{"v": 1}\n')
    _upload(standin, name, b'{"v": 2}\n')
    reply = function.call(oci_event(NAMESPACE, BUCKET, name, old))
    result = json.loads(reply.body)
    assert reply.status == 200
    assert result["status"] == "skipped"
    assert "overwritten" in result["reason"]
    assert read_stream(broker, stream, subject=name) == []


def test_a_deleted_object_publishes_nothing(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str
) -> None:
    name = _unique("gone.csv")
    etag = _upload(standin, name, b"a\n1\n")
    standin.delete_object(NAMESPACE, BUCKET, name)
    result = json.loads(function.call(oci_event(NAMESPACE, BUCKET, name, etag)).body)
    assert result["status"] == "skipped"
    assert read_stream(broker, stream, subject=name) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="not-json"),
        pytest.param(b'["a", "list"]', id="wrong-shape"),
        pytest.param(b'{"eventType": "com.oraclecloud.objectstorage.createobject"}', id="no-data"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_malformed_body_is_answered_and_the_next_invocation_works(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str, body: bytes
) -> None:
    reply = function.call(body)
    assert reply.status == 200
    assert json.loads(reply.body)["status"] == "error"
    name = _unique("after-bad.jsonl")
    assert _invoke(function, standin, name, b'{"ok": true}\n')["status"] == "published"


def test_an_event_of_another_kind_is_skipped(function: FdkServer) -> None:
    body = (ROOT / "tests" / "events" / "deleteobject.json").read_bytes()
    result = json.loads(function.call(body).body)
    assert result["status"] == "skipped"


def test_the_auth_token_and_signing_keys_never_reach_the_log(
    function: FdkServer, standin: OciStandIn, broker: Broker
) -> None:
    _invoke(function, standin, _unique("log-check.jsonl"), b'{"x": 1}\n')
    function.call(b"{broken")
    assert broker.sasl_ssl.password
    assert broker.sasl_ssl.password not in function.log()
    assert standin.rejected == 0, standin.rejections
