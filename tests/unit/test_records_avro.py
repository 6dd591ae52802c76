"""RecordDecoder on Avro object container files: block by block from the streamed body,
files from fastavro and from Apache's avro package, every codec, broken and hostile files."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import math
import uuid
from typing import Any

import fastavro
import orjson
import pytest

from function.core.continuation import ResumePoint
from function.core.decoding import DecodeOptions, InvalidRecord, Record, RecordDecoder
from function.core.decoding.records import RecordFormat
from function.core.decoding.typed import Kind
from function.errors import ObjectRejected
from function.ports import RangedObject
from objstream.testing.decoding import TINY_READS, Trickle, decode, records

SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "small", "type": "int"},
        {"name": "ratio", "type": ["null", "double"]},
        {"name": "single", "type": "float"},
        {"name": "paid", "type": "boolean"},
        {"name": "customer", "type": ["null", "string"]},
        {"name": "blob", "type": "bytes"},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 3}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal",
                                   "precision": 12, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "at_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
        {"name": "either", "type": ["null", "long", "string"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "double"]}},
        {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"]}]}]},
        {"name": "key", "type": {"type": "string", "logicalType": "uuid"}},
    ],
}  # fmt: skip
BASE = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.UTC)


def rows(count: int = 500) -> list[dict[str, Any]]:
    return [
        {
            "id": (i * 7919) * (-1) ** i * 2**40,
            "small": i - 250,
            "ratio": None if i % 7 == 0 else [math.nan, math.inf, -math.inf, i / 3][i % 4],
            "single": 0.5 * i,
            "paid": i % 2 == 0,
            "customer": None if i % 5 == 0 else f'Zoë "{i}", 李雷 🚀',
            "blob": bytes([i % 256]) * (i % 4),
            "code": bytes([i % 256, 0, 255]),
            "price": decimal.Decimal(i * 1001 - 250_000).scaleb(-2),
            "day": dt.date(1900 + i % 200, 1 + i % 12, 1 + i % 28),
            "at": BASE - dt.timedelta(days=i * 50, microseconds=i),
            "at_ms": (BASE + dt.timedelta(seconds=i)).replace(microsecond=123000),
            "local": BASE.replace(tzinfo=None) + dt.timedelta(minutes=i),
            "status": ["NEW", "PAID"][i % 2],
            "either": [None, i, f"s{i}"][i % 3],
            "tags": [f"t{j}" for j in range(i % 3)],
            "attrs": {f"k{j}": (None if j == 1 else float(j)) for j in range(i % 3)},
            "address": None if i % 4 == 0 else {"city": "Zürich", "zip": None if i % 3 else "8001"},
            "key": str(uuid.UUID(int=i)),
        }
        for i in range(count)
    ]


def expected(row: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - one case per type
    """The README's mapping, written per value from what fastavro reads itself."""

    def value(item: Any) -> Any:  # noqa: C901, PLR0911 - one case per type
        if isinstance(item, float):
            if math.isnan(item):
                return "NaN"
            if math.isinf(item):
                return "Infinity" if item > 0 else "-Infinity"
            return item
        if isinstance(item, bytes):
            import base64

            return base64.b64encode(item).decode()
        if isinstance(item, decimal.Decimal):
            return format(item, "f")
        if isinstance(item, dt.datetime):
            if item.tzinfo is not None:
                return item.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            return item.isoformat()
        if isinstance(item, dt.date):
            return item.isoformat()
        if isinstance(item, uuid.UUID):
            return str(item)
        if isinstance(item, dict):
            return {k: value(v) for k, v in item.items()}
        if isinstance(item, list):
            return [value(v) for v in item]
        return item

    mapped: dict[str, Any] = value(row)
    return mapped


def fastavro_file(codec: str, records_: list[dict[str, Any]], **options: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(SCHEMA), records_, codec=codec, **options)
    return buffer.getvalue()


def read_back(data: bytes) -> list[dict[str, Any]]:
    return list(fastavro.reader(io.BytesIO(data)))  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "zstandard", "bzip2", "xz"])
def test_fastavro_files_decode_as_fastavro_reads_them_with_every_codec(codec: str) -> None:
    data = fastavro_file(codec, rows(), sync_interval=4000)
    items, summary = decode(io.BytesIO(data), DecodeOptions("orders.avro"))
    assert [orjson.loads(r.value) for r in records(items)] == [expected(r) for r in read_back(data)]
    assert (summary.record_format, summary.records, summary.invalid) == (RecordFormat.AVRO, 500, 0)


