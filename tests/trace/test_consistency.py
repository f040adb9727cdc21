"""The contradiction check: exact or conservative lower tails, and when a family is flagged."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.trace import consistency
from leaktrace.trace.consistency import SURVIVAL, contradictions, describe, lower_tail_log10


def _brute(classes: list[tuple[int, float]], k: int) -> float:
    """P(Σ Binomial(n_j, q_j) ≤ k) by enumerating the joint pmf (tiny cases only)."""
    pmf = np.ones(1)
    for n, q in classes:
        pmf = np.convolve(pmf, [math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(n + 1)])
    return float(pmf[: k + 1].sum())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 12), st.floats(0.05, 0.95)),
        min_size=1,
        max_size=3,
    ),
    st.integers(0, 30),
)
def test_exact_tail_equals_enumeration(classes: list[tuple[int, float]], k: int) -> None:
    got = lower_tail_log10(classes, k)
    want = min(1.0, _brute(classes, k))
    assert math.isclose(10**got, want, rel_tol=1e-9, abs_tol=1e-300)


def _exact_lower_tail_log10(n: int, q: float, k: int) -> float:
    """log10 P(Binomial(n, q) <= k), summed over fractions (q as the float it is)."""
    p = Fraction(q)
    tail = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
    return math.log10(tail.numerator) - math.log10(tail.denominator)


@settings(max_examples=40, deadline=None)
@given(st.integers(50, 400), st.floats(0.2, 0.9), st.floats(0.05, 1.0))
def test_chernoff_path_never_below_the_exact_tail(n: int, q: float, share: float) -> None:
    """Forcing the bound (no exact work allowed) can only give a larger tail than the true
    one: the flag can only become rarer, never raised on counts that do not warrant it.

    Both are held to the tail summed in exact rational arithmetic, not to each other: the
    exact path floors its tail at 1e-300, and below that a valid bound may well be smaller
    than the floor (a clean clone's run drew such a case). Not to scipy's log-CDF either:
    at n = 374, q = 0.875, k = 20 it gives 10^-288.0088 where the exact tail (and the exact
    path) is 10^-288.0034, further off than the 1e-3 allowed (session 21's CI drew it).
    Deep tails are summed in floating point, so the exact path is held to 1e-3 in log10."""
    k = int(share * n * q)
    true = _exact_lower_tail_log10(n, q, k)
    exact = lower_tail_log10([(n, q)], k)
    old = consistency._EXACT_MAX_WORK
    consistency._EXACT_MAX_WORK = 0
    try:
        bound = lower_tail_log10([(n, q)], k)
    finally:
        consistency._EXACT_MAX_WORK = old
    assert bound >= true - 1e-9
    assert exact == pytest.approx(max(true, -300.0), abs=1e-3)


def _cand(
    classes: list[tuple[int, float, int]],
    *,
    alias_a: list[float] | None = None,
    tardos: list[tuple[int, int, int]] | None = None,
    tardos_score: float = 0.0,
) -> dict[str, Any]:
    """A candidate record as ``CandidateResult.as_dict`` gives it. The stated family
    p-values are set to "no evidence" on purpose: the check must work from the counts."""
    return {
        "classes": [{"observed": n, "p": p, "weight": 1, "matched": k} for n, p, k in classes],
        "log10_p_by_family": {"marks": 0.0, "tardos": 0.0, "aliases": 0.0, "canaries": -30},
        "alias_counts": {"independent": alias_a or [], "by_digits": []},
        "tardos_hist": tardos or [],
        "tardos_score": tardos_score,
    }


def test_marks_at_chance_contradict_an_accusation() -> None:
    found = contradictions(_cand([(400, 0.5, 205)]), accused=True)
    assert [f["family"] for f in found] == ["marks"]
    f = found[0]
    assert (f["observed"], f["matched"], f["expected_by_chance"]) == (400, 205, 200.0)
    assert f["expected_half_intact"] == pytest.approx(400 * (0.5 + 0.5 * SURVIVAL))
    assert f["log10_p_half_intact"] < -3
    assert "planted" in describe("zto", f)


def test_no_flag_without_an_accusation_too_few_positions_or_enough_matches() -> None:
    assert contradictions(_cand([(400, 0.5, 205)]), accused=False) == []
    assert contradictions(_cand([(19, 0.5, 0)]), accused=True) == []
    # a heavily damaged copy (60 % matches where a half-intact one gives 75 %) is
    # inconsistent with half-intact, but its own marks are significant: not checked
    assert contradictions(_cand([(4000, 0.5, 2400)]), accused=True) == []
    assert contradictions(_cand([(400, 0.5, 290)]), accused=True) == []


def test_tardos_family_significant_means_marks_are_not_contradicting() -> None:
    # 400 binary positions at bias 1/2, every one matching: the Tardos score is 400
    tardos = [(32768, 1, 400)]
    assert contradictions(_cand([(400, 0.5, 205)], tardos=tardos, tardos_score=400.0), True) == []
    assert contradictions(_cand([(400, 0.5, 205)], tardos=tardos, tardos_score=3.0), True)


def test_aliases_that_do_not_match_contradict() -> None:
    found = contradictions(_cand([], alias_a=[40, 1e-18, 0]), accused=True)
    assert [f["family"] for f in found] == ["aliases"]
    # 25 of 40 rows carry the alias: the family accuses by itself, so it is not checked
    assert contradictions(_cand([], alias_a=[40, 1e-18, 25]), accused=True) == []
    # the non-canary rows decide: two planted canary rows carry their own aliases
    planted = _cand([], alias_a=[42, 1e-18, 2])
    planted["alias_counts"]["independent_real"] = [40, 1e-18, 0]
    assert [f["family"] for f in contradictions(planted, accused=True)] == ["aliases"]
    assert contradictions(_cand([], alias_a=[42, 1e-18, 2]), accused=True) == []


def test_malformed_counts_raise_for_the_verifier_to_report() -> None:
    with pytest.raises(ValueError):
        lower_tail_log10([(7000, float("nan"))], 10)
    assert lower_tail_log10([(10, 1.0)], 9) == -math.inf or lower_tail_log10([(10, 1.0)], 9) < -250
    old = consistency._EXACT_MAX_WORK
    consistency._EXACT_MAX_WORK = 0
    try:  # the bound's q = 1 and q = 0 terms (log of 0 before)
        assert lower_tail_log10([(7000, 1.0), (10, 0.0)], 6000) < -100
    finally:
        consistency._EXACT_MAX_WORK = old
