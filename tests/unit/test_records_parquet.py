"""RecordDecoder on Parquet: rows as JSON under the README's mapping, row group by row group,
read by ranges; files from pyarrow (every codec, dictionary and plain) and DuckDB."""

from __future__ import annotations

import io

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from function.core.continuation import ResumePoint
from function.core.decoding import DecodeOptions, InvalidRecord, RecordDecoder
from function.core.decoding.records import FormatSource, RecordFormat
from function.errors import ObjectRejected
from function.ports import ObjectBody, RangedObject
from objstream.testing.decoding import decode_ranged, records
from objstream.testing.typed_files import expected_rows, parquet_bytes, sample_table

TABLE = sample_table(300)


@pytest.mark.parametrize(
    "options",
    [
        {"compression": "snappy"},
        {"compression": "zstd"},
        {"compression": "gzip"},
        {"compression": "none"},
        {"compression": "snappy", "use_dictionary": False},
        {"compression": "zstd", "use_dictionary": True, "row_group_size": 7},
        {"compression": "none", "data_page_version": "2.0", "row_group_size": 64},
    ],
    ids=["snappy", "zstd", "gzip", "none", "plain", "dictionary-7-row-groups", "v2-pages"],
)
def test_every_value_is_what_pyarrow_reads_under_the_mapping(options: dict[str, object]) -> None:
    data = parquet_bytes(TABLE, **options)
    items, summary, _ = decode_ranged(data, DecodeOptions("export.parquet"))
    rows = [orjson.loads(record.value) for record in records(items)]
    assert rows == expected_rows(data)
    assert [item.index for item in items] == list(range(TABLE.num_rows))
    assert (summary.record_format, summary.records, summary.invalid) == (
        RecordFormat.PARQUET,
        TABLE.num_rows,
        0,
    )


def test_the_mapping_table_of_the_readme_value_by_value() -> None:
    import datetime as dt
    import decimal

    table = pa.table(
        {
            "n": pa.array([2**63 - 1], pa.int64()),
            "nan": pa.array([float("nan")]),
            "inf": pa.array([float("-inf")]),
            "b": pa.array([b"\xff\x00"]),
            "d": pa.array([decimal.Decimal("-0.50")], pa.decimal128(5, 2)),
            "day": pa.array([dt.date(2024, 2, 29)]),
            "zoned": pa.array(
                [dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.UTC)], pa.timestamp("s", "+01:00")
            ),
            "naive": pa.array(
                [dt.datetime(2024, 1, 1, 1, 0, 0, 5000)],  # noqa: DTZ001 - naive on purpose
                pa.timestamp("ms"),
            ),
            "m": pa.array([[(1, "x")]], pa.map_(pa.int8(), pa.string())),
            "none": pa.array([None], pa.null()),
        }
    )
    items, _, _ = decode_ranged(parquet_bytes(table), DecodeOptions("x.parquet"))
    (item,) = records(items)
    assert orjson.loads(item.value) == {
        "n": 9223372036854775807,
        "nan": "NaN",
        "inf": "-Infinity",
        "b": "/wA=",
        "d": "-0.50",
        "day": "2024-02-29",
        "zoned": "2024-01-01T01:00:00.000Z",  # Parquet has no seconds unit: ms
        "naive": "2024-01-01T01:00:00.005",
        "m": [[1, "x"]],
        "none": None,
    }


def test_json_written_column_by_column_is_orjsons_text_byte_for_byte() -> None:
    # Arrow writes these columns' JSON (escaping, quoting, joining; a column with a control
    # character goes value by value): the bytes must be what orjson makes of the same values.
    texts = ["plain", 'q"uote', "back\\slash", "/", "\x7f", "é東🚀\u2028", ""]
    table = pa.table(
        {
            "s": pa.array([*texts, None]),
            "large": pa.array([*texts, None], pa.large_string()),
            "cat": pa.array([*texts, None]).dictionary_encode(),
            "control": pa.array(["new\nline", "\x00\x1f", "\t", None, "", "a", "b", "c"]),
            "i": pa.array([-(2**63), 2**63 - 1, 0, None, 1, 2, 3, 4], pa.int64()),
            "u": pa.array([2**64 - 1, 0, None, 1, 2, 3, 4, 5], pa.uint64()),
            "f": pa.array([0.1, -0.0, 1e20, 5e-324, None, 1.5, 1e-7, 123456.789]),
            "flag": pa.array([True, False, None, True, False, True, False, True]),
            "l": pa.array([["a", None], [], None, ['"'], ["x"], [], ["b\\"], None]),
            "ll": pa.array([[1], [], None, [2, 3], [4], [], [5], None], pa.large_list(pa.int8())),
            "fixed": pa.array(
                [[1, 2], None, [3, 4], [5, 6], [7, 8], [9, 0], [1, 1], [2, 2]],
                pa.list_(pa.int16(), 2),
            ),
            "st": pa.array(
                [{"a": i, 'b"': f"v{i}"} if i % 3 else None for i in range(8)],
                pa.struct([("a", pa.int32()), ('b"', pa.string())]),
            ),
        }
    )
    items, _, _ = decode_ranged(parquet_bytes(table), DecodeOptions("x.parquet"))
    assert [record.value for record in records(items)] == [
        orjson.dumps(row) for row in table.to_pylist()
    ]


