"""Review (session 20): can a recipient frame another through the canary pool?

``attribute`` scored R's canary hits as Binomial(pool hits, K_R/|pool|). A recipient B
that knows the pool's range and its own canary numbers (they are in its copy) calls every
pool number but its own: each other recipient R then has all K_R of its numbers hit among
|pool| − K_B calls, against K_R (|pool| − K_B)/|pool| expected, and is accused. Now the
figure conditions on the hit numbers that are R's or never issued: given the other
releases' numbers R's are a uniformly random subset of R's ∪ free, so R's count among
those is hypergeometric whatever the callers did (as ``trace`` scores canary numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from leaktrace.attribution.attribute import attribute
from leaktrace.release import release
from leaktrace.workspace import Workspace

from .conftest import accused_anywhere, call_numbers, clear, held_numbers, three_partner_workspace

BLOCK = "17090000000-17090001999"


@pytest.fixture(scope="module")
def pool_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A 2,000-number pool; the SMS vendor (two releases) holds 1,200 of its numbers,
    customer service 300, the courier about 200."""
    home = Path(tmp_path_factory.mktemp("framing")) / "ws"
    ws, shop = three_partner_workspace(home, BLOCK)
    for r in ("cs-firm", "sms", "sms", "zto"):
        release(shop, recipient=r, workspace=ws)
    return ws


@pytest.fixture
def ws(pool_ws: Workspace) -> Iterator[Workspace]:
    clear(pool_ws)
    yield pool_ws
    clear(pool_ws)


def _numbers(ws: Workspace) -> tuple[list[str], dict[str, set[str]]]:
    pool = sorted(set(ws.config.canary_pool.phone_numbers()))
    return pool, held_numbers(ws)


def test_calling_every_pool_number_but_the_framers_accuses_nobody(ws: Workspace) -> None:
    """The SMS vendor (60 % of the pool) calls the 800 numbers it does not hold. Before:
    customer service had all 300 of its numbers among 800 hits, 120 expected
    (Binomial(800, 0.15)), and was accused at about 1e-80; the courier too."""
    pool, held = _numbers(ws)
    assert len(pool) == 2000 and len(held["sms"]) == 1200 and len(held["cs-firm"]) == 300
    assert len(held["zto"]) >= 100 and len(set().union(*held.values())) == sum(
        map(len, held.values())
    )
    call_numbers(ws, [n for n in pool if n not in held["sms"]], "framing")
    res = attribute(ws)
    assert accused_anywhere(res) == set()
    by = {c.recipient: c for c in res.candidates}
    for r in ("cs-firm", "zto"):
        c = by[r]
        assert c.canary_hits == len(held[r]) and c.canary_pool_hits == 800
        # every number R could hold was called: the hits say nothing about R
        assert c.canary_draws == c.canary_issued + c.canary_free
        assert c.log10_p_family["canaries"] == 0.0
    assert by["sms"].canary_hits == 0


def test_a_wave_from_customer_services_copy_still_accuses_it(ws: Workspace) -> None:
    """Callers working from customer service's copy reach 60 of its 300 canary numbers,
    and 20 random pool numbers besides (other lines, other lists): customer service is
    accused, and nobody else. (This pool is 83 % issued, so a hit on R's numbers is weak
    evidence: 45 % of the numbers R's could be are R's; 15 of R's among 30 random cost
    nothing to a framer and accuse nobody now.)"""
    pool, held = _numbers(ws)
    rng = np.random.default_rng(3)
    own = sorted(held["cs-firm"])
    picked = [own[i] for i in rng.choice(len(own), 60, replace=False)]
    others = [n for n in pool if n not in held["cs-firm"]]
    picked += [others[i] for i in rng.choice(len(others), 20, replace=False)]
    call_numbers(ws, picked, "wave")
    res = attribute(ws)
    assert accused_anywhere(res) == {"cs-firm"}
    cs = next(c for c in res.candidates if c.recipient == "cs-firm")
    assert cs.canary_hits == 60 and cs.log10_p_family["canaries"] < -9
    d = res.as_dict()["accused"][0]["evidence"]["canaries"]
    assert d["hits"] == 60 and d["issued"] == 300 and d["hits_own_or_free"] == cs.canary_draws
