"""Objects larger than one invocation, end to end, under OCI's throughput limit (CONTRACT §4).

Real parts: the function served by fdk over its unix socket; Object Storage and the Functions
API as the signature-checking stand-in (resource-principal signing, as in OCI Functions),
which delivers each detached invocation to the function's socket with a fresh Fn-Deadline;
the broker's SASL_SSL listener with a produce quota standing for OCI Streaming's limit per
partition. The deadlines are short so that each object needs three segments or more.

For every format: every record appears exactly once, with the indexes, ids, values and order
of a single pass over the same object (computed through the same pipeline without a broker);
checkpoints sit between the segments; one published marker carries the whole object's counts
and its number of segments; and every invocation answered before its deadline.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastavro
import pyarrow as pa
import pytest
import zstandard

from function.core.deadline import Deadline
from function.settings import Settings
from objstream.testing.fakes import FakePublisher, FakeReader, invoke
from objstream.testing.fdk_server import FdkServer
from objstream.testing.oci_standin import OciStandIn
from objstream.testing.scenario import Seen, function_env, oci_event, read_stream
from objstream.testing.typed_files import parquet_bytes

if TYPE_CHECKING:
    from collections.abc import Iterator

    from objstream.testing.brokers import Broker

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FUNC_PY = ROOT / "function" / "func.py"
NAMESPACE, BUCKET = "largens", "uploads"
FUNCTION_OCID = "ocid1.fnfunc.oc1.iad.aaaaaaaalargeobjects"
SECRET_ID = "ocid1.vaultsecret.oc1.iad.aaaaaaaalargeobjects"
# OCI Streaming's limit is 1 MB/s a partition; a quarter of it, with 10 s invocations, makes
# a few MB of stream bytes take several segments.
QUOTA = 256 * 1024
FN_DEADLINE = 12.0
# The producer's queue and batches sized for that rate, as a user would for short deadlines:
# what is queued must be acknowledged within a segment (see README "Large objects").
PRODUCER = {
    "KAFKA_QUEUE_BUFFERING_MAX_KBYTES": "256",
    "MAX_MESSAGE_BYTES": "262144",  # a queue must hold one message of the largest size
    "KAFKA_BATCH_SIZE": "65536",
    "DEADLINE_MARGIN_SECONDS": "1",
}
RECORDS = 20000  # about 9 MB on the stream: a value of ~100 bytes and ~340 bytes of headers


def _jsonl() -> bytes:
    lines = [json.dumps({"n": n, "pad": "p" * (60 + n % 40)}) for n in range(RECORDS)]
    lines[4321] = "{broken"
    return ("\n".join(lines) + "\n").encode()


def _csv() -> bytes:
    rows = ["n,name,pad"] + [f'{n},"name {n}",{"q" * (60 + n % 40)}' for n in range(RECORDS)]
    return ("\r\n".join(rows) + "\r\n").encode()


def _lines() -> bytes:
    return "".join(f"log line {n} {'l' * (70 + n % 30)}\n" for n in range(RECORDS)).encode()


def _json_array() -> bytes:
    elements = [json.dumps({"n": n, "pad": "a" * (60 + n % 40)}) for n in range(RECORDS)]
    return ("[\n" + ",\n".join(elements) + "\n]").encode()


def _raw() -> bytes:
    # 48 KB chunks (64 KB messages): 190 chunks, 9 MB.
    return bytes(range(256)) * (9 * 4096)


_MOMENT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _parquet() -> bytes:
    # Row groups of 2500 rows: the segments stop inside row groups and resume by ranges.
    table = pa.table(
        {
            "n": pa.array(range(RECORDS), pa.int64()),
            "pad": [f"{'p' * (40 + n % 40)}" for n in range(RECORDS)],
            "at": pa.array(
                [_MOMENT + dt.timedelta(seconds=n) for n in range(RECORDS)],
                pa.timestamp("ms", "UTC"),
            ),
            "tags": [[f"t{n % 7}"] * (n % 3) for n in range(RECORDS)],
        }
    )
    return parquet_bytes(table, row_group_size=2500, compression="zstd")


_AVRO_SCHEMA = {
    "type": "record",
    "name": "Row",
    "fields": [
        {"name": "n", "type": "long"},
        {"name": "pad", "type": "string"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    ],
}


def _avro() -> bytes:
    # Blocks of ~32 KB: segments stop inside blocks and resume at a block's offset.
    rows = [
        {"n": n, "pad": "a" * (60 + n % 40), "at": _MOMENT + dt.timedelta(seconds=n)}
        for n in range(RECORDS)
    ]
    buffer = io.BytesIO()
    fastavro.writer(
        buffer, fastavro.parse_schema(_AVRO_SCHEMA), rows, codec="deflate", sync_interval=32_000
    )
    return buffer.getvalue()


SAMPLES: dict[str, tuple[str, bytes, dict[str, str]]] = {
    "lines": ("app.log", _lines(), {}),
    "jsonl": ("events.jsonl", _jsonl(), {}),
    "csv": ("orders.csv", _csv(), {}),
    "json-array": ("items.json", _json_array(), {}),
    "raw": ("blob.bin", _raw(), {"MAX_MESSAGE_BYTES": "65536"}),
    "gzip-jsonl": ("events.jsonl.gz", gzip.compress(_jsonl()), {}),
    "zstd-csv": ("orders.csv.zst", zstandard.ZstdCompressor().compress(_csv()), {}),
    "parquet": ("exports/rows.parquet", _parquet(), {}),
    "avro": ("exports/rows.avro", _avro(), {}),
}


@pytest.fixture(scope="module")
def standin() -> Iterator[OciStandIn]:
    with OciStandIn() as running:
        running.create_bucket(NAMESPACE, BUCKET)
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("large")


def _env(standin: OciStandIn, broker: Broker, workdir: Path, topic: str) -> dict[str, str]:
    return function_env(
        standin,
        workdir / "oci",
        broker.sasl_ssl,
        topic,
        secret_id=SECRET_ID,
        auth="resource_principal",
        FUNCTION_OCID=FUNCTION_OCID,
        FUNCTIONS_ENDPOINT=standin.url,
        **PRODUCER,
    )


def _single_pass(name: str, data: bytes, etag: str, extra: dict[str, str]) -> FakePublisher:
    """The same object through the same pipeline, at once, without a broker."""
    publisher = FakePublisher()
    settings = Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "t",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            "CONTINUATION": "off",
            **extra,
        }
    )
    outcome = invoke(
        oci_event(NAMESPACE, BUCKET, name, etag),
        settings=settings,
        reader=FakeReader(data),
        publisher=publisher,
        deadline=Deadline.in_seconds(120),
    )
    assert outcome.status == "published", outcome.detail
    return publisher


def _wait_for_the_marker(broker: Broker, topic: str, name: str, timeout: float) -> list[Seen]:
    end = time.monotonic() + timeout
    while True:
        seen = read_stream(broker, topic, subject=name)
        if any(m.type.startswith("objstream.object.") and m.type != CONTINUED for m in seen):
            return seen
        if time.monotonic() > end:
            types = sorted({m.type for m in seen})
            pytest.fail(f"no terminal marker for {name} within {timeout} s; seen {types}")
        time.sleep(1.0)


CONTINUED = "objstream.object.continued"


def _records(messages: list[Any]) -> list[tuple[str, int, bytes]]:
    return [
        (_text(m.headers["ce_id"]), int(m.headers["ce_recordindex"]), m.value)
        for m in messages
        if m.type == "objstream.record"
    ]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.parametrize("sample", list(SAMPLES), ids=str)
def test_an_object_needing_several_segments_is_published_exactly_once_under_the_quota(
    sample: str, standin: OciStandIn, broker: Broker, workdir: Path
) -> None:
    name, data, extra = SAMPLES[sample]
    name = f"large/{uuid.uuid4().hex[:8]}/{name}"
    topic = broker.create_topic()
    etag = standin.put_object(NAMESPACE, BUCKET, name, data)
    expected = _single_pass(name, data, etag, extra)
    socket_dir = workdir / uuid.uuid4().hex[:8]
    env = {**_env(standin, broker, workdir, topic), **extra}
    with (
        broker.produce_quota(QUOTA, client_id="objstream"),
        FdkServer(FUNC_PY, env, socket_dir, pythonpath=str(ROOT)) as function,
    ):
        standin.register_function(
            FUNCTION_OCID,
            function.socket_path,
            detached_timeout_seconds=FN_DEADLINE,
            timeout_seconds=FN_DEADLINE,
        )
        before = len(standin.deliveries)
        reply = function.call(oci_event(NAMESPACE, BUCKET, name, etag), deadline_in=FN_DEADLINE)
        assert reply.status == 200, reply.body[:500]
        first = json.loads(reply.body)
        assert first["status"] == "continued", first
        assert reply.seconds < FN_DEADLINE
        seen = _wait_for_the_marker(broker, topic, name, timeout=150)
    deliveries = standin.deliveries[before:]

    # Every record exactly once, as one pass has them; the event once; one marker, last.
    assert _records(seen) == _records(expected.sent)
    types = [m.type for m in seen]
    assert types.count("com.oraclecloud.objectstorage.createobject") == 1
    assert types.count("objstream.object.published") == 1
    assert types[-1] == "objstream.object.published"
    marker = seen[-1].json()
    single = json.loads(expected.sent[-1].value or b"")
    for key in ("records", "invalid", "deadLettered", "bytes", "decodedBytes"):
        assert marker[key] == single[key], key
    # Checkpoints between the segments: one per segment but the last.
    checkpoints = [m for m in seen if m.type == CONTINUED]
    assert marker["segments"] >= 3
    assert [c.json()["segment"] for c in checkpoints] == list(range(1, marker["segments"]))
    for checkpoint in checkpoints:
        position = seen.index(checkpoint)
        next_index = checkpoint.json()["nextIndex"]
        assert all(m.index is None or m.index < next_index for m in seen[:position])
        assert all(m.index is None or m.index >= next_index for m in seen[position:])
    # Every segment answered, 200, before its deadline.
    assert len(deliveries) == marker["segments"] - 1
    for delivery in deliveries:
        assert delivery.detached
        assert delivery.status == 200, delivery.reply[:300]
        answered = delivery.delivered_at + dt.timedelta(seconds=delivery.seconds)
        assert answered < delivery.deadline
        assert json.loads(delivery.reply)["status"] in {"continued", "published"}
