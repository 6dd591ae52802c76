"""An object published in segments looks, record for record, like one published at once.

Through `Runtime.invoke` (the production path) with fakes of the ports: the in-process
invoker carries each continuation to the next segment, and a CountdownDeadline makes each
segment stop after a fixed number of looks at the clock, so the boundaries are the same on
any machine. CONTRACT §2 and §4: indexes, ids, values and order equal a single pass; the
event is sent once; a checkpoint ends every segment but the last; one published marker with
the whole object's counts and the number of segments.
"""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import fastavro
import pyarrow as pa
import pytest
import zstandard

from function.core.deadline import Deadline
from function.runtime import Runtime
from function.settings import Settings
from objstream.local_chain import InProcessInvoker, run_chain
from objstream.oci_events import object_event_body
from objstream.testing.fakes import CountdownDeadline, FakePublisher, FakeReader, Sent
from objstream.testing.typed_files import parquet_bytes, sample_table

NAMESPACE, BUCKET = "ns", "uploads"
COUNT = 3000


def _lines() -> bytes:
    rows = [f"line {n} é" if n % 97 else "" for n in range(COUNT)]
    rows[500] = "bad \udcff".encode("utf-8", "surrogateescape").decode("latin-1")
    return ("\r\n".join(rows) + "\n").encode("utf-8", "surrogateescape")


def _jsonl() -> bytes:
    lines = [json.dumps({"n": n, "s": "x" * (n % 13)}) for n in range(COUNT)]
    lines[700] = "{not json"
    lines[701] = ""
    return ("\n".join(lines) + "\n").encode()


def _csv() -> bytes:
    rows = ["id,name,note"] + [f'{n},"n {n}","a, ""quoted"" {n}"' for n in range(COUNT)]
    rows[900] = "900,broken\r"
    return ("\r\n".join(rows) + "\r\n").encode()


def _json_array() -> bytes:
    elements = [json.dumps({"n": n, "nested": [n, {"k": str(n)}]}) for n in range(COUNT)]
    elements[1200] = "oops"
    return ("[\n" + ",\n".join(elements) + "\n]\n").encode()


def _raw() -> bytes:
    # Raw chunks are large: with 64 KB messages (48 KB chunks), 30 MB is 640 records.
    return bytes(range(256)) * 120_000


# A row over the message limit (64 KB here): a dead letter in the middle of a row group/block.
_HUGE = "h" * 70_000


def _parquet() -> bytes:
    # Row groups of 700 rows: segments of ~1000 records stop inside a row group, not at one.
    table = sample_table(COUNT)
    notes = pa.array([_HUGE if n == 1500 else f"note {n}" for n in range(COUNT)])
    return parquet_bytes(table.append_column("note", notes), row_group_size=700)


AVRO_SCHEMA = {
    "type": "record",
    "name": "Order",
    "fields": [
        {"name": "n", "type": "long"},
        {"name": "note", "type": ["null", "string"]},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                   "scale": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}  # fmt: skip


def _avro(codec: str) -> bytes:
    import decimal

    rows = [
        {
            "n": n,
            "note": None if n % 5 == 0 else (_HUGE if n == 1701 else f"note {n} é"),
            "price": decimal.Decimal(n * 7 - 900).scaleb(-2),
            "tags": [f"t{j}" for j in range(n % 3)],
        }
        for n in range(COUNT)
    ]
    buffer = io.BytesIO()
    # Blocks of a few hundred records: segments stop inside a block, not at one.
    fastavro.writer(buffer, fastavro.parse_schema(AVRO_SCHEMA), rows, codec=codec,
                    sync_interval=16_000)  # fmt: skip
    return buffer.getvalue()


SAMPLES: dict[str, tuple[str, bytes]] = {
    "lines": ("logs/app.log", _lines()),
    "jsonl": ("events.jsonl", _jsonl()),
    "csv": ("orders.csv", _csv()),
    "json-array": ("items.json", _json_array()),
    "raw": ("blob.bin", _raw()),
    "gzip-jsonl": ("events.jsonl.gz", gzip.compress(_jsonl())),
    "zstd-csv": ("orders.csv.zst", zstandard.ZstdCompressor().compress(_csv())),
    "parquet": ("exports/orders.parquet", _parquet()),
    "parquet-by-magic": ("exports/orders.bin", _parquet()),
    "avro-deflate": ("exports/orders.avro", _avro("deflate")),
    "avro-snappy": ("exports/orders.avro", _avro("snappy")),
}


def _settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "STREAM_BOOTSTRAP_SERVERS": "b:9092",
            "STREAM_TOPIC": "uploads",
            "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
            "MAX_MESSAGE_BYTES": "65536",
            **env,
        }
    )


