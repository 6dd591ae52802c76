"""An invocation's spans for OCI APM, when OCI Functions tracing is on: read, decode, publish.

OCI Functions passes the caller's Zipkin B3 context in the request, and fdk turns it into
`ctx.TracingContext()`: the trace id, the span id fdk made for this function's span, its
parent (the caller's span), and whether the trace is sampled. `TraceParent.from_fdk` reads
it; `recording(parent)` makes a `Trace` current for the invocation, and the pipeline marks
where each phase starts with `phase(name)`, one line each, nothing at all when no trace is
being recorded. A phase ends where the next one starts, or with the invocation:

    objstream (the function's span: fdk's span id, the caller's span as parent)
    ├── read      opening the object: the GetObject request, up to its first bytes
    ├── decode    decoding the object and queueing each record (produce is asynchronous)
    └── publish   waiting for the broker's acknowledgements, then the terminal marker

The runtime sends the finished trace to the collector (function.adapters.zipkin). This module
imports nothing beyond the standard library: the tracing library is loaded only when a trace
is sent, so the handler's import stays small.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

# The root span's name: what APM's trace explorer lists.
ROOT_SPAN = "objstream"
# The phases the pipeline marks, in order.
READ, DECODE, PUBLISH = "read", "decode", "publish"


@dataclass(frozen=True, slots=True)
class TraceParent:
    """Where this invocation's spans attach, from fdk's TracingContext (hex ids)."""

    trace_id: str
    span_id: str  # the function's own span (fdk generates it)
    parent_id: str | None  # the caller's span (X-B3-SpanId), if any
    service_name: str  # `<application>::<function>`, as fdk names it

    @classmethod
    def from_fdk(cls, ctx: Any) -> TraceParent | None:
        """The parent of a sampled trace, else None (tracing off, not sampled, no context)."""
        tracing = getattr(ctx, "TracingContext", None)
        context = tracing() if callable(tracing) else None
        if context is None or not context.is_tracing_enabled() or not context.is_sampled():
            return None
        attrs = context.zipkin_attrs()
        if not attrs.trace_id or not attrs.span_id:
            return None
        return cls(
            trace_id=str(attrs.trace_id),
            span_id=str(attrs.span_id),
            parent_id=str(attrs.parent_span_id) if attrs.parent_span_id else None,
            service_name=str(context.service_name()),
        )


@dataclass(slots=True)
class Phase:
    """One phase of the invocation, wall-clock nanoseconds (what Zipkin timestamps are)."""

    name: str
    start_ns: int
    end_ns: int | None = None


@dataclass(slots=True)
class Trace:
    """The spans of one invocation, being recorded."""

    parent: TraceParent
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int | None = None
    phases: list[Phase] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def enter(self, name: str) -> None:
        """End the current phase (if any) and start `name`."""
        now = time.time_ns()
        if self.phases and self.phases[-1].end_ns is None:
            self.phases[-1].end_ns = now
        self.phases.append(Phase(name, now))

    def finish(self) -> None:
        """End the last phase and the invocation's span."""
        now = time.time_ns()
        if self.phases and self.phases[-1].end_ns is None:
            self.phases[-1].end_ns = now
        self.end_ns = now


_current: ContextVar[Trace | None] = ContextVar("objstream_trace", default=None)


def phase(name: str) -> None:
    """Mark that the invocation enters phase `name` (a no-op unless a trace is recorded)."""
    trace = _current.get()
    if trace is not None:
        trace.enter(name)


@contextlib.contextmanager
def recording(parent: TraceParent | None) -> Iterator[Trace | None]:
    """Record the invocation's phases under `parent` (nothing when it is None)."""
    if parent is None:
        yield None
        return
    trace = Trace(parent)
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)
        trace.finish()
