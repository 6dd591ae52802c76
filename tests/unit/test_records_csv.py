"""RecordDecoder on CSV files as users upload them: BOM, CRLF, quoted commas and newlines,
other delimiters, awkward headers, blank and ragged rows, huge rows and headers."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from function.core.decoding import (
    DecodeOptions,
    InvalidRecord,
    Record,
    RecordDecoder,
    csv_header_keys,
)
from function.core.decoding.records import RecordFormat, ResumePoint
from function.errors import ObjectRejected
from objstream.testing.decoding import TINY_READS, Item, MiB, Trickle, decode


def rows(items: list[Item]) -> list[object]:
    assert all(isinstance(item, Record) for item in items), items
    return [orjson.loads(item.value) for item in items if isinstance(item, Record)]


# As Excel on Windows saves it: BOM, CRLF, quotes where needed.
EXCEL_EXPORT = (
    "\ufeffid,name,address,notes\r\n"
    '1,Anna Müller,"Bahnhofstrasse 1, 8001 Zürich","said ""hi"""\r\n'
    "\r\n"
    '2,Bob,"line one\r\nline two",\r\n'
    '3,"東京 🎉",,"ends with a quote """\r\n'
).encode()


@TINY_READS
def test_excel_export_with_bom_crlf_quoted_commas_and_embedded_newlines(
    trickle: Trickle, sizes: list[int]
) -> None:
    items, summary = decode(trickle(EXCEL_EXPORT, sizes), DecodeOptions("customers.csv"))

    assert rows(items) == [
        {
            "id": "1",
            "name": "Anna Müller",
            "address": "Bahnhofstrasse 1, 8001 Zürich",
            "notes": 'said "hi"',
        },
        {"id": "2", "name": "Bob", "address": "line one\r\nline two", "notes": ""},
        {"id": "3", "name": "東京 🎉", "address": "", "notes": 'ends with a quote "'},
    ]
    assert [item.index for item in items] == [0, 1, 2]
    assert (summary.record_format, summary.blank) == (RecordFormat.CSV, 1)


def test_row_range_covers_all_its_physical_lines() -> None:
    items, _ = decode(io.BytesIO(EXCEL_EXPORT), DecodeOptions("customers.csv"))

    assert [EXCEL_EXPORT[item.start : item.end] for item in items] == [
        '1,Anna Müller,"Bahnhofstrasse 1, 8001 Zürich","said ""hi"""'.encode(),
        b'2,Bob,"line one\r\nline two",',
        '3,"東京 🎉",,"ends with a quote """'.encode(),
    ]


@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")],
    ids=["comma", "semicolon", "tab", "pipe"],
)
def test_delimiter_is_sniffed_from_the_header_line(delimiter: str, name: str) -> None:
    text = f'a{delimiter}b{delimiter}"c,;|"\n1{delimiter}2,5{delimiter}x\n'.replace("\n", "\r\n")

    items, _ = decode(io.BytesIO(text.encode()), DecodeOptions(f"{name}.csv"))

    if delimiter == ",":
        assert rows(items) == [{"a": "1", "b": "2", "c,;|": "5", "_extra": ["x"]}]
    else:
        assert rows(items) == [{"a": "1", "b": "2,5", "c,;|": "x"}]


def test_configured_delimiter_wins_over_sniffing() -> None:
    data = b"a;b,c\n1;2,3\n"

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.csv", csv_delimiter=";"))

    assert rows(items) == [{"a": "1", "b,c": "2,3"}]


def test_tsv_name_means_tab_delimited_even_when_commas_dominate() -> None:
    data = b"a,1\tb,2,3\nx\ty\n"

    items, _ = decode(io.BytesIO(data), DecodeOptions("export.tsv.gz"))

    assert rows(items) == [{"a,1": "x", "b,2,3": "y"}]


@pytest.mark.parametrize(
    ("names", "keys"),
    [
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["", "b", ""], ["column_1", "b", "column_3"]),
        (["a", "a", "a_2"], ["a", "a_3", "a_2"]),
        (["column_2", ""], ["column_2", "column_2_2"]),
    ],
    ids=["repeated", "empty", "suffix-taken-later", "empty-name-collides"],
)
def test_header_names_are_made_unique_keys(names: list[str], keys: list[str]) -> None:
    assert csv_header_keys(names) == keys


