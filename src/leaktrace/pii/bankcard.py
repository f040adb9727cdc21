"""Bank card numbers (12–19 digits, Luhn check) and their last-four form.

The Luhn sum is vectorised: the digit string is reversed, each of the (at most 19)
positions is sliced and cast, every second one doubled-and-folded; missing positions count
zero. A masked card (``6222 **** **** 1234``) cannot be checked and is weak evidence only.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.base import Detector, register
from leaktrace.pii.text import canonical, canonical_str
from leaktrace.roles import Role

__all__ = ["BANK_CARD", "CARD_LAST4_RE", "CARD_RE", "luhn_ok", "luhn_ok_str", "normalise_card"]

CARD_RE = r"^\d{12,19}$"
MASKED_CARD_RE = r"^\d{0,6}\*{4,13}\d{4}$"
CARD_LAST4_RE = r"^\d{4}$"
_MAX_LEN = 19


def normalise_card(expr: pl.Expr) -> pl.Expr:
    """Width fold and remove whitespace and dashes."""
    return canonical(expr).str.replace_all("-", "")


def luhn_ok(norm: pl.Expr) -> pl.Expr:
    """Boolean: the Luhn check passes (expects a normalised digit string)."""
    shaped = norm.str.contains(CARD_RE).fill_null(False)
    rev = pl.when(shaped).then(norm).otherwise(pl.lit("0")).str.reverse()
    terms: list[pl.Expr] = []
    for i in range(_MAX_LEN):
        d = rev.str.slice(i, 1).cast(pl.Int32, strict=False).fill_null(0)
        if i % 2 == 1:
            d = d * 2
            d = pl.when(d > 9).then(d - 9).otherwise(d)
        terms.append(d)
    return (shaped & (pl.sum_horizontal(terms) % 10 == 0)).fill_null(False)


def luhn_ok_str(value: str) -> bool:
    """Scalar :func:`luhn_ok`."""
    return bool(pl.select(luhn_ok(pl.lit(canonical_str(value).replace("-", "")))).item())


BANK_CARD = register(
    Detector(
        name="bank_card",
        role=Role.CARD_LAST4,
        pattern=CARD_RE + "|" + MASKED_CARD_RE,
        normalise=normalise_card,
        checksum=luhn_ok,
        context=("银行卡", "卡号", "card"),
        weak_score=0.3,
        strong_score=0.9,
    )
)
