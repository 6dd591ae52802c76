"""Object Storage failing: gone, overwritten, forbidden, throttled, erroring, slow, cut off.

Through fdk's socket, against the signature-checking stand-in and the session broker. What
the contract says (§3): an object gone (404) or overwritten (412) is skipped (200, nothing
published); Object Storage failing is a 502 before the deadline, retries included; a
connection dropped mid-body is resumed with a Range request, so the one attempt publishes
every record exactly once.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING

import pytest

from objstream.testing.oci_standin import Fault, object_path
from objstream.testing.scenario import function_env, oci_event, read_stream
from tests.faults.conftest import NAMESPACE, fdk_function, unique, upload

if TYPE_CHECKING:
    from collections.abc import Iterator

    from objstream.testing.brokers import Broker
    from objstream.testing.fdk_server import FdkServer, Reply
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

BUCKET = "uploads"
FN_DEADLINE = 6.0
PUBLISHED = "objstream.object.published"


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


@pytest.fixture(scope="module")
def function(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FdkServer]:
    work = tmp_path_factory.mktemp("fdk")
    env = function_env(
        standin,
        work / "oci",
        broker.sasl_ssl,
        stream,
        auth="resource_principal",
        DEADLINE_MARGIN_SECONDS="1",
    )
    with fdk_function(env, work) as server:
        yield server


def _lines(count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"p" * 20) for i in range(count))


def _status(reply: Reply) -> str:
    return str(json.loads(reply.body)["status"]) if reply.status == 200 else str(reply.status)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param("delete", "object no longer exists", id="404-gone"),
        pytest.param("overwrite", "overwritten since the event", id="412-overwritten"),
    ],
)
def test_an_object_gone_or_overwritten_since_the_event_is_skipped_and_nothing_published(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    change: str,
    reason: str,
) -> None:
    name = unique("changed.jsonl")
    body = upload(standin, name, _lines(3))
    if change == "delete":
        standin.delete_object(NAMESPACE, BUCKET, name)
    else:
        standin.put_object(NAMESPACE, BUCKET, name, _lines(4))
    reply = function.call(body, deadline_in=FN_DEADLINE)
    record_answer(reply.seconds, _status(reply), deadline=FN_DEADLINE, message=reply.body)
    assert reply.status == 200
    answer = json.loads(reply.body)
    assert answer["status"] == "skipped"
    assert reason in answer["reason"]
    assert read_stream(broker, stream, subject=name) == []


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        pytest.param(None, "does not exist or may not be read", id="404-bucket-not-found"),
        pytest.param([Fault(status=403)], "refused to read", id="403-forbidden"),
        pytest.param([Fault(status=401)] * 3, "refused to read", id="401-unauthenticated"),
    ],
)
def test_an_object_the_function_may_not_read_answers_502_with_the_policy_to_check(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    faults: list[Fault] | None,
    words: str,
) -> None:
    name = unique("forbidden.jsonl")
    if faults is None:  # the bucket does not exist for this caller: OCI says BucketNotFound
        body = oci_event(NAMESPACE, "not-ours", name, "etag-1")
    else:
        body = upload(standin, name, _lines(3))
        standin.fail_object(NAMESPACE, BUCKET, name, *faults)
    reply = function.call(body, deadline_in=FN_DEADLINE)
    record_answer(reply.seconds, _status(reply), deadline=FN_DEADLINE, message=reply.body)
    assert reply.status == 502
    assert words.encode() in reply.body
    assert b"policy" in reply.body
    assert reply.seconds < 2  # a refusal is not retried
    assert read_stream(broker, stream, subject=name) == []


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param([Fault(status=429, retry_after=1)] * 2, id="429-twice-retry-after-1s"),
        pytest.param([Fault(status=503)] * 3, id="503-three-times"),
        pytest.param([Fault(status=500), Fault(status=502)], id="500-then-502"),
        pytest.param([Fault(delay=1.5)], id="slow-first-answer"),
    ],
)
def test_throttling_and_server_errors_are_retried_within_the_deadline_and_the_object_published(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    faults: list[Fault],
) -> None:
    name = unique("flaky.jsonl")
    body = upload(standin, name, _lines(5))
    standin.fail_object(NAMESPACE, BUCKET, name, *faults)
    reply = function.call(body, deadline_in=30)
    record_answer(reply.seconds, _status(reply), deadline=30, message=reply.body)
    assert reply.status == 200, reply.body
    assert json.loads(reply.body)["status"] == "published"
    assert standin.pending_faults(object_path(NAMESPACE, BUCKET, name)) == 0
    messages = read_stream(broker, stream, subject=name)
    assert [m.index for m in messages[1:-1]] == list(range(5))
    assert messages[-1].type == PUBLISHED


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        pytest.param([Fault(status=429, retry_after=2)] * 20, "429", id="429-throughout"),
        pytest.param([Fault(status=503)] * 50, "503", id="503-throughout"),
        pytest.param([Fault(delay=60)], "deadline was reached while reading", id="no-answer"),
        pytest.param(
            [Fault(drop_after=2000, stall=60)],
            "from Object Storage (resuming at byte 2000)",
            id="body-stalls-mid-object",
        ),
    ],
)
def test_object_storage_failing_past_the_deadline_answers_502_before_it(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    faults: list[Fault],
    words: str,
) -> None:
    name = unique("failing.jsonl")
    body = upload(standin, name, _lines(1000))
    standin.fail_object(NAMESPACE, BUCKET, name, *faults)
    reply = function.call(body, deadline_in=FN_DEADLINE)
    record_answer(reply.seconds, _status(reply), deadline=FN_DEADLINE, message=reply.body)
    assert reply.status == 502
    assert words.encode() in reply.body
    assert reply.seconds < FN_DEADLINE
    assert PUBLISHED not in {m.type for m in read_stream(broker, stream, subject=name)}


@pytest.mark.parametrize(
    "compressed",
    [pytest.param(False, id="plain"), pytest.param(True, id="gzip")],
)
def test_a_connection_dropped_mid_body_is_resumed_and_every_record_published_once(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    compressed: bool,
) -> None:
    count = 60_000
    data = _lines(count)
    name = unique("dropped.jsonl.gz" if compressed else "dropped.jsonl")
    stored = gzip.compress(data) if compressed else data
    body = upload(standin, name, stored)
    first_drop, second_drop = len(stored) // 3, len(stored) // 4
    standin.fail_object(
        NAMESPACE, BUCKET, name, Fault(drop_after=first_drop), Fault(drop_after=second_drop)
    )
    reply = function.call(body, deadline_in=30)
    record_answer(reply.seconds, _status(reply), deadline=30, message=reply.body)
    assert reply.status == 200, reply.body
    answer = json.loads(reply.body)
    assert answer["status"] == "published"
    assert answer["records"] == count
    assert answer["bytes"] == len(stored)
    requests = standin.requests_to(object_path(NAMESPACE, BUCKET, name))
    assert [r.headers.get("range") for r in requests] == [
        None,
        f"bytes={first_drop}-",
        f"bytes={first_drop + second_drop}-",
    ]
    assert {r.headers.get("if-match") for r in requests} == {requests[0].headers["if-match"]}
    records = read_stream(broker, stream, subject=name)[1:-1]
    assert [m.index for m in records] == list(range(count))
    assert [m.value for m in records] == data.splitlines()


def test_a_connection_that_keeps_dropping_is_given_up_after_the_resume_limit(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
) -> None:
    name = unique("hopeless.jsonl")
    body = upload(standin, name, _lines(20_000))
    standin.fail_object(NAMESPACE, BUCKET, name, *[Fault(drop_after=10_000)] * 10)
    reply = function.call(body, deadline_in=30)
    record_answer(reply.seconds, _status(reply), deadline=30, message=reply.body)
    assert reply.status == 502
    assert b"dropped 6 times" in reply.body
    assert PUBLISHED not in {m.type for m in read_stream(broker, stream, subject=name)}
