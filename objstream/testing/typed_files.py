"""Parquet and Avro files from several writers, and what a row should be under the mapping.

`expected_json(value, arrow_type)` is the README's mapping table written a second, simpler
way (per value, in Python, from what pyarrow reads itself), so a test compares objstream's
records with an independent reading of the same file.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import math
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.UTC


def _float(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _fraction(value: int, digits: int) -> str:
    return f".{value:0{digits}d}" if digits else ""


_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def expected_json(value: Any, kind: pa.DataType) -> Any:  # noqa: C901, PLR0911, PLR0912
    """What objstream's record holds for one value pyarrow read (`to_pylist`)."""
    if value is None:
        return None
    types = pa.types
    if types.is_dictionary(kind):
        return expected_json(value, kind.value_type)
    if types.is_floating(kind):
        return _float(float(value))
    if types.is_decimal(kind):
        return format(value, "f")
    if types.is_binary(kind) or types.is_large_binary(kind) or types.is_fixed_size_binary(kind):
        return base64.b64encode(value).decode()
    if types.is_date(kind):
        return value.isoformat()
    if types.is_timestamp(kind):
        digits = _DIGITS[kind.unit]
        if hasattr(value, "nanosecond"):  # pandas.Timestamp, for nanoseconds
            sub = value.microsecond * 1000 + value.nanosecond
            moment = value.to_pydatetime(warn=False)
        else:
            sub = (
                value.microsecond // 10 ** (6 - digits) if digits <= 6 else value.microsecond * 1000
            )
            moment = value
        if kind.tz is not None:
            moment = moment.astimezone(UTC)
        # RFC 3339 years have four digits (strftime does not pad them everywhere).
        text = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S") + _fraction(sub, digits)
        return text + ("Z" if kind.tz is not None else "")
    if types.is_struct(kind):
        return {
            kind.field(i).name: expected_json(value[kind.field(i).name], kind.field(i).type)
            for i in range(kind.num_fields)
        }
    if types.is_map(kind):
        pairs = [
            (expected_json(k, kind.key_type), expected_json(v, kind.item_type)) for k, v in value
        ]
        if types.is_string(kind.key_type) or types.is_large_string(kind.key_type):
            return dict(pairs)
        return [list(pair) for pair in pairs]
    if types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind):
        return [expected_json(item, kind.value_type) for item in value]
    return value


def expected_rows(data: bytes) -> list[dict[str, Any]]:
    """Every row of a Parquet file as objstream should publish it, read by pyarrow itself."""
    table = pq.read_table(io.BytesIO(data))
    schema = table.schema
    return [
        {name: expected_json(row[name], schema.field(name).type) for name in schema.names}
        for row in table.to_pylist()
    ]


def sample_table(rows: int = 300) -> pa.Table:
    """Every type family, nested, nulls in every column, NaN and infinities."""
    base = dt.datetime(2024, 2, 29, 23, 59, 58, 123456)  # noqa: DTZ001 - naive timestamps too
    ints = [None if i % 7 == 3 else (i * 7919 % 1_000_003) * (-1) ** i * 2**40 for i in range(rows)]
    floats = [
        None if i % 11 == 5 else [math.nan, math.inf, -math.inf, 0.1 * i, -0.0][i % 5]
        for i in range(rows)
    ]
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "big": pa.array(ints, pa.int64()),
            "small": pa.array([None if i % 5 == 0 else i % 120 for i in range(rows)], pa.int8()),
            "unsigned": pa.array([2**64 - 1 - i for i in range(rows)], pa.uint64()),
            "ratio": pa.array(floats, pa.float64()),
            "single": pa.array([None if i % 4 == 0 else i / 3 for i in range(rows)], pa.float32()),
            "flag": pa.array([None if i % 3 == 0 else i % 2 == 0 for i in range(rows)]),
            "name": pa.array([None if i % 6 == 0 else f'Zoë "{i}", 李雷 🚀' for i in range(rows)]),
            "category": pa.array(
                [["red", "green", None][i % 3] for i in range(rows)]
            ).dictionary_encode(),
            "blob": pa.array(
                [None if i % 8 == 0 else bytes([i % 256]) * (i % 5) for i in range(rows)]
            ),
            "code": pa.array([bytes([i % 256, 1, 2]) for i in range(rows)], pa.binary(3)),
            "price": pa.array(
                [
                    None if i % 9 == 0 else decimal.Decimal(i * 1001 - 50000).scaleb(-2)
                    for i in range(rows)
                ],
                pa.decimal128(12, 2),
            ),
            "huge": pa.array(
                [
                    decimal.Decimal("12345678901234567890.123456789") * (i - rows // 2)
                    for i in range(rows)
                ],
                pa.decimal128(38, 9),
            ),
            "day": pa.array(
                [
                    None if i % 10 == 0 else dt.date(1900 + i % 200, 1 + i % 12, 1 + i % 28)
                    for i in range(rows)
                ]
            ),
            "at": pa.array(
                [
                    None if i % 13 == 0 else base + dt.timedelta(hours=i, microseconds=i)
                    for i in range(rows)
                ],
                pa.timestamp("us", "Europe/Paris"),
            ),
            "at_utc_ms": pa.array(
                [
                    base.replace(tzinfo=UTC) - dt.timedelta(days=(i % 1500) * 400)
                    for i in range(rows)
                ],
                pa.timestamp("ms", "UTC"),
            ),
            "local": pa.array(
                [base + dt.timedelta(seconds=i) for i in range(rows)], pa.timestamp("us")
            ),
            "local_ns": pa.array(
                [1_700_000_000_123_456_789 + i for i in range(rows)], pa.timestamp("ns")
            ),
            "tags": pa.array(
                [
                    None if i % 4 == 1 else [f"t{j}" if j % 3 else None for j in range(i % 4)]
                    for i in range(rows)
                ],
                pa.list_(pa.string()),
            ),
            "point": pa.array(
                [
                    None
                    if i % 5 == 2
                    else {"x": i, "y": None if i % 2 else -i / 2, "label": {"text": str(i)}}
                    for i in range(rows)
                ],
                pa.struct(
                    [
                        ("x", pa.int32()),
                        ("y", pa.float64()),
                        ("label", pa.struct([("text", pa.string())])),
                    ]
                ),
            ),
            "attrs": pa.array(
                [
                    None
                    if i % 6 == 4
                    else [(f"k{j}", None if j == 1 else float(j)) for j in range(i % 3)]
                    for i in range(rows)
                ],
                pa.map_(pa.string(), pa.float64()),
            ),
            "by_id": pa.array(
                [[(i, "a"), (i + 1, None)] for i in range(rows)], pa.map_(pa.int64(), pa.string())
            ),
            "matrix": pa.array(
                [[[i, None], []] for i in range(rows)], pa.list_(pa.list_(pa.int16()))
            ),
        }
    )


def parquet_bytes(table: pa.Table, **options: Any) -> bytes:
    """The table written by pyarrow with `options` (compression, row_group_size, ...)."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()
