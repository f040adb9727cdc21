"""Product titles: the mark-invariant canonical form and a content heuristic.

Marks in product titles switch bracket styles (【】 / [] / 〔〕 / ()), the multiplication
sign in specifications (500ml×2 / 500ml*2 / 500mlx2), widths and spacing. The canonical
form erases exactly those degrees of freedom so the title identifies the product whatever
copy it came from.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.text import canonical

__all__ = ["PRODUCT_SPEC_RE", "canonical_product", "canonical_product_str", "product_score"]

_BRACKETS = r"[()（）\[\]【】〔〕〖〗]"
_TIMES = r"[×*✕✖]"
PRODUCT_SPEC_RE = (
    r"(?i)\d+(?:\.\d+)?\s*(?:ml|l|g|kg|mg|cm|mm|m|寸|英寸|gb|tb|w|mah|件|装|支|只|个|片|盒|瓶|袋|包|双|套|条|斤|克|升|毫升|粒|抽|卷)"
    r"|[【\[〔（(].+?[】\]〕）)]"
)


def canonical_product(expr: pl.Expr) -> pl.Expr:
    """Identity form of a product title.

    Width fold, whitespace removed, brackets removed (contents kept), ``×/x/X/*`` between
    a number (optionally followed by a short unit such as ``ml``) → ``x``, ASCII lower-cased.
    """
    e = canonical(expr).str.replace_all(_BRACKETS, "").str.to_lowercase()
    # A multiplication sign right after a number (and optional unit): 500ml×2, 30*40*50.
    # Matching "number [unit] sign" keeps chains to one non-overlapping pass; X/x are
    # already x after lower-casing.
    return e.str.replace_all(rf"(\d[a-z]{{0,3}}){_TIMES}", "${1}x")


def canonical_product_str(value: str) -> str:
    """Scalar :func:`canonical_product`."""
    return str(pl.select(canonical_product(pl.lit(value))).item())


def product_score(expr: pl.Expr) -> pl.Expr:
    """Per-value evidence that a value is a product title (0–0.85).

    Any CJK text of 4+ characters is weak evidence (0.4) — free-text notes look like that
    too; a bracket or a specification (500ml, 2件装) adds 0.25, length ≥ 12 adds 0.2.
    """
    v = canonical(expr)
    base = v.str.contains(r"\p{Han}").fill_null(False) & (v.str.len_chars() >= 4)
    spec = v.str.contains(PRODUCT_SPEC_RE).fill_null(False)
    long = (v.str.len_chars() >= 12).fill_null(False)
    return (
        pl.when(base)
        .then(
            0.4 + pl.when(spec).then(0.25).otherwise(0.0) + pl.when(long).then(0.2).otherwise(0.0)
        )
        .otherwise(0.0)
    )
