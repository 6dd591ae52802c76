"""parquet: one record per row, row group by row group, read through ranged reads.

Parquet keeps its schema and the place of every row group in a footer at the object's end,
so it cannot be streamed from the start: the decoder reads it through a `SeekableObject`
(random access over ranged GETs). pyarrow is imported here, lazily, only when a Parquet
object is decoded, so that importing the handler stays fast for every other format.

Order of work, and what bounds memory:

1. The last 8 bytes: the footer's length and `PAR1`. A missing magic, or a footer longer than
   the object or than `MAX_FOOTER_BYTES`, rejects the object before anything large is read.
2. The footer (pyarrow, with Thrift's own size limits). Each row group's declared sizes are
   checked before it is read: its uncompressed size, and the least memory its rows take as
   Arrow arrays (rows times the fixed width of its columns), must stay under
   `max_row_group_bytes` (MAX_ROW_GROUP_BYTES) — so a footer declaring 10^12 rows is a clear
   rejection, not an allocation.
3. Row groups one at a time: pyarrow pre-buffers that row group's column chunks (a few large
   range reads, coalesced), then decodes them in batches of about `BATCH_BYTES` of rows.
   Memory is the row group's compressed column chunks plus one batch, whatever the object's
   size.

Values follow `typed` (the README's mapping table), and the rows' JSON is written column by
column in Arrow, not value by value in Python: timestamps formatted as RFC 3339 (UTC `Z` when
zoned, no offset when naive, the unit's digits kept: nanoseconds stay), dates and times cast to
their exact text, decimals to theirs (unless Arrow's would have an exponent), durations to
their integer count of the unit, half floats widened; integers, booleans and strings cast and
quoted, structs and lists joined from their children's text. Floats, binary (base64) and what
Arrow cannot write exactly (maps, control characters, non-finite floats) go through Python, a
column at a time, as `typed` writes them.

Positions: a row is (row group, row in the row group); `index` = the rows of the row groups
before it + its row. A record's `start`/`end` are its row group's byte range (from its first
column chunk to the end of its last). Decoding can start at any (row group, row) and
`position` tells the position after the last row yielded (`continuation.ResumePoint`).
"""

from __future__ import annotations

import binascii
import struct
from typing import TYPE_CHECKING, Any, Final

import orjson

from function.core.decoding.buffering import too_long
from function.core.decoding.ranged import SeekableObject
from function.core.decoding.records import InvalidRecord, Item, Record
from function.core.decoding.typed import (
    Column,
    FieldType,
    Kind,
    compose,
    finite,
    map_entries,
    row_json,
)
from function.errors import ObjectRejected

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from function.core.decoding.buffering import Limits, Tally
    from function.core.decoding.ranged import RandomAccess

MAGIC: Final = b"PAR1"
# A footer this long holds the metadata of far more columns and row groups than real files
# have (a wide table with thousands of row groups has a few MiB); past it, an object is hostile.
MAX_FOOTER_BYTES: Final = 64 * 1024**2
# Rows become JSON about this many bytes (uncompressed) at a time. A batch is held about four
# times over while it does (its arrays, its columns' JSON, the joined rows, the rows' bytes):
# 4 MiB keeps the peak of 8 MiB batches as Python values, at the same CPU per row.
BATCH_BYTES: Final = 4 * 1024**2
MIN_BATCH_ROWS: Final = 16
MAX_BATCH_ROWS: Final = 65_536
_TAIL: Final = 8  # footer length (4 bytes, little-endian) + magic
_Z: Final = "Z"
_EMPTY: Final = ""


