"""`OciObjectReader.open_ranged` against the OCI stand-in: real SDK, real HTTP, real signatures.

The ranged read Parquet objects take: a HeadObject for the size, then one GetObject per range,
every request with If-Match on the event's eTag, bounded by the invocation's deadline, and
resumed when a connection drops mid-range.
"""

from __future__ import annotations

import io
import os
import time
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest

from function.core.deadline import Deadline
from function.core.decoding.ranged import SeekableObject
from function.errors import DeadlineExceeded, ObjectSkipped, ObjectStorageError
from objstream.testing.oci_standin import Fault, OciStandIn
from objstream.testing.typed_files import parquet_bytes, sample_table
from tests.integration.test_object_storage import (
    BUCKET,
    NAME,
    NAMESPACE,
    build_reader,
    event_for,
    path_of,
    store,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from function.adapters.object_storage import OciObjectReader
    from function.settings import Settings

DATA = os.urandom(2 * 1024 * 1024)
PASS = Fault()  # the HeadObject's turn in a path's fault queue: answered as usual


@pytest.fixture
def reader(config_file_settings: Settings) -> Iterator[OciObjectReader]:
    with build_reader(config_file_settings) as built:
        yield built


def ranges(standin: OciStandIn, name: str = NAME) -> list[tuple[str, str | None, str | None]]:
    """(method, Range, If-Match) of every request for the object, in order."""
    return [
        (request.method, request.headers.get("range"), request.headers.get("if-match"))
        for request in standin.requests_to(path_of(name))
    ]


def test_ranges_are_read_with_verified_signatures_and_if_match_on_every_request(
    oci_standin: OciStandIn, config_file_settings: Settings, oci_settings: Settings
) -> None:
    del config_file_settings  # registers the API key both authentication modes may need
    etag = store(oci_standin, DATA, content_type="application/vnd.apache.parquet")

    with (
        build_reader(oci_settings) as reader,
        reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(10)) as ranged,
    ):
        assert (ranged.size, ranged.etag) == (len(DATA), etag)
        assert ranged.content_type == "application/vnd.apache.parquet"
        assert ranged.read(len(DATA) - 8, 8) == DATA[-8:]
        assert ranged.read(1000, 300_000) == DATA[1000:301_000]
        assert ranged.read(len(DATA) - 5, 100) == DATA[-5:]  # cut at the object's end

    assert ranges(oci_standin) == [
        ("HEAD", None, etag),
        ("GET", f"bytes={len(DATA) - 8}-{len(DATA) - 1}", etag),
        ("GET", "bytes=1000-300999", etag),
        ("GET", f"bytes={len(DATA) - 5}-{len(DATA) - 1}", etag),
    ]
    assert all(request.authenticated for request in oci_standin.requests_to(path_of()))
    assert oci_standin.rejected == 0
    assert (ranged.requests, ranged.bytes_read) == (3, 8 + 300_000 + 5)


def test_an_object_overwritten_since_the_event_is_skipped_at_the_head(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    store(oci_standin, DATA)

    with pytest.raises(ObjectSkipped, match="overwritten since the event"):
        reader.open_ranged(event_for(etag="an-older-etag"), Deadline.in_seconds(5))

    assert ranges(oci_standin) == [("HEAD", None, "an-older-etag")]  # a 412 is not retried


def test_an_object_overwritten_between_two_range_reads_is_skipped(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, DATA)

    with reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(5)) as ranged:
        assert ranged.read(0, 1000) == DATA[:1000]
        store(oci_standin, os.urandom(len(DATA)))  # same size, new version
        with pytest.raises(ObjectSkipped, match=f"overwritten since the event \\(eTag {etag}\\)"):
            ranged.read(1000, 1000)

    assert [method for method, _, _ in ranges(oci_standin)] == ["HEAD", "GET", "GET"]


