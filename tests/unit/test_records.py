"""RecordDecoder from bytes alone: JSON lines, text lines, raw chunks, and what every format
shares (summary, limits, offsets in the decompressed object, rejection mid-way)."""

from __future__ import annotations

import gzip
import io
import logging
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from function.core.decoding import (
    DecodeOptions,
    DecodeSummary,
    InvalidRecord,
    Record,
    RecordDecoder,
)
from function.core.decoding.records import FormatSource, RecordFormat
from function.errors import ObjectRejected
from objstream.testing.decoding import TINY_READS, Item, MiB, Trickle, decode, records

if TYPE_CHECKING:
    from collections.abc import Callable

# -- JSON lines ---------------------------------------------------------------------------

SAMPLE_JSONL = (
    '{"id": 1, "city": "Zürich"}\r\n'
    "\r\n"
    '{"id": 2, "emoji": "🎉", "note": "a\\nb"}\n'
    "   \n"
    "[1, 2, 3]\n"
    '"just a string"'  # no trailing newline
).encode()


@TINY_READS
def test_json_lines_values_are_the_lines_and_ranges_slice_back(
    trickle: Trickle, sizes: list[int]
) -> None:
    items, _ = decode(trickle(SAMPLE_JSONL, sizes), DecodeOptions("events.jsonl"))

    values = [record.value for record in records(items)]
    assert values == [
        '{"id": 1, "city": "Zürich"}'.encode(),
        '{"id": 2, "emoji": "🎉", "note": "a\\nb"}'.encode(),
        b"[1, 2, 3]",
        b'"just a string"',
    ]
    assert [SAMPLE_JSONL[r.start : r.end] for r in records(items)] == values


def test_blank_json_lines_are_not_records_and_take_no_index() -> None:
    items, summary = decode(io.BytesIO(SAMPLE_JSONL), DecodeOptions("events.jsonl"))

    assert [item.index for item in items] == [0, 1, 2, 3]
    assert summary.blank == 2


@TINY_READS
def test_malformed_json_line_is_invalid_with_exact_range_and_later_lines_decode(
    trickle: Trickle, sizes: list[int]
) -> None:
    data = b'{"a": 1}\n{"b": tru}\r\n{"c": 3}\n'
    items, summary = decode(trickle(data, sizes), DecodeOptions("x.ndjson"))

    bad = items[1]
    assert isinstance(bad, InvalidRecord)
    assert (bad.index, bad.start, bad.end) == (1, 9, 19)
    assert data[bad.start : bad.end] == bad.raw == b'{"b": tru}'
    assert bad.reason.startswith("invalid JSON: ")
    assert isinstance(items[2], Record)
    assert items[2].value == b'{"c": 3}'
    assert (summary.records, summary.invalid) == (2, 1)


def test_json_line_of_ten_megabytes_over_the_limit_is_invalid_with_exact_range() -> None:
    line = b'{"blob": "' + b"x" * (10 * MiB) + b'"}'
    data = b'{"before": 1}\n' + line + b'\r\n{"after": 2}\n'
    stream = io.BytesIO(data)
    options = DecodeOptions("big.jsonl")

    tracemalloc.start()
    try:
        items, _ = decode(stream, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    big = items[1]
    assert isinstance(big, InvalidRecord)
    assert (big.start, big.end) == (14, 14 + len(line))
    assert big.reason == (
        f"record of {len(line)} bytes exceeds the message limit of {options.max_record_bytes} bytes"
    )
    assert big.raw == line[: options.max_invalid_bytes]
    assert isinstance(items[2], Record)
    assert items[2].value == b'{"after": 2}'
    # Chunks of 1 MiB and at most one message's worth of pending line: never the 10 MB.
    assert peak < 6 * MiB


def test_json_line_of_ten_megabytes_under_a_larger_limit_is_a_record() -> None:
    line = b'{"blob": "' + b"x" * (10 * MiB) + b'"}'

    items, _ = decode(
        io.BytesIO(line + b"\n"), DecodeOptions("big.jsonl", max_record_bytes=11 * MiB)
    )

    assert records(items)[0].value == line


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""], ids=["lf", "crlf", "eof"])
@TINY_READS
def test_json_line_of_exactly_the_limit_is_a_record_and_one_byte_more_is_not(
    trickle: Trickle, sizes: list[int], ending: bytes
) -> None:
    fits = b'"' + b"a" * 98 + b'"'  # 100 bytes
    too_long = b'"' + b"b" * 99 + b'"'  # 101 bytes
    # The CR of a CRLF pushes a line that fits one byte over the limit until the LF comes.
    data = fits + (ending or b"\r\n") + too_long + ending

    items, _ = decode(
        trickle(data, sizes),
        DecodeOptions("x.jsonl", max_record_bytes=100, max_invalid_bytes=10),
    )

    assert isinstance(items[0], Record)
    assert items[0].value == fits
    over = items[1]
    assert isinstance(over, InvalidRecord)
    start = len(fits) + len(ending or b"\r\n")
    assert (over.start, over.end, over.raw) == (start, start + 101, too_long[:10])
    assert over.reason == "record of 101 bytes exceeds the message limit of 100 bytes"


