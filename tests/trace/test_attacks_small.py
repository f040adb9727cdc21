"""A small, fast cut of the attack benchmark (bench/attacks.py): statistical validity.

30 recipients with overlapping audiences (couriers, keyed-hash shards, firms that see
everyone). Every trace must name its source(s) and nobody else; traces of unmarked rows
must end in "no recipient identified". Zero false accusations is asserted over every
(trace, innocent candidate) pair.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import polars as pl
import pytest

from leaktrace.config import Recipient
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace
from leaktrace.workspace import TEMPLATES, Workspace, init_workspace

COLS = ["name", "phone", "address", "order_time", "product"]


@pytest.fixture(scope="module")
def ledger(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Workspace, pl.DataFrame, dict[str, pl.DataFrame]]:
    shop = generate_orders(2000, seed=23)
    ws = init_workspace(
        tmp_path_factory.mktemp("attacks") / "ws", canary_phones=["17090000000-17090001999"]
    )
    full = TEMPLATES["courier"].model_copy(deep=True)
    full.fields = {**full.fields, "name": "keep"}
    ws.config.policies["full"] = full
    couriers = shop.get_column("courier").value_counts(sort=True).get_column("courier")[:4]
    names: dict[str, str | None] = {f"c{i}": f"courier = '{c}'" for i, c in enumerate(couriers)}
    names.update({"cs-a": None, "cs-b": None})
    for i in range(30 - len(names)):
        names[f"h{i:02d}"] = f"cast(substr(order_id, 12, 3) as int) % {4 + i % 3} = {i % 4}"
    for n, where in names.items():
        ws.config.recipients[n] = Recipient(policy="full", where=where)
    ws.save()
    copies = {}
    for n in names:
        res = release(shop, recipient=n, workspace=ws)
        assert res.frame is not None
        copies[n] = res.frame
    return ws, shop, copies


def _fold(df: pl.DataFrame) -> pl.DataFrame:
    def f(s: str | None) -> str | None:
        return None if s is None else "".join(unicodedata.normalize("NFKC", s).split())

    strs = [
        pl.col(c).map_elements(f, return_dtype=pl.Utf8)
        for c in df.columns
        if df.schema[c] == pl.Utf8
    ]
    return df.with_columns(strs).with_columns(pl.col("order_time").dt.truncate("1m"))


def _check(
    ws: Workspace, leak: pl.DataFrame, sources: set[str], counts: dict[str, int]
) -> set[str]:
    res = trace(leak, workspace=ws, alpha=1e-9)
    accused = {c.recipient for c in res.accused}
    counts["pairs"] += sum(c.recipient not in sources for c in res.candidates)
    counts["false"] += len(accused - sources)
    assert accused <= sources, f"false accusation: {sorted(accused - sources)}"
    return accused


def test_attack_suite_small(
    ledger: tuple[Workspace, pl.DataFrame, dict[str, pl.DataFrame]],
) -> None:
    ws, shop, copies = ledger
    rng = np.random.default_rng(7)
    counts = {"pairs": 0, "false": 0}
    names = sorted(copies)
    # intact 10-row leaks: always the right recipient
    for n in rng.choice(names, size=8, replace=False):
        leak = copies[str(n)].sample(10, seed=int(rng.integers(1 << 30))).select(COLS)
        assert _check(ws, leak, {str(n)}, counts) == {str(n)}
    # NFKC + whitespace removal + minute truncation, 30 rows
    leak = _fold(copies["c0"].sample(30, seed=1).select(COLS))
    assert _check(ws, leak, {"c0"}, counts) == {"c0"}
    # mixed with 4x unmarked rows, shuffled and with columns dropped
    mixed = pl.concat(
        [copies["c1"].sample(40, seed=2).select(COLS), shop.sample(160, seed=3).select(COLS)]
    ).sample(fraction=1.0, shuffle=True, seed=4)
    assert "c1" in _check(ws, mixed.select(["address", "phone", "name", "product"]), {"c1"}, counts)
    # collusion of two: cell-by-cell merge of the rows both copies hold
    b = copies["c2"].select(COLS)
    joined = copies["cs-a"].select(COLS).join(b, on=["name", "phone"], how="inner", suffix="_b")
    joined = joined.head(80)
    pick = rng.integers(0, 2, size=(joined.height, 3))
    merged = joined.select(
        "name",
        "phone",
        *[
            pl.when(pl.Series(pick[:, j]) == 0).then(pl.col(c)).otherwise(pl.col(f"{c}_b")).alias(c)
            for j, c in enumerate(["address", "order_time", "product"])
        ],
    )
    assert _check(ws, merged, {"cs-a", "c2"}, counts) & {"cs-a", "c2"}
    # purely unmarked rows: never anybody
    for k, n in enumerate((5, 50, 400)):
        res = trace(shop.sample(n, seed=10 + k).select(COLS), workspace=ws, alpha=1e-9)
        assert res.verdict == "no recipient identified" and res.accused == []
        counts["pairs"] += len(res.candidates)
    res = trace(_fold(shop.sample(300, seed=20).select(COLS)), workspace=ws, alpha=1e-9)
    assert res.accused == []
    counts["pairs"] += len(res.candidates)
    assert counts["false"] == 0
    assert counts["pairs"] >= 14 * 29


def test_workspace_has_30_recipients(
    ledger: tuple[Workspace, pl.DataFrame, dict[str, pl.DataFrame]],
) -> None:
    ws, _, copies = ledger
    assert len(ws.config.recipients) == 30 == len(copies)
    assert all(df.height > 0 for df in copies.values())
