"""Which record format an object is in, when `RECORD_FORMAT=auto` leaves it to objstream.

Precedence, first match wins:

1. `RECORD_FORMAT` when it is not `auto`.
2. The object name's suffix, after stripping one compression suffix (`.gz`, `.gzip`, `.zst`,
   `.zstd`), case-insensitive: `.csv` → csv, `.tsv`/`.tab` → csv with a tab delimiter,
   `.json` → json, `.jsonl`/`.ndjson`/`.jsonlines` → jsonl, `.txt`/`.text`/`.log` → lines,
   `.parquet`/`.parq`/`.pq` → parquet, `.avro` → avro.
3. The Content-Type (parameters ignored): `text/csv`, `application/csv` → csv;
   `text/tab-separated-values` → csv with tabs; `application/json`, `text/json`,
   `application/*+json` → json; `application/x-ndjson`, `application/ndjson`,
   `application/jsonl`, `application/x-jsonlines`, `application/jsonlines` → jsonl;
   `text/plain` → lines; `application/vnd.apache.parquet`, `application/x-parquet`,
   `application/parquet` → parquet; `application/avro`, `application/x-avro`,
   `avro/binary`, `application/vnd.apache.avro+binary` → avro. Anything else (OCI's default
   `application/octet-stream`) says nothing.
4. The first (decompressed) bytes: Parquet's magic `PAR1` → parquet (its end is checked for
   `PAR1` too, once the object is read by ranges), Avro's `Obj\x01` → avro; else, after a UTF-8
   BOM and whitespace: `[` or `{` → json,
   or jsonl when the content looks like JSON lines (below); other valid UTF-8 without NUL
   bytes → lines; anything else → raw. An empty object → raw (it has no records either way).

JSON that is really JSON lines: a `.json` object (or `RECORD_FORMAT=json`) often holds one
value per line. Whenever the format comes out as json, the first bytes are checked: when the
first non-blank line is a complete JSON value and more content follows, or when at least two
of the first eight non-blank lines are complete JSON objects or arrays (so a malformed first
line does not hide the rest), the object is decoded as jsonl. A pretty-printed document never
matches: its first line is a lone opening bracket (checked first) or an unfinished member.
A document whose first line is longer than the sniffed head stays json.

CSV delimiter: `CSV_DELIMITER` when set, else tab for `.tsv`/`.tab` names and the
tab-separated Content-Type, else sniffed from the header line: whichever of `,` `;` tab `|`
occurs most often outside quotes (ties in that order; none of them → `,`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import orjson

from function.core.decoding.compression import compression_suffix
from function.core.decoding.records import WHITESPACE, FormatSource, RecordFormat

UTF8_BOM: Final = b"\xef\xbb\xbf"
# How much of the object's start the content rules look at.
SNIFF_BYTES: Final = 64 * 1024
CSV_DELIMITERS: Final = (",", "\t", ";", "|")

_JSONL_LINES_CHECKED: Final = 8
_MIN_JSON_LINES: Final = 2  # more than one value is what makes JSON lines


@dataclass(frozen=True, slots=True)
class FormatChoice:
    """The record format for one object, why, and the CSV delimiter if already known."""

    record_format: RecordFormat
    source: FormatSource
    csv_delimiter: str | None = None


_TAB: Final = "\t"
_BY_SUFFIX: Final[dict[str, tuple[RecordFormat, str | None]]] = {
    ".csv": (RecordFormat.CSV, None),
    ".tsv": (RecordFormat.CSV, _TAB),
    ".tab": (RecordFormat.CSV, _TAB),
    ".json": (RecordFormat.JSON, None),
    ".jsonl": (RecordFormat.JSONL, None),
    ".ndjson": (RecordFormat.JSONL, None),
    ".jsonlines": (RecordFormat.JSONL, None),
    ".txt": (RecordFormat.LINES, None),
    ".text": (RecordFormat.LINES, None),
    ".log": (RecordFormat.LINES, None),
    ".parquet": (RecordFormat.PARQUET, None),
    ".parq": (RecordFormat.PARQUET, None),
    ".pq": (RecordFormat.PARQUET, None),
    ".avro": (RecordFormat.AVRO, None),
}
_BY_CONTENT_TYPE: Final[dict[str, tuple[RecordFormat, str | None]]] = {
    "text/csv": (RecordFormat.CSV, None),
    "application/csv": (RecordFormat.CSV, None),
    "text/tab-separated-values": (RecordFormat.CSV, _TAB),
    "application/json": (RecordFormat.JSON, None),
    "text/json": (RecordFormat.JSON, None),
    "application/x-ndjson": (RecordFormat.JSONL, None),
    "application/ndjson": (RecordFormat.JSONL, None),
    "application/jsonl": (RecordFormat.JSONL, None),
    "application/x-jsonlines": (RecordFormat.JSONL, None),
    "application/jsonlines": (RecordFormat.JSONL, None),
    "text/plain": (RecordFormat.LINES, None),
    "application/vnd.apache.parquet": (RecordFormat.PARQUET, None),
    "application/x-parquet": (RecordFormat.PARQUET, None),
    "application/parquet": (RecordFormat.PARQUET, None),
    "application/avro": (RecordFormat.AVRO, None),
    "application/x-avro": (RecordFormat.AVRO, None),
    "avro/binary": (RecordFormat.AVRO, None),
    "application/vnd.apache.avro+binary": (RecordFormat.AVRO, None),
}
PARQUET_MAGIC: Final = b"PAR1"
AVRO_MAGIC: Final = b"Obj\x01"


def format_from_name(object_name: str) -> tuple[RecordFormat, str | None] | None:
    """The format (and CSV delimiter) an object name's suffix implies, if any."""
    name, _ = compression_suffix(object_name)
    dot = name.rfind(".")
    if dot < 0 or "/" in name[dot:]:
        return None
    return _BY_SUFFIX.get(name[dot:].lower())


