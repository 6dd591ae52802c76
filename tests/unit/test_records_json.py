"""RecordDecoder on JSON documents: a top-level array streamed element by element, any other
top-level value as one record, and `.json` objects that really hold JSON lines."""

from __future__ import annotations

import io
import json
import tracemalloc

import pytest

from function.core.decoding import (
    DecodeOptions,
    InvalidRecord,
    Record,
    RecordDecoder,
)
from function.core.decoding.records import FormatSource, RecordFormat
from function.errors import ObjectRejected
from objstream.testing.decoding import TINY_READS, Item, MiB, Trickle, decode, records

# Elements that trip a naive splitter: brackets, commas, quotes and backslashes in strings,
# nesting, unicode, every scalar type, and whitespace of every kind between them.
ELEMENTS = [
    '{"id": 1, "tags": ["a", "b"], "nested": {"deep": [1, {"x": null}]}}',
    '"a string with ], }, {, [ and , inside"',
    '"escaped \\" quote and backslash \\\\"',
    '"\\\\"',
    "-12.5e3",
    "true",
    "null",
    "[]",
    "{}",
    '{"city": "Zürich", "emoji": "🎉", "\\u00e9": "é"}',
    '{"a": {"b": {"c": {"d": {"e": {"f": [1, [2, [3]]]}}}}}}',  # deeper than the fast path
]
ARRAY = ("\ufeff[\r\n  " + ",\r\n  ".join(ELEMENTS) + " \t\n]\n").encode()


@TINY_READS
def test_array_elements_are_records_holding_the_original_bytes(
    trickle: Trickle, sizes: list[int]
) -> None:
    items, summary = decode(trickle(ARRAY, sizes), DecodeOptions("export.json"))

    assert [r.value.decode() for r in records(items)] == ELEMENTS
    assert [ARRAY[r.start : r.end] for r in records(items)] == [r.value for r in records(items)]
    assert (summary.record_format, summary.records) == (RecordFormat.JSON, len(ELEMENTS))


@pytest.mark.parametrize(
    "line",
    [
        b'{"a": 1},',  # compact: the element is the line up to its comma
        b'  {"a": 1},',  # indented
        b'{"a": 1} ,',  # a space before the comma
        b'{"a": 1},  ',  # spaces after it
        b'{"a": 1},\r',  # a CRLF line end
        b'\x0b{"a": 1},',  # a control byte no JSON value starts with
        b"7,",  # a scalar
    ],
    ids=repr,
)
def test_element_alone_on_its_line_has_the_extent_of_its_value(line: bytes) -> None:
    data = b"[\n" + line + b"\n" + line + b'\n{"b": 2}\n]\n'
    items, _ = decode(io.BytesIO(data), DecodeOptions("export.json"))

    values = [data[item.start : item.end] for item in items]
    element = line.strip(b" \t\r\n,")
    if element.startswith(b"\x0b"):
        assert [type(item) for item in items] == [InvalidRecord, InvalidRecord, Record]
    else:
        assert values == [element, element, b'{"b": 2}']
        assert [item.value for item in records(items)] == values


@pytest.mark.parametrize("document", [b"[]", b" [ \n ] ", b"", b"  \n"], ids=repr)
def test_empty_array_or_document_has_no_records(document: bytes) -> None:
    items, _ = decode(io.BytesIO(document), DecodeOptions("x.json"))

    assert items == []


@TINY_READS
def test_malformed_element_is_invalid_and_decoding_resumes_at_the_next_comma(
    trickle: Trickle, sizes: list[int]
) -> None:
    data = b'[{"ok": 1}, {"bad": tru}, 1 2, {"ok": 2}]'

    items, summary = decode(trickle(data, sizes), DecodeOptions("x.json"))

    assert [type(item) for item in items] == [Record, InvalidRecord, InvalidRecord, Record]
    bad = items[1]
    assert isinstance(bad, InvalidRecord)
    assert data[bad.start : bad.end] == bad.raw == b'{"bad": tru}'
    assert bad.reason.startswith("invalid JSON: ")
    assert items[3].start == data.index(b'{"ok": 2}')
    assert summary.invalid == 2


@pytest.mark.parametrize(
    ("data", "at"),
    [(b"[1,,2]", 3), (b"[,1]", 1), (b"[1, ]", 4)],
    ids=["double-comma", "leading-comma", "trailing-comma"],
)
def test_stray_comma_is_an_empty_invalid_element(data: bytes, at: int) -> None:
    items, _ = decode(io.BytesIO(data), DecodeOptions("x.json"))

    empty = next(item for item in items if isinstance(item, InvalidRecord))
    assert (empty.start, empty.end, empty.raw) == (at, at, b"")
    assert empty.reason == "empty array element (a stray comma)"


@pytest.mark.parametrize(
    "data",
    [b"[1, 2", b"[1, 2,", b'[1, {"a": "unterminated', b"[1, [2, 3]"],
    ids=["after-element", "after-comma", "inside-string", "inside-nesting"],
)
def test_array_the_object_ends_inside_rejects_the_object(data: bytes) -> None:
    decoder = RecordDecoder(io.BytesIO(data), DecodeOptions("x.json"))
    seen: list[Item] = []

    with pytest.raises(ObjectRejected, match="the JSON array is not closed"):
        seen.extend(decoder)
    assert isinstance(seen[0], Record)
    assert seen[0].value == b"1"


