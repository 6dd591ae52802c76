"""Objects in segments when something fails: the hand-off, the object, the broker (CONTRACT §3, §4).

Each test runs the function under fdk's socket, the OCI stand-in (Object Storage, Vault and
the Functions API, signatures checked) and a broker with a produce quota, so that an object
of a few MB needs more than one short invocation:

- the Functions invoke API refusing the hand-off (401) or failing (503 throughout): the first
  invocation answers 502 before its deadline, saying what to check;
- the object overwritten between two segments: the chain ends as skipped, no marker;
- the broker killed during a detached segment: the segment hands itself on again until the
  broker is back, and the object completes with every record on the stream.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from objstream.testing.brokers import Broker
from objstream.testing.jvm_kafka import KafkaBroker
from objstream.testing.oci_standin import Fault, OciStandIn
from objstream.testing.scenario import Seen, function_env, oci_event, read_stream
from tests.faults.conftest import BUCKET, NAMESPACE, fdk_function, unique

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.faults.conftest import RecordAnswer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

FUNCTION_OCID = "ocid1.fnfunc.oc1.iad.aaaaaaaacontinuationfaults"
QUOTA = 256 * 1024
# Long enough for a throttled produce answer (the broker holds it up to a few seconds) to be
# settled within a segment, short enough that the objects need a hand-off.
FN_DEADLINE = 15.0
CONTINUED = "objstream.object.continued"
PUBLISHED = "objstream.object.published"
EXTRA = {
    "KAFKA_QUEUE_BUFFERING_MAX_KBYTES": "256",
    "MAX_MESSAGE_BYTES": "262144",  # a queue must hold one message of the largest size
    "KAFKA_BATCH_SIZE": "65536",
    "DEADLINE_MARGIN_SECONDS": "1",
}


@pytest.fixture(autouse=True)
def no_leftover_faults(standin: OciStandIn) -> Iterator[None]:
    """Faults a test queued and its function did not use are not the next test's."""
    standin.clear_faults()
    yield
    standin.clear_faults()


def _lines(count: int) -> bytes:
    return b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * 80) for n in range(count))


def _env(standin: OciStandIn, broker: Broker, topic: str, workdir: Path) -> dict[str, str]:
    return {
        **function_env(standin, workdir / "oci", broker.sasl_ssl, topic, auth="resource_principal"),
        "FUNCTION_OCID": FUNCTION_OCID,
        "FUNCTIONS_ENDPOINT": standin.url,
        **EXTRA,
    }


def _upload(standin: OciStandIn, name: str, data: bytes) -> tuple[bytes, str]:
    etag = standin.put_object(NAMESPACE, BUCKET, name, data)
    return oci_event(NAMESPACE, BUCKET, name, etag), etag


def _wait_for(
    broker: Broker, topic: str, name: str, ce_type: str, timeout: float, standin: OciStandIn
) -> list[Seen]:
    end = time.monotonic() + timeout
    while True:
        seen = read_stream(broker, topic, subject=name)
        if any(m.type == ce_type for m in seen):
            return seen
        if time.monotonic() > end:
            kinds = {kind: [m.type for m in seen].count(kind) for kind in {m.type for m in seen}}
            answers = [(d.status, d.reply[:160]) for d in standin.deliveries[-8:]]
            pytest.fail(f"no {ce_type} for {name} within {timeout} s: {kinds}; last: {answers}")
        time.sleep(0.5)


@pytest.mark.parametrize(
    ("faults", "says"),
    [
        # The SDK retries a 401 once with a refreshed resource-principal token: refuse both.
        pytest.param([Fault(status=401)] * 5, "fn-invocation", id="401-not-allowed"),
        pytest.param([Fault(status=503)] * 50, "503", id="503-throughout"),
    ],
)
def test_an_invoke_api_that_will_not_take_the_hand_off_answers_502_before_the_deadline(
    standin: OciStandIn,
    broker: Broker,
    tmp_path: Path,
    record_answer: RecordAnswer,
    faults: list[Fault],
    says: str,
) -> None:
    topic = broker.create_topic()
    name = unique("handoff-refused.jsonl")
    body, _ = _upload(standin, name, _lines(40_000))
    env = _env(standin, broker, topic, tmp_path)
    with (
        broker.produce_quota(QUOTA, client_id="objstream"),
        fdk_function(env, tmp_path / "fdk") as function,
    ):
        standin.register_function(FUNCTION_OCID, function.socket_path)
        standin.fail_function(FUNCTION_OCID, *faults)
        reply = function.call(body, deadline_in=FN_DEADLINE)
    record_answer(reply.seconds, str(reply.status), deadline=FN_DEADLINE, message=reply.body)
    assert reply.status == 502, reply.body[:500]
    assert says in reply.body.decode(errors="replace")
    assert reply.seconds < FN_DEADLINE
    # The records so far and the checkpoint are on the stream; no marker.
    types = [m.type for m in read_stream(broker, topic, subject=name)]
    assert CONTINUED in types
    assert PUBLISHED not in types


