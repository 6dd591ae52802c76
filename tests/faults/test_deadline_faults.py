"""The Fn deadline: a file too big for the time left is stopped in time, never killed.

OCI Functions kills an invocation at its deadline, and the caller then gets nothing. So the
function stops itself `DEADLINE_MARGIN_SECONDS` before it: at a record boundary, with what
was queued purged, answering 502 (no marker; the retry republishes with the same ids).
Two ways to run out of time, both through fdk's socket:

- a big file against a healthy broker: the decoder is still busy when the time is up;
- a throttled producer: the broker holds the producer to a produce quota (as OCI Streaming
  does at 1 MB/s per partition) well below what the file needs, and back-pressure holds the
  decoder.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from objstream.testing.scenario import function_env, seen
from tests.faults.conftest import fdk_function, unique, upload, upload_file

if TYPE_CHECKING:
    from pathlib import Path

    from objstream.testing.brokers import Broker
    from objstream.testing.oci_standin import OciStandIn
    from tests.faults.conftest import RecordAnswer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

CREATE = "com.oraclecloud.objectstorage.createobject"
FN_DEADLINE = 6.0
MARGIN = 1.0
# The big file must outlast the deadline however fast the function gets: once faster, it
# published all of a 2 M-record file (29 MB) in 4.7 s through fdk and the test failed by
# succeeding. Ten million leave room for one five times faster.
BIG_FILE_RECORDS = 10_000_000
# The throttled case's quota on the function's client id: 30 000 records of ~400 bytes on the
# wire (nine headers, a key) need 12 MB, over ten times the deadline's worth even with the
# burst a Kafka quota lets through first (objstream.testing.jvm_kafka).
QUOTA = 200_000


def _jsonl_file(path: Path, count: int) -> Path:
    with path.open("wb") as file:
        for start in range(0, count, 100_000):
            file.write(
                b"".join(b'{"n": %d}\n' % i for i in range(start, min(start + 100_000, count)))
            )
    return path


def _scan(broker: Broker, topic: str) -> tuple[list[tuple[str, str]], list[tuple[int, int]]]:
    """(type, subject) of the messages that are not records, and (record index, value's n)
    of the records, in offset order.

    Streams through the topic without keeping the messages: the big-file case leaves
    hundreds of thousands of them.
    """
    consumer = Consumer(
        {
            **broker.plaintext.client_config(),
            "group.id": f"objstream-faults-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": "false",
        }
    )
    others: list[tuple[str, str]] = []
    records: list[tuple[int, int]] = []
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        consumer.assign([TopicPartition(topic, 0, low)])
        position = low
        give_up = time.monotonic() + 120
        while position < high:
            assert time.monotonic() < give_up, f"could not read {topic} to offset {high}"
            for message in consumer.consume(10_000, timeout=1.0):
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    continue
                one = seen(message)
                if one.type == "objstream.record":
                    assert one.index is not None
                    records.append((one.index, one.json()["n"]))
                else:
                    others.append((one.type, one.subject))
                position = (message.offset() or 0) + 1
    finally:
        consumer.close()
    return others, records


@pytest.mark.parametrize(
    ("records", "quota"),
    [
        pytest.param(BIG_FILE_RECORDS, None, id="big-file-healthy-broker"),
        pytest.param(30_000, QUOTA, id="throttled-producer"),
    ],
)
def test_a_file_too_big_for_the_time_left_is_stopped_and_answered_502_before_the_deadline(
    standin: OciStandIn,
    broker: Broker,
    tmp_path_factory: pytest.TempPathFactory,
    record_answer: RecordAnswer,
    records: int,
    quota: int | None,
) -> None:
    topic = broker.create_topic()
    work = tmp_path_factory.mktemp("fdk")
    env = function_env(
        standin,
        work / "oci",
        broker.sasl_ssl,
        topic,
        DEADLINE_MARGIN_SECONDS=str(MARGIN),
    )
    big = unique("too-big.jsonl")
    body = upload_file(standin, big, _jsonl_file(work / "big.jsonl", records))
    throttled = (
        broker.produce_quota(quota, client_id="objstream") if quota else contextlib.nullcontext()
    )
    with fdk_function(env, work) as function:
        with throttled:
            reply = function.call(body, deadline_in=FN_DEADLINE)
        record_answer(reply.seconds, str(reply.status), deadline=FN_DEADLINE, message=reply.body)
        assert reply.status == 502, reply.body[:500]
        assert b"deadline" in reply.body
        assert reply.seconds < FN_DEADLINE
        # It used the time it had: it stopped at the margin, not at the first hiccup.
        assert reply.seconds > FN_DEADLINE - MARGIN - 0.5
        # The same process goes on: nothing of the stopped publication is left over. (The
        # quota is lifted first: under it, the requests already in flight when the first call
        # stopped held the next call's two messages back for 29 s in one CI run.)
        small = unique("next.jsonl")
        after = function.call(upload(standin, small, b'{"n": 0}\n'), deadline_in=30)
        assert after.status == 200, after.body
        assert json.loads(after.body)["status"] == "published"
    # The big file: its event and a gapless prefix of its records, no marker. Then the
    # small file, complete.
    others, pairs = _scan(broker, topic)
    assert others == [(CREATE, big), (CREATE, small), ("objstream.object.published", small)]
    assert pairs[-1] == (0, 0)
    prefix = pairs[:-1]
    assert prefix == [(i, i) for i in range(len(prefix))]
    assert 0 < len(prefix) < records
