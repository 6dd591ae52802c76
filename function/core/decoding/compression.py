"""Transparent, guarded decompression of an object's byte stream.

`DecompressedStream` wraps the object's `IO[bytes]` and hands out its *decompressed* bytes
through `read(size)`, so the record decoders never know whether the object was compressed.

Detection is by magic bytes only: `1f 8b` is gzip, `28 b5 2f fd` is zstd. A `.gz`/`.zst`
suffix or a `Content-Encoding` header is a hint the bytes themselves must confirm: an HTTP
client may already have undone a `Content-Encoding: gzip` in transit, and a mislabelled
object is better read as what it is than rejected. `compression_hint` reads the hint;
RecordDecoder logs when it disagrees with the bytes.

Guards, each raising `ObjectRejected` with a reason the user can act on:

- more decompressed bytes than `max_object_bytes` (compressed or not);
- a compression ratio (decompressed / compressed bytes consumed) above
  `max_compression_ratio`, checked once more than `RATIO_CHECK_AFTER_BYTES` came out, so a
  tiny, highly compressible file still passes while a bomb is stopped after about a MiB;
- a truncated stream (the object ends inside a gzip member or a zstd frame), a corrupt one,
  or data after the last gzip member that is neither a further member nor zero padding.

Memory is bounded whatever the input: gzip is inflated with `max_length`, so one call never
produces more than the caller asked for, and zstd goes through `zstandard`'s stream reader,
whose `read(size)` is bounded the same way, with a window limit of `ZSTD_MAX_WINDOW_BYTES`.
zlib says when a gzip member is complete (`eof`); zstandard's stream reader just stops at the
end of its input, complete frame or not, so for zstd a small walker follows the frame and
block headers of the compressed bytes (a few header bytes per 128 KiB block) to tell a
complete stream from a truncated one.
"""

from __future__ import annotations

import zlib
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Final, cast

import zstandard

from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
MAGIC_BYTES: Final = 4  # enough to recognise either format

# Below this many decompressed bytes the ratio is not checked: a 2 KiB file of one repeated
# line compresses 500:1 and is harmless.
RATIO_CHECK_AFTER_BYTES: Final = 1024 * 1024
# zstd's own default limit (the `zstd` CLI refuses larger windows without --long/--memory);
# a frame asking for more is rejected instead of allocating it.
ZSTD_MAX_WINDOW_BYTES: Final = 1 << 27
# How much compressed input is read at a time. Small enough that the ratio is measured on
# what was actually consumed, large enough that per-call overhead does not matter.
COMPRESSED_READ_BYTES: Final = 64 * 1024

# Skippable frames carry metadata: magic 0x184D2A50..0x184D2A5F, little-endian.
_SKIPPABLE_MAGIC_TAIL: Final = b"\x2a\x4d\x18"
_SKIPPABLE_MAGIC_LOW: Final = 0x50
_RESERVED_BLOCK_TYPE: Final = 3
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # gzip header and trailer, not raw deflate or zlib


class Compression(StrEnum):
    """The compressions objstream undoes."""

    GZIP = "gzip"
    ZSTD = "zstd"


