"""Properties: whatever the content and however the reads are cut, the decoder agrees with
the stdlib (csv.DictReader, json.loads) on values, and every byte range slices back to the
record's bytes in the object."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import orjson
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from function.core.decoding import DecodeOptions, InvalidRecord, Record, RecordDecoder
from function.core.decoding.compression import detect_compression
from function.core.decoding.records import RecordFormat

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Trickle: TypeAlias = "Callable[[bytes, Sequence[int]], BinaryIO]"

BOM = "\ufeff"
# Reads as a network body returns them: anything from one byte to a few dozen.
read_sizes = st.lists(st.integers(min_value=1, max_value=48), min_size=1, max_size=6)
# Characters that matter to a CSV or JSON splitter, mixed with arbitrary text.
awkward = st.sampled_from(list('"\\,;|\t\n\r []{} é東🎉'))
text = st.text(st.one_of(awkward, st.characters(codec="utf-8")), max_size=10)
# CSV fields: mostly quotes, delimiters and line breaks, so that quoted fields with embedded
# newlines next to other quoted fields are the common case, not a rare one.
csv_text = st.text(
    st.one_of(st.sampled_from(list('"",,;|\t\n\r\n ab')), st.characters(codec="utf-8")),
    max_size=8,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def decode(stream: BinaryIO, options: DecodeOptions) -> list[Record]:
    items = list(RecordDecoder(stream, options))
    assert not [item for item in items if isinstance(item, InvalidRecord)]
    return [item for item in items if isinstance(item, Record)]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, str, list[list[str]], bool]:
    """(delimiter, line terminator, rows with the header first, with a BOM)."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    terminator = draw(st.sampled_from(["\r\n", "\n"]))
    # csv.writer quotes a lone CR only when it is part of the line terminator; unquoted, it
    # would end the row for DictReader too, so it is not CSV this writer can produce.
    field = csv_text.filter(lambda value: terminator == "\r\n" or "\r" not in value)
    name = field.filter(lambda value: value not in {"", "_extra"})
    header = draw(st.lists(name, min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(field, max_size=8), max_size=8))
    return delimiter, terminator, [header, *rows], draw(st.booleans())


@settings(deadline=None, max_examples=300)
@given(csv_file=csv_files(), sizes=read_sizes, trailing_terminator=st.booleans())
def test_csv_rows_agree_with_dictreader_and_ranges_slice_back(
    trickle: Trickle,
    csv_file: tuple[str, str, list[list[str]], bool],
    sizes: list[int],
    trailing_terminator: bool,
) -> None:
    delimiter, terminator, rows, bom = csv_file
    pieces: list[str] = []
    for row in rows:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerow(row)
        pieces.append(out.getvalue())
    if not trailing_terminator:
        pieces[-1] = pieces[-1].removesuffix(terminator)
    document = (BOM if bom else "") + "".join(pieces)
    data = document.encode()

    records = decode(trickle(data, sizes), DecodeOptions("x.csv", csv_delimiter=delimiter))

    reader = csv.DictReader(
        io.StringIO(document.removeprefix(BOM), newline=""),
        delimiter=delimiter,
        restkey="_extra",
    )
    assert [json.loads(record.value) for record in records] == list(reader)
    expected_spans = []
    offset = len(BOM.encode()) if bom else 0
    for number, (row, piece) in enumerate(zip(rows, pieces, strict=True)):
        encoded = piece.encode()
        if number > 0 and row:  # the header and blank rows are not records
            expected_spans.append((offset, encoded.removesuffix(terminator.encode())))
        offset += len(encoded)
    assert [(r.start, data[r.start : r.end]) for r in records] == expected_spans


# What a JSON writer must get right: quotes, backslashes, every control character, the
# separators JavaScript treats as line ends, non-ASCII (orjson writes UTF-8, not \\u escapes),
# `/` (not escaped), `%` (the CSV writer fills a template with `%`), emoji, delimiters.
_needs_no_escape = st.sampled_from(
    ["/", "%", "%s", "\u2028", "\u2029", "\x7f", "é", "🎉", ",", "\t"]
)
_needs_escape = st.sampled_from(['"', "\\", *(chr(code) for code in range(0x20))])
_any = st.characters(codec="utf-8")
# Most strings without anything to escape (the CSV writer's fast path), some with.
hostile = st.lists(_needs_no_escape | _any, max_size=6).map("".join) | st.lists(
    _needs_escape | _needs_no_escape | _any, max_size=6
).map("".join)


