"""raw: the object in fixed-size chunks, the last one shorter."""

from __future__ import annotations

from typing import TYPE_CHECKING

from function.core.decoding.records import Item, Record

if TYPE_CHECKING:
    from collections.abc import Iterator

    from function.core.decoding.buffering import Tally


def raw_chunks(chunks: Iterator[bytes], start: int, size: int, tally: Tally) -> Iterator[Item]:
    index = tally.index
    offset = start  # of the next record
    pending: list[bytes] = []  # fewer than `size` bytes waiting for the next chunk
    pending_size = 0
    try:
        for chunk in chunks:
            data = chunk
            if pending:
                if pending_size + len(chunk) < size:
                    pending.append(chunk)
                    pending_size += len(chunk)
                    continue
                take = size - pending_size
                pending.append(chunk[:take])
                yield Record(index, offset, offset + size, b"".join(pending))
                index += 1
                offset += size
                pending.clear()
                pending_size = 0
                data = chunk[take:]
            whole = len(data) - len(data) % size
            for cut in range(0, whole, size):
                yield Record(index, offset, offset + size, data[cut : cut + size])
                index += 1
                offset += size
            if whole < len(data):
                pending.append(data[whole:])
                pending_size = len(data) - whole
        if pending:
            yield Record(index, offset, offset + pending_size, b"".join(pending))
            index += 1
    finally:
        tally.index = index
