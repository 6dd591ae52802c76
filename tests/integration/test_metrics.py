"""Each invocation's figures in OCI Monitoring: the real oci SDK against the stand-in's
PostMetricData, which checks resource-principal signatures (body included) and OCI's rules.

The runtime is the production wiring (`Runtime.for_oci`): Object Storage through the SDK
against the stand-in too; only the broker is a fake publisher (nothing here is about it).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from typing import TYPE_CHECKING

import oci
import pytest

from function.adapters.oci_sdk import oci_config_and_signer
from function.core.deadline import Deadline
from function.errors import ObjectStorageError
from function.runtime import Runtime
from function.settings import Settings
from objstream.oci_events import object_event_body
from objstream.testing.fakes import FakePublisher
from objstream.testing.oci_standin import (
    COMPARTMENT,
    FUNCTION,
    METRICS_PATH,
    Fault,
    OciStandIn,
    object_path,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"
RECORDS = b'{"id": 1}\n{"id": 2}\nnot json\n{"id": 3}\n'
METRIC_NAMES = {
    "records",
    "invalid_records",
    "bytes_read",
    "duration_ms",
    "lag_seconds",
    "segments",
    "handoffs",
}


@pytest.fixture
def standin() -> Iterator[OciStandIn]:
    with OciStandIn() as running:
        running.create_bucket(NAMESPACE, BUCKET)
        yield running


@pytest.fixture
def rp_env(standin: OciStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The function's environment in OCI Functions: its resource principal and FN_FN_ID."""
    variables = standin.resource_principal_env(tmp_path / "rp")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)  # the SDK's signer reads them from the environment
    return {
        **variables,
        "FN_FN_ID": FUNCTION,
        "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # the publisher is a fake
        "STREAM_TOPIC": "objstream",
        "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        "CONTINUATION": "off",
        "OCI_AUTH": "resource_principal",
        "OBJECT_STORAGE_ENDPOINT": standin.url,
        "MONITORING_ENDPOINT": standin.url,
    }


def runtime_for(env: dict[str, str], **extra: str) -> Runtime:
    settings = Settings.from_env({**env, **extra})
    return Runtime.for_oci(settings, publisher_factory=lambda _config: FakePublisher())


def upload(standin: OciStandIn, name: str, data: bytes = RECORDS, *, age: float = 30.0) -> bytes:
    """Store an object; its create event, `age` seconds old."""
    etag = standin.put_object(NAMESPACE, BUCKET, name, data)
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
    return object_event_body(NAMESPACE, BUCKET, name, etag, event_time=when)


def by_name(post: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(stream["name"]): stream for stream in post}


def value(stream: dict[str, object]) -> float:
    datapoints = stream["datapoints"]
    assert isinstance(datapoints, list)
    assert len(datapoints) == 1
    return float(datapoints[0]["value"])


def test_a_published_object_posts_one_call_with_every_figure(
    standin: OciStandIn, rp_env: dict[str, str]
) -> None:
    body = upload(standin, "in/orders.jsonl", age=30)

    outcome = runtime_for(rp_env).invoke(body, Deadline.in_seconds(20), call_id="c1")

    assert outcome.status == "published"
    assert len(standin.metric_posts) == 1
    streams = by_name(standin.metric_posts[0])
    assert set(streams) == METRIC_NAMES
    for stream in streams.values():
        assert stream["namespace"] == "objstream"
        assert stream["compartmentId"] == COMPARTMENT  # the RPST's res_compartment claim
        assert stream["dimensions"] == {"bucket": BUCKET, "outcome": "published"}
    assert value(streams["records"]) == 3
    assert value(streams["invalid_records"]) == 1
    assert value(streams["bytes_read"]) == len(RECORDS)
    assert value(streams["segments"]) == 1
    assert value(streams["handoffs"]) == 0
    assert 30 <= value(streams["lag_seconds"]) < 60
    assert 0 < value(streams["duration_ms"]) < 20_000
    assert streams["bytes_read"]["metadata"] == {"unit": "bytes"}
    assert streams["duration_ms"]["metadata"] == {"unit": "milliseconds"}


