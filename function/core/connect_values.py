"""Record values as Kafka Connect JsonConverter envelopes (`VALUE_FORMAT=connect-json`).

Pure: no I/O. A Kafka Connect worker whose value converter is
`org.apache.kafka.connect.json.JsonConverter` with `schemas.enable=true` reads a message value
only in the form

    {"schema": {"type": "struct", "name": "objstream.Record", "optional": false,
                "fields": [{"field": "objstream_id", "type": "string", "optional": false},
                           {"field": "customer", "type": "string", "optional": true}, ...]},
     "payload": {"objstream_id": "<ce_id>", "customer": "Zoë", ...}}

`ConnectEnvelope` writes records that way. Every record becomes one struct:

- its id (the message's `ce_id`: `<object version id>-<record index>`) in the field named by
  `CONNECT_ID_FIELD` (default `objstream_id`), first and never null, so that a sink can
  upsert on it and a replay of the same object version rewrites the same rows;
- a CSV row or a JSON object: one field per key, in the record's order, every one optional
  (nullable). A key equal to the id field is an error, never silently overwritten;
- any other record (a JSON scalar or array, a text line, a raw chunk): one field `value`.

Field types, in order of precedence:

1. `CONNECT_COLUMN_TYPES` (`name:type,...`) declares a field's type for every record, whatever
   the format: `string`, `int64`, `int32`, `float64`, `boolean`, `decimal` or `decimal(S)`.
   Text is read leniently but exactly (surrounding blanks ignored; an empty string is null):
   integers are ASCII digits with an optional sign, in range; float64 is a decimal number
   with an optional exponent, finite (no NaN, no Infinity); booleans are the words
   PostgreSQL reads as booleans (true/false, t/f, yes/no, y/n, on/off, 1/0, any case);
   decimals are a decimal number with an optional exponent, at most 1000 digits, written as
   Connect's `Decimal` logical type. `decimal(S)` fixes the scale: fewer fractional digits are
   padded, more that are not zeros are an error (never rounded). Plain `decimal` takes the
   scale each value is written with, so its schema can differ from record to record. JSON
   values are converted the same way: numbers to a numeric type if exact, `true`/`false` to
   boolean (and 0/1), anything to string (objects and arrays as their JSON text).
   A value that does not fit its declared type raises `ConnectValueError`: the record is bad,
   and objstream's bad-record policy decides what happens to it.
2. Without a declared type, a JSON value keeps its JSON type: strings are `string`, booleans
   `boolean`, integers `int64` (outside its range, their digits as a `string`), other numbers
   `float64`, null a null `string`, objects and arrays their JSON text as a `string` (a sink
   gets one text column it can cast to JSON; nested structs would need a stable nested schema
   that a stream of arbitrary documents cannot promise).
3. Text from the file (CSV cells, text lines) is a `string`, unless `CONNECT_INFER_TYPES` is
   on; then, per value, and only when the text reads back unchanged:
   `true`/`false` (any case) → boolean; `0` or `-?[1-9][0-9]*` within the int64 range → int64
   (so `007`, `+7`, `1_000`, ` 7` and zip codes like `02134` stay strings); a plain decimal
   `-?(0|[1-9][0-9]*)\\.[0-9]+` with at most 15 significant digits → float64 (15 digits is
   what a float64 keeps exactly: the number prints back as written, less trailing zeros).
   Anything else, the empty string included, stays a string.

Inference decides per value because a stream cannot look ahead at a column: the schema travels
in every message, and JsonConverter accepts a different one in each. A JDBC sink, though,
creates its table from the first record and alters it only by adding columns, so a column
whose values are typed differently from row to row (`12` then `12.5`, or `7` then `n/a`) fails
there. For JDBC and other table sinks declare the types with `CONNECT_COLUMN_TYPES`; inference
suits schemaless destinations and exploration.

Parquet and Avro records carry their file's own schema (`decoding.typed.Column`), so their
Connect schema is built from it once per object (`for_records(format, columns)`), with no
declaration: int32/int64, float64, boolean, string, bytes (binary, fixed: base64 payload),
`Decimal` (with the column's scale), `Date`, `Time` and `Timestamp` logical types (millisecond
precision, as Connect has it: finer digits are dropped; a naive timestamp is read as UTC),
struct, array and map (string keys: a JSON object; other keys: `[key, value]` pairs, as
JsonConverter writes such maps); a union of several types, or a recursive Avro type, is a
`string` holding the value's JSON text. NaN and ±Infinity, which JsonConverter cannot read,
are null. Nullability is the file's. `CONNECT_COLUMN_TYPES` still wins for a top-level column.

Everything that is not a record (the OCI event, dead letters, the published and rejected
markers) is wrapped schemaless, `{"schema": null, "payload": <the JSON value>}`, which
JsonConverter reads as a schemaless map: the whole stream then converts without an error,
and a sink keeps only records with the built-in `Filter` transform and a `HasHeaderKey`
predicate on `ce_recordindex` (see docs/kafka-connect.md).

Cost per record: one JSON parse, one pass over the fields, one JSON dump. The schema of each
distinct (field names, field types) combination is serialised once and cached.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson

from function.core.decoding.records import RecordFormat
from function.core.decoding.typed import Column, FieldType, Kind
from function.errors import ConnectValueError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SCHEMA_NAME: Final = "objstream.Record"
SCALAR_FIELD: Final = "value"  # the field of records that are not JSON objects
DECIMAL_SCHEMA_NAME: Final = "org.apache.kafka.connect.data.Decimal"
MAX_DECIMAL_DIGITS: Final = 1000
# Distinct schemas kept serialised; past this the cache starts over (a stream of documents
# whose keys never repeat must not grow memory).
SCHEMA_CACHE_SIZE: Final = 4096

_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_EXACT_FLOAT_INT = 2**53  # every integer up to this is exact in a float64
_FLOAT_DIGITS = 15  # significant decimal digits a float64 always prints back unchanged

_EXPLICIT_INT = re.compile(r"[+-]?[0-9]+")
_EXPLICIT_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INFER_INT = re.compile(r"0|-?[1-9][0-9]*")
_INFER_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "off", "0"})
# CONNECT_COLUMN_TYPES names → JsonConverter's schema type names (Connect's FLOAT64 is
# "double" in JSON schemas, FLOAT32 "float").
_JSON_TYPE_NAMES: Final = {
    "string": "string",
    "int64": "int64",
    "int32": "int32",
    "float64": "double",
    "boolean": "boolean",
    "bytes": "bytes",
}
_COLUMN_TYPE = re.compile(r"(string|int64|int32|float64|boolean|decimal)(?:\(([0-9]{1,4})\))?")


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A field's Kafka Connect type: `kind` as in CONNECT_COLUMN_TYPES, `scale` for decimals.

    A decimal without a scale (plain `decimal`) takes each value's own scale.
    """

    kind: str
    scale: int | None = None

    @classmethod
    def parse(cls, spec: str) -> ColumnType:
        """`int64`, `decimal`, `decimal(2)`, ... → ColumnType; ValueError names what is allowed."""
        match = _COLUMN_TYPE.fullmatch(spec.strip())
        if match is None or (match[2] is not None and match[1] != "decimal"):
            raise ValueError(
                f"{spec!r} is not a column type: string, int64, int32, float64, boolean, "
                "decimal or decimal(<scale>)"
            )
        return cls(match[1], int(match[2]) if match[2] is not None else None)

    def schema(self, name: str) -> dict[str, Any]:
        """The JsonConverter field schema (optional: every data field may be null)."""
        if self.kind != "decimal":
            return {"field": name, "type": _JSON_TYPE_NAMES[self.kind], "optional": True}
        return {
            "field": name,
            "type": "bytes",
            "optional": True,
            "name": DECIMAL_SCHEMA_NAME,
            "version": 1,
            "parameters": {"scale": str(self.scale or 0)},
        }