class ParquetRows:
    """The records of one Parquet object; iterate once. `position` = after the last yielded."""

    def __init__(
        self,
        source: RandomAccess,
        limits: Limits,
        tally: Tally,
        *,
        max_row_group_bytes: int,
        start_row_group: int = 0,
        start_row: int = 0,
    ) -> None:
        self._source = source
        self._limits = limits
        self._tally = tally
        self._max_row_group_bytes = max_row_group_bytes
        self.row_group = start_row_group  # the position after the last row yielded
        self.row = start_row
        self.columns: tuple[Column, ...] | None = None
        self._file: Any = None
        self._open()

    def _open(self) -> None:
        size = self._source.size
        if size < len(MAGIC) + _TAIL:
            raise ObjectRejected(f"not a Parquet file: {size} bytes is too short for one")
        tail = self._source.read(size - _TAIL, _TAIL)
        footer_length = struct.unpack("<I", tail[:4])[0]
        if tail[4:] != MAGIC:
            raise ObjectRejected(
                "not a Parquet file, or a truncated one: it does not end with PAR1 "
                "(an upload cut short loses the footer that Parquet keeps at its end)"
            )
        if footer_length > size - _TAIL - len(MAGIC):
            raise ObjectRejected(
                f"corrupt Parquet footer: it claims {footer_length} bytes in a file of {size}"
            )
        if footer_length > MAX_FOOTER_BYTES:
            raise ObjectRejected(
                f"Parquet footer of {footer_length} bytes is over the limit of "
                f"{MAX_FOOTER_BYTES} bytes"
            )
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet_file = pq.ParquetFile(
                SeekableObject(self._source),
                pre_buffer=True,
                thrift_string_size_limit=MAX_FOOTER_BYTES,
                thrift_container_size_limit=1_000_000,
            )
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ObjectRejected(f"corrupt Parquet footer: {exc}") from exc
        self._file = parquet_file
        self.columns = tuple(_column(field) for field in parquet_file.schema_arrow)
        metadata = parquet_file.metadata
        if not 0 <= self.row_group <= metadata.num_row_groups:
            raise ObjectRejected(
                f"cannot resume at row group {self.row_group}: the file has "
                f"{metadata.num_row_groups}"
            )
        self._tally.index = sum(
            metadata.row_group(group).num_rows for group in range(self.row_group)
        ) + max(self.row, 0)

    def __iter__(self) -> Iterator[Item]:
        import pyarrow as pa

        parquet_file = self._file
        metadata = parquet_file.metadata
        for group in range(self.row_group, metadata.num_row_groups):
            meta = metadata.row_group(group)
            self._check_row_group(group, meta)
            span = _byte_range(meta)
            skip = self.row if group == self.row_group else 0
            batch_rows = _batch_rows(meta)
            row = 0
            try:
                batches = parquet_file.iter_batches(
                    batch_size=batch_rows, row_groups=[group], use_threads=False
                )
                for batch in batches:
                    if skip >= row + batch.num_rows:
                        row += batch.num_rows
                        continue
                    first = max(skip - row, 0)
                    row += first
                    last = meta.num_rows
                    tally, limit = self._tally, self._limits.record
                    start, end = span
                    for value in _rows(batch, first):
                        if len(value) > limit:
                            item = self._invalid(value, group, row, span)
                        else:
                            item = Record(tally.index, start, end, value)
                            tally.index += 1
                        row += 1
                        # The position after this row (the next row group's start after the
                        # last), known before the row is handed out; self.row_group is still
                        # `group` until then.
                        if row < last:
                            self.row = row
                        else:
                            self.row_group, self.row = group + 1, 0
                        yield item
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise ObjectRejected(
                    f"corrupt Parquet data in row group {group} (after row {row}): {exc}"
                ) from exc
            if row != meta.num_rows:
                raise ObjectRejected(
                    f"corrupt Parquet data: row group {group} declares {meta.num_rows} rows "
                    f"and holds {row}"
                )
            self.row_group, self.row = group + 1, 0

    def _invalid(self, value: bytes, group: int, row: int, span: tuple[int, int]) -> Item:
        tally = self._tally
        index = tally.index
        tally.index = index + 1
        tally.invalid += 1
        reason = f"row {row} of row group {group}: {too_long(len(value), self._limits)}"
        return InvalidRecord(index, span[0], span[1], reason, value[: self._limits.keep])

    def _check_row_group(self, group: int, meta: Any) -> None:
        limit = self._max_row_group_bytes
        declared = meta.total_byte_size
        least = meta.num_rows * sum(
            _fixed_width(meta.column(column).physical_type) for column in range(meta.num_columns)
        )
        if declared > limit or least > limit or meta.num_rows < 0:
            size = max(declared, least)
            raise ObjectRejected(
                f"Parquet row group {group} ({meta.num_rows} rows, {size} bytes uncompressed) "
                f"is over MAX_ROW_GROUP_BYTES ({limit} bytes): objstream holds one row group at "
                "a time; write the file with smaller row groups, or raise the limit (and the "
                "function's memory)"
            )


def _byte_range(meta: Any) -> tuple[int, int]:
    starts, ends = [], []
    for column in range(meta.num_columns):
        chunk = meta.column(column)
        first = chunk.data_page_offset
        if chunk.has_dictionary_page and chunk.dictionary_page_offset:
            first = min(first, chunk.dictionary_page_offset)
        starts.append(first)
        ends.append(first + chunk.total_compressed_size)
    return (min(starts), max(ends)) if starts else (0, 0)


def _batch_rows(meta: Any) -> int:
    per_row = meta.total_byte_size / meta.num_rows if meta.num_rows else 1
    return int(max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, BATCH_BYTES / max(per_row, 1))))


