"""What one batch costs the release kernel whatever its size, and what each row adds.

Why: cutting batches finer would let the two mark threads share the first and the last
batch (``bench/release_timeline.py`` shows one core idle there), but every batch pays a
fixed cost (canary generation from the batch's own distributions, dozens of Polars calls,
a Parquet row group): this prints it. Thread CPU of one ``_BatchKernel.__call__`` (the
calling thread only: work Polars runs on its own pool is not in it), best of ``--runs``,
on the first rows of the synthetic shop, per recipient template and batch size.

    .venv/bin/python bench/kernel_fixed_cost.py
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from release_bench import make_workspace

from leaktrace.allocation import configure_process
from leaktrace.release import _BatchKernel, make_plan
from leaktrace.synth import generate_orders

SIZES = (2_000, 10_000, 50_000, 200_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    configure_process()
    home = Path(tempfile.mkdtemp(prefix="kernel-fixed-cost-"))
    try:
        ws = make_workspace(home / "ws")
        shop = generate_orders(max(SIZES), seed=7)
        print("| recipient | rows | thread CPU ms | ms per 1k rows |")
        print("| --- | --- | --- | --- |")
        for recipient in ("cs", "courier"):
            plan = dataclasses.replace(make_plan(ws, recipient), release_id="rel-bench")
            batch = shop.select(plan.input_roles())
            for n in SIZES:
                rows = batch.head(n)
                best = float("inf")
                for _ in range(args.runs):
                    # the ledger hands over reserved numbers: here the pool's first k
                    kernel = _BatchKernel(plan, reserve=lambda pool, k, extra: list(pool[:k]))
                    t0 = time.thread_time()
                    kernel(rows)
                    best = min(best, time.thread_time() - t0)
                print(f"| {recipient} | {n:,} | {best * 1000:.1f} | {best * 1e6 / n:.2f} |")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
