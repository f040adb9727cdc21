"""Chinese postal addresses: the mark-invariant canonical form, parsing, generalisation.

The address mark channel writes each recipient's copy with different but equivalent
spellings: full- vs half-width digits, 3号楼 / 3栋 / 3幢, 501室 / 501, 3-2-501 / 3#2-501 /
3—2—501, with or without brackets and spaces. :func:`canonical_address` must therefore map
*every* such variant to one string — it is the identity key that lets the tracer recognise
the row no matter which copy leaked. Invariance is a property test in tests/pii.

:func:`parse_address` splits the province / city / district / street / number prefix by
regex (vectorised ``extract_groups``); it is a heuristic for generalising and for drawing
canary addresses from real distributions, not a gazetteer.
"""

from __future__ import annotations

import functools

import polars as pl

from leaktrace.pii.base import Detector, register
from leaktrace.pii.text import canonical
from leaktrace.roles import Role

__all__ = [
    "ADDRESS",
    "ADDRESS_FIELDS",
    "canonical_address",
    "canonical_address_str",
    "generalise_to_district",
    "parse_address",
]

_BRACKETS = r"[()（）\[\]【】〔〕〖〗{}｛｝<>《》]"
# Separators a mark may swap between two numbers. ASCII '-' last so it is literal.
_SEPARATORS = r"[#—–―‐‑−－~～-]+"
_BUILDING = r"(\d+)(?:号楼|栋|幢|座楼)"

ADDRESS_FIELDS = ("province", "city", "district", "street", "number", "rest")

_PARSE_RE = (
    r"^(?P<province>[^省]{2,7}省|[^区]{2,12}?自治区|[^区]{2,6}特别行政区|北京市|天津市|上海市|重庆市)?"
    r"(?P<city>[^省市区县]{1,12}?(?:自治州|地区|盟|市))?"
    r"(?P<district>[^省市区县]{1,10}?(?:新区|区|县|旗|市))?"
    r"(?P<street>[^省市区县]{1,20}?(?:大道|路|街|巷|弄|胡同|道|镇|乡|村))?"
    r"(?P<number>[0-9]+号)?"
    r"(?P<rest>.*)$"
)

_MARKERS = r"[省市区县]|路|街|道|巷|号|镇|乡|村|小区|大厦|栋|单元|室"


def canonical_address(expr: pl.Expr) -> pl.Expr:
    """Mark-invariant identity form of an address.

    Steps, each undoing one family of variants the release step may write:
    width fold + whitespace removal; brackets dropped (contents kept); any separator run
    after a number → ``-``; ``N号楼``/``N栋``/``N幢`` → ``N栋``; ``N室`` → ``N``;
    ASCII upper-cased (``a座`` ≡ ``A座``). 单元 is kept.
    """
    e = canonical(expr).str.replace_all(_BRACKETS, "")
    # A separator run right after a digit → '-'. Matching "digit + separators" (not
    # "digit sep digit") keeps chains like 3#2—501 to one non-overlapping pass.
    e = e.str.replace_all(rf"(\d){_SEPARATORS}", "${1}-")
    e = e.str.replace_all(_BUILDING, "${1}栋")
    e = e.str.replace_all(r"(\d)室", "${1}")
    return e.str.to_uppercase()


def canonical_address_str(value: str) -> str:
    """Scalar :func:`canonical_address`."""
    return str(pl.select(canonical_address(pl.lit(value))).item())


def parse_address(expr: pl.Expr) -> pl.Expr:
    """Struct ``{province, city, district, street, number, rest}`` (nulls where absent).

    Parses the width-folded, whitespace-free form so that full-width house numbers parse.
    """
    return canonical(expr).str.extract_groups(_PARSE_RE).struct.rename_fields(list(ADDRESS_FIELDS))


def generalise_to_district(expr: pl.Expr) -> pl.Expr:
    """``province + city + district`` — the coarse value masking may disclose.

    Null when none of the three could be parsed (never leaks the street part).
    """
    # Same value as joining parse_address's first three groups, at a tenth of the cost: the
    # groups are consecutive from the start, so their join is the match of _PARSE_RE cut
    # before ``street`` (see _district_prefix_re), found without capture groups.
    prefix = canonical(expr).str.extract_all(_district_prefix_re()).list.first()
    # Named "province" as the join used to be (concat_str takes its first input's name), so a
    # ``with_columns`` caller still gets the same column and does not overwrite its input.
    return prefix.replace("", None).alias("province")


@functools.cache
def _district_prefix_re() -> str:
    """``^(province)?(city)?(district)?`` of :data:`_PARSE_RE`, as non-capturing groups.

    Its match is exactly the join of parse_address's province, city and district: the
    parts of _PARSE_RE after ``district`` are all optional and end in ``(.*)$``, which
    succeeds from any position of a canonical value (no whitespace, so no ``\\n`` for
    ``.`` to stop at), so leftmost-first matching makes the same choices for the first
    three groups with or without them.
    """
    head, sep, _ = _PARSE_RE.partition("(?P<street>")
    if not sep:  # pragma: no cover - guards an edit of _PARSE_RE
        raise AssertionError("_PARSE_RE has no street group")
    for name in ADDRESS_FIELDS[:3]:
        head = head.replace(f"(?P<{name}>", "(?:")
    return head


ADDRESS = register(
    Detector(
        name="cn_address",
        role=Role.ADDRESS,
        pattern=r"^.{6,}$",
        normalise=canonical,
        checksum=lambda e: e.str.contains(_MARKERS).fill_null(False),
        context=("地址", "收货地址", "address"),
        weak_score=0.0,
        strong_score=0.85,
    )
)