STRING: Final = ColumnType("string")
INT64: Final = ColumnType("int64")
INT32: Final = ColumnType("int32")
FLOAT64: Final = ColumnType("float64")
BOOLEAN: Final = ColumnType("boolean")
BYTES: Final = ColumnType("bytes")  # raw chunks only; not a CONNECT_COLUMN_TYPES choice

_Typed = tuple[ColumnType, Any]  # a field's type and its JSON payload value
_Layout = tuple[tuple[str, ColumnType], ...]  # field names and types: what a schema depends on


class ConnectEnvelope:
    """Wraps values in JsonConverter envelopes; build once (per container), reuse per record.

    Use:

    - `envelope = ConnectEnvelope(...)`, once (the pipeline builds it from the settings);
    - `to_connect = envelope.for_records(decoder.record_format)`, once per object;
    - `value = to_connect(record.value, record_id)`, per record;
    - `value = envelope.wrap_schemaless(value)` for the event, dead letters and markers.
    """

    __slots__ = ("_column_types", "_id_field", "_id_schema", "_infer", "_max", "_schemas")

    def __init__(
        self,
        *,
        column_types: Mapping[str, str | ColumnType] | None = None,
        infer_types: bool = False,
        id_field: str = "objstream_id",
        max_value_bytes: int | None = None,
    ) -> None:
        if not id_field:
            raise ValueError("the record id field needs a name (CONNECT_ID_FIELD)")
        self._column_types = {
            name: kind if isinstance(kind, ColumnType) else ColumnType.parse(kind)
            for name, kind in (column_types or {}).items()
        }
        self._infer = infer_types
        self._id_field = id_field
        self._id_schema = {"field": id_field, "type": "string", "optional": False}
        self._max = max_value_bytes
        self._schemas: dict[_Layout, bytes] = {}

    def for_records(
        self, record_format: RecordFormat, columns: tuple[Column, ...] | None = None
    ) -> Callable[[bytes, bytes], bytes]:
        """The function `(record value, record id) → envelope` for one object's format.

        `columns`: the file's own schema (parquet, avro), which then types every field.
        """
        if columns is not None:
            return self._typed_records(columns)
        wrappers: dict[RecordFormat, Callable[[bytes, bytes], bytes]] = {
            RecordFormat.CSV: self._csv,
            RecordFormat.JSON: self._json,
            RecordFormat.JSONL: self._json,
            RecordFormat.LINES: self._line,
            RecordFormat.RAW: self._raw,
        }
        try:
            return wrappers[record_format]
        except KeyError:
            raise ValueError(f"records have a concrete format, not {record_format}") from None

    def wrap(self, value: bytes, record_id: bytes, record_format: RecordFormat) -> bytes:
        """One record's envelope (`for_records` spares the format lookup per record)."""
        return self.for_records(record_format)(value, record_id)

    def wrap_schemaless(self, value: bytes) -> bytes:
        """A JSON value (event, dead letter, marker) as `{"schema": null, "payload": value}`.

        The bytes are kept as they are, so the OCI event stays exactly as received.
        """
        return b'{"schema":null,"payload":' + value + b"}"

    # --- one function per record format ---------------------------------------------------

    def _csv(self, value: bytes, record_id: bytes) -> bytes:
        return self._object(_load(value), record_id, text=True)

    def _json(self, value: bytes, record_id: bytes) -> bytes:
        parsed = _load(value)
        if type(parsed) is dict:
            return self._object(parsed, record_id, text=False)
        return self._scalar(parsed, record_id, text=False)

    def _line(self, value: bytes, record_id: bytes) -> bytes:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConnectValueError(f"the text line is not UTF-8: {exc}") from exc
        return self._scalar(text, record_id, text=True)

    def _raw(self, value: bytes, record_id: bytes) -> bytes:
        payload = {self._id_field: record_id.decode("ascii")}
        payload[SCALAR_FIELD] = base64.b64encode(value).decode("ascii")
        return self._envelope(((SCALAR_FIELD, BYTES),), payload)

    def _typed_records(self, columns: tuple[Column, ...]) -> Callable[[bytes, bytes], bytes]:
        """Records of a typed file: one schema for the object, values converted by it."""
        id_field = self._id_field
        collision = any(column.name == id_field for column in columns)
        declared = self._column_types
        converters: list[tuple[str, Callable[[Any], Any]]] = []
        fields: list[dict[str, Any]] = [self._id_schema]
        for column in columns:
            kind = declared.get(column.name)
            if kind is not None:
                fields.append(kind.schema(column.name))
                converters.append((column.name, _declared_converter(column.name, kind)))
            else:
                fields.append({"field": column.name, **_typed_schema(column.type)})
                converters.append((column.name, _typed_converter(column.type)))
        schema = orjson.dumps(
            {"type": "struct", "name": SCHEMA_NAME, "optional": False, "fields": fields}
        )
        # A top-level Avro value that is not a record is one column, `value`.
        scalar = len(columns) == 1 and columns[0].name == SCALAR_FIELD
        head, limit = b'{"schema":' + schema + b',"payload":', self._max

        def wrap(value: bytes, record_id: bytes) -> bytes:
            if collision:
                raise ConnectValueError(
                    f"the file has a column named {id_field!r}, which holds the record id in "
                    "Kafka Connect values: choose another name with CONNECT_ID_FIELD"
                )
            row = _load(value)
            payload = {id_field: record_id.decode("ascii")}
            if scalar and type(row) is not dict:
                row = {SCALAR_FIELD: row}
            for name, convert in converters:
                payload[name] = convert(row.get(name))
            envelope = head + orjson.dumps(payload) + b"}"
            if limit is not None and len(envelope) > limit:
                raise ConnectValueError(
                    f"the record as a Kafka Connect value (schema and payload) is "
                    f"{len(envelope)} bytes, over the limit of {limit} bytes for one message"
                )
            return envelope

        return wrap

    # --- the work ----------------------------------------------------------------------

    def _object(self, row: dict[str, Any], record_id: bytes, *, text: bool) -> bytes:
        if self._id_field in row:
            raise ConnectValueError(
                f"the record has a field named {self._id_field!r}, which holds the record id "
                "in Kafka Connect values: rename the column, or choose another name with "
                "CONNECT_ID_FIELD"
            )
        layout: list[tuple[str, ColumnType]] = []
        payload = {self._id_field: record_id.decode("ascii")}
        for name, raw in row.items():
            kind, payload[name] = self._typed(name, raw, text=text)
            layout.append((name, kind))
        return self._envelope(tuple(layout), payload)

    def _scalar(self, raw: Any, record_id: bytes, *, text: bool) -> bytes:
        if self._id_field == SCALAR_FIELD:
            raise ConnectValueError(
                f"records that are not JSON objects go in a field named {SCALAR_FIELD!r}, "
                "which CONNECT_ID_FIELD also names: choose another CONNECT_ID_FIELD"
            )
        payload = {self._id_field: record_id.decode("ascii")}
        kind, payload[SCALAR_FIELD] = self._typed(SCALAR_FIELD, raw, text=text)
        return self._envelope(((SCALAR_FIELD, kind),), payload)

    def _typed(self, name: str, raw: Any, *, text: bool) -> _Typed:
        declared = self._column_types.get(name)
        if declared is not None:
            try:
                return _convert(raw, declared)
            except ValueError as exc:
                raise ConnectValueError(
                    f"field {name!r}: {exc} (CONNECT_COLUMN_TYPES declares it {_spec(declared)})"
                ) from None
        if type(raw) is str:
            return _infer(raw) if text and self._infer else (STRING, raw)
        return _json_typed(raw)

    def _envelope(self, layout: _Layout, payload: dict[str, Any]) -> bytes:
        schema = self._schemas.get(layout)
        if schema is None:
            schema = self._schema(layout)
        envelope = b'{"schema":' + schema + b',"payload":' + orjson.dumps(payload) + b"}"
        if self._max is not None and len(envelope) > self._max:
            raise ConnectValueError(
                f"the record as a Kafka Connect value (schema and payload) is {len(envelope)} "
                f"bytes, over the limit of {self._max} bytes for one message"
            )
        return envelope

    def _schema(self, layout: _Layout) -> bytes:
        if len(self._schemas) >= SCHEMA_CACHE_SIZE:
            self._schemas.clear()
        schema = orjson.dumps(
            {
                "type": "struct",
                "name": SCHEMA_NAME,
                "optional": False,
                "fields": [self._id_schema, *(kind.schema(name) for name, kind in layout)],
            }
        )
        self._schemas[layout] = schema
        return schema


