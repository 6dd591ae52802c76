"""Hostile input: bombs, huge lines, deep nesting, bad encodings, odd names, bad bodies.

One function container (fdk over its socket) for the module, as a long-lived OCI container
would see them one after the other. Every input must end in the contract's outcome (§3) and
the container's memory must stay bounded: the peak RSS of the fdk process during the
invocation (VmHWM, reset before each call) may exceed its resting RSS by at most
`MEMORY_BOUND_MIB`, whatever the size of the input.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import TYPE_CHECKING, Any

import pytest
import zstandard

from objstream.testing.scenario import function_env, oci_event, read_stream
from tests.faults.conftest import (
    BUCKET,
    NAMESPACE,
    fdk_function,
    reset_peak_rss,
    status_kib,
    unique,
    upload,
    upload_file,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from objstream.testing.brokers import Broker
    from objstream.testing.fdk_server import FdkServer, Reply
    from objstream.testing.oci_standin import OciStandIn
    from objstream.testing.scenario import Seen
    from tests.faults.conftest import RecordAnswer

pytestmark = pytest.mark.broker

# What one invocation may add to the container's resting memory, whatever the input.
MEMORY_BOUND_MIB = 96
MIB = 1024 * 1024
RECORD, INVALID = "objstream.record", "objstream.record.invalid"
PUBLISHED, REJECTED = "objstream.object.published", "objstream.object.rejected"


@pytest.fixture(scope="module")
def stream(broker: Broker) -> str:
    return broker.create_topic()


@pytest.fixture(scope="module")
def function(
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FdkServer]:
    work = tmp_path_factory.mktemp("fdk")
    env = function_env(standin, work / "oci", broker.sasl_ssl, stream, auth="resource_principal")
    with fdk_function(env, work) as server:
        # Warm up: imports, OCI clients and the producer exist before anything is measured.
        warm = server.call(upload(standin, unique("warm.jsonl"), b'{"warm": true}\n'))
        assert warm.status == 200, warm.body
        yield server


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


class Measured:
    """One call to the function with its peak memory above the resting RSS."""

    def __init__(self, function: FdkServer, body: bytes, *, deadline_in: float = 60) -> None:
        pid = function.pid
        resting = status_kib(pid, "VmRSS")
        reset_peak_rss(pid)
        self.reply: Reply = function.call(body, deadline_in=deadline_in)
        self.peak_growth_mib = (status_kib(pid, "VmHWM") - resting) / 1024

    @property
    def answer(self) -> dict[str, Any]:
        assert self.reply.status == 200, self.reply.body[:500]
        result: dict[str, Any] = json.loads(self.reply.body)
        return result

    def within_bound(self) -> bool:
        return self.peak_growth_mib < MEMORY_BOUND_MIB


def _record(record_answer: RecordAnswer, measured: Measured, *, outcome: str | None = None) -> None:
    reply = measured.reply
    status = outcome or (measured.answer["status"] if reply.status == 200 else str(reply.status))
    record_answer(
        reply.seconds,
        f"{status} +{measured.peak_growth_mib:.0f}MiB",
        message=reply.body[:300],
    )


def _index(message: Seen) -> int:
    """A record's index: its ce_recordindex header, or a dead letter's `index` field."""
    if message.type == INVALID:
        return int(message.json()["index"])
    assert message.index is not None
    return message.index


def _write_compressed(path: Path, kind: str, size: int) -> Path:
    """`size` zero bytes compressed into `path`, without holding them in memory."""
    chunk = bytes(MIB)
    with path.open("wb") as out:
        if kind == "gzip":
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)
            for _ in range(size // MIB):
                out.write(packer.compress(chunk))
            out.write(packer.flush())
        else:
            with zstandard.ZstdCompressor(level=19).stream_writer(out, closefd=False) as writer:
                for _ in range(size // MIB):
                    writer.write(chunk)
    return path


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_decompression_bomb_is_rejected_without_memory_growing(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    files: Path,
    record_answer: RecordAnswer,
    kind: str,
) -> None:
    suffix = ".gz" if kind == "gzip" else ".zst"
    bomb = _write_compressed(files / f"bomb.jsonl{suffix}", kind, 1024 * MIB)
    name = unique(f"bomb.jsonl{suffix}")
    measured = Measured(function, upload_file(standin, name, bomb))
    _record(record_answer, measured)
    assert measured.answer["status"] == "rejected"
    assert "MAX_COMPRESSION_RATIO" in measured.answer["reason"]
    assert measured.within_bound(), measured.peak_growth_mib
    types = [m.type for m in read_stream(broker, stream, subject=name)]
    assert types[0].startswith("com.oraclecloud.")
    assert types[-1] == REJECTED
    assert PUBLISHED not in types


@pytest.mark.parametrize("suffix", [".jsonl", ".txt", ".json"])
def test_a_50_mb_single_line_is_one_dead_letter_and_memory_stays_flat(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    files: Path,
    record_answer: RecordAnswer,
    suffix: str,
) -> None:
    path = files / f"one-line{suffix}"
    with path.open("wb") as out:
        out.write(b'["' if suffix == ".json" else b'{"v": "')
        for _ in range(50):
            out.write(b"x" * MIB)
        out.write(b'"]\n' if suffix == ".json" else b'"}\n')
    name = unique(f"one-line{suffix}")
    measured = Measured(function, upload_file(standin, name, path))
    _record(record_answer, measured)
    answer = measured.answer
    assert (answer["status"], answer["records"], answer["invalid"]) == ("published", 0, 1)
    assert measured.within_bound(), measured.peak_growth_mib
    messages = read_stream(broker, stream, subject=name)
    assert [m.type for m in messages[1:]] == [INVALID, PUBLISHED]
    dead = messages[1].json()
    assert answer["bytes"] == path.stat().st_size  # the whole line was read through
    assert dead["end"] - dead["start"] >= 50 * MIB
    assert "exceeds the message limit" in dead["reason"]
    assert dead["rawTruncated"] is True
    assert len(messages[1].value) < 1_000_000


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param(
            "nested.json",
            b"[" * 100_000 + b"]" * 100_000,
            ("published", 0, 1),
            id="json-100000-levels",
        ),
        pytest.param(
            "nested.jsonl",
            b'{"ok": 1}\n' + b"[" * 100_000 + b"]" * 100_000 + b'\n{"ok": 2}\n',
            ("published", 2, 1),
            id="jsonl-line-100000-levels",
        ),
        pytest.param(
            "nested-objects.json",
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            ("published", 0, 1),
            id="json-50000-nested-objects",
        ),
    ],
)
def test_deeply_nested_json_is_an_invalid_record_not_a_crash(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    name: str,
    data: bytes,
    expected: tuple[str, int, int],
) -> None:
    object_name = unique(name)
    measured = Measured(function, upload(standin, object_name, data))
    _record(record_answer, measured)
    answer = measured.answer
    assert (answer["status"], answer["records"], answer["invalid"]) == expected
    assert measured.within_bound(), measured.peak_growth_mib
    types = [m.type for m in read_stream(broker, stream, subject=object_name)]
    assert types.count(INVALID) == expected[2]
    assert types[-1] == PUBLISHED


def test_invalid_utf8_makes_only_its_own_line_invalid(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
) -> None:
    name = unique("latin1.txt")
    data = b"first line\nna\xefve caf\xe9 \xff\xfe\nthird line\n"
    measured = Measured(function, upload(standin, name, data))
    _record(record_answer, measured)
    assert (measured.answer["records"], measured.answer["invalid"]) == (2, 1)
    messages = read_stream(broker, stream, subject=name)
    assert [(m.type, _index(m)) for m in messages[1:-1]] == [
        (RECORD, 0),
        (INVALID, 1),
        (RECORD, 2),
    ]
    dead = messages[2].json()
    assert base64.b64decode(dead["raw"]) == b"na\xefve caf\xe9 \xff\xfe"
    assert [m.value for m in messages[1:-1] if m.type == RECORD] == [b"first line", b"third line"]


def test_a_csv_with_100000_columns_makes_rows_too_big_for_a_message_dead_letters(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
) -> None:
    # Keyed by 100 000 header names, any row is a JSON object over the 1 MB message limit.
    columns = 100_000
    header = ",".join(f"c{i}" for i in range(columns)).encode()
    data = header + b"\n1,2\n" + b"," * (columns - 1) + b"\n"
    name = unique("wide.csv")
    measured = Measured(function, upload(standin, name, data, content_type="text/csv"))
    _record(record_answer, measured)
    answer = measured.answer
    assert (answer["status"], answer["records"], answer["invalid"]) == ("published", 0, 2)
    assert measured.within_bound(), measured.peak_growth_mib
    messages = read_stream(broker, stream, subject=name)
    assert [(m.type, _index(m)) for m in messages[1:-1]] == [(INVALID, 0), (INVALID, 1)]
    for message in messages[1:-1]:
        assert "message limit" in message.json()["reason"]
        assert len(message.value) < 1_000_000


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param("nul.txt", b"a\x00b\n\x00\nc\n", (3, 0), id="text-lines"),
        pytest.param("nul.jsonl", b'{"a": 1}\n{"b": "\x00"}\n', (1, 1), id="raw-nul-in-json"),
        pytest.param("nul-escaped.jsonl", b'{"b": "\\u0000"}\n', (1, 0), id="escaped-nul-in-json"),
        pytest.param("nul.csv", b"a,b\n1,\x00\n2,3\n", (2, 0), id="csv-field"),
        pytest.param("nul.bin", b"\x00" * 5000, (1, 0), id="raw-bytes"),
    ],
)
def test_nul_bytes_are_data_not_terminators(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    name: str,
    data: bytes,
    expected: tuple[int, int],
) -> None:
    object_name = unique(name)
    measured = Measured(function, upload(standin, object_name, data))
    _record(record_answer, measured)
    answer = measured.answer
    assert (answer["status"], answer["records"], answer["invalid"]) == ("published", *expected)
    messages = read_stream(broker, stream, subject=object_name)
    assert messages[-1].type == PUBLISHED


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("données/été/日本語 ファイル.csv", id="unicode"),
        pytest.param("reports/Q1 2026/sales+returns 100%.csv", id="spaces-plus-percent"),
        pytest.param("looks%2Fencoded%20already.csv", id="percent-escapes-taken-literally"),
        pytest.param("what?is#this&that=1.csv", id="query-and-fragment-characters"),
        pytest.param("dots/../and/./segments.csv", id="dot-segments"),
        pytest.param(" leading and trailing .csv ", id="edge-spaces"),
        pytest.param("emoji-🚀-\u200b-zero-width.csv", id="emoji-and-zero-width"),
    ],
)
def test_awkward_object_names_are_read_and_carried_verbatim(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    name: str,
) -> None:
    object_name = unique(name)
    body = upload(standin, object_name, b"a,b\n1,2\n", content_type="text/csv")
    measured = Measured(function, body)
    _record(record_answer, measured)
    assert measured.answer["status"] == "published"
    assert measured.answer["object"] == object_name
    messages = read_stream(broker, stream, subject=object_name)
    assert [m.type for m in messages[1:]] == [RECORD, PUBLISHED]
    for message in messages:
        assert message.subject == object_name
        assert message.key == f"{NAMESPACE}/{BUCKET}/{object_name}".encode()
        assert message.headers["ce_source"] == f"/n/{NAMESPACE}/b/{BUCKET}/o/{object_name}".encode()


def _huge_event(size: int) -> bytes:
    event = json.loads(oci_event(NAMESPACE, BUCKET, "huge-body.csv", "etag"))
    event["data"]["additionalDetails"]["padding"] = "p" * size
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(
            _huge_event(300 * 1024), "at most 262144 bytes", id="valid-event-over-256-KiB"
        ),
        pytest.param(
            b"{" + b" " * (20 * MIB) + b"}", "at most 262144 bytes", id="20-MiB-of-whitespace"
        ),
        pytest.param(b"\xff\xfe\x00garbage", "", id="binary"),
        pytest.param(b"not json at all", "", id="not-json"),
        pytest.param(b"[1, 2, 3]", "", id="json-list"),
        pytest.param(b"42", "", id="json-number"),
        pytest.param(b"null", "", id="json-null"),
        pytest.param(b'"a string"', "", id="json-string"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "", id="100000-levels-deep"),
        pytest.param(
            b'{"eventType": "com.oraclecloud.objectstorage.createobject", "eventID": "e1",'
            b' "eventTime": "2026-11-28T10:00:00Z", "data": "x"}',
            "data",
            id="data-not-an-object",
        ),
        pytest.param(
            b'{"eventType": "com.oraclecloud.objectstorage.createobject", "eventID": 7,'
            b' "data": {"resourceName": ["a"]}}',
            "",
            id="fields-of-the-wrong-type",
        ),
    ],
)
def test_a_body_that_is_not_an_oci_event_is_answered_200_with_an_error(
    function: FdkServer,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
    body: bytes,
    words: str,
) -> None:
    before = len(broker.consume(stream))
    measured = Measured(function, body)
    _record(record_answer, measured)
    answer = measured.answer
    assert answer["status"] == "error"
    assert words in answer["error"]
    assert measured.within_bound(), measured.peak_growth_mib
    assert len(broker.consume(stream)) == before
    # The body is never echoed back whole.
    assert len(measured.reply.body) < 2000


def test_gzip_of_a_truncated_upload_is_rejected_after_the_records_before_the_cut(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    record_answer: RecordAnswer,
) -> None:
    whole = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(10_000)))
    name = unique("cut.jsonl.gz")
    measured = Measured(function, upload(standin, name, whole[: len(whole) // 2]))
    _record(record_answer, measured)
    assert measured.answer["status"] == "rejected"
    messages = read_stream(broker, stream, subject=name)
    assert messages[-1].type == REJECTED
    indexes = [m.index for m in messages[1:-1]]
    assert indexes == list(range(len(indexes)))