def test_deeply_nested_json_line_is_invalid_not_a_crash() -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    items, _ = decode(io.BytesIO(b"1\n" + deep + b"\n2\n"), DecodeOptions("deep.jsonl"))

    assert isinstance(items[1], InvalidRecord)
    assert (items[1].start, items[1].end) == (2, 2 + len(deep))
    assert [type(item) for item in items] == [Record, InvalidRecord, Record]


@pytest.mark.parametrize(
    "line",
    [b'{"a": "\x00"}', b"\x00", b'{"a": "\xff"}', b'"\xc3"'],
    ids=["nul-in-string", "nul-alone", "invalid-utf8", "truncated-utf8"],
)
def test_json_line_with_nul_or_invalid_utf8_is_invalid(line: bytes) -> None:
    items, _ = decode(io.BytesIO(b"1\n" + line + b"\n3\n"), DecodeOptions("x.jsonl"))

    assert isinstance(items[1], InvalidRecord)
    assert items[1].raw == line
    assert [item.index for item in items] == [0, 1, 2]


def test_whitespace_only_line_longer_than_the_limit_is_still_blank() -> None:
    data = b"1\n" + b" " * 500 + b"\n2\n"

    items, summary = decode(io.BytesIO(data), DecodeOptions("x.jsonl", max_record_bytes=100))

    assert [r.value for r in records(items)] == [b"1", b"2"]
    assert summary.blank == 1


# -- text lines ---------------------------------------------------------------------------

SAMPLE_LOG = (
    "\ufeff2026-05-01 12:00:00 INFO started\r\n"
    "\r\n"
    "2026-05-01 12:00:01 WARN Größe überschritten — 東京\r\n"
    "\t \r\n"
    "last line without newline"
).encode()


@TINY_READS
def test_text_lines_drop_bom_and_crlf_and_skip_blank_lines(
    trickle: Trickle, sizes: list[int]
) -> None:
    items, summary = decode(trickle(SAMPLE_LOG, sizes), DecodeOptions("app.log"))

    assert [r.value.decode() for r in records(items)] == [
        "2026-05-01 12:00:00 INFO started",
        "2026-05-01 12:00:01 WARN Größe überschritten — 東京",
        "last line without newline",
    ]
    assert [SAMPLE_LOG[r.start : r.end] for r in records(items)] == [
        r.value for r in records(items)
    ]
    assert records(items)[0].start == 3  # after the BOM
    assert (summary.record_format, summary.blank) == (RecordFormat.LINES, 2)


