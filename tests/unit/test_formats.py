"""Format resolution for RECORD_FORMAT=auto: configured > object name > Content-Type >
content, plus JSON-lines detection and CSV delimiter sniffing."""

from __future__ import annotations

import json

import pytest

from function.core.decoding.detect import (
    FormatChoice,
    looks_like_json_lines,
    resolve_format,
    sniff_csv_delimiter,
    sniff_format,
)
from function.core.decoding.records import FormatSource, RecordFormat

AUTO = RecordFormat.AUTO
CSV, JSON, JSONL = RecordFormat.CSV, RecordFormat.JSON, RecordFormat.JSONL
LINES, RAW = RecordFormat.LINES, RecordFormat.RAW
CONFIGURED, NAME = FormatSource.CONFIGURED, FormatSource.OBJECT_NAME
TYPE, CONTENT = FormatSource.CONTENT_TYPE, FormatSource.CONTENT

# (configured, object name, Content-Type, first bytes) → choice
RESOLUTION = [
    pytest.param(CSV, "a.json", "application/json", b"[1]", FormatChoice(CSV, CONFIGURED),
                 id="configured-beats-everything"),
    pytest.param(AUTO, "a.csv", "application/json", b"[1]", FormatChoice(CSV, NAME),
                 id="name-beats-content-type"),
    pytest.param(AUTO, "dir/Sales.CSV.GZ", None, b"", FormatChoice(CSV, NAME),
                 id="suffix-case-and-gz"),
    pytest.param(AUTO, "a.tsv.zst", None, b"", FormatChoice(CSV, NAME, "\t"), id="tsv-zst"),
    pytest.param(AUTO, "a.tab", None, b"", FormatChoice(CSV, NAME, "\t"), id="tab"),
    pytest.param(AUTO, "a.json.gzip", None, b"[1]", FormatChoice(JSON, NAME), id="json-gzip"),
    pytest.param(AUTO, "a.jsonl", None, b"", FormatChoice(JSONL, NAME), id="jsonl"),
    pytest.param(AUTO, "a.ndjson.zstd", None, b"", FormatChoice(JSONL, NAME), id="ndjson-zstd"),
    pytest.param(AUTO, "a.txt", None, b"{}", FormatChoice(LINES, NAME), id="txt"),
    pytest.param(AUTO, "app.log", None, b"", FormatChoice(LINES, NAME), id="log"),
    pytest.param(AUTO, "a.json", None, b'{"a":1}\n{"b":2}\n', FormatChoice(JSONL, CONTENT),
                 id="json-name-holding-json-lines"),
    pytest.param(AUTO, "data.bin", "text/csv; charset=utf-8", b"", FormatChoice(CSV, TYPE),
                 id="content-type-csv-with-params"),
    pytest.param(AUTO, "data", "text/tab-separated-values", b"", FormatChoice(CSV, TYPE, "\t"),
                 id="content-type-tsv"),
    pytest.param(AUTO, "data", "Application/JSON", b"{}", FormatChoice(JSON, TYPE),
                 id="content-type-json"),
    pytest.param(AUTO, "data", "application/vnd.api+json", b"{}", FormatChoice(JSON, TYPE),
                 id="content-type-plus-json"),
    pytest.param(AUTO, "data", "application/x-ndjson", b"", FormatChoice(JSONL, TYPE),
                 id="content-type-ndjson"),
    pytest.param(AUTO, "data", "application/jsonl", b"", FormatChoice(JSONL, TYPE),
                 id="content-type-jsonl"),
    pytest.param(AUTO, "data", "text/plain", b"[1]", FormatChoice(LINES, TYPE),
                 id="content-type-text"),
    pytest.param(AUTO, "data", "application/octet-stream", b"[1, 2]", FormatChoice(JSON, CONTENT),
                 id="octet-stream-says-nothing"),
    pytest.param(AUTO, "data.gz", None, b'\xef\xbb\xbf {"a": 1}', FormatChoice(JSON, CONTENT),
                 id="sniff-object-after-bom"),
    pytest.param(AUTO, "data", None, b'{"a":1}\n{"b":2}', FormatChoice(JSONL, CONTENT),
                 id="sniff-json-lines"),
    pytest.param(AUTO, "data", None, "héllo\nwörld\n".encode(), FormatChoice(LINES, CONTENT),
                 id="sniff-text"),
    pytest.param(AUTO, "data", None, b"\x89PNG\r\n\x1a\n", FormatChoice(RAW, CONTENT),
                 id="sniff-binary"),
    pytest.param(AUTO, "data", None, b"text\x00with nul", FormatChoice(RAW, CONTENT),
                 id="sniff-nul-is-binary"),
    pytest.param(AUTO, "data", None, b"", FormatChoice(RAW, CONTENT), id="sniff-empty"),
    pytest.param(AUTO, "archive.tar", None, b"x", FormatChoice(LINES, CONTENT),
                 id="unknown-suffix-sniffs"),
    pytest.param(JSON, "x", None, b'{"a":1}\n{"b":2}\n', FormatChoice(JSONL, CONTENT),
                 id="configured-json-holding-json-lines"),
]  # fmt: skip


