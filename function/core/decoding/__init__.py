"""Record decoding, the pure core: an object's bytes in, an iterator of records out.

No I/O clients here: the input is any `IO[bytes]` (an Object Storage body, a local file, a
BytesIO in a test) and memory stays flat whatever the object's size.

INTERFACE (the rest of objstream is built against it):

    decoder = RecordDecoder(stream, DecodeOptions(...))
    for item in decoder:            # Record | InvalidRecord, in index order
        ...
    decoder.summary                 # DecodeSummary, complete once iteration ended

    Raises ObjectRejected(reason) (function.errors) when the object as a whole can never be
    processed: decompression bomb, truncated/corrupt compressed stream, unsupported content,
    more than the allowed size. Records yielded before that stay yielded.

BEHAVIOUR

The stream is read `chunk_bytes` at a time (a read may return less; a network body does),
decompressed on the way when its first bytes are gzip or zstd (`compression`), and the format
is chosen by `detect` (precedence documented there); each format has a module of its own
(`lines`, `csv_rows`, `json_array`, `raw`) over the shared `buffering`. Offsets (`start`,
`end`) are in the decompressed object, `end` one past the last byte, so `object[start:end]` is
the record as it is in the file, without its line terminator; a consumer can fetch it with a
Range request. A UTF-8 BOM at the start of a text format is not part of any record.

Any record longer than `max_record_bytes` becomes an `InvalidRecord` ("record of N bytes
exceeds the message limit of M bytes") with its exact range. Its end is found by scanning on
without holding it: only its first `max_invalid_bytes` are kept, as `raw`.

- jsonl: one JSON value per line (LF or CRLF). Whitespace-only lines are not records and take
  no index. Each line is checked with orjson (numbers must fit a double, nesting at most 1024
  levels); the value is the line's original bytes. A line that does not parse is invalid,
  and the lines after it are decoded as usual.
- lines: one UTF-8 text line per record, LF or CRLF, whitespace-only lines skipped; the value
  is the line's bytes. A line that is not valid UTF-8 is invalid (only that line).
- json: a top-level array gives one record per element, never holding more than one. An
  element's end is found by a guess that orjson confirms (the first `}`/`]`/scalar end followed
  by `,` or `]`; a JSON value's extent is fixed by its first byte, so a guess that parses is
  right), else by one regex match for elements nested up to 4 levels, else by a resumable
  scanner that tracks strings, escapes and nesting across chunks (regex jumps, no per-byte
  Python loop). The value is the element's ORIGINAL bytes (not re-serialised), which orjson
  validated. A malformed element is invalid and decoding resumes at the next
  top-level comma; an empty element (`[1,,2]`, `[1,]`) is an invalid record with an empty
  range at the stray comma or bracket. Data after the closing bracket is one invalid record.
  An array the object ends inside (a truncated upload) rejects the object. Any other
  top-level value is one record (the whole document, surrounding whitespace excluded).
- csv: the first non-blank row is the header; every later row becomes a JSON object keyed by
  it, values the strings as in the file (quotes, embedded delimiters, newlines and doubled
  quotes handled as Python's csv module does, `excel` dialect with the chosen delimiter).
  Like `csv.DictReader(restkey="_extra")`: a row with fewer fields than the header has
  the missing keys as null; a row with more has the extra values, as a list of strings,
  under `_extra`; a blank row is skipped and takes no index. Header names are made usable as
  keys: an empty name becomes `column_N` (N its 1-based position) and a repeated name gets
  `_2`, `_3`, … (the smallest suffix not used by any header name), so no value is lost; the
  extra key is renamed the same way if the header already uses `_extra`. The range of a row
  covers all its physical lines. Rows are found by a byte-level splitter that knows, like the
  csv reader, whether a newline lies inside a quoted field (a quote opens one only at the start
  of a field), so each row is parsed alone by the csv module and its byte span is exact.
  A header row longer than `max_record_bytes`, not UTF-8 or not CSV rejects the object. Line
  ends are LF or CRLF; a lone CR outside quotes makes that row invalid.
- raw: consecutive chunks of `raw_chunk_bytes` (at most `max_record_bytes`), the last one
  shorter; concatenated in index order they are the (decompressed) object.
"""

from __future__ import annotations

from function.core.decoding.csv_rows import csv_header_keys
from function.core.decoding.decoder import RecordDecoder
from function.core.decoding.records import (
    DecodeOptions,
    DecodeSummary,
    InvalidRecord,
    Item,
    Record,
    RecordFormat,
)

__all__ = [
    "DecodeOptions",
    "DecodeSummary",
    "InvalidRecord",
    "Item",
    "Record",
    "RecordDecoder",
    "RecordFormat",
    "csv_header_keys",
]