def format_from_content_type(content_type: str | None) -> tuple[RecordFormat, str | None] | None:
    """The format (and CSV delimiter) a Content-Type implies, if any."""
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _BY_CONTENT_TYPE:
        return _BY_CONTENT_TYPE[media_type]
    if media_type.startswith("application/") and media_type.endswith("+json"):
        return RecordFormat.JSON, None
    return None


def sniff_format(head: bytes, *, complete: bool) -> RecordFormat:  # noqa: PLR0911
    """The format the object's first bytes suggest; `complete` says head is the whole object."""
    if head.startswith(PARQUET_MAGIC):
        return RecordFormat.PARQUET
    if head.startswith(AVRO_MAGIC):
        return RecordFormat.AVRO
    body = head.removeprefix(UTF8_BOM)
    text = body.lstrip(WHITESPACE)
    if not text:
        return RecordFormat.LINES if body else RecordFormat.RAW
    if text[:1] in {b"[", b"{"}:
        if looks_like_json_lines(body, complete=complete):
            return RecordFormat.JSONL
        return RecordFormat.JSON
    if b"\x00" not in body and _is_utf8_prefix(body, complete=complete):
        return RecordFormat.LINES
    return RecordFormat.RAW


def looks_like_json_lines(head: bytes, *, complete: bool) -> bool:
    """Whether JSON content is one value per line rather than one document (module docstring)."""
    lines = head.removeprefix(UTF8_BOM).split(b"\n")
    if not complete:
        lines.pop()  # the last line may be cut off by the end of the head
    checked = [line for line in lines[: _JSONL_LINES_CHECKED * 4] if line.strip(WHITESPACE)]
    checked = checked[:_JSONL_LINES_CHECKED]
    if len(checked) < _MIN_JSON_LINES:
        return False
    if checked[0].strip(WHITESPACE) in {b"[", b"{"}:
        # A pretty-printer's opening line. Its nested lists end in lines like `[]` or `{}`
        # (the last element has no comma), which must not count as JSON lines.
        return False
    if _is_json(checked[0]):
        return True
    containers = sum(
        1 for line in checked if line.lstrip(WHITESPACE)[:1] in {b"{", b"["} and _is_json(line)
    )
    return containers >= _MIN_JSON_LINES


def needs_random_access(configured: RecordFormat, object_name: str) -> bool:
    """Whether the object is Parquet by its settings or name alone, before any byte is read.

    Such an object is opened for ranged reads from the start (no streamed GET at all); one
    found to be Parquet only by its Content-Type or its first bytes switches over then.
    """
    if configured is not RecordFormat.AUTO:
        return configured is RecordFormat.PARQUET
    by_name = format_from_name(object_name)
    return by_name is not None and by_name[0] is RecordFormat.PARQUET


def sniff_csv_delimiter(head: bytes) -> str:
    """The delimiter of a CSV header line: the most frequent candidate outside quotes."""
    first_line = head.removeprefix(UTF8_BOM).split(b"\n", 1)[0]
    # Quoted header names may contain any candidate; their content does not count.
    unquoted = _QUOTED.sub(b"", first_line)
    counts = [(unquoted.count(candidate.encode()), candidate) for candidate in CSV_DELIMITERS]
    best_count = max(count for count, _ in counts)
    if best_count == 0:
        return ","
    return next(candidate for count, candidate in counts if count == best_count)


_QUOTED: Final = re.compile(rb'"[^"]*"')


def resolve_format(
    *,
    configured: RecordFormat,
    object_name: str,
    content_type: str | None,
    head: bytes,
    complete: bool,
) -> FormatChoice:
    """Apply the precedence of the module docstring to one object."""
    choice = _first_choice(configured, object_name, content_type, head, complete=complete)
    if choice.record_format is RecordFormat.JSON and looks_like_json_lines(head, complete=complete):
        return FormatChoice(RecordFormat.JSONL, FormatSource.CONTENT)
    return choice


def _first_choice(
    configured: RecordFormat,
    object_name: str,
    content_type: str | None,
    head: bytes,
    *,
    complete: bool,
) -> FormatChoice:
    if configured is not RecordFormat.AUTO:
        return FormatChoice(configured, FormatSource.CONFIGURED)
    by_name = format_from_name(object_name)
    if by_name is not None:
        return FormatChoice(by_name[0], FormatSource.OBJECT_NAME, by_name[1])
    by_type = format_from_content_type(content_type)
    if by_type is not None:
        return FormatChoice(by_type[0], FormatSource.CONTENT_TYPE, by_type[1])
    return FormatChoice(sniff_format(head, complete=complete), FormatSource.CONTENT)


def _is_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _is_utf8_prefix(data: bytes, *, complete: bool) -> bool:
    """Whether data is UTF-8, allowing a character cut off at the end of an incomplete head."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the head's end fails only in its last 3 bytes.
        return not complete and exc.reason == "unexpected end of data"
    return True
