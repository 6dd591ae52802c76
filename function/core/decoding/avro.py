"""avro: one record per Avro datum of an object container file, block by block, streamed.

The container (Avro 1.x spec, "Object Container Files"): `Obj\\x01`, a metadata map (the
writer's schema under `avro.schema`, the codec under `avro.codec`), a 16-byte sync marker;
then blocks, each a record count, a byte size, that many bytes of (compressed) data and the
sync marker again. objstream reads this framing itself, from the streamed body, so that the
sizes a file declares are checked before anything is allocated: a header over
`MAX_HEADER_BYTES`, a block whose stored or decompressed size is over `max_row_group_bytes`
(MAX_ROW_GROUP_BYTES), a count that the block's bytes cannot hold, or a sync marker that does
not match rejects the object with the reason. fastavro (its C reader) decodes the records of
one decompressed block; memory is one block (compressed and decompressed) whatever the size
of the object. Codecs: null, deflate, snappy (cramjam, CRC checked), zstandard, bzip2, xz.

Values follow `typed` (the README's mapping table): fastavro gives decimals as Decimal,
dates, times and timestamps as Python objects (timestamp-* in UTC, local-timestamp-* naive),
enums as their symbol, unions as the branch's value, bytes and fixed as bytes.

Positions: a row is (the byte offset of its block, its row in the block). A record's
`start`/`end` are its block's byte range (from its count to the end of its sync marker).
`position` is the position after the last row yielded; decoding can start at a block offset
(the chunks then begin there, and the header comes from the object's first bytes, read
apart: `AvroHeader.parse`), skipping `row` rows of that block.
"""

from __future__ import annotations

import bz2
import dataclasses
import io
import lzma
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from function.core.decoding.buffering import too_long
from function.core.decoding.records import InvalidRecord, Item, Record
from function.core.decoding.typed import (
    Column,
    FieldType,
    Kind,
    finite,
    finite_deep,
    row_json,
)
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from function.core.decoding.buffering import Limits, Tally

MAGIC: Final = b"Obj\x01"
SYNC_BYTES: Final = 16
MAX_HEADER_BYTES: Final = 16 * 1024**2
_MAX_VARINT_BYTES: Final = 10
MAX_EMPTY_RECORDS: Final = 1_000_000


class _Cursor:
    """The stream's chunks as bytes to take from, with the object offset of the next byte."""

    __slots__ = ("_buffer", "_chunks", "_position", "offset")

    def __init__(self, chunks: Iterator[bytes], offset: int) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._position = 0
        self.offset = offset

    def at_end(self) -> bool:
        return not self._fill(1)

    def _fill(self, size: int) -> bool:
        available = len(self._buffer) - self._position
        if available >= size:
            return True
        parts = [self._buffer[self._position :]]
        for chunk in self._chunks:
            parts.append(chunk)
            available += len(chunk)
            if available >= size:
                break
        self._buffer, self._position = b"".join(parts), 0
        return available >= size

    def take(self, size: int, what: str) -> bytes:
        if not self._fill(size):
            raise ObjectRejected(
                f"truncated Avro file: it ends inside {what} at byte "
                f"{self.offset + len(self._buffer) - self._position}"
            )
        start = self._position
        self._position += size
        self.offset += size
        data = self._buffer[start : self._position]
        if self._position > 1024**2:  # drop what was taken, now and then
            self._buffer, self._position = self._buffer[self._position :], 0
        return data

    def long(self, what: str) -> int:
        """An Avro long (zig-zag varint)."""
        result = shift = 0
        for _ in range(_MAX_VARINT_BYTES):
            byte = self.take(1, what)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (result >> 1) ^ -(result & 1)
            shift += 7
        raise ObjectRejected(f"corrupt Avro file: {what} is not a valid number")


@dataclass(frozen=True, slots=True)
class AvroHeader:
    """The container's header: the writer's schema (parsed by fastavro), codec and sync marker."""

    schema: Any
    codec: str
    sync: bytes
    size: int  # header bytes: the first block starts here

    @classmethod
    def read(cls, cursor: _Cursor) -> AvroHeader:
        start = cursor.offset
        if cursor.take(len(MAGIC), "the header") != MAGIC:
            raise ObjectRejected(
                "not an Avro object container file: it does not start with Obj\\x01"
            )
        metadata: dict[str, bytes] = {}
        while True:
            count = cursor.long("the header's metadata")
            if count == 0:
                break
            if count < 0:
                count = -count
                cursor.long("the header's metadata")  # the block's byte size, unused
            for _ in range(count):
                key = cursor.take(_length(cursor, start), "a metadata key").decode(
                    "utf-8", "replace"
                )
                metadata[key] = cursor.take(_length(cursor, start), "a metadata value")
        sync = cursor.take(SYNC_BYTES, "the sync marker")
        codec = _codec(metadata)
        return cls(_schema(metadata), codec, sync, cursor.offset - start)

    @classmethod
    def parse(cls, head: bytes) -> AvroHeader:
        """The header from the object's first bytes (enough of them to hold it)."""
        return cls.read(_Cursor(iter((head,)), 0))


