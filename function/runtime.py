"""What lives as long as the function's container, and the one entry to the pipeline.

    handler (func.py) → Runtime.invoke → pipeline.parse, then pipeline.publish

Built on the first invocation and reused: the object reader, the token source (cached), one
producer. A producer that hit a fatal or authentication error is replaced; an authentication
failure also re-reads the token and, if it changed, tries once more within the same
invocation (a rotated token then costs no failed invocation).

kafka_client's errors are turned into the function's own here, with what to check.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeAlias

from function import pipeline
from function.core.deadline import Deadline
from function.errors import ConfigError, DeadlineExceeded, PublishError
from function.figures import figures_of
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
    from function.ports import MetricsSink, ObjectReader, Publisher, SpanSink, TokenSource
    from function.settings import Settings
    from function.tracing import Trace

log = logging.getLogger(__name__)

# How the runtime makes its producer from a librdkafka configuration (a fake, in tests).
PublisherFactory: TypeAlias = "Callable[[Mapping[str, str | bool]], Publisher]"


# -- ops (issue #13): every invocation's outcome line and figures -------------------------------
# One decorator on Runtime.invoke, so the method's body stays the lead's: whatever invoke
# answers or raises, it logs the failure line (answers log their own, in the pipeline) and
# posts the figures to the metrics sink, best effort.

_P = ParamSpec("_P")
# Seconds a metrics post may take at most; it also keeps half the deadline margin free.
METRICS_BUDGET_SECONDS = 2.0


def _reports_figures(
    invoke: Callable[Concatenate[Runtime, bytes, Deadline, _P], Outcome],
) -> Callable[Concatenate[Runtime, bytes, Deadline, _P], Outcome]:
    def reported(
        self: Runtime, body: bytes, deadline: Deadline, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> Outcome:
        started = time.monotonic()
        try:
            outcome = invoke(self, body, deadline, *args, **kwargs)
        except Exception as exc:
            self._report(
                body, None, exc, started=started, deadline=deadline, call_id=kwargs.get("call_id")
            )
            raise
        self._report(
            body, outcome, None, started=started, deadline=deadline, call_id=kwargs.get("call_id")
        )
        return outcome

    functools.update_wrapper(reported, invoke)
    return reported


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
        metrics: Callable[[], MetricsSink] | None = None,
        spans: Callable[[], SpanSink] | None = None,
    ) -> None:
        self.settings = settings
        self._make_reader = reader
        self._make_tokens = tokens
        self._publisher_factory = publisher_factory
        self._reader: ObjectReader | None = None
        self._tokens: TokenSource | None = None
        self._publisher: Publisher | None = None
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
    ) -> Runtime:
        """The production wiring: Object Storage and Vault through the OCI SDK, as OCI_AUTH says.

        The workstation kit passes its own `reader` (local files), tests a `publisher_factory`;
        nothing else changes.
        """
        from function.adapters.auth import OciSigning, token_source

        signing = OciSigning(settings)

        def oci_reader() -> ObjectReader:
            from function.adapters.object_storage import OciObjectReader

            return OciObjectReader.from_settings(settings, *signing())

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

    @_reports_figures  # ops (issue #13): the outcome's log line and metrics; see above
    def invoke(self, body: bytes, deadline: Deadline, *, call_id: str | None = None) -> Outcome:
        """Process one invocation body; raises TransientError or ConfigError (→ 502)."""
        # Parse first: a malformed body or another kind of event is answered without touching
        # Vault, Object Storage or the broker (an outage there must not turn them into 502s).
        parsed = pipeline.parse(body, call_id=call_id)
        if isinstance(parsed, pipeline.Outcome):
            return parsed
        for attempt in (1, 2):
            publisher = self.publisher(deadline)
            try:
                return pipeline.publish(
                    parsed,
                    settings=self.settings,
                    reader=self.reader,
                    publisher=publisher,
                    deadline=deadline,
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
            log.error(
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
