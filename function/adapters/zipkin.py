"""An invocation's spans to the OCI APM collector, as Zipkin v2 JSON (behind `SpanSink`).

Built with OpenTelemetry's SDK and its Zipkin JSON exporter, imported only when the first
trace is sent (this module is imported only with tracing on): the handler's import never
pays for them. The spans are made after the invocation from the recorded phases
(function.tracing), with their real start and end times, and exported in one POST to
OCI_TRACE_COLLECTOR_URL (APM's `…/observations/public-span?dataFormat=zipkin&…` URL), bounded
by the deadline it is given.

The function's span has fdk's span id and the caller's span as parent; trace ids keep the
width they came with (64-bit B3 ids stay 16 hex digits, as the caller's spans have them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from function.errors import TelemetryError
from function.tracing import ROOT_SPAN

if TYPE_CHECKING:
    from collections.abc import Sequence

    from function.core.deadline import Deadline
    from function.tracing import Trace

logger = logging.getLogger(__name__)


class ZipkinSpans:
    """Sends each invocation's trace to a Zipkin v2 collector in one request."""

    def __init__(self, collector_url: str) -> None:
        # Imported here, not at module level: only a container with tracing on pays for it.
        from opentelemetry.exporter.zipkin.json import ZipkinExporter
        from opentelemetry.exporter.zipkin.json.v2 import JsonV2Encoder
        from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class B3Encoder(JsonV2Encoder):
            """Trace ids as wide as they came: a 64-bit B3 id stays 16 hex digits."""

            @staticmethod
            def _encode_trace_id(trace_id: int) -> str:
                return f"{trace_id:016x}" if trace_id < 1 << 64 else f"{trace_id:032x}"

        class GivenIds(RandomIdGenerator):
            """The trace id and the root span id fdk chose; random ids for the rest."""

            def __init__(self) -> None:
                self.trace_id = 0
                self.span_ids: list[int] = []

            def generate_trace_id(self) -> int:
                return self.trace_id or int(super().generate_trace_id())

            def generate_span_id(self) -> int:
                return self.span_ids.pop(0) if self.span_ids else int(super().generate_span_id())

        class Collect(SpanProcessor):
            """Keeps the ended spans, for one export per invocation."""

            def __init__(self) -> None:
                self.ended: list[ReadableSpan] = []

            def on_end(self, span: ReadableSpan) -> None:
                self.ended.append(span)

        self._collected = Collect()
        self._exporter = ZipkinExporter(endpoint=collector_url)
        # The exporter types its encoder as V1's, though it picks V2's for Protocol.V2.
        self._exporter.encoder = B3Encoder(self._exporter.encoder.max_tag_value_length)  # type: ignore[assignment]
        self._ids = GivenIds()
        self._collector_url = collector_url
        self._providers: dict[str, Any] = {}
        # The exporter logs an error line per failed export; the runtime logs the first
        # failure itself (TelemetryError), once per container.
        logging.getLogger("opentelemetry.exporter.zipkin.json").setLevel(logging.CRITICAL)

    def send(self, trace: Trace, deadline: Deadline) -> None:
        """Export `trace`'s spans in one POST; TelemetryError if the collector did not take them."""
        from opentelemetry.sdk.trace.export import SpanExportResult

        seconds = int(deadline.remaining())
        if seconds < 1:
            raise TelemetryError("no time left before the deadline to send the invocation's spans")
        spans = self._spans(trace)
        self._exporter.timeout = seconds
        try:
            result = self._exporter.export(spans)
        except OSError as exc:  # requests' errors are OSErrors: refused, reset, timed out
            raise TelemetryError(
                f"the trace collector did not answer ({type(exc).__name__}); check"
                " OCI_TRACE_COLLECTOR_URL (the APM domain's data upload endpoint) and the"
                " function's network path"
            ) from exc
        if result is not SpanExportResult.SUCCESS:
            raise TelemetryError(
                "the trace collector refused the spans; check the APM domain and its public"
                " data key in OCI_TRACE_COLLECTOR_URL"
            )

    def _spans(self, trace: Trace) -> Sequence[Any]:
        from opentelemetry import trace as otel

        parent = trace.parent
        self._collected.ended.clear()
        self._ids.trace_id = int(parent.trace_id, 16)
        self._ids.span_ids = [int(parent.span_id, 16)]
        context = None
        if parent.parent_id:
            remote = otel.SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=int(parent.parent_id, 16),
                is_remote=True,
                trace_flags=otel.TraceFlags(otel.TraceFlags.SAMPLED),
            )
            context = otel.set_span_in_context(otel.NonRecordingSpan(remote))
        tracer = self._provider(parent.service_name).get_tracer("objstream")
        root = tracer.start_span(
            ROOT_SPAN,
            context=context,
            kind=otel.SpanKind.SERVER,
            start_time=trace.start_ns,
            attributes=trace.tags,
        )
        inside = otel.set_span_in_context(root)
        for phase in trace.phases:
            span = tracer.start_span(phase.name, context=inside, start_time=phase.start_ns)
            span.end(end_time=phase.end_ns or trace.end_ns)
        root.end(end_time=trace.end_ns)
        spans = list(self._collected.ended)
        self._collected.ended.clear()
        return spans

    def _provider(self, service_name: str) -> Any:
        if service_name not in self._providers:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            provider = TracerProvider(
                resource=Resource({"service.name": service_name}), id_generator=self._ids
            )
            provider.add_span_processor(self._collected)
            self._providers[service_name] = provider
        return self._providers[service_name]

    def __repr__(self) -> str:
        return "ZipkinSpans(<collector url redacted: it carries the APM data key>)"
