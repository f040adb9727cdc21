"""Product-title channel: three meaning-preserving typographic features.

May change, and nothing else:
1. bracket style (``【官方旗舰】`` ↔ ``[官方旗舰]``);
2. the width of digits (``50ml`` ↔ ``５０ml``);
3. the case of a unit right after a number (``50ml`` ↔ ``50ML``; ml, g, kg, l, mm, cm,
   gb, tb, mah, w);
4. the multiplication sign between two numbers (``25g*10片`` ↔ ``25g×10片``).
Brand, product, specs and quantities are unchanged, and
``leaktrace.pii.product.canonical_product`` folds all three. A feature absent from a title
reads as erased.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from leaktrace.channels._text import (
    ANY_DIGIT,
    FULL_DIGITS,
    HALF_DIGITS,
    choose,
    digit_width_feature,
    read_binary,
    run_stages,
    symbol_frame,
    to_full_digits,
    to_half_digits,
)
from leaktrace.channels.base import MarkChannel, Symbols
from leaktrace.rewrite import native_embed

__all__ = ["TitleChannel"]

_UNITS = ["mah", "ml", "kg", "mm", "cm", "gb", "tb", "g", "l", "w"]
_UNIT_ALT = "|".join(_UNITS)
_TIMES = f"({ANY_DIGIT}[a-zA-Zａ-ｚＡ-Ｚ]*)\\s*[*×]\\s*({ANY_DIGIT})"

# Unicode simple case folding of the unit letters, as the regex ``(?i:…)`` applies it:
# only ``k`` has a third form (U+212A KELVIN SIGN).
_FOLDS = {"k": "kK\u212a"}


def _case_forms(unit: str) -> list[str]:
    forms = [""]
    for ch in unit:
        forms = [f + c for f in forms for c in _FOLDS.get(ch, ch + ch.upper())]
    return forms


def _unit_table() -> tuple[list[str], list[str], list[str]]:
    """Literal (digit + unit in any case) → digit + UNIT / digit + unit.

    Why literals: ten case-insensitive regex passes per branch were the costliest part of
    a release. One leftmost-first Aho-Corasick pass gives the same result as the ten
    passes in ``_UNITS`` order: matches never overlap (units hold no digits), and where
    two units match after the same digit (``gb``/``g``) the earlier, longer one wins —
    the later pass would only rewrite letters already in the target case.
    """
    found: list[str] = []
    upper: list[str] = []
    lower: list[str] = []
    for u in _UNITS:
        for form in _case_forms(u):
            for d in HALF_DIGITS + FULL_DIGITS:
                found.append(d + form)
                upper.append(d + u.upper())
                lower.append(d + u)
    return found, upper, lower


_UNIT_FOUND, _UNIT_UPPER, _UNIT_LOWER = _unit_table()


class TitleChannel(MarkChannel):
    name: ClassVar[str] = "title"
    role: ClassVar[str] = "product"
    code: ClassVar[int] = 3
    alphabets: ClassVar[tuple[int, ...]] = (2, 2, 2, 2)
    may_change: ClassVar[str] = (
        "bracket style 【】/[], digit width, unit letter case, multiplication sign ×/*"
    )

    def embed(self, values: pl.Series, symbols: Symbols) -> pl.Series:
        if values.dtype != pl.Utf8:
            return values
        return native_embed(values, symbols, "OP_EMBED_TITLE", self.embed_reference)

    def embed_reference(self, values: pl.Series, symbols: Symbols) -> pl.Series:
        """The definition of :meth:`embed` in Polars (``_rewrite.c`` must agree with it)."""
        df = symbol_frame(values, symbols)
        v = pl.col("v")
        stages = [
            choose(
                pl.col("b0"),
                v.str.replace_many(["[", "]"], ["【", "】"]),
                v.str.replace_many(["【", "】"], ["[", "]"]),
            ),
            choose(pl.col("b1"), to_full_digits(v), to_half_digits(v)),
            choose(
                pl.col("b2"),
                v.str.replace_many(_UNIT_FOUND, _UNIT_UPPER, leftmost=True),
                v.str.replace_many(_UNIT_FOUND, _UNIT_LOWER, leftmost=True),
            ),
            # one regex pass with a per-row replacement (see the address channel)
            v.str.replace_all(
                _TIMES, choose(pl.col("b3"), pl.lit("${1}×${2}"), pl.lit("${1}*${2}"))
            ),
        ]
        return run_stages(df, stages, values.name)

    def read(self, values: pl.Series) -> Symbols:
        n = values.len()
        if values.dtype != pl.Utf8:
            return np.full((n, self.positions), -1, dtype=np.int16)
        df = pl.DataFrame({"v": values})
        v = pl.col("v")
        cjk_b = v.str.contains("[【】]")
        ascii_b = v.str.contains(r"[\[\]]")
        zero1, one1 = digit_width_feature(v)
        low = v.str.contains(f"{ANY_DIGIT}(?:{_UNIT_ALT})")
        up = v.str.contains(f"{ANY_DIGIT}(?:{_UNIT_ALT.upper()})")
        cols = [
            read_binary(df, ascii_b, cjk_b),
            read_binary(df, zero1, one1),
            read_binary(df, low, up),
            read_binary(
                df,
                v.str.contains(f"{ANY_DIGIT}[a-zA-Z]*\\*{ANY_DIGIT}"),
                v.str.contains(f"{ANY_DIGIT}[a-zA-Z]*×{ANY_DIGIT}"),
            ),
        ]
        return np.stack(cols, axis=1)