_FIXED_WIDTHS: Final = {
    "BOOLEAN": 1,
    "INT32": 4,
    "INT64": 8,
    "INT96": 8,
    "FLOAT": 4,
    "DOUBLE": 8,
    "BYTE_ARRAY": 4,  # the offset per value; the bytes are in total_byte_size
    "FIXED_LEN_BYTE_ARRAY": 1,
}


def _fixed_width(physical_type: str) -> int:
    return _FIXED_WIDTHS.get(physical_type, 1)


# --- rows as JSON ----------------------------------------------------------------------------


def _rows(batch: Any, first: int = 0) -> list[bytes]:
    """Each row of a record batch from `first` on, as its JSON value (the module docstring).

    The JSON is written column by column, in Arrow: each column becomes the JSON text of each
    of its values (`_parts`), and one element-wise join per batch puts `{"name":…,…}` around
    them, so Python makes one bytes object per row and no row dict. Columns named twice keep
    the first place and the last column's values, as a dict would. The batch is prepared whole
    and cut afterwards: Arrow rebuilds nested arrays only from unsliced ones.
    """
    columns = dict(zip(batch.schema.names, batch.columns, strict=True))
    if not columns:
        return [b"{}"] * (batch.num_rows - first)
    texts = _join(_object(list(columns.items())))
    rows: list[bytes] = (texts.slice(first) if first else texts).to_pylist()
    return rows


# What JSON escapes in a string (orjson: nothing else), and of that what needs more than a `\`.
_ESCAPED: Final = r'[\x00-\x1f"\\]'
_CONTROL: Final = r"[\x00-\x1f]"


def _json(array: Any) -> Any:
    """The JSON text of each value of a column: a binary array, a null's text `null`."""
    return _join(_parts(array))