def _runtime(
    settings: Settings,
    reader: FakeReader,
    publisher: FakePublisher,
    invoker: InProcessInvoker | None,
) -> Runtime:
    """`Runtime.invoke`'s path with fakes: `reader`, `publisher` and an in-process invoker."""
    return Runtime(
        settings,
        reader=lambda: reader,
        tokens=None,
        publisher_factory=lambda _config: publisher,
        invoker=(lambda: invoker) if invoker is not None else None,
    )


def _event(name: str) -> bytes:
    return object_event_body(NAMESPACE, BUCKET, name, "etag-1", event_id="event-1")


def _single_pass(name: str, data: bytes, **env: str) -> FakePublisher:
    publisher = FakePublisher()
    runtime = _runtime(_settings(CONTINUATION="off", **env), FakeReader(data), publisher, None)
    outcome = runtime.invoke(_event(name), Deadline.in_seconds(60))
    assert outcome.status == "published", outcome.detail
    return publisher


# Looks at the clock a segment gets before it runs out of time: segments of ~1000 records
# (the clock is looked at every 256 records), and of ~100 raw chunks (at every chunk).
PLENTY = {"raw": 200}


def _chain(name: str, data: bytes, plenty: int, **env: str) -> tuple[FakePublisher, list[Any]]:
    publisher, invoker = FakePublisher(), InProcessInvoker()
    runtime = _runtime(_settings(**env), FakeReader(data), publisher, invoker)
    outcomes = run_chain(runtime, invoker, _event(name), lambda: CountdownDeadline.of(plenty))
    return publisher, outcomes


def _of_type(sent: list[Sent], ce_type: str) -> list[Sent]:
    return [m for m in sent if m.type == ce_type]


def _records(sent: list[Sent]) -> list[tuple[Any, ...]]:
    return [
        (m.headers["ce_id"], m.headers["ce_recordindex"], m.value, m.key, m.topic)
        for m in sent
        if m.type == "objstream.record"
    ]


def _dead_letters(sent: list[Sent]) -> list[tuple[bytes, Any]]:
    return [
        (m.headers["ce_id"], json.loads(m.value or b"")["index"])
        for m in _of_type(sent, "objstream.record.invalid")
    ]


@pytest.mark.parametrize("sample", list(SAMPLES), ids=str)
def test_a_chain_of_segments_publishes_exactly_what_one_pass_does(sample: str) -> None:
    name, data = SAMPLES[sample]
    once = _single_pass(name, data)
    chained, outcomes = _chain(name, data, plenty=PLENTY.get(sample, 6))

    assert len(outcomes) >= 3, "the object should need several segments"
    assert [o.status for o in outcomes] == ["continued"] * (len(outcomes) - 1) + ["published"]
    assert _records(chained.sent) == _records(once.sent)
    assert _dead_letters(chained.sent) == _dead_letters(once.sent)
    assert len(_of_type(chained.sent, "com.oraclecloud.objectstorage.createobject")) == 1


