"""Small vectorised text features shared by the text channels (width of digits)."""

from __future__ import annotations

import numpy as np
import polars as pl

from leaktrace.channels.base import ERASED, Symbols

HALF_DIGITS = [str(d) for d in range(10)]
FULL_DIGITS = [chr(0xFF10 + d) for d in range(10)]
ANY_DIGIT = "[0-9０-９]"


def to_full_digits(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(HALF_DIGITS, FULL_DIGITS)


def to_half_digits(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(FULL_DIGITS, HALF_DIGITS)


def choose(bit: pl.Expr, one: pl.Expr, zero: pl.Expr) -> pl.Expr:
    return pl.when(bit == 1).then(one).otherwise(zero)


def run_stages(df: pl.DataFrame, stages: list[pl.Expr], name: str) -> pl.Series:
    """Apply rewrite stages to column ``v`` of ``df`` one after the other, materialising each.

    Why: every stage reads ``v`` in both branches of a :func:`choose`; composed into one
    expression, stage ``j`` would hold ``2^j`` copies of stage 1 and eager Polars (no
    common-subexpression elimination) evaluates every copy — 16x the work for four binary
    stages. Materialising ``v`` between stages costs one string column per stage.
    """
    for stage in stages:
        df = df.with_columns(stage.alias("v"))
    return df.get_column("v").alias(name)


def read_binary(df: pl.DataFrame, zero: pl.Expr, one: pl.Expr) -> Symbols:
    """0 where only ``zero`` holds, 1 where only ``one`` holds, ERASED otherwise."""
    z = df.select(zero.fill_null(False)).to_series().to_numpy()
    o = df.select(one.fill_null(False)).to_series().to_numpy()
    out = np.full(z.shape[0], ERASED, dtype=np.int16)
    out[z & ~o] = 0
    out[o & ~z] = 1
    return out


def digit_width_feature(v: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(reads as 0, reads as 1): all digits half-width / all digits full-width."""
    half = v.str.contains("[0-9]")
    full = v.str.contains("[０-９]")
    return half & ~full, full & ~half


def read_ternary(df: pl.DataFrame, zero: pl.Expr, one: pl.Expr, two: pl.Expr) -> Symbols:
    """The index of the one feature that holds; ERASED when none or several hold."""
    flags = [df.select(e.fill_null(False)).to_series().to_numpy() for e in (zero, one, two)]
    count = flags[0].astype(np.int8) + flags[1] + flags[2]
    out = np.full(count.shape[0], ERASED, dtype=np.int16)
    for k, f in enumerate(flags):
        out[f & (count == 1)] = k
    return out


def symbol_frame(values: pl.Series, symbols: Symbols) -> pl.DataFrame:
    """The value column ``v`` beside one ``b<j>`` column per symbol position: the frame
    every staged text-channel embed works on."""
    bits = {f"b{j}": pl.Series(symbols[:, j].astype(np.int8)) for j in range(symbols.shape[1])}
    return pl.DataFrame({"v": values, **bits})
