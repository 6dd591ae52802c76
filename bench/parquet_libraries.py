"""pyarrow against fastparquet for objstream's Parquet path: rows/s to Python rows, peak RSS.

Run: `.venv/bin/python bench/parquet_libraries.py` (writes bench/data/libraries.parquet once).
Each library runs in its own process, so import time and peak RSS are its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).parent / "data" / "libraries.parquet"
ROWS = 2_000_000

CHILD = r"""
import json, resource, sys, time
started = time.perf_counter()
library, path = sys.argv[1], sys.argv[2]
rows = 0
if library == "pyarrow":
    import pyarrow.parquet as pq
    imported = time.perf_counter()
    f = pq.ParquetFile(path)
    for group in range(f.metadata.num_row_groups):
        for batch in f.iter_batches(batch_size=20_000, row_groups=[group], use_threads=False):
            rows += len(batch.to_pylist())
elif library == "objstream":
    from function.core.decoding import DecodeOptions, RecordDecoder
    from objstream.testing.decoding import decode_ranged
    from function.ports import RangedObject
    import os
    imported = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    source = RangedObject(lambda s, n: os.pread(fd, n, s), size=size, etag=None)
    for item in RecordDecoder(None, DecodeOptions("x.parquet"), ranged=source):
        rows += 1
else:
    import fastparquet
    imported = time.perf_counter()
    f = fastparquet.ParquetFile(path)
    for frame in f.iter_row_groups():
        rows += len(frame.to_dict("records"))
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"library": library, "import_ms": round((imported - started) * 1000),
                  "rows_per_s": round(rows / (done - imported)), "peak_rss_mb": round(peak)}))
"""


def build() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if DATA.exists():
        return
    DATA.parent.mkdir(parents=True, exist_ok=True)
    n = ROWS
    table = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "amount": pa.array([i * 0.25 for i in range(n)]),
            "name": pa.array([f"customer {i % 5000}" for i in range(n)]),
            "paid": pa.array([i % 2 == 0 for i in range(n)]),
            "at": pa.array(range(n), pa.timestamp("us", "UTC")),
        }
    )
    pq.write_table(table, DATA, row_group_size=250_000, compression="snappy")


def main() -> None:
    build()
    for library in ("pyarrow", "fastparquet", "objstream"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, library, str(DATA)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[1],
        )
        print(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"file: {DATA.stat().st_size / 1e6:.0f} MB, {ROWS} rows", time.strftime("%H:%M"))


if __name__ == "__main__":
    main()
