"""``truncate_date`` and ``round_amount``: coarsen quasi-identifiers.

Why: an exact order time or amount, joined with a product, re-identifies an order (and is
exactly what the scam callers in DESIGN §1 quoted); GB/T 37964-2019 (去标识化指南) lists
generalisation (泛化) as the standard technique. A policy cannot combine ``truncate_date``
on ``order_time`` with the ``timestamp`` mark channel (the policy check refuses it): the
channel would write keyed seconds back into the truncated time.

``truncate_date``: arg ``day`` (default), ``hour`` or ``month``. Datetime columns stay
Datetime (truncated), Date columns stay Date (``hour`` = ``day``). Text columns are parsed
(``strict=False``; formats Polars infers: 2024-05-01 12:34:56, 2024/05/01 12:34 …) and
written back as ``2024-05-01``, ``2024-05-01 12:00`` or ``2024-05``; unparseable text becomes
null (withheld, not passed through).

``round_amount``: arg ``step`` (a positive decimal, default ``1``): the amount is rounded to
the nearest multiple of ``step``, halves away from zero as in 四舍五入
(``round_amount:10``: 123.45 → 120.0, 125 → 130). Numeric or numeric
text in, Float64 out; unparseable text becomes null.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import polars as pl

from leaktrace.masking.base import MaskContext, MaskingOperator, _kind

__all__ = ["RoundAmount", "TruncateDate"]

_EVERY = {"hour": "1h", "day": "1d", "month": "1mo"}
_FORMAT = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


class TruncateDate(MaskingOperator):
    name = "truncate_date"
    description = "order time truncated to the day (default), hour or month"
    accepts = ("string", "date", "datetime")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        unit = arg or "day"
        if unit not in _EVERY:
            raise self._bad_arg(", ".join(_EVERY))
        self.unit = unit
        self._kind = "string"

    def validate(self, dtype: pl.DataType) -> None:
        super().validate(dtype)
        self._kind = _kind(dtype)

    def expr(self, col: pl.Expr) -> pl.Expr:
        every = _EVERY[self.unit]
        if self._kind == "datetime":
            return col.dt.truncate(every)
        if self._kind == "date":
            return col.dt.truncate("1mo") if self.unit == "month" else col
        parsed = col.cast(pl.String).str.strip_chars().str.to_datetime(strict=False)
        return parsed.dt.truncate(every).dt.strftime(_FORMAT[self.unit])


class RoundAmount(MaskingOperator):
    name = "round_amount"
    description = "amount rounded to the nearest multiple of step (arg, default 1)"
    accepts = ("string", "integer", "number")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        try:
            step = Decimal(arg) if arg is not None else Decimal(1)
        except InvalidOperation:
            raise self._bad_arg("a positive decimal step such as 1, 10 or 0.5") from None
        # finite as a decimal is not enough: 1e400 is infinite and 1e-400 zero as a float,
        # and every released amount would be NaN
        if not step.is_finite() or step <= 0 or not (1e-9 <= float(step) <= 1e12):
            raise self._bad_arg("a positive decimal step such as 1, 10 or 0.5 (1e-9 to 1e12)")
        self.step = float(step)
        self._digits = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]

    def expr(self, col: pl.Expr) -> pl.Expr:
        x = col.cast(pl.Float64, strict=False)
        return ((x / self.step).round(0, mode="half_away_from_zero") * self.step).round(
            self._digits
        )
