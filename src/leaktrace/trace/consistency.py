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

CHANCE_P = 0.01
"""Only a family whose own p-value is at least this (it shows nothing) is checked."""

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

    def f(theta: float) -> float:
        return theta * k + sum(
            n * float(np.logaddexp(math.log1p(-q), math.log(q) - theta)) for n, q in classes
        )

    res = optimize.minimize_scalar(f, bounds=(1e-9, 60.0), method="bounded")
    return min(f(float(res.x)), 0.0) / math.log(10)


def _marks(cand: dict[str, Any]) -> dict[str, Any] | None:
    classes = [(int(c["observed"]), float(c["p"]), int(c["matched"])) for c in cand["classes"]]
    n = sum(c[0] for c in classes)
    k = sum(c[2] for c in classes)
    if n < MIN_OBSERVED:
        return None
    intact = [(n_j, p + (1.0 - p) * SURVIVAL) for n_j, p, _ in classes]
    log10 = lower_tail_log10(intact, k)
    if log10 > math.log10(CONTRADICTION_P):
        return None
    return {
        "family": "marks",
        "observed": n,
        "matched": k,
        "expected_by_chance": round(sum(n_j * p for n_j, p, _ in classes), 1),
        "expected_half_intact": round(sum(n_j * q for n_j, q in intact), 1),
        "log10_p_half_intact": round(log10, 6),
    }


def _aliases(cand: dict[str, Any]) -> dict[str, Any] | None:
    counts = (cand.get("alias_counts") or {}).get("independent") or []
    if not counts:
        return None
    n, q, k = int(counts[0]), float(counts[1]), int(counts[2])
    if n < MIN_OBSERVED:
        return None
    q_intact = q + (1.0 - q) * SURVIVAL
    log10 = lower_tail_log10([(n, q_intact)], k)
    if log10 > math.log10(CONTRADICTION_P):
        return None
    return {
        "family": "aliases",
        "observed": n,
        "matched": k,
        "expected_by_chance": round(n * q, 6),
        "expected_half_intact": round(n * q_intact, 1),
        "log10_p_half_intact": round(log10, 6),
    }


def contradictions(cand: dict[str, Any], accused: bool) -> list[dict[str, Any]]:
    """The families of ``cand`` (a candidate record, as in ``CandidateResult.as_dict``)
    that contradict its accusation; empty when it is not accused.

    Marks are checked when neither the marks nor the Tardos marks are significant (a
    Tardos-coded copy's binary positions are in the Tardos family, and its others in
    the marks classes); aliases when the alias family is not.
    """
    if not accused:
        return []
    fam = cand["log10_p_by_family"]
    chance = math.log10(CHANCE_P)
    out: list[dict[str, Any]] = []
    if fam["marks"] >= chance and fam["tardos"] >= chance:
        found = _marks(cand)
        if found:
            out.append(found)
    if fam["aliases"] >= chance:
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