def test_an_object_overwritten_between_segments_ends_its_chain_as_skipped(
    standin: OciStandIn, broker: Broker, tmp_path: Path
) -> None:
    topic = broker.create_topic()
    name = unique("overwritten.jsonl")
    body, etag = _upload(standin, name, _lines(40_000))
    env = _env(standin, broker, topic, tmp_path)
    with (
        broker.produce_quota(QUOTA, client_id="objstream"),
        fdk_function(env, tmp_path / "fdk") as function,
    ):
        # The stand-in takes the hand-off but cannot deliver it (no function listens there):
        # the test delivers it itself, after overwriting the object.
        standin.register_function(FUNCTION_OCID, tmp_path / "nobody.sock")
        before = len(standin.deliveries)
        reply = function.call(body, deadline_in=FN_DEADLINE)
        assert reply.status == 200, reply.body[:500]
        assert json.loads(reply.body)["status"] == "continued"
        [handed_on] = standin.wait_for_deliveries(before + 1, timeout=30)[before:]
        standin.put_object(NAMESPACE, BUCKET, name, b'{"a new": "version"}\n')
        second = function.call(handed_on.body, deadline_in=FN_DEADLINE)
    assert second.status == 200, second.body[:500]
    answer = json.loads(second.body)
    assert answer["status"] == "skipped"
    assert "overwritten" in answer["reason"]
    assert json.loads(handed_on.body)["event"]["data"]["additionalDetails"]["eTag"] == etag
    types = [m.type for m in read_stream(broker, topic, subject=name)]
    assert types.count(CONTINUED) == 1
    assert PUBLISHED not in types


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A broker this test may kill and restart (never the session's)."""
    process = KafkaBroker(tmp_path_factory.mktemp("continuation-broker"))
    info = process.start()
    try:
        yield Broker("jvm", info, process=process)
    finally:
        if process.process is not None and process.process.poll() is None:
            os.kill(process.process.pid, signal.SIGCONT)
        process.stop()


def test_a_detached_segment_whose_broker_is_killed_hands_itself_on_until_the_object_completes(
    standin: OciStandIn, own_broker: Broker, tmp_path: Path
) -> None:
    process = own_broker.process
    assert process is not None
    topic = own_broker.create_topic()
    name = unique(f"broker-killed-{uuid.uuid4().hex[:6]}.jsonl")
    count = 30_000
    body, _ = _upload(standin, name, _lines(count))
    env = {**_env(standin, own_broker, topic, tmp_path), "CONTINUATION_MAX_ATTEMPTS": "8"}
    with (
        own_broker.produce_quota(QUOTA, client_id="objstream"),
        fdk_function(env, tmp_path / "fdk") as function,
    ):
        standin.register_function(
            FUNCTION_OCID,
            function.socket_path,
            detached_timeout_seconds=FN_DEADLINE,
            timeout_seconds=FN_DEADLINE,
        )
        reply = function.call(body, deadline_in=FN_DEADLINE)
        assert reply.status == 200, reply.body[:500]
        # Segment 1 handed on; kill the broker while segment 2 publishes, then bring it back.
        time.sleep(2.0)
        process.kill()
        time.sleep(3.0)
        process.process = None
        process.start()
        seen = _wait_for(own_broker, topic, name, PUBLISHED, timeout=240, standin=standin)
    records = [m for m in seen if m.type == "objstream.record"]
    # Nothing lost: every index is there, each with its one id (a retried segment may have
    # sent some again, with the same ids).
    by_index = {m.index: m.id for m in records if m.index is not None}
    assert sorted(by_index) == list(range(count))
    assert len(set(by_index.values())) == count
    assert all(by_index[m.index] == m.id for m in records if m.index is not None)
    marker = seen[-1].json()
    assert seen[-1].type == PUBLISHED
    assert marker["records"] == count
    answers = [json.loads(d.reply) for d in standin.deliveries if d.reply.startswith(b"{")]
    assert any(a.get("attempt", 1) > 1 for a in answers), "a segment was handed on again"
