"""Decoding resumed after any item gives exactly the rest of one pass over the object.

A segment stops after an item and hands `decoder.resume_after(item.end)` to the next one,
which reads the object from that offset (a Range read) and decodes with `first_index`. For
every format and every item boundary, the items of the resumed decode must be the single
pass's items after the cut: same indexes, ranges, values and reasons.
"""

from __future__ import annotations

import gzip
import io

import pytest

from function.core.decoding import DecodeOptions, InvalidRecord, Item, RecordDecoder
from function.core.decoding.records import RecordFormat, ResumePoint
from function.errors import InvalidEvent

# Small limits, so that oversized records (invalid, with exact ranges) are among the items.
LIMIT = 64

SAMPLES = {
    "lines": (
        "lines.txt",
        b"alpha\r\n\r\nbeta\nnot \xff utf-8\n" + b"x" * 100 + b"\n   \ngamma \xc3\xa9\nlast",
    ),
    "jsonl": (
        "events.jsonl",
        b'{"n": 1}\n\n{"n": 2}\r\nnot json\n[1, 2]\n' + b'"' + b"y" * 90 + b'"\n{"n": 3}\n',
    ),
    "csv": (
        "orders.csv",
        b'\xef\xbb\xbfid,name,note\r\n1,a,"x, y"\r\n\r\n2,b,"two\nlines"\r\n3,c\r\n'
        b"4,d,e,extra\r\n5," + b"z" * 80 + b",q\r\n6,f,g",
    ),
    "json-array": (
        "items.json",
        b'[\n {"a": 1},\n {"a": [2, {"b": 3}]} ,\n ,\n bad,\n "s"\n , 4, '
        b"[" + b"0," * 40 + b"0]" + b', {"z": null}\n]\n',
    ),
    "json-array-compact": ("compact.json", b'[1,"two",{"three":3},[4],null,true]'),
    "raw": ("blob.bin", bytes(range(256)) * 3 + b"tail"),
}


def _options(name: str) -> DecodeOptions:
    return DecodeOptions(name, max_record_bytes=LIMIT, raw_chunk_bytes=50, max_invalid_bytes=16)


def _one_pass(name: str, data: bytes) -> tuple[RecordDecoder, list[Item], list[ResumePoint]]:
    decoder = RecordDecoder(io.BytesIO(data), _options(name))
    items: list[Item] = []
    cuts: list[ResumePoint] = []
    for item in decoder:
        items.append(item)
        cuts.append(decoder.resume_after(item.end))
    return decoder, items, cuts


def _resumed(name: str, data: bytes, cut: ResumePoint, first_index: int) -> list[Item]:
    stream = io.BytesIO(data[cut.offset :])
    decoder = RecordDecoder(stream, _options(name), resume=cut, first_index=first_index)
    return list(decoder)


@pytest.mark.parametrize("sample", list(SAMPLES), ids=str)
def test_resuming_after_each_item_yields_the_rest_of_one_pass(sample: str) -> None:
    name, data = SAMPLES[sample]
    _, items, cuts = _one_pass(name, data)
    assert len(items) >= 5  # the sample exercises something
    for position, cut in enumerate(cuts):
        assert not cut.skip
        rest = _resumed(name, data, cut, first_index=position + 1)
        assert rest == items[position + 1 :], f"cut after item {position} at byte {cut.offset}"


@pytest.mark.parametrize(
    ("sample", "kinds"),
    [
        pytest.param("lines", {"invalid UTF-8", "exceeds"}, id="lines"),
        pytest.param("jsonl", {"invalid JSON", "exceeds"}, id="jsonl"),
        pytest.param("csv", {"exceeds"}, id="csv"),
        pytest.param("json-array", {"empty array element", "invalid JSON", "exceeds"}, id="json"),
    ],
)
def test_the_samples_hold_invalid_records_to_resume_after(sample: str, kinds: set[str]) -> None:
    name, data = SAMPLES[sample]
    _, items, _ = _one_pass(name, data)
    reasons = " | ".join(item.reason for item in items if isinstance(item, InvalidRecord))
    assert all(kind in reasons for kind in kinds), reasons


def test_a_csv_resume_carries_the_header_and_delimiter() -> None:
    name, data = SAMPLES["csv"]
    _, _, cuts = _one_pass(name, data)
    assert cuts[0].csv_header == ("id", "name", "note")
    assert cuts[0].csv_delimiter == ","
    assert cuts[0].record_format is RecordFormat.CSV


def test_a_json_array_resume_is_inside_the_array() -> None:
    name, data = SAMPLES["json-array"]
    _, _, cuts = _one_pass(name, data)
    assert all(cut.in_array for cut in cuts)


def test_a_compressed_object_resumes_by_decoding_from_the_start() -> None:
    name, data = SAMPLES["jsonl"]
    decoder = RecordDecoder(io.BytesIO(gzip.compress(data)), _options(name + ".gz"))
    first = next(iter(decoder))
    assert decoder.resume_after(first.end) == ResumePoint(RecordFormat.JSONL, skip=True)


def test_a_json_document_that_is_not_an_array_resumes_from_the_start() -> None:
    decoder = RecordDecoder(io.BytesIO(b'{"one": "document"}'), _options("doc.json"))
    only = next(iter(decoder))
    assert decoder.resume_after(only.end).skip


def test_a_resumed_read_is_never_taken_for_compressed_data() -> None:
    # Bytes at the resume offset that happen to start like gzip are data, not a header.
    data = b"0123456789" + b"\x1f\x8b\x08\x00" + b"rest of the blob"
    resume = ResumePoint(RecordFormat.RAW, offset=10)
    items = list(
        RecordDecoder(io.BytesIO(data[10:]), _options("blob.bin"), resume=resume, first_index=1)
    )
    assert [item.value for item in items if not isinstance(item, InvalidRecord)] == [data[10:]]
    assert items[0].start == 10


def test_resuming_a_json_array_anywhere_but_after_an_element_is_refused() -> None:
    data = b'[{"a": 1}, {"a": 2}]'
    resume = ResumePoint(RecordFormat.JSON, offset=3, in_array=True)  # inside an element
    decoder = RecordDecoder(io.BytesIO(data[3:]), _options("x.json"), resume=resume)
    with pytest.raises(InvalidEvent, match="not just after an element"):
        list(decoder)


def test_the_summary_counts_bytes_from_the_objects_start() -> None:
    name, data = SAMPLES["lines"]
    _, items, cuts = _one_pass(name, data)
    stream = io.BytesIO(data[cuts[2].offset :])
    decoder = RecordDecoder(stream, _options(name), resume=cuts[2], first_index=3)
    assert list(decoder) == items[3:]
    assert decoder.summary.bytes_in == len(data)
