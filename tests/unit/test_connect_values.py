"""ConnectEnvelope: records as Kafka Connect JsonConverter envelopes, from bytes alone.

That Kafka Connect's real JsonConverter (and a JDBC sink) accept these envelopes is proven in
tests/integration/test_connect_jdbc.py; here the shapes, the typing rules and the errors.
"""

from __future__ import annotations

import base64
import decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from function.core.connect_values import (
    SCHEMA_CACHE_SIZE,
    ColumnType,
    ConnectEnvelope,
)
from function.core.decoding.records import RecordFormat
from function.errors import ConnectValueError
from function.pipeline import connect_envelope
from function.settings import Settings

RECORD_ID = b"0123456789abcdef0123456789abcdef-7"
DECIMAL = "org.apache.kafka.connect.data.Decimal"


def _csv(envelope: ConnectEnvelope, row: dict[str, Any]) -> dict[str, Any]:
    wrapped: dict[str, Any] = orjson.loads(
        envelope.wrap(orjson.dumps(row), RECORD_ID, RecordFormat.CSV)
    )
    return wrapped


def _field(wrapped: dict[str, Any], name: str) -> tuple[dict[str, Any], Any]:
    """One field's schema (without its name) and payload value."""
    [schema] = [f for f in wrapped["schema"]["fields"] if f["field"] == name]
    return {k: v for k, v in schema.items() if k != "field"}, wrapped["payload"][name]


def _decimal(encoded: str, scale: str) -> decimal.Decimal:
    """Connect's Decimal back to a number: base64 two's complement unscaled value and scale."""
    unscaled = int.from_bytes(base64.b64decode(encoded), "big", signed=True)
    return decimal.Decimal(f"{unscaled}E-{scale}")  # from text: exact, no context rounding


def _typed(column_type: str, raw: Any) -> tuple[dict[str, Any], Any]:
    envelope = ConnectEnvelope(column_types={"x": column_type})
    return _field(_csv(envelope, {"x": raw}), "x")


# --- the envelope ---------------------------------------------------------------------------


def test_a_csv_row_becomes_a_struct_of_optional_strings_after_a_required_record_id() -> None:
    wrapped = _csv(ConnectEnvelope(), {"name": 'Zoë, "Z"', "city": "Zürich", "note": ""})

    assert wrapped == {
        "schema": {
            "type": "struct",
            "name": "objstream.Record",
            "optional": False,
            "fields": [
                {"field": "objstream_id", "type": "string", "optional": False},
                {"field": "name", "type": "string", "optional": True},
                {"field": "city", "type": "string", "optional": True},
                {"field": "note", "type": "string", "optional": True},
            ],
        },
        "payload": {
            "objstream_id": RECORD_ID.decode(),
            "name": 'Zoë, "Z"',
            "city": "Zürich",
            "note": "",
        },
    }


def test_the_record_id_field_is_named_by_the_settings() -> None:
    wrapped = _csv(ConnectEnvelope(id_field="row_key"), {"a": "1"})
    assert wrapped["schema"]["fields"][0] == {
        "field": "row_key",
        "type": "string",
        "optional": False,
    }
    assert wrapped["payload"] == {"row_key": RECORD_ID.decode(), "a": "1"}


def test_a_short_csv_rows_missing_values_are_nulls_and_a_long_rows_extras_are_json_text() -> None:
    wrapped = _csv(ConnectEnvelope(), {"a": "1", "b": None, "_extra": ["x", "y,z"]})
    assert _field(wrapped, "b") == ({"type": "string", "optional": True}, None)
    assert _field(wrapped, "_extra") == ({"type": "string", "optional": True}, '["x","y,z"]')


def test_a_field_named_like_the_record_id_is_an_error_not_overwritten() -> None:
    with pytest.raises(ConnectValueError, match=r"'objstream_id'.*CONNECT_ID_FIELD"):
        _csv(ConnectEnvelope(), {"objstream_id": "mine"})


