"""The OCI Functions entry point: `handler(ctx, data)`, as fdk calls it.

    fdk /function/func.py handler        (func.yaml's cmd; the Dockerfile installs the wheel)

The configuration is read once per container; a missing or contradictory setting fails the
invocation (502) with a message naming the key. Everything else is in function.pipeline.

fdk sends every log record at DEBUG and up to stderr, that is to OCI Logging: the libraries'
own debug chatter (the oci SDK, urllib3, …) is held back to warnings here, at import, without
touching fdk's handler; objstream's own lines keep their levels.
"""

from __future__ import annotations

import io
import logging
import os
from typing import TYPE_CHECKING, Any

from fdk import response

from function import tracing
from function.core.deadline import Deadline
from function.core.events import MAX_EVENT_BYTES
from function.errors import ConfigError
from function.runtime import Runtime
from function.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

# Libraries whose DEBUG and INFO lines would otherwise reach OCI Logging on every invocation
# (fdk sets the root logger to DEBUG): request lines, connection pools, signers, exporters.
QUIET_LOGGERS = ("oci", "urllib3", "requests", "charset_normalizer", "opentelemetry", "asyncio")
for _name in QUIET_LOGGERS:
    logging.getLogger(_name).setLevel(logging.WARNING)

# Read at most one byte more than an event may have: the parser then says it is too large,
# and a huge body is never held in memory.
_BODY_READ_LIMIT = MAX_EVENT_BYTES + 1

_runtime: Runtime | None = None
_build_runtime: Callable[[Settings], Runtime] = Runtime.for_oci


def runtime() -> Runtime:
    """The container's runtime, built from the environment on first use."""
    global _runtime  # noqa: PLW0603 - one per container, by design
    if _runtime is None:
        _runtime = _build_runtime(Settings.from_env(os.environ))
    return _runtime


def build_runtime_with(build: Callable[[Settings], Runtime]) -> None:
    """Build the container's runtime with `build` instead of `Runtime.for_oci`.

    Only the workstation kit calls this (objstream.local_func, before fdk serves a request):
    the function's own configuration can never redirect where objects are read from.
    """
    global _build_runtime  # noqa: PLW0603 - one per container, by design
    _build_runtime = build


def _body_bytes(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes | bytearray):
        return bytes(data[:_BODY_READ_LIMIT])
    if isinstance(data, io.IOBase) or hasattr(data, "read"):
        return bytes(data.read(_BODY_READ_LIMIT))
    return str(data).encode("utf-8")[:_BODY_READ_LIMIT]


def handler(ctx: Any, data: Any = None) -> response.Response:
    """Handle one OCI Events invocation; see CONTRACT.md §3 for the outcomes."""
    call_id = ctx.CallID() if hasattr(ctx, "CallID") else None
    body = _body_bytes(data)
    try:
        current = runtime()
    except ConfigError as exc:
        log.error("configuration error: %s", exc, extra={"call_id": call_id})  # noqa: TRY400 - the message is the whole story
        raise
    deadline = Deadline.from_rfc3339(
        ctx.Deadline(), margin=current.settings.deadline_margin_seconds
    )
    parent = tracing.TraceParent.from_fdk(ctx) if current.settings.sends_traces else None
    trace: tracing.Trace | None = None
    try:
        # The runtime logs every outcome, a failure (which fdk answers with 502) included.
        with tracing.recording(parent) as trace:
            outcome = current.invoke(body, deadline, call_id=call_id)
            if trace is not None:
                trace.tags["outcome"] = str(outcome.status)
    except Exception as exc:
        if trace is not None:
            trace.tags.update(outcome="failed", error_type=type(exc).__name__)
        raise
    finally:
        if trace is not None:
            trace.tags["fn.call_id"] = str(call_id)
            current.send_trace(trace, deadline, call_id=call_id)
    return response.Response(
        ctx,
        response_data=outcome.to_json().decode(),
        headers={"Content-Type": "application/json"},
        status_code=200,
    )
