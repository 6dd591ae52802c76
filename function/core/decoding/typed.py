"""What Parquet and Avro share: the file's own schema, and rows as JSON (the README's table).

Pure. `Column`/`FieldType` describe a typed file's columns in objstream's words, independent
of pyarrow and fastavro, so that `connect_values` can build a Kafka Connect schema from them
without importing either. `row_json` turns one row (a dict of Python values, as fastavro gives
them) or one value (as pyarrow's `to_pylist` gives it after `parquet._prepare`, for what Parquet
cannot write in Arrow) into its JSON text:

- integers stay integers (int64 and uint64 too), floats floats; NaN, Infinity and -Infinity,
  which JSON lacks, become the strings "NaN", "Infinity", "-Infinity";
- booleans, strings and null stay what they are;
- bytes (binary, fixed) become base64 (standard alphabet, padded);
- decimals become strings with their exact digits, scale kept (`-1.50`), never an exponent;
- dates `YYYY-MM-DD`; times `HH:MM:SS[.fraction]`; timestamps RFC 3339, in UTC with `Z`
  when the type has a zone, with no offset when it is naive (local time, as written);
- lists → arrays, structs/records → objects, maps with string keys → objects, maps with
  other keys → arrays of `[key, value]` pairs; enums → their symbol; unions → the value of
  the branch taken.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from collections.abc import Callable

# What JSON cannot say as a number, said as text (the README's mapping table).
NONFINITE: Final = {math.inf: "Infinity", -math.inf: "-Infinity"}
NAN_TEXT: Final = "NaN"


class Kind(StrEnum):
    """A column's type, as far as the record's JSON and a Kafka Connect schema care."""

    NULL = "null"
    BOOLEAN = "boolean"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT = "float64"
    STRING = "string"
    BYTES = "bytes"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"
    LIST = "list"
    STRUCT = "struct"
    MAP = "map"
    JSON = "json"  # no Connect type fits (a union of several types): its JSON text


@dataclass(frozen=True, slots=True)
class FieldType:
    """One column's (or nested value's) type; `zoned` for timestamps in UTC."""

    kind: Kind
    nullable: bool = True
    scale: int = 0  # decimals
    zoned: bool = False  # timestamps: the type has a zone (UTC), else naive
    items: FieldType | None = None  # lists; map values
    keys: FieldType | None = None  # maps
    fields: tuple[Column, ...] = ()  # structs


@dataclass(frozen=True, slots=True)
class Column:
    """A named field of a row (top-level column or struct member)."""

    name: str
    type: FieldType


def _default(value: Any) -> Any:
    """What orjson cannot write by itself: bytes and (Avro's) decimals."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"decimal {value} is not a number")
        return format(value, "f")
    raise TypeError(f"no JSON form for {type(value).__name__}")


_OPTIONS: Final = orjson.OPT_UTC_Z


def row_json(row: Any) -> bytes:
    """The JSON text of a row (the record's value) or of one value, as the module docstring says."""
    return orjson.dumps(row, default=_default, option=_OPTIONS)


def finite(value: Any) -> Any:
    """A float's JSON form: itself when finite, else its name ("NaN", "Infinity", …)."""
    if value is None or math.isfinite(value):
        return value
    return NONFINITE.get(value, NAN_TEXT)


def finite_deep(value: Any) -> Any:
    """`value` with every non-finite float inside it (dicts, lists) named instead."""
    kind = type(value)
    if kind is float:
        return finite(value)
    if kind is dict:
        return {key: finite_deep(item) for key, item in value.items()}
    if kind is list:
        return [finite_deep(item) for item in value]
    return value


def map_entries(pairs: list[tuple[Any, Any]] | None, *, string_keys: bool) -> Any:
    """A map as pyarrow lists it (key, value pairs) in its JSON form."""
    if pairs is None:
        return None
    if string_keys:
        return dict(pairs)
    return [[key, item] for key, item in pairs]


def compose(fixers: dict[str, Callable[[Any], Any]]) -> Callable[[dict[str, Any]], Any] | None:
    """One function applying per-column fixers to a row (None when there is nothing to fix)."""
    if not fixers:
        return None
    items = tuple(fixers.items())

    def fix(row: dict[str, Any]) -> dict[str, Any]:
        for name, fixer in items:
            row[name] = fixer(row[name])
        return row

    return fix
