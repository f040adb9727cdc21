"""What a release's write settings and its timestamp parse cost, against the alternatives.

Why: a release is bound by its CPU total on this machine, and writing the output and the
exposure index is its largest single step. Each setting of the writers (statistics,
dictionaries, compression) was chosen by measuring it here; this script keeps those
measurements reproducible. It releases the synthetic shop to ``cs`` and ``courier`` once,
then rewrites the released rows and the index in 200k-row batches, as a release does, with
the release's settings and with each alternative. Times are the process's CPU seconds
(user + system, all threads), best of ``--repeat``, scaled to 1M rows; sizes are the files'.

    .venv/bin/python bench/io_bench.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from release_bench import _cpu_seconds  # this folder is on sys.path when run as a script

from leaktrace.io.writers import dictionary_columns, statistics_columns
from leaktrace.release import BATCH_ROWS, index_parquet_writer, release
from leaktrace.synth import generate_orders
from leaktrace.workspace import add_recipient, init_workspace


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        c0 = _cpu_seconds()
        fn()
        best = min(best, _cpu_seconds() - c0)
    return best


def _output_writer(frames: list[pl.DataFrame], path: Path, **override: Any) -> Callable[[], None]:
    """Write ``frames`` as ``TableWriter`` writes a release's Parquet output, with
    ``override`` replacing its writer arguments."""

    def run() -> None:
        first = frames[0]
        args: dict[str, Any] = {
            "compression": "zstd",
            "use_dictionary": dictionary_columns(first),
            "write_statistics": statistics_columns(first),
            "store_schema": False,
        }
        args.update(override)
        writer = None
        with path.open("wb") as fh:
            for frame in frames:
                table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
                if writer is None:
                    writer = pq.ParquetWriter(fh, table.schema, **args)
                writer.write_table(table)
            assert writer is not None
            writer.close()

    return run


def _index_writer(tables: list[pa.Table], path: Path, old: bool = False) -> Callable[[], None]:
    """Write the index batches with the release's writer, or (``old``) with zstd and
    min/max on every column, as before session 7."""

    def run() -> None:
        schema = tables[0].schema
        writer = (
            pq.ParquetWriter(
                path, schema, compression="zstd", use_dictionary=["is_canary", "order_day"]
            )
            if old
            else index_parquet_writer(path, schema)
        )
        for table in tables:
            writer.write_table(table)
        writer.close()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scale = 1_000_000 / args.rows
    with tempfile.TemporaryDirectory(prefix="io-bench-") as tmp_name:
        tmp = Path(tmp_name)
        shop = generate_orders(args.rows, 20240601)
        ws = init_workspace(tmp / "ws", canary_phones=["17090000000-17090999999"])
        add_recipient(ws, "cs", template="customer-service")
        add_recipient(ws, "courier", template="courier")
        print(f"rows {args.rows}, CPU seconds per 1M rows (best of {args.repeat}), file MB\n")
        print("| file | writer settings | CPU s | vs release | MB |")
        print("| --- | --- | --- | --- | --- |")
        for recipient in ["cs", "courier"]:
            res = release(shop, recipient=recipient, workspace=ws, out=tmp / f"{recipient}.parquet")
            released = pl.read_parquet(tmp / f"{recipient}.parquet")
            frames = [released.slice(i, BATCH_ROWS) for i in range(0, released.height, BATCH_ROWS)]
            target = tmp / "w.parquet"
            variants: list[tuple[str, dict[str, Any]]] = [
                ("as a release writes it", {}),
                ("+ min/max of text columns", {"write_statistics": True}),
                ("dictionary for every column", {"use_dictionary": True}),
                ("no dictionary", {"use_dictionary": False}),
                ("zstd level -3", {"compression_level": -3}),
                ("snappy", {"compression": "snappy"}),
                ("lz4", {"compression": "lz4"}),
            ]
            base = 0.0
            for label, override in variants:
                cpu = _best(_output_writer(frames, target, **override), args.repeat) * scale
                base = base or cpu
                size = target.stat().st_size / 1e6
                print(
                    f"| {recipient} output | {label} | {cpu:.3f} | {cpu / base:.2f} | {size:.1f} |"
                )
            index = pq.read_table(ws.home / res.entry.index_file)
            tables = index.to_batches(BATCH_ROWS)
            tables = [pa.Table.from_batches([b]) for b in tables]
            base = 0.0
            for label, old in [
                ("as a release writes it", False),
                ("zstd + min/max on digests", True),
            ]:
                cpu = _best(_index_writer(tables, target, old), args.repeat) * scale
                base = base or cpu
                size = target.stat().st_size / 1e6
                print(
                    f"| {recipient} index | {label} | {cpu:.3f} | {cpu / base:.2f} | {size:.1f} |"
                )
        # the CSV reader's order_time parse, one batch of text timestamps
        text = shop.get_column("order_time").head(BATCH_ROWS).dt.strftime("%Y-%m-%d %H:%M:%S")
        print("\n| order_time parse (text → datetime) | CPU s per 1M rows |")
        print("| --- | --- |")
        for cache in (False, True):

            def parse(cache: bool = cache) -> object:
                return text.str.to_datetime(
                    "%Y-%m-%d %H:%M:%S", strict=False, time_unit="us", cache=cache
                )

            cpu = _best(parse, args.repeat)
            label = "with Polars' value cache" if cache else "as a release parses (no cache)"
            print(f"| {label} | {cpu * 1_000_000 / text.len():.3f} |")


if __name__ == "__main__":
    main()
