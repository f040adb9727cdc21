"""Column-role inference by content, today's against a git revision's, in the same run.

Every file whose headers say nothing (a headerless leak, ``column_1 …``) has its roles
inferred from the content of its first 1,000 rows; a trace pays it once per file, and a
release's header check (``header_contradictions``) pays a part of it. Prints the best of
``--runs`` wall and CPU seconds of ``infer_roles`` on a headerless sample of the synthetic
shop, for both versions, and whether they assign the same roles.

    .venv/bin/python bench/role_inference.py --rev dc1082f
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import polars as pl

from leaktrace.io import columns as today
from leaktrace.io.columns import header_contradictions, infer_roles
from leaktrace.synth import generate_orders

sys.path.insert(0, str(Path(__file__).parent))
from revision import module_at


def _best(fn: object, runs: int) -> tuple[float, float]:
    assert callable(fn)
    best = (float("inf"), float("inf"))
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t, time.process_time() - c))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="dc1082f", help="the revision to compare with")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    shop = generate_orders(args.rows, 3).with_columns(pl.all().cast(pl.String))
    blind = shop.rename({c: f"column_{i + 1}" for i, c in enumerate(shop.columns)})
    with tempfile.TemporaryDirectory() as tmp:
        old: ModuleType = module_at(
            args.rev, "src/leaktrace/io/columns.py", "columns_at_rev", Path(tmp)
        )
        rows = []
        for name, module in ((args.rev, old), ("working tree", today)):
            wall, cpu = _best(lambda m=module: m.infer_roles(blind, use_headers=False), args.runs)
            roles = {
                a.role.value: a.column
                for a in module.infer_roles(blind, use_headers=False).assignments.values()
            }
            rows.append((name, wall, cpu, roles))
    print(
        f"infer_roles on {args.rows:,} headerless rows, {blind.width} columns, best of {args.runs}"
    )
    for name, wall, cpu, _ in rows:
        print(f"  {name:>12}: {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"  same roles: {rows[0][3] == rows[1][3]}")
    roles = infer_roles(shop)
    wall, cpu = _best(lambda: header_contradictions(shop, roles), args.runs)
    print(f"header_contradictions on the shop's own headers: {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
