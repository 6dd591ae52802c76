"""`objstream backfill`: a bucket's existing objects, listed with the real oci SDK and sent on.

Object Storage and Functions are the signature-checking stand-in (ListObjects pages of two,
so every listing here is paged); the stream is the real broker. `--local` publishes in the
CLI's process; `--function-ocid` hands segment 1 of a detached chain to the objstream
function served by fdk, as OCI would deliver it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from function.core.continuation import parse_continuation
from objstream.fn_server import FUNC_PY, PACKAGE_ROOT
from objstream.testing.fdk_server import FdkServer
from objstream.testing.functions_standin import invoke_path
from objstream.testing.oci_standin import NAMESPACE, OciStandIn, object_path
from objstream.testing.scenario import read_stream
from tests.cli.running import Ran, run_objstream, stream_settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from objstream.testing.brokers import Broker

pytestmark = pytest.mark.broker

FUNCTION = "ocid1.fnfunc.oc1.iad.aaaaaaaabackfillbackfillbackfillbackfillback"
CSV = b"id,name\r\n1,ada\r\n2,grace\r\n"


@pytest.fixture(scope="module")
def standin() -> Iterator[OciStandIn]:
    with OciStandIn(list_page_size=2) as running:
        yield running


@pytest.fixture
def bucket(standin: OciStandIn) -> str:
    name = f"backfill-{uuid.uuid4().hex[:8]}"
    standin.create_bucket(NAMESPACE, name)
    return name


@pytest.fixture
def env(stream_env: dict[str, str], standin: OciStandIn, tmp_path: Path) -> dict[str, str]:
    """A workstation: the test broker, an API key for the stand-in, its endpoints."""
    return {
        **stream_env,
        **standin.function_env(tmp_path / "oci", auth="config_file"),
        "FUNCTIONS_ENDPOINT": standin.url,
    }


def _upload(standin: OciStandIn, bucket: str, names: list[str]) -> dict[str, str]:
    """Objects with two CSV rows each; their eTags by name."""
    return {name: standin.put_object(NAMESPACE, bucket, name, CSV) for name in names}


def _json_lines(ran: Ran) -> list[dict[str, object]]:
    assert ran.code == 0, ran.output
    return [json.loads(line) for line in ran.stdout.splitlines()]


def _backfill(env: dict[str, str], bucket: str, *args: str, timeout: float = 90) -> Ran:
    return run_objstream("backfill", "--bucket", bucket, *args, env=env, timeout=timeout)


def _names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}/part-{i:02d}.csv" for i in range(count)]


def test_local_wait_publishes_every_object_and_a_rerun_gives_the_same_ids(
    env: dict[str, str], standin: OciStandIn, bucket: str, broker: Broker, cli_topic: str
) -> None:
    names = _names(uuid.uuid4().hex[:8], 5)
    etags = _upload(standin, bucket, names)
    first = _json_lines(_backfill(env, bucket, "--local", "--wait", "--json"))
    assert [r["object"] for r in first] == names
    assert {r["status"] for r in first} == {"published"}
    assert [r["eTag"] for r in first] == [etags[n] for n in names]
    assert all(r["records"] == 2 for r in first)

    def ids() -> Counter[tuple[str, str, str]]:
        return Counter(
            (m.subject, m.type, m.id) for m in read_stream(broker, cli_topic) if m.subject in names
        )

    once = ids()
    assert sum(1 for _, kind, _ in once if kind == "objstream.object.published") == 5
    assert sum(1 for _, kind, _ in once if kind == "objstream.record") == 10
    second = _json_lines(_backfill(env, bucket, "--local", "--wait", "--json"))
    assert {r["status"] for r in second} == {"published"}
    twice = ids()
    # Every message of the re-run repeats one of the first run, id for id (the event's too).
    assert set(twice) == set(once)
    assert all(count == 2 for count in twice.values())


def test_a_table_sums_up_without_json(
    env: dict[str, str], standin: OciStandIn, bucket: str
) -> None:
    names = _names(uuid.uuid4().hex[:8], 3)
    _upload(standin, bucket, names)
    ran = _backfill(env, bucket, "--local")
    assert ran.code == 0, ran.output
    assert f"backfill {NAMESPACE}/{bucket}" in ran.stdout  # the namespace from GetNamespace
    assert "3 files" in ran.stdout
    assert "3 published" in ran.stdout


def test_prefix_and_after_choose_the_objects(
    env: dict[str, str], standin: OciStandIn, bucket: str
) -> None:
    wanted = _names("in", 5)
    _upload(standin, bucket, [*wanted, "other/a.csv", "inbox.csv"])
    listed = _json_lines(_backfill(env, bucket, "--dry-run", "--json", "--prefix", "in/"))
    assert [r["object"] for r in listed] == wanted
    after = _json_lines(
        _backfill(env, bucket, "--dry-run", "--json", "--prefix", "in/", "--after", wanted[1])
    )
    assert [r["object"] for r in after] == wanted[2:]
    every = _json_lines(_backfill(env, bucket, "--dry-run", "--json"))
    assert [r["object"] for r in every] == sorted([*wanted, "other/a.csv", "inbox.csv"])


def test_since_keeps_only_recently_modified_objects(
    env: dict[str, str], standin: OciStandIn, bucket: str
) -> None:
    old, new = ["2025/old-1.csv", "2025/old-2.csv"], ["2026/new-1.csv", "2026/new-2.csv"]
    _upload(standin, bucket, [*old, *new])
    for name in old:
        standin.set_modified(NAMESPACE, bucket, name, time.time() - 3 * 86400)
    recent = _json_lines(_backfill(env, bucket, "--dry-run", "--json", "--since", "2d"))
    assert [r["object"] for r in recent] == new
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 4 * 86400))
    since_stamp = _json_lines(_backfill(env, bucket, "--dry-run", "--json", "--since", stamp))
    assert [r["object"] for r in since_stamp] == [*old, *new]


def test_dry_run_sends_nothing(
    env: dict[str, str], standin: OciStandIn, bucket: str, broker: Broker, cli_topic: str
) -> None:
    names = _names(uuid.uuid4().hex[:8], 3)
    _upload(standin, bucket, names)
    listed = _json_lines(_backfill(env, bucket, "--dry-run", "--json", "--local"))
    assert {r["status"] for r in listed} == {"would send"}
    assert all(standin.request_count(object_path(NAMESPACE, bucket, n)) == 0 for n in names)
    assert not [m for m in read_stream(broker, cli_topic) if m.subject in names]


@pytest.fixture(scope="module")
def objstream_function(
    standin: OciStandIn, broker: Broker, cli_topic: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FdkServer]:
    """The objstream function served by fdk, registered with the stand-in as FUNCTION."""
    work = tmp_path_factory.mktemp("fn")
    function_env = {
        **standin.function_env(work / "oci", auth="resource_principal"),
        **stream_settings(broker, cli_topic),
        "FUNCTION_OCID": FUNCTION,
        "FUNCTIONS_ENDPOINT": standin.url,
    }
    with FdkServer(FUNC_PY, function_env, work, pythonpath=str(PACKAGE_ROOT)) as server:
        standin.register_function(FUNCTION, server.socket_path, detached_timeout_seconds=600)
        yield server


def test_through_the_function_each_object_is_segment_1_of_a_detached_chain(
    env: dict[str, str], standin: OciStandIn, bucket: str, objstream_function: FdkServer
) -> None:
    names = _names(uuid.uuid4().hex[:8], 3)
    etags = _upload(standin, bucket, names)
    before = len(standin.deliveries)
    sent = _json_lines(_backfill(env, bucket, "--function-ocid", FUNCTION, "--json"))
    assert {r["status"] for r in sent} == {"sent"}
    delivered = standin.wait_for_deliveries(before + 3, timeout=30)[before:]
    assert all(d.detached for d in delivered)
    segments = [parse_continuation(json.loads(d.body)) for d in delivered]
    assert {(s.event.object_name, s.event.etag) for s in segments} == set(etags.items())
    assert {(s.segment, s.next_index, s.attempt) for s in segments} == {(1, 0, 1)}
    assert standin.last_headers(invoke_path(FUNCTION))["fn-invoke-type"] == "detached"
    assert standin.rejected == 0, standin.rejections


def test_through_the_function_small_objects_are_published_in_segment_1(
    env: dict[str, str],
    standin: OciStandIn,
    bucket: str,
    objstream_function: FdkServer,
    broker: Broker,
    cli_topic: str,
) -> None:
    names = _names(uuid.uuid4().hex[:8], 3)
    _upload(standin, bucket, names)
    ran = _backfill(
        env, bucket, "--function-ocid", FUNCTION, "--wait", "--wait-timeout", "20", "--json"
    )
    results = _json_lines(ran)
    assert {r["status"] for r in results} == {"published"}, objstream_function.log()[-2000:]
    markers = [
        m
        for m in read_stream(broker, cli_topic)
        if m.subject in names and m.type == "objstream.object.published"
    ]
    assert len(markers) == 3


def test_an_unknown_function_is_one_error_line_naming_the_policy(
    env: dict[str, str], standin: OciStandIn, bucket: str
) -> None:
    _upload(standin, bucket, ["a.csv"])
    missing = "ocid1.fnfunc.oc1.iad.aaaaaaaanosuchbackfillfunction"
    ran = _backfill(env, bucket, "--function-ocid", missing)
    assert ran.code == 1
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("objstream: error: ")
    assert "404 NotAuthorizedOrNotFound" in line
    assert "read fn-function" in line
    assert missing in line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param([], "--function-ocid", id="no-way-to-send"),
        pytest.param(["--local", "--since", "yesterday"], "--since", id="bad-since"),
        pytest.param(["--local", "--since", "2026-11-01T10:00:00"], "time zone", id="naive-since"),
    ],
)
def test_a_user_error_is_one_line(
    env: dict[str, str], standin: OciStandIn, bucket: str, args: list[str], says: str
) -> None:
    _upload(standin, bucket, ["a.csv"])
    ran = _backfill(env, bucket, *args)
    assert ran.code == 1
    [line] = ran.stderr.strip().splitlines()
    assert line.startswith("objstream: error: ")
    assert says in line


def test_an_unknown_bucket_is_one_line_naming_what_to_check(env: dict[str, str]) -> None:
    ran = _backfill(env, "no-such-bucket", "--local")
    assert ran.code == 1
    [line] = ran.stderr.strip().splitlines()
    assert "404 BucketNotFound" in line
    assert "--bucket" in line


def test_local_and_function_together_are_bad_usage(env: dict[str, str]) -> None:
    ran = _backfill(env, "b", "--local", "--function-ocid", FUNCTION)
    assert ran.code == 2
    assert "not allowed with" in ran.stderr
