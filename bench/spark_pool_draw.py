"""Canary-number draw of a ledger-free kernel (a Spark partition) on a large pool.

Why: a Spark partition holds its slice of the canary pool and no ledger, and its kernel
used to list the slice's unused numbers in every batch; it now walks the pool
(:mod:`leaktrace.pool_walk`). This times ``_BatchKernel.prepare`` of a 1,000-row batch
(10 canaries each), four batches per kernel, against pools of growing size, in the way ``leaktrace.spark`` builds them
(explicit numbers, a strided slice of the driver's list), and the old listing as the
baseline measured in the same run.

    .venv/bin/python bench/spark_pool_draw.py [--sizes 10000,100000,500000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from leaktrace.canary import canary_rng
from leaktrace.config import CanaryPool, WorkspaceConfig
from leaktrace.release import _BatchKernel, make_plan
from leaktrace.synth import generate_orders
from leaktrace.workspace import add_recipient, init_workspace

BATCHES = 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,500000")
    args = ap.parse_args()
    batch = generate_orders(1000, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        add_recipient(ws, "cs", template="customer-service")
        base = dataclasses.replace(make_plan(ws, "cs"), release_id="rel-bench")
        print(
            "| pool numbers | prepare (walk), ms per batch | listing the unused numbers, ms per batch | ratio |"
        )
        print("| --- | --- | --- | --- |")
        for size in [int(s) for s in args.sizes.split(",")]:
            pool = [str(17090000000 + i) for i in range(size)]
            cfg = WorkspaceConfig(canary_pool=CanaryPool.model_construct(phones=pool, emails=[]))
            plan = dataclasses.replace(base, ws=dataclasses.replace(base.ws, config=cfg))
            used = set(pool[::3])
            times = []
            for _ in range(3):
                kernel = _BatchKernel(plan, used_canary_contacts=used)
                t0 = time.perf_counter()
                for _ in range(BATCHES):
                    kernel.prepare(batch)
                times.append((time.perf_counter() - t0) / BATCHES)
            kernel = _BatchKernel(plan, used_canary_contacts=used)
            t0 = time.perf_counter()
            for b in range(BATCHES):  # the former draw: list the unused numbers, choose
                fresh = [p for p in kernel._pool if p not in kernel._used]
                pick = canary_rng(plan.canary_key, f"{plan.release_id}/{b}/pool")
                chosen = [fresh[i] for i in pick.choice(len(fresh), 10, replace=False).tolist()]
                kernel._used.update(chosen)
            listing = (time.perf_counter() - t0) / BATCHES
            walk = min(times)
            print(f"| {size:,} | {walk * 1e3:.2f} | {listing * 1e3:.1f} | {listing / walk:.0f}× |")


if __name__ == "__main__":
    main()