@pytest.mark.parametrize(
    ("raw", "schema", "payload"),
    [
        pytest.param("text", {"type": "string"}, "text", id="string"),
        pytest.param(42, {"type": "int64"}, 42, id="integer"),
        pytest.param(-(2**63), {"type": "int64"}, -(2**63), id="int64-minimum"),
        pytest.param(2**63, {"type": "string"}, str(2**63), id="beyond-int64-as-digits"),
        pytest.param(1.5, {"type": "double"}, 1.5, id="float"),
        pytest.param(True, {"type": "boolean"}, True, id="boolean"),
        pytest.param(None, {"type": "string"}, None, id="null"),
        pytest.param({"b": [1, 2]}, {"type": "string"}, '{"b":[1,2]}', id="object-as-json-text"),
        pytest.param([1, "x"], {"type": "string"}, '[1,"x"]', id="array-as-json-text"),
    ],
)
def test_a_json_objects_values_keep_their_json_types(
    raw: Any, schema: dict[str, Any], payload: Any
) -> None:
    value = orjson.dumps({"a": raw})
    wrapped = orjson.loads(ConnectEnvelope().wrap(value, RECORD_ID, RecordFormat.JSONL))
    assert _field(wrapped, "a") == ({**schema, "optional": True}, payload)


@pytest.mark.parametrize(
    ("record_format", "value", "schema", "payload"),
    [
        pytest.param(RecordFormat.JSON, b'"hello"', {"type": "string"}, "hello", id="json-string"),
        pytest.param(RecordFormat.JSONL, b"12", {"type": "int64"}, 12, id="jsonl-number"),
        pytest.param(RecordFormat.JSONL, b"[1, 2]", {"type": "string"}, "[1,2]", id="jsonl-array"),
        pytest.param(RecordFormat.JSONL, b"null", {"type": "string"}, None, id="jsonl-null"),
        pytest.param(
            RecordFormat.LINES, "ünïcode".encode(), {"type": "string"}, "ünïcode", id="line"
        ),
        pytest.param(RecordFormat.RAW, b"\x00\xff", {"type": "bytes"}, "AP8=", id="raw-base64"),
    ],
)
def test_a_record_that_is_not_an_object_is_one_value_field(
    record_format: RecordFormat, value: bytes, schema: dict[str, Any], payload: Any
) -> None:
    wrapped = orjson.loads(ConnectEnvelope().wrap(value, RECORD_ID, record_format))
    assert [f["field"] for f in wrapped["schema"]["fields"]] == ["objstream_id", "value"]
    assert _field(wrapped, "value") == ({**schema, "optional": True}, payload)


def test_a_record_id_field_named_value_cannot_hold_records_that_are_not_objects() -> None:
    envelope = ConnectEnvelope(id_field="value")
    with pytest.raises(ConnectValueError, match="CONNECT_ID_FIELD"):
        envelope.wrap(b"1", RECORD_ID, RecordFormat.JSONL)


def test_everything_else_is_wrapped_schemaless_with_its_bytes_unchanged() -> None:
    event = b'{ "eventType" : "com.oraclecloud.objectstorage.createobject" }\n'
    wrapped = ConnectEnvelope().wrap_schemaless(event)
    assert wrapped == b'{"schema":null,"payload":' + event + b"}"
    assert orjson.loads(wrapped) == {"schema": None, "payload": orjson.loads(event)}


def test_an_envelope_over_the_size_limit_is_a_bad_record() -> None:
    envelope = ConnectEnvelope(max_value_bytes=300)
    envelope.wrap(b'{"a":"small"}', RECORD_ID, RecordFormat.CSV)
    with pytest.raises(ConnectValueError, match="over the limit of 300 bytes"):
        envelope.wrap(orjson.dumps({"a": "x" * 300}), RECORD_ID, RecordFormat.CSV)


def test_a_record_that_is_not_json_is_a_bad_record() -> None:
    with pytest.raises(ConnectValueError, match="not JSON"):
        ConnectEnvelope().wrap(b"{oops", RECORD_ID, RecordFormat.JSONL)


