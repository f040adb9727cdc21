"""Which identity keys let a canary row count on the digest-collision figure.

Session 20's review: the row test scored a canary matched through a phone-bearing key
(``k_phone_name``, ``k_phone_addr``) as a digest collision (~10^-13 per canary). But the
phone is a pool number anyone who knows the pool can list, and a masked name (李**) is one
surname among a few hundred: a file that walks the pool block with the masked name forms
a copy shows, leaving out its maker's own canaries, matched some of every other partner's
canaries and accused them (zto at 10^-62 below). Only a canary's own order number (its
alias) counts on that figure now; a canary matched through its phone counts through the
number test (hypergeometric over the pool), which a generated list cannot move.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, recompute_log10_p, verify_bundle
from leaktrace.trace.engine import canary_log10_p
from leaktrace.trace.stats import binomial_tail, hypergeom_tail
from leaktrace.workspace import Workspace

POOL_FIRST = 17090000000
SMALL_POOL = 2_000
"""The framing test's pool: listing the default 100,000-number block with each of the 166
name forms of the framer's copy would be 16 million rows; 2,000 numbers are the same
attack (every number its maker does not hold, every form) at 330,000."""

CS = "cs-firm"  # template customer-service: masked names, masked phones, districts


def _release(ws: Workspace, shop: pl.DataFrame, tmp_path: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for r in ("zto", "yto", CS):
        p = tmp_path / f"{r}.parquet"
        release(shop, recipient=r, workspace=ws, out=p)
        out[r] = pl.read_parquet(p)
    return out


def _numbers(ws: Workspace, recipient: str) -> list[str]:
    return sorted(
        t["contact"]
        for t in Ledger(ws).canary_tokens()
        if t["kind"] == "phone" and t["recipient"] == recipient
    )


def test_a_pool_walk_with_guessed_names_framing_other_partners_accuses_nobody(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """(a) yto frames the others: every pool number not in its own copy, each with every
    masked name form its copy shows (most common first), plus a product column. Before,
    zto's canaries matched through phone + masked name accused zto at about 10^-62."""
    workspace.config.canary_pool.phones = [f"{POOL_FIRST}-{POOL_FIRST + SMALL_POOL - 1}"]
    workspace.save()
    copies = _release(workspace, shop, tmp_path)
    yto = copies["yto"]
    forms = yto.get_column("name").drop_nulls().value_counts(sort=True).get_column("name")
    assert forms[0].endswith("*")  # the courier template masks names: 李**, 张**, …
    own = set(yto.get_column("phone").to_list())
    walk = [str(POOL_FIRST + i) for i in range(SMALL_POOL) if str(POOL_FIRST + i) not in own]
    products = yto.get_column("product").to_list()
    leak = pl.DataFrame(
        {
            "phone": [n for n in walk for _ in forms],
            "name": [f for _ in walk for f in forms],
        }
    ).with_columns(
        pl.Series("product", [products[i % len(products)] for i in range(len(walk) * len(forms))])
    )
    # the attack needs at least one of the others' canaries to carry a form yto's copy
    # shows, with its full pool number next to it (cs-firm's phones are masked)
    zto = copies["zto"].filter(pl.col("phone").is_in(_numbers(workspace, "zto")))
    assert zto.filter(pl.col("name").is_in(forms.to_list())).height >= 1

    res = trace(leak, workspace=workspace)
    assert res.accused == [], [(c.recipient, c.log10_p_corrected) for c in res.accused]
    assert res.verdict == "no recipient identified"
    by = {c.recipient: c for c in res.candidates}
    assert by["zto"].canary_rows == 0 and by["zto"].canary_phone_rows >= 1
    # every other partner's numbers are in the walk, with every never-issued one
    for r in ("zto", CS):
        assert by[r].canary_numbers["hits"] == len(_numbers(workspace, r))
        assert by[r].log10_p_canary == 0.0
    assert by["yto"].canaries == 0


def _collision_q(ws: Workspace, recipient: str) -> float:
    """The row test's chance per leaked row for a leak without order numbers: a digest
    collision on one of the 4 identity keys, per canary released to ``recipient``."""
    return sum(e.canaries for e in Ledger(ws).entries(recipient)) * 4 * 2.0**-64


def _name_phone_leak(copy: pl.DataFrame, canaries: list[str], k: int) -> pl.DataFrame:
    ordinary = copy.filter(~pl.col("phone").str.starts_with("1709")).head(96)
    planted = copy.filter(pl.col("phone").is_in(canaries)).head(k)
    assert ordinary.height == 96 and planted.height == k
    return pl.concat([ordinary, planted]).select("name", "phone")


