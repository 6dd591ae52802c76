"""A monotonic deadline for one invocation, parsed from Fn's `Fn-Deadline` (RFC 3339)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass
from typing import Self

from function.errors import DeadlineExceeded


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment an invocation must have answered by, on the monotonic clock."""

    at: float  # time.monotonic() value

    @classmethod
    def in_seconds(cls, seconds: float) -> Deadline:
        """A deadline `seconds` from now."""
        return cls(time.monotonic() + seconds)

    @classmethod
    def from_rfc3339(cls, value: str | None, *, margin: float, default: float = 30.0) -> Deadline:
        """Fn's deadline header less `margin` seconds kept back to answer in time.

        Fn sends an RFC 3339 timestamp; a missing or unreadable one gets `default` seconds,
        which is fdk's own default.
        """
        remaining = default
        if value:
            try:
                when = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.UTC)
                remaining = (when - dt.datetime.now(dt.UTC)).total_seconds()
        return cls(time.monotonic() + remaining - margin)

    def sooner(self, seconds: float) -> Self:
        """The same deadline `seconds` earlier (time kept back for what follows it)."""
        return dataclasses.replace(self, at=self.at - seconds)

    def remaining(self) -> float:
        """Seconds left; negative once passed."""
        return self.at - time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.remaining() <= 0

    def check(self, doing: str) -> None:
        """Raise DeadlineExceeded, saying what was under way, once the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded(f"the invocation's deadline was reached while {doing}")