def _length(cursor: _Cursor, start: int) -> int:
    length = cursor.long("the header's metadata")
    if length < 0 or cursor.offset - start + length > MAX_HEADER_BYTES:
        raise ObjectRejected(
            f"Avro header is over the limit of {MAX_HEADER_BYTES} bytes (or corrupt): it "
            f"declares a metadata entry of {length} bytes"
        )
    return length


def _schema(metadata: dict[str, bytes]) -> Any:
    import fastavro

    text = metadata.get("avro.schema")
    if text is None:
        raise ObjectRejected("corrupt Avro header: it has no avro.schema")
    try:
        return fastavro.parse_schema(orjson.loads(text))
    except (orjson.JSONDecodeError, fastavro.schema.SchemaParseException, ValueError, TypeError,
            KeyError) as exc:  # fmt: skip
        raise ObjectRejected(f"Avro schema that objstream cannot read: {exc}") from exc


_CODECS: Final = ("null", "deflate", "snappy", "zstandard", "bzip2", "xz")


def _codec(metadata: dict[str, bytes]) -> str:
    codec = metadata.get("avro.codec", b"null").decode("utf-8", "replace") or "null"
    if codec not in _CODECS:
        raise ObjectRejected(f"Avro codec {codec!r} is not supported ({', '.join(_CODECS)} are)")
    return codec


class AvroRecords:
    """The records of one Avro container; iterate once. `position` = after the last yielded."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        limits: Limits,
        tally: Tally,
        *,
        max_block_bytes: int,
        start_offset: int = 0,
        start_row: int = 0,
        header: AvroHeader | None = None,
    ) -> None:
        self._cursor = _Cursor(chunks, start_offset)
        self._limits = limits
        self._tally = tally
        self._max_block_bytes = max_block_bytes
        if header is None:
            if start_offset:
                raise ValueError("resuming an Avro object needs its header (AvroHeader.parse)")
            header = AvroHeader.read(self._cursor)
        self.header = header
        self.columns = avro_columns(header.schema)
        self.block_offset = self._cursor.offset  # the position after the last row yielded
        self.row = start_row

    def __iter__(self) -> Iterator[Item]:
        import fastavro

        cursor, header = self._cursor, self.header
        read = fastavro.schemaless_reader
        schema = header.schema
        fix = _float_fixer(schema)
        tally, limit = self._tally, self._limits.record
        skip = self.row
        while not cursor.at_end():
            block_start, count, data, span = self._block()
            stream = io.BytesIO(data)
            # The position after the previous block's last row is this block's row 0.
            self.block_offset = block_start
            last = count - 1
            start, end = span
            for row in range(count):
                try:
                    datum = read(stream, schema, None)
                except (EOFError, ValueError, KeyError, IndexError, UnicodeDecodeError,
                        struct.error) as exc:  # fmt: skip
                    raise ObjectRejected(
                        f"corrupt Avro block at byte {block_start}: record {row} of {count} "
                        f"does not decode ({type(exc).__name__}: {exc})"
                    ) from exc
                if row < skip:
                    continue
                value = row_json(fix(datum) if fix is not None else datum)
                if len(value) > limit:
                    item = self._invalid(value, block_start, row, span)
                else:
                    item = Record(tally.index, start, end, value)
                    tally.index += 1
                if row < last:
                    self.row = row + 1
                else:
                    self.block_offset, self.row = cursor.offset, 0
                yield item
            skip = 0
            if stream.tell() != len(data):
                raise ObjectRejected(
                    f"corrupt Avro block at byte {block_start}: {len(data) - stream.tell()} "
                    f"bytes left after its {count} records"
                )
            self.block_offset, self.row = cursor.offset, 0

    def _block(self) -> tuple[int, int, bytes, tuple[int, int]]:
        """The next block's framing, checked: its offset, count, decompressed data and span."""
        cursor, header = self._cursor, self.header
        block_start = cursor.offset
        count = cursor.long("a block's record count")
        size = cursor.long("a block's size")
        if count < 0 or size < 0 or size > self._max_block_bytes:
            raise ObjectRejected(
                f"Avro block at byte {block_start} declares {count} records in {size} "
                f"bytes: over MAX_ROW_GROUP_BYTES ({self._max_block_bytes}) or corrupt"
            )
        stored = cursor.take(size, f"the block at byte {block_start}")
        if cursor.take(SYNC_BYTES, f"the sync marker of the block at byte {block_start}") != (
            header.sync
        ):
            raise ObjectRejected(
                f"corrupt Avro file: the block at byte {block_start} does not end with the "
                "file's sync marker"
            )
        span = (block_start, cursor.offset)
        data = _decompress(header.codec, stored, self._max_block_bytes, block_start)
        if count > len(data) and count > MAX_EMPTY_RECORDS:
            # Only records of nulls take no byte; a count far beyond the block's bytes is
            # a corrupt or hostile block, not a million empty records.
            raise ObjectRejected(
                f"Avro block at byte {block_start} declares {count} records in "
                f"{len(data)} bytes: corrupt"
            )
        return block_start, count, data, span

    def _invalid(self, value: bytes, block: int, row: int, span: tuple[int, int]) -> Item:
        tally = self._tally
        index = tally.index
        tally.index = index + 1
        tally.invalid += 1
        reason = f"row {row} of the block at byte {block}: {too_long(len(value), self._limits)}"
        return InvalidRecord(index, span[0], span[1], reason, value[: self._limits.keep])