SIMPLE = {
    "type": "record",
    "name": "Simple",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "score", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "tags", "type": {"type": "array", "items": "int"}},
        {"name": "props", "type": {"type": "map", "values": "string"}},
    ],
}


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy", "zstandard"])
def test_files_from_apaches_avro_package_decode_with_every_codec(codec: str) -> None:
    avro_schema = pytest.importorskip("avro.schema")
    avro_datafile = pytest.importorskip("avro.datafile")
    avro_io = pytest.importorskip("avro.io")
    buffer = io.BytesIO()
    writer = avro_datafile.DataFileWriter(
        buffer, avro_io.DatumWriter(), avro_schema.parse(orjson.dumps(SIMPLE).decode()), codec=codec
    )
    for i in range(300):
        writer.append(
            {
                "id": 2**62 - i,
                "name": None if i % 3 == 0 else f"n{i} ü",
                "score": [math.nan, 1.25 * i][i % 2],
                "raw": bytes([i % 256]),
                "tags": list(range(i % 4)),
                "props": {"a": str(i)},
            }
        )
        if i % 100 == 99:
            writer.sync()  # several blocks
    writer.flush()
    data = buffer.getvalue()
    writer.close()
    items, summary = decode(io.BytesIO(data), DecodeOptions("apache.avro"))
    assert [orjson.loads(r.value) for r in records(items)] == [expected(r) for r in read_back(data)]
    assert summary.records == 300


@TINY_READS
def test_blocks_are_found_across_reads_of_any_size(trickle: Trickle, sizes: list[int]) -> None:
    data = fastavro_file("deflate", rows(60), sync_interval=500)
    items, _ = decode(trickle(data, sizes), DecodeOptions("o.avro", chunk_bytes=max(sizes)))
    assert [orjson.loads(r.value) for r in records(items)] == [expected(r) for r in read_back(data)]


def test_magic_bytes_choose_avro_without_a_name_or_content_type() -> None:
    data = fastavro_file("null", rows(3))
    _, summary = decode(io.BytesIO(data), DecodeOptions("export"))
    assert summary.record_format is RecordFormat.AVRO


def test_the_columns_come_from_the_writers_schema() -> None:
    decoder = RecordDecoder(io.BytesIO(fastavro_file("null", rows(1))), DecodeOptions("a.avro"))
    next(iter(decoder))
    columns = {column.name: column.type for column in decoder.columns or ()}
    assert columns["id"].kind is Kind.INT64
    assert columns["small"].kind is Kind.INT32
    assert (columns["ratio"].kind, columns["ratio"].nullable) == (Kind.FLOAT, True)
    assert (columns["price"].kind, columns["price"].scale) == (Kind.DECIMAL, 2)
    assert (columns["at"].kind, columns["at"].zoned) == (Kind.TIMESTAMP, True)
    assert (columns["local"].kind, columns["local"].zoned) == (Kind.TIMESTAMP, False)
    assert columns["either"].kind is Kind.JSON
    assert columns["address"].kind is Kind.STRUCT
    assert columns["attrs"].kind is Kind.MAP


def test_a_record_over_the_message_limit_is_invalid_and_names_block_and_row() -> None:
    big = rows(3)
    big[1]["customer"] = "x" * 5000
    data = fastavro_file("null", big)
    items, _ = decode(io.BytesIO(data), DecodeOptions("a.avro", max_record_bytes=2000))
    invalid = items[1]
    assert isinstance(invalid, InvalidRecord)
    assert invalid.reason.startswith(f"row 1 of the block at byte {invalid.start}: record of ")
    assert data[invalid.end - 16 : invalid.end] == data[invalid.start - 16 : invalid.start]  # sync
    assert [item.index for item in items] == [0, 1, 2]


def test_decoding_resumes_at_a_block_offset_and_row() -> None:
    data = fastavro_file("snappy", rows(200), sync_interval=2000)
    whole = RecordDecoder(io.BytesIO(data), DecodeOptions("a.avro"))
    positions = []
    values = []
    for item in whole:
        assert isinstance(item, Record)
        values.append(item.value)
        positions.append(whole.resume_after(item.end))
    middle = positions[57]
    assert middle is not None
    assert middle.record_format is RecordFormat.AVRO
    assert middle.offset > 0
    resumed = RecordDecoder(
        io.BytesIO(data[middle.offset :]),
        DecodeOptions("a.avro"),
        ranged=RangedObject.from_bytes(data),
        resume=ResumePoint(RecordFormat.AVRO, offset=middle.offset, row=middle.row or 0),
        first_index=58,
    )
    rest = list(resumed)
    assert [item.index for item in rest] == list(range(58, 200))
    assert [item.value for item in records(rest)] == values[58:]


def zigzag(number: int) -> bytes:
    value = (number << 1) ^ (number >> 63)
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def header_of(data: bytes) -> int:
    reader = fastavro.block_reader(io.BytesIO(data))
    block = next(iter(reader))
    return int(block.offset)


