"""``mask_id`` (居民身份证号) and ``mask_card`` (bank card numbers).

``mask_id`` default: first 6 and last 4 visible, 8 starred — ``110105********1234``. The
starred part is exactly the birth date (positions 7–14 of GB 11643-1999), the most
re-identifying part; the region code stays for routing/statistics, the last 4 for
customer-service confirmation. This is the display form common in Chinese banking and
government portals (GB/T 35273-2020 leaves the concrete form to the controller).
``mask_id:last4`` keeps only the last 4 (of a 15-digit number, the last 3). 15-digit
(pre-1999) numbers keep 6 + last 3 by default (the last 4 would include a birth-day
digit). Anything else keeps its last 4 characters when it has at least 8, otherwise it is
all stars. Full-width digits/ｘ and spaces are folded, ``x``
is upper-cased.

``mask_card``: every digit but the last 4 starred (``************1234``); the common display
form (卡号尾号). Note the scam in DESIGN §1 quoted exactly these 4 digits: send them only to
recipients that need them. Inputs of 4 digits or fewer become all stars.
"""

from __future__ import annotations

import polars as pl

from leaktrace.masking._text import fold_digits, stars
from leaktrace.masking.base import MaskContext, MaskingOperator

__all__ = ["MaskCard", "MaskId"]


def _keep_last(s: pl.Expr, k: int, min_len: int) -> pl.Expr:
    n = s.str.len_chars()
    return (
        pl.when(n >= min_len)
        .then(s.str.tail(k).str.pad_start(n, "*"))
        .otherwise(stars(n.clip(lower_bound=1)))
    )


class MaskId(MaskingOperator):
    name = "mask_id"
    description = (
        "resident ID: 110105********1234 (birth date hidden; default) or last4; "
        "15-digit: 6 + last 3"
    )
    accepts = ("string", "integer")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        if arg not in (None, "last4"):
            raise self._bad_arg("last4")

    def expr(self, col: pl.Expr) -> pl.Expr:
        s = fold_digits(col).str.to_uppercase()
        n = s.str.len_chars()
        if self.arg == "last4":
            # a 15-digit (pre-1999) number's last 4 include a birth-day digit: its last 3
            return (
                pl.when(s.str.contains(r"^\d{15}$"))
                .then(stars(12) + s.str.tail(3))
                .otherwise(_keep_last(s, 4, 8))
            )
        return (
            pl.when(s.str.contains(r"^\d{17}[\dX]$"))
            .then(s.str.head(6) + stars(8) + s.str.tail(4))
            .when(s.str.contains(r"^\d{15}$"))
            .then(s.str.head(6) + stars(6) + s.str.tail(3))
            .otherwise(_keep_last(s, 4, 8))
            .pipe(lambda e: pl.when(n.is_null()).then(None).otherwise(e))
        )


class MaskCard(MaskingOperator):
    name = "mask_card"
    description = "bank card: every digit but the last 4 starred"
    accepts = ("string", "integer")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        self._no_arg()

    def expr(self, col: pl.Expr) -> pl.Expr:
        s = fold_digits(col)
        return _keep_last(s, 4, 5)
