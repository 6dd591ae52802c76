"""Each invocation's figures as custom metrics in OCI Monitoring (behind `MetricsSink`).

`OciMonitoring.post` sends one `PostMetricData` call per invocation: one metric stream per
figure (function.figures), each with one datapoint and the dimensions `bucket` and `outcome`,
in METRICS_NAMESPACE and METRICS_COMPARTMENT_OCID (else the function's own compartment, the
`res_compartment` claim of its resource principal session token).

PostMetricData is served by the telemetry-ingestion endpoint, not the Monitoring API's usual
`telemetry` one: `https://telemetry-ingestion.<region>.<realm's domain>`, or
MONITORING_ENDPOINT. The call is signed with the function's signer (the dynamic group needs
`use metrics in compartment … where target.metrics.namespace = '<namespace>'`), gets short
timeouts and at most one retry, and never waits past the deadline it is given.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Self

import oci

from function.adapters.oci_sdk import UNREACHABLE, DeadlineRetryStrategy, build_client
from function.errors import ConfigError, DeadlineExceeded, TelemetryError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from function.core.deadline import Deadline
    from function.figures import InvocationFigures
    from function.settings import Settings

logger = logging.getLogger(__name__)

_INGESTION_TEMPLATE = "https://telemetry-ingestion.{region}.{secondLevelDomain}"
_GAVE_UP: tuple[type[BaseException], ...] = (DeadlineExceeded, *UNREACHABLE)


def ingestion_endpoint(region: str) -> str:
    """The region's telemetry-ingestion endpoint (the realm's domain, as the SDK knows it)."""
    endpoint: str = oci.regions.endpoint_for(
        "monitoring", region=region, service_endpoint_template=_INGESTION_TEMPLATE
    )
    return endpoint


def function_compartment(signer: Any) -> str | None:
    """The compartment of the function a resource principal signer speaks for, if any."""
    get_claim = getattr(signer, "get_claim", None)
    if get_claim is None:
        return None
    claim = get_claim("res_compartment")
    return claim if isinstance(claim, str) and claim else None


class OciMonitoring:
    """Posts an invocation's figures to OCI Monitoring in one call."""

    def __init__(
        self,
        config: Mapping[str, Any],
        signer: Any,
        *,
        namespace: str,
        compartment_id: str,
        endpoint: str | None = None,
    ) -> None:
        self._client = build_client(
            oci.monitoring.MonitoringClient,
            config,
            signer,
            endpoint=endpoint or ingestion_endpoint(str(config["region"])),
            endpoint_key="MONITORING_ENDPOINT",
            service="Monitoring (telemetry-ingestion)",
        )
        self._namespace = namespace
        self._compartment_id = compartment_id

    @classmethod
    def from_settings(cls, settings: Settings, config: Mapping[str, Any], signer: Any) -> Self:
        """The sink the settings describe; ConfigError when no compartment is known."""
        compartment = settings.metrics_compartment_ocid or function_compartment(signer)
        if not compartment:
            raise ConfigError(
                "METRICS_COMPARTMENT_OCID is not set and the signer is not a resource principal"
                " with a compartment claim: set METRICS_COMPARTMENT_OCID or METRICS=off"
            )
        return cls(
            config,
            signer,
            namespace=settings.metrics_namespace,
            compartment_id=compartment,
            endpoint=settings.monitoring_endpoint,
        )

    @property
    def endpoint(self) -> str:
        """Where the metrics are posted."""
        endpoint: str = self._client.base_client.endpoint
        return endpoint

    def post(self, figures: InvocationFigures, deadline: Deadline) -> None:
        """Post `figures` in one PostMetricData call; TelemetryError if it was not taken."""
        details = oci.monitoring.models.PostMetricDataDetails(
            metric_data=self._metric_data(figures), batch_atomicity="NON_ATOMIC"
        )
        strategy = DeadlineRetryStrategy(
            deadline,
            self._client.base_client,
            max_attempts=2,
            connect_timeout=1.0,
            read_timeout=2.0,
            reserve=0.1,
            base_sleep=0.05,
            max_sleep=0.2,
        )
        try:
            response = self._client.post_metric_data(details, retry_strategy=strategy)
        except oci.exceptions.ServiceError as exc:
            raise TelemetryError(
                f"OCI Monitoring at {self.endpoint} refused the metrics ({exc.status} {exc.code}:"
                f" {exc.message}); check METRICS_NAMESPACE, METRICS_COMPARTMENT_OCID and a policy"
                " like `allow dynamic-group <functions> to use metrics in compartment <metrics'>"
                f" where target.metrics.namespace = '{self._namespace}'`"
            ) from exc
        except _GAVE_UP as exc:
            raise TelemetryError(
                f"OCI Monitoring at {self.endpoint} did not answer in time ({type(exc).__name__}"
                f" after {strategy.attempts} attempts); check MONITORING_ENDPOINT and the"
                " function's network path (service gateway)"
            ) from exc
        failed = getattr(response.data, "failed_metrics_count", 0) or 0
        if failed:
            raise TelemetryError(
                f"OCI Monitoring took the call but refused {failed} of the metric streams:"
                f" {getattr(response.data, 'failed_metrics', None)}"
            )

    def _metric_data(self, figures: InvocationFigures) -> list[Any]:
        models = oci.monitoring.models
        dimensions = figures.dimensions
        return [
            models.MetricDataDetails(
                namespace=self._namespace,
                compartment_id=self._compartment_id,
                name=metric.name,
                dimensions=dimensions,
                metadata={"unit": str(metric.unit)},
                datapoints=[models.Datapoint(timestamp=figures.taken_at, value=metric.value)],
            )
            for metric in figures.metrics()
        ]

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.base_client.session.close()

    def __repr__(self) -> str:
        return f"OciMonitoring(endpoint={self.endpoint!r}, namespace={self._namespace!r})"