@pytest.mark.parametrize("sample", list(SAMPLES), ids=str)
def test_the_published_marker_counts_the_whole_object_and_its_segments(sample: str) -> None:
    name, data = SAMPLES[sample]
    once = _single_pass(name, data)
    chained, outcomes = _chain(name, data, plenty=PLENTY.get(sample, 6))

    [single] = _of_type(once.sent, "objstream.object.published")
    [marker] = _of_type(chained.sent, "objstream.object.published")
    expected = json.loads(single.value or b"")
    found = json.loads(marker.value or b"")
    assert found["segments"] == len(outcomes)
    assert expected["segments"] == 1
    for key in ("records", "invalid", "deadLettered", "bytes", "decodedBytes", "format", "eTag"):
        assert found[key] == expected[key], key
    assert marker.headers["ce_id"] == single.headers["ce_id"]


@pytest.mark.parametrize("sample", ["jsonl", "csv", "gzip-jsonl"], ids=str)
def test_a_checkpoint_ends_every_segment_but_the_last(sample: str) -> None:
    name, data = SAMPLES[sample]
    chained, outcomes = _chain(name, data, plenty=PLENTY.get(sample, 6))
    sent = chained.sent

    checkpoints = _of_type(sent, "objstream.object.continued")
    assert [json.loads(c.value or b"")["segment"] for c in checkpoints] == list(
        range(1, len(outcomes))
    )
    for number, checkpoint in enumerate(checkpoints, start=1):
        body = json.loads(checkpoint.value or b"")
        position = sent.index(checkpoint)
        before = [m for m in sent[:position] if m.type == "objstream.record"]
        after = [m for m in sent[position:] if m.type == "objstream.record"]
        # Every record before the checkpoint has a lower index than nextIndex; after, not lower.
        assert all(int(m.headers["ce_recordindex"]) < body["nextIndex"] for m in before)
        assert all(int(m.headers["ce_recordindex"]) >= body["nextIndex"] for m in after)
        assert checkpoint.headers["ce_id"].endswith(f"-continued-{number}".encode())
        assert body["counts"]["records"] + body["counts"]["invalid"] == body["nextIndex"]
    # Everything before a checkpoint was settled before it was sent.
    positions = [sent.index(c) for c in checkpoints]
    assert all(p in chained.settled_at for p in positions)


def test_each_continuation_reads_the_object_from_its_resume_offset() -> None:
    name, data = SAMPLES["jsonl"]
    publisher, invoker = FakePublisher(), InProcessInvoker()
    reader = FakeReader(data)
    runtime = _runtime(_settings(), reader, publisher, invoker)
    outcomes = run_chain(runtime, invoker, _event(name), lambda: CountdownDeadline.of(6))
    assert len(outcomes) >= 3
    assert reader.starts[0] == 0
    assert all(0 < start < len(data) for start in reader.starts[1:])
    assert reader.starts == sorted(reader.starts)


def test_a_compressed_object_is_decoded_again_from_its_start_by_every_segment() -> None:
    name, data = SAMPLES["gzip-jsonl"]
    publisher, invoker = FakePublisher(), InProcessInvoker()
    reader = FakeReader(data)
    runtime = _runtime(_settings(), reader, publisher, invoker)
    outcomes = run_chain(runtime, invoker, _event(name), lambda: CountdownDeadline.of(6))
    assert len(outcomes) >= 3
    assert set(reader.starts) == {0}


def _chain_reading(sample: str) -> tuple[FakeReader, list[dict[str, Any]]]:
    """The chain over a reader the test keeps, and the checkpoints' resume positions."""
    name, data = SAMPLES[sample]
    publisher, invoker = FakePublisher(), InProcessInvoker()
    reader = FakeReader(data)
    runtime = _runtime(_settings(), reader, publisher, invoker)
    outcomes = run_chain(runtime, invoker, _event(name), lambda: CountdownDeadline.of(6))
    assert len(outcomes) >= 3
    checkpoints = _of_type(publisher.sent, "objstream.object.continued")
    return reader, [json.loads(c.value or b"")["resume"] for c in checkpoints]


