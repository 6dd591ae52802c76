"""Hands a continuation to the next segment: a detached invocation through the Functions API.

`OciFunctionInvoker` is the adapter over the OCI SDK behind the `FunctionInvoker` port
(function.ports). What it guarantees:

- the invoke endpoint is FUNCTION_INVOKE_ENDPOINT, or looked up once with GetFunction (the
  management API, FUNCTIONS_ENDPOINT or the region's) and kept for the container's life;
- `invoke_detached` POSTs the body with `fn-invoke-type: detached`, signed like every other
  client of the container; OCI answers 202 Accepted as soon as it has queued the invocation;
- every request, retry, backoff and socket read is bounded by the invocation's deadline
  (`DeadlineRetryStrategy`); a passed deadline is DeadlineExceeded, everything else that
  keeps the continuation from being accepted is HandOffError, saying what to check.

A retried invoke whose first attempt did reach OCI may start the segment twice; the ids of
everything it publishes depend only on the object version, so consumers drop the repeats.
The body (the event, counts, resume position) never goes into a message or a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self

import oci

from function.adapters.oci_sdk import UNREACHABLE, DeadlineRetryStrategy, build_client
from function.errors import DeadlineExceeded, HandOffError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

    from function.core.deadline import Deadline
    from function.ports import FunctionInvoker
    from function.settings import Settings

logger = logging.getLogger(__name__)

_REFUSED = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND})


def _invoke_policy_hint(function_ocid: str) -> str:
    return (
        "check FUNCTION_OCID and that a policy lets the function invoke it: `allow "
        "dynamic-group <the function's dynamic group> to use fn-invocation in compartment "
        f"<the function's compartment> where target.function.id = '{function_ocid}'`"
    )


def _lookup_policy_hint(function_ocid: str) -> str:
    return (
        "check FUNCTION_OCID and that a policy lets the function read it: `allow "
        "dynamic-group <the function's dynamic group> to read fn-function in compartment "
        f"<the function's compartment> where target.function.id = '{function_ocid}'`; "
        "or set FUNCTION_INVOKE_ENDPOINT to its invoke endpoint, which needs no lookup"
    )


_NETWORK_HINT = "check the endpoint and the function's network path (service gateway or NAT)"


class OciFunctionInvoker:
    """`FunctionInvoker` over the OCI SDK's FunctionsInvokeClient (and, once, GetFunction).

    Build one per container and reuse it: the clients keep their connection pools, the
    looked-up endpoint is cached. Timeouts and retries are set per call from the deadline,
    on the shared client: one invocation at a time, as OCI Functions runs them (the
    workstation kit builds one invoker per thread, passing `invoke_endpoint`).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        signer: Any,
        function_ocid: str,
        *,
        invoke_endpoint: str | None = None,
        management_endpoint: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retry_base_sleep: float = 0.25,
    ) -> None:
        self._config = dict(config)
        self._signer = signer
        self._function_ocid = function_ocid
        self._invoke_endpoint = invoke_endpoint
        self._management_endpoint = management_endpoint
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry_base_sleep = retry_base_sleep
        self._invoke_client: Any = None
        self._management_client: Any = None
        self._lookup_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: Settings, config: Mapping[str, Any], signer: Any
    ) -> OciFunctionInvoker:
        """The invoker for FUNCTION_OCID (or FN_FN_ID), at FUNCTION_INVOKE_ENDPOINT if set."""
        if settings.function_ocid is None:
            raise HandOffError("no function to continue with: set FUNCTION_OCID")
        return cls(
            config,
            signer,
            settings.function_ocid,
            invoke_endpoint=settings.function_invoke_endpoint,
            management_endpoint=settings.functions_endpoint,
        )

    @property
    def function_ocid(self) -> str:
        """The function every continuation is handed to."""
        return self._function_ocid

    def endpoint(self, deadline: Deadline) -> str:
        """The invoke endpoint: configured, or looked up with GetFunction on first use."""
        with self._lookup_lock:
            if self._invoke_endpoint is None:
                self._invoke_endpoint = self._look_up_endpoint(deadline)
            return self._invoke_endpoint

    def invoke_detached(self, body: bytes, deadline: Deadline) -> None:
        """Invoke the function detached with `body`; return once OCI accepted it (202)."""
        deadline.check(f"handing the continuation to function {self._function_ocid}")
        endpoint = self.endpoint(deadline)
        client = self._invoke(endpoint)
        strategy = self._strategy(deadline, client)
        started = time.monotonic()
        try:
            response = client.invoke_function(
                self._function_ocid,
                invoke_function_body=body,
                fn_invoke_type="detached",
                retry_strategy=strategy,
            )
        except oci.exceptions.ServiceError as exc:
            what = f"invoke function {self._function_ocid} at {endpoint}"
            refused = _invoke_policy_hint(self._function_ocid)
            raise _service_error(exc, what, refused, deadline, strategy.attempts) from exc
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(
                f"the invocation's deadline was reached while handing the continuation to "
                f"function {self._function_ocid} at {endpoint}"
            ) from exc
        except UNREACHABLE as exc:
            deadline.check(f"handing the continuation to function {self._function_ocid}")
            raise HandOffError(
                f"could not reach the Functions invoke endpoint {endpoint} for function "
                f"{self._function_ocid}: {type(exc).__name__} after {strategy.attempts} "
                f"attempts; {_NETWORK_HINT}"
            ) from exc
        response.data.close()  # a detached invocation's answer has nothing to read
        logger.info(
            "continuation handed to a detached invocation",
            extra={
                "function_ocid": self._function_ocid,
                "invoke_endpoint": endpoint,
                "opc_request_id": response.headers.get("opc-request-id"),
                "body_bytes": len(body),
                "status": response.status,
                "attempts": strategy.attempts,
                "seconds": round(time.monotonic() - started, 3),
            },
        )

    def _look_up_endpoint(self, deadline: Deadline) -> str:
        client = self._management()
        where = str(client.base_client.endpoint)
        strategy = self._strategy(deadline, client)
        try:
            response = client.get_function(self._function_ocid, retry_strategy=strategy)
        except oci.exceptions.ServiceError as exc:
            what = f"look up function {self._function_ocid} (GetFunction at {where})"
            refused = _lookup_policy_hint(self._function_ocid)
            raise _service_error(exc, what, refused, deadline, strategy.attempts) from exc
        except DeadlineExceeded as exc:
            raise DeadlineExceeded(
                f"the invocation's deadline was reached while looking up function "
                f"{self._function_ocid}'s invoke endpoint at {where}"
            ) from exc
        except UNREACHABLE as exc:
            deadline.check(f"looking up function {self._function_ocid}")
            raise HandOffError(
                f"could not reach the Functions API at {where} to look up function "
                f"{self._function_ocid}: {type(exc).__name__} after {strategy.attempts} "
                f"attempts; {_NETWORK_HINT}, FUNCTIONS_ENDPOINT, or set FUNCTION_INVOKE_ENDPOINT"
            ) from exc
        endpoint = getattr(response.data, "invoke_endpoint", None)
        if not endpoint:
            raise HandOffError(
                f"GetFunction for {self._function_ocid} returned no invoke endpoint; "
                "set FUNCTION_INVOKE_ENDPOINT"
            )
        logger.info(
            "function invoke endpoint looked up",
            extra={
                "function_ocid": self._function_ocid,
                "invoke_endpoint": endpoint,
                "opc_request_id": response.headers.get("opc-request-id"),
            },
        )
        return str(endpoint)

    def _strategy(self, deadline: Deadline, client: Any) -> DeadlineRetryStrategy:
        return DeadlineRetryStrategy(
            deadline,
            client.base_client,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            base_sleep=self._retry_base_sleep,
        )

    def _invoke(self, endpoint: str) -> Any:
        if self._invoke_client is None:
            self._invoke_client = build_client(
                oci.functions.FunctionsInvokeClient,
                self._config,
                self._signer,
                endpoint=endpoint,
                endpoint_key="FUNCTION_INVOKE_ENDPOINT",
                service="Functions invoke",
            )
        return self._invoke_client

    def _management(self) -> Any:
        if self._management_client is None:
            self._management_client = build_client(
                oci.functions.FunctionsManagementClient,
                self._config,
                self._signer,
                endpoint=self._management_endpoint,
                endpoint_key="FUNCTIONS_ENDPOINT",
                service="Functions management",
            )
        return self._management_client

    def close(self) -> None:
        """Close the clients' pooled connections."""
        for client in (self._invoke_client, self._management_client):
            if client is not None:
                client.base_client.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"OciFunctionInvoker(function_ocid={self._function_ocid!r}, "
            f"invoke_endpoint={self._invoke_endpoint!r})"
        )


def _service_error(
    exc: Any, what: str, refused_hint: str, deadline: Deadline, attempts: int
) -> Exception:
    """The error for a ServiceError answering `what`: refused (IAM), or failing (network)."""
    answer = f"{exc.status} {exc.code}, opc-request-id {exc.request_id}"
    if exc.status in _REFUSED:
        return HandOffError(f"OCI refused to {what} ({answer}); {refused_hint}")
    deadline.check(f"trying to {what} ({answer})")
    return HandOffError(
        f"the Functions API failed to {what} ({answer}) after {attempts} attempts, "
        f"{max(deadline.remaining(), 0.0):.1f}s before the deadline; {_NETWORK_HINT}"
    )


def make_function_invoker(
    settings: Settings, signing: Callable[[], tuple[dict[str, Any], Any]]
) -> FunctionInvoker | None:
    """The container's invoker (None when CONTINUATION=off or no function OCID is known).

    `signing` is the container's `OciSigning`: the invoker signs as every other client does.
    """
    if not settings.continues:
        return None
    return OciFunctionInvoker.from_settings(settings, *signing())
