"""Parquet and Avro objects end to end, as OCI Functions runs the function, against real parts.

fdk serves `function/func.py` over its unix socket (laid out as the image has it); Object
Storage is the signature-checking stand-in, which serves byte ranges and records every
request; the stream is the broker's SASL_SSL listener. Every value on the stream is compared
with an independent reading of the same file (pyarrow's, fastavro's) under the README's
mapping, and the stand-in's request log proves that a Parquet object of several row groups is
read by ranges, never whole. Broken and hostile files end as the contract says: the event,
then a rejected marker with the reason.
"""

from __future__ import annotations

import io
import json
import re
import struct
import uuid
from typing import TYPE_CHECKING, Any

import fastavro
import pyarrow.parquet as pq
import pytest

from function.core.decoding.ranged import READ_AHEAD_BYTES
from objstream.testing.oci_standin import OciStandIn, RecordedRequest, object_path
from objstream.testing.scenario import Seen, oci_event, read_stream
from objstream.testing.typed_files import expected_rows, parquet_bytes, sample_table
from tests.e2e.conftest import function_over_fdk
from tests.unit.test_records_avro import expected as expected_avro
from tests.unit.test_records_avro import fastavro_file, read_back
from tests.unit.test_records_avro import rows as avro_rows

if TYPE_CHECKING:
    from objstream.testing.brokers import Broker
    from objstream.testing.fdk_server import FdkServer

pytestmark = pytest.mark.broker

NAMESPACE, BUCKET = "axaxnpcrorw5", "typed"
SECRET_ID = "ocid1.vaultsecret.oc1.phx.amaaaaaatypedobjects"
PARQUET_TYPE = "application/vnd.apache.parquet"
ROWS, ROW_GROUP = 6000, 1000  # six row groups of every type family, nested ones too
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


installed, standin, stream, function = function_over_fdk(NAMESPACE, BUCKET, SECRET_ID, partitions=2)


@pytest.fixture(scope="module")
def parquet_file() -> bytes:
    return parquet_bytes(sample_table(ROWS), row_group_size=ROW_GROUP, compression="snappy")


def _publish(
    function: FdkServer, standin: OciStandIn, name: str, data: bytes, **options: str
) -> tuple[str, dict[str, Any]]:
    name = f"typed/{uuid.uuid4().hex[:8]}/{name}"
    etag = standin.put_object(NAMESPACE, BUCKET, name, data, **options)
    reply = function.call(oci_event(NAMESPACE, BUCKET, name, etag))
    assert reply.status == 200, reply.body[:500]
    return name, json.loads(reply.body)


def _records(messages: list[Seen]) -> list[Any]:
    records = [m for m in messages if m.type == "objstream.record"]
    assert [m.index for m in records] == list(range(len(records)))
    return [m.json() for m in records]


def _gets(standin: OciStandIn, name: str) -> list[RecordedRequest]:
    return [
        r for r in standin.requests_to(object_path(NAMESPACE, BUCKET, name)) if r.method == "GET"
    ]


def _range_lengths(requests: list[RecordedRequest]) -> list[int]:
    lengths = []
    for request in requests:
        match = _RANGE.fullmatch(request.headers.get("range", ""))
        assert match is not None, f"a GET that is not a bounded range: {request.headers}"
        lengths.append(int(match.group(2)) - int(match.group(1)) + 1)
    return lengths


def _row_groups_before(data: bytes, offset: int) -> int:
    """How many row groups start before `offset`."""
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    starts = []
    for group in range(metadata.num_row_groups):
        meta = metadata.row_group(group)
        columns = [meta.column(c) for c in range(meta.num_columns)]
        starts.append(
            min(
                min(c.data_page_offset, c.dictionary_page_offset or c.data_page_offset)
                for c in columns
            )
        )
    return sum(start < offset for start in starts)


