"""How many canary rows a name + phone leak needs (docs/policy.md's table), and that a
trace asks for exactly that many: since session 20's review a canary matched through its
phone and a guessable name counts only on the pool-number figure, not as a digest
collision (one such row accused its recipient at 10^-14 before)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.trace.engine import canary_log10_p
from leaktrace.workspace import Workspace

FAMILIES = 4


def rows_needed(pool: int, issued: int, candidates: int, alpha: float = 1e-9) -> int:
    """Fewest of R's pool numbers a name + phone leak must hold to accuse R at ``alpha``:
    the number test's figure (``canary_log10_p``), ×4 families, × candidates."""
    counts = {"issued": issued, "free": pool - issued, "free_hits": 0}
    for k in range(1, issued + 1):
        p = canary_log10_p(k, 0.0, 0, {**counts, "hits": k})
        if p + math.log10(FAMILIES * candidates) <= math.log10(alpha):
            return k
    raise AssertionError("never")


def test_the_policy_table() -> None:
    """docs/policy.md: rows needed at α = 1e-9, 10 candidates (1,000: at most two more)."""
    table = {
        (pool, k): rows_needed(pool, k, 10)
        for pool in (100_000, 1_000_000)
        for k in (50, 1_000, 10_000)
    }
    assert table == {
        (100_000, 50): 4,
        (100_000, 1_000): 6,
        (100_000, 10_000): 11,
        (1_000_000, 50): 3,
        (1_000_000, 1_000): 4,
        (1_000_000, 10_000): 6,
    }
    for (pool, k), n in table.items():
        assert n <= rows_needed(pool, k, 1_000) <= n + 2


def test_a_trace_needs_that_many_canary_rows(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """zto's copy, name and phone, 96 ordinary rows: one canary row fewer than the table's
    count accuses nobody (before the review one row was enough), that count accuses zto."""
    copies = {}
    for r in ("zto", "yto"):
        out = tmp_path / f"{r}.parquet"
        release(shop, recipient=r, workspace=workspace, out=out)
        copies[r] = pl.read_parquet(out)
    tokens = [t for t in Ledger(workspace).canary_tokens() if t["kind"] == "phone"]
    mine = [t["contact"] for t in tokens if t["recipient"] == "zto"]
    need = rows_needed(100_000 - len(tokens) + len(mine), len(mine), 2)
    assert 2 <= need <= len(mine)
    zto = copies["zto"]
    ordinary = zto.filter(~pl.col("phone").str.starts_with("1709")).head(96)
    for k, accused in ((need - 1, []), (need, ["zto"])):
        planted = zto.filter(pl.col("phone").is_in(mine)).head(k)
        res = trace(pl.concat([ordinary, planted]).select("name", "phone"), workspace=workspace)
        assert res.tests == 2
        assert [c.recipient for c in res.accused] == accused, (k, need)
        if accused:
            assert res.accused[0].log10_p_corrected == pytest.approx(
                canary_log10_p(0, 0.0, 0, res.accused[0].canary_numbers) + math.log10(FAMILIES * 2)
            )
