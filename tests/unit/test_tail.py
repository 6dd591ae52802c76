"""objstream tail's view of a message: packs record by record, or as the message they are."""

from __future__ import annotations

from objstream.cli.tail import StreamMessage

VERSION = "0123456789abcdef0123456789abcdef"


def _message(ce_type: str, value: bytes, **headers: bytes) -> StreamMessage:
    return StreamMessage(
        topic="uploads",
        partition=2,
        offset=41,
        timestamp_ms=None,
        key=b"ns/b/a.jsonl",
        value=value,
        headers={"ce_type": ce_type.encode(), "ce_subject": b"a.jsonl", **headers},
    )


PACK = _message(
    "objstream.records",
    b'{"n": 0}\n{"n": 1}\n',
    ce_id=f"{VERSION}-5-6".encode(),
    ce_recordindex=b"5",
    ce_recordcount=b"2",
    **{"content-type": b"application/x-ndjson"},
)


def test_a_pack_is_shown_record_by_record_with_index_and_id() -> None:
    lines = [line.plain for line in PACK.record_lines(100)]
    assert lines == [
        f'2/41  objstream.records  a.jsonl #5  id={VERSION}-5  key=ns/b/a.jsonl  {{"n":0}}',
        f'2/41  objstream.records  a.jsonl #6  id={VERSION}-6  key=ns/b/a.jsonl  {{"n":1}}',
    ]


def test_a_pack_as_a_message_says_how_many_records_it_holds() -> None:
    assert PACK.line(100).plain.startswith("2/41  objstream.records  a.jsonl #5 (2 records)  key=")


def test_a_packs_records_in_json_carry_their_own_id_and_the_pack() -> None:
    first, second = PACK.records_json()
    assert (first["index"], first["id"], first["value"]) == (5, f"{VERSION}-5", {"n": 0})
    assert (second["index"], second["id"], second["value"]) == (6, f"{VERSION}-6", {"n": 1})
    assert first["pack"] == {"id": f"{VERSION}-5-6", "index": 5, "count": 2}
    assert (first["partition"], first["offset"], first["type"]) == (2, 41, "objstream.records")


def test_a_record_message_is_shown_as_before() -> None:
    record = _message(
        "objstream.record",
        b'{"n": 0}',
        ce_id=f"{VERSION}-0".encode(),
        ce_recordindex=b"0",
        **{"content-type": b"application/json"},
    )
    assert not record.is_packed
    assert record.line(100).plain == (
        '2/41  objstream.record  a.jsonl #0  key=ns/b/a.jsonl  {"n":0}'
    )
