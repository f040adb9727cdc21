"""Width folding and canonical text for matching Chinese data.

Leaked files re-type values: an address copied through WeChat or an Excel sheet made on a
Chinese input method comes back with full-width digits (１３８), an ideographic space or
full-width punctuation. Two values that a human reads as "the same" must compare equal, so
every identity match in leaktrace goes through :func:`canonical`. At the same time the
*width* of a character is one of the mark channels, so folding is never applied to the data
that is written out — only to the keys used to recognise a row.

Everything here is a Polars expression (vectorised, no Python per cell); the ``*_str``
helpers are scalar conveniences for tests and single values.
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "FULLWIDTH",
    "HALFWIDTH",
    "NUMBER_SEPARATORS",
    "canonical",
    "canonical_str",
    "fold_width",
    "fold_width_str",
    "number_separator_run",
    "strip_whitespace",
]

NUMBER_SEPARATORS = (
    " \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b"
    "\u200c\u200d\u2060\ufeff\u00ad\u202f\u205f\u3000.\u3002\u3001\u00b7\u30fb\u2022_~-"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\u30fc\uff70\uff0d\uff0e\uff3f\uff5e"
)
"""Characters people put between the digit groups of a phone or ID number they type
(138 1234 5678, 138-1234-5678, 138.1234.5678 and 138。1234。5678 — the same key in Chinese
input mode —, a no-break space or an invisible character copied from a web page or a
phone, full-width forms). Not the slash: 150/1000/2000W lists a product's options, and
nobody types a phone so (session 26's second review). One list for the input check (``io.columns``) and the masking
of numbers in text (``masking.numbers``, whose C twin ``_rewrite.c`` ``num_sep`` lists the
same code points)."""


def number_separator_run() -> str:
    """A regex for what may stand between two digit groups: up to four separators
    (``138 - 1234 - 5678``, ``138 —— 1234``), or none."""
    body = "".join("\\" + ch if ch in "\\-]^" else ch for ch in NUMBER_SEPARATORS)
    return f"[{body}]{{0,4}}"


# U+FF01..U+FF5E map one-to-one onto ASCII U+0021..U+007E; U+3000 is the ideographic space.
FULLWIDTH: list[str] = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
HALFWIDTH: list[str] = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
_FOLD_TABLE = str.maketrans(dict(zip(FULLWIDTH, HALFWIDTH, strict=True)))

# Rust regex: \s is Unicode-aware, so it covers U+3000, NBSP, tabs and newlines.
_WHITESPACE = r"\s+"


def fold_width(expr: pl.Expr) -> pl.Expr:
    """Full-width ASCII variants (digits, letters, punctuation, U+3000) → half-width.

    Aho-Corasick (``str.replace_many``) over the 95 full-width forms: one pass per value.
    """
    return expr.str.replace_many(FULLWIDTH, HALFWIDTH)


def strip_whitespace(expr: pl.Expr) -> pl.Expr:
    """Remove every whitespace character, including the ideographic space."""
    return expr.str.replace_all(_WHITESPACE, "")


def canonical(expr: pl.Expr) -> pl.Expr:
    """The matching form of a value: width folded and all whitespace removed.

    This is the NFKC-equivalent fold for the characters that occur in Chinese order data
    (full-width ASCII and the ideographic space); whitespace carries no identity in phone
    numbers, names, IDs or addresses, and it is one of the cheapest things to re-type.
    """
    return strip_whitespace(fold_width(expr))


def fold_width_str(value: str) -> str:
    """Scalar :func:`fold_width`."""
    return value.translate(_FOLD_TABLE)


def canonical_str(value: str) -> str:
    """Scalar :func:`canonical`."""
    return "".join(fold_width_str(value).split())
