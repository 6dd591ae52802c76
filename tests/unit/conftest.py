"""Shared unit-test fixture: a stream whose reads return fewer bytes than asked, as a network
body does, so decoders are tested across every chunk boundary."""

from __future__ import annotations

import io
import itertools
from typing import TYPE_CHECKING, BinaryIO

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


class _TrickleStream(io.BytesIO):
    """BytesIO whose read(n) returns at most the next of `sizes` bytes (cycling)."""

    def __init__(self, data: bytes, sizes: Sequence[int]) -> None:
        super().__init__(data)
        self._sizes = itertools.cycle(sizes)

    def read(self, size: int | None = -1, /) -> bytes:
        step = next(self._sizes)
        return super().read(step if size is None or size < 0 else min(size, step))


@pytest.fixture(scope="session")  # session: stateless, and usable under hypothesis
def trickle() -> Callable[[bytes, Sequence[int]], BinaryIO]:
    """`trickle(data, [1, 2, 3])`: a stream over data handing out 1, 2, 3, 1, … bytes a read."""
    return _TrickleStream