@pytest.mark.parametrize("sample", ["parquet", "parquet-by-magic"], ids=str)
def test_parquet_continuations_resume_at_a_row_group_and_row_by_ranged_reads_only(
    sample: str,
) -> None:
    reader, resumes = _chain_reading(sample)
    assert all(set(r) == {"format", "rowGroup", "row"} for r in resumes)
    assert any(r["row"] for r in resumes), "segments should stop inside a row group"
    # Only the first segment of an object not named .parquet streams (its first bytes say
    # Parquet); every later one opens ranges alone.
    assert reader.starts == ([] if sample == "parquet" else [0])
    assert len(reader.ranged) == len(resumes) + 1


@pytest.mark.parametrize("sample", ["avro-deflate", "avro-snappy"], ids=str)
def test_avro_continuations_stream_from_their_block_and_read_only_the_header_by_range(
    sample: str,
) -> None:
    reader, resumes = _chain_reading(sample)
    offsets = [r["offset"] for r in resumes]
    assert reader.starts == [0, *offsets]
    assert any(r["row"] for r in resumes), "segments should stop inside a block"
    # Each continuation reads the header (the object's first bytes, before its block) once.
    assert [(r.requests, r.bytes_read) for r in reader.ranged] == [(1, o) for o in offsets]


def test_without_an_invoker_the_deadline_is_a_502_as_in_v1() -> None:
    name, data = SAMPLES["jsonl"]
    publisher = FakePublisher()
    runtime = _runtime(_settings(CONTINUATION="off"), FakeReader(data), publisher, None)
    deadline = CountdownDeadline.of(6)
    # CONTINUATION=off: a deadline that leaves no time is not a reason to stop early; only
    # one that has passed is. The countdown's second is not passed, so it publishes it all.
    outcome = runtime.invoke(_event(name), deadline)
    assert outcome.status == "published"
    assert not _of_type(publisher.sent, "objstream.object.continued")


def _failing_runtime(
    error: Exception, invoker: InProcessInvoker, **env: str
) -> tuple[Runtime, FakePublisher]:
    publisher = FakePublisher()
    reader = FakeReader(b"", error=error)
    runtime = _runtime(_settings(**env), reader, publisher, invoker)
    return runtime, publisher


def _continuation_body(name: str) -> bytes:
    from function.core.continuation import first_segment
    from function.core.events import parse_event

    return first_segment(parse_event(_event(name))).to_json()


def test_a_failing_detached_segment_hands_itself_on_again_until_the_last_attempt() -> None:
    from function.errors import ObjectStorageError

    invoker = InProcessInvoker()
    runtime, _ = _failing_runtime(
        ObjectStorageError("Object Storage is down"), invoker, CONTINUATION_MAX_ATTEMPTS="3"
    )
    body = _continuation_body("a.jsonl")
    attempts = []
    for _ in range(2):
        # A deadline with no time to spare: the backoff is cut to nothing, not skipped.
        outcome = runtime.invoke(body, CountdownDeadline.of(0))
        assert outcome.status == "continued"
        assert "Object Storage is down" in outcome.detail["error"]
        body = invoker.pending.popleft()
        attempts.append(json.loads(body)["attempt"])
    assert attempts == [2, 3]
    with pytest.raises(ObjectStorageError, match="down"):
        runtime.invoke(body, CountdownDeadline.of(0))
    assert not invoker.pending


def test_an_event_from_oci_events_that_fails_answers_502_and_hands_nothing_on() -> None:
    from function.errors import ObjectStorageError

    invoker = InProcessInvoker()
    runtime, _ = _failing_runtime(ObjectStorageError("down"), invoker)
    with pytest.raises(ObjectStorageError):
        runtime.invoke(_event("a.jsonl"), CountdownDeadline.of(0))
    assert not invoker.pending


def test_a_hand_off_that_fails_is_a_502() -> None:
    from function.errors import HandOffError

    class RefusingInvoker(InProcessInvoker):
        def invoke_detached(self, body: bytes, deadline: Deadline) -> None:
            raise HandOffError("the Functions invoke API refused: check use fn-invocation")

    name, data = SAMPLES["jsonl"]
    publisher = FakePublisher()
    reader = FakeReader(data)
    runtime = _runtime(_settings(), reader, publisher, RefusingInvoker())
    with pytest.raises(HandOffError, match="fn-invocation"):
        runtime.invoke(_event(name), CountdownDeadline.of(6))
    # The checkpoint was sent (the records before it are on the stream); no marker.
    assert _of_type(publisher.sent, "objstream.object.continued")
    assert not _of_type(publisher.sent, "objstream.object.published")


