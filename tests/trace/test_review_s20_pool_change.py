"""The canary-number test after the pool changed, and for numbers that are no uniform draw.

Session 20's review: the number test counted R's numbers against today's whole
``[canary_pool]``. After a second block was added (as a release short of numbers tells
users to do), a file walking the OLD block, no customer data at all, accused sms at
10^-59 and zto at 10^-12: R's numbers were drawn from the old block only, and the walk
holds all of them next to only the old block's free numbers. Likewise a recipient whose
``where`` names the phone keeps only canaries whose number passes it: a walk of that
sub-block accused it. The test now runs per pool entry and leaves such numbers out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from leaktrace.errors import EvidenceError
from leaktrace.ledger import Ledger
from leaktrace.ledger.chain import sign
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.trace.bundle import (
    build_bundle,
    bundle_body_digest,
    recompute_log10_p,
    verify_bundle,
)
from leaktrace.trace.stats import hypergeom_tail
from leaktrace.workspace import Workspace, add_recipient

FIRST = 17090000000
OLD = f"{FIRST}-{FIRST + 1999}"  # the pool the releases drew from: 2,000 numbers
NEW = "17091000000-17091099999"  # the block added afterwards, as a new entry


def _block(lo: int, n: int) -> list[str]:
    return [str(lo + i) for i in range(n)]


def _numbers(ws: Workspace, recipient: str) -> list[str]:
    return sorted(
        t["contact"]
        for t in Ledger(ws).canary_tokens()
        if t["kind"] == "phone" and t["recipient"] == recipient
    )


def _release(ws: Workspace, shop: pl.DataFrame, tmp_path: Path, *names: str) -> dict[str, Any]:
    out = {}
    for r in names:
        p = tmp_path / f"{r}.parquet"
        release(shop, recipient=r, workspace=ws, out=p)
        out[r] = pl.read_parquet(p)
    return out


@pytest.fixture
def grown(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> dict[str, Any]:
    """Releases to zto and sms from a 2,000-number pool, then a second block added."""
    workspace.config.canary_pool.phones = [OLD]
    copies = _release(workspace, shop, tmp_path, "zto", "sms")
    assert len(_numbers(workspace, "sms")) >= 20 and _numbers(workspace, "zto")
    walk = pl.DataFrame({"phone": _block(FIRST, 2000)})
    before = trace(walk, workspace=workspace)
    assert before.accused == []  # the old pool's own walk: its free numbers clear everyone
    workspace.config.canary_pool.phones = [OLD, NEW]
    return copies


def test_a_walk_of_the_old_block_accuses_nobody_after_the_pool_grew(
    workspace: Workspace, grown: dict[str, Any]
) -> None:
    """(a) The reviewer's reproduction, smaller. Before the fix: sms accused at about
    10^-50 (its ~30 numbers, all in the walk, against 2,000 + 100,000 'free' ones)."""
    res = trace(pl.DataFrame({"phone": _block(FIRST, 2000)}), workspace=workspace)
    assert res.accused == [], [(c.recipient, c.log10_p_corrected) for c in res.accused]
    sms = next(c for c in res.candidates if c.recipient == "sms")
    mine = _numbers(workspace, "sms")
    assert sms.canary_numbers["hits"] == len(mine)
    # one stratum, the old block: every free number of it is in the walk too
    [s] = sms.canary_number_strata
    assert s["entry"] == 0 and s["hits"] == s["issued"] == len(mine)
    assert s["free_hits"] == s["free"] == 2000 - len(Ledger(workspace).canary_tokens())
    assert sms.log10_p_canary == 0.0


def test_a_real_leak_of_sms_still_accuses_sms_after_the_pool_grew(
    workspace: Workspace, grown: dict[str, Any]
) -> None:
    """(c) 96 ordinary rows + 6 canaries of sms's copy, name and phone only: sms is
    accused, at the old block's figure C(K, 6) / C(K + F, 6) (K = 30 numbers, F the
    block's free ones): canary family 10^-10.9, 10^-10.0 after ×4 and ×2 candidates, as
    before the pool grew. Before the fix, the grown pool's 100,000 added numbers counted
    as free gave 10^-21.1 (10^-20.2): the same accusation, on a figure ten orders too
    strong."""
    copy = grown["sms"]
    mine = _numbers(workspace, "sms")
    ordinary = copy.filter(~pl.col("phone").str.starts_with("1709")).head(96)
    planted = copy.filter(pl.col("phone").is_in(mine)).head(6)
    leak = pl.concat([ordinary, planted]).select("name", "phone")
    res = trace(leak, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["sms"]
    sms = res.accused[0]
    issued = len(mine)
    free = 2000 - len(Ledger(workspace).canary_tokens())
    assert sms.canary_number_strata == [
        {"entry": 0, "hits": 6, "free_hits": 0, "issued": issued, "free": free}
    ]
    exact = math.log10(math.comb(issued, 6) / math.comb(issued + free, 6))
    assert hypergeom_tail(issued + free, issued, 6, 6).log10 == pytest.approx(exact)
    assert sms.log10_p_canary == pytest.approx(exact + math.log10(2), abs=1e-9)
    assert sms.log10_p_corrected == pytest.approx(exact + math.log10(2 * 4 * res.tests), abs=1e-9)
    bundle = build_bundle(workspace, res)
    assert verify_bundle(bundle, workspace.keys.public_key())["accused"] == ["sms"]


def test_a_number_outside_todays_pool_gives_no_number_test(
    workspace: Workspace, grown: dict[str, Any]
) -> None:
    """A pool edited since (the old block replaced): sms's numbers are in no entry, its
    number test gives p = 1, and a warning says why."""
    workspace.config.canary_pool.phones = [NEW]
    mine = _numbers(workspace, "sms")
    res = trace(pl.DataFrame({"phone": mine}), workspace=workspace)
    assert res.accused == []
    sms = next(c for c in res.candidates if c.recipient == "sms")
    assert sms.canary_number_strata == [] and sms.log10_p_canary == 0.0
    assert any("sms" in w and "[canary_pool]" in w for w in res.warnings)


@pytest.fixture
def by_phone(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> dict[str, Any]:
    """A recipient whose where filter names the phone: its canaries keep only numbers
    below 17090000500, a quarter of a 2,000-number pool."""
    workspace.config.canary_pool.phones = [OLD]
    add_recipient(
        workspace,
        "phoneco",
        template="sms-vendor",
        where="phone NOT LIKE '1709%' OR phone < '17090000500'",
    )
    policy = workspace.config.recipients["phoneco"].policy
    workspace.config.policies[policy].canary_rate = 0.05
    return _release(workspace, shop, tmp_path, "phoneco", "zto")


def test_a_walk_of_a_phone_filters_sub_block_does_not_accuse_its_recipient(
    workspace: Workspace, by_phone: dict[str, Any]
) -> None:
    """(b) Before the fix: phoneco accused (its ~35 numbers all in the walk of 500)."""
    mine = _numbers(workspace, "phoneco")
    assert len(mine) >= 20 and all(int(p) < FIRST + 500 for p in mine)
    res = trace(pl.DataFrame({"phone": _block(FIRST, 500)}), workspace=workspace)
    assert res.accused == [], [(c.recipient, c.log10_p_corrected) for c in res.accused]
    co = next(c for c in res.candidates if c.recipient == "phoneco")
    assert co.canary_numbers["hits"] == 0 and co.log10_p_canary == 0.0
    assert any(w.startswith("phoneco:") and "where" in w for w in res.warnings)


def test_a_phone_filters_numbers_are_out_of_the_others_population(
    workspace: Workspace, by_phone: dict[str, Any]
) -> None:
    """Left out means neither the recipient's nor free: zto's test counts without them."""
    zto = _numbers(workspace, "zto")
    res = trace(pl.DataFrame({"phone": zto}), workspace=workspace)
    c = next(c for c in res.candidates if c.recipient == "zto")
    every = len(Ledger(workspace).canary_tokens())
    assert c.canary_number_strata == [
        {"entry": 0, "hits": len(zto), "free_hits": 0, "issued": len(zto), "free": 2000 - every}
    ]


def _resigned(ws: Workspace, bundle: dict[str, Any], edit: Any) -> dict[str, Any]:
    """The bundle with sms's record edited and its figure made to follow from the edited
    counts (as a faulty or hostile writer would), signed again."""
    body = bundle["body"]
    [c] = [c for c in body["candidates"] if c["recipient"] == "sms"]
    edit(c)
    c["log10_p_value"] = max(-1e308, recompute_log10_p(c, body["rows"]["read"], body["tests"]))
    if c["log10_p_value"] > math.log10(body["alpha"]):  # the accusation follows the figure
        body["accused"] = []
        body["accused_candidates"] = []
        body["verdict"] = "no recipient identified"
    bundle["signature"] = sign(ws.keys.signing_key(), bundle_body_digest(bundle))
    return bundle


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda c: c["canary_numbers"].update(hits=-1), id="negative-hits"),
        pytest.param(
            lambda c: (
                [s.update(issued=2) for s in c.get("canary_number_strata", [])]
                or c["canary_numbers"].update(issued=2)
            ),
            id="hits-over-issued",
        ),
        pytest.param(
            lambda c: c["canary_numbers"].update(free_hits=c["canary_numbers"]["free"] + 1),
            id="free-hits-over-free",
        ),
        pytest.param(
            lambda c: (
                [s.update(free=-5) for s in c.get("canary_number_strata", [])]
                or c["canary_numbers"].update(free=-5)
            ),
            id="negative-free",
        ),
        pytest.param(lambda c: c["canary_numbers"].update(issued=2.5), id="not-an-integer"),
    ],
)
def test_a_bundle_with_impossible_canary_number_counts_does_not_verify(
    workspace: Workspace, grown: dict[str, Any], edit: Any
) -> None:
    """(d) The verifier recomputes the number test from these counts: impossible ones are
    refused, also when the p-value was made to follow from them and the bundle re-signed
    (before: verified)."""
    mine = _numbers(workspace, "sms")
    res = trace(pl.DataFrame({"phone": mine[:6]}), workspace=workspace)
    assert [c.recipient for c in res.accused] == ["sms"]
    bundle = build_bundle(workspace, res)
    assert verify_bundle(bundle, workspace.keys.public_key())["accused"] == ["sms"]
    # an old bundle's shape (no strata) is checked the same way
    for strip in (False, True):
        b = build_bundle(workspace, res)
        if strip:
            for c in b["body"]["candidates"]:
                c.pop("canary_number_strata", None)
        try:
            bad = _resigned(workspace, b, edit)
        except (ValueError, TypeError):
            bad = b  # the edited counts break the formula itself: still must not verify
            bad["signature"] = sign(workspace.keys.signing_key(), bundle_body_digest(bad))
        with pytest.raises(EvidenceError, match="canary_number"):
            verify_bundle(bad, workspace.keys.public_key())


def test_a_bundle_whose_strata_do_not_add_up_does_not_verify(
    workspace: Workspace, grown: dict[str, Any]
) -> None:
    mine = _numbers(workspace, "sms")
    res = trace(pl.DataFrame({"phone": mine[:6]}), workspace=workspace)
    bundle = build_bundle(workspace, res)
    bad = _resigned(workspace, bundle, lambda c: c["canary_numbers"].update(hits=3))
    with pytest.raises(EvidenceError, match="do not add up"):
        verify_bundle(bad, workspace.keys.public_key())