def test_a_name_phone_leak_of_zto_still_accuses_zto_on_the_number_test(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """(b) 96 ordinary rows + 4 canaries of zto's copy, name and phone only: zto is
    accused, now at the number test's figure C(K, 4) / C(K + free, 4) (×2, ×4, ×tests):
    about 10^-12 instead of the collision figure's 10^-65 (default 100,000-number pool)."""
    copies = _release(workspace, shop, tmp_path)
    mine = _numbers(workspace, "zto")
    res = trace(_name_phone_leak(copies["zto"], mine, 4), workspace=workspace)
    assert [c.recipient for c in res.accused] == ["zto"]
    zto = res.accused[0]
    assert zto.canaries == 4 and zto.canary_rows == 0 and zto.canary_phone_rows == 4
    every = [t for t in Ledger(workspace).canary_tokens() if t["kind"] == "phone"]
    issued, free = len(mine), 100_000 - len(every)  # the default pool, nothing reserved
    assert zto.canary_numbers == {"hits": 4, "free_hits": 0, "issued": issued, "free": free}
    number_test = hypergeom_tail(issued + free, issued, 4, 4).log10
    assert zto.log10_p_canary == pytest.approx(number_test + math.log10(2), abs=1e-9)
    assert zto.log10_p_corrected == pytest.approx(
        number_test + math.log10(2 * 4 * res.tests), abs=1e-9
    )
    assert zto.log10_p_corrected < -9
    # what the row test gave before: the digest-collision figure over the rows read
    collision = binomial_tail(res.rows_read, _collision_q(workspace, "zto"), 4).log10
    assert collision < number_test - 40


def test_a_leak_keeping_canary_aliases_keeps_the_collision_figure(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """(c) The same leak with the order numbers as zto received them (its keyed aliases,
    which nobody can list): the canaries count on the row test's figure, as before."""
    copies = _release(workspace, shop, tmp_path)
    mine = _numbers(workspace, "zto")
    copy = copies["zto"]
    ordinary = copy.filter(~pl.col("phone").is_in(mine)).head(96)
    planted = copy.filter(pl.col("phone").is_in(mine)).head(4)
    leak = pl.concat([ordinary, planted]).select("order_id", "name", "phone")
    res = trace(leak, workspace=workspace)
    zto = next(c for c in res.candidates if c.recipient == "zto")
    assert zto in res.accused
    assert zto.canaries == 4 and zto.canary_rows == 4 and zto.canary_phone_rows == 0
    rows = binomial_tail(res.rows_read, zto.canary_q, 4).log10
    numbers = hypergeom_tail(len(mine) + zto.canary_numbers["free"], len(mine), 4, 4).log10
    assert rows < numbers
    assert zto.log10_p_canary == pytest.approx(rows + math.log10(2), abs=1e-9)


def test_bundles_old_and_new_verify_with_the_formula_they_were_made_with(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """(d) A new bundle records the split (``canary_phone_rows``) and verifies. One made
    before it counted phone-matched canaries in ``canary_rows``: the row test's formula
    is unchanged, so its figures still follow from its counts and it verifies as made;
    one made before the number test (neither key) too."""
    copies = _release(workspace, shop, tmp_path)
    mine = _numbers(workspace, "zto")
    res = trace(_name_phone_leak(copies["zto"], mine, 4), workspace=workspace)
    zto = res.accused[0]
    new = build_bundle(workspace, res)
    [cand] = [c for c in new["body"]["candidates"] if c["recipient"] == "zto"]
    assert (cand["canary_rows"], cand["canary_phone_rows"]) == (0, 4)
    assert verify_bundle(new, workspace.keys.public_key())["accused"] == ["zto"]

    def as_before(with_numbers: bool) -> dict[str, Any]:
        # what the code before the split recorded for this leak: the 4 phone-matched
        # canaries on the row test (and, from 8ab556d on, the number test's counts)
        zto.canary_rows, zto.canary_phone_rows = 4, 0
        zto.canary_q = _collision_q(workspace, "zto")
        numbers = zto.canary_numbers if with_numbers else None
        zto.log10_p_canary = canary_log10_p(res.rows_read, zto.canary_q, 4, numbers)
        best = min(zto.log10_p_marks, zto.log10_p_tardos, zto.log10_p_alias, zto.log10_p_canary)
        zto.log10_p = best + math.log10(4)
        zto.log10_p_corrected = zto.log10_p + math.log10(res.tests)
        bundle = build_bundle(workspace, res)
        for c in bundle["body"]["candidates"]:
            del c["canary_phone_rows"]
            if not with_numbers:
                del c["canary_rows"], c["canary_numbers"]
        from leaktrace.ledger.chain import sign
        from leaktrace.trace.bundle import bundle_body_digest

        bundle["signature"] = sign(workspace.keys.signing_key(), bundle_body_digest(bundle))
        return bundle

    for with_numbers in (True, False):
        old = as_before(with_numbers)
        [cand] = [c for c in old["body"]["candidates"] if c["recipient"] == "zto"]
        assert recompute_log10_p(cand, res.rows_read, res.tests) == pytest.approx(
            cand["log10_p_value"]
        )
        assert cand["log10_p_value"] < -60
        assert verify_bundle(old, workspace.keys.public_key())["accused"] == ["zto"]
