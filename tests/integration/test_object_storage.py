"""OciObjectReader and oci_auth against the OCI stand-in: real SDK, real HTTP, real signatures."""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import hashlib
import io
import json
import os
import socket
import threading
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import oci
import pytest
import requests

from function.adapters.object_storage import OciObjectReader
from function.adapters.oci_sdk import oci_config_and_signer
from function.core.deadline import Deadline
from function.core.events import ObjectEvent, parse_event
from function.errors import (
    ConfigError,
    DeadlineExceeded,
    ObjectRejected,
    ObjectSkipped,
    ObjectStorageError,
    TransientError,
)
from function.ports import ObjectBody
from objstream.testing.oci_standin import (
    ApiKey,
    Fault,
    OciStandIn,
    make_api_key,
    object_path,
    write_oci_config,
)
from tests.integration.conftest import standin_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from function.settings import Settings

EVENTS = Path(__file__).resolve().parent.parent / "events"
NAMESPACE = "axaxnpcrorw5"
BUCKET = "uploads"
NAME = "incoming/2026/orders.csv"
ORDERS = b"order_id,customer,amount\r\n1001,ACME,12.50\r\n1002,Globex,7.25\r\n"


def event_for(name: str = NAME, *, etag: str | None = None) -> ObjectEvent:
    """The createobject sample, renamed: parsed like a real invocation body."""
    document = json.loads((EVENTS / "createobject.json").read_bytes())
    document["data"]["resourceName"] = name
    document["data"]["additionalDetails"]["eTag"] = etag
    return parse_event(json.dumps(document).encode())


def store(standin: OciStandIn, data: bytes = ORDERS, name: str = NAME, **options: str) -> str:
    return standin.put_object(NAMESPACE, BUCKET, name, data, **options)


def path_of(name: str = NAME) -> str:
    return object_path(NAMESPACE, BUCKET, name)


def build_reader(
    settings: Settings, *, read_timeout: float = 20.0, retry_base_sleep: float = 0.02
) -> OciObjectReader:
    """A reader for `settings`; short backoffs by default keep the suite fast."""
    config, signer = oci_config_and_signer(settings)
    return OciObjectReader(
        config,
        signer,
        endpoint=settings.object_storage_endpoint,
        read_timeout=read_timeout,
        retry_base_sleep=retry_base_sleep,
    )


@pytest.fixture
def reader(config_file_settings: Settings) -> Iterator[OciObjectReader]:
    """A reader signing with an API key from an ~/.oci/config, pointed at the stand-in."""
    with build_reader(config_file_settings) as built:
        yield built


@pytest.fixture
def each_auth_reader(oci_settings: Settings) -> Iterator[OciObjectReader]:
    """A reader per authentication mode (config_file, resource_principal)."""
    with build_reader(oci_settings) as built:
        yield built


def read_all(reader: OciObjectReader, event: ObjectEvent, seconds: float = 10.0) -> bytes:
    with reader.open(event, Deadline.in_seconds(seconds)) as body:
        return body.read()


# --- authentication -------------------------------------------------------------------------


def test_reads_the_event_version_with_a_verified_signature(
    oci_standin: OciStandIn,
    each_auth_reader: OciObjectReader,
    oci_settings: Settings,
    api_key: ApiKey,
) -> None:
    etag = store(oci_standin, content_type="text/csv")

    with each_auth_reader.open(event_for(etag=etag), Deadline.in_seconds(10)) as body:
        data = body.read()
        metadata = (body.etag, body.content_length, body.content_type, body.content_encoding)

    assert data == ORDERS
    assert metadata == (etag, len(ORDERS), "text/csv", None)
    assert oci_standin.rejected == 0
    headers = oci_standin.last_headers(path_of())
    assert headers["if-match"] == etag
    key_id = _key_id(headers["authorization"])
    if oci_settings.oci_auth.value == "resource_principal":
        assert key_id.startswith("ST$")
    else:
        assert key_id == api_key.key_id


def _key_id(authorization: str) -> str:
    return authorization.split('keyId="', 1)[1].split('"', 1)[0]


