"""Packed messages (CONTRACT §5): where packs end, and what a consumer gets back from them.

The packer alone (function.core.packing) for the boundaries, then the whole pipeline through
`Runtime.invoke` with fakes of the ports: for every packable format, what `unpack` gives back
from the packs is what it gives back from the records of a run without packing.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastavro
import pytest
import zstandard

from function.core.deadline import Deadline
from function.core.events import parse_event
from function.core.messages import ObjectMessages
from function.core.packing import JsonLinesPacker
from function.pipeline import _say_raw_is_not_packed
from function.settings import Settings
from objstream.testing.fakes import FakePublisher, FakeReader, Sent, invoke
from objstream.testing.typed_files import parquet_bytes, sample_table
from objstream.unpack import UnpackedRecord, unpack

if TYPE_CHECKING:
    from kafka_client.types import Headers

EVENT = json.loads(
    (Path(__file__).resolve().parents[1] / "events" / "createobject.json").read_text()
)
PACKED = "objstream.records"


def _event(name: str) -> bytes:
    event = json.loads(json.dumps(EVENT))
    event["data"]["resourceName"] = name
    return json.dumps(event).encode()


# --- the packer alone -----------------------------------------------------------------------


def _packer(max_bytes: int, max_records: int = 100) -> tuple[JsonLinesPacker, list[Any]]:
    packs: list[tuple[bytes, bytes | None, dict[str, bytes]]] = []

    def send(value: bytes, key: bytes | None, headers: Headers) -> None:
        packs.append((value, key, {k: v for k, v in headers if isinstance(v, bytes)}))

    messages = ObjectMessages(parse_event(_event("a.jsonl")))
    return JsonLinesPacker(messages, send, max_bytes=max_bytes, max_records=max_records), packs


def _ranges(packs: list[Any]) -> list[tuple[int, int]]:
    return [(int(h["ce_recordindex"]), int(h["ce_recordcount"])) for _, _, h in packs]


def test_a_record_that_exactly_fills_the_room_is_in_the_pack() -> None:
    packer, packs = _packer(max_bytes=20)
    for index in range(3):
        packer.add(index, b"%09d" % index, b"k")  # 9 bytes and its \n: two fill 20 exactly
    packer.close()
    assert _ranges(packs) == [(0, 2), (2, 1)]
    assert len(packs[0][0]) == 20
    assert packs[0][0] == b"000000000\n000000001\n"


def test_a_record_one_byte_over_the_room_starts_the_next_pack() -> None:
    packer, packs = _packer(max_bytes=20)
    packer.add(0, b"123456789", b"k")
    packer.add(1, b"1234567890", b"k")  # 10 + 11 = 21 > 20
    packer.close()
    assert _ranges(packs) == [(0, 1), (1, 1)]


def test_a_pack_closes_at_the_record_count_limit() -> None:
    packer, packs = _packer(max_bytes=10_000, max_records=3)
    full = [packer.add(index, b"1", None) for index in range(7)]
    packer.close()
    assert _ranges(packs) == [(0, 3), (3, 3), (6, 1)]
    assert full == [False, False, True, False, False, True, False]


def test_a_new_key_starts_a_new_pack_with_that_key() -> None:
    packer, packs = _packer(max_bytes=10_000)
    for index, key in enumerate([b"a", b"a", b"b", b"a"]):
        packer.add(index, b"{}", key)
    packer.close()
    assert _ranges(packs) == [(0, 2), (2, 1), (3, 1)]
    assert [key for _, key, _ in packs] == [b"a", b"b", b"a"]


def test_a_pack_id_names_its_first_and_last_index() -> None:
    packer, packs = _packer(max_bytes=10_000)
    for index in range(5, 9):
        packer.add(index, b"1", None)
    packer.close()
    [(_, _, headers)] = packs
    version = ObjectMessages(parse_event(_event("a.jsonl"))).version_id
    assert headers["ce_id"] == f"{version}-5-8".encode()
    assert headers["ce_type"] == PACKED.encode()
    assert headers["content-type"] == b"application/x-ndjson"
    assert packer.records_sent == 4


def test_a_line_longer_than_the_room_alone_cannot_be_packed() -> None:
    packer, _ = _packer(max_bytes=20)
    assert packer.line_too_long(b"x" * 19) is None
    assert "exceeds" in (packer.line_too_long(b"x" * 20) or "")


# --- through the pipeline -------------------------------------------------------------------


def _settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            **env,
        }
    )


def _run(name: str, data: bytes, **env: str) -> tuple[dict[str, Any], FakePublisher]:
    publisher = FakePublisher()
    outcome = invoke(
        _event(name),
        settings=_settings(**env),
        reader=FakeReader(data),
        publisher=publisher,
        deadline=Deadline.in_seconds(30),
    )
    return json.loads(outcome.to_json()), publisher


def _unpacked(sent: list[Sent]) -> list[UnpackedRecord]:
    return [r for m in sent for r in unpack((list(m.headers.items()), m.value))]


def _packs(sent: list[Sent]) -> list[Sent]:
    return [m for m in sent if m.type == PACKED]


def _jsonl(count: int = 500) -> bytes:
    return b"".join(b'{"n": %d, "s": "%s"}\n' % (n, b"x" * (n % 17)) for n in range(count))


def _csv() -> bytes:
    rows = ["id,name,note"] + [f'{n},"n {n}","a, ""quoted""\r\nline {n}"' for n in range(400)]
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode()


def _json_array() -> bytes:
    # Elements over several lines: each becomes one line in its pack.
    elements = [json.dumps({"n": n, "k": [n, {"v": "é"}]}, indent=2) for n in range(300)]
    return ("[\n" + ",\n".join(elements) + "\n]\n").encode()


def _lines() -> bytes:
    return "".join(f'line {n} "quoted" \\ é\t\r\n' if n % 9 else "\n" for n in range(400)).encode()


def _avro() -> bytes:
    schema = {
        "type": "record",
        "name": "Reading",
        "fields": [{"name": "id", "type": "long"}, {"name": "v", "type": ["null", "double"]}],
    }
    buffer = io.BytesIO()
    rows = [{"id": n, "v": None if n % 5 else n / 4} for n in range(700)]
    fastavro.writer(buffer, fastavro.parse_schema(schema), rows, sync_interval=900)
    return buffer.getvalue()


SAMPLES: dict[str, tuple[str, bytes]] = {
    "jsonl": ("events.jsonl", _jsonl()),
    "csv": ("orders.csv", _csv()),
    "json-array": ("items.json", _json_array()),
    "lines": ("app.log", _lines()),
    "parquet": ("rows.parquet", parquet_bytes(sample_table(600), row_group_size=250)),
    "avro": ("rows.avro", _avro()),
    "gzip-jsonl": ("events.jsonl.gz", gzip.compress(_jsonl())),
    "zstd-csv": ("orders.csv.zst", zstandard.ZstdCompressor().compress(_csv())),
}


@pytest.mark.parametrize("sample", list(SAMPLES), ids=str)
def test_unpacked_packs_are_the_records_of_a_run_without_packing(sample: str) -> None:
    name, data = SAMPLES[sample]
    plain, one_by_one = _run(name, data)
    packed, in_packs = _run(name, data, MESSAGE_PACKING="jsonl", PACK_MAX_RECORDS="64")

    assert len(_packs(in_packs.sent)) > 3, "the sample should need several packs"
    assert not [m for m in in_packs.sent if m.type == "objstream.record"]
    assert _unpacked(in_packs.sent) == _unpacked(one_by_one.sent)
    assert packed["records"] == plain["records"] > 0  # records, not messages
    assert in_packs.sent[-1].type == "objstream.object.published"


@pytest.mark.parametrize("sample", ["jsonl", "csv", "parquet", "avro"], ids=str)
def test_packed_lines_are_the_record_values_byte_for_byte(sample: str) -> None:
    name, data = SAMPLES[sample]
    _, one_by_one = _run(name, data)
    _, in_packs = _run(name, data, MESSAGE_PACKING="jsonl")
    values = [m.value for m in one_by_one.sent if m.type == "objstream.record"]
    lines = [line for m in _packs(in_packs.sent) for line in (m.value or b"").splitlines()]
    assert lines == values


def test_a_replay_yields_the_same_packs_and_ids() -> None:
    name, data = SAMPLES["csv"]
    runs = [_run(name, data, MESSAGE_PACKING="jsonl", PACK_MAX_RECORDS="50")[1] for _ in range(2)]
    first, second = ([(m.headers["ce_id"], m.value) for m in _packs(r.sent)] for r in runs)
    assert first == second
    assert len(first) == 8


def test_packs_fill_to_the_message_limit_less_the_header_room() -> None:
    # 65536 - 16384 = 49152 bytes of room: 48 lines of 1023 bytes and their \n fill it exactly.
    line = b'"' + b"x" * 1021 + b'"'
    _, publisher = _run(
        "a.jsonl", (line + b"\n") * 100, MAX_MESSAGE_BYTES="65536", MESSAGE_PACKING="jsonl"
    )
    packs = _packs(publisher.sent)
    assert [int(m.headers["ce_recordcount"]) for m in packs] == [48, 48, 4]
    assert len(packs[0].value or b"") == 65536 - 16384


def test_a_record_one_byte_longer_goes_to_the_next_pack() -> None:
    line = b'"' + b"x" * 1021 + b'"'
    data = (line + b"\n") * 47 + b'"' + b"y" * 1022 + b'"\n' + line + b"\n"
    _, publisher = _run("a.jsonl", data, MAX_MESSAGE_BYTES="65536", MESSAGE_PACKING="jsonl")
    assert [int(m.headers["ce_recordcount"]) for m in _packs(publisher.sent)] == [47, 2]


@pytest.mark.parametrize(
    ("policy", "between"),
    [
        pytest.param("dead-letter", ["objstream.record.invalid"], id="dead-letter"),
        pytest.param("skip", [], id="skip"),
    ],
)
def test_an_invalid_record_ends_a_pack_and_the_next_starts_after_it(
    policy: str, between: list[str]
) -> None:
    data = b'{"a": 1}\n{"a": 2}\n{broken\n{"a": 4}\n'
    result, publisher = _run("a.jsonl", data, MESSAGE_PACKING="jsonl", BAD_RECORD_POLICY=policy)
    kinds = [m.type for m in publisher.sent[1:-1]]
    assert kinds == [PACKED, *between, PACKED]
    assert [(r.index, r.value) for r in _unpacked(publisher.sent)] == [
        (0, {"a": 1}),
        (1, {"a": 2}),
        (3, {"a": 4}),
    ]
    assert (result["records"], result["invalid"]) == (3, 1)
    if between:
        [dead] = [m for m in publisher.sent if m.type == "objstream.record.invalid"]
        assert json.loads(dead.value or b"")["index"] == 2


def test_under_fail_the_pack_before_the_bad_record_is_published_then_the_object_rejected() -> None:
    data = b'{"a": 1}\n{"a": 2}\n{broken\n{"a": 4}\n'
    result, publisher = _run("a.jsonl", data, MESSAGE_PACKING="jsonl", BAD_RECORD_POLICY="fail")
    assert result["status"] == "rejected"
    assert [m.type for m in publisher.sent[1:]] == [PACKED, "objstream.object.rejected"]
    assert [r.index for r in _unpacked(publisher.sent)] == [0, 1]


def test_a_new_key_starts_a_new_pack_under_record_key_field() -> None:
    data = b"customer,qty\nacme,1\nacme,2\nglobex,3\nacme,4\n"
    _, publisher = _run("orders.csv", data, MESSAGE_PACKING="jsonl", RECORD_KEY="field:customer")
    packs = _packs(publisher.sent)
    assert [(m.key, m.headers["ce_recordcount"]) for m in packs] == [
        (b"acme", b"2"),
        (b"globex", b"1"),
        (b"acme", b"1"),
    ]


def test_a_text_line_too_long_as_a_json_string_is_an_invalid_record() -> None:
    # 40 000 quotes fit as text (49 152 bytes of room) but not as a JSON string (80 002).
    data = b"short\n" + b'"' * 40_000 + b"\nafter\n"
    result, publisher = _run("a.log", data, MAX_MESSAGE_BYTES="65536", MESSAGE_PACKING="jsonl")
    assert (result["records"], result["invalid"]) == (2, 1)
    [dead] = [m for m in publisher.sent if m.type == "objstream.record.invalid"]
    assert "JSON line" in json.loads(dead.value or b"")["reason"]
    assert [r.value for r in _unpacked(publisher.sent)] == ["short", "after"]


def test_raw_objects_are_not_packed_and_that_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _say_raw_is_not_packed.cache_clear()
    with caplog.at_level(logging.INFO, logger="function.pipeline"):
        for _ in range(2):
            _, publisher = _run(
                "blob.bin", bytes(range(256)) * 10, RECORD_FORMAT="raw", MESSAGE_PACKING="jsonl"
            )
            assert [m.type for m in publisher.sent[1:-1]] == ["objstream.record"]
    said = [r for r in caplog.records if "does not apply to raw" in r.getMessage()]
    assert len(said) == 1