def test_duplicate_and_empty_header_names_keep_every_value() -> None:
    items, _ = decode(io.BytesIO(b"a,a,,b\n1,2,3,4\n"), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "1", "a_2": "2", "column_3": "3", "b": "4"}]


def test_short_row_has_null_for_the_missing_fields() -> None:
    items, _ = decode(io.BytesIO(b"a,b,c\n1\n"), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "1", "b": None, "c": None}]


def test_long_row_puts_the_extra_values_under_extra() -> None:
    items, _ = decode(io.BytesIO(b"a,b\n1,2,3,4\n"), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "1", "b": "2", "_extra": ["3", "4"]}]


def test_extra_key_is_renamed_when_the_header_uses_it() -> None:
    items, _ = decode(io.BytesIO(b"_extra,b\n1,2,3\n"), DecodeOptions("x.csv"))

    assert rows(items) == [{"_extra": "1", "b": "2", "_extra_2": ["3"]}]


def test_blank_rows_before_and_between_rows_are_skipped_and_take_no_index() -> None:
    data = b"\r\n\na,b\r\n\r\n1,2\r\n\n\n3,4"

    items, summary = decode(io.BytesIO(data), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert [item.index for item in items] == [0, 1]
    assert summary.blank == 5


def test_row_of_empty_fields_is_a_record_not_a_blank_row() -> None:
    items, _ = decode(io.BytesIO(b'a,b\n,\n""\n'), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "", "b": ""}, {"a": "", "b": None}]


def test_header_only_has_no_records() -> None:
    items, summary = decode(io.BytesIO(b"a,b,c\r\n"), DecodeOptions("x.csv"))

    assert items == []
    assert summary.records == 0


def test_quote_inside_an_unquoted_field_is_an_ordinary_character() -> None:
    data = b'a,b\n5" pipe,"x\ny"\n'

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": '5" pipe', "b": "x\ny"}]


def test_unterminated_quote_at_the_end_is_read_as_csv_dictreader_reads_it() -> None:
    items, _ = decode(io.BytesIO(b'a,b\n1,"open\nstill open'), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "1", "b": "open\nstill open"}]


def test_row_with_invalid_utf8_is_invalid_and_the_next_row_decodes() -> None:
    data = b"a,b\n1,\xff\xfe\n2,ok\n"

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.csv"))

    bad = items[0]
    assert isinstance(bad, InvalidRecord)
    assert (bad.start, bad.end, bad.raw) == (4, 8, b"1,\xff\xfe")
    assert bad.reason.startswith("invalid UTF-8 at byte 2 of the record")
    assert isinstance(items[1], Record)


def test_lone_carriage_return_outside_quotes_makes_the_row_invalid() -> None:
    items, _ = decode(io.BytesIO(b"a,b\n1\r2,3\n4,5\n"), DecodeOptions("x.csv"))

    assert isinstance(items[0], InvalidRecord)
    assert items[0].reason.startswith("invalid CSV: new-line character seen in unquoted field")
    assert isinstance(items[1], Record)


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2\n",
        'k%s,100%,"q""uote",back\\slash\nx/y,\u2028\u2029,🎉 é,\x7f\n'.encode(),
        b"a,b\nx\ty,back\\slash\n",
        b'a\tb\n\x01,\x1f\t""\n',
        b"a,b,c\n1\n1,2,3,4/5\n",
    ],
    ids=["plain", "keys-to-escape-values-not", "values-to-escape", "tab-delimited", "ragged"],
)
def test_row_values_are_the_bytes_orjson_writes_for_the_row(data: bytes) -> None:
    # The writer puts unescaped fields into a template made from the header; orjson.dumps of
    # the row's dict is the reference, byte for byte (key order, escapes, UTF-8, no `\/`).
    header, *lines = data.decode().removesuffix("\n").split("\n")  # not at U+2028
    delimiter = "\t" if "\t" in header else ","
    expected = list(csv.DictReader([header, *lines], delimiter=delimiter, restkey="_extra"))

    items, _ = decode(io.BytesIO(data), DecodeOptions("x.csv", csv_delimiter=delimiter))

    assert [item.value for item in items if isinstance(item, Record)] == [
        orjson.dumps(row) for row in expected
    ]