def test_an_unregistered_api_key_is_rejected(oci_standin: OciStandIn, tmp_path: Path) -> None:
    store(oci_standin)
    stranger = make_api_key(user="ocid1.user.oc1..aaaaaaaastranger")
    settings = standin_settings(
        oci_standin,
        OCI_AUTH="config_file",
        OCI_CONFIG_FILE=str(write_oci_config(tmp_path, stranger)),
    )
    config, signer = oci_config_and_signer(settings)

    with (
        OciObjectReader.from_settings(settings, config, signer) as reader,
        pytest.raises(ObjectStorageError, match="401 NotAuthenticated"),
    ):
        reader.open(event_for(), Deadline.in_seconds(5))

    assert oci_standin.rejected == 1
    assert "unknown keyId" in oci_standin.rejections[0]


def test_a_session_key_that_does_not_match_the_token_is_rejected(
    oci_standin: OciStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(oci_standin)
    env = oci_standin.resource_principal_env(tmp_path)
    impostor = tmp_path / "impostor.pem"
    impostor.write_bytes(make_api_key().private_pem)
    env["OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"] = str(impostor)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = standin_settings(oci_standin, OCI_AUTH="resource_principal")
    config, signer = oci_config_and_signer(settings)

    with (
        OciObjectReader.from_settings(settings, config, signer) as reader,
        pytest.raises(ObjectStorageError, match="401"),
    ):
        reader.open(event_for(), Deadline.in_seconds(5))

    # The SDK refreshes a resource principal token once after a 401, then gives up.
    assert oci_standin.rejections
    assert all("does not match" in reason for reason in oci_standin.rejections)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param("unsigned", id="unsigned"),
        pytest.param("path", id="signed-for-another-path"),
        pytest.param("stale-date", id="date-ten-minutes-old"),
        pytest.param("signature", id="signature-bytes-flipped"),
    ],
)
def test_the_standin_refuses_requests_not_signed_as_oci_signs(
    oci_standin: OciStandIn, config_file_settings: Settings, tamper: str
) -> None:
    store(oci_standin)
    _, signer = oci_config_and_signer(config_file_settings)
    url = f"{oci_standin.url}/n/{NAMESPACE}/b/{BUCKET}/o/incoming%2F2026%2Forders.csv"
    headers = {}
    if tamper == "stale-date":
        headers["date"] = email.utils.formatdate(time.time() - 600, usegmt=True)
    prepared = requests.Request("GET", url, headers=headers).prepare()
    if tamper != "unsigned":
        signer(prepared)
    if tamper == "path":
        prepared.url = url.replace("orders.csv", "other.csv")
    if tamper == "signature":
        authorization = str(prepared.headers["authorization"])
        prepared.headers["authorization"] = authorization.replace(
            'signature="', 'signature="AAAA', 1
        )

    with requests.Session() as session:
        response = session.send(prepared, timeout=5)

    assert response.status_code == 401
    assert response.json()["code"] == "NotAuthenticated"
    assert oci_standin.rejected == 1


def test_the_same_request_signed_properly_is_accepted(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    """The control for the tampering test: only the tampering made the difference."""
    store(oci_standin)
    _, signer = oci_config_and_signer(config_file_settings)
    url = f"{oci_standin.url}/n/{NAMESPACE}/b/{BUCKET}/o/incoming%2F2026%2Forders.csv"
    prepared = requests.Request("GET", url).prepare()
    signer(prepared)

    with requests.Session() as session:
        response = session.send(prepared, timeout=5)

    assert response.status_code == 200
    assert response.content == ORDERS
    assert oci_standin.rejected == 0


def test_resource_principal_without_its_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, oci_standin: OciStandIn
) -> None:
    monkeypatch.delenv("OCI_RESOURCE_PRINCIPAL_VERSION", raising=False)
    settings = standin_settings(oci_standin, OCI_AUTH="resource_principal")

    with pytest.raises(ConfigError, match="OCI_RESOURCE_PRINCIPAL_VERSION is not set"):
        oci_config_and_signer(settings)


def test_resource_principal_with_an_unreadable_key_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, oci_standin: OciStandIn, tmp_path: Path
) -> None:
    for name, value in oci_standin.resource_principal_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM", str(tmp_path / "missing.pem"))
    settings = standin_settings(oci_standin, OCI_AUTH="resource_principal")

    with pytest.raises(ConfigError, match="could not load the resource principal"):
        oci_config_and_signer(settings)


def test_resource_principal_token_from_a_file_is_used(
    monkeypatch: pytest.MonkeyPatch, oci_standin: OciStandIn, tmp_path: Path
) -> None:
    for name, value in oci_standin.resource_principal_env(tmp_path, token_in_file=True).items():
        monkeypatch.setenv(name, value)
    settings = standin_settings(oci_standin, OCI_AUTH="resource_principal")
    config, signer = oci_config_and_signer(settings)
    store(oci_standin)

    with OciObjectReader.from_settings(settings, config, signer) as reader:
        assert read_all(reader, event_for()) == ORDERS
    assert config["region"] == "us-ashburn-1"
    assert oci_standin.rejected == 0