def detect_compression(head: bytes) -> Compression | None:
    """The compression the object's first bytes announce, or None for plain content."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return None


_SUFFIXES: Final = {
    ".gz": Compression.GZIP,
    ".gzip": Compression.GZIP,
    ".zst": Compression.ZSTD,
    ".zstd": Compression.ZSTD,
}
_ENCODINGS: Final = {
    "gzip": Compression.GZIP,
    "x-gzip": Compression.GZIP,
    "zstd": Compression.ZSTD,
}


def compression_suffix(object_name: str) -> tuple[str, Compression | None]:
    """Split a compression suffix off an object name: `a.csv.gz` → (`a.csv`, gzip)."""
    lowered = object_name.lower()
    for suffix, compression in _SUFFIXES.items():
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return object_name[: -len(suffix)], compression
    return object_name, None


def compression_hint(object_name: str, content_encoding: str | None) -> Compression | None:
    """The compression the metadata claims (Content-Encoding first, then the name's suffix)."""
    if content_encoding:
        # Content-Encoding may list several codings; the last one applied is undone first.
        last = content_encoding.split(",")[-1].strip().lower()
        if last in _ENCODINGS:
            return _ENCODINGS[last]
    return compression_suffix(object_name)[1]


class DecompressedStream:
    """The decompressed bytes of an object, read in bounded pieces, with the guards enforced.

    `read(size)` returns at most `size` bytes and `b""` only at the end. `compression` is
    known after the first `read`. `bytes_in` counts bytes read from the underlying stream,
    `bytes_out` the (decompressed) bytes handed out.
    """

    def __init__(
        self,
        stream: IO[bytes],
        *,
        max_object_bytes: int,
        max_compression_ratio: int,
        detect: bool = True,
    ) -> None:
        self._stream = stream
        # False for a read that starts inside an object (a continuation's Range read): its
        # first bytes are not the object's, and could look like a magic number by chance.
        self._detect = detect
        self._max_object_bytes = max_object_bytes
        self._max_ratio = max_compression_ratio
        self.compression: Compression | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self._started = False
        self._pushback = b""  # bytes read to look at the magic, not yet handed out
        self._inner: Callable[[int], bytes] = self._read_plain

    def read(self, size: int) -> bytes:
        """Up to `size` decompressed bytes; `b""` at the end of the object."""
        if not self._started:
            self._start()
        data = self._inner(size)
        self.bytes_out += len(data)
        if self.bytes_out > self._max_object_bytes:
            what = "decompressed object" if self.compression else "object"
            raise ObjectRejected(
                f"the {what} is larger than the limit of {self._max_object_bytes} bytes"
                " (MAX_OBJECT_BYTES)"
            )
        return data

    # -- start: look at the magic bytes, then choose the reader -------------------------

    def _start(self) -> None:
        self._started = True
        head = b""
        # A network body may return fewer bytes than asked; the magic needs all four.
        while len(head) < MAGIC_BYTES:
            data = self._stream.read(MAGIC_BYTES - len(head))
            if not data:
                break
            head += data
        self.bytes_in += len(head)
        self._pushback = head
        if not self._detect:
            return
        self.compression = detect_compression(head)
        if self.compression is Compression.GZIP:
            self._inner = _GzipReader(self).read
        elif self.compression is Compression.ZSTD:
            self._inner = _ZstdReader(self).read

    def read_compressed(self, size: int) -> bytes:
        """Up to `size` bytes of the underlying (compressed) stream, for the inner readers."""
        if self._pushback:
            data, self._pushback = self._pushback, b""
            return data
        data = self._stream.read(size)
        self.bytes_in += len(data)
        return data

    def _read_plain(self, size: int) -> bytes:
        return self.read_compressed(size)

    def check_ratio(self, produced: int, consumed: int) -> None:
        """Reject a decompression bomb: too many bytes out per compressed byte consumed."""
        if produced > RATIO_CHECK_AFTER_BYTES and produced > self._max_ratio * max(consumed, 1):
            raise ObjectRejected(
                f"{self.compression} stream expands more than {self._max_ratio}:1"
                f" ({produced} bytes from {consumed} compressed bytes), which looks like a"
                " decompression bomb (MAX_COMPRESSION_RATIO)"
            )


class _GzipReader:
    """Inflates gzip members one after another (`cat a.gz b.gz` is a valid gzip file)."""

    def __init__(self, outer: DecompressedStream) -> None:
        self._outer = outer
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._input = b""  # compressed bytes not yet given to the inflater
        self._consumed = 0  # compressed bytes the inflater has taken
        self._produced = 0
        self._done = False

    def read(self, size: int) -> bytes:
        while not self._done:
            if self._inflater.eof:
                self._next_member()
                continue
            if not self._input:
                self._input = self._outer.read_compressed(COMPRESSED_READ_BYTES)
                if not self._input:
                    return self._drain_at_end(size)
            data = self._inflate(self._input, size)
            if data:
                return data
        return b""

    def _inflate(self, data: bytes, size: int) -> bytes:
        try:
            out = self._inflater.decompress(data, size)
        except zlib.error as exc:
            raise ObjectRejected(
                f"gzip stream is corrupt after {self._produced} decompressed bytes: {exc}"
            ) from exc
        # What the inflater did not take stays for the next call; bytes past the end of a
        # member come back as unused_data and are looked at by _next_member.
        rest = self._inflater.unconsumed_tail or self._inflater.unused_data
        self._consumed += len(data) - len(rest)
        self._input = rest
        self._produced += len(out)
        self._outer.check_ratio(self._produced, self._consumed)
        return out

    def _drain_at_end(self, size: int) -> bytes:
        """The compressed stream ended: hand out what the inflater still holds, or fail."""
        data = self._inflate(b"", size)
        if data:
            return data
        if not self._inflater.eof:
            raise ObjectRejected(
                f"gzip stream is truncated after {self._produced} decompressed bytes;"
                " was the upload interrupted?"
            )
        self._done = True
        return b""

    def _next_member(self) -> None:
        """After a member's trailer: another member, zero padding, or the end."""
        rest = self._input.lstrip(b"\x00")  # gzip(1) accepts zero padding after the last member
        while len(rest) < len(GZIP_MAGIC):
            more = self._outer.read_compressed(COMPRESSED_READ_BYTES)
            if not more:
                break
            rest = (rest + more).lstrip(b"\x00")
        if not rest:
            self._input = b""
            self._done = True
            return
        if not rest.startswith(GZIP_MAGIC):
            raise ObjectRejected(
                f"gzip stream is corrupt: unexpected data after the gzip member that ends"
                f" at {self._produced} decompressed bytes"
            )
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._input = rest


class _ZstdReader:
    """Decompresses zstd frames one after another, bounded per read."""

    def __init__(self, outer: DecompressedStream) -> None:
        self._source = _WalkedSource(outer)
        self._produced = 0
        self._outer = outer
        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW_BYTES)
        self._reader = decompressor.stream_reader(
            # zstandard only ever calls read(size) on its source; the cast says so to mypy.
            cast("IO[bytes]", self._source),
            read_size=COMPRESSED_READ_BYTES,
            read_across_frames=True,
        )

    def read(self, size: int) -> bytes:
        try:
            data: bytes = self._reader.read(size)
        except zstandard.ZstdError as exc:
            raise ObjectRejected(
                f"zstd stream is corrupt after {self._produced} decompressed bytes: {exc}"
            ) from exc
        self._produced += len(data)
        self._outer.check_ratio(self._produced, self._source.consumed)
        if not data:
            self._check_complete()
        return data

    def _check_complete(self) -> None:
        frames = self._source.frames
        if frames.broken:
            raise ObjectRejected(
                f"zstd stream is corrupt after {self._produced} decompressed bytes: {frames.broken}"
            )
        if not frames.at_boundary:
            raise ObjectRejected(
                f"zstd stream is truncated after {self._produced} decompressed bytes;"
                " was the upload interrupted?"
            )


