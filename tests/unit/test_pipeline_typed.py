"""The pipeline on Parquet and Avro objects: ranged reads only when the name says Parquet,
JSON rows on the stream, and Kafka Connect envelopes typed from the file's own schema."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import orjson
import pyarrow as pa

from function.core.deadline import Deadline
from function.settings import Settings
from objstream.testing.fakes import FakePublisher, FakeReader, invoke
from objstream.testing.typed_files import expected_rows, parquet_bytes, sample_table

EVENT = json.loads(
    (Path(__file__).resolve().parents[1] / "events" / "createobject.json").read_bytes()
)


def event_for(name: str) -> bytes:
    event = json.loads(json.dumps(EVENT))
    event["data"]["resourceName"] = name
    return json.dumps(event).encode()


def run(name: str, reader: FakeReader, **env: str) -> tuple[dict[str, Any], FakePublisher]:
    publisher = FakePublisher()
    settings = Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            **env,
        }
    )
    outcome = invoke(
        event_for(name),
        settings=settings,
        reader=reader,
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    return json.loads(outcome.to_json()), publisher


def test_a_parquet_object_is_read_by_ranges_only_and_published_row_by_row() -> None:
    data = parquet_bytes(sample_table(2000), row_group_size=500)
    reader = FakeReader(data)
    answer, publisher = run("exports/orders.parquet", reader)
    assert answer["status"] == "published"
    assert (answer["format"], answer["records"]) == ("parquet", 2000)
    values = [orjson.loads(m.value or b"") for m in publisher.sent if m.type == "objstream.record"]
    assert values == expected_rows(data)
    (ranged,) = reader.ranged
    assert 1 < ranged.requests <= 2 + 4 * 2  # footer, then each row group's chunks
    records = [m for m in publisher.sent if m.type == "objstream.record"]
    assert records[0].headers["content-type"] == b"application/json"


def test_a_parquet_object_found_by_its_magic_is_switched_to_ranged_reads() -> None:
    data = parquet_bytes(sample_table(10))
    reader = FakeReader(data)
    answer, _ = run("exports/orders.bin", reader)
    assert (answer["status"], answer["records"]) == ("published", 10)
    assert len(reader.ranged) == 1


def test_a_truncated_parquet_object_is_rejected_with_the_reason() -> None:
    data = parquet_bytes(sample_table(10))
    answer, publisher = run("exports/orders.parquet", FakeReader(data[:-100]))
    assert answer["status"] == "rejected"
    assert "PAR1" in answer["reason"]
    assert publisher.sent[-1].type == "objstream.object.rejected"


def test_connect_json_types_parquet_columns_from_the_files_schema() -> None:
    table = pa.table(
        {
            "id": pa.array([7], pa.int64()),
            "amount": pa.array([1.5]),
            "ok": pa.array([True]),
            "name": pa.array(["Zoë"]),
            "raw": pa.array([b"\x01\x02"]),
            "price": pa.array([decimal.Decimal("-12.50")], pa.decimal128(10, 2)),
            "day": pa.array([dt.date(1970, 1, 11)]),
            "at": pa.array(
                [dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")
            ),
            "tags": pa.array([["a"]]),
            "point": pa.array([{"x": 1}]),
            "attrs": pa.array([[("k", 2)]], pa.map_(pa.string(), pa.int64())),
        }
    )
    answer, publisher = run(
        "t.parquet", FakeReader(parquet_bytes(table)), VALUE_FORMAT="connect-json"
    )
    assert answer["status"] == "published"
    (record,) = [m for m in publisher.sent if m.type == "objstream.record"]
    envelope = orjson.loads(record.value or b"")
    fields = {f["field"]: f for f in envelope["schema"]["fields"]}
    assert fields["id"]["type"] == "int64"
    assert fields["amount"]["type"] == "double"
    assert fields["ok"]["type"] == "boolean"
    assert fields["raw"]["type"] == "bytes"
    assert fields["price"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert fields["price"]["parameters"] == {"scale": "2"}
    assert (fields["day"]["type"], fields["day"]["name"]) == (
        "int32",
        "org.apache.kafka.connect.data.Date",
    )
    assert fields["at"]["name"] == "org.apache.kafka.connect.data.Timestamp"
    assert fields["tags"] == {
        "field": "tags",
        "type": "array",
        "optional": True,
        "items": {"type": "string", "optional": True},
    }
    assert fields["point"]["type"] == "struct"
    assert fields["attrs"]["type"] == "map"
    payload = envelope["payload"]
    assert payload["price"] == base64.b64encode((-1250).to_bytes(2, "big", signed=True)).decode()
    assert (payload["day"], payload["at"]) == (10, 1500)
    assert (payload["tags"], payload["point"], payload["attrs"]) == (["a"], {"x": 1}, {"k": 2})


def test_an_avro_object_is_streamed_and_published_row_by_row() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "r",
            "fields": [{"name": "n", "type": "long"}, {"name": "f", "type": "double"}],
        }
    )
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, [{"n": i, "f": i / 2} for i in range(100)], codec="deflate")
    answer, publisher = run("a/b.avro", FakeReader(buffer.getvalue()), VALUE_FORMAT="connect-json")
    assert (answer["status"], answer["format"], answer["records"]) == ("published", "avro", 100)
    first = orjson.loads(
        next(m for m in publisher.sent if m.type == "objstream.record").value or b""
    )
    assert first["payload"]["n"] == 0
    assert [f["type"] for f in first["schema"]["fields"]] == ["string", "int64", "double"]
