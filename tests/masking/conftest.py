from __future__ import annotations

from typing import Any

import polars as pl

from leaktrace.masking import MaskContext, build_operator

CTX = MaskContext(digest_key=bytes(range(32)), recipient="zto")


def run(spec: str, values: list[Any], dtype: Any = None, ctx: MaskContext = CTX) -> list[Any]:
    """Apply one operator spec to a column and return the values."""
    s = pl.Series("x", values, dtype=dtype)
    op = build_operator(spec, ctx)
    op.validate(s.dtype)
    return pl.DataFrame({"x": s}).select(op.expr(pl.col("x"))).to_series().to_list()