def test_data_after_the_array_is_one_invalid_record() -> None:
    data = b"[1,\n 2]\n garbage here \n"  # not JSON lines: the first line is unfinished

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.json"))

    tail = items[2]
    assert isinstance(tail, InvalidRecord)
    assert data[tail.start : tail.end] == tail.raw == b"garbage here"
    assert tail.reason == "unexpected data after the end of the top-level JSON array"


def test_deeply_nested_element_is_invalid_not_a_crash() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    data = b"[1, " + deep + b", 2]"

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.json"))

    assert [type(item) for item in items] == [Record, InvalidRecord, Record]
    assert (items[1].start, items[1].end) == (4, 4 + len(deep))


@TINY_READS
def test_element_over_the_limit_is_invalid_with_its_exact_range(
    trickle: Trickle, sizes: list[int]
) -> None:
    big = b'{"blob": "' + b"z" * 300 + b'"}'
    data = b"[1, " + big + b" , 2]"

    items, _ = decode(
        trickle(data, sizes),
        DecodeOptions("x.json", max_record_bytes=100, max_invalid_bytes=10),
    )

    over = items[1]
    assert isinstance(over, InvalidRecord)
    assert (over.start, over.end, over.raw) == (4, 4 + len(big), big[:10])
    assert over.reason == f"record of {len(big)} bytes exceeds the message limit of 100 bytes"
    assert isinstance(items[2], Record)


def test_element_of_three_megabytes_is_invalid_under_the_default_limit() -> None:
    big = b'"' + b"q" * (3 * MiB) + b'"'
    data = b"[" + big + b"]"

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.json"))

    assert isinstance(items[0], InvalidRecord)
    assert (items[0].start, items[0].end) == (1, 1 + len(big))


@pytest.mark.parametrize(
    "element",
    [b'"ends with backslash \\\\"', b'"escaped quote \\" then more"', b'{"k": "},{"}'],
    ids=["escaped-backslash", "escaped-quote", "separator-inside-string"],
)
def test_strings_crossing_one_byte_reads_keep_their_escapes(
    trickle: Trickle, element: bytes
) -> None:
    data = b"[" + element + b"," + element + b"]"

    items, _ = decode(trickle(data, [1]), DecodeOptions("x.json"))

    assert [r.value for r in records(items)] == [element, element]


def test_array_of_nested_objects_decodes_through_the_fallback_scanner() -> None:
    element = {"a": {"b": 1}, "c": [{"d": [1, 2]}, {"e": "}, {"}], "f": "x"}
    data = json.dumps([element] * 200).encode()

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.json"))

    assert [json.loads(r.value) for r in records(items)] == [element] * 200


def test_array_streams_with_flat_memory() -> None:
    element = b'{"id": 123456, "name": "' + b"n" * 960 + b'", "tags": ["a", "b"]}'
    data = b"[" + b",\n".join([element] * 20_000) + b"]"  # about 20 MB
    stream = io.BytesIO(data)

    tracemalloc.start()
    try:
        count = sum(1 for _ in RecordDecoder(stream, DecodeOptions("x.json")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 20_000
    assert peak < 5 * MiB


@pytest.mark.parametrize(
    ("document", "value"),
    [
        (b'  {"a": [1, 2]}\n', b'{"a": [1, 2]}'),
        (b'"just a string"', b'"just a string"'),
        (b"\n42\n", b"42"),
    ],
    ids=["object", "string", "number"],
)
def test_top_level_value_that_is_not_an_array_is_one_record(document: bytes, value: bytes) -> None:
    items, _ = decode(io.BytesIO(document), DecodeOptions("x.json"))

    assert len(items) == 1
    record = records(items)[0]
    assert record.value == value
    assert document[record.start : record.end] == value


def test_pretty_printed_object_is_one_record() -> None:
    document = json.dumps({"a": [1, 2], "b": {"c": "d"}}, indent=2).encode()

    items, summary = decode(io.BytesIO(document), DecodeOptions("x.json"))

    assert records(items)[0].value == document
    assert summary.record_format is RecordFormat.JSON


def test_top_level_value_over_the_limit_is_invalid() -> None:
    document = b'{"blob": "' + b"x" * 500 + b'"}  \n'

    items, _ = decode(io.BytesIO(document), DecodeOptions("x.json", max_record_bytes=100))

    assert isinstance(items[0], InvalidRecord)
    assert (items[0].start, items[0].end) == (0, len(document) - 3)


def test_malformed_top_level_value_is_invalid() -> None:
    items, _ = decode(io.BytesIO(b'{"a": }'), DecodeOptions("x.json"))

    assert isinstance(items[0], InvalidRecord)
    assert items[0].raw == b'{"a": }'


@pytest.mark.parametrize(
    "record_format", [RecordFormat.AUTO, RecordFormat.JSON], ids=["auto", "configured-json"]
)
def test_json_named_object_holding_json_lines_is_decoded_as_json_lines(
    record_format: RecordFormat,
) -> None:
    data = b'{"a": 1}\n{"b": 2}\n[3]\n'

    items, summary = decode(
        io.BytesIO(data), DecodeOptions("export.json", record_format=record_format)
    )

    assert [r.value for r in records(items)] == [b'{"a": 1}', b'{"b": 2}', b"[3]"]
    assert (summary.record_format, summary.format_source) == (
        RecordFormat.JSONL,
        FormatSource.CONTENT,
    )