def test_files_written_by_duckdb_decode_as_duckdb_reads_them(tmp_path: object) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = f"{tmp_path}/duck.parquet"
    duckdb.sql(
        "COPY (SELECT i AS id, i * 1.5 AS amount, 'row ' || i AS label,"
        " CAST(i AS DECIMAL(18, 3)) / 7 AS price, DATE '2024-01-01' + CAST(i AS INTEGER) AS day,"
        " TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) SECOND AS at,"
        " TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) MINUTE AS at_tz,"
        " CASE WHEN i % 3 = 0 THEN NULL ELSE [i, i + 1] END AS pair,"
        " {'k': i, 'v': 'x'} AS kv, MAP {'a': i} AS m, i % 2 = 0 AS even"
        " FROM range(5000) t(i)) TO '" + path + "' (FORMAT parquet)"
    )
    with open(path, "rb") as handle:  # noqa: PTH123
        data = handle.read()
    items, summary, _ = decode_ranged(data, DecodeOptions("duck.parquet"))
    assert [orjson.loads(record.value) for record in records(items)] == expected_rows(data)
    assert summary.records == 5000
    # DuckDB's own reading agrees on the values that have one text form.
    first = orjson.loads(records(items)[1].value)
    assert (first["id"], first["label"], first["day"], first["at"]) == (
        1,
        "row 1",
        "2024-01-02",
        "2024-01-01T00:00:01.000000",  # DuckDB writes microseconds
    )
    assert first["at_tz"] == "2024-01-01T00:01:00.000000Z"


def test_row_groups_are_read_by_ranges_and_never_the_object_whole() -> None:
    data = parquet_bytes(sample_table(6000), row_group_size=1000, compression="none")
    _, _, ranged = decode_ranged(data, DecodeOptions("many.parquet"))
    groups = pq.ParquetFile(io.BytesIO(data)).metadata.num_row_groups
    assert groups == 6
    # The footer (one read-ahead window), then each row group's column chunks.
    assert ranged.requests <= 2 + groups * 2
    assert ranged.bytes_read <= len(data) * 1.2
    largest = max(ranged_sizes(data))
    assert largest < len(data)


def ranged_sizes(data: bytes) -> list[int]:
    """The sizes of the reads objstream makes of `data` (a RangedObject that logs them)."""
    sizes: list[int] = []

    def fetch(start: int, length: int) -> bytes:
        sizes.append(length)
        return data[start : start + length]

    decoder = RecordDecoder(
        None, DecodeOptions("a.parquet"), ranged=RangedObject(fetch, size=len(data), etag=None)
    )
    for _ in decoder:
        pass
    return sizes


def test_content_type_or_magic_switch_a_streamed_body_to_ranged_reads() -> None:
    data = parquet_bytes(TABLE.slice(0, 10))
    opened: list[RangedObject] = []

    def open_ranged() -> RangedObject:
        opened.append(RangedObject.from_bytes(data))
        return opened[-1]

    decoder = RecordDecoder(
        ObjectBody.from_bytes(data), DecodeOptions("export.bin"), ranged=open_ranged
    )
    assert len(list(decoder)) == 10
    assert decoder.summary.format_source is FormatSource.CONTENT
    assert len(opened) == 1


def test_a_streamed_parquet_body_without_a_ranged_source_is_rejected() -> None:
    decoder = RecordDecoder(io.BytesIO(parquet_bytes(TABLE.slice(0, 3))), DecodeOptions("a.bin"))
    with pytest.raises(ObjectRejected, match="read by ranges"):
        list(decoder)


