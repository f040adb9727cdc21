"""Exact (or conservative) tail probabilities for the tracer.

Null hypothesis for candidate R: "the evidence did not come from R's copy". Then R's keyed
symbols are independent of the evidence, so at every readable position the evidence
matches R's symbol with probability at most ``p_j`` (``prf.match_probability``). Matches at
distinct (anchor, channel, position) are independent.

Statistic: ``S = Σ_j w_j · M_j`` with ``M_j ~ Binomial(n_j, p_j)`` per alphabet class and
fixed integer weights ``w_j ≈ log2(1/p_j)`` (1 for bits, 6 for a second-of-minute) chosen
BEFORE looking at the data, so a 60-ary match counts like the ~6 bits it carries.

``weighted_tail`` returns ``P(S ≥ s)``:

* exactly, by convolving the weighted binomial pmfs, when the lattice is small enough
  and the result is representable in float64 (> 1e-250);
* otherwise as the Chernoff bound ``min_θ exp(-θ s) Π (1 - p + p e^{θ w})^n``, computed in
  log space. Every θ > 0 gives a valid upper bound, so an inexact minimiser only makes
  the figure more conservative, never less.

Because ``p_j`` is the largest symbol probability, both are upper bounds of the true
null probability: conservative, never anti-conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from leaktrace.errors import InputError

__all__ = [
    "Tail",
    "binomial_tail",
    "bonferroni",
    "check_alpha",
    "hypergeom_tail",
    "tardos_scores",
    "tardos_tail",
    "weight_for",
    "weighted_tail",
]


def check_alpha(alpha: float) -> float:
    """``alpha`` must be a probability strictly between 0 and 1 (NaN is refused too).

    Why every entry point checks it, not only the CLI: with alpha ≥ 1 every candidate's
    corrected p (≤ 1) passes, and a caller of the Python API would accuse every recipient
    on no evidence at all.
    """
    if not 0 < alpha < 1:
        raise InputError("alpha must be between 0 and 1")
    return alpha


_EXACT_MAX_WORK = 4e7
_LOG10_FLOOR = -250.0


@dataclass(frozen=True)
class Tail:
    """A tail probability with its log10 (kept when the value underflows)."""

    log10: float
    method: str  # "exact" | "chernoff" | "trivial"

    @property
    def value(self) -> float:
        return 10.0**self.log10 if self.log10 > -320 else 0.0


def weight_for(p: float) -> int:
    return max(1, round(math.log2(1.0 / p)))


def _chernoff_log(classes: list[tuple[int, float, int]], s: int) -> float:
    """Natural-log Chernoff bound of P(Σ w M ≥ s); 0.0 means the trivial bound 1."""
    mean = sum(n * p * w for n, p, w in classes)
    if s <= mean:
        return 0.0

    def f(theta: float) -> float:
        acc = -theta * s
        for n, p, w in classes:
            acc += n * float(np.logaddexp(math.log1p(-p), math.log(p) + theta * w))
        return acc

    res = optimize.minimize_scalar(f, bounds=(1e-9, 60.0), method="bounded")
    best = min(f(float(res.x)), f(60.0), 0.0)
    return best


def weighted_tail(classes: list[tuple[int, float, int]], s: int) -> Tail:
    """P(Σ_j w_j · Binomial(n_j, p_j) ≥ s); classes are (n_j, p_j, w_j)."""
    classes = [(n, p, w) for n, p, w in classes if n > 0]
    if s <= 0:
        return Tail(0.0, "trivial")
    total = sum(n * w for n, _, w in classes)
    if s > total:
        return Tail(-math.inf, "exact")
    ch = _chernoff_log(classes, s) / math.log(10)
    if ch < _LOG10_FLOOR:
        return Tail(ch, "chernoff")
    work = 0.0
    length = 1
    for n, _, w in classes:
        work += length * (n * w + 1)
        length += n * w
    if work > _EXACT_MAX_WORK:
        return Tail(ch, "chernoff")
    pmf = np.ones(1)
    for n, p, w in classes:
        k = np.arange(n + 1)
        comp = np.zeros(n * w + 1)
        comp[k * w] = stats.binom.pmf(k, n, p)
        pmf = np.convolve(pmf, comp)
    tail = float(pmf[s:].sum())
    # float round-off can only be ~1e-16 relative; clamp into [tiny, 1]
    tail = min(1.0, max(tail, 1e-300))
    exact = math.log10(tail)
    return Tail(min(exact, ch) if ch < 0 else exact, "exact")


def binomial_tail(n: int, p: float, k: int) -> Tail:
    """P(Binomial(n, p) ≥ k), exact via scipy's log survival function."""
    if k <= 0:
        return Tail(0.0, "trivial")
    if k > n:
        return Tail(-math.inf, "exact")
    lsf = float(stats.binom.logsf(k - 1, n, p))
    if math.isfinite(lsf):
        return Tail(lsf / math.log(10), "exact")
    # logsf underflowed: P(X ≥ k) ≤ C(n,k) p^k (union bound over k-subsets)
    logb = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
    return Tail(min(0.0, logb / math.log(10)), "bound")


