"""Shared helpers for the record-decoding tests: decode from bytes, with reads of any size."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO, TypeAlias

import pytest

from function.core.decoding import (
    DecodeOptions,
    DecodeSummary,
    InvalidRecord,
    Record,
    RecordDecoder,
)
from function.ports import RangedObject

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Trickle: TypeAlias = "Callable[[bytes, Sequence[int]], BinaryIO]"
Item: TypeAlias = Record | InvalidRecord

MiB = 1024 * 1024
# Reads of 1, 2, 3 and 7 bytes cross every boundary: inside a record, between CR and LF,
# inside a multi-byte character, right after a newline.
TINY_READS = pytest.mark.parametrize(
    "sizes",
    [[1], [2], [3], [7], [1, 2, 3, 7], [MiB]],
    ids=["1-byte", "2-byte", "3-byte", "7-byte", "mixed", "whole"],
)


def decode(stream: BinaryIO, options: DecodeOptions) -> tuple[list[Item], DecodeSummary]:
    """Every item the decoder yields, and its summary."""
    decoder = RecordDecoder(stream, options)
    items = list(decoder)
    return items, decoder.summary


def records(items: list[Item]) -> list[Record]:
    """The items, asserting that every one is a valid record."""
    assert all(isinstance(item, Record) for item in items), items
    return [item for item in items if isinstance(item, Record)]


def decode_ranged(
    data: bytes, options: DecodeOptions
) -> tuple[list[Item], DecodeSummary, RangedObject]:
    """Every item decoded from `data` read by ranges only (as Parquet is), and the source."""
    ranged = RangedObject.from_bytes(data)
    decoder = RecordDecoder(None, options, ranged=ranged)
    items = list(decoder)
    return items, decoder.summary, ranged