# v2 (CONTRACT §5): packs. Their boundaries depend only on the object and the settings, so a
# chain's packs are one pass's packs: a segment stops only where a pack ends.


def _big_jsonl() -> bytes:
    # About 200 bytes a line: packs of ~245 records, closed by size (49 152 bytes of room).
    lines = [json.dumps({"n": n, "pad": "p" * (150 + n % 40)}) for n in range(COUNT)]
    lines[1700] = "{broken"
    return ("\n".join(lines) + "\n").encode()


def _keyed_jsonl() -> bytes:
    # A new key every 70 records (RECORD_KEY=field:k): packs closed by key changes.
    return "".join(
        json.dumps({"k": f"key-{n // 70}", "n": n}) + "\n" for n in range(COUNT)
    ).encode()


def _parquet_small_groups() -> bytes:
    return parquet_bytes(sample_table(COUNT), row_group_size=400)


PACKED_SAMPLES: dict[str, tuple[str, bytes, dict[str, str]]] = {
    **{
        f"{sample}-by-count": (name, data, {"PACK_MAX_RECORDS": "300"})
        for sample, (name, data) in SAMPLES.items()
    },
    "jsonl-by-size": ("big.jsonl", _big_jsonl(), {}),
    "gzip-jsonl-by-size": ("big.jsonl.gz", gzip.compress(_big_jsonl()), {}),
    "parquet-by-size": ("rows.parquet", _parquet_small_groups(), {}),
    "jsonl-by-key": ("keyed.jsonl", _keyed_jsonl(), {"RECORD_KEY": "field:k"}),
}


def _packs(sent: list[Sent]) -> list[tuple[Any, ...]]:
    return [
        (
            m.headers["ce_id"],
            m.headers["ce_recordindex"],
            m.headers["ce_recordcount"],
            m.value,
            m.key,
            m.topic,
        )
        for m in sent
        if m.type == "objstream.records"
    ]


@pytest.mark.parametrize("sample", list(PACKED_SAMPLES), ids=str)
def test_a_chain_with_packing_publishes_one_pass_with_packing_pack_for_pack(sample: str) -> None:
    name, data, env = PACKED_SAMPLES[sample]
    packing = {"MESSAGE_PACKING": "jsonl", **env}
    once = _single_pass(name, data, **packing)
    chained, outcomes = _chain(
        name, data, PLENTY.get(sample.split("-by-", maxsplit=1)[0], 6), **packing
    )

    assert len(outcomes) >= 3, "the object should need several segments"
    assert [o.status for o in outcomes] == ["continued"] * (len(outcomes) - 1) + ["published"]
    if sample.startswith("raw"):  # packing does not apply to raw
        assert _records(chained.sent) == _records(once.sent)
        assert not _packs(once.sent)
        return
    assert len(_packs(once.sent)) >= len(outcomes), "packs should be fewer than segments"
    assert _packs(chained.sent) == _packs(once.sent)
    assert not _records(chained.sent)
    assert _dead_letters(chained.sent) == _dead_letters(once.sent)
    [single] = _of_type(once.sent, "objstream.object.published")
    [marker] = _of_type(chained.sent, "objstream.object.published")
    for key in ("records", "invalid", "deadLettered"):
        assert json.loads(marker.value or b"")[key] == json.loads(single.value or b"")[key], key
    # Every segment ends where a pack ends: after a pack, or after an invalid record.
    ends = {int(pack[1]) + int(pack[2]) for pack in _packs(once.sent)}
    ends |= {index + 1 for _, index in _dead_letters(once.sent)}
    for checkpoint in _of_type(chained.sent, "objstream.object.continued"):
        assert json.loads(checkpoint.value or b"")["nextIndex"] in ends