def test_records_need_a_concrete_format() -> None:
    with pytest.raises(ValueError, match="concrete format"):
        ConnectEnvelope().for_records(RecordFormat.AUTO)


# --- schemas are built once per layout ------------------------------------------------------


def test_rows_with_the_same_columns_and_types_share_one_serialised_schema() -> None:
    envelope = ConnectEnvelope()
    for number in range(100):
        _csv(envelope, {"a": str(number), "b": "x"})
    _csv(envelope, {"b": "x", "a": "1"})  # another column order is another schema
    assert len(envelope._schemas) == 2


def test_the_schema_cache_is_bounded() -> None:
    envelope = ConnectEnvelope()
    for number in range(SCHEMA_CACHE_SIZE + 10):
        _csv(envelope, {f"column_{number}": "x"})
    assert len(envelope._schemas) <= SCHEMA_CACHE_SIZE


# --- declared types (CONNECT_COLUMN_TYPES) --------------------------------------------------


@pytest.mark.parametrize(
    ("column_type", "raw", "schema_type", "payload"),
    [
        pytest.param("string", " 12 ", "string", " 12 ", id="string-kept-verbatim"),
        pytest.param("string", 12, "string", "12", id="string-from-json-number"),
        pytest.param("string", {"a": 1}, "string", '{"a":1}', id="string-from-json-object"),
        pytest.param("int64", "42", "int64", 42, id="int64"),
        pytest.param("int64", " -42 ", "int64", -42, id="int64-blanks-around"),
        pytest.param("int64", "+007", "int64", 7, id="int64-sign-and-zeros"),
        pytest.param("int64", "9223372036854775807", "int64", 2**63 - 1, id="int64-maximum"),
        pytest.param("int64", 5.0, "int64", 5, id="int64-from-whole-json-float"),
        pytest.param("int32", "-2147483648", "int32", -(2**31), id="int32-minimum"),
        pytest.param("float64", "1.25", "double", 1.25, id="float64"),
        pytest.param("float64", "-1e3", "double", -1000.0, id="float64-exponent"),
        pytest.param("float64", ".5", "double", 0.5, id="float64-no-integer-part"),
        pytest.param("float64", 3, "double", 3.0, id="float64-from-json-integer"),
        pytest.param("boolean", "TRUE", "boolean", True, id="boolean-true"),
        pytest.param("boolean", "no", "boolean", False, id="boolean-no"),
        pytest.param("boolean", "1", "boolean", True, id="boolean-one"),
        pytest.param("boolean", 0, "boolean", False, id="boolean-from-json-zero"),
        pytest.param("int64", "", "int64", None, id="empty-is-null"),
        pytest.param("boolean", "  ", "boolean", None, id="blank-is-null"),
        pytest.param("float64", None, "double", None, id="null-stays-null"),
    ],
)
def test_a_declared_type_converts_the_value_exactly(
    column_type: str, raw: Any, schema_type: str, payload: Any
) -> None:
    assert _typed(column_type, raw) == ({"type": schema_type, "optional": True}, payload)