def _parts(array: Any) -> list[Any]:  # noqa: C901, PLR0911, PLR0912 - one case per type family
    """A column's JSON as parts to join row by row: bytes (the same in every row) and arrays.

    Written by Arrow for integers, booleans, strings, the types `_prepare` makes text of, and
    structs and lists of these; floats by one `orjson.dumps` of the column, binary by base64
    value by value. Anything else (maps, strings with control characters, non-finite floats,
    decimals whose text would have an exponent) goes value by value through `_values`. Text
    with no null is left between two quote parts, which the row's join writes at no cost.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    types = pa.types
    if types.is_dictionary(kind):
        parts = [_json(array.dictionary).take(array.indices)]  # each distinct value once
    elif types.is_integer(kind) or types.is_boolean(kind) or types.is_null(kind):
        parts = [array.cast(pa.string())]
    elif types.is_duration(kind) or types.is_float16(kind):
        return _parts(_prepare(array))
    elif types.is_timestamp(kind) or types.is_date(kind) or types.is_time(kind):
        parts = [_QUOTE, _prepare(array), _QUOTE]
    elif types.is_decimal(kind):
        text = _prepare(array)
        if not types.is_string(text.type):
            return [_values(array)]  # Arrow's text would have an exponent
        parts = [_QUOTE, text, _QUOTE]
    elif types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind):
        text = _escaped(array)
        if text is None:
            return [_values(array)]
        parts = [_QUOTE, text, _QUOTE]
    elif types.is_floating(kind):
        return [_floats(array)]
    elif types.is_binary(kind) or types.is_large_binary(kind) or types.is_fixed_size_binary(kind):
        return [_base64(array)]
    elif types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        if not names or len(set(names)) < len(names):
            return [_values(array)]
        parts = _object(list(zip(names, array.flatten(), strict=True)))
    elif types.is_fixed_size_list(kind) or types.is_list_view(kind):
        return _parts(array.cast(pa.list_(kind.value_type)))
    elif types.is_list(kind) or types.is_large_list(kind):
        parts = [_array(array)]
    else:
        return [_values(array)]
    if array.null_count:
        return [pc.if_else(array.is_valid(), _join(parts), _literal(b"null"))]
    return parts


_QUOTE: Final = b'"'


def _join(parts: list[Any]) -> Any:
    """One binary array of the parts joined row by row (at least one part is an array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    merged: list[Any] = []
    for part in parts:
        if type(part) is bytes and merged and type(merged[-1]) is bytes:
            merged[-1] += part
        else:
            merged.append(part)
    if len(merged) == 1:
        return merged[0].cast(pa.binary())
    arrays = [_literal(part) if type(part) is bytes else part.cast(pa.binary()) for part in merged]
    return pc.binary_join_element_wise(*arrays, _literal(b""))


def _literal(text: bytes) -> Any:
    import pyarrow as pa

    return pa.scalar(text, pa.binary())


def _object(fields: list[tuple[str, Any]]) -> list[Any]:
    """The parts of JSON objects of named columns (at least one) of one length."""
    parts: list[Any] = []
    for i, (name, column) in enumerate(fields):
        parts += [(b"," if i else b"{") + orjson.dumps(name) + b":", *_parts(column)]
    return [*parts, b"}"]


def _array(lists: Any) -> Any:
    """JSON arrays of a list column's items (a null list stays null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    large = pa.types.is_large_list(lists.type)
    items = (pa.LargeListArray if large else pa.ListArray).from_arrays(
        lists.offsets, _json(lists.values), mask=lists.is_null() if lists.null_count else None
    )
    joined = pc.binary_join(items, _literal(b","))
    return pc.binary_join_element_wise(_literal(b"["), joined, _literal(b"]"), _literal(b""))


def _escaped(array: Any) -> Any | None:
    """A string column's text escaped for JSON, unquoted; None if one holds a control char."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array.validate(full=True)  # valid UTF-8, which Parquet's reader does not check
    text = array.cast(pa.string())
    if pc.any(pc.match_substring_regex(text, _ESCAPED)).as_py():
        if pc.any(pc.match_substring_regex(text, _CONTROL)).as_py():
            return None  # orjson's \n, \u0001 …: value by value
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    return text


def _floats(array: Any) -> Any:
    """Finite floats' JSON is orjson's, split off one list (a float's text has no comma)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(array) or not pc.all(pc.or_kleene(pc.is_finite(array), pc.is_null(array))).as_py():
        return _values(array)
    return pa.array(orjson.dumps(array.to_pylist())[1:-1].split(b","), pa.binary())


def _base64(array: Any) -> Any:
    """Binary values as base64 strings (standard alphabet, padded)."""
    import pyarrow as pa

    encode = binascii.b2a_base64
    texts = [
        b"null" if value is None else b'"' + encode(value, newline=False) + b'"'
        for value in array.to_pylist()
    ]
    return pa.array(texts, pa.binary())


def _values(array: Any) -> Any:
    """The JSON of each value, through Python: `_prepare`, `to_pylist`, `_fixer`, `row_json`."""
    import pyarrow as pa

    prepared = _prepare(array)
    fixer = _fixer(prepared.type, prepared)
    values = prepared.to_pylist()
    if fixer is not None:
        values = [fixer(value) for value in values]
    return pa.array([row_json(value) for value in values], pa.binary())


def _prepare(array: Any) -> Any:  # noqa: C901, PLR0911 - one case per Arrow type family
    """The array with values JSON can carry exactly: see the module docstring."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    types = pa.types
    if types.is_dictionary(kind):
        return _prepare(array.dictionary_decode())
    if types.is_timestamp(kind):
        # Arrow's text for a naive timestamp is strftime's "%Y-%m-%d %H:%M:%S" with the
        # unit's digits, thirty times faster; a zoned one is first cast to its UTC wall time.
        naive = array.cast(pa.timestamp(kind.unit)) if kind.tz is not None else array
        text = pc.replace_substring(naive.cast(pa.string()), " ", "T", max_replacements=1)
        if kind.tz is not None:
            text = pc.binary_join_element_wise(text, _Z, _EMPTY)
        return text
    if types.is_date(kind) or types.is_time(kind):
        return array.cast(pa.string())
    if types.is_decimal(kind):
        # Arrow's text for a decimal is Python's `format(value, "f")` unless it switches to
        # an exponent (`0E-9`, and every negative scale): then Decimals, which `typed` formats.
        text = array.cast(pa.string())
        return array if pc.any(pc.match_substring(text, "E")).as_py() else text
    if types.is_duration(kind):
        return array.cast(pa.int64())
    if types.is_float16(kind):
        return array.cast(pa.float64())
    if types.is_struct(kind):
        children = array.flatten()
        prepared = [_prepare(child) for child in children]
        fields = [pa.field(kind.field(i).name, child.type) for i, child in enumerate(prepared)]
        return pa.StructArray.from_arrays(prepared, fields=fields, mask=array.is_null())
    if types.is_map(kind):
        return pa.MapArray.from_arrays(
            array.offsets,
            _prepare(array.keys),
            _prepare(array.items),
            mask=array.is_null() if array.null_count else None,
        )
    if types.is_large_list(kind):
        values = _prepare(array.values)
        return pa.LargeListArray.from_arrays(
            array.offsets, values, mask=array.is_null() if array.null_count else None
        )
    if types.is_list(kind) or types.is_fixed_size_list(kind) or types.is_list_view(kind):
        if not types.is_list(kind):
            array = array.cast(pa.list_(kind.value_type))
        values = _prepare(array.values)
        return pa.ListArray.from_arrays(
            array.offsets, values, mask=array.is_null() if array.null_count else None
        )
    return array


def _fixer(kind: Any, array: Any | None) -> Callable[[Any], Any] | None:  # noqa: C901, PLR0911
    """A Python-side fix for a column's values (maps, non-finite floats), or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = pa.types
    if types.is_floating(kind):
        if (
            array is not None
            and pc.all(pc.or_kleene(pc.is_finite(array), pc.is_null(array))).as_py()
        ):
            return None
        return finite
    if types.is_struct(kind):
        fixers = {}
        for i in range(kind.num_fields):
            child = _fixer(kind.field(i).type, None)
            if child is not None:
                fixers[kind.field(i).name] = child
        row_fix = compose(fixers)
        if row_fix is None:
            return None
        return lambda value: None if value is None else row_fix(value)
    if types.is_map(kind):
        string_keys = types.is_string(kind.key_type) or types.is_large_string(kind.key_type)
        key_fix = _fixer(kind.key_type, None)
        item_fix = _fixer(kind.item_type, None)

        def fix_map(value: Any) -> Any:
            if value is not None and (key_fix or item_fix):
                value = [
                    (key_fix(k) if key_fix else k, item_fix(v) if item_fix else v) for k, v in value
                ]
            return map_entries(value, string_keys=string_keys)

        return fix_map
    if types.is_list(kind) or types.is_large_list(kind):
        item = _fixer(kind.value_type, None)
        if item is None:
            return None
        return lambda value: None if value is None else [item(v) for v in value]
    return None


# --- the file's schema, for Kafka Connect ------------------------------------------------


def _column(field: Any) -> Column:
    return Column(field.name, _field_type(field.type, nullable=field.nullable))


def _field_type(kind: Any, *, nullable: bool) -> FieldType:  # noqa: C901, PLR0911, PLR0912
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(kind):
        return _field_type(kind.value_type, nullable=nullable)
    if types.is_boolean(kind):
        return FieldType(Kind.BOOLEAN, nullable)
    if types.is_integer(kind):
        narrow = kind.bit_width < 32 or (kind.bit_width == 32 and types.is_signed_integer(kind))  # noqa: PLR2004
        return FieldType(Kind.INT32 if narrow else Kind.INT64, nullable)
    if types.is_floating(kind):
        return FieldType(Kind.FLOAT, nullable)
    if types.is_string(kind) or types.is_large_string(kind) or types.is_string_view(kind):
        return FieldType(Kind.STRING, nullable)
    if types.is_binary(kind) or types.is_large_binary(kind) or types.is_fixed_size_binary(kind):
        return FieldType(Kind.BYTES, nullable)
    if types.is_binary_view(kind):
        return FieldType(Kind.BYTES, nullable)
    if types.is_decimal(kind):
        return FieldType(Kind.DECIMAL, nullable, scale=kind.scale)
    if types.is_date(kind):
        return FieldType(Kind.DATE, nullable)
    if types.is_time(kind):
        return FieldType(Kind.TIME, nullable)
    if types.is_timestamp(kind):
        return FieldType(Kind.TIMESTAMP, nullable, zoned=kind.tz is not None)
    if types.is_duration(kind):
        return FieldType(Kind.INT64, nullable)
    if types.is_null(kind):
        return FieldType(Kind.NULL, nullable=True)
    if types.is_struct(kind):
        fields = tuple(_column(kind.field(i)) for i in range(kind.num_fields))
        return FieldType(Kind.STRUCT, nullable, fields=fields)
    if types.is_map(kind):
        return FieldType(
            Kind.MAP,
            nullable,
            keys=_field_type(kind.key_type, nullable=False),
            items=_field_type(kind.item_type, nullable=kind.item_field.nullable),
        )
    if types.is_list(kind) or types.is_large_list(kind) or types.is_fixed_size_list(kind):
        return FieldType(
            Kind.LIST,
            nullable,
            items=_field_type(kind.value_type, nullable=kind.value_field.nullable),
        )
    if types.is_list_view(kind) or types.is_large_list_view(kind):
        return FieldType(
            Kind.LIST,
            nullable,
            items=_field_type(kind.value_type, nullable=kind.value_field.nullable),
        )
    raise ObjectRejected(f"Parquet column type {kind} has no mapping to JSON in objstream")
