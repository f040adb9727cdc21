"""Vectorised parsing of the timestamp spellings found in Chinese order exports.

``2024-09-12 14:03:27``, ``2024/9/12 14:03``, ``2024年9月12日 14:03:27``, ``2024.09.12``,
ISO ``2024-09-12T14:03:27``, compact ``20240912140327`` and date-only forms. The value is
first rewritten to one separator style (年/月/./ → ``-``, 日/T → space, width folded),
then a handful of ``str.to_datetime`` attempts are coalesced — a few vectorised passes,
no Python per cell. The timestamp's seconds are a mark channel, so nothing is rounded.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.text import fold_width

__all__ = ["DATETIME_FORMATS", "has_date_separator", "parse_datetime"]

DATETIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
)


def _unify(expr: pl.Expr) -> pl.Expr:
    e = fold_width(expr.cast(pl.String)).str.strip_chars()
    # Twice: replace_all does not see the overlapping second separator in 2024/9/12.
    e = e.str.replace_all(r"(\d)\s*[年月/]\s*(\d)", "${1}-${2}")
    e = e.str.replace_all(r"(\d)\s*[年月/]\s*(\d)", "${1}-${2}")
    # Dotted dates only at the start: a dot later is fractional seconds.
    e = e.str.replace(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})", "${1}-${2}-${3}")
    e = e.str.replace_all(r"(\d)\s*日\s*", "${1} ").str.replace_all(r"(\d)T(\d)", "${1} ${2}")
    e = e.str.replace_all(r"\s+", " ").str.replace(r"(?:Z|[+-]\d\d:?\d\d)$", "")
    return e.str.strip_chars()


def parse_datetime(expr: pl.Expr) -> pl.Expr:
    """Datetime[μs] (naive, as written) or null where no known format fits."""
    u = _unify(expr)
    return pl.coalesce(
        [u.str.to_datetime(f, strict=False, time_unit="us") for f in DATETIME_FORMATS]
    )


def has_date_separator(expr: pl.Expr) -> pl.Expr:
    """Boolean: contains a date separator — excludes 14-digit order numbers that would
    otherwise parse as compact ``%Y%m%d%H%M%S`` timestamps during role inference."""
    return expr.str.contains(r"\d[-/年.]\d").fill_null(False)
