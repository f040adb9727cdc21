"""Rewrite-kernel benchmark: ns per row of each ``leaktrace._rewrite`` op on the synthetic shop.

Calls the kernel directly (as :func:`leaktrace.rewrite._run` does, without the Polars
wrapping around it), so the table shows the C code alone. Why CPU time of the calling
thread (``time.thread_time``): the kernel runs on the calling thread, and the machine is
shared, so wall-clock time would measure the neighbours too; best of ``--repeat`` calls.
Page faults are the calling thread's minor faults per call (median), the cost of writing
into memory that is not mapped yet.

    .venv/bin/python bench/rewrite_bench.py [--rows 200000] [--repeat 5] [--seed 20240601]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import numpy as np
import polars as pl

from leaktrace import _rewrite
from leaktrace.arrowtext import StringViews, string_views
from leaktrace.channels import get_channel
from leaktrace.synth import generate_orders

# (op, column, symbol alphabets or None): the column each op meets in a release
CASES = [
    ("OP_CANONICAL", "order_id", None),
    ("OP_NAME", "name", None),
    ("OP_PHONE", "phone", None),
    ("OP_ADDRESS", "address", None),
    ("OP_EMBED_ADDRESS", "address", get_channel("address").alphabets),
    ("OP_EMBED_TITLE", "product", get_channel("title").alphabets),
]


def _views(values: pl.Series) -> StringViews:
    return string_views(values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.newest()))


def _best_ns(op: int, sv: StringViews, sym: bytes, repeat: int) -> tuple[float, float]:
    """(best CPU ns of one call, median minor page faults per call)."""
    best = float("inf")
    faults = []
    for _ in range(repeat):
        f0 = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        t0 = time.thread_time()
        out = _rewrite.rewrite(op, sv.views, sv.data, sym)
        best = min(best, time.thread_time() - t0)
        faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - f0)
        del out  # as in a release, the result goes before the next call
    return best * 1e9, statistics.median(faults)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()

    df = generate_orders(args.rows, args.seed)
    rng = np.random.default_rng(args.seed)
    print(f"{args.rows} rows, best of {args.repeat} calls, CPU time of the calling thread")
    print(f"{'op':<18} {'column':<9} {'bytes/row':>9} {'ms':>8} {'ns/row':>8} {'faults':>7}")
    for op_name, column, alphabets in CASES:
        values = df.get_column(column)
        sv = _views(values)
        sym = b""
        if alphabets is not None:
            sym = np.stack([rng.integers(0, a, args.rows) for a in alphabets], axis=1)
            sym = sym.astype(np.int8).tobytes()
        ns, faults = _best_ns(getattr(_rewrite, op_name), sv, sym, args.repeat)
        avg = values.cast(pl.String).str.len_bytes().mean()
        print(
            f"{op_name:<18} {column:<9} {avg:>9.1f} {ns / 1e6:>8.2f} {ns / args.rows:>8.1f}"
            f" {faults:>7.0f}"
        )


if __name__ == "__main__":
    main()