def test_the_post_is_signed_by_the_resource_principal_over_its_body(
    standin: OciStandIn, rp_env: dict[str, str]
) -> None:
    runtime_for(rp_env).invoke(upload(standin, "in/a.jsonl"), Deadline.in_seconds(20))

    [request] = standin.requests_to(METRICS_PATH)
    assert request.authenticated
    assert 'keyId="ST$' in request.headers["authorization"]
    assert "x-content-sha256" in request.headers["authorization"]
    assert standin.rejected == 0


@pytest.mark.parametrize(
    ("arrange", "outcome", "bucket"),
    [
        pytest.param("missing", "skipped", BUCKET, id="object-gone"),
        pytest.param("malformed", "error", "(none)", id="malformed-body"),
    ],
)
def test_answers_without_records_post_their_outcome(
    standin: OciStandIn, rp_env: dict[str, str], arrange: str, outcome: str, bucket: str
) -> None:
    if arrange == "missing":
        body = object_event_body(NAMESPACE, BUCKET, "in/gone.jsonl", "etag-1")
    else:
        body = b'{"eventType": 42}'

    answered = runtime_for(rp_env).invoke(body, Deadline.in_seconds(20))

    assert answered.status == outcome
    streams = by_name(standin.metric_posts[0])
    assert streams["records"]["dimensions"] == {"bucket": bucket, "outcome": outcome}
    assert value(streams["records"]) == 0
    assert ("lag_seconds" in streams) is (arrange == "missing")


def test_an_invocation_that_raises_still_posts_a_failed_datapoint(
    standin: OciStandIn, rp_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name = "in/unreadable.jsonl"
    body = upload(standin, name)
    standin.fail_object(NAMESPACE, BUCKET, name, *[Fault(status=500)] * 50)

    with caplog.at_level(logging.INFO), pytest.raises(ObjectStorageError):
        runtime_for(rp_env).invoke(body, Deadline.in_seconds(3))

    streams = by_name(standin.metric_posts[0])
    assert streams["records"]["dimensions"] == {"bucket": BUCKET, "outcome": "failed"}
    [line] = [r for r in caplog.records if getattr(r, "outcome", None) == "failed"]
    assert line.levelno == logging.ERROR
    assert line.getMessage().startswith(f"failed {name}: ObjectStorageError: ")
    assert line.error_type == "ObjectStorageError"  # type: ignore[attr-defined]  # an extra= field


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "failure",
    ["503", "400", "unreachable"],
)
def test_a_failing_post_is_logged_once_and_changes_no_outcome(
    standin: OciStandIn, rp_env: dict[str, str], failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = dict(rp_env)
    if failure == "unreachable":
        env["MONITORING_ENDPOINT"] = f"http://127.0.0.1:{_closed_port()}"
    else:
        standin.fail_metrics(*[Fault(status=int(failure))] * 10)
    runtime = runtime_for(env)

    with caplog.at_level(logging.DEBUG):
        outcomes = [
            runtime.invoke(upload(standin, f"in/{n}.jsonl"), Deadline.in_seconds(20))
            for n in range(3)
        ]

    assert [o.status for o in outcomes] == ["published"] * 3
    assert [o.detail["records"] for o in outcomes] == [3] * 3
    warnings = [r for r in caplog.records if "metrics not posted" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert standin.metric_posts == []


def test_a_hanging_monitoring_endpoint_costs_at_most_the_metrics_budget(
    standin: OciStandIn, rp_env: dict[str, str]
) -> None:
    standin.fail_metrics(Fault(delay=10), Fault(delay=10))
    runtime = runtime_for(rp_env)
    body = upload(standin, "in/slow-metrics.jsonl")

    started = time.monotonic()
    outcome = runtime.invoke(body, Deadline.in_seconds(20))
    took = time.monotonic() - started

    assert outcome.status == "published"
    assert took < 3.5  # the 2 s metrics budget, not the stand-in's 10 s


def test_a_post_never_outlasts_the_invocations_margin(
    standin: OciStandIn, rp_env: dict[str, str]
) -> None:
    standin.fail_metrics(Fault(delay=10))
    runtime = runtime_for(rp_env, DEADLINE_MARGIN_SECONDS="1")
    body = upload(standin, "in/late.jsonl")

    started = time.monotonic()
    runtime.invoke(body, Deadline.in_seconds(0.2))  # only half the 1 s margin is left to post

    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"METRICS": "off"}, id="off"),
        pytest.param({"METRICS": "auto", "FN_FN_ID": ""}, id="auto-outside-functions"),
    ],
)
def test_no_metrics_when_off_or_outside_oci_functions(
    standin: OciStandIn, rp_env: dict[str, str], extra: dict[str, str]
) -> None:
    runtime_for(rp_env, **extra).invoke(upload(standin, "in/quiet.jsonl"), Deadline.in_seconds(20))

    assert standin.request_count(METRICS_PATH) == 0
    assert standin.request_count(object_path(NAMESPACE, BUCKET, "in/quiet.jsonl")) >= 1


