"""The benchmark's inputs: deterministic generated files under bench/data/ (git-ignored).

Four inputs, the same ones every run (a seeded `random.Random`, written streaming):

- `jsonl`: ~1 M click-stream events as JSON lines, ~110 bytes each (~110 MB);
- `csv`: the same events as CSV (header row, CRLF, quoted fields where needed); the records
  objstream publishes are JSON objects of strings, so the ceiling publishes those, read from a
  side file (`events.csv.values`, one JSON object per line) written at generation time;
- `gzip`: `events.jsonl` gzip-compressed (level 6, as `gzip` does by default);
- `array`: a 256 MiB JSON array of ~880 B order documents (nested objects and arrays, unicode,
  escaped quotes), one compact element per line after `[`;
- `array-large`: the same array at 1 GiB (its first elements are `array`'s), published once
  for the peak RSS of a 1 GiB object, not in the paired runs (bench.run);
- `parquet`: the first 400,000 events as a Parquet file written by pyarrow (snappy, 4 row
  groups, dictionary-encoded strings) with typed columns: int64, timestamp (ms, UTC), date,
  strings, a nullable float64, a boolean, a decimal(10,2) and a list of strings;
- `avro`: the same rows as an Avro container file written by fastavro (deflate, blocks of
  ~16,000 rows): long, timestamp-millis, date, strings, an enum, a union null/double, a
  boolean, a bytes decimal(10,2) and an array of strings.

The Parquet and Avro inputs' values (what the ceiling and kcat publish) are what objstream's
decoder makes of each row under the README's type mapping, written once to a side file when
they are generated: the bench measures publishing, the mapping has its own tests.

`--quick` scales every input down tenfold. What the ceiling publishes is split off these files
outside the timed loop: JSON lines split at LF, the array's body at `,\\n` (elements are
compact JSON, so a raw newline never occurs inside one), CSV from the side file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import gzip
import io
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
# Bumped whenever what is generated changes, so stale files are made again.
GENERATOR_VERSION = 6
FULL_EVENTS = 1_000_000
# The paired runs' array: a quarter of the 1 GiB array, whose five runs per side took a third
# of the bench (kcat's alone 100 s); the rate per record does not depend on the object's size.
FULL_ARRAY_BYTES = 256 * 1024**2
# The object of the peak RSS target (issue 6: a 1 GB array), measured once (bench.run).
LARGE_ARRAY_BYTES = 1024**3
LARGE_ARRAY = "array-large"
QUICK_FACTOR = 10

_ACTIONS = ("view", "view", "view", "click", "click", "add_to_cart", "search", "purchase")
# Search terms put commas, quotes and non-ASCII text into some CSV fields.
_SEARCHES = ("socks,red", 'monitor 27"', "thé vert", "usb-c", "kaffeebohnen", "東京 guide")
_COUNTRIES = ("DE", "FR", "US", "GB", "JP", "BR", "IN", "PL", "CH", "ES")
_CITIES = ("Zürich", "São Paulo", "Kraków", "東京", "Berlin", "Lyon", "Austin", "Leeds", "Pune")
_FIRST = ("Ada", "José", "Zoë", "Li", "Øyvind", "Amélie", "Sam", "Priya", "Jürgen", "Mia")
_LAST = ("Lovelace", "García", "Müller", "Chen", "O'Neil", "Dubois", "Kowalski", "Sato")
_STREETS = ("Bahnhofstraße", "Rue de la Paix", "Main St", "Ulica Długa", "Calle Mayor")
_PRODUCTS = (
    "USB-C cable 2 m",
    'Monitor 27" 4K',
    "Kaffeebohnen, 1 kg",
    "Notebook A5 (dotted)",
    "Thé vert — 100 g",
    "Desk lamp, LED",
    "Headphones ANC",
    "Socks 3-pack",
)
_NOTES = (
    "",
    "",
    "",
    "leave at the door",
    'gift wrap, "fragile"',
    "call before delivery; gate code 1234",
    "zweite Klingel von oben",
)


@dataclass(frozen=True)
class Dataset:
    """One benchmark input: the object the function reads and what the ceiling publishes."""

    name: str  # as given to --only
    object_name: str  # the object's name in the bucket (its suffix picks the format)
    content_type: str
    path: Path  # the object's bytes
    values_path: Path  # what the ceiling publishes comes from here
    split: str  # how the ceiling splits values_path: "lines" or "array"
    records: int
    value_bytes: int  # sum of the record values' sizes, what both sides publish
    object_bytes: int  # the object's size (compressed size for gzip)
    record_format: str  # objstream's RecordFormat value for it


@dataclass(frozen=True)
class _Manifest:
    version: int
    quick: bool
    events: int
    array_elements: int
    datasets: list[dict[str, Any]]


def data_dir(*, quick: bool) -> Path:
    """Where the inputs of one scale live."""
    return DATA / ("quick" if quick else "full")


def ensure(*, quick: bool, log: Any = print) -> list[Dataset]:
    """Every input, generated first if missing or made by another generator version."""
    text = _ensure_text(quick=quick, log=log)
    return [*text, *_ensure_typed(quick=quick, log=log, jsonl=text[0].path)]


def _ensure_text(*, quick: bool, log: Any) -> list[Dataset]:
    """The four text inputs."""
    directory = data_dir(quick=quick)
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        raw = orjson.loads(manifest_path.read_bytes())
        if raw.get("version") == GENERATOR_VERSION and all(
            Path(d["path"]).exists() and Path(d["values_path"]).exists() for d in raw["datasets"]
        ):
            return [from_json(d) for d in raw["datasets"]]
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    events = FULL_EVENTS // (QUICK_FACTOR if quick else 1)
    scale = QUICK_FACTOR if quick else 1
    log(f"generating the benchmark inputs in {directory} (once) …")
    datasets = _generate(directory, events, FULL_ARRAY_BYTES // scale, LARGE_ARRAY_BYTES // scale)
    manifest = _Manifest(
        GENERATOR_VERSION,
        quick,
        events,
        next(d.records for d in datasets if d.name == "array"),
        [to_json(d) for d in datasets],
    )
    manifest_path.write_bytes(orjson.dumps(asdict(manifest), option=orjson.OPT_INDENT_2))
    return datasets


def to_json(dataset: Dataset) -> dict[str, Any]:
    """The dataset as JSON-ready values (paths as strings)."""
    return {**asdict(dataset), "path": str(dataset.path), "values_path": str(dataset.values_path)}


def from_json(raw: dict[str, Any]) -> Dataset:
    """The inverse of to_json."""
    return Dataset(**{**raw, "path": Path(raw["path"]), "values_path": Path(raw["values_path"])})


def _generate(
    directory: Path, events: int, array_bytes: int, large_array_bytes: int
) -> list[Dataset]:
    jsonl = directory / "events.jsonl"
    csv_path = directory / "events.csv"
    csv_values = directory / "events.csv.values"
    gz_path = directory / "events.jsonl.gz"
    array = directory / "orders.json"
    large_array = directory / "orders-large.json"
    jsonl_bytes = csv_value_bytes = 0
    with (
        jsonl.open("wb", buffering=4 << 20) as lines_out,
        csv_path.open("w", encoding="utf-8", newline="", buffering=4 << 20) as csv_out,
        csv_values.open("wb", buffering=4 << 20) as values_out,
    ):
        writer = csv.writer(csv_out)  # excel dialect: CRLF, quotes only where needed
        header_written = False
        for event in _events(random.Random(20261128), events):
            line = orjson.dumps(event)
            jsonl_bytes += len(line)
            lines_out.write(line + b"\n")
            if not header_written:
                writer.writerow(event.keys())
                header_written = True
            row = ["" if v is None else str(v) for v in event.values()]
            writer.writerow(row)
            value = orjson.dumps(dict(zip(event.keys(), row, strict=True)))
            csv_value_bytes += len(value)
            values_out.write(value + b"\n")
    with jsonl.open("rb") as source, gzip.open(gz_path, "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target, 4 << 20)
    arrays = [(array, array_bytes), (large_array, large_array_bytes)]
    written = _write_arrays(random.Random(20261129), arrays)
    (array_dataset, large_dataset) = [
        Dataset(
            name=name,
            object_name=f"bench/{path.name}",
            content_type="application/json",
            path=path,
            values_path=path,
            split="array",
            records=elements,
            value_bytes=element_bytes,
            object_bytes=path.stat().st_size,
            record_format="json",
        )
        for name, (path, _), (elements, element_bytes) in zip(
            ("array", LARGE_ARRAY), arrays, written, strict=True
        )
    ]
    return [
        Dataset(
            name="jsonl",
            object_name="bench/events.jsonl",
            content_type="application/x-ndjson",
            path=jsonl,
            values_path=jsonl,
            split="lines",
            records=events,
            value_bytes=jsonl_bytes,
            object_bytes=jsonl.stat().st_size,
            record_format="jsonl",
        ),
        Dataset(
            name="csv",
            object_name="bench/events.csv",
            content_type="text/csv",
            path=csv_path,
            values_path=csv_values,
            split="lines",
            records=events,
            value_bytes=csv_value_bytes,
            object_bytes=csv_path.stat().st_size,
            record_format="csv",
        ),
        Dataset(
            name="gzip",
            object_name="bench/events.jsonl.gz",
            content_type="application/gzip",
            path=gz_path,
            values_path=jsonl,
            split="lines",
            records=events,
            value_bytes=jsonl_bytes,
            object_bytes=gz_path.stat().st_size,
            record_format="jsonl",
        ),
        array_dataset,
        large_dataset,
    ]


# The Parquet and Avro inputs have their own manifest and version: adding them does not make
# the 1.4 GB of text inputs again.
TYPED_VERSION = 1
FULL_TYPED_ROWS = 400_000
PARQUET_ROW_GROUPS = 4
AVRO_BLOCK_ROWS = 16_000


def _ensure_typed(*, quick: bool, log: Any, jsonl: Path) -> list[Dataset]:
    directory = data_dir(quick=quick)
    manifest_path = directory / "typed-manifest.json"
    if manifest_path.exists():
        raw = orjson.loads(manifest_path.read_bytes())
        if raw.get("version") == TYPED_VERSION and all(
            Path(d["path"]).exists() and Path(d["values_path"]).exists() for d in raw["datasets"]
        ):
            return [from_json(d) for d in raw["datasets"]]
    rows = FULL_TYPED_ROWS // (QUICK_FACTOR if quick else 1)
    log(f"generating the Parquet and Avro inputs in {directory} (once) …")
    events = []
    with jsonl.open("rb") as source:
        for _, line in zip(range(rows), source, strict=False):
            events.append(_typed_row(orjson.loads(line)))
    datasets = [_write_parquet(directory, events), _write_avro(directory, events)]
    manifest = {"version": TYPED_VERSION, "rows": rows, "datasets": [to_json(d) for d in datasets]}
    manifest_path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return datasets


def _typed_row(event: dict[str, Any]) -> dict[str, Any]:
    """A click event with typed fields: timestamp, date, decimal, boolean, list."""
    ts = dt.datetime.fromisoformat(event["ts"])
    amount = event["amount"]
    return {
        "id": event["id"],
        "ts": ts,
        "day": ts.date(),
        "user": event["user"],
        "action": event["action"],
        "page": event["page"],
        "amount": amount,
        "price": None if amount is None else decimal.Decimal(f"{amount:.2f}"),
        "purchase": event["action"] == "purchase",
        "country": event["country"],
        "tags": [event["country"].lower(), event["action"]][: 1 + event["id"] % 2],
    }


def _write_parquet(directory: Path, rows: list[dict[str, Any]]) -> Dataset:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("ts", pa.timestamp("ms", tz="UTC")),
            ("day", pa.date32()),
            ("user", pa.string()),
            ("action", pa.string()),
            ("page", pa.string()),
            ("amount", pa.float64()),
            ("price", pa.decimal128(10, 2)),
            ("purchase", pa.bool_()),
            ("country", pa.string()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    path = directory / "events.parquet"
    table = pa.Table.from_pylist(rows, schema=schema)
    row_group = -(-len(rows) // PARQUET_ROW_GROUPS)
    pq.write_table(table, path, row_group_size=row_group, compression="snappy")
    return _typed_dataset("parquet", "bench/events.parquet", "application/vnd.apache.parquet", path)


def _write_avro(directory: Path, rows: list[dict[str, Any]]) -> Dataset:
    import fastavro

    schema = {
        "type": "record",
        "name": "Event",
        "namespace": "bench",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "day", "type": {"type": "int", "logicalType": "date"}},
            {"name": "user", "type": "string"},
            {
                "name": "action",
                "type": {"type": "enum", "name": "Action", "symbols": sorted(set(_ACTIONS))},
            },
            {"name": "page", "type": "string"},
            {"name": "amount", "type": ["null", "double"]},
            {
                "name": "price",
                "type": [
                    "null",
                    {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
                ],
            },
            {"name": "purchase", "type": "boolean"},
            {"name": "country", "type": "string"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
    path = directory / "events.avro"
    with path.open("wb") as out:
        fastavro.writer(
            out, fastavro.parse_schema(schema), rows, codec="deflate", sync_interval=1 << 20
        )
    return _typed_dataset("avro", "bench/events.avro", "application/avro", path)


def _typed_dataset(name: str, object_name: str, content_type: str, path: Path) -> Dataset:
    """The dataset, its values side file written through objstream's own decoder."""
    from function.core.decoding import DecodeOptions, Record, RecordDecoder
    from function.ports import RangedObject

    values_path = path.with_name(path.name + ".values")
    records = value_bytes = 0
    data = path.read_bytes()
    with values_path.open("wb", buffering=4 << 20) as out:
        decoder = RecordDecoder(
            io.BytesIO(data),
            DecodeOptions(object_name=object_name, content_type=content_type),
            ranged=RangedObject.from_bytes(data),
        )
        for item in decoder:
            if not isinstance(item, Record):
                raise TypeError(f"{name}: row {item.index} is invalid: {item}")
            out.write(item.value + b"\n")
            records += 1
            value_bytes += len(item.value)
    return Dataset(
        name=name,
        object_name=object_name,
        content_type=content_type,
        path=path,
        values_path=values_path,
        split="lines",
        records=records,
        value_bytes=value_bytes,
        object_bytes=path.stat().st_size,
        record_format=name,
    )


