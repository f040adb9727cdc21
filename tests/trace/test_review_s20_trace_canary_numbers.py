"""A leak of phone numbers alone (a scam list, 号码包) holding a courier's canary numbers.

Session 20's walk (REPORT H3): four of zto's canary numbers in a 100-number list gave "no
recipient identified", because rows were matched to canaries only through paired identity
keys. A canary's own pool number is evidence on its own; its chance comes from how the
numbers were issued, not from a digest collision, because a list of numbers can be
generated (and a generated list holds every recipient's canaries).
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
from leaktrace.trace.stats import hypergeom_tail
from leaktrace.workspace import Workspace

POOL_FIRST, POOL_SIZE = 17090000000, 100_000  # the workspace's default canary pool


@pytest.fixture
def copies(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for r in ("zto", "yto"):
        p = tmp_path / f"{r}.parquet"
        release(shop, recipient=r, workspace=workspace, out=p)
        out[r] = pl.read_parquet(p)
    return out


def _tokens(ws: Workspace) -> list[dict[str, str]]:
    return [t for t in Ledger(ws).canary_tokens() if t["kind"] == "phone"]


def _numbers_of(ws: Workspace, recipient: str) -> list[str]:
    return sorted(t["contact"] for t in _tokens(ws) if t["recipient"] == recipient)


def _phone_list(
    copies: dict[str, pl.DataFrame], canaries: list[str], real: int = 96
) -> pl.DataFrame:
    pool = {str(POOL_FIRST + i) for i in range(POOL_SIZE)}
    zto = copies["zto"].get_column("phone").to_list()
    customers = [p for p in zto if p not in pool][:real]
    assert len(customers) == real
    return pl.DataFrame({"phone": customers + canaries})


def test_phone_only_leak_with_canary_numbers_accuses_at_the_documented_bound(
    workspace: Workspace, copies: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    mine = _numbers_of(workspace, "zto")
    assert len(mine) >= 4
    res = trace(_phone_list(copies, mine[:4]), workspace=workspace)
    assert [c.recipient for c in res.accused] == ["zto"]
    zto = res.accused[0]
    assert zto.canaries == 4 and zto.canary_rows == 0
    # the bound of docs/trace.md, from the ledger alone: zto's numbers are a uniform draw
    # among its own and the never-issued ones; 4 of 4 leaked pool numbers are its own
    issued, free = len(mine), POOL_SIZE - len(_tokens(workspace))
    assert zto.canary_numbers == {"hits": 4, "free_hits": 0, "issued": issued, "free": free}
    exact = math.log10(math.comb(issued, 4) / math.comb(issued + free, 4))
    assert zto.log10_p_canary == pytest.approx(exact + math.log10(2), abs=1e-9)
    assert zto.log10_p_corrected == pytest.approx(
        exact + math.log10(2) + math.log10(4) + math.log10(res.tests), abs=1e-9
    )
    assert res.rows_informative == 4
    # the evidence bundle recomputes it from its counts
    bundle = build_bundle(workspace, res)
    [cand] = [c for c in bundle["body"]["candidates"] if c["recipient"] == "zto"]
    assert recompute_log10_p(cand, res.rows_read, res.tests) == pytest.approx(zto.log10_p_corrected)
    assert verify_bundle(bundle, workspace.keys.public_key())["accused"] == ["zto"]


def test_real_customers_phones_alone_accuse_nobody(
    workspace: Workspace, copies: dict[str, pl.DataFrame]
) -> None:
    """A customer's phone is in every copy that holds the customer: alone it names nobody."""
    res = trace(_phone_list(copies, [], real=200), workspace=workspace)
    assert res.accused == []
    assert all(c.canaries == 0 and c.log10_p_corrected == 0.0 for c in res.candidates)


