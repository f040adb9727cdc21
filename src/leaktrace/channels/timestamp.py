"""Timestamp channel: a keyed second-of-minute.

May change: the seconds of the order time (never the minute, hour or date). One position
with 60 symbols (almost six bits per row).

Read: the seconds of each timestamp. Erased when the value is null or has no time part,
and for the WHOLE column when the evidence looks truncated to the minute (at least half of
≥ 4 readable values have second 0 — marked data has second 0 one time in sixty). That
decision uses the evidence only.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from leaktrace.channels.base import ERASED, MarkChannel, Symbols

__all__ = ["TimestampChannel"]


class TimestampChannel(MarkChannel):
    name: ClassVar[str] = "timestamp"
    role: ClassVar[str] = "order_time"
    code: ClassVar[int] = 1
    alphabets: ClassVar[tuple[int, ...]] = (60,)
    may_change: ClassVar[str] = "the seconds of order_time (same minute)"

    def embed(self, values: pl.Series, symbols: Symbols) -> pl.Series:
        if not isinstance(values.dtype, pl.Datetime):
            return values
        secs = pl.Series(symbols[:, 0].astype(np.int64))
        df = pl.DataFrame({"t": values, "s": secs})
        out = df.select(
            (pl.col("t").dt.truncate("1m") + pl.duration(seconds=pl.col("s"))).alias(values.name)
        ).to_series()
        return out.cast(values.dtype)

    def read(self, values: pl.Series) -> Symbols:
        n = values.len()
        out = np.full((n, 1), ERASED, dtype=np.int16)
        if not isinstance(values.dtype, pl.Datetime):
            return out
        secs = values.dt.second()
        valid = secs.is_not_null().to_numpy()
        s = secs.fill_null(0).to_numpy().astype(np.int16)
        readable = int(valid.sum())
        if readable >= 4 and int(((s == 0) & valid).sum()) * 2 >= readable:
            return out
        out[valid, 0] = s[valid]
        return out