def test_an_object_deleted_since_the_event_is_skipped(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    oci_standin.create_bucket(NAMESPACE, BUCKET)

    with pytest.raises(ObjectSkipped, match="object no longer exists"):
        reader.open_ranged(event_for(etag="gone"), Deadline.in_seconds(5))

    # The HEAD's 404 has no body; the GET's says ObjectNotFound.
    assert [method for method, _, _ in ranges(oci_standin)] == ["HEAD", "GET"]


def test_a_bucket_that_cannot_be_read_is_an_error_not_a_skip(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    """No bucket, or no policy to read it: a 404 whose HEAD alone cannot tell it from a
    missing object. Skipping would silently drop every object of a misconfigured function."""
    with pytest.raises(ObjectStorageError, match=r"404 BucketNotFound.*IAM policy"):
        reader.open_ranged(event_for(), Deadline.in_seconds(5))

    assert [method for method, _, _ in ranges(oci_standin)] == ["HEAD", "GET"]


def test_a_head_404_whose_get_finds_the_object_reads_it(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, DATA)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, Fault(status=404, code="ObjectNotFound"))

    with reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(5)) as ranged:
        assert ranged.size == len(DATA)
        assert ranged.read(10, 10) == DATA[10:20]


def test_a_connection_dropped_mid_range_is_resumed_from_the_bytes_received(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, DATA)
    oci_standin.fail_object(
        NAMESPACE, BUCKET, NAME, PASS, Fault(drop_after=300_000), Fault(drop_after=200_000)
    )

    with reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(10)) as ranged:
        assert ranged.read(100_000, 1_000_000) == DATA[100_000:1_100_000]

    assert ranges(oci_standin) == [
        ("HEAD", None, etag),
        ("GET", "bytes=100000-1099999", etag),
        ("GET", "bytes=400000-1099999", etag),
        ("GET", "bytes=600000-1099999", etag),
    ]
    assert ranged.requests == 1  # one read for the decoder, whatever it took


def test_a_stalled_range_times_out_and_resumes(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    etag = store(oci_standin, DATA)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, PASS, Fault(drop_after=50_000, stall=30))
    started = time.monotonic()

    with (
        build_reader(config_file_settings, read_timeout=0.5) as reader,
        reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(10)) as ranged,
    ):
        assert ranged.read(0, 500_000) == DATA[:500_000]

    assert time.monotonic() - started < 5
    assert oci_standin.last_headers(path_of())["range"] == "bytes=50000-499999"


def test_a_range_whose_connection_keeps_dropping_is_given_up(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, DATA)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, PASS, *[Fault(drop_after=1000)] * 10)

    with (
        reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(10)) as ranged,
        pytest.raises(
            ObjectStorageError, match=r"dropped 6 times while reading bytes 0-99999 .*at byte 6000"
        ),
    ):
        ranged.read(0, 100_000)


def test_a_range_read_is_cut_off_at_the_deadline(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, DATA)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, PASS, Fault(delay=30))
    started = time.monotonic()

    with (
        reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(1.5)) as ranged,
        pytest.raises((DeadlineExceeded, ObjectStorageError)),
    ):
        ranged.read(0, 1000)

    assert time.monotonic() - started < 3


def test_a_passed_deadline_sends_no_request(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    store(oci_standin, DATA)

    with pytest.raises(DeadlineExceeded):
        reader.open_ranged(event_for(), Deadline.in_seconds(-1))

    assert oci_standin.request_count(path_of()) == 0


def test_pyarrow_reads_a_parquet_object_through_the_ranges(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    table = sample_table(4000)
    data = parquet_bytes(table, row_group_size=1000)
    etag = store(oci_standin, data)

    with reader.open_ranged(event_for(etag=etag), Deadline.in_seconds(10)) as ranged:
        parquet = pq.ParquetFile(SeekableObject(ranged), pre_buffer=True)
        assert parquet.metadata.num_row_groups == 4
        second = parquet.read_row_group(1)

    expected = pq.ParquetFile(io.BytesIO(data)).read_row_group(1)
    # NaN is not equal to itself: the float column compared apart, as text.
    assert second.drop_columns(["ratio"]).equals(expected.drop_columns(["ratio"]))
    assert str(second["ratio"]) == str(expected["ratio"])
    gets = [r for r in oci_standin.requests_to(path_of()) if r.method == "GET"]
    assert 2 <= len(gets) == ranged.requests
    assert ranged.bytes_read < len(data)  # the footer and one row group, not the whole object
    assert all(request.headers.get("range") for request in gets)
