"""Collusion: recipients merge their copies bit by bit with MINORITY voting — the strategy
that makes every colluder's match rate exactly 1/2 against fair bits (c = 3). With the
Tardos code layer (policy ``code = "tardos"``) at least one colluder is still named, and
no innocent recipient ever is, whatever the code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from leaktrace.channels import channel_symbols, get_channel
from leaktrace.digest import keyed_digest
from leaktrace.release import mark_key_for, release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, add_recipient, init_workspace

COLLUDERS = ["r0", "r1", "r2"]


def _workspace(home: Path, code: str) -> Workspace:
    ws = init_workspace(home)
    for i in range(8):
        add_recipient(ws, f"r{i}", template="internal")
    pol = ws.config.policies["internal"]
    pol.code = code  # type: ignore[assignment]
    pol.channels = ["address", "title"]
    pol.fields = {"order_id": "keep", "name": "mask_name", "address": "keep", "product": "keep"}
    ws.save()
    return ws


def _minority(sym: np.ndarray) -> np.ndarray:
    """sym: (colluders, rows, positions) → per cell the symbol held by the fewest colluders."""
    _, n, k = sym.shape
    out = np.empty((n, k), dtype=np.int16)
    for j in range(k):
        col = sym[:, :, j]
        counts = np.stack([(col == v).sum(axis=0) for v in range(3)])  # symbols 0..2
        counts = np.where(counts == 0, 99, counts)
        out[:, j] = counts.argmin(axis=0)
    return out


def _colluded_leak(ws: Workspace, shop: pl.DataFrame, rows: int) -> pl.DataFrame:
    sample = shop.sample(rows, seed=4)
    anchors = (
        keyed_digest(sample["order_id"], ws.keys.derive("anchor", 1)).to_numpy().astype(np.uint64)
    )
    bias = ws.keys.derive("tardos-bias", 1)
    code = ws.config.policies["internal"].code
    masked = sample.select(
        pl.col("name").str.slice(0, 1)
        + pl.lit("*").repeat_by(pl.col("name").str.len_chars() - 1).list.join("")
    )
    cols = {"name": masked.to_series()}
    for name in ("address", "title"):
        ch = get_channel(name)
        sym = np.stack(
            [
                channel_symbols(ch, mark_key_for(ws, r, 1), anchors, code=code, bias_key=bias)
                for r in COLLUDERS
            ]
        )
        cols[ch.role] = ch.embed(sample[ch.role], _minority(sym))
    return pl.DataFrame(cols)


@pytest.mark.parametrize("code", ["fair", "tardos"])
def test_minority_voting_collusion(tmp_path: Path, shop: pl.DataFrame, code: str) -> None:
    ws = _workspace(tmp_path / "ws", code)
    for i in range(8):
        release(shop, recipient=f"r{i}", workspace=ws)
    res = trace(_colluded_leak(ws, shop, 500), workspace=ws)
    accused = {c.recipient for c in res.accused}
    assert accused <= set(COLLUDERS), f"innocent accused: {accused - set(COLLUDERS)}"
    if code == "tardos":
        assert accused, "Tardos layer must name at least one colluder"


def test_tardos_policy_release_embeds_tardos_marks(tmp_path: Path, shop: pl.DataFrame) -> None:
    """A release under ``code = "tardos"`` carries the biased symbols the tracer scores it
    with, so one recipient's own leaked rows give strong Tardos evidence. (Session 8 found
    releases embedding fair marks while the ledger said "tardos": the Tardos family then
    had no evidence at all.)"""
    ws = _workspace(tmp_path / "ws", "tardos")
    for i in range(3):
        release(shop, recipient=f"r{i}", workspace=ws)
    copy = release(shop, recipient="r3", workspace=ws).frame
    assert copy is not None
    leak = (
        shop.select("order_id")
        .join(copy, on="order_id")
        .sample(300, seed=1)
        .select("name", "address", "product")
    )
    res = trace(leak, workspace=ws)
    by = {c.recipient: c for c in res.candidates}
    assert by["r3"].log10_p_tardos < -6, by["r3"].log10_p_tardos
    assert {c.recipient for c in res.accused} == {"r3"}