def _decompress(codec: str, data: bytes, limit: int, where: int) -> bytes:
    try:
        out = _DECOMPRESSORS[codec](data, limit)
    except ObjectRejected:
        raise
    except Exception as exc:
        raise ObjectRejected(
            f"corrupt Avro block at byte {where}: {codec} data does not decompress ({exc})"
        ) from exc
    if len(out) > limit:
        raise ObjectRejected(
            f"Avro block at byte {where} decompresses to more than MAX_ROW_GROUP_BYTES "
            f"({limit} bytes)"
        )
    return out


def _deflate(data: bytes, limit: int) -> bytes:
    return zlib.decompressobj(-15).decompress(data, limit + 1)


def _snappy(data: bytes, limit: int) -> bytes:
    import cramjam

    body, checksum = data[:-4], data[-4:]
    declared = _snappy_length(body)
    if declared > limit:
        _over(limit)
    out = bytes(cramjam.snappy.decompress_raw(body))
    if struct.pack(">I", zlib.crc32(out) & 0xFFFFFFFF) != checksum:
        raise ObjectRejected("corrupt Avro block: its snappy CRC does not match")
    return out


def _over(limit: int) -> None:
    raise ObjectRejected(
        f"an Avro block decompresses to more than MAX_ROW_GROUP_BYTES ({limit} bytes)"
    )


def _snappy_length(body: bytes) -> int:
    result = shift = 0
    for byte in body[:5]:
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
    raise ObjectRejected("corrupt Avro block: its snappy length is not a valid number")


def _zstandard(data: bytes, limit: int) -> bytes:
    import zstandard

    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
        return reader.read(limit + 1)


def _bzip2(data: bytes, limit: int) -> bytes:
    return bz2.BZ2Decompressor().decompress(data, limit + 1)


def _xz(data: bytes, limit: int) -> bytes:
    return lzma.LZMADecompressor().decompress(data, limit + 1)


_DECOMPRESSORS: Final[dict[str, Callable[[bytes, int], bytes]]] = {
    "null": lambda data, _limit: data,
    "deflate": _deflate,
    "snappy": _snappy,
    "zstandard": _zstandard,
    "bzip2": _bzip2,
    "xz": _xz,
}


# --- the file's schema, for Kafka Connect ------------------------------------------------

_PRIMITIVES: Final = {
    "null": Kind.NULL,
    "boolean": Kind.BOOLEAN,
    "int": Kind.INT32,
    "long": Kind.INT64,
    "float": Kind.FLOAT,
    "double": Kind.FLOAT,
    "bytes": Kind.BYTES,
    "string": Kind.STRING,
}
_LOGICAL: Final = {
    "date": FieldType(Kind.DATE),
    "time-millis": FieldType(Kind.TIME),
    "time-micros": FieldType(Kind.TIME),
    "timestamp-millis": FieldType(Kind.TIMESTAMP, zoned=True),
    "timestamp-micros": FieldType(Kind.TIMESTAMP, zoned=True),
    "timestamp-nanos": FieldType(Kind.TIMESTAMP, zoned=True),
    "local-timestamp-millis": FieldType(Kind.TIMESTAMP),
    "local-timestamp-micros": FieldType(Kind.TIMESTAMP),
    "local-timestamp-nanos": FieldType(Kind.TIMESTAMP),
    "uuid": FieldType(Kind.STRING),
}


