"""The detector interface and registry (Presidio-shaped, vectorised).

A detector declares what it recognises as data, not code paths: a regex *pattern* on the
normalised value (a hit is weak evidence), an optional *checksum* hook (a pass is strong
evidence — an 18-digit string is only probably an ID number, one whose mod-11 check digit
is right almost certainly is), and *context* words that appear in headers. Column-role
inference and the tracer's evidence readers score whole columns with :meth:`Detector.score`,
so nothing here loops over cells in Python.

Adding a detector is one module that builds a :class:`Detector` and calls :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import polars as pl

from leaktrace.roles import Role

__all__ = ["Detector", "all_detectors", "get_detector", "register"]

ExprFn = Callable[[pl.Expr], pl.Expr]


@dataclass(frozen=True)
class Detector:
    """One kind of personal data, recognised by pattern and (optionally) checksum.

    ``normalise`` maps a raw Utf8 expression to the form ``pattern`` is written against;
    ``checksum`` receives the *normalised* expression and returns a boolean expression (it
    is evaluated only where the pattern matched, so it may assume the pattern's shape).
    """

    name: str
    role: Role
    pattern: str
    normalise: ExprFn
    checksum: ExprFn | None = None
    context: tuple[str, ...] = field(default_factory=tuple)
    weak_score: float = 0.5
    strong_score: float = 1.0

    def matches(self, expr: pl.Expr) -> pl.Expr:
        """Boolean: the normalised value has the detector's shape."""
        return self.normalise(expr).str.contains(self.pattern).fill_null(False)

    def valid(self, expr: pl.Expr) -> pl.Expr:
        """Boolean: shape matches and the checksum (if any) passes."""
        hit = self.matches(expr)
        if self.checksum is None:
            return hit
        return (hit & self.checksum(self.normalise(expr))).fill_null(False)

    def value_score(self, expr: pl.Expr) -> pl.Expr:
        """Per-value evidence: ``strong_score`` when valid, ``weak_score`` on a bare hit."""
        if self.checksum is None:
            return pl.when(self.matches(expr)).then(self.strong_score).otherwise(0.0)
        return (
            pl.when(self.valid(expr))
            .then(self.strong_score)
            .when(self.matches(expr))
            .then(self.weak_score)
            .otherwise(0.0)
        )

    def score(self, values: pl.Series) -> float:
        """Mean per-value evidence over the non-null values of ``values`` (0 if none)."""
        s = values.drop_nulls().cast(pl.String)
        if s.len() == 0:
            return 0.0
        out = pl.DataFrame({"v": s}).select(self.value_score(pl.col("v")).mean()).item()
        return float(out or 0.0)


_REGISTRY: dict[str, Detector] = {}


def register(detector: Detector) -> Detector:
    """Add ``detector`` to the registry (idempotent for the same object); returns it."""
    existing = _REGISTRY.get(detector.name)
    if existing is not None and existing is not detector:
        raise ValueError(f"detector {detector.name!r} is already registered")
    _REGISTRY[detector.name] = detector
    return detector


def get_detector(name: str) -> Detector:
    """The registered detector called ``name`` (``KeyError`` if none)."""
    return _REGISTRY[name]


def all_detectors() -> Iterator[Detector]:
    """Registered detectors in registration order."""
    return iter(list(_REGISTRY.values()))
