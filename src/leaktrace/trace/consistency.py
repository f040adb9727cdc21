"""Contradicting evidence: a family that says "not this copy" while another accuses it.

A trace accuses a recipient when any one evidence family (marks, Tardos marks, aliases,
canaries) is significant. The p-value stays valid whatever the other families say, but an
analyst must know when they disagree. Example: a file made of an SMS vendor's copy with two
of a courier's canary rows added accuses the courier on its canaries, while the courier's
marks on hundreds of the same rows match only as often as chance. A real copy of the
courier's would match far more often, even after an edit that destroyed half its marks.
Either the marks were scrubbed, or the canary rows were planted. Both are worth checking
before the accusation is acted on.

The test, per accused candidate and per family that is not itself significant (its own
p-value ≥ ``CHANCE_P``): under "this is the candidate's copy with at least ``SURVIVAL`` of
its marks intact", each readable position matches with probability at least
``q = p + (1 - p) · SURVIVAL``, where ``p`` is the chance of a match. The lower tail
``P(matches ≤ observed)`` is computed exactly, or bounded from above (Chernoff) when the
counts are large. When it is ≤ ``CONTRADICTION_P``, the family contradicts the
accusation. It is a flag for the analyst and never changes a p-value or a verdict.

The check uses only counts stored in the candidate's record, so an evidence bundle can
recompute it. ``verify-evidence`` refuses a bundle that leaves out a contradiction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, stats

from leaktrace.trace.stats import binomial_tail, tardos_tail, weighted_tail

__all__ = [
    "CHANCE_P",
    "CONTRADICTION_P",
    "MIN_OBSERVED",
    "SURVIVAL",
    "contradictions",
    "describe",
    "lower_tail_log10",
]

SURVIVAL = 0.5
"""Share of a copy's marks (or aliases) assumed to survive the worst plausible edit."""

CONTRADICTION_P = 1e-3
"""A family contradicts when its counts are this unlikely for a half-intact copy."""

CHANCE_P = 1e-6
"""Only a family whose own p-value (from its counts) is at least this is checked: one that accuses by
itself (a damaged copy of the candidate's) is exempt. Not 0.01: a family at chance passes
0.01 once in a hundred leaks, and the flag would then be missed that often."""

MIN_OBSERVED = 20
"""Fewer readable positions than this are too few to contradict anything."""

_EXACT_MAX_WORK = 4e7


def lower_tail_log10(classes: list[tuple[int, float]], k: int) -> float:
    """log10 of an upper bound of P(Σ_j Binomial(n_j, q_j) ≤ k), classes ``(n_j, q_j)``.

    Exact (convolution of the pmfs) while that is cheap (the same work limit as
    :func:`~leaktrace.trace.stats.weighted_tail`); above it the Chernoff bound
    ``min_θ exp(θk) Π (1 - q + q·e^{-θ})^n``, which is never smaller than the true tail,
    so a large count can only make the flag rarer, never raise it wrongly.
    """
    classes = [(n, q) for n, q in classes if n > 0]
    if any(not 0.0 <= q <= 1.0 for _, q in classes):  # NaN fails this too
        raise ValueError("match probabilities must be between 0 and 1")
    total = sum(n for n, _ in classes)
    if k >= total or not classes:
        return 0.0
    if k < 0:
        return -math.inf
    work, length = 0.0, 1
    for n, _ in classes:
        work += length * (n + 1)
        length += n
    if work <= _EXACT_MAX_WORK:
        pmf = np.ones(1)
        for n, q in classes:
            pmf = np.convolve(pmf, stats.binom.pmf(np.arange(n + 1), n, q))
        tail = float(pmf[: k + 1].sum())
        return math.log10(min(1.0, max(tail, 1e-300)))
    mean = sum(n * q for n, q in classes)
    if k >= mean:
        return 0.0

    def term(q: float, theta: float) -> float:  # log(1 - q + q·e^{-θ}), q in [0, 1]
        if q == 0.0:
            return 0.0
        if q == 1.0:
            return -theta
        return float(np.logaddexp(math.log1p(-q), math.log(q) - theta))

    def f(theta: float) -> float:
        return theta * k + sum(n * term(q, theta) for n, q in classes)

    res = optimize.minimize_scalar(f, bounds=(1e-9, 60.0), method="bounded")
    return min(f(float(res.x)), 0.0) / math.log(10)


