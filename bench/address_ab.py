"""generalise_address at one git revision against the working tree, on the benchmark's
1M synthetic addresses (session 14): alternating rounds, wall and CPU seconds of one
``df.select(expr)`` per level, best and median; then how many values the two give
differently at district level.

    .venv/bin/python bench/address_ab.py --rev 882c6ee --rounds 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl
from revision import module_at

import leaktrace.masking.address as new
from leaktrace.masking.base import MaskContext
from leaktrace.synth import generate_orders


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", required=True, help="git revision of masking/address.py to compare")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    old = module_at(
        args.rev, "src/leaktrace/masking/address.py", "old_address", Path(tempfile.mkdtemp())
    )
    df = generate_orders(args.rows, 20240601).select("address")
    ctx = MaskContext(b"k" * 32, "r")
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for name, mod in ((args.rev, old), ("working tree", new)):
            for level in ("district", "city", "province"):
                e = mod.GeneraliseAddress(level, ctx).expr(pl.col("address"))
                t, c = time.perf_counter(), time.process_time()
                df.select(e)
                times.setdefault((name, level), []).append(
                    (time.perf_counter() - t, time.process_time() - c)
                )
    print("| code | level | wall best / median | CPU best / median |")
    print("| --- | --- | --- | --- |")
    for (name, level), v in times.items():
        w, c = sorted(x for x, _ in v), sorted(y for _, y in v)
        m = len(v) // 2
        print(f"| {name} | {level} | {w[0]:.3f} / {w[m]:.3f} | {c[0]:.3f} / {c[m]:.3f} |")
    a = df.select(old.GeneraliseAddress(None, ctx).expr(pl.col("address"))).to_series()
    b = df.select(new.GeneraliseAddress(None, ctx).expr(pl.col("address"))).to_series()
    differ = (a.is_null() != b.is_null()) | (a != b).fill_null(False)
    print(f"\nvalues that differ at district level: {int(differ.sum()):,} of {df.height:,}")


if __name__ == "__main__":
    main()
