"""A seekable `IO[bytes]` over an object read by byte ranges, for formats that need one (Parquet).

Pure: the ranges come from a `RandomAccess` (function.ports.RangedObject over Object Storage's
ranged GETs, a local file, bytes in a test). `SeekableObject` is what pyarrow reads: it asks for
the footer at the end, then for each row group's column chunks. Small reads (pyarrow reads the
last 8 bytes, then the footer) are served from one read-ahead window, so they cost one range
request, not several; large reads go to the source as they are. pyarrow's I/O threads may read
concurrently: a lock keeps the window and the position consistent.
"""

from __future__ import annotations

import io
import threading
from typing import Any, Final, Protocol

# Reads of under a quarter of this fetch this much: from the read's start, or the object's
# last bytes when the read is near its end (the footer); larger reads go as they are.
READ_AHEAD_BYTES: Final = 256 * 1024


class RandomAccess(Protocol):
    """An object of known size whose bytes can be read at any offset."""

    @property
    def size(self) -> int:
        """The object's size in bytes."""
        ...

    def read(self, start: int, length: int) -> bytes:
        """`length` bytes from `start` (fewer only at the object's end)."""
        ...


class SeekableObject(io.RawIOBase):
    """A read-only, seekable binary file over a `RandomAccess`, with a small read-ahead."""

    def __init__(self, source: RandomAccess, *, read_ahead: int = READ_AHEAD_BYTES) -> None:
        super().__init__()
        self._source = source
        self._size = source.size
        self._read_ahead = read_ahead
        self._position = 0
        self._window_start = 0
        self._window = b""
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """The object's size."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._lock:
            if whence == io.SEEK_SET:
                position = offset
            elif whence == io.SEEK_CUR:
                position = self._position + offset
            elif whence == io.SEEK_END:
                position = self._size + offset
            else:
                raise ValueError(f"invalid whence {whence}")
            if position < 0:
                raise ValueError(f"negative seek position {position}")
            self._position = position
            return position

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            start = self._position
            if size is None or size < 0:
                size = self._size - start
            data = self._read_at(start, size)
            self._position = start + len(data)
            return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _read_at(self, start: int, size: int) -> bytes:
        size = max(0, min(size, self._size - start))
        if not size:
            return b""
        window, window_start = self._window, self._window_start
        if window_start <= start and start + size <= window_start + len(window):
            cut = start - window_start
            return window[cut : cut + size]
        if size * 4 > self._read_ahead:
            return self._source.read(start, size)
        # A small read: fetch a window around it. Near the end, the window is the object's
        # last bytes, so the 8-byte tail and the footer before it come in one request.
        window_start = min(start, max(0, self._size - self._read_ahead))
        fetched = self._source.read(window_start, min(self._read_ahead, self._size - window_start))
        self._window, self._window_start = fetched, window_start
        cut = start - window_start
        return fetched[cut : cut + size]

    # pyarrow's PythonFile asks for these names on some paths.
    def size_hint(self) -> int:
        """The object's size (pyarrow's name for it)."""
        return self._size

    def __getstate__(self) -> Any:
        raise TypeError("a SeekableObject reads a live object and cannot be pickled")
