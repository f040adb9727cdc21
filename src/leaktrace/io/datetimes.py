"""Vectorised parsing of the timestamp spellings found in Chinese order exports.

``2024-09-12 14:03:27``, ``2024/9/12 14:03``, ``2024年9月12日 14:03:27``, ``2024.09.12``,
ISO ``2024-09-12T14:03:27``, compact ``20240912140327`` and date-only forms. The value is
first rewritten to one separator style (年/月// → ``-``, 日/T → space, width folded),
then ``str.to_datetime`` is tried per format on the values still unparsed — whole-Series
passes, no Python per cell. The timestamp's seconds are a mark channel, so nothing is rounded.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.text import fold_width

__all__ = ["DATETIME_FORMATS", "has_date_separator", "parse_datetime"]

_FAST = "%Y-%m-%d %H:%M:%S"
DATETIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y.%m.%d %H:%M:%S%.f",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)


def _unify(expr: pl.Expr) -> pl.Expr:
    # Literal replacements only (Aho-Corasick): capture-group regexes cost ~10x more on
    # a million rows. chrono's format space matches any run of whitespace, so the extra
    # space left by "日 " is harmless.
    e = fold_width(expr.cast(pl.String))
    e = e.str.replace_many(["年", "月", "/", "日", "T"], ["-", "-", "-", " ", " "])
    return e.str.strip_chars().str.replace(r"(?:Z|[+-]\d\d:?\d\d)$", "").str.strip_chars()


def _parse_series(s: pl.Series) -> pl.Series:
    """Try formats in turn, each only on the values no earlier format parsed.

    Whole-Series operations throughout (the loop is over formats, not cells). Typical
    exports use one format, so after the first attempt nothing is left and the more
    expensive unification is never run on a million rows.
    """
    frame = pl.DataFrame({"v": s.cast(pl.String)})
    # No parse cache: order times are nearly unique, and the cache cost about as much
    # again as parsing (bench/io_bench.py).
    out = frame.select(
        pl.col("v")
        .str.strip_chars()
        .str.to_datetime(_FAST, strict=False, time_unit="us", cache=False)
    ).to_series()
    remaining = frame.select(
        pl.when(out.is_null()).then(pl.col("v")).otherwise(None).alias("v")
    ).to_series()
    if remaining.null_count() == remaining.len():
        return out.alias(s.name)
    unified = pl.DataFrame({"v": remaining}).select(_unify(pl.col("v"))).to_series()
    for fmt in DATETIME_FORMATS:
        if unified.null_count() == unified.len():
            break
        parsed = unified.str.to_datetime(fmt, strict=False, time_unit="us", cache=False)
        out = out.fill_null(parsed)
        unified = (
            pl.DataFrame({"u": unified, "p": parsed})
            .select(pl.when(pl.col("p").is_null()).then(pl.col("u")).otherwise(None))
            .to_series()
        )
    return out.alias(s.name)


def parse_datetime(expr: pl.Expr) -> pl.Expr:
    """Datetime[μs] (naive, as written) or null where no known format fits."""
    return expr.map_batches(_parse_series, return_dtype=pl.Datetime("us"), is_elementwise=True)


def has_date_separator(expr: pl.Expr) -> pl.Expr:
    """Boolean: contains a date separator — excludes 14-digit order numbers that would
    otherwise parse as compact ``%Y%m%d%H%M%S`` timestamps during role inference."""
    return expr.str.contains(r"\d[-/年.]\d").fill_null(False)