def with_block(data: bytes, count: int, size: int) -> bytes:
    start = header_of(data)
    sync = data[start - 16 : start]
    return data[:start] + zigzag(count) + zigzag(size) + b"\0" * 32 + sync


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda data: data[: len(data) - 40], "truncated Avro file"),
        (lambda data: data[:10], "truncated Avro file"),
        (
            lambda _data: (
                b"Obj\x01"
                + zigzag(1)
                + zigzag(10)
                + b"avro.codec"
                + zigzag(3)
                + b"lz9"
                + b"\0"
                + b"s" * 16
            ),
            "codec 'lz9'",
        ),
        (lambda _data: b"Obj\x01" + zigzag(1) + zigzag(2**40), "over the limit"),
        (
            lambda data: (
                data.replace(data[header_of(data) - 16 : header_of(data)], b"\x00" * 16, 1)[
                    : header_of(data)
                ]
                + data[header_of(data) :]
            ),
            "sync marker",
        ),
        (lambda data: with_block(data, 5, 2**50), "over MAX_ROW_GROUP_BYTES"),
        (lambda data: with_block(data, 10**12, 32), "declares 1000000000000 records"),
        (lambda data: with_block(data, 3, 32), "does not decode|bytes left"),
        (
            lambda _data: (
                b"Obj\x01"
                + zigzag(1)
                + zigzag(11)
                + b"avro.schema"
                + zigzag(5)
                + b"{oops"
                + b"\0"
                + b"s" * 16
            ),
            "schema",
        ),
    ],
    ids=[
        "truncated",
        "header-cut",
        "unknown-codec",
        "huge-metadata",
        "wrong-sync",
        "huge-block",
        "huge-count",
        "garbage-block",
        "bad-schema",
    ],
)
def test_broken_and_hostile_files_reject_the_object_with_the_reason(
    mangle: Any, reason: str
) -> None:
    data = fastavro_file("null", rows(40))
    with pytest.raises(ObjectRejected, match=reason):
        decode(io.BytesIO(mangle(data)), DecodeOptions("bad.avro"))


NAN, INF = math.nan, math.inf
HIDDEN_FLOATS = {
    "type": "record",
    "name": "Reading",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "at", "type": {"type": "record", "name": "Point", "fields": [
            {"name": "x", "type": "double"}, {"name": "y", "type": ["null", "float"]}]}},
        {"name": "again", "type": "Point"},  # a named type used again: only its name here
        {"name": "either", "type": ["null", "double", "string"]},
        {"name": "series", "type": {"type": "array", "items": "double"}},
        {"name": "by_key", "type": {"type": "map", "values": ["null", "double"]}},
        {"name": "maybe", "type": ["null", "Point"]},
        {"name": "plain", "type": ["null", "double"]},
    ],
}  # fmt: skip


def _avro(schema: Any, records_: list[Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), records_)
    return buffer.getvalue()


def test_non_finite_floats_are_named_wherever_the_schema_lets_a_float_occur() -> None:
    datum = {
        "id": 1,
        "at": {"x": NAN, "y": -INF},
        "again": {"x": INF, "y": None},
        "either": NAN,
        "series": [1.5, NAN, -INF],
        "by_key": {"a": INF, "b": None},
        "maybe": {"x": -INF, "y": 2.0},
        "plain": NAN,
    }
    other = {**datum, "either": "text", "maybe": None, "plain": None, "series": []}
    items, _ = decode(io.BytesIO(_avro(HIDDEN_FLOATS, [datum, other])), DecodeOptions("r.avro"))
    assert [orjson.loads(r.value) for r in records(items)] == [
        {
            "id": 1,
            "at": {"x": "NaN", "y": "-Infinity"},
            "again": {"x": "Infinity", "y": None},
            "either": "NaN",
            "series": [1.5, "NaN", "-Infinity"],
            "by_key": {"a": "Infinity", "b": None},
            "maybe": {"x": "-Infinity", "y": 2.0},
            "plain": "NaN",
        },
        {
            "id": 1,
            "at": {"x": "NaN", "y": "-Infinity"},
            "again": {"x": "Infinity", "y": None},
            "either": "text",
            "series": [],
            "by_key": {"a": "Infinity", "b": None},
            "maybe": None,
            "plain": None,
        },
    ]


@pytest.mark.parametrize(
    ("schema", "values", "expected_values"),
    [
        ("double", [NAN, 1.5, -INF], ["NaN", 1.5, "-Infinity"]),
        ({"type": "array", "items": "float"}, [[INF, 0.5]], [["Infinity", 0.5]]),
        (["null", "double"], [None, NAN], [None, "NaN"]),
        ("long", [1, 2], [1, 2]),
    ],
)
def test_a_top_level_schema_other_than_a_record_names_its_non_finite_floats(
    schema: Any, values: list[Any], expected_values: list[Any]
) -> None:
    items, _ = decode(io.BytesIO(_avro(schema, values)), DecodeOptions("v.avro"))
    assert [orjson.loads(r.value) for r in records(items)] == expected_values