@pytest.mark.parametrize(
    ("column_type", "raw", "reason"),
    [
        pytest.param("int64", "abc", "is not a whole number", id="int64-letters"),
        pytest.param("int64", "1.5", "is not a whole number", id="int64-fraction"),
        pytest.param("int64", "1_000", "is not a whole number", id="int64-underscore"),
        pytest.param("int64", "١٢", "is not a whole number", id="int64-non-ascii-digits"),
        pytest.param("int64", "9223372036854775808", "outside the int64 range", id="int64-over"),
        pytest.param("int64", "9" * 5000, "outside the int64 range", id="int64-huge"),
        pytest.param("int64", True, "is not a whole number", id="int64-boolean"),
        pytest.param("int32", "2147483648", "outside the int32 range", id="int32-over"),
        pytest.param("float64", "NaN", "is not a number", id="float64-nan"),
        pytest.param("float64", "inf", "is not a number", id="float64-infinity"),
        pytest.param("float64", "1e999", "too large for a float64", id="float64-overflow"),
        pytest.param("float64", "1,5", "is not a number", id="float64-comma"),
        pytest.param("float64", 2**60 + 1, "cannot be a float64 exactly", id="float64-big-int"),
        pytest.param("boolean", "maybe", "is not a boolean", id="boolean-word"),
        pytest.param("boolean", 2, "is not a boolean", id="boolean-two"),
        pytest.param("decimal", "12,50", "is not a decimal number", id="decimal-comma"),
        pytest.param("decimal", "1e5000", "more than 1000 digits", id="decimal-huge"),
        pytest.param("decimal(2)", "1.005", "more than 2 decimal places", id="decimal-rounding"),
        pytest.param("decimal", [1], "is not a decimal number", id="decimal-array"),
    ],
)
def test_a_value_that_does_not_fit_its_declared_type_is_a_bad_record(
    column_type: str, raw: Any, reason: str
) -> None:
    with pytest.raises(ConnectValueError, match=reason) as caught:
        _typed(column_type, raw)
    assert "field 'x'" in str(caught.value)
    assert f"declares it {column_type}" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("column_type", "raw", "scale", "number"),
    [
        pytest.param("decimal", "12.50", "2", "12.50", id="scale-as-written"),
        pytest.param("decimal", "-0.001", "3", "-0.001", id="negative-below-one"),
        pytest.param("decimal", "1.5e3", "0", "1500", id="positive-exponent"),
        pytest.param("decimal", "2.5E-3", "4", "0.0025", id="negative-exponent"),
        pytest.param("decimal", 0.1, "1", "0.1", id="json-float-as-written"),
        pytest.param("decimal", 7, "0", "7", id="json-integer"),
        pytest.param("decimal(2)", "12.5", "2", "12.50", id="fixed-scale-padded"),
        pytest.param("decimal(2)", "12.500", "2", "12.50", id="fixed-scale-zeros-dropped"),
        pytest.param("decimal(0)", "-128", "0", "-128", id="one-byte-boundary"),
        pytest.param(
            "decimal(0)",
            "123456789012345678901234567890",
            "0",
            "123456789012345678901234567890",
            id="beyond-int64",
        ),
    ],
)
def test_decimals_are_connects_decimal_logical_type_with_an_exact_value(
    column_type: str, raw: Any, scale: str, number: str
) -> None:
    schema, payload = _typed(column_type, raw)
    assert schema == {
        "type": "bytes",
        "optional": True,
        "name": DECIMAL,
        "version": 1,
        "parameters": {"scale": scale},
    }
    assert _decimal(payload, scale) == decimal.Decimal(number)
    assert _decimal(payload, scale).as_tuple().exponent == -int(scale)


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
)
def test_any_finite_decimal_round_trips_through_connects_encoding(number: decimal.Decimal) -> None:
    text = format(number, "f")
    if len(text) > 900:  # the 1000-digit limit is tested above
        return
    schema, payload = _typed("decimal", text)
    assert _decimal(payload, schema["parameters"]["scale"]) == number


def test_a_declared_type_applies_to_json_records_too() -> None:
    envelope = ConnectEnvelope(column_types={"qty": "int32", "price": "decimal(2)"})
    value = b'{"qty": "3", "price": 9.9, "other": "7"}'
    wrapped = orjson.loads(envelope.wrap(value, RECORD_ID, RecordFormat.JSONL))
    assert _field(wrapped, "qty") == ({"type": "int32", "optional": True}, 3)
    assert _decimal(wrapped["payload"]["price"], "2") == decimal.Decimal("9.90")
    assert _field(wrapped, "other") == ({"type": "string", "optional": True}, "7")


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        pytest.param("int64", ColumnType("int64"), id="int64"),
        pytest.param("decimal", ColumnType("decimal"), id="decimal"),
        pytest.param(" decimal(4) ", ColumnType("decimal", 4), id="decimal-scale"),
    ],
)
def test_column_types_parse(spec: str, parsed: ColumnType) -> None:
    assert ColumnType.parse(spec) == parsed