def test_a_session_token_profile_is_used(
    oci_standin: OciStandIn, api_key: ApiKey, tmp_path: Path
) -> None:
    """A profile made by `oci session authenticate` signs with `ST$<token>`."""
    config_file = write_oci_config(tmp_path, api_key)
    token_file = tmp_path / "token"
    token_file.write_text(oci_standin.forge_session_token(api_key.private_key), encoding="ascii")
    with config_file.open("a", encoding="utf-8") as config:
        config.write(f"security_token_file={token_file}\n")
    settings = standin_settings(
        oci_standin, OCI_AUTH="config_file", OCI_CONFIG_FILE=str(config_file)
    )
    store(oci_standin)

    with build_reader(settings) as reader:
        assert read_all(reader, event_for()) == ORDERS
    assert _key_id(oci_standin.last_headers(path_of())["authorization"]).startswith("ST$")
    assert oci_standin.rejected == 0


@pytest.mark.parametrize(
    ("write", "profile", "message"),
    [
        pytest.param(None, "DEFAULT", "does not exist", id="no-file"),
        pytest.param(
            "[DEFAULT]\nregion=us-ashburn-1\n",
            "ADMIN",
            "Profile 'ADMIN' not found",
            id="no-profile",
        ),
        pytest.param(
            "[DEFAULT]\nregion=us-ashburn-1\n", "DEFAULT", "'tenancy': 'missing'", id="keys-missing"
        ),
    ],
)
def test_a_bad_config_file_is_a_config_error_naming_it(
    tmp_path: Path, oci_standin: OciStandIn, write: str | None, profile: str, message: str
) -> None:
    config_file = tmp_path / "config"
    if write is not None:
        config_file.write_text(write, encoding="utf-8")
    settings = standin_settings(
        oci_standin,
        OCI_AUTH="config_file",
        OCI_CONFIG_FILE=str(config_file),
        OCI_CONFIG_PROFILE=profile,
    )

    with pytest.raises(ConfigError, match=message) as caught:
        oci_config_and_signer(settings)

    assert f"OCI_CONFIG_FILE={config_file}" in str(caught.value)


def test_instance_principal_off_oci_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, oci_standin: OciStandIn
) -> None:
    # The stand-in answers the metadata service's URLs with 401, as nothing here is an instance.
    monkeypatch.setenv("OCI_METADATA_BASE_URL", f"{oci_standin.url}/opc/v2")
    settings = standin_settings(oci_standin, OCI_AUTH="instance_principal")

    with pytest.raises(ConfigError, match="instance metadata service"):
        oci_config_and_signer(settings)


# --- versions: If-Match and missing objects --------------------------------------------------


def test_an_object_overwritten_since_the_event_is_skipped(
    oci_standin: OciStandIn, each_auth_reader: OciObjectReader
) -> None:
    store(oci_standin)  # the current version has a new eTag

    with pytest.raises(ObjectSkipped) as caught:
        each_auth_reader.open(
            event_for(etag="f8ffb6e9-f602-460f-a6c0-00b5abfa24c7"), Deadline.in_seconds(5)
        )

    assert caught.value.reason == (
        "object was overwritten since the event (eTag f8ffb6e9-f602-460f-a6c0-00b5abfa24c7); "
        "a later event covers the new version"
    )
    assert oci_standin.request_count(path_of()) == 1  # a 412 is not retried


def test_an_object_deleted_since_the_event_is_skipped(
    oci_standin: OciStandIn, each_auth_reader: OciObjectReader
) -> None:
    oci_standin.create_bucket(NAMESPACE, BUCKET)

    with pytest.raises(ObjectSkipped) as caught:
        each_auth_reader.open(
            event_for(etag="f8ffb6e9-f602-460f-a6c0-00b5abfa24c7"), Deadline.in_seconds(5)
        )

    assert caught.value.reason == "object no longer exists"


