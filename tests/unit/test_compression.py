"""DecompressedStream: gzip and zstd by magic bytes, multi-member and multi-frame input,
truncation and corruption, and the bomb guards (fast, bounded memory)."""

from __future__ import annotations

import functools
import gzip
import io
import time
import tracemalloc
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

import pytest
import zstandard

from function.core.decoding.compression import (
    Compression,
    DecompressedStream,
    ZstdFrameWalker,
    compression_hint,
    compression_suffix,
    detect_compression,
)
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Trickle: TypeAlias = "Callable[[bytes, Sequence[int]], BinaryIO]"

MiB = 1024 * 1024
# Compressible but not trivially so: about 4:1 with gzip.
TEXT = b"".join(
    b'{"n": %d, "name": "user-%d", "ok": true}\n' % (n, n * 7919) for n in range(20_000)
)


def read_all(
    stream: BinaryIO, *, max_object_bytes: int = 10**12, ratio: int = 200, size: int = MiB
) -> tuple[bytes, DecompressedStream]:
    content = DecompressedStream(
        stream, max_object_bytes=max_object_bytes, max_compression_ratio=ratio
    )
    parts = []
    while data := content.read(size):
        assert len(data) <= size
        parts.append(data)
    return b"".join(parts), content


def zstd(data: bytes, *, write_checksum: bool = False, write_content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(
        write_checksum=write_checksum, write_content_size=write_content_size
    ).compress(data)


def zstd_streamed(data: bytes, repeat: int = 1) -> bytes:
    """A zstd stream as `zstd` writes from a pipe: no content size in the frame header."""
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as writer:
        for _ in range(repeat):
            writer.write(data)
    return out.getvalue()


# -- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1f\x8b\x08\x00", Compression.GZIP),
        (b"\x28\xb5\x2f\xfd", Compression.ZSTD),
        (b"\x1f", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
    ids=["gzip", "zstd", "too-short", "zip-is-not-undone", "empty"],
)
def test_compression_is_detected_by_magic_bytes(head: bytes, expected: Compression | None) -> None:
    assert detect_compression(head) is expected


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("a.csv.gz", None, Compression.GZIP),
        ("a.JSON.GZIP", None, Compression.GZIP),
        ("a.jsonl.zst", None, Compression.ZSTD),
        ("a.jsonl.zstd", None, Compression.ZSTD),
        ("a.csv", "gzip", Compression.GZIP),
        ("a.csv", "identity, zstd", Compression.ZSTD),
        ("a.csv", None, None),
        (".gz", None, None),
    ],
    ids=["gz", "gzip-upper", "zst", "zstd", "encoding", "encoding-list", "none", "bare-suffix"],
)
def test_compression_hint_reads_content_encoding_then_suffix(
    name: str, encoding: str | None, expected: Compression | None
) -> None:
    assert compression_hint(name, encoding) is expected


def test_compression_suffix_is_split_off_the_name() -> None:
    assert compression_suffix("logs/app.jsonl.gz") == ("logs/app.jsonl", Compression.GZIP)
    assert compression_suffix("logs/app.jsonl") == ("logs/app.jsonl", None)


def test_gzip_bytes_are_decompressed_whatever_the_name_says() -> None:
    data, content = read_all(io.BytesIO(gzip.compress(TEXT)))

    assert data == TEXT
    assert content.compression is Compression.GZIP


def test_plain_bytes_are_passed_through_with_counts() -> None:
    data, content = read_all(io.BytesIO(TEXT))

    assert data == TEXT
    assert (content.compression, content.bytes_in, content.bytes_out) == (
        None,
        len(TEXT),
        len(TEXT),
    )


# -- gzip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[1], [3], [MiB]], ids=["1-byte", "3-byte", "whole"])
def test_gzip_reads_through_short_reads(trickle: Trickle, sizes: list[int]) -> None:
    compressed = gzip.compress(TEXT[:5000])

    data, content = read_all(trickle(compressed, sizes), size=100)

    assert data == TEXT[:5000]
    assert content.bytes_in == len(compressed)


def test_concatenated_gzip_members_are_one_object() -> None:
    compressed = gzip.compress(b"first\n") + gzip.compress(b"") + gzip.compress(b"second\n")

    data, _ = read_all(io.BytesIO(compressed))

    assert data == b"first\nsecond\n"


def test_zero_padding_after_the_last_gzip_member_is_accepted() -> None:
    data, _ = read_all(io.BytesIO(gzip.compress(b"tape block\n") + b"\x00" * 512))

    assert data == b"tape block\n"


def test_garbage_after_a_gzip_member_rejects_the_object() -> None:
    with pytest.raises(ObjectRejected, match="unexpected data after the gzip member"):
        read_all(io.BytesIO(gzip.compress(b"ok\n") + b"trailing junk"))


@pytest.mark.parametrize("keep", [0.5, 0.99], ids=["half", "all-but-the-trailer"])
def test_truncated_gzip_rejects_the_object_saying_how_far_it_got(keep: float) -> None:
    compressed = gzip.compress(TEXT)

    with pytest.raises(ObjectRejected, match=r"gzip stream is truncated after \d+ decompressed"):
        read_all(io.BytesIO(compressed[: int(len(compressed) * keep)]))