@pytest.mark.parametrize(
    "sizes", [[1], [2], [3], [MiB]], ids=["1-byte", "2-byte", "3-byte", "whole"]
)
def test_invalid_utf8_line_is_invalid_and_only_that_line(
    trickle: Trickle, sizes: list[int]
) -> None:
    data = "grüß\n".encode() + b"bad \xff\xfe byte\n" + "東京\n".encode()

    items, _ = decode(trickle(data, sizes), DecodeOptions("notes.txt"))

    assert [type(item) for item in items] == [Record, InvalidRecord, Record]
    bad = items[1]
    assert isinstance(bad, InvalidRecord)
    assert bad.raw == b"bad \xff\xfe byte"
    assert bad.reason == "invalid UTF-8 at byte 4 of the record: invalid start byte"


def test_nul_bytes_are_kept_in_text_lines_when_lines_is_configured() -> None:
    items, _ = decode(
        io.BytesIO(b"a\x00b\nc\n"), DecodeOptions("blob", record_format=RecordFormat.LINES)
    )

    assert [r.value for r in records(items)] == [b"a\x00b", b"c"]


def test_text_line_over_the_limit_is_invalid_with_its_first_bytes() -> None:
    data = b"short\n" + b"y" * 5000 + b"\nend\n"

    items, _ = decode(
        io.BytesIO(data), DecodeOptions("a.txt", max_record_bytes=1000, max_invalid_bytes=16)
    )

    over = items[1]
    assert isinstance(over, InvalidRecord)
    assert (over.start, over.end, over.raw) == (6, 5006, b"y" * 16)


# -- raw ----------------------------------------------------------------------------------


@TINY_READS
def test_raw_chunks_reassemble_the_object_in_index_order(
    trickle: Trickle, sizes: list[int]
) -> None:
    data = bytes(range(256)) * 40  # 10 240 bytes, not a multiple of the chunk size

    items, _ = decode(
        trickle(data, sizes),
        DecodeOptions("blob.bin", record_format=RecordFormat.RAW, raw_chunk_bytes=1000),
    )

    chunks = records(items)
    assert [len(r.value) for r in chunks] == [1000] * 10 + [240]
    assert b"".join(r.value for r in chunks) == data
    assert all(data[r.start : r.end] == r.value for r in chunks)


def test_raw_chunk_size_is_capped_by_the_record_limit() -> None:
    items, _ = decode(
        io.BytesIO(b"x" * 250),
        DecodeOptions(
            "blob", record_format=RecordFormat.RAW, raw_chunk_bytes=1000, max_record_bytes=100
        ),
    )

    assert [len(r.value) for r in records(items)] == [100, 100, 50]


def test_raw_keeps_a_leading_bom_as_data() -> None:
    items, _ = decode(
        io.BytesIO(b"\xef\xbb\xbfabc"), DecodeOptions("x", record_format=RecordFormat.RAW)
    )

    assert records(items)[0].value == b"\xef\xbb\xbfabc"


def test_unrecognised_binary_content_is_decoded_as_raw() -> None:
    items, summary = decode(io.BytesIO(b"\x00\x01\x02\xff"), DecodeOptions("blob"))

    assert (summary.record_format, summary.format_source) == (
        RecordFormat.RAW,
        FormatSource.CONTENT,
    )
    assert records(items)[0].value == b"\x00\x01\x02\xff"


# -- every format -------------------------------------------------------------------------


@pytest.mark.parametrize("record_format", list(RecordFormat), ids=str)
def test_empty_object_has_no_records(record_format: RecordFormat) -> None:
    items, summary = decode(io.BytesIO(b""), DecodeOptions("empty", record_format=record_format))

    assert items == []
    assert (summary.records, summary.invalid, summary.bytes_in) == (0, 0, 0)
    assert summary.record_format is not RecordFormat.AUTO


def test_summary_counts_records_invalid_blank_and_bytes() -> None:
    data = b'{"a": 1}\n\nnope\n{"b": 2}\n'

    _, summary = decode(io.BytesIO(data), DecodeOptions("x.jsonl"))

    assert summary == DecodeSummary(
        record_format=RecordFormat.JSONL,
        compression=None,
        records=2,
        invalid=1,
        bytes_in=len(data),
        bytes_decoded=len(data),
        format_source=FormatSource.OBJECT_NAME,
        blank=1,
    )