def test_pool_numbers_never_issued_count_for_nobody(
    workspace: Workspace, copies: dict[str, pl.DataFrame]
) -> None:
    issued = {t["contact"] for t in _tokens(workspace)}
    free = [str(POOL_FIRST + i) for i in range(200) if str(POOL_FIRST + i) not in issued][:50]
    res = trace(_phone_list(copies, free), workspace=workspace)
    assert res.accused == []
    assert all(c.canaries == 0 and c.canary_numbers["hits"] == 0 for c in res.candidates)


def test_a_generated_block_of_pool_numbers_accuses_nobody(
    workspace: Workspace, copies: dict[str, pl.DataFrame]
) -> None:
    """A list made by walking the pool's number block holds every recipient's canaries:
    the never-issued numbers it holds too are what clears them (with a digest-collision
    chance, each would be accused at about 10^-13 per number)."""
    block = [str(POOL_FIRST + i) for i in range(POOL_SIZE)]
    res = trace(pl.DataFrame({"phone": block}), workspace=workspace)
    assert res.accused == []
    zto = next(c for c in res.candidates if c.recipient == "zto")
    assert zto.canaries == len(_numbers_of(workspace, "zto"))
    assert zto.canary_numbers["free_hits"] == POOL_SIZE - len(_tokens(workspace))
    assert zto.log10_p_canary == 0.0


def test_a_number_held_by_several_releases_counts_for_nobody(
    workspace: Workspace, copies: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older ledgers could issue one pool number to two releases: it names neither."""
    mine = _numbers_of(workspace, "zto")[:5]
    yto_release = next(t["release_id"] for t in _tokens(workspace) if t["recipient"] == "yto")
    real_tokens = Ledger.canary_tokens

    def tokens(self: Ledger) -> list[dict[str, str]]:
        out = real_tokens(self)
        again = [
            {**t, "release_id": yto_release, "recipient": "yto"}
            for t in out
            if t["contact"] in mine
        ]
        return out + again

    monkeypatch.setattr(Ledger, "canary_tokens", tokens)
    res = trace(_phone_list(copies, mine), workspace=workspace)
    assert res.accused == []
    assert all(c.canary_numbers["hits"] == 0 for c in res.candidates)


def test_a_canary_number_that_is_also_a_customers_phone_counts_for_nobody(
    workspace: Workspace, copies: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool typed wrong can hold a real customer's phone: any copy holding that customer
    carries the number, so it names nobody (as a canary hit on it does in attribution)."""
    import leaktrace.attribution.hits as hits

    mine = _numbers_of(workspace, "zto")[:5]
    asked: list[Any] = []

    def customers(ws: Workspace, contacts: list[str]) -> set[str]:
        asked.append(sorted(contacts))
        return set(contacts)

    monkeypatch.setattr(hits, "customers_among", customers)
    res = trace(_phone_list(copies, mine), workspace=workspace)
    assert asked == [sorted(mine)]
    assert res.accused == []
    assert all(c.canary_numbers["hits"] == 0 for c in res.candidates)


def test_hypergeometric_tail_is_exact_and_its_fallback_a_bound() -> None:
    """The number test's tail: exact where scipy's logsf is finite; where it underflows,
    the union bound, never below the exact value (computed here from log-binomials)."""

    def exact(population: int, successes: int, draws: int, k: int) -> float:
        def lc(n: int, j: int) -> float:
            return math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)

        # all draws are successes: C(K, k) / C(N, k)
        return (lc(successes, k) - lc(population, k)) / math.log(10)

    assert hypergeom_tail(100_000, 46, 4, 4).log10 == pytest.approx(exact(100_000, 46, 4, 4))
    deep = hypergeom_tail(10**6, 5000, 3000, 3000)
    assert deep.log10 == pytest.approx(exact(10**6, 5000, 3000, 3000), rel=1e-9)
    assert hypergeom_tail(100, 10, 5, 0).log10 == 0.0
    assert hypergeom_tail(100, 3, 5, 4).log10 == -math.inf
