"""The tracer's statistics are exact or conservative — checked against brute force and
against simulation under the null."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from leaktrace.trace.stats import binomial_tail, bonferroni, weighted_tail


def brute_force(classes: list[tuple[int, float, int]], s: int) -> float:
    total = 0.0
    ranges = [range(n + 1) for n, _, _ in classes]
    for ks in itertools.product(*ranges):
        if sum(k * w for k, (_, _, w) in zip(ks, classes, strict=True)) >= s:
            total += math.prod(
                stats.binom.pmf(k, n, p) for k, (n, p, _) in zip(ks, classes, strict=True)
            )
    return total


@settings(max_examples=60, deadline=None)
@given(
    n1=st.integers(0, 12),
    n2=st.integers(0, 6),
    s=st.integers(0, 40),
)
def test_weighted_tail_equals_brute_force(n1: int, n2: int, s: int) -> None:
    classes = [(n1, 0.5, 1), (n2, 1093 / 65536, 6)]
    got = weighted_tail(classes, s)
    want = brute_force(classes, s) if (n1 or n2) else (1.0 if s <= 0 else 0.0)
    if want == 0.0:
        assert got.value == 0.0
    else:
        assert got.value == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_chernoff_is_an_upper_bound_where_exact_is_available() -> None:
    from leaktrace.trace.stats import _chernoff_log

    classes = [(300, 0.5, 1), (60, 1093 / 65536, 6)]
    for s in (160, 200, 260, 320):
        exact = weighted_tail(classes, s).log10
        bound = _chernoff_log(classes, s) / math.log(10)
        assert bound >= exact - 1e-9


def test_binomial_tail_matches_scipy_and_bounds_underflow() -> None:
    assert binomial_tail(20, 0.5, 15).value == pytest.approx(stats.binom.sf(14, 20, 0.5))
    t = binomial_tail(10_000, 1e-20, 9_000)
    assert t.log10 < -100000


def test_null_calibration_by_simulation() -> None:
    """Innocent candidates: uniform symbols vs arbitrary evidence. The test must reject at
    level a no more often than a (it is conservative)."""
    rng = np.random.default_rng(3)
    trials = 4000
    rejected = {0.05: 0, 0.01: 0}
    for _ in range(trials):
        nb, ns = 24, 4
        bits_hit = int((rng.integers(0, 2, nb) == 0).sum())
        secs_hit = int((rng.integers(0, 60, ns) == 7).sum())
        p = weighted_tail([(nb, 0.5, 1), (ns, 1093 / 65536, 6)], bits_hit + 6 * secs_hit).value
        for a in rejected:
            rejected[a] += p <= a
    for a, r in rejected.items():
        # binomial 99.9% upper limit around a*trials
        assert r <= a * trials + 3.1 * math.sqrt(a * (1 - a) * trials), (a, r)


def test_bonferroni() -> None:
    assert bonferroni(-12.0, 1000) == pytest.approx(-9.0)
    assert bonferroni(-1.0, 1000) == 0.0
