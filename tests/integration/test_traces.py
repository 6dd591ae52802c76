"""Spans for OCI APM: the handler under fdk's own context (B3 headers → ctx.TracingContext()),
OpenTelemetry's Zipkin exporter over real HTTP to a local Zipkin v2 collector.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import pytest
from fdk import constants
from fdk.context import context_from_format

from function import func
from function.errors import ObjectStorageError
from function.runtime import Runtime
from objstream.testing.fakes import FakePublisher, FakeReader
from objstream.testing.scenario import oci_event
from objstream.testing.zipkin_collector import ZipkinCollector

if TYPE_CHECKING:
    from collections.abc import Iterator

TRACE_ID = "5b8aa5a2d2c872e8"  # a 64-bit B3 trace id, as OCI's gateway sends them
CALLER_SPAN = "321de2f1a1b0c9d8"
DATA = b'{"id": 1}\n{"id": 2}\n'


@pytest.fixture
def collector() -> Iterator[ZipkinCollector]:
    with ZipkinCollector() as running:
        yield running


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, collector: ZipkinCollector) -> None:
    """The container's environment, tracing on, and a fresh runtime with fake ports."""
    for name, value in {
        "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "STREAM_TOPIC": "objstream",
        "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        "OCI_AUTH": "config_file",
        "METRICS": "off",
        "FN_APP_NAME": "objstream-app",
        "FN_FN_NAME": "objstream",
        constants.OCI_TRACING_ENABLED: "1",
        constants.OCI_TRACE_COLLECTOR_URL: collector.url,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(func, "_runtime", None)
    monkeypatch.setattr(
        func,
        "_build_runtime",
        lambda settings: Runtime.for_oci(
            settings, reader=FakeReader(DATA), publisher_factory=lambda _c: FakePublisher()
        ),
    )


def invoke(headers: dict[str, str], body: bytes) -> Any:
    """One invocation as fdk makes its context from the request's headers."""
    ctx, data = context_from_format(
        constants.HTTPSTREAM,
        headers={"fn-call-id": "call-1", "fn-deadline": "", **headers},
        data=io.BytesIO(body),
    )
    return func.handler(ctx, data)


def b3(sampled: str = "1") -> dict[str, str]:
    return {
        constants.X_B3_TRACEID: TRACE_ID,
        constants.X_B3_SPANID: CALLER_SPAN,
        constants.X_B3_SAMPLED: sampled,
    }


@pytest.mark.usefixtures("function_env")
def test_a_sampled_invocation_sends_its_read_decode_publish_spans_in_one_post(
    collector: ZipkinCollector,
) -> None:
    response = invoke(b3(), oci_event("ns", "uploads", "in/a.jsonl", "etag-1"))

    assert response.status() == 200
    [post] = collector.posts
    spans = {span["name"]: span for span in post}
    assert set(spans) == {"objstream", "read", "decode", "publish"}
    root = spans["objstream"]
    assert {span["traceId"] for span in post} == {TRACE_ID}
    assert root["parentId"] == CALLER_SPAN
    assert root["kind"] == "SERVER"
    assert root["localEndpoint"]["serviceName"] == "objstream-app::objstream"
    assert root["tags"]["outcome"] == "published"
    for name in ("read", "decode", "publish"):
        assert spans[name]["parentId"] == root["id"]
        assert root["timestamp"] <= spans[name]["timestamp"]
    assert spans["read"]["timestamp"] <= spans["decode"]["timestamp"]
    assert spans["decode"]["timestamp"] <= spans["publish"]["timestamp"]


@pytest.mark.usefixtures("function_env")
def test_a_failed_invocation_sends_its_spans_tagged_failed(collector: ZipkinCollector) -> None:
    func.build_runtime_with(
        lambda settings: Runtime.for_oci(
            settings,
            reader=FakeReader(error=ObjectStorageError("injected")),
            publisher_factory=lambda _c: FakePublisher(),
        )
    )

    with pytest.raises(ObjectStorageError):
        invoke(b3(), oci_event("ns", "uploads", "in/b.jsonl", "etag-1"))

    [root] = [span for span in collector.spans if span["name"] == "objstream"]
    assert root["tags"]["outcome"] == "failed"
    assert root["tags"]["error_type"] == "ObjectStorageError"
    assert root["tags"]["fn.call_id"] == "call-1"


@pytest.mark.usefixtures("function_env")
@pytest.mark.parametrize(
    ("headers", "env"),
    [
        pytest.param(b3(sampled="0"), {}, id="not-sampled"),
        pytest.param(b3(), {constants.OCI_TRACING_ENABLED: "0"}, id="tracing-off"),
    ],
)
def test_no_spans_when_tracing_is_off_or_the_trace_not_sampled(
    collector: ZipkinCollector,
    monkeypatch: pytest.MonkeyPatch,
    headers: dict[str, str],
    env: dict[str, str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    response = invoke(headers, oci_event("ns", "uploads", "in/c.jsonl", "etag-1"))

    assert response.status() == 200
    assert collector.posts == []


@pytest.mark.usefixtures("function_env")
def test_a_refusing_collector_is_logged_once_and_changes_no_answer(
    collector: ZipkinCollector, caplog: pytest.LogCaptureFixture
) -> None:
    collector.refuse_next(503, 503)

    with caplog.at_level(logging.DEBUG):
        statuses = [
            invoke(b3(), oci_event("ns", "uploads", f"in/{n}.jsonl", "e")).status()
            for n in range(3)
        ]

    assert statuses == [200, 200, 200]
    assert len(collector.posts) == 1  # the third invocation's
    warnings = [r for r in caplog.records if "spans not sent" in r.getMessage()]
    assert len(warnings) == 1
    assert collector.url not in caplog.text  # APM's URL carries its data key