@pytest.mark.parametrize(("configured", "name", "content_type", "head", "expected"), RESOLUTION)
def test_format_resolution(
    configured: RecordFormat,
    name: str,
    content_type: str | None,
    head: bytes,
    expected: FormatChoice,
) -> None:
    choice = resolve_format(
        configured=configured,
        object_name=name,
        content_type=content_type,
        head=head,
        complete=True,
    )

    assert choice == expected


def test_utf8_character_cut_by_the_end_of_the_head_still_sniffs_as_text() -> None:
    head = "ab€".encode()[:-1]  # € is three bytes; the head ends after two

    assert sniff_format(head, complete=False) is LINES
    assert sniff_format(head, complete=True) is RAW


PRETTY = json.dumps({"a": [{"b": 1}, {"c": 2}], "d": [[1], [2]]}, indent=2).encode()


@pytest.mark.parametrize(
    ("head", "complete", "expected"),
    [
        (b'{"a": 1}\n{"b": 2}\n', True, True),
        (b"[1, 2]\r\n\r\n[3]", True, True),
        (b'{"a": 1}\n', True, False),
        (b'{"broken": \n{"a": 1}\n{"b": 2}\n', True, True),
        (PRETTY, True, False),
        (b"[\n  1,\n  2\n]\n", True, False),
        (b"[\n [\n  [],\n  []\n ],\n [\n  {}\n ]\n]", True, False),
        (b'{"a": 1}\n{"b": 2', False, False),
        (b'{"a": 1}\n{"b": 2}\n{"c"', False, True),
    ],
    ids=[
        "two-objects",
        "arrays-crlf-blank-line",
        "one-object",
        "malformed-first-line",
        "pretty-printed-object",
        "pretty-printed-array",
        "pretty-printed-nesting-ending-in-empty-containers",
        "second-line-cut-off",
        "third-line-cut-off",
    ],
)
def test_json_lines_detection(head: bytes, complete: bool, expected: bool) -> None:
    assert looks_like_json_lines(head, complete=complete) is expected


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        (b"a,b,c\n1;2;3;4;5\n", ","),
        (b"a;b;c\n", ";"),
        (b"a\tb\tc\r\n", "\t"),
        (b"a|b|c", "|"),
        (b'"x;y;z",b,c\n', ","),
        (b"a,b;c;d", ";"),
        (b"a;b,c", ","),
        (b"single", ","),
        (b"\xef\xbb\xbfa;b", ";"),
    ],
    ids=[
        "comma",
        "semicolon",
        "tab",
        "pipe",
        "quoted-names-do-not-count",
        "most-frequent",
        "tie-goes-to-comma",
        "no-candidate",
        "after-bom",
    ],
)
def test_csv_delimiter_is_the_most_frequent_candidate_outside_quotes(
    header: bytes, delimiter: str
) -> None:
    assert sniff_csv_delimiter(header) == delimiter