def avro_columns(schema: Any) -> tuple[Column, ...]:
    """The columns of a record schema; any other top-level schema is one column `value`."""
    top = _type(schema, frozenset())
    if top.kind is Kind.STRUCT:
        return top.fields
    return (Column("value", top),)


def _type(schema: Any, seen: frozenset[str]) -> FieldType:  # noqa: C901, PLR0911
    if isinstance(schema, str):
        kind = _PRIMITIVES.get(schema)
        # A named type used again (fastavro inlines names it parsed): recursion has no
        # fixed Connect schema, so its values travel as JSON text.
        return FieldType(kind, nullable=kind is Kind.NULL) if kind else FieldType(Kind.JSON)
    if isinstance(schema, list):
        branches = [branch for branch in schema if branch != "null"]
        if len(branches) == 1:
            return dataclasses.replace(_type(branches[0], seen), nullable=True)
        return FieldType(Kind.JSON)
    logical = schema.get("logicalType")
    if logical == "decimal":
        return FieldType(Kind.DECIMAL, nullable=False, scale=int(schema.get("scale", 0)))
    if logical in _LOGICAL:
        found = _LOGICAL[logical]
        return FieldType(found.kind, nullable=False, zoned=found.zoned)
    kind = schema.get("type")
    if kind == "record":
        name = schema.get("name", "")
        if name in seen:
            return FieldType(Kind.JSON)
        inner_seen = seen | {name}
        fields = tuple(
            Column(field["name"], _type(field["type"], inner_seen)) for field in schema["fields"]
        )
        return FieldType(Kind.STRUCT, nullable=False, fields=fields)
    if kind == "array":
        return FieldType(Kind.LIST, nullable=False, items=_type(schema["items"], seen))
    if kind == "map":
        return FieldType(
            Kind.MAP, nullable=False, keys=FieldType(Kind.STRING, nullable=False),
            items=_type(schema["values"], seen),
        )  # fmt: skip
    if kind == "enum":
        return FieldType(Kind.STRING, nullable=False)
    if kind == "fixed":
        return FieldType(Kind.BYTES, nullable=False)
    return _type(kind, seen)


_FLOATS: Final = frozenset(("float", "double"))
_FLAT: Final = _FLOATS | {"null"}  # a float or null: `finite` names it


def _float_fixer(schema: Any) -> Callable[[Any], Any] | None:
    """What names the non-finite floats of a datum (the README's table), or None if none can be.

    A record's fields are fixed one by one and only where a float can occur: a float, double
    or union of them with null by `finite`, anything else that may hold one (records, arrays,
    maps, other unions, named types used again) by `finite_deep`. Other top-level schemas:
    `finite_deep` when a float can occur anywhere.
    """
    if not _may_float(schema):
        return None
    if not isinstance(schema, dict) or schema.get("type") not in {"record", "error"}:
        return finite_deep
    fixers = []
    for field in schema["fields"]:
        kind = field["type"]
        if not _may_float(kind):
            continue
        branches = kind if isinstance(kind, list) else [kind]
        flat = all(isinstance(branch, str) and branch in _FLAT for branch in branches)
        fixers.append((field["name"], finite if flat else finite_deep))
    fields = tuple(fixers)

    def fix(datum: dict[str, Any]) -> dict[str, Any]:
        for name, fixer in fields:
            datum[name] = fixer(datum[name])
        return datum

    return fix


def _may_float(schema: Any) -> bool:  # noqa: PLR0911 - one case per schema form
    """Whether a float or double can occur in values of `schema` (a parsed schema, or part)."""
    if isinstance(schema, str):
        # A named type used again is only its name here: it may hold floats.
        return schema in _FLOATS or schema not in _PRIMITIVES
    if isinstance(schema, list):
        return any(_may_float(branch) for branch in schema)
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    if kind in {"record", "error"}:
        return any(_may_float(field["type"]) for field in schema["fields"])
    if kind == "array":
        return _may_float(schema["items"])
    if kind == "map":
        return _may_float(schema["values"])
    if kind in {"enum", "fixed"}:
        return False
    return _may_float(kind)
