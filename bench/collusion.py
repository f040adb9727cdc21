"""Rows needed to name a colluder, per number of colluders, fair vs Tardos code.

Colluders merge their copies SYMBOL BY SYMBOL (the strongest merge the marking assumption
allows: they can see where their copies differ): ``minority`` takes the symbol held by the
fewest colluders (makes fair bits useless for c = 3), ``interleave`` takes a random
colluder's symbol. Timestamps are dropped (the merge would otherwise be caught by the
60-symbol channel); the leak keeps masked name, address and product.

    .venv/bin/python bench/collusion.py [--trials 5] [--recipients 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from leaktrace.channels import channel_symbols, get_channel
from leaktrace.digest import keyed_digest
from leaktrace.release import mark_key_for, release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, add_recipient, init_workspace

GRID = [50, 100, 200, 400, 800, 1600, 3200]


def workspace(home: Path, code: str, recipients: int, shop: pl.DataFrame) -> Workspace:
    ws = init_workspace(home)
    for i in range(recipients):
        add_recipient(ws, f"r{i}", template="internal")
    pol = ws.config.policies["internal"]
    pol.code = code  # type: ignore[assignment]
    pol.channels = ["address", "title"]
    pol.fields = {"order_id": "keep", "name": "mask_name", "address": "keep", "product": "keep"}
    ws.save()
    for i in range(recipients):
        release(shop, recipient=f"r{i}", workspace=ws)
    return ws


def merge(sym: np.ndarray, strategy: str, rng: np.random.Generator) -> np.ndarray:
    c, n, k = sym.shape
    if strategy == "interleave":
        pick = rng.integers(0, c, size=(n, k))
        return np.take_along_axis(sym, pick[None], axis=0)[0]
    out = np.empty((n, k), dtype=np.int16)
    for j in range(k):
        col = sym[:, :, j]
        counts = np.stack([(col == v).sum(axis=0) for v in range(3)])
        counts = np.where(counts == 0, 99, counts) + rng.random(counts.shape) * 0.1
        out[:, j] = counts.argmin(axis=0)
    return out


def leak(
    ws: Workspace, shop: pl.DataFrame, colluders: list[str], rows: int, strategy: str, seed: int
) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sample = shop.sample(rows, seed=seed)
    anchors = (
        keyed_digest(sample["order_id"], ws.keys.derive("anchor", 1)).to_numpy().astype(np.uint64)
    )
    code = ws.config.policies["internal"].code
    bias = ws.keys.derive("tardos-bias", 1)
    name = sample.select(
        pl.col("name").str.slice(0, 1)
        + pl.lit("*").repeat_by(pl.col("name").str.len_chars() - 1).list.join("")
    ).to_series()
    cols = {"name": name}
    for ch_name in ("address", "title"):
        ch = get_channel(ch_name)
        sym = np.stack(
            [
                channel_symbols(ch, mark_key_for(ws, r, 1), anchors, code=code, bias_key=bias)
                for r in colluders
            ]
        )
        cols[ch.role] = ch.embed(sample[ch.role], merge(sym, strategy, rng))
    return pl.DataFrame(cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--recipients", type=int, default=20)
    ap.add_argument("--orders", type=int, default=8000)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    shop = generate_orders(args.orders, seed=5)
    results = []
    innocent_trials = 0
    false_accusations = 0
    for code in ("fair", "tardos"):
        ws = workspace(Path(tempfile.mkdtemp()) / "ws", code, args.recipients, shop)
        for c in (2, 3, 5):
            colluders = [f"r{i}" for i in range(c)]
            for strategy in ("interleave", "minority"):
                needed = None
                for rows in GRID:
                    if rows > args.orders:
                        break
                    hits = 0
                    for t in range(args.trials):
                        res = trace(
                            leak(ws, shop, colluders, rows, strategy, 1000 * t + rows), workspace=ws
                        )
                        accused = {a.recipient for a in res.accused}
                        innocent_trials += args.recipients - c
                        false_accusations += len(accused - set(colluders))
                        hits += bool(accused & set(colluders))
                    if hits == args.trials:
                        needed = rows
                        break
                results.append(
                    {"code": code, "colluders": c, "strategy": strategy, "rows_needed": needed}
                )
                print(json.dumps(results[-1]), flush=True)
    print(
        f"false accusations: {false_accusations} in {innocent_trials} (trace, innocent recipient) trials"
    )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "results": results,
                    "false_accusations": false_accusations,
                    "innocent_trials": innocent_trials,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"elapsed {time.perf_counter() - t0:.0f} s")
