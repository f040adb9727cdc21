"""Review (session 24): a canary pool whose entries overlap made the canary numbers a biased
draw, and a plain list of the overlap accused their holders.

A release draws its numbers by walking the pool's *listed* positions, so a block listed
four times (pasted again, or overlapping ranges, which the docs accept) is drawn four
times as often as the rest of its entry. The number test took every entry as one uniform
stratum: a caller dialling the block, or a file listing it (no copy, no customer data),
accused the SMS vendor. The strata are now the sets of entries listing a number
(:class:`leaktrace.trace.pool_entries.PoolStrata`), in ``trace`` and ``attribute`` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from leaktrace.attribution.attribute import attribute
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.trace.pool_entries import PoolStrata
from leaktrace.workspace import Workspace, open_workspace

from .conftest import (
    accused_anywhere,
    call_numbers,
    cleared,
    held_numbers,
    three_partner_workspace,
)

BIG = "17090000000-17090005999"
BLOCK = "17090000000-17090000599"
"""The first tenth of ``BIG``, listed three more times: drawn four times as often."""


def _block(spec: str) -> list[str]:
    lo, _, hi = spec.partition("-")
    return [str(n) for n in range(int(lo), int(hi) + 1)]


@pytest.fixture(scope="module")
def overlap_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    home = Path(tmp_path_factory.mktemp("overlap")) / "ws"
    ws, shop = three_partner_workspace(home, BIG)
    ws.config.canary_pool.phones = [BIG, BLOCK, BLOCK, BLOCK]
    ws.save()
    ws = open_workspace(home)
    for r in ("cs-firm", "sms", "zto"):
        release(shop, recipient=r, workspace=ws)
    return ws


@pytest.fixture
def ws(overlap_ws: Workspace) -> Iterator[Workspace]:
    yield from cleared(overlap_ws)


def test_the_draw_favours_the_block_listed_four_times(ws: Workspace) -> None:
    """The premise: the SMS vendor's 600 numbers hold far more than a tenth in the block
    (a uniform draw over distinct numbers would put about 60 there)."""
    sms = held_numbers(ws)["sms"]
    assert len(sms) == 600
    assert len(sms & set(_block(BLOCK))) > 120


def test_calls_to_every_number_of_the_block_accuse_nobody(ws: Workspace) -> None:
    call_numbers(ws, _block(BLOCK), "block")
    res = attribute(ws)
    assert accused_anywhere(res) == set()
    sms = next(c for c in res.candidates if c.recipient == "sms")
    assert sms.log10_p_family["canaries"] == 0.0
    listed = [s for s in sms.canary_strata if s.get("listed_in")]
    assert [s["listed_in"] for s in listed] == [[0, 1, 2, 3]] and listed[0]["hits"] > 120


def test_a_file_listing_the_block_accuses_nobody(ws: Workspace, tmp_path: Path) -> None:
    leak = tmp_path / "block.csv"
    pl.DataFrame({"手机号": _block(BLOCK)}).write_csv(leak)
    res = trace(leak, workspace=ws)
    assert res.accused == []
    sms = next(c for c in res.candidates if c.recipient == "sms")
    assert sms.log10_p_corrected == 0.0
    strata = sms.canary_number_strata
    assert [s.get("listed_in") for s in strata] == [None, [0, 1, 2, 3]]
    assert strata[1]["hits"] == strata[1]["issued"] and strata[0]["hits"] == 0


def test_the_sms_vendors_own_numbers_still_accuse_it(ws: Workspace, tmp_path: Path) -> None:
    """Its copy's canary numbers, inside the block and out: still the SMS vendor alone."""
    sms = sorted(held_numbers(ws)["sms"])[::5]
    leak = tmp_path / "sms.csv"
    pl.DataFrame({"手机号": sms}).write_csv(leak)
    res = trace(leak, workspace=ws)
    assert [c.recipient for c in res.accused] == ["sms"]
    call_numbers(ws, sms, "sms")
    assert accused_anywhere(attribute(ws)) == {"sms"}


def test_strata_of_overlapping_entries() -> None:
    strata = PoolStrata(["100-199", "150-249", "120", "", "abc", "abc"])
    got = dict(zip(strata.signatures, strata.sizes, strict=True))
    assert got == {(0,): 49, (0, 2): 1, (0, 1): 50, (1,): 50, (4, 5): 1}
    of = strata.of(["99", "100", "120", "150", "199", "200", "249", "250", "abc", "1200", ""])
    sig = [strata.signatures[k] if k >= 0 else None for k in of.tolist()]
    assert sig == [None, (0,), (0, 2), (0, 1), (0, 1), (1,), (1,), None, (4, 5), None, None]
