"""What lives as long as the function's container, and the one entry to the pipeline.

    handler (func.py) → Runtime.invoke → pipeline.parse, then pipeline.publish

Built on the first invocation and reused: the object reader, the token source (cached), one
producer, and the function invoker that hands an object's rest to the next segment. A
producer that hit a fatal or authentication error is replaced; an authentication failure also
re-reads the token and, if it changed, tries once more within the same invocation (a rotated
token then costs no failed invocation).

A segment that came as a continuation body (a detached invocation, which nobody retries)
and fails on the broker, Object Storage or Vault hands itself on again from its own start,
up to CONTINUATION_MAX_ATTEMPTS with backoff; then it raises (502), which OCI Functions
sends to the function's failure destination.

kafka_client's errors are turned into the function's own here, with what to check.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, TypeAlias

from function import pipeline
from function.core.deadline import Deadline
from function.errors import (
    ConfigError,
    DeadlineExceeded,
    HandOffError,
    PublishError,
    TransientError,
)
from function.figures import figures_of
from function.settings import ContinuationMode
from kafka_client.config import producer_config
from kafka_client.errors import (
    AuthenticationFailed,
    DeliveryTimedOut,
    ProducerConfigError,
    PublishFailed,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from function.pipeline import Outcome
    from function.ports import (
        FunctionInvoker,
        MetricsSink,
        ObjectReader,
        Publisher,
        SpanSink,
        TokenSource,
    )
    from function.settings import Settings
    from function.tracing import Trace

log = logging.getLogger(__name__)

# How the runtime makes its producer from a librdkafka configuration (a fake, in tests).
PublisherFactory: TypeAlias = "Callable[[Mapping[str, str | bool]], Publisher]"
# A failed detached segment waits this long before it is handed on again (doubling per
# attempt, at most _RETRY_MAX_SECONDS), as long as the deadline leaves time for it.
_RETRY_FIRST_SECONDS = 1.0
_RETRY_MAX_SECONDS = 30.0


# A metrics post takes at most this long (and keeps half the deadline margin free).
METRICS_BUDGET_SECONDS = 2.0


def _stream_publisher(config: Mapping[str, str | bool]) -> Publisher:
    from kafka_client.publisher import StreamPublisher

    return StreamPublisher(config)


class Runtime:
    """The container-lifetime state and the invocation entry point."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: Callable[[], ObjectReader],
        tokens: Callable[[], TokenSource] | None,
        publisher_factory: PublisherFactory = _stream_publisher,
        invoker: Callable[[], FunctionInvoker | None] | None = None,
        metrics: Callable[[], MetricsSink] | None = None,
        spans: Callable[[], SpanSink] | None = None,
    ) -> None:
        self.settings = settings
        self._make_reader = reader
        self._make_tokens = tokens
        self._publisher_factory = publisher_factory
        self._make_invoker = invoker
        self._reader: ObjectReader | None = None
        self._tokens: TokenSource | None = None
        self._publisher: Publisher | None = None
        self._invoker: FunctionInvoker | None = None
        self._make_metrics = metrics
        self._metrics: MetricsSink | None = None
        self._make_spans = spans
        self._spans: SpanSink | None = None
        self._telemetry_failed: set[str] = set()  # only the first failure of each is logged

    @classmethod
    def for_oci(
        cls,
        settings: Settings,
        *,
        reader: ObjectReader | None = None,
        publisher_factory: PublisherFactory = _stream_publisher,
        invoker: FunctionInvoker | None = None,
    ) -> Runtime:
        """The production wiring: Object Storage and Vault through the OCI SDK, as OCI_AUTH says.

        The workstation kit passes its own `reader` (local files) and `invoker` (the next
        segment in the same process), tests a `publisher_factory`; nothing else changes.
        """
        from function.adapters.auth import OciSigning, token_source

        signing = OciSigning(settings)

        def oci_reader() -> ObjectReader:
            from function.adapters.object_storage import OciObjectReader

            return OciObjectReader.from_settings(settings, *signing())

        def oci_invoker() -> FunctionInvoker | None:
            from function.adapters.functions import make_function_invoker

            return make_function_invoker(settings, signing)

        if (
            invoker is None
            and settings.continuation is ContinuationMode.DETACHED
            and settings.function_ocid is None
        ):
            log.info(
                "CONTINUATION=detached, but no FUNCTION_OCID (nor FN_FN_ID): an object the"
                " deadline cuts short answers 502, as with CONTINUATION=off"
            )

        def oci_monitoring() -> MetricsSink:
            from function.adapters.monitoring import OciMonitoring

            return OciMonitoring.from_settings(settings, *signing())

        def zipkin_spans() -> SpanSink:
            from function.adapters.zipkin import ZipkinSpans

            return ZipkinSpans(settings.trace_collector_url or "")

        return cls(
            settings,
            reader=oci_reader if reader is None else lambda: reader,
            tokens=lambda: token_source(settings, signing),
            publisher_factory=publisher_factory,
            invoker=oci_invoker if invoker is None else lambda: invoker,
            metrics=oci_monitoring if settings.posts_metrics else None,
            spans=zipkin_spans if settings.sends_traces else None,
        )

    # -- lazily built parts -----------------------------------------------------------------

    @property
    def reader(self) -> ObjectReader:
        """The object reader, built on first use."""
        if self._reader is None:
            self._reader = self._make_reader()
        return self._reader

    @property
    def invoker(self) -> FunctionInvoker | None:
        """What hands an object's rest to the next segment; None without continuation."""
        if self.settings.continuation is not ContinuationMode.DETACHED:
            return None
        if self._invoker is None and self._make_invoker is not None:
            self._invoker = self._make_invoker()
        return self._invoker

    def _token(self, deadline: Deadline | None) -> str | None:
        if not self.settings.security_protocol.uses_sasl or self._make_tokens is None:
            return None
        if self._tokens is None:
            self._tokens = self._make_tokens()
        return self._tokens.token(deadline=deadline)

    def publisher(self, deadline: Deadline | None = None) -> Publisher:
        """The producer for this container, built on first use (by `deadline`, if given)."""
        if self._publisher is None:
            try:
                config = producer_config(self.settings.connection(self._token(deadline)))
                self._publisher = self._publisher_factory(config)
            except ProducerConfigError as exc:
                raise ConfigError(str(exc)) from exc
        return self._publisher

    def drop_publisher(self) -> None:
        """Discard the producer now; the next invocation builds a new one."""
        if self._publisher is not None:
            self._publisher.abort()
            self._publisher.close(timeout=0)  # destroyed now, not at the next gc
            self._publisher = None

    def close(self) -> None:
        """Flush and release the producer (end of a CLI run; containers just stop)."""
        if self._publisher is not None:
            self._publisher.close()
            self._publisher = None

    # -- one invocation ---------------------------------------------------------------------

    def invoke(self, body: bytes, deadline: Deadline, *, call_id: str | None = None) -> Outcome:
        """Process one invocation body; raises TransientError or ConfigError (→ 502).

        Whatever it answers or raises, the outcome's figures go to the metrics sink (best
        effort), and a failure gets its one log line (answers log theirs in the pipeline).
        """
        started = time.monotonic()
        try:
            outcome = self._invoke(body, deadline, call_id)
        except Exception as exc:
            self._report(body, None, exc, started=started, deadline=deadline, call_id=call_id)
            raise
        self._report(body, outcome, None, started=started, deadline=deadline, call_id=call_id)
        return outcome

    def _invoke(self, body: bytes, deadline: Deadline, call_id: str | None) -> Outcome:
        # Parse first: a malformed body or another kind of event is answered without touching
        # Vault, Object Storage or the broker (an outage there must not turn them into 502s).
        request = pipeline.parse(body, call_id=call_id)
        if isinstance(request, pipeline.Outcome):
            return request
        # A segment that may have to hand itself on again keeps the time that takes.
        working = (
            deadline.sooner(pipeline.HANDOFF_SECONDS)
            if request.handed_on and self.invoker is not None
            else deadline
        )
        try:
            return self._publish(request, working, call_id)
        except HandOffError:
            raise  # the hand-off itself failed: nothing would take a second one either
        except TransientError as exc:
            if not request.handed_on:
                raise  # an event from OCI Events: the 502 makes Events try again
            return self._hand_on_again(request, exc, deadline)

    def _publish(
        self, request: pipeline.Request, deadline: Deadline, call_id: str | None
    ) -> Outcome:
        for attempt in (1, 2):
            publisher = self.publisher(deadline)
            try:
                return pipeline.publish(
                    request,
                    settings=self.settings,
                    reader=self.reader,
                    publisher=publisher,
                    deadline=deadline,
                    invoker=self.invoker,
                    call_id=call_id,
                )
            except AuthenticationFailed as exc:
                self.drop_publisher()
                if attempt == 1 and self._token_changed(deadline):
                    log.warning("authentication failed; retrying with the token re-read from Vault")
                    continue
                raise PublishError(
                    f"{exc}.{_username_hint(self.settings.username)} {self.settings.password_hint}"
                ) from exc
            except DeliveryTimedOut as exc:
                raise DeadlineExceeded(str(exc)) from exc
            except PublishFailed as exc:
                if exc.fatal:
                    self.drop_publisher()
                raise PublishError(str(exc)) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _hand_on_again(
        self, request: pipeline.Request, failure: TransientError, deadline: Deadline
    ) -> Outcome:
        """A detached segment failed: invoke it again from its own start (its checkpoint)."""
        segment, invoker = request.segment, self.invoker
        limit = self.settings.continuation_max_attempts
        if invoker is None or segment.attempt >= limit:
            log.error(
                "segment %d of %s failed on attempt %d of %d: %s",
                segment.segment,
                segment.event.resource_id,
                segment.attempt,
                limit,
                failure,
                extra={"segment": segment.segment, "attempt": segment.attempt},
            )
            raise failure
        again = segment.again()
        wait = min(_RETRY_FIRST_SECONDS * 2 ** (segment.attempt - 1), _RETRY_MAX_SECONDS)
        # Keep enough of the deadline to make the hand-off itself.
        time.sleep(max(0.0, min(wait, deadline.remaining() - pipeline.HANDOFF_SECONDS)))
        invoker.invoke_detached(again.to_json(), deadline)
        log.warning(
            "segment %d of %s failed (%s); handed on again, attempt %d of %d",
            segment.segment,
            segment.event.resource_id,
            failure,
            again.attempt,
            limit,
            extra={"segment": segment.segment, "attempt": again.attempt},
        )
        event = segment.event
        return pipeline.Outcome(
            pipeline.OutcomeStatus.CONTINUED,
            {
                "namespace": event.namespace,
                "bucket": event.bucket,
                "object": event.object_name,
                "segment": segment.segment,
                "nextIndex": segment.next_index,
                "attempt": again.attempt,
                "error": str(failure),
            },
        )

    # -- ops (issue #13): what _reports_figures does after each invocation -------------------

    def _report(
        self,
        body: bytes,
        outcome: Outcome | None,
        error: Exception | None,
        *,
        started: float,
        deadline: Deadline,
        call_id: object,
    ) -> None:
        figures = figures_of(
            body,
            outcome,
            duration_seconds=time.monotonic() - started,
            now=dt.datetime.now(dt.UTC),
        )
        if error is not None:
            # The one line of a failed invocation (the handler then answers 502).
            pipeline.outcome_log.error(
                "failed %s: %s: %s",
                figures.object_name or "(no object)",
                type(error).__name__,
                error,
                extra={
                    "call_id": call_id,
                    "outcome": figures.outcome,
                    "error_type": type(error).__name__,
                    "bucket": figures.bucket,
                    "object": figures.object_name,
                    "segment": figures.segment,
                    "durationMs": figures.duration_ms,
                },
            )
        if self._make_metrics is not None:
            make = self._make_metrics

            def post() -> None:
                if self._metrics is None:
                    self._metrics = make()
                self._metrics.post(figures, self._telemetry_budget(deadline))

            self._best_effort("metrics not posted to OCI Monitoring", post, call_id)

    def send_trace(self, trace: Trace, deadline: Deadline, *, call_id: object = None) -> None:
        """Send an invocation's spans to the trace collector, best effort (never raises)."""
        if self._make_spans is None:
            return
        make = self._make_spans

        def send() -> None:
            if self._spans is None:
                self._spans = make()
            self._spans.send(trace, self._telemetry_budget(deadline))

        self._best_effort("spans not sent to the trace collector", send, call_id)

    def _telemetry_budget(self, deadline: Deadline) -> Deadline:
        """At most METRICS_BUDGET_SECONDS, and never into the second half of the margin."""
        return Deadline(
            min(
                time.monotonic() + METRICS_BUDGET_SECONDS,
                deadline.at + self.settings.deadline_margin_seconds / 2,
            )
        )

    def _best_effort(self, what: str, action: Callable[[], None], call_id: object) -> None:
        """Run `action`; a failure is logged the first time only and never raised (CONTRACT §1)."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - telemetry never changes an invocation's outcome
            if what not in self._telemetry_failed:
                self._telemetry_failed.add(what)
                log.warning(
                    "%s (logged once; the invocations go on): %s",
                    what,
                    exc,
                    extra={"call_id": call_id, "error_type": type(exc).__name__},
                )

    def _token_changed(self, deadline: Deadline) -> bool:
        if self._tokens is None:
            return False
        before = self._tokens.token()
        return self._tokens.token(refresh=True, deadline=deadline) != before


def _username_hint(username: str | None) -> str:
    """The likely cause of a refusal when the user name is not shaped like OCI Streaming's."""
    # <tenancy name>/<user name>/<pool OCID>, or <tenancy>/<domain>/<user>/<pool OCID>
    parts = (username or "").split("/")
    if len(parts) < len(("tenancy", "user", "pool")) or not parts[-1].startswith(
        "ocid1.streampool."
    ):
        return (
            " STREAM_USERNAME does not end with a stream pool OCID (ocid1.streampool…), as"
            " OCI Streaming's user names do."
        )
    if parts[0].startswith("ocid1.tenancy."):
        return " STREAM_USERNAME starts with a tenancy OCID; OCI Streaming wants the tenancy name."
    return ""
