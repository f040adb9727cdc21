"""Small vectorised text folds shared by the operators.

Deliberately local: :mod:`leaktrace.pii` owns full normalisation; masking only needs enough
folding to find the digits it must hide (full-width digits, ＋86, spaces, hyphens).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

FULLWIDTH = {chr(0xFF10 + i): str(i) for i in range(10)} | {"＋": "+", "ｘ": "x", "Ｘ": "X"}


def as_text(col: pl.Expr) -> pl.Expr:
    """Utf8 view of a string/categorical/integer column (integers as decimal text)."""
    return col.cast(pl.String)


def fold_digits(col: pl.Expr) -> pl.Expr:
    """Full-width → ASCII; drop spaces (incl. U+3000), hyphens, dots, brackets."""
    return as_text(col).str.replace_many(FULLWIDTH).str.replace_all(r"[\s\-–—()（）.]", "")


def stars(n: pl.Expr | int) -> pl.Expr:
    """A column of ``n`` asterisks (``n`` may be an expression)."""
    return pl.lit("").str.pad_start(n, "*")


def two_paths(
    values: pl.Series,
    general: pl.Series,
    fast: Callable[[pl.Series], pl.Series],
    slow: Callable[[pl.Series], pl.Series],
) -> pl.Series:
    """``fast(values)``, except at the rows where ``general`` is true: ``slow`` of those rows.

    Why: eager Polars evaluates both branches of ``when/then`` over every row, so an
    operator whose exact rule is costly (regex passes) but whose common input has a cheap,
    provably identical shortcut computes the costly rule only on the rows that need it.
    ``fast`` must be elementwise and must not fail on any row (its result at the
    ``general`` rows is discarded); ``general`` must not be null.
    """
    k = int(general.sum())
    if k == 0:
        return fast(values)
    if k == values.len():
        return slow(values)
    idx = general.arg_true()
    return fast(values).scatter(idx, slow(values.gather(idx)))