@st.composite
def hostile_csv(draw: st.DrawFn) -> tuple[str, list[list[str]]]:
    """(delimiter, rows with the header first): most rows as wide as the header, some not."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", "\\", "%"]))
    name = hostile.filter(lambda value: value not in {"", "_extra"})
    header = draw(st.lists(name, min_size=1, max_size=5, unique=True))
    width = st.just(len(header)) | st.integers(min_value=0, max_value=7)
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(hostile, min_size=n, max_size=n))))
    return delimiter, [header, *rows]


@settings(deadline=None, max_examples=500)
@given(csv_file=hostile_csv(), sizes=read_sizes)
def test_csv_values_are_byte_for_byte_what_orjson_writes_of_the_dictreader_row(
    trickle: Trickle, csv_file: tuple[str, list[list[str]]], sizes: list[int]
) -> None:
    delimiter, rows = csv_file
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    document = out.getvalue()

    records = decode(
        trickle(document.encode(), sizes), DecodeOptions("x.csv", csv_delimiter=delimiter)
    )

    reader = csv.DictReader(
        io.StringIO(document, newline=""), delimiter=delimiter, restkey="_extra"
    )
    assert [record.value for record in records] == [orjson.dumps(row) for row in reader]


@settings(deadline=None)
@given(
    values=st.lists(json_values, max_size=12),
    ascii_only=st.booleans(),
    terminator=st.sampled_from(["\n", "\r\n"]),
    blank=st.sampled_from(["", " ", "\t  "]),
    sizes=read_sizes,
)
def test_json_lines_agree_with_json_loads_and_ranges_slice_back(
    trickle: Trickle,
    values: list[Any],
    ascii_only: bool,
    terminator: str,
    blank: str,
    sizes: list[int],
) -> None:
    lines = [json.dumps(value, ensure_ascii=ascii_only).encode() for value in values]
    # Every line is followed by a blank (or whitespace-only) line, which takes no index.
    parts = [line + (terminator + blank + terminator).encode() for line in lines]
    data = b"".join(parts)

    records = decode(trickle(data, sizes), DecodeOptions("x.jsonl"))

    assert [json.loads(record.value) for record in records] == values
    assert [record.value for record in records] == lines
    assert [data[record.start : record.end] for record in records] == lines
    assert [record.index for record in records] == list(range(len(values)))


@settings(deadline=None)
@given(
    elements=st.lists(json_values, max_size=10),
    indent=st.sampled_from([None, 0, 2]),
    compact=st.booleans(),
    sizes=read_sizes,
)
def test_json_array_elements_agree_with_json_loads_and_ranges_slice_back(
    trickle: Trickle,
    elements: list[Any],
    indent: int | None,
    compact: bool,
    sizes: list[int],
) -> None:
    separators = (",", ":") if compact else None
    data = json.dumps(elements, indent=indent, separators=separators).encode()

    records = decode(trickle(data, sizes), DecodeOptions("x.json"))

    assert [json.loads(record.value) for record in records] == elements
    assert [json.loads(data[record.start : record.end]) for record in records] == elements


@settings(deadline=None)
@given(
    lines=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))),
    terminator=st.sampled_from(["\n", "\r\n"]),
    sizes=read_sizes,
)
def test_text_lines_are_the_non_blank_lines_and_ranges_slice_back(
    trickle: Trickle, lines: list[str], terminator: str, sizes: list[int]
) -> None:
    data = "".join(line + terminator for line in lines).encode()

    records = decode(trickle(data, sizes), DecodeOptions("x", record_format=RecordFormat.LINES))

    encoded = [line.encode() for line in lines]
    expected = [line for line in encoded if line and not line.isspace()]
    assert [record.value for record in records] == expected
    assert [data[record.start : record.end] for record in records] == expected


@settings(deadline=None)
@given(data=st.binary(max_size=300), chunk=st.integers(1, 40), sizes=read_sizes)
def test_raw_chunks_reassemble_any_bytes(
    trickle: Trickle, data: bytes, chunk: int, sizes: list[int]
) -> None:
    # Bytes that open with a gzip or zstd magic number are decompressed first, by design
    # (function.core.decoding.compression); the property is about the bytes of uncompressed objects.
    assume(detect_compression(data[:4]) is None)
    records = decode(
        trickle(data, sizes),
        DecodeOptions("x", record_format=RecordFormat.RAW, raw_chunk_bytes=chunk),
    )

    assert b"".join(record.value for record in records) == data
    assert all(len(record.value) == chunk for record in records[:-1])
    assert all(data[record.start : record.end] == record.value for record in records)