def _load(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ConnectValueError(f"the record is not JSON: {exc}") from exc


def _json_typed(raw: Any) -> _Typed:
    """A JSON value without a declared type keeps its JSON type."""
    if raw is None:
        return STRING, None
    kind = type(raw)
    if kind is bool:
        return BOOLEAN, raw
    if kind is int:
        return (INT64, raw) if _INT64[0] <= raw <= _INT64[1] else (STRING, str(raw))
    if kind is float:
        return FLOAT64, raw
    # Objects and arrays (and a CSV row's extra values, a list): their JSON text.
    return STRING, orjson.dumps(raw).decode()


# --- typed files (parquet, avro): the file's schema -------------------------------------------

_LOGICAL_NAMES: Final = {
    Kind.DATE: ("int32", "org.apache.kafka.connect.data.Date"),
    Kind.TIME: ("int32", "org.apache.kafka.connect.data.Time"),
    Kind.TIMESTAMP: ("int64", "org.apache.kafka.connect.data.Timestamp"),
}
_PLAIN_NAMES: Final = {
    Kind.NULL: "string",
    Kind.BOOLEAN: "boolean",
    Kind.INT32: "int32",
    Kind.INT64: "int64",
    Kind.FLOAT: "double",
    Kind.STRING: "string",
    Kind.BYTES: "bytes",
    Kind.JSON: "string",
}
_EPOCH_DAY: Final = 719_163  # date(1970, 1, 1).toordinal()


def _typed_schema(kind: FieldType) -> dict[str, Any]:
    """A JsonConverter schema (without its field name) for one of the file's types."""
    optional = kind.nullable
    if kind.kind in _PLAIN_NAMES:
        return {"type": _PLAIN_NAMES[kind.kind], "optional": optional or kind.kind is Kind.NULL}
    if kind.kind in _LOGICAL_NAMES:
        type_name, logical = _LOGICAL_NAMES[kind.kind]
        return {"type": type_name, "optional": optional, "name": logical, "version": 1}
    if kind.kind is Kind.DECIMAL:
        return {
            "type": "bytes",
            "optional": optional,
            "name": DECIMAL_SCHEMA_NAME,
            "version": 1,
            "parameters": {"scale": str(kind.scale)},
        }
    if kind.kind is Kind.LIST:
        assert kind.items is not None
        return {"type": "array", "optional": optional, "items": _typed_schema(kind.items)}
    if kind.kind is Kind.MAP:
        assert kind.keys is not None
        assert kind.items is not None
        return {
            "type": "map",
            "optional": optional,
            "keys": _typed_schema(kind.keys),
            "values": _typed_schema(kind.items),
        }
    return {
        "type": "struct",
        "optional": optional,
        "fields": [{"field": column.name, **_typed_schema(column.type)} for column in kind.fields],
    }


def _identity(value: Any) -> Any:
    return value


def _typed_converter(kind: FieldType) -> Callable[[Any], Any]:  # noqa: C901, PLR0911
    """From the record's JSON value (the README's mapping) to the Connect payload value."""
    family = kind.kind
    if family in {Kind.BOOLEAN, Kind.INT32, Kind.INT64, Kind.STRING, Kind.BYTES, Kind.NULL}:
        return _identity
    if family is Kind.FLOAT:
        return lambda value: value if type(value) is not str else None  # NaN, ±Infinity
    if family is Kind.JSON:
        return lambda value: None if value is None else orjson.dumps(value).decode()
    if family is Kind.DECIMAL:
        scale = ColumnType("decimal", kind.scale)
        return lambda value: None if value is None else _to_decimal(value, scale)[1]
    if family is Kind.DATE:
        return lambda value: None if value is None else _days(value)
    if family is Kind.TIME:
        return lambda value: None if value is None else _time_millis(value)
    if family is Kind.TIMESTAMP:
        return lambda value: None if value is None else _epoch_millis(value)
    if family is Kind.LIST:
        assert kind.items is not None
        item = _typed_converter(kind.items)
        return lambda value: None if value is None else [item(v) for v in value]
    if family is Kind.MAP:
        assert kind.items is not None
        item = _typed_converter(kind.items)
        assert kind.keys is not None
        key = _typed_converter(kind.keys)

        def convert_map(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is dict:
                return {k: item(v) for k, v in value.items()}
            return [[key(k), item(v)] for k, v in value]

        return convert_map
    members = [(column.name, _typed_converter(column.type)) for column in kind.fields]

    def convert_struct(value: Any) -> Any:
        if value is None:
            return None
        return {name: convert(value.get(name)) for name, convert in members}

    return convert_struct


def _declared_converter(name: str, declared: ColumnType) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return _convert(value, declared)[1]
        except ValueError as exc:
            raise ConnectValueError(
                f"field {name!r}: {exc} (CONNECT_COLUMN_TYPES declares it {_spec(declared)})"
            ) from None

    return convert


def _days(text: str) -> int:
    from datetime import date

    return date.fromisoformat(text).toordinal() - _EPOCH_DAY


def _time_millis(text: str) -> int:
    hours, minutes, rest = text.split(":")
    seconds, _, fraction = rest.partition(".")
    millis = int((fraction + "000")[:3])
    return ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + millis


def _epoch_millis(text: str) -> int:
    """RFC 3339 (as the mapping writes it: `Z` or no offset, any fraction) → ms since epoch."""
    from datetime import UTC, datetime

    body = text.removesuffix("Z")
    whole, _, fraction = body.partition(".")
    moment = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    millis = int((fraction + "000")[:3])
    return int(moment.timestamp()) * 1000 + millis


def _spec(kind: ColumnType) -> str:
    return f"{kind.kind}({kind.scale})" if kind.scale is not None else kind.kind


# --- inference (text from the file, CONNECT_INFER_TYPES=true) --------------------------------


def _infer(text: str) -> _Typed:
    if len(text) <= 5 and text.lower() in {"true", "false"}:  # noqa: PLR2004 - len("false")
        return BOOLEAN, text.lower() == "true"
    if _INFER_INT.fullmatch(text):
        # 20 characters hold every int64 (19 digits and a sign); longer text never fits.
        if len(text) <= 20:  # noqa: PLR2004
            number = int(text)
            if _INT64[0] <= number <= _INT64[1]:
                return INT64, number
        return STRING, text
    if _INFER_FLOAT.fullmatch(text):
        digits = text.replace("-", "").replace(".", "").lstrip("0")
        if len(digits) <= _FLOAT_DIGITS:
            return FLOAT64, float(text)
    return STRING, text


# --- conversion to a declared type (CONNECT_COLUMN_TYPES) -----------------------------------


def _convert(raw: Any, declared: ColumnType) -> _Typed:
    """The payload value of `raw` as `declared`; ValueError says why it does not fit."""
    if type(raw) is str:
        if declared.kind == "string":
            return declared, raw
        raw = raw.strip()
        if not raw:
            return _null(declared)
    elif raw is None:
        return _null(declared)
    converter = _CONVERTERS[declared.kind]
    return converter(raw, declared)


def _null(declared: ColumnType) -> _Typed:
    # A plain decimal's scale comes from its value; a null has none, so 0.
    if declared.kind == "decimal" and declared.scale is None:
        return ColumnType("decimal", 0), None
    return declared, None


def _to_string(raw: Any, declared: ColumnType) -> _Typed:
    # Scalars and structures alike as their JSON text: true → "true", 1.5 → "1.5".
    return declared, orjson.dumps(raw).decode()


def _to_int(raw: Any, declared: ColumnType) -> _Typed:
    low, high = _INT64 if declared.kind == "int64" else _INT32
    kind = type(raw)
    if kind is str:
        if not _EXPLICIT_INT.fullmatch(raw):
            raise ValueError(f"{_show(raw)} is not a whole number")
        # Python's int() limits digit counts; a number that long is out of range anyway.
        if len(raw.lstrip("+-").lstrip("0")) > 19:  # noqa: PLR2004 - digits of 2**63
            raise ValueError(f"{_show(raw)} is outside the {declared.kind} range")
        number = int(raw)
    elif kind is int:
        number = raw
    elif kind is float and raw.is_integer():
        number = int(raw)
    else:
        raise ValueError(f"{_show(raw)} is not a whole number")
    if not low <= number <= high:
        raise ValueError(f"{_show(raw)} is outside the {declared.kind} range")
    return declared, number


def _to_float(raw: Any, declared: ColumnType) -> _Typed:
    kind = type(raw)
    if kind is str:
        if not _EXPLICIT_NUMBER.fullmatch(raw):
            raise ValueError(f"{_show(raw)} is not a number")
        number = float(raw)
        if math.isinf(number):
            raise ValueError(f"{_show(raw)} is too large for a float64")
        return declared, number
    if kind is float:
        return declared, raw
    if kind is int:
        if abs(raw) > _EXACT_FLOAT_INT:
            raise ValueError(f"{_show(raw)} cannot be a float64 exactly")
        return declared, float(raw)
    raise ValueError(f"{_show(raw)} is not a number")


def _to_boolean(raw: Any, declared: ColumnType) -> _Typed:
    kind = type(raw)
    if kind is bool:
        return declared, raw
    if kind is str:
        word = raw.lower()
        if word in _TRUE_WORDS:
            return declared, True
        if word in _FALSE_WORDS:
            return declared, False
    elif kind is int and raw in {0, 1}:
        return declared, raw == 1
    raise ValueError(f"{_show(raw)} is not a boolean (true/false, yes/no, on/off, 1/0)")


def _to_decimal(raw: Any, declared: ColumnType) -> _Typed:
    unscaled, scale = _decimal_parts(raw)
    if declared.scale is not None:
        if scale > declared.scale:
            cut = 10 ** (scale - declared.scale)
            if unscaled % cut:
                raise ValueError(
                    f"{_show(raw)} has more than {declared.scale} decimal places "
                    "(values are never rounded)"
                )
            unscaled //= cut
        else:
            unscaled *= 10 ** (declared.scale - scale)
        scale = declared.scale
    # Connect's Decimal: the unscaled value as big-endian two's complement bytes, base64.
    size = unscaled.bit_length() // 8 + 1
    encoded = base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode("ascii")
    return (declared if declared.scale is not None else ColumnType("decimal", scale)), encoded


def _decimal_parts(raw: Any) -> tuple[int, int]:
    """`raw` as (unscaled integer, scale ≥ 0), exactly: "-12.50" → (-1250, 2)."""
    kind = type(raw)
    if (kind is str and _EXPLICIT_NUMBER.fullmatch(raw)) or kind is int:
        number = Decimal(raw)
    elif kind is float:
        # The shortest text that reads back as this float: what the JSON document said.
        number = Decimal(repr(raw))
    else:
        raise ValueError(f"{_show(raw)} is not a decimal number")
    sign, digits, exponent = number.as_tuple()
    # Only NaN and Infinity have a letter for an exponent; the pattern and repr() of a
    # finite float (JSON has no other) exclude them.
    assert isinstance(exponent, int)
    if len(digits) + max(exponent, 0) > MAX_DECIMAL_DIGITS or -exponent > MAX_DECIMAL_DIGITS:
        raise ValueError(f"{_show(raw)} has more than {MAX_DECIMAL_DIGITS} digits")
    unscaled = int("".join(map(str, digits))) * (-1 if sign else 1)
    if exponent > 0:
        return unscaled * 10**exponent, 0
    return unscaled, -exponent


def _show(raw: Any) -> str:
    """A value for an error message: JSON text, cut short (a record can be a megabyte)."""
    text = orjson.dumps(raw).decode()
    return text if len(text) <= 40 else text[:37] + "..."  # noqa: PLR2004


_CONVERTERS: Final[dict[str, Callable[[Any, ColumnType], _Typed]]] = {
    "string": _to_string,
    "int64": _to_int,
    "int32": _to_int,
    "float64": _to_float,
    "boolean": _to_boolean,
    "decimal": _to_decimal,
}