@pytest.mark.parametrize("spec", ["int", "float", "int64(2)", "decimal(-1)", "decimal(2,1)", ""])
def test_unknown_column_types_are_refused_naming_the_choices(spec: str) -> None:
    with pytest.raises(ValueError, match="decimal\\(<scale>\\)"):
        ColumnType.parse(spec)


# --- inference (CONNECT_INFER_TYPES) --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "schema_type", "payload"),
    [
        pytest.param("42", "int64", 42, id="integer"),
        pytest.param("-7", "int64", -7, id="negative-integer"),
        pytest.param("0", "int64", 0, id="zero"),
        pytest.param("9223372036854775807", "int64", 2**63 - 1, id="int64-maximum"),
        pytest.param("9223372036854775808", "string", "9223372036854775808", id="over-int64"),
        pytest.param("02134", "string", "02134", id="leading-zero-zip-code"),
        pytest.param("-0", "string", "-0", id="negative-zero"),
        pytest.param("+7", "string", "+7", id="plus-sign"),
        pytest.param(" 7", "string", " 7", id="blank-before"),
        pytest.param("1_000", "string", "1_000", id="underscore"),
        pytest.param("12.50", "double", 12.5, id="decimal-number"),
        pytest.param("-0.25", "double", -0.25, id="negative-decimal"),
        pytest.param("0.000000000000001", "double", 1e-15, id="one-significant-digit"),
        pytest.param("123456789.012345", "double", 123456789.012345, id="fifteen-digits"),
        pytest.param("1234567890.123456", "string", "1234567890.123456", id="sixteen-digits"),
        pytest.param("1e3", "string", "1e3", id="exponent"),
        pytest.param(".5", "string", ".5", id="no-integer-part"),
        pytest.param("5.", "string", "5.", id="no-fraction"),
        pytest.param("True", "boolean", True, id="true"),
        pytest.param("FALSE", "boolean", False, id="false"),
        pytest.param("yes", "string", "yes", id="yes-is-text"),
        pytest.param("", "string", "", id="empty"),
        pytest.param("NaN", "string", "NaN", id="nan"),
    ],
)
def test_inference_types_only_text_that_reads_back_unchanged(
    text: str, schema_type: str, payload: Any
) -> None:
    wrapped = _csv(ConnectEnvelope(infer_types=True), {"x": text})
    assert _field(wrapped, "x") == ({"type": schema_type, "optional": True}, payload)


def test_inference_applies_to_text_lines_but_not_to_json_strings() -> None:
    envelope = ConnectEnvelope(infer_types=True)
    line = orjson.loads(envelope.wrap(b"42", RECORD_ID, RecordFormat.LINES))
    json_string = orjson.loads(envelope.wrap(b'{"x": "42"}', RECORD_ID, RecordFormat.JSONL))
    assert line["payload"]["value"] == 42
    assert json_string["payload"]["x"] == "42"


def test_a_declared_type_wins_over_inference() -> None:
    envelope = ConnectEnvelope(infer_types=True, column_types={"zip": "string", "n": "float64"})
    wrapped = _csv(envelope, {"zip": "42", "n": "42", "other": "42"})
    assert wrapped["payload"] == {
        "objstream_id": RECORD_ID.decode(),
        "zip": "42",
        "n": 42.0,
        "other": 42,
    }


# --- from the settings ----------------------------------------------------------------------


def test_the_envelope_follows_the_connect_settings() -> None:
    settings = Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "localhost:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            "VALUE_FORMAT": "connect-json",
            "CONNECT_COLUMN_TYPES": "qty:int64",
            "CONNECT_INFER_TYPES": "true",
            "CONNECT_ID_FIELD": "row_id",
        }
    )
    envelope = connect_envelope(settings)
    assert envelope is not None
    wrapped = _csv(envelope, {"qty": "3", "price": "1.5"})
    assert wrapped["payload"] == {"row_id": RECORD_ID.decode(), "qty": 3, "price": 1.5}