def hypergeom_tail(population: int, successes: int, draws: int, k: int) -> Tail:
    """P(X ≥ k) for X ~ Hypergeometric(population, successes, draws), exact via scipy's
    log survival function.

    Why not the binomial with p = successes/population: drawing without replacement is
    more concentrated, but its tail is not below the binomial's everywhere (near the mean
    it is above: 1000, 500, 333, 166 gives 0.553 against 0.544), so the binomial would
    not be a bound. Where ``logsf`` underflows, the union bound over k-subsets of the
    draws, C(draws, k) · Π_{i<k} (successes − i)/(population − i), is used (an upper
    bound, never smaller than the exact tail).
    """
    if k <= 0:
        return Tail(0.0, "trivial")
    if k > min(draws, successes):
        return Tail(-math.inf, "exact")
    lsf = float(stats.hypergeom.logsf(k - 1, population, successes, draws))
    if math.isfinite(lsf):
        return Tail(min(0.0, lsf / math.log(10)), "exact")
    logb = math.lgamma(draws + 1) - math.lgamma(k + 1) - math.lgamma(draws - k + 1)
    logb += sum(math.log((successes - i) / (population - i)) for i in range(k))
    return Tail(min(0.0, logb / math.log(10)), "bound")


def bonferroni(log10_p: float, m: int) -> float:
    """log10 of min(1, m · p): bounds P(any of m innocent candidates is accused)."""
    return min(0.0, log10_p + math.log10(max(m, 1)))


def tardos_scores(
    thresholds: npt.NDArray[np.uint32], y: npt.NDArray[np.int16], x: npt.NDArray[np.int16]
) -> npt.NDArray[np.float64]:
    """Škorić's symmetric Tardos score of each position (candidate bit ``x``, evidence ``y``).

    With ``p = T/65536`` the exact probability that an innocent recipient's bit is 1:
    a match on the rare symbol scores high, a match on the common one little, a mismatch
    is penalised; under the null every position has mean 0 and variance 1.
    """
    p = thresholds.astype(np.float64) / 65536.0
    up = np.sqrt((1.0 - p) / p)
    down = np.sqrt(p / (1.0 - p))
    return np.where(y == 1, np.where(x == 1, up, -down), np.where(x == 0, down, -up))


def tardos_tail(hist: list[tuple[int, int, int]], s: float) -> Tail:
    """Chernoff bound of P(S ≥ s) for the Tardos score under "this recipient did not leak".

    ``hist`` lists (threshold T, evidence bit y, count): given the evidence, an innocent
    recipient's bit at a position is Bernoulli(T/65536) independently of everything else,
    so the moment-generating function of S is known exactly and
    ``P(S ≥ s) ≤ min_θ exp(−θ s) Π E[exp(θ g)]`` is a valid (conservative) bound for any θ.
    """
    if not hist or s <= 0:
        return Tail(0.0, "trivial")
    arr = np.array(hist, dtype=np.float64)
    p = arr[:, 0] / 65536.0
    y = arr[:, 1]
    n = arr[:, 2]
    up = np.sqrt((1.0 - p) / p)
    down = np.sqrt(p / (1.0 - p))
    g1 = np.where(y == 1, up, -up)  # score if the innocent bit is 1
    g0 = np.where(y == 1, -down, down)  # score if it is 0
    lp1, lp0 = np.log(p), np.log1p(-p)

    def f(theta: float) -> float:
        return float(-theta * s + (n * np.logaddexp(lp1 + theta * g1, lp0 + theta * g0)).sum())

    res = optimize.minimize_scalar(f, bounds=(1e-9, 10.0), method="bounded")
    best = min(f(float(res.x)), 0.0)
    return Tail(best / math.log(10), "chernoff")
