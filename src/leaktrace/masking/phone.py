"""``mask_phone``: 13812345678 → 138****5678 (default) or 138******78 (``waybill``).

Conventions:

* default / ``keep4`` — first 3 and last 4 digits visible, the middle 4 starred. This is the
  form used across Chinese e-commerce and logistics (隐私面单 ``138****5678``): the last four
  let a courier or customer-service agent confirm "尾号5678" with the customer.
* ``waybill`` — first 3 and last 2 visible, 6 digits starred (``138******78``). GB/T
  41833-2022 (快递电子运单, in force 2023) asks waybills to hide at least six digits of the
  phone number according to public summaries of the standard; we could not check the
  standard's text from here, so this reading is ours: 6 hidden, prefix kept (carrier routing
  needs nothing else), 2 trailing digits for the hand-over check.
* ``last4`` — only the last 4 digits (``*******5678``), for SMS/agent flows that quote 尾号.

Input folding (local, not :mod:`leaktrace.pii`): full-width digits, spaces, hyphens and a
+86/0086/86 prefix are removed first, so ``+86 138-1234-5678`` masks to ``138****5678``.
Values that are not an 11-digit mainland mobile after folding (landlines, foreign numbers,
junk) are fail-closed: every digit but the last N (N=4, or 2 for ``waybill``) is starred and
everything else dropped; inputs with no more than N digits become all stars.
"""

from __future__ import annotations

import polars as pl

from leaktrace.masking._text import fold_digits, stars, two_paths
from leaktrace.masking.base import MaskContext, MaskingOperator
from leaktrace.rewrite import native_mask

__all__ = ["MaskPhone", "mask_phones_reference"]

_MODES: dict[str, tuple[int, int]] = {"keep4": (3, 4), "waybill": (3, 2), "last4": (0, 4)}

# An ASCII 11-digit mobile needs no folding and has no prefix to drop: the rule reduces to
# first ``head`` + stars + last ``tail``. Everything else (and only that) takes ``_rule``.
_PLAIN_MOBILE = r"^1[0-9]{10}$"


class MaskPhone(MaskingOperator):
    name = "mask_phone"
    description = (
        "mainland mobile: 138****5678 (default/keep4), 138******78 (waybill, GB/T 41833-2022: "
        "hide at least 6 digits), *******5678 (last4); other numbers: all but last digits starred"
    )
    accepts = ("string", "integer")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        mode = arg or "keep4"
        if mode not in _MODES:
            raise self._bad_arg(", ".join(_MODES))
        self.head, self.tail = _MODES[mode]

    def expr(self, col: pl.Expr) -> pl.Expr:
        head, tail = self.head, self.tail
        params = bytes([head, tail])

        def run(values: pl.Series) -> pl.Series:
            # ASCII 11-digit mobiles natively (_rewrite.c OP_MASK_PHONE), the rest by the
            # reference, which is the definition
            return native_mask(
                values.cast(pl.String),
                "OP_MASK_PHONE",
                params,
                lambda v: mask_phones_reference(v, head, tail),
            ).alias(values.name)

        return col.map_batches(run, return_dtype=pl.String, is_elementwise=True)


def mask_phones_reference(values: pl.Series, head: int, tail: int) -> pl.Series:
    """mask_phone in Polars: the definition the native kernel must agree with."""
    s = values.cast(pl.String)
    general = s.str.contains(_PLAIN_MOBILE).not_().fill_null(False)
    return two_paths(
        s, general, lambda v: _plain_mobile(v, head, tail), lambda v: _rule(v, head, tail)
    ).alias(values.name)


def _plain_mobile(values: pl.Series, head: int, tail: int) -> pl.Series:
    v = pl.col("v")
    return (
        values.to_frame("v")
        .select(pl.concat_str(v.str.head(head), pl.lit("*" * (11 - head - tail)), v.str.tail(tail)))
        .to_series()
    )


def _rule(values: pl.Series, head: int, tail: int) -> pl.Series:
    """The general rule: fold, drop a +86/0086/86 prefix, mask a mobile or fail closed.

    Each intermediate is materialised once (eager Polars would re-evaluate a shared
    sub-expression at every reference).
    """
    d, n, length = pl.col("d"), pl.col("n"), pl.col("len")
    frame = values.to_frame("v").select(
        pl.col("v").is_null().alias("null"),
        fold_digits(pl.col("v")).str.replace(r"^(?:\+?0{0,2}86)(1\d{10})$", "$1").alias("d"),
    )
    frame = frame.with_columns(
        d.str.contains(r"^1\d{10}$").alias("mobile"), d.str.replace_all(r"\D", "").alias("n")
    ).with_columns(n.str.len_chars().alias("len"))
    masked_mobile = d.str.head(head) + stars(11 - head - tail) + d.str.tail(tail)
    other = (
        pl.when(length > tail)
        .then(n.str.tail(tail).str.pad_start(length, "*"))
        .otherwise(stars(length.clip(lower_bound=1)))
    )
    return frame.select(
        pl.when(pl.col("null"))
        .then(None)
        .when(pl.col("mobile"))
        .then(masked_mobile)
        .otherwise(other)
    ).to_series()