def test_a_parquet_object_of_several_row_groups_is_read_by_ranges_and_every_value_kept(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str, parquet_file: bytes
) -> None:
    name, answer = _publish(function, standin, "orders.parquet", parquet_file)

    assert (answer["status"], answer["format"], answer["records"]) == ("published", "parquet", ROWS)
    messages = read_stream(broker, stream, subject=name)
    assert messages[0].type == "com.oraclecloud.objectstorage.createobject"
    assert messages[-1].type == "objstream.object.published"
    assert _records(messages) == expected_rows(parquet_file)
    assert messages[1].headers["content-type"] == b"application/json"

    requests = standin.requests_to(object_path(NAMESPACE, BUCKET, name))
    etag = messages[1].headers["ce_etag"].decode()
    assert requests[0].method == "HEAD"
    assert {r.headers.get("if-match") for r in requests} == {etag}
    lengths = _range_lengths(_gets(standin, name))
    size = len(parquet_file)
    # Never the whole object in one GET: the tail, the footer's window (the last bytes), then
    # the column chunks of each row group the window does not hold whole, one range each.
    assert len(lengths) == 2 + _row_groups_before(parquet_file, size - READ_AHEAD_BYTES), lengths
    assert len(lengths) > 3
    assert max(lengths) < size / 2, lengths
    # Every byte about once: the footer's read-ahead window may overlap the last row groups.
    assert 0.9 * size <= sum(lengths) <= size + READ_AHEAD_BYTES + 8, (sum(lengths), size)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        pytest.param("exports/orders.bin", PARQUET_TYPE, id="by-content-type"),
        pytest.param("exports/orders", "application/octet-stream", id="by-magic-bytes"),
    ],
)
def test_a_parquet_object_not_named_parquet_is_found_and_switched_to_ranges(
    function: FdkServer,
    standin: OciStandIn,
    broker: Broker,
    stream: str,
    parquet_file: bytes,
    name: str,
    content_type: str,
) -> None:
    name, answer = _publish(function, standin, name, parquet_file, content_type=content_type)

    assert (answer["status"], answer["format"], answer["records"]) == ("published", "parquet", ROWS)
    assert _records(read_stream(broker, stream, subject=name)) == expected_rows(parquet_file)
    gets = _gets(standin, name)
    # The one streamed GET whose first bytes (or Content-Type) said Parquet, then ranges.
    assert gets[0].headers.get("range") is None
    lengths = _range_lengths(gets[1:])
    assert len(lengths) > 3
    assert max(lengths) < len(parquet_file) / 2


@pytest.mark.parametrize("codec", ["deflate", "snappy", "null"])
def test_an_avro_object_is_streamed_block_by_block_and_every_value_kept(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str, codec: str
) -> None:
    data = fastavro_file(codec, avro_rows(500), sync_interval=4000)
    assert len(data) > 5 * 4000  # several blocks
    name, answer = _publish(function, standin, "orders.avro", data)

    assert (answer["status"], answer["format"], answer["records"]) == ("published", "avro", 500)
    records = _records(read_stream(broker, stream, subject=name))
    assert records == [expected_avro(row) for row in read_back(data)]
    # Streamed, not ranged: one GET of the object, from its start.
    gets = _gets(standin, name)
    assert [r.headers.get("range") for r in gets] == [None]


# --- broken and hostile files -----------------------------------------------------------------


def _parquet_small() -> bytes:
    return parquet_bytes(sample_table(200), row_group_size=50)


def _footer_claims(data: bytes, length: int) -> bytes:
    return data[:-8] + struct.pack("<I", length) + b"PAR1"


def _avro_small(codec: str = "deflate") -> bytes:
    return fastavro_file(codec, avro_rows(300), sync_interval=2000)


def _avro_block_claims(data: bytes, count: int) -> bytes:
    """The first block's record count replaced by `count` (a zig-zag varint)."""
    buffer = io.BytesIO(data)
    fastavro.reader(buffer)  # reads the header: the buffer is at the first block
    start = end = buffer.tell()
    while data[end] & 0x80:
        end += 1
    number, varint = count << 1, bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        varint.append(byte | (0x80 if number else 0))
        if not number:
            return data[:start] + bytes(varint) + data[end + 1 :]


HOSTILE = {
    "parquet-truncated": ("cut.parquet", _parquet_small()[:-3000], "PAR1"),
    "parquet-footer-longer-than-the-file": (
        "long.parquet",
        _footer_claims(_parquet_small(), 10**9),
        "corrupt Parquet footer",
    ),
    "parquet-garbage-footer": (
        "garbage.parquet",
        _parquet_small()[:-2000] + b"\x13" * 1992 + struct.pack("<I", 1900) + b"PAR1",
        "corrupt Parquet footer",
    ),
    "parquet-magic-then-nothing": ("tiny.parquet", b"PAR1PAR1", "too short"),
    "avro-truncated": ("cut.avro", _avro_small()[:-500], "truncated Avro file"),
    "avro-bad-magic": ("bad.avro", b"Obj\x02" + _avro_small()[4:], "not an Avro"),
    "avro-huge-block-count": (
        "huge.avro",
        _avro_block_claims(_avro_small("null"), 10**15),
        "declares 1000000000000000 records",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=str)
def test_a_broken_or_hostile_file_ends_in_a_rejected_marker_with_the_reason(
    function: FdkServer, standin: OciStandIn, broker: Broker, stream: str, case: str
) -> None:
    name, data, reason = HOSTILE[case]
    name, answer = _publish(function, standin, name, data)

    assert answer["status"] == "rejected", answer
    assert reason in answer["reason"]
    messages = read_stream(broker, stream, subject=name)
    types = [m.type for m in messages]
    assert types[0] == "com.oraclecloud.objectstorage.createobject"
    assert types[-1] == "objstream.object.rejected"
    assert types.count("objstream.object.rejected") == 1
    assert "objstream.object.published" not in types
    assert reason in messages[-1].json()["reason"]