def test_a_bucket_that_cannot_be_read_is_an_error_not_a_skip(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    """Object Storage says BucketNotFound when a policy is missing: never skip silently."""
    with pytest.raises(ObjectStorageError, match=r"404 BucketNotFound.*IAM policy"):
        reader.open(event_for(), Deadline.in_seconds(5))


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        pytest.param(
            Fault(status=409, code="NotRestored"),
            ObjectRejected,
            "Archive storage tier",
            id="archived-object-is-rejected",
        ),
        pytest.param(
            Fault(status=403), ObjectStorageError, "403 NotAuthorized", id="forbidden-is-an-error"
        ),
        pytest.param(
            Fault(status=400, code="InvalidParameter"),
            ObjectStorageError,
            "400 InvalidParameter",
            id="bad-request-is-an-error",
        ),
    ],
)
def test_answers_that_retrying_cannot_change_are_not_retried(
    oci_standin: OciStandIn,
    reader: OciObjectReader,
    fault: Fault,
    error: type[Exception],
    message: str,
) -> None:
    store(oci_standin)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, fault)

    with pytest.raises(error, match=message):
        reader.open(event_for(), Deadline.in_seconds(5))

    assert oci_standin.request_count(path_of()) == 1


def test_an_empty_object_reads_as_empty(oci_standin: OciStandIn, reader: OciObjectReader) -> None:
    etag = store(oci_standin, b"")

    with reader.open(event_for(etag=etag), Deadline.in_seconds(5)) as body:
        assert body.content_length == 0
        assert body.read() == b""


def test_an_event_without_an_etag_reads_the_current_version(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin)

    with reader.open(event_for(etag=None), Deadline.in_seconds(5)) as body:
        assert body.read() == ORDERS
        assert body.etag == etag
    assert "if-match" not in oci_standin.last_headers(path_of())


# --- retries and the deadline ---------------------------------------------------------------


def test_throttling_and_server_errors_are_retried(
    oci_standin: OciStandIn, each_auth_reader: OciObjectReader
) -> None:
    etag = store(oci_standin)
    oci_standin.fail_object(
        NAMESPACE,
        BUCKET,
        NAME,
        Fault(status=429, retry_after=0.2),
        Fault(status=500),
        Fault(status=503),
    )

    assert read_all(each_auth_reader, event_for(etag=etag)) == ORDERS
    assert oci_standin.request_count(path_of()) == 4
    assert oci_standin.pending_faults(path_of()) == 0


def test_persistent_unavailability_gives_up_before_the_deadline(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    store(oci_standin)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, *[Fault(status=503)] * 1000)
    started = time.monotonic()

    with (
        build_reader(config_file_settings, retry_base_sleep=0.25) as reader,
        pytest.raises(ObjectStorageError, match="503 ServiceUnavailable") as caught,
    ):
        reader.open(event_for(), Deadline.in_seconds(3))

    elapsed = time.monotonic() - started
    assert elapsed < 3.5
    assert "attempts" in str(caught.value)
    assert oci_standin.request_count(path_of()) >= 2