def _check(family: str, classes: list[tuple[int, float, int]]) -> dict[str, Any] | None:
    """The flag for one family from its classes ``(observed, chance of a match, matched)``,
    or None when it has too few positions or is consistent with a half-intact copy."""
    n = sum(c[0] for c in classes)
    k = sum(c[2] for c in classes)
    if n < MIN_OBSERVED:
        return None
    intact = [(n_j, p + (1.0 - p) * SURVIVAL) for n_j, p, _ in classes]
    log10 = lower_tail_log10(intact, k)
    if log10 > math.log10(CONTRADICTION_P):
        return None
    return {
        "family": family,
        "observed": n,
        "matched": k,
        "expected_by_chance": round(sum(n_j * p for n_j, p, _ in classes), 6),
        "expected_half_intact": round(sum(n_j * q for n_j, q in intact), 1),
        "log10_p_half_intact": round(log10, 6),
    }


def _marks(cand: dict[str, Any]) -> dict[str, Any] | None:
    classes = [(int(c["observed"]), float(c["p"]), int(c["matched"])) for c in cand["classes"]]
    return _check("marks", classes)


def _alias_counts(cand: dict[str, Any]) -> list[float]:
    """Alias test (a) over the rows that are no canaries (``independent_real``; records
    made before it was kept give all rows): a planted canary row carries its recipient's
    alias of its own order number, and must not make the rows around it look aliased."""
    counts = cand.get("alias_counts") or {}
    found: list[float] = counts.get("independent_real") or counts.get("independent") or []
    return found


def _aliases(cand: dict[str, Any]) -> dict[str, Any] | None:
    """Alias test (a): rows found without the order number, whose leaked number should be
    the candidate's alias of that order."""
    counts = _alias_counts(cand)
    if not counts:
        return None
    return _check("aliases", [(int(counts[0]), float(counts[1]), int(counts[2]))])


def _marks_significant(cand: dict[str, Any]) -> bool:
    """Whether the marks or the Tardos marks accuse by themselves, from the counts (not
    from the record's own p-values, which a bundle states and this would have to trust)."""
    chance = math.log10(CHANCE_P)
    classes = [(int(c["observed"]), float(c["p"]), int(c["weight"])) for c in cand["classes"]]
    score = sum(int(c["weight"]) * int(c["matched"]) for c in cand["classes"])
    if weighted_tail(classes, score).log10 < chance:
        return True
    hist = [(int(t), int(y), int(n)) for t, y, n in cand.get("tardos_hist") or []]
    return bool(hist) and tardos_tail(hist, float(cand.get("tardos_score", 0.0))).log10 < chance


def _aliases_significant(cand: dict[str, Any]) -> bool:
    counts = _alias_counts(cand)
    if not counts:
        return False
    n, q, k = int(counts[0]), float(counts[1]), int(counts[2])
    return binomial_tail(n, q, k).log10 < math.log10(CHANCE_P)


def contradictions(cand: dict[str, Any], accused: bool) -> list[dict[str, Any]]:
    """The families of ``cand`` (a candidate record, as in ``CandidateResult.as_dict``)
    that contradict its accusation; empty when it is not accused.

    Marks are checked when neither the marks nor the Tardos marks accuse by themselves (a
    Tardos-coded copy's binary positions are in the Tardos family, and its others in the
    marks classes); aliases when the non-canary rows of alias test (a) do not. Everything
    is computed from the record's counts, so a bundle's verifier gets the same answer
    whatever p-values the bundle states. Raises ValueError (or KeyError, TypeError) on a
    record whose counts are malformed.
    """
    if not accused:
        return []
    out: list[dict[str, Any]] = []
    if not _marks_significant(cand):
        found = _marks(cand)
        if found:
            out.append(found)
    if not _aliases_significant(cand):
        found = _aliases(cand)
        if found:
            out.append(found)
    return out


def describe(recipient: str, c: dict[str, Any]) -> str:
    """One line for the analyst (CLI and report)."""
    what = "readable mark positions" if c["family"] == "marks" else "aliased rows"
    return (
        f"contradicting evidence for {recipient}: its {c['family']} match {c['matched']} of "
        f"{c['observed']} {what}, about what chance gives ({c['expected_by_chance']:g}); "
        f"a copy of {recipient}'s with half of them intact would match about "
        f"{c['expected_half_intact']:g} (P ≤ 10^{c['log10_p_half_intact']:.1f}). "
        "Before acting, check whether they were scrubbed, whether these rows came from "
        "another copy of the same orders, or whether the accusing rows were planted"
    )
