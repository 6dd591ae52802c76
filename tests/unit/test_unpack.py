"""objstream.unpack: records back from packed and per-record messages, in any message shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from objstream.unpack import UnpackedRecord, unpack

VERSION = "0123456789abcdef0123456789abcdef"
PACK_HEADERS: list[tuple[str, Any]] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", f"{VERSION}-7-9".encode()),
    ("ce_recordindex", b"7"),
    ("ce_recordcount", b"3"),
    ("ce_type", b"objstream.records"),
    ("content-type", b"application/x-ndjson"),
]
PACK_VALUE = b'{"a": 1}\n"text line"\n[1, 2]\n'
EXPECTED = [
    UnpackedRecord(7, f"{VERSION}-7", {"a": 1}),
    UnpackedRecord(8, f"{VERSION}-8", "text line"),
    UnpackedRecord(9, f"{VERSION}-9", [1, 2]),
]


class ConfluentLike:
    """What unpack uses of a confluent-kafka Message: headers() and value()."""

    def __init__(self, headers: Any, value: bytes | None) -> None:
        self._headers, self._value = headers, value

    def headers(self) -> Any:
        return self._headers

    def value(self) -> bytes | None:
        return self._value


@pytest.mark.parametrize(
    "message",
    [
        pytest.param((PACK_HEADERS, PACK_VALUE), id="pair"),
        pytest.param(({k: v.decode() for k, v in PACK_HEADERS}, PACK_VALUE), id="dict-of-str"),
        pytest.param(ConfluentLike(PACK_HEADERS, PACK_VALUE), id="confluent-kafka"),
        pytest.param(SimpleNamespace(headers=PACK_HEADERS, value=PACK_VALUE), id="kafka-python"),
    ],
)
def test_a_pack_gives_its_records_with_their_indexes_and_ids(message: Any) -> None:
    assert unpack(message) == EXPECTED


@pytest.mark.parametrize(
    ("content_type", "value", "expected"),
    [
        pytest.param(b"application/json", b'{"n": 1}', {"n": 1}, id="json"),
        pytest.param(b"text/plain; charset=utf-8", "é".encode(), "é", id="text"),
        pytest.param(b"application/octet-stream", b"\x00\xff", b"\x00\xff", id="raw"),
    ],
)
def test_a_record_message_gives_one_record(
    content_type: bytes, value: bytes, expected: Any
) -> None:
    headers = [
        ("ce_id", f"{VERSION}-4".encode()),
        ("ce_recordindex", b"4"),
        ("ce_type", b"objstream.record"),
        ("content-type", content_type),
    ]
    assert unpack((headers, value)) == [UnpackedRecord(4, f"{VERSION}-4", expected)]


@pytest.mark.parametrize(
    "ce_type",
    [
        "com.oraclecloud.objectstorage.createobject",
        "objstream.record.invalid",
        "objstream.object.continued",
        "objstream.object.published",
    ],
)
def test_other_messages_give_no_records(ce_type: str) -> None:
    assert unpack(([("ce_type", ce_type.encode()), ("ce_id", b"x")], b"{}")) == []
    assert unpack((None, None)) == []


def test_a_pack_whose_count_does_not_match_its_lines_is_an_error() -> None:
    with pytest.raises(ValueError, match="ce_recordcount"):
        unpack((PACK_HEADERS, b'{"a": 1}\n'))


def test_unpack_needs_nothing_but_the_standard_library() -> None:
    # -I -S: no site-packages and not the project; the file runs alone, as a consumer copies it.
    module = Path(__file__).resolve().parents[2] / "objstream" / "unpack.py"
    code = (
        "import runpy, sys; ns = runpy.run_path(sys.argv[1]); "
        "print(ns['unpack'](([('ce_type', b'objstream.records'), ('ce_id', b'v-0-0'), "
        "('ce_recordindex', b'0'), ('ce_recordcount', b'1')], b'1\\n')))"
    )
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(module)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "UnpackedRecord(index=0, id='v-0', value=1)" in ran.stdout