def test_summary_and_record_format_are_not_available_before_iteration() -> None:
    decoder = RecordDecoder(io.BytesIO(b"1\n2\n"), DecodeOptions("x.jsonl"))

    with pytest.raises(RuntimeError, match="once iteration ended"):
        _ = decoder.summary
    with pytest.raises(RuntimeError, match="after the first item"):
        _ = decoder.record_format
    next(decoder)
    assert decoder.record_format is RecordFormat.JSONL


def test_gzip_offsets_are_in_the_decompressed_object() -> None:
    plain = b'{"a": 1}\n{"b": 2}\n'
    compressed = gzip.compress(plain)

    items, summary = decode(io.BytesIO(compressed), DecodeOptions("x.jsonl.gz"))

    assert [plain[r.start : r.end] for r in records(items)] == [b'{"a": 1}', b'{"b": 2}']
    assert (summary.compression, summary.bytes_in, summary.bytes_decoded) == (
        "gzip",
        len(compressed),
        len(plain),
    )


def test_records_before_a_truncated_gzip_stay_yielded_and_the_summary_counts_them() -> None:
    plain = b"".join(b'{"n": %d}\n' % n for n in range(50_000))
    compressed = gzip.compress(plain)
    decoder = RecordDecoder(
        io.BytesIO(compressed[: len(compressed) // 2]),
        DecodeOptions("x.jsonl.gz", chunk_bytes=64 * 1024),
    )
    seen: list[Item] = []

    with pytest.raises(ObjectRejected, match="gzip stream is truncated after"):
        seen.extend(decoder)

    assert len(seen) > 0
    assert decoder.summary.records == len(seen)
    assert [item.index for item in seen] == list(range(len(seen)))


def test_object_larger_than_max_object_bytes_is_rejected() -> None:
    decoder = RecordDecoder(
        io.BytesIO(b"1\n" * 1000), DecodeOptions("x.jsonl", max_object_bytes=999)
    )

    with pytest.raises(ObjectRejected, match="larger than the limit of 999 bytes"):
        list(decoder)


def test_rejection_before_the_format_is_chosen_reports_the_metadata_format() -> None:
    decoder = RecordDecoder(io.BytesIO(b"\x1f\x8b\x08"), DecodeOptions("x.csv.gz"))

    with pytest.raises(ObjectRejected, match="truncated"):
        list(decoder)
    assert decoder.summary.record_format is RecordFormat.CSV
    assert decoder.summary.format_source is None


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("chunk_bytes", lambda: DecodeOptions("x", chunk_bytes=0)),
        ("max_record_bytes", lambda: DecodeOptions("x", max_record_bytes=0)),
        ("raw_chunk_bytes", lambda: DecodeOptions("x", raw_chunk_bytes=0)),
        ("max_object_bytes", lambda: DecodeOptions("x", max_object_bytes=0)),
    ],
    ids=["chunk_bytes", "max_record_bytes", "raw_chunk_bytes", "max_object_bytes"],
)
def test_options_that_would_decode_nothing_are_refused(
    field: str, make: Callable[[], DecodeOptions]
) -> None:
    with pytest.raises(ValueError, match=f"DecodeOptions.{field} must be at least 1"):
        make()


def test_object_named_gz_whose_bytes_are_plain_is_read_as_is_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # e.g. an HTTP client already undid Content-Encoding: gzip in transit
    caplog.set_level(logging.INFO, logger="function.core.decoding")

    items, summary = decode(
        io.BytesIO(b'{"a": 1}\n'), DecodeOptions("x.jsonl.gz", content_encoding="gzip")
    )

    assert records(items)[0].value == b'{"a": 1}'
    assert summary.compression is None
    assert "object metadata says gzip but its bytes are not compressed" in caplog.text


def test_gzip_bytes_under_a_plain_name_are_decompressed() -> None:
    items, summary = decode(io.BytesIO(gzip.compress(b"a,b\n1,2\n")), DecodeOptions("x.csv"))

    assert records(items)[0].value == b'{"a":"1","b":"2"}'
    assert summary.compression == "gzip"