def test_corrupt_gzip_rejects_the_object() -> None:
    compressed = bytearray(gzip.compress(TEXT))
    compressed[len(compressed) // 2 : len(compressed) // 2 + 8] = b"\xff" * 8

    with pytest.raises(ObjectRejected, match="gzip stream is corrupt"):
        read_all(io.BytesIO(bytes(compressed)))


# -- zstd ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "compressed",
    [
        zstd(TEXT),
        zstd(TEXT, write_checksum=True),
        zstd(TEXT, write_content_size=False),
        zstd_streamed(TEXT),
    ],
    ids=["default", "checksum", "no-content-size", "streamed"],
)
def test_zstd_frames_are_decompressed(compressed: bytes) -> None:
    data, content = read_all(io.BytesIO(compressed), size=64 * 1024)

    assert data == TEXT
    assert content.compression is Compression.ZSTD


@pytest.mark.parametrize("sizes", [[1], [5], [MiB]], ids=["1-byte", "5-byte", "whole"])
def test_zstd_frames_and_skippable_frames_in_a_row_are_one_object(
    trickle: Trickle, sizes: list[int]
) -> None:
    skippable = b"\x50\x2a\x4d\x18" + (6).to_bytes(4, "little") + b"meta!!"
    compressed = zstd(b"one\n") + skippable + zstd(b"") + zstd(b"two\n", write_checksum=True)

    data, _ = read_all(trickle(compressed, sizes), size=3)

    assert data == b"one\ntwo\n"


@pytest.mark.parametrize(
    "cut", [4, 5, 100, -1], ids=["after-magic", "inside-header", "inside-block", "before-checksum"]
)
def test_truncated_zstd_rejects_the_object(cut: int) -> None:
    compressed = zstd(TEXT, write_checksum=True)

    with pytest.raises(ObjectRejected, match=r"zstd stream is (truncated|corrupt) after \d+"):
        read_all(io.BytesIO(compressed[:cut]))


def test_zstd_cut_exactly_between_frames_is_complete() -> None:
    first = zstd(b"one\n")

    data, _ = read_all(io.BytesIO(first + zstd(b"two\n")[:0]))

    assert data == b"one\n"


def test_zstd_with_a_bad_checksum_rejects_the_object() -> None:
    compressed = bytearray(zstd(TEXT, write_checksum=True))
    compressed[-1] ^= 0xFF

    with pytest.raises(ObjectRejected, match="zstd stream is corrupt"):
        read_all(io.BytesIO(bytes(compressed)))


def test_garbage_after_zstd_frames_rejects_the_object() -> None:
    with pytest.raises(ObjectRejected, match="zstd stream is corrupt"):
        read_all(io.BytesIO(zstd(b"ok\n") + b"trailing junk"))


def test_zstd_frame_asking_for_a_huge_window_is_rejected_without_allocating_it() -> None:
    frame = bytearray(zstd_streamed(TEXT))
    assert frame[4] & 0x20 == 0  # not single-segment: byte 5 is the window descriptor
    frame[5] = 18 << 3  # window log 10 + 18 = 28: 256 MiB, over the 128 MiB limit

    with pytest.raises(ObjectRejected, match=r"zstd stream is corrupt.*too much memory"):
        read_all(io.BytesIO(bytes(frame)))


def test_frame_walker_knows_a_frame_boundary_when_fed_byte_by_byte() -> None:
    compressed = zstd(TEXT, write_checksum=True)
    walker = ZstdFrameWalker()

    for position in range(len(compressed)):
        walker.feed(compressed[position : position + 1])
        assert walker.at_boundary is (position == len(compressed) - 1)
    assert walker.frames == 1


# -- guards -------------------------------------------------------------------------------

BOMB_BYTES = 256 * MiB


@functools.cache
def bomb(kind: str) -> bytes:
    """256 MiB of zeros compressed: a few KB of zstd, or 256 gzip members of 1 MiB each
    (about 250 KB, and cheaper to build than compressing 256 MiB)."""
    if kind == "zstd":
        return zstd_streamed(b"\x00" * MiB, repeat=BOMB_BYTES // MiB)
    return gzip.compress(b"\x00" * MiB, compresslevel=9) * (BOMB_BYTES // MiB)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompression_bomb_is_rejected_fast_with_bounded_memory(kind: str) -> None:
    compressed = bomb(kind)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ObjectRejected, match="looks like a decompression bomb"):
            read_all(io.BytesIO(compressed))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert time.perf_counter() - started < 2.0
    assert peak < 8 * MiB


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompressed_size_over_max_object_bytes_rejects_even_at_an_allowed_ratio(
    kind: str,
) -> None:
    with pytest.raises(ObjectRejected, match="decompressed object is larger than the limit"):
        read_all(io.BytesIO(bomb(kind)), max_object_bytes=10 * MiB, ratio=10**6)


def test_small_highly_compressible_object_passes_the_ratio_guard() -> None:
    tiny = b"same line again\n" * 50_000  # 800 KB, far more than 200:1

    data, _ = read_all(io.BytesIO(gzip.compress(tiny)), ratio=2)

    assert data == tiny


def test_plain_object_over_max_object_bytes_is_rejected() -> None:
    with pytest.raises(ObjectRejected, match="the object is larger than the limit of 1000 bytes"):
        read_all(io.BytesIO(b"x" * 1001), max_object_bytes=1000)