class _WalkedSource:
    """The compressed bytes as zstandard's stream reader pulls them, walked on the way."""

    def __init__(self, outer: DecompressedStream) -> None:
        self._outer = outer
        self.frames = ZstdFrameWalker()
        self.consumed = 0

    def read(self, size: int) -> bytes:
        data = self._outer.read_compressed(size)
        self.consumed += len(data)
        self.frames.feed(data)
        return data


class ZstdFrameWalker:
    """Follows zstd frame and block headers to know whether the input ended on a frame end.

    Fed every compressed byte in order; keeps a few header bytes at most. Format: RFC 8878
    (frame = magic, header, blocks with 3-byte headers, optional 4-byte checksum; skippable
    frames = magic 0x184D2A5?, 4-byte size, payload).
    """

    _MAGIC = 0
    _FRAME_HEADER = 1
    _BLOCK_HEADER = 2
    _SKIPPABLE_SIZE = 3

    def __init__(self) -> None:
        self._state = self._MAGIC
        self._need = 4  # header bytes the current state wants
        self._header = bytearray()
        self._skip = 0  # payload bytes to pass over before the next header
        self._checksum = False
        self.frames = 0
        self.broken: str | None = None

    @property
    def at_boundary(self) -> bool:
        """Whether everything fed so far is whole frames (and at least one)."""
        return (
            self.broken is None
            and self.frames > 0
            and self._state == self._MAGIC
            and self._skip == 0
            and not self._header
        )

    def feed(self, data: bytes) -> None:
        """Walk over `data`, the next compressed bytes."""
        pos, end = 0, len(data)
        while pos < end and self.broken is None:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._header), end - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) == self._need:
                header = bytes(self._header)
                self._header.clear()
                self._on_header(header)

    def _on_header(self, header: bytes) -> None:
        if self._state == self._MAGIC:
            self._on_magic(header)
        elif self._state == self._FRAME_HEADER:
            self._on_frame_header(header[0])
        elif self._state == self._BLOCK_HEADER:
            self._on_block_header(int.from_bytes(header, "little"))
        else:  # skippable frame size
            self._skip = int.from_bytes(header, "little")
            self._expect(self._MAGIC, 4)
            self.frames += 1

    def _on_magic(self, magic: bytes) -> None:
        if magic == ZSTD_MAGIC:
            self._expect(self._FRAME_HEADER, 1)
        elif magic[1:] == _SKIPPABLE_MAGIC_TAIL and magic[0] & 0xF0 == _SKIPPABLE_MAGIC_LOW:
            self._expect(self._SKIPPABLE_SIZE, 4)
        else:
            self.broken = "unknown frame magic " + magic.hex()

    def _on_frame_header(self, descriptor: int) -> None:
        single_segment = bool(descriptor & 0x20)
        content_size_bytes = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
        dictionary_id_bytes = (0, 1, 2, 4)[descriptor & 0x03]
        window_descriptor_bytes = 0 if single_segment else 1
        self._checksum = bool(descriptor & 0x04)
        self._skip = window_descriptor_bytes + dictionary_id_bytes + content_size_bytes
        self._expect(self._BLOCK_HEADER, 3)

    def _on_block_header(self, header: int) -> None:
        last, block_type, size = header & 1, (header >> 1) & 0x03, header >> 3
        if block_type == _RESERVED_BLOCK_TYPE:
            self.broken = "reserved block type"
            return
        self._skip = 1 if block_type == 1 else size  # an RLE block stores one byte
        if last:
            self._skip += 4 if self._checksum else 0
            self._expect(self._MAGIC, 4)
            self.frames += 1
        else:
            self._expect(self._BLOCK_HEADER, 3)

    def _expect(self, state: int, size: int) -> None:
        self._state = state
        self._need = size
