"""Review (session 20): does a pool that grew after a release frame its recipient?

``attribute`` scored R's canary hits against today's ``[canary_pool]``: K = R's numbers,
F = the pool's never-issued ones. That is exact only if R's numbers were drawn from the
same pool. When a second block is added later (what a release short of numbers tells
users to do), a caller dialling every number of the OLD block hits all of R's numbers
but only the old block's share of F, and R was accused. ``trace`` stratifies its number
test by pool entry (commit f8b58ab); ``attribute`` now does the same: one exact tail per
entry holding any of R's numbers, Bonferroni over those entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from leaktrace.attribution.attribute import attribute
from leaktrace.release import release
from leaktrace.workspace import Workspace, open_workspace

from .conftest import accused_anywhere, call_numbers, clear, held_numbers, three_partner_workspace

OLD = "17090000000-17090001999"
NEW = "17190000000-17190001999"


@pytest.fixture(scope="module")
def grown_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Releases to customer service, the SMS vendor and the courier from a 2,000-number
    pool of one entry; then a second 2,000-number block is added as a new entry (saved,
    the workspace opened again), and the courier gets one more release, drawn from both."""
    home = Path(tmp_path_factory.mktemp("growth")) / "ws"
    ws, shop = three_partner_workspace(home, OLD)
    for r in ("cs-firm", "sms", "zto"):
        release(shop, recipient=r, workspace=ws)
    ws.config.canary_pool.phones.append(NEW)
    ws.save()
    ws = open_workspace(home)
    assert list(ws.config.canary_pool.phones) == [OLD, NEW]
    release(shop, recipient="zto", workspace=ws)
    return ws


@pytest.fixture
def ws(grown_ws: Workspace) -> Iterator[Workspace]:
    clear(grown_ws)
    yield grown_ws
    clear(grown_ws)


def _block(spec: str) -> list[str]:
    lo, _, hi = spec.partition("-")
    return [str(n) for n in range(int(lo), int(hi) + 1)]


def test_walking_the_old_block_after_the_pool_grew_accuses_nobody(ws: Workspace) -> None:
    """Every number of the old block is called. Each recipient's numbers of that block
    are all hit, with the old block's free numbers: within the block they are a uniform
    draw, p = 1. Before (one tail over the grown pool) customer service and the SMS
    vendor were accused: F counted the new block's 2,000 numbers, none of them called."""
    old, new = set(_block(OLD)), set(_block(NEW))
    held = held_numbers(ws)
    assert len(held["cs-firm"]) == 300 and len(held["sms"]) == 600
    assert held["cs-firm"] <= old and held["sms"] <= old
    assert held["zto"] & old and held["zto"] & new  # the courier's two releases
    call_numbers(ws, _block(OLD), "walk")
    res = attribute(ws)
    assert accused_anywhere(res) == set()
    by = {c.recipient: c for c in res.candidates}
    for r in ("cs-firm", "sms", "zto"):
        c = by[r]
        assert c.canary_hits == len(held[r] & old)
        assert c.log10_p_family["canaries"] == 0.0
    # one stratum each for the single-release recipients, two for the courier
    assert [s["entry"] for s in by["cs-firm"].canary_strata] == [0]
    s0 = by["cs-firm"].canary_strata[0]
    assert s0["hits"] == s0["issued"] == 300 and s0["hits"] + s0["free_hits"] == (
        s0["issued"] + s0["free"]
    )
    zto = by["zto"].canary_strata
    assert [s["entry"] for s in zto] == [0, 1] and zto[1]["hits"] == 0
    assert zto[1]["issued"] == len(held["zto"] & new)
    canaries = res.as_dict()["candidates"][0]["evidence"]["canaries"]
    assert canaries["numbers_outside_pool"] == 0 and canaries["phone_strata"]


def test_a_wave_on_customer_services_numbers_still_accuses_it(ws: Workspace) -> None:
    """Callers working from customer service's copy reach 60 of its 300 numbers, and 20
    random numbers of the grown pool besides: customer service is accused, nobody else."""
    held = held_numbers(ws)
    rng = np.random.default_rng(3)
    own = sorted(held["cs-firm"])
    picked = [own[i] for i in rng.choice(len(own), 60, replace=False)]
    others = [n for n in _block(OLD) + _block(NEW) if n not in held["cs-firm"]]
    picked += [others[i] for i in rng.choice(len(others), 20, replace=False)]
    call_numbers(ws, picked, "wave")
    res = attribute(ws)
    assert accused_anywhere(res) == {"cs-firm"}
    cs = next(c for c in res.candidates if c.recipient == "cs-firm")
    assert cs.canary_hits == 60 and cs.log10_p_family["canaries"] < -9
    assert [s["entry"] for s in cs.canary_strata] == [0]


def test_a_number_outside_todays_pool_is_not_tested(ws: Workspace) -> None:
    """The pool shrank (the new block dropped from the config): the courier holds numbers
    in no entry, so its number hits are not tested; the others keep theirs."""
    held = held_numbers(ws)
    phones = ws.config.canary_pool.phones
    ws.config.canary_pool.phones = [OLD]
    try:
        call_numbers(ws, sorted(held["zto"] & set(_block(OLD))), "zto")
        res = attribute(ws)
    finally:
        ws.config.canary_pool.phones = phones
    zto = next(c for c in res.candidates if c.recipient == "zto")
    assert zto.canary_hits > 0 and zto.canary_outside == len(held["zto"] - set(_block(OLD)))
    assert zto.canary_strata == [] and zto.log10_p_family["canaries"] == 0.0
