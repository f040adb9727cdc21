"""What CSV input and output cost outside the marking (issue 2's speed clause; session 25).

The CSV release is further from the 1.5× target than the Parquet one. This times, on the
same file, the parts of a CSV release that are not marking against what the baseline does:
the release's streaming scan against one ``read_csv``, ``write_csv`` per batch against one
whole write, and the SHA-256 digest of the bytes (the ledger records the input's and the
output's; the baseline computes none). Two runs each, wall and process CPU seconds.

    .venv/bin/python bench/csv_io.py --input /tmp/s15/rb/orders_1000000.csv --out /tmp/csvio

The figures and what they mean are in bench/README.md ("What was measured in session 25").
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

BATCH_ROWS = 200_000
"""The release's batch size (``release_bench.py``'s ``BATCH_ROWS``)."""


def timed(name: str, fn: Callable[[], object], runs: int = 2) -> None:
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        print(
            f"| {name} | {time.perf_counter() - wall:.2f} | {time.process_time() - cpu:.2f} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--input", type=Path, required=True, help="a CSV file (release_bench's)")
    ap.add_argument("--out", type=Path, required=True, help="a folder for the written copies")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    src = str(args.input)
    print("| step | seconds | CPU seconds |\n| --- | --- | --- |")

    def scan_batches() -> None:
        scan = pl.scan_csv(src, infer_schema=False, truncate_ragged_lines=True, encoding="utf8")
        for _ in scan.collect_batches(chunk_size=BATCH_ROWS):
            pass

    timed("read_csv, whole file", lambda: pl.read_csv(src, infer_schema=False))
    timed(f"scan_csv, batches of {BATCH_ROWS:,}", scan_batches)
    df = pl.read_csv(src, infer_schema=False)

    def write_batches() -> None:
        with (args.out / "batches.csv").open("wb") as fh:
            for start in range(0, df.height, BATCH_ROWS):
                df.slice(start, BATCH_ROWS).write_csv(fh, include_header=start == 0)

    timed("write_csv, whole frame", lambda: df.write_csv(args.out / "whole.csv"))
    timed(f"write_csv, batches of {BATCH_ROWS:,}", write_batches)
    data = args.input.read_bytes()
    timed(f"SHA-256 of the input's {len(data) / 1e6:.0f} MB", lambda: hashlib.sha256(data))


if __name__ == "__main__":
    main()