def test_a_resumed_header_with_repeated_keys_gives_each_key_its_last_value() -> None:
    # Only a continuation's header could repeat a key (csv_header_keys makes them unique);
    # the row is then what orjson.dumps makes of the dict: one key, the last value.
    resume = ResumePoint(RecordFormat.CSV, offset=4, csv_header=("a", "a"), csv_delimiter=",")
    data = b"1,2\n"

    items = list(RecordDecoder(io.BytesIO(data), DecodeOptions("x.csv"), resume=resume))

    assert [item.value for item in items if isinstance(item, Record)] == [b'{"a":"2"}']


def test_nul_bytes_in_a_field_are_kept() -> None:
    items, _ = decode(io.BytesIO(b"a,b\nx\x00y,2\n"), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": "x\x00y", "b": "2"}]


def test_field_larger_than_the_csv_modules_default_limit_is_decoded() -> None:
    field = "f" * 200_000  # the csv module refuses > 131 072 characters unless told
    items, _ = decode(io.BytesIO(f"a\n{field}\n".encode()), DecodeOptions("x.csv"))

    assert rows(items) == [{"a": field}]


@TINY_READS
def test_row_over_the_limit_is_invalid_with_its_exact_range(
    trickle: Trickle, sizes: list[int]
) -> None:
    big = b'1,"' + b"line\r\n" * 50 + b'"'
    data = b"a,b\r\n" + big + b"\r\n2,3\r\n"

    items, _ = decode(
        trickle(data, sizes),
        DecodeOptions("x.csv", max_record_bytes=100, max_invalid_bytes=8),
    )

    over = items[0]
    assert isinstance(over, InvalidRecord)
    assert (over.start, over.end, over.raw) == (5, 5 + len(big), big[:8])
    assert over.reason == f"record of {len(big)} bytes exceeds the message limit of 100 bytes"
    assert rows(items[1:]) == [{"a": "2", "b": "3"}]


def test_row_whose_json_object_outgrows_the_limit_is_invalid() -> None:
    header = ",".join(f"long_column_name_{n:02d}" for n in range(9))  # 179 bytes
    items, _ = decode(
        io.BytesIO(f"{header}\n{','.join('1' * 9)}\n".encode()),  # 235 bytes of JSON
        DecodeOptions("x.csv", max_record_bytes=200),
    )

    assert isinstance(items[0], InvalidRecord)
    assert "bytes as a JSON object exceeds the message limit of 200 bytes" in items[0].reason


def test_hundred_thousand_columns_decode_when_they_fit_and_are_invalid_when_not() -> None:
    header = ",".join(f"c{n}" for n in range(100_000))
    data = f"{header}\n{','.join(['1'] * 100_000)}\n".encode()

    fits, _ = decode(io.BytesIO(data), DecodeOptions("wide.csv", max_record_bytes=4 * MiB))
    too_big, _ = decode(io.BytesIO(data), DecodeOptions("wide.csv"))

    wide = rows(fits)[0]
    assert isinstance(wide, dict)
    assert (len(wide), wide["c99999"]) == (100_000, "1")
    assert isinstance(too_big[0], InvalidRecord)
    assert "as a JSON object exceeds the message limit" in too_big[0].reason


def test_header_longer_than_the_limit_rejects_the_object() -> None:
    decoder = RecordDecoder(
        io.BytesIO(b"h" * 500 + b"\n1\n"), DecodeOptions("x.csv", max_record_bytes=100)
    )

    with pytest.raises(ObjectRejected, match="the CSV header row is longer than 100 bytes"):
        list(decoder)


def test_header_that_is_not_utf8_rejects_the_object() -> None:
    decoder = RecordDecoder(io.BytesIO(b"a,\xff\n1,2\n"), DecodeOptions("x.csv"))

    with pytest.raises(ObjectRejected, match="the CSV header row is not UTF-8"):
        list(decoder)


@pytest.mark.parametrize("delimiter", ['"', "\n", ";;", "§"], ids=repr)
def test_unusable_delimiter_rejects_the_object(delimiter: str) -> None:
    decoder = RecordDecoder(io.BytesIO(b"a\n1\n"), DecodeOptions("x.csv", csv_delimiter=delimiter))

    with pytest.raises(ObjectRejected, match="cannot be used"):
        list(decoder)