def kcat_values(dataset: Dataset) -> Path:
    """The dataset's values one per line, the file kcat publishes (made once for the array)."""
    if dataset.split == "lines":
        return dataset.values_path
    path = dataset.values_path.with_name(dataset.values_path.name + ".kcat")
    if path.exists() and path.stat().st_mtime >= dataset.values_path.stat().st_mtime:
        return path
    partial = path.with_suffix(".partial")
    with dataset.values_path.open("rb") as source, partial.open("wb", buffering=4 << 20) as out:
        source.readline()  # "[" on its own line
        for line in source:
            element = line.rstrip(b"\n").removesuffix(b",")
            if element and element != b"]":
                out.write(element + b"\n")
    partial.replace(path)
    return path


def _events(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    """Click-stream events of ~110 bytes as JSON: what a web shop exports by the hour."""
    for number in range(count):
        action = rng.choice(_ACTIONS)
        second = number // 280  # ~1 M events over about 17 minutes
        yield {
            "id": number,
            "ts": f"2026-11-28T10:{second // 60 % 60:02d}:{second % 60:02d}."
            f"{rng.randrange(1000):03d}Z",
            "user": f"u{rng.randrange(200_000):06d}",
            "action": action,
            "page": f"/search?q={rng.choice(_SEARCHES)}"
            if action == "search"
            else f"/p/{rng.randrange(50_000)}",
            "amount": round(rng.uniform(3, 400), 2) if action == "purchase" else None,
            "country": rng.choice(_COUNTRIES),
        }


@dataclass
class _ArrayFile:
    """One array being written: where, up to what size, and what it holds so far."""

    out: BinaryIO
    target_bytes: int
    elements: int = 0
    element_bytes: int = 0


def _write_arrays(rng: random.Random, targets: list[tuple[Path, int]]) -> list[tuple[int, int]]:
    """Write `[`, compact orders one per line separated by `,`, then `]`, into each path up to
    its size in bytes: one stream of orders, so a smaller file holds a larger one's first
    elements. Return each file's count of elements and their total size."""
    with contextlib.ExitStack() as stack:
        files = [
            _ArrayFile(stack.enter_context(path.open("wb", buffering=4 << 20)), target)
            for path, target in targets
        ]
        for file in files:
            file.out.write(b"[\n")
        written = 2
        separator = b""
        number = 0
        open_files = list(files)
        while open_files:
            element = orjson.dumps(_order(rng, number))
            number += 1
            written += len(separator) + len(element)
            for file in open_files:
                file.out.write(separator + element)
                file.elements += 1
                file.element_bytes += len(element)
            separator = b",\n"
            for file in [f for f in open_files if written >= f.target_bytes - 4]:
                file.out.write(b"\n]\n")
                open_files.remove(file)
    return [(file.elements, file.element_bytes) for file in files]


def _order(rng: random.Random, number: int) -> dict[str, Any]:
    """An order document of ~1 KiB: customer, address, 2-8 items, payment, shipping."""
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    items: list[dict[str, Any]] = [
        {
            "sku": f"SKU-{rng.randrange(100_000):05d}",
            "name": rng.choice(_PRODUCTS),
            "qty": rng.randrange(1, 5),
            "unit_price": round(rng.uniform(1, 250), 2),
            "discount": rng.choice((0, 0, 0, 0.1, 0.15)),
        }
        for _ in range(rng.randrange(2, 9))
    ]
    return {
        "order_id": f"ORD-{number:09d}",
        "created_at": f"2026-11-{1 + number % 28:02d}T{number % 24:02d}:{number % 60:02d}:00Z",
        "status": rng.choice(("placed", "paid", "shipped", "delivered", "returned")),
        "customer": {
            "id": f"C{rng.randrange(1_000_000):07d}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@example.com",
            "address": {
                "street": f"{rng.choice(_STREETS)} {rng.randrange(1, 200)}",
                "city": rng.choice(_CITIES),
                "zip": f"{rng.randrange(10000, 99999)}",
                "country": rng.choice(_COUNTRIES),
            },
        },
        "items": items,
        "total": round(sum(i["unit_price"] * i["qty"] for i in items), 2),
        "currency": rng.choice(("EUR", "USD", "GBP", "JPY")),
        "payment": {"method": rng.choice(("card", "paypal", "invoice")), "captured": True},
        "shipping": {"carrier": rng.choice(("DHL", "UPS", "La Poste")), "express": False},
        "notes": rng.choice(_NOTES),
        "tags": rng.sample(("b2b", "first_order", "promo", "vip", "marketplace"), 2),
    }


def split_values(dataset: Dataset) -> list[bytes]:
    """The record values the ceiling publishes, as objstream publishes them, in order."""
    data = dataset.values_path.read_bytes()
    if dataset.split == "array":
        body = data[data.index(b"[") + 1 : data.rindex(b"]")].strip()
        return body.split(b",\n") if body else []
    values = data.split(b"\n")
    if values and not values[-1]:
        values.pop()
    return values


def check_against_decoder(dataset: Dataset, sample: int = 2000) -> None:
    """Check that objstream's decoder yields the same first `sample` values as the split."""
    from function.core.decoding import DecodeOptions, Record, RecordDecoder

    expected = []
    with dataset.values_path.open("rb") as source:
        if dataset.split == "array":
            source.readline()  # "[" on its own line
            for line in source:
                expected.append(line.rstrip(b"\n").removesuffix(b","))
                if len(expected) == sample:
                    break
        else:
            expected = [line.rstrip(b"\n") for _, line in zip(range(sample), source, strict=False)]
    got = []
    ranged = None
    if dataset.record_format == "parquet":
        from function.ports import RangedObject

        ranged = RangedObject.from_bytes(dataset.path.read_bytes())
    with dataset.path.open("rb") as stream:
        decoder = RecordDecoder(
            io.BufferedReader(stream),
            DecodeOptions(object_name=dataset.object_name, content_type=dataset.content_type),
            ranged=ranged,
        )
        for item in decoder:
            if not isinstance(item, Record):
                raise TypeError(f"{dataset.name}: record {item.index} is invalid: {item}")
            got.append(item.value)
            if len(got) == sample:
                break
    if got != expected:
        first = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
        raise AssertionError(f"{dataset.name}: record {first} differs from the ceiling's value")