def test_an_unreachable_endpoint_is_an_object_storage_error(
    config_file_settings: Settings,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = dataclasses.replace(
        config_file_settings, object_storage_endpoint=f"http://127.0.0.1:{port}"
    )
    started = time.monotonic()

    with (
        build_reader(settings) as reader,
        pytest.raises(ObjectStorageError, match=r"could not read .* after \d+ attempts"),
    ):
        reader.open(event_for(), Deadline.in_seconds(1))

    assert time.monotonic() - started < 1


def test_a_passed_deadline_sends_nothing(oci_standin: OciStandIn, reader: OciObjectReader) -> None:
    store(oci_standin)

    with pytest.raises(DeadlineExceeded):
        reader.open(event_for(), Deadline.in_seconds(-1))

    assert oci_standin.request_count(path_of()) == 0


def test_a_server_that_does_not_answer_is_cut_off_at_the_deadline(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    store(oci_standin)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, Fault(delay=30))
    started = time.monotonic()

    with pytest.raises(TransientError):
        reader.open(event_for(), Deadline.in_seconds(1))

    assert time.monotonic() - started < 1.5


# --- streaming and resuming -----------------------------------------------------------------


def test_a_connection_dropped_mid_body_is_resumed_from_the_bytes_read(
    oci_standin: OciStandIn, each_auth_reader: OciObjectReader
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    etag = store(oci_standin, data)
    oci_standin.fail_object(
        NAMESPACE, BUCKET, NAME, Fault(drop_after=1_000_000), Fault(drop_after=500_000)
    )

    with each_auth_reader.open(event_for(etag=etag), Deadline.in_seconds(10)) as body:
        chunks = list(iter(lambda: body.read(64 * 1024), b""))

    assert b"".join(chunks) == data
    gets = oci_standin.requests_to(path_of())
    assert [request.headers.get("range") for request in gets] == [
        None,
        "bytes=1000000-",
        "bytes=1500000-",
    ]
    assert {request.headers["if-match"] for request in gets} == {etag}


def test_a_stalled_body_times_out_and_resumes(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    etag = store(oci_standin, data)
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, Fault(drop_after=300_000, stall=30))
    started = time.monotonic()

    with (
        build_reader(config_file_settings, read_timeout=0.5) as reader,
        reader.open(event_for(etag=etag), Deadline.in_seconds(10)) as body,
    ):
        assert body.read() == data

    assert time.monotonic() - started < 3
    assert oci_standin.last_headers(path_of())["range"] == "bytes=300000-"


def test_a_connection_that_keeps_dropping_is_given_up(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, os.urandom(100_000))
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, *[Fault(drop_after=1000)] * 10)

    with reader.open(event_for(etag=etag), Deadline.in_seconds(10)) as body:
        with pytest.raises(
            ObjectStorageError, match=r"dropped 6 times.*gave up at byte 6000 of 100000"
        ):
            body.read()
        # A decoder that swallowed the error must not see the object end where it broke.
        with pytest.raises(ObjectStorageError, match="dropped 6 times"):
            body.read(10)


def test_an_object_overwritten_while_resuming_is_skipped(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, os.urandom(3 * 1024 * 1024))
    oci_standin.fail_object(NAMESPACE, BUCKET, NAME, Fault(drop_after=2 * 1024 * 1024))

    with reader.open(event_for(etag=etag), Deadline.in_seconds(10)) as body:
        assert len(body.read(100)) == 100
        store(oci_standin, b"a new version")
        with pytest.raises(ObjectSkipped, match="overwritten"):
            body.read()


def test_the_body_is_passed_on_undecoded_and_works_as_a_binary_stream(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    compressed = gzip.compress(ORDERS)
    etag = store(oci_standin, compressed, content_type="text/csv", content_encoding="gzip")

    with reader.open(event_for(etag=etag), Deadline.in_seconds(5)) as body:
        assert body.content_encoding == "gzip"
        text = io.TextIOWrapper(gzip.GzipFile(fileobj=body), encoding="utf-8", newline="")
        lines = text.readlines()

    assert lines == ["order_id,customer,amount\r\n", "1001,ACME,12.50\r\n", "1002,Globex,7.25\r\n"]


def test_a_body_closed_early_releases_its_connection(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    etag = store(oci_standin, os.urandom(4 * 1024 * 1024))

    body = reader.open(event_for(etag=etag), Deadline.in_seconds(5))
    assert len(body.read(10)) == 10
    body.close()

    assert body.closed
    assert len(read_all(reader, event_for(etag=etag))) == 4 * 1024 * 1024


def test_one_reader_serves_many_invocations(
    oci_standin: OciStandIn, reader: OciObjectReader
) -> None:
    for index in range(5):
        name = f"incoming/2026/part-{index}.csv"
        etag = store(oci_standin, f"part {index}\n".encode(), name=name)
        assert read_all(reader, event_for(name, etag=etag)) == f"part {index}\n".encode()


def test_a_50_mb_object_streams_in_bounded_memory(
    oci_standin: OciStandIn, reader: OciObjectReader, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    expected = hashlib.sha256()
    with source.open("wb") as file:
        for _ in range(50):
            chunk = os.urandom(1024 * 1024)
            expected.update(chunk)
            file.write(chunk)
    etag = oci_standin.put_object_file(NAMESPACE, BUCKET, NAME, source)
    received = hashlib.sha256()

    tracemalloc.start()
    try:
        with reader.open(event_for(etag=etag), Deadline.in_seconds(30)) as body:
            while chunk := body.read(256 * 1024):
                received.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert received.hexdigest() == expected.hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while streaming 50 MiB"


# --- object names ---------------------------------------------------------------------------


# Each name has a decoy whose name is what a wrong decoding would produce.
@pytest.mark.parametrize(
    ("name", "decoy"),
    [
        pytest.param(
            "reports/Q1 2026/sales report.csv", "reports/Q1+2026/sales+report.csv", id="space"
        ),
        pytest.param("prices/a+b.csv", "prices/a b.csv", id="plus"),
        pytest.param("growth/100%.csv", "growth/100.csv", id="percent"),
        pytest.param("literal/%41%2F.csv", "literal/A/.csv", id="percent-escape-literal"),
        pytest.param("Zürich/東京 ünïcödé.csv", "Zurich/.csv", id="unicode"),
        pytest.param("odd/what?#[x].csv", "odd/what", id="query-and-fragment-characters"),
        pytest.param("dots/../up.csv", "up.csv", id="dot-segment"),
        pytest.param("double//slash.csv", "double/slash.csv", id="double-slash"),
    ],
)
def test_object_names_reach_object_storage_verbatim(
    oci_standin: OciStandIn, reader: OciObjectReader, name: str, decoy: str
) -> None:
    etag = store(oci_standin, name.encode(), name=name)
    store(oci_standin, b"decoy", name=decoy)

    assert read_all(reader, event_for(name, etag=etag)) == name.encode()
    assert oci_standin.request_count(path_of(name)) == 1


@pytest.mark.parametrize(
    ("byte_range", "status", "expected"),
    [
        pytest.param("bytes=0-4", 206, ORDERS[:5], id="first-bytes"),
        pytest.param("bytes=10-", 206, ORDERS[10:], id="open-ended"),
        pytest.param("bytes=20-29", 206, ORDERS[20:30], id="middle"),
        pytest.param("bytes=-6", 206, ORDERS[-6:], id="suffix"),
        pytest.param("bytes=5-99999", 206, ORDERS[5:], id="past-the-end"),
    ],
)
def test_the_standin_serves_byte_ranges(
    oci_standin: OciStandIn,
    config_file_settings: Settings,
    byte_range: str,
    status: int,
    expected: bytes,
) -> None:
    store(oci_standin)
    config, signer = oci_config_and_signer(config_file_settings)
    client = oci.object_storage.ObjectStorageClient(
        config, signer=signer, service_endpoint=oci_standin.url
    )
    try:
        response = client.get_object(NAMESPACE, BUCKET, NAME, range=byte_range)
        body = response.data.content
    finally:
        client.base_client.session.close()

    assert (response.status, body) == (status, expected)
    first = ORDERS.index(expected)
    assert response.headers["content-range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(ORDERS)}"
    )


def test_the_standin_refuses_a_range_past_the_end(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    store(oci_standin)
    config, signer = oci_config_and_signer(config_file_settings)
    client = oci.object_storage.ObjectStorageClient(
        config, signer=signer, service_endpoint=oci_standin.url
    )
    try:
        with pytest.raises(oci.exceptions.ServiceError) as caught:
            client.get_object(
                NAMESPACE,
                BUCKET,
                NAME,
                range="bytes=9999-",
                retry_strategy=oci.retry.NoneRetryStrategy(),
            )
    finally:
        client.base_client.session.close()

    assert caught.value.status == 416


def test_object_body_from_bytes_serves_fakes() -> None:
    body = ObjectBody.from_bytes(b"a\nb\n", etag="e1", content_type="text/plain")

    with body:
        assert body.readline() == b"a\n"
        assert body.read() == b"b\n"
        assert (body.etag, body.content_length, body.content_type) == ("e1", 4, "text/plain")
    assert body.closed


def test_the_sdk_signs_the_request_the_standin_receives(
    oci_standin: OciStandIn, config_file_settings: Settings
) -> None:
    """Plain SDK call, no objstream code: the stand-in is a faithful target for the SDK."""
    store(oci_standin)
    config, signer = oci_config_and_signer(config_file_settings)
    client = oci.object_storage.ObjectStorageClient(
        config, signer=signer, service_endpoint=oci_standin.url
    )
    try:
        response = client.head_object(NAMESPACE, BUCKET, NAME)
    finally:
        client.base_client.session.close()

    assert response.status == 200
    assert int(response.headers["content-length"]) == len(ORDERS)
    assert oci_standin.rejected == 0


def test_the_standin_leaves_no_thread_or_port_behind(api_key: ApiKey, tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    standin = OciStandIn().start()
    standin.register_api_key(api_key)
    settings = standin_settings(
        standin, OCI_AUTH="config_file", OCI_CONFIG_FILE=str(write_oci_config(tmp_path, api_key))
    )
    store(standin)
    port = int(standin.url.rsplit(":", 1)[1])
    with build_reader(settings) as reader:
        assert read_all(reader, event_for()) == ORDERS
        standin.close()  # while the client still keeps its connection alive

    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