# -- the stand-in holds the SDK to OCI's rules ---------------------------------------------------


def _post(standin: OciStandIn, rp_env: dict[str, str], streams: list[object]) -> object:
    settings = Settings.from_env(rp_env)
    config, signer = oci_config_and_signer(settings)
    client = oci.monitoring.MonitoringClient(config, signer=signer, service_endpoint=standin.url)
    return client.post_metric_data(
        oci.monitoring.models.PostMetricDataDetails(metric_data=streams),
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )


def _stream(**overrides: object) -> object:
    fields: dict[str, object] = {
        "namespace": "objstream",
        "compartment_id": COMPARTMENT,
        "name": "records",
        "dimensions": {"bucket": BUCKET, "outcome": "published"},
        "datapoints": [
            oci.monitoring.models.Datapoint(timestamp=dt.datetime.now(dt.UTC), value=1.0)
        ],
    }
    fields.update(overrides)
    return oci.monitoring.models.MetricDataDetails(**fields)


def _at(seconds: float) -> list[object]:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return [oci.monitoring.models.Datapoint(timestamp=when, value=1.0)]


@pytest.mark.parametrize(
    "make_streams",
    # Built when the test runs: a timestamp taken at collection would age with the suite.
    [
        pytest.param(lambda: [_stream() for _ in range(51)], id="51-streams"),
        pytest.param(lambda: [_stream(namespace="oci_objstream")], id="reserved-oci-prefix"),
        pytest.param(lambda: [_stream(namespace="oracle_x")], id="reserved-oracle-prefix"),
        pytest.param(lambda: [_stream(namespace="Objstream")], id="upper-case-namespace"),
        pytest.param(lambda: [_stream(datapoints=_at(-3 * 3600))], id="three-hours-old"),
        pytest.param(lambda: [_stream(datapoints=_at(20 * 60))], id="twenty-minutes-ahead"),
        pytest.param(lambda: [_stream(dimensions={"bucket": ""})], id="empty-dimension-value"),
        pytest.param(
            lambda: [_stream(dimensions={f"d{i}": "x" for i in range(21)})], id="21-dimensions"
        ),
    ],
)
def test_the_standin_refuses_what_oci_refuses(
    standin: OciStandIn, rp_env: dict[str, str], make_streams: Callable[[], list[object]]
) -> None:
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        _post(standin, rp_env, make_streams())

    assert refused.value.status == 400
    assert refused.value.code == "InvalidParameter"
    assert standin.metric_posts == []


def test_the_standin_takes_fifty_streams(standin: OciStandIn, rp_env: dict[str, str]) -> None:
    _post(standin, rp_env, [_stream() for _ in range(50)])

    assert len(standin.metric_posts[0]) == 50
