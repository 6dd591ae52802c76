"""Decode-only throughput of RecordDecoder, per format, with peak memory.

Generates deterministic data under bench/data/ (git-ignored; reused when already there):

    jsonl-<M>mb.jsonl     M MB (--mb, default 100) of JSON lines, records of about 105 bytes
    csv-<M>mb.csv         the same records as CSV (about 47 bytes a row; some quoted)
    jsonl-<M>mb.jsonl.gz  the JSON lines, gzip level 6
    array-<N>mb.json      a JSON array of N MB (--json-array-mb N), written streaming

Each file is decoded in a fresh subprocess (so peak RSS is that decode's alone) from a plain
file object, the way the function reads an Object Storage body, and the table shows
records/s, MB/s of the (decompressed) object and the subprocess's peak RSS; "size" is the
file's size (compressed for .gz).

    .venv/bin/python bench/decode_bench.py [--mb 100] [--json-array-mb 1024] [--only jsonl]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
MB = 1_000_000
SEED = 20_260_501
CITIES = ["Zürich", "Frankfurt", "Ashburn", "Tokyo", "São Paulo", "Mumbai", "London"]


def records(target_bytes: int) -> Iterator[dict[str, object]]:
    """Deterministic records of about 100 bytes as JSON, until about target_bytes."""
    rnd = random.Random(SEED)
    produced = 0
    number = 0
    while produced < target_bytes:
        record: dict[str, object] = {
            "id": number,
            "user": f"user-{rnd.randrange(10**6):06d}",
            "city": rnd.choice(CITIES),
            "amount": round(rnd.uniform(0, 10_000), 2),
            "ok": rnd.random() < 0.9,
            "note": "a, b" if number % 7 == 0 else "plain",
        }
        produced += 100
        number += 1
        yield record


def write_jsonl(path: Path, target: int) -> None:
    with path.open("wb") as out:
        for record in records(target):
            out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")


def write_csv(path: Path, target: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "user", "city", "amount", "ok", "note"])
        for record in records(target):
            writer.writerow(record.values())


def write_gzip(path: Path, source: Path) -> None:
    with source.open("rb") as plain, gzip.open(path, "wb", compresslevel=6) as packed:
        while block := plain.read(1 << 20):
            packed.write(block)


def write_array(path: Path, target: int) -> None:
    """A JSON array written element by element: never in memory as a whole."""
    with path.open("wb") as out:
        out.write(b"[\n")
        first = True
        for record in records(target):
            if not first:
                out.write(b",\n")
            out.write(json.dumps(record, ensure_ascii=False).encode())
            first = False
        out.write(b"\n]\n")


def ensure(path: Path, make: Callable[..., None], *args: object) -> Path:
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(path.suffix + ".partial")
        make(partial, *args)
        partial.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return path


def generate(mb: int, array_mb: int | None) -> dict[str, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    target = mb * MB
    jsonl = ensure(DATA / f"jsonl-{mb}mb.jsonl", write_jsonl, target)
    files = {
        "jsonl": jsonl,
        "csv": ensure(DATA / f"csv-{mb}mb.csv", write_csv, target),
        "jsonl.gz": ensure(DATA / f"jsonl-{mb}mb.jsonl.gz", write_gzip, jsonl),
    }
    if array_mb:
        files[f"json array {array_mb} MB"] = ensure(
            DATA / f"array-{array_mb}mb.json", write_array, array_mb * MB
        )
    return files


def measure(path: Path) -> dict[str, float | str]:
    """Decode one file in this process; called in a fresh subprocess by main()."""
    # Imported here, in the fresh process, so that the import is not part of another measurement.
    from function.core.decoding import DecodeOptions, InvalidRecord, RecordDecoder

    count = invalid = 0
    with path.open("rb", buffering=0) as raw:
        stream: IO[bytes] = raw
        started = time.perf_counter()
        decoder = RecordDecoder(stream, DecodeOptions(path.name, max_object_bytes=100 * 1024**3))
        for item in decoder:
            count += 1
            if type(item) is InvalidRecord:
                invalid += 1
        elapsed = time.perf_counter() - started
    summary = decoder.summary
    return {
        "records": count,
        "invalid": invalid,
        "seconds": elapsed,
        "bytes": summary.bytes_decoded,
        "format": summary.record_format.value,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=100, help="size of the JSON lines and CSV")
    parser.add_argument("--json-array-mb", type=int, default=None, help="also a JSON array")
    parser.add_argument("--only", default=None, help="decode only this entry (e.g. jsonl)")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return

    files = generate(args.mb, args.json_array_mb)
    print(
        f"{'input':<22}{'size':>9}{'format':>7}{'records':>12}{'records/s':>12}{'MB/s':>8}"
        f"{'peak RSS':>10}"
    )
    for name, path in files.items():
        if args.only and name != args.only:
            continue
        run = subprocess.run(
            [sys.executable, "-m", "bench.decode_bench", "--measure", str(path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(run.stdout)
        rate = result["records"] / result["seconds"]
        speed = result["bytes"] / result["seconds"] / MB
        size = path.stat().st_size / MB
        print(
            f"{name:<22}{size:>7.0f}MB{result['format']:>7}{result['records']:>12,}"
            f"{rate:>12,.0f}{speed:>8.1f}{result['peak_rss_mb']:>8.0f}MB"
        )


if __name__ == "__main__":
    main()