def test_decoding_starts_at_a_resume_point_and_reports_the_one_after_each_row() -> None:
    data = parquet_bytes(TABLE, row_group_size=40)
    whole, _, _ = decode_ranged(data, DecodeOptions("a.parquet"))
    decoder = RecordDecoder(
        None,
        DecodeOptions("a.parquet"),
        ranged=RangedObject.from_bytes(data),
        resume=ResumePoint(RecordFormat.PARQUET, row_group=2, row=5),
    )
    positions = []
    rest = []
    for item in decoder:
        rest.append(item)
        positions.append(decoder.resume_after(item.end))
    assert [item.index for item in rest] == list(range(85, 300))
    assert [item.value for item in records(rest)] == [item.value for item in records(whole[85:])]
    assert positions[0] == ResumePoint(RecordFormat.PARQUET, row_group=2, row=6)
    assert positions[34] == ResumePoint(RecordFormat.PARQUET, row_group=3, row=0)
    assert positions[-1] == ResumePoint(RecordFormat.PARQUET, row_group=8, row=0)
    # Resuming at each reported position yields exactly the rest.
    again = RecordDecoder(
        None, DecodeOptions("a.parquet"), ranged=RangedObject.from_bytes(data), resume=positions[34]
    )
    assert [item.index for item in again] == list(range(120, 300))


def test_a_row_over_the_message_limit_is_invalid_and_names_row_group_and_row() -> None:
    table = pa.table({"text": ["short", "x" * 5000, "short"]})
    data = parquet_bytes(table, row_group_size=2)
    items, summary, _ = decode_ranged(data, DecodeOptions("a.parquet", max_record_bytes=1000))
    assert [type(item).__name__ for item in items] == ["Record", "InvalidRecord", "Record"]
    invalid = items[1]
    assert isinstance(invalid, InvalidRecord)
    assert invalid.reason.startswith("row 1 of row group 0: record of 5011 bytes exceeds")
    assert invalid.raw.startswith(b'{"text":"xxx')
    assert 0 < invalid.start < invalid.end <= len(data)
    assert summary.invalid == 1


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def huge_footer(data: bytes) -> bytes:
    return data[:-8] + (2**31).to_bytes(4, "little") + b"PAR1"


def corrupt_footer(data: bytes) -> bytes:
    footer = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer
    return data[:start] + bytes(b ^ 0x5A for b in data[start:-8]) + data[-8:]


def corrupt_pages(data: bytes) -> bytes:
    return data[:4] + b"\x13" * 600 + data[604:]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (truncated, "does not end with PAR1"),
        (lambda data: data[:-1], "does not end with PAR1"),
        (lambda _data: b"PAR1PAR1", "too short"),
        (lambda _data: b"PAR1" + b"\0" * 4 + b"PAR1", "corrupt Parquet footer"),
        (huge_footer, "claims 2147483648 bytes"),
        (corrupt_footer, "corrupt Parquet footer"),
        (corrupt_pages, "corrupt Parquet data in row group 0"),
    ],
    ids=[
        "truncated",
        "last-byte-cut",
        "too-short",
        "empty-footer",
        "footer-longer-than-file",
        "footer-garbage",
        "pages-garbage",
    ],
)
def test_broken_files_reject_the_object_with_the_reason(mangle: object, reason: str) -> None:
    data = parquet_bytes(TABLE, compression="none")
    assert callable(mangle)
    with pytest.raises(ObjectRejected, match=reason):
        decode_ranged(mangle(data), DecodeOptions("broken.parquet"))


def test_a_row_group_over_the_limit_is_rejected_before_it_is_read() -> None:
    data = parquet_bytes(pa.table({"n": pa.array(range(100_000), pa.int64())}), compression="zstd")
    sizes: list[int] = []

    def fetch(start: int, length: int) -> bytes:
        sizes.append(length)
        return data[start : start + length]

    decoder = RecordDecoder(
        None,
        DecodeOptions("big.parquet", max_row_group_bytes=256 * 1024),
        ranged=RangedObject(fetch, size=len(data), etag=None),
    )
    with pytest.raises(ObjectRejected, match="over MAX_ROW_GROUP_BYTES"):
        list(decoder)
    assert sum(sizes) < 300 * 1024  # the footer only


def test_a_footer_declaring_a_huge_row_count_is_rejected_with_memory_bounded() -> None:
    # A row group of nulls: tiny on disk whatever its row count, so a writer can declare
    # 2**40 rows in a few bytes of Thrift. Build a real one with many rows, then patch the
    # count in the footer (num_rows is encoded once per row group and once per file).
    rows = 3_000_017
    table = pa.table({"n": pa.nulls(rows, pa.int64())})
    data = parquet_bytes(table, compression="zstd", row_group_size=rows)
    decoder = RecordDecoder(
        None,
        DecodeOptions("nulls.parquet", max_row_group_bytes=1024**2),
        ranged=RangedObject.from_bytes(data),
    )
    with pytest.raises(ObjectRejected, match="3000017 rows"):
        list(decoder)
