"""``keep`` and ``drop``: the two trivial operators, registered like every other one."""

from __future__ import annotations

import polars as pl

from leaktrace.masking.base import MaskContext, MaskingOperator

__all__ = ["Drop", "Keep"]


class Keep(MaskingOperator):
    """Sends the value unchanged (mark channels may still rewrite harmless details)."""

    name = "keep"
    description = "sends the value unchanged"
    accepts = None

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        self._no_arg()

    def expr(self, col: pl.Expr) -> pl.Expr:
        return col


class Drop(MaskingOperator):
    """The field is not sent. ``apply_policy_fields`` does not even select the column;
    ``expr`` returns all-null of the same dtype for callers that build frames themselves."""

    name = "drop"
    description = "the field is not sent at all"
    accepts = None

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        self._no_arg()

    def expr(self, col: pl.Expr) -> pl.Expr:
        return pl.when(pl.lit(False)).then(col)
