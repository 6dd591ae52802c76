"""An object's chain of segments run in this process: continuation on a workstation.

In OCI Functions a segment that runs out of time hands the rest of the object to a detached
invocation of the function (function.adapters.functions). On a workstation `objstream
publish --timeout S` does the same in this process: `InProcessInvoker` keeps the continuation
body, and `run_chain` invokes the runtime with it, each segment with a fresh deadline, until
the chain ends. What reaches the stream is what the deployed function would send.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from function.pipeline import OutcomeStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from function.core.deadline import Deadline
    from function.pipeline import Outcome
    from function.runtime import Runtime


class InProcessInvoker:
    """`FunctionInvoker` whose next segment runs in this process, after the current one."""

    def __init__(self) -> None:
        self.pending: collections.deque[bytes] = collections.deque()

    def invoke_detached(self, body: bytes, deadline: Deadline) -> None:
        """Keep the continuation for `run_chain`."""
        del deadline  # nothing waits: the segment runs when this one has answered
        self.pending.append(body)


def run_chain(
    runtime: Runtime,
    invoker: InProcessInvoker,
    body: bytes,
    deadline: Callable[[], Deadline],
    *,
    on_segment: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Invoke with `body`, then with each continuation it hands on, until the chain ends.

    `deadline()` gives each segment its own deadline, as OCI gives each invocation its own.
    Returns every segment's outcome, the last one the chain's end. Raises what the runtime
    raises (a TransientError the chain could not get past).
    """
    outcomes: list[Outcome] = []
    while True:
        outcome = runtime.invoke(body, deadline())
        outcomes.append(outcome)
        if on_segment is not None:
            on_segment(outcome)
        if outcome.status is not OutcomeStatus.CONTINUED or not invoker.pending:
            return outcomes
        body = invoker.pending.popleft()
