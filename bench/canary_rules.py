"""Rules a partner could run on its own time-sorted copy to find canaries (session 22).

For each rule: the share of canaries it flags against the share of real rows, canaries
placed as a release places them (``canary.place_canaries``) in batches of the synthetic
shop (``generate_orders``) sorted by time, kept 1 in ``every`` (a filtered copy) or
truncated to an export's grid. A rule that flags canaries more often than real rows
would let a partner strip them.

    .venv/bin/python bench/canary_rules.py [--seeds 8]
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from leaktrace.canary import place_canaries, slotted_order
from leaktrace.synth import generate_orders


def placed(times: pl.Series, k: int, seed: int) -> tuple[pl.Series, np.ndarray]:
    """The batch's times with ``k`` canaries slotted in, and which rows are canaries."""
    n = times.len()
    drawn = times.sample(k, with_replacement=True, seed=seed)
    slots, fitted = place_canaries(np.random.default_rng(seed), times, drawn)
    order = slotted_order(n, slots)
    is_canary = np.concatenate([np.zeros(n, bool), np.ones(k, bool)])[order]
    return pl.concat([times, fitted]).gather(order), is_canary


def closest_span(at: pl.Series) -> np.ndarray:
    t = at.to_physical().to_numpy().astype(np.int64)
    span = np.full(t.size, np.iinfo(np.int64).max)
    span[1:-1] = np.abs(t[2:] - t[:-2])
    return span <= np.quantile(span[1:-1], 0.15)


def run_edge(at: pl.Series) -> np.ndarray:
    t = at.to_physical().to_numpy()
    edge = np.zeros(t.size, bool)
    edge[1:-1] = (t[1:-1] != t[:-2]) | (t[1:-1] != t[2:])
    return edge


def tie(at: pl.Series) -> np.ndarray:
    t = at.to_physical().to_numpy()
    same = np.zeros(t.size, bool)
    same[1:] |= t[1:] == t[:-1]
    same[:-1] |= t[:-1] == t[1:]
    return same


def night(at: pl.Series) -> np.ndarray:
    return (at.dt.hour() < 7).to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    shop = generate_orders(200_000, seed=7).sort("order_time").get_column("order_time")

    def kept(every: int) -> pl.Series:  # as a where filter keeps rows: at random
        return shop.filter(pl.Series(np.random.default_rng(99).random(shop.len()) < 1 / every))

    cases = [
        ("to the second", shop.head(100_000), closest_span, "15 % closest neighbours"),
        ("1 in 25 at random", kept(25), closest_span, "15 % closest neighbours"),
        # every 25th row: gaps nearly equal, so any row slotted in halves one (not Poisson)
        ("every 25th row", shop.gather(np.arange(0, shop.len(), 25)), closest_span, "15 % closest neighbours"),
        ("to the second", shop, tie, "same time as a neighbour"),
        ("hourly", shop.head(100_000).dt.truncate("1h"), run_edge, "edge of a run of equal times"),
        ("every 5 minutes", shop.dt.truncate("5m"), run_edge, "edge of a run of equal times"),
        ("1 in 250 at random", kept(250), night, "00:00-07:00"),
    ]  # fmt: skip
    print("| copy | rule | canaries | real rows | canaries flagged / placed |")
    print("| --- | --- | --- | --- | --- |")
    for copy, times, rule, name in cases:
        k = max(200, times.len() // 100)
        flagged_c = flagged_r = placed_c = rows = 0
        for seed in range(args.seeds):
            at, is_canary = placed(times, k, seed)
            flag = rule(at)
            flagged_c += int(flag[is_canary].sum())
            placed_c += int(is_canary.sum())
            flagged_r += int(flag[~is_canary].sum())
            rows += int((~is_canary).sum())
        print(
            f"| {copy} | {name} | {flagged_c / placed_c:.3f} | {flagged_r / rows:.3f} "
            f"| {flagged_c:,} / {placed_c:,} |"
        )


if __name__ == "__main__":
    main()
