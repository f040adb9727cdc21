"""Chinese mobile numbers: normalisation, shape test, and a pattern for running text.

Mobile numbers arrive as ``+86 138-1234-5678``, ``0086 13812345678``, ``(138)1234 5678``,
full-width ``１３８…`` or already masked to the national convention ``138****5678``. For
matching they all become 11 characters: digits, or digits with the middle four as ``*``.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.base import Detector, register
from leaktrace.pii.text import fold_width
from leaktrace.roles import Role

__all__ = [
    "MOBILE_RE",
    "PHONE",
    "is_mobile",
    "normalise_phone",
    "phone_pattern",
]

# Mainland mobile numbers start 13x–19x. Masked: the middle four digits replaced by '*'.
MOBILE_RE = r"^1[3-9]\d{9}$"
MASKED_MOBILE_RE = r"^1[3-9]\d\*{4}\d{4}$"
_ANY_MOBILE_RE = r"^1[3-9]\d(?:\d{4}|\*{4})\d{4}$"

phone_pattern = r"(?:(?:\+|00)?86[\s-]?)?1[3-9]\d[\s-]?(?:\d{4}|\*{4})[\s-]?\d{4}"
"""Regex that finds a (possibly masked, possibly +86-prefixed) mobile number in text."""


def normalise_phone(expr: pl.Expr) -> pl.Expr:
    """Width-fold, drop separators, strip the country code (+86 / 0086 / 86).

    Returns the bare digit string (with ``*`` kept) — 11 characters for a mobile. Values
    that contain nothing phone-like become null, so a junk cell never matches another.
    The mask character ``＊`` (full-width) folds to ``*`` with the rest of the width fold.
    """
    cleaned = fold_width(expr).str.replace_all(r"[\s\-()./]", "")
    no_cc = cleaned.str.replace(r"^(?:\+86|0086|\+0086)", "").str.replace(
        r"^86(1[3-9].{9})$", "${1}"
    )
    return pl.when(no_cc.str.contains(r"^[0-9*]+$")).then(no_cc).otherwise(None)


def is_mobile(expr: pl.Expr, *, allow_masked: bool = True) -> pl.Expr:
    """Boolean: ``expr`` is a mainland mobile number (masked form allowed by default)."""
    pattern = _ANY_MOBILE_RE if allow_masked else MOBILE_RE
    return normalise_phone(expr).str.contains(pattern).fill_null(False)


PHONE = register(
    Detector(
        name="cn_mobile",
        role=Role.PHONE,
        pattern=_ANY_MOBILE_RE,
        normalise=normalise_phone,
        context=("手机", "电话", "联系方式", "mobile", "phone", "tel"),
        strong_score=0.95,
    )
)
