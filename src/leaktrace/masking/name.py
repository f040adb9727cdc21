"""``mask_name``: 张三 → 张*, 欧阳娜娜 → 欧阳**, 阿卜杜拉·买买提 → 阿***·***.

Convention: GB/T 41833-2022 (快递电子运单) requires the recipient's name on a waybill to be
de-identified by hiding at least one character; the industry's privacy waybill (隐私面单)
keeps the surname and stars the given name (王**). We keep the surname and replace every
other character with ``*`` one for one (the length stays, as on waybills, so a courier can
still match a parcel to a caller who says "I'm 王, three characters").

Decisions:

* Compound surnames (复姓, list below) are kept whole when the name has at least three
  characters: 欧阳娜娜 → 欧阳**, 司马光 → 司马*; a two-character 欧阳 is 欧*.
* Names with a separator dot (少数民族 transliterations, ``·``/``•``/``・``/``.``) keep only
  the first character; separators and spaces are kept, every other character is starred:
  阿卜杜拉·买买提 → 阿***·***.
* Latin names follow the same rule (John Smith → J*** *****).
* A one-character value becomes ``*``. Leading/trailing whitespace is stripped first.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from leaktrace.masking._text import two_paths
from leaktrace.masking.base import MaskContext, MaskingOperator
from leaktrace.rewrite import native_mask

__all__ = ["COMPOUND_SURNAMES", "MaskName", "mask_names_reference"]

COMPOUND_SURNAMES: tuple[str, ...] = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "夏侯", "轩辕", "令狐", "独孤", "南宫", "西门", "百里", "呼延",
    "端木", "太史", "申屠", "公羊", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于",
    "赫连", "闻人", "万俟", "钟离", "拓跋", "东郭", "第五", "梁丘", "左丘", "司空",
    "闾丘", "亓官", "司寇", "子车", "颛孙", "巫马", "公西", "漆雕", "乐正", "壤驷",
    "谷梁", "宰父", "夹谷", "段干", "东门", "羊舌", "微生", "公良", "仲孙", "叔孙",
)  # fmt: skip

_COMPOUND_RE = "^(?:" + "|".join(COMPOUND_SURNAMES) + ")"
_SEPARATORS = r"[^\s·•・.．]"
# The general rule is needed only for values with whitespace or a separator dot, a compound
# surname, or fewer than two characters. Any other value is its own stripped form, keeps
# exactly one character, and every character after it becomes a star: a padding.
_NEEDS_GENERAL_RULE = r"[\s·•・.．]|" + _COMPOUND_RE


class MaskName(MaskingOperator):
    name = "mask_name"
    description = (
        "keeps the surname (compound surnames whole), stars every other character; "
        "GB/T 41833-2022 privacy waybill: hide at least one character of the name"
    )

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        self._no_arg()

    def expr(self, col: pl.Expr) -> pl.Expr:
        return col.map_batches(_mask_names, return_dtype=pl.String, is_elementwise=True)


def _surname_params() -> bytes:
    """The compound surnames as the native kernel looks them up: a 4096-bit map of their
    first characters (code point mod 4096), then sorted keys ``first << 32 | second``."""
    bitmap = np.zeros(4096, dtype=bool)
    bitmap[[ord(name[0]) % 4096 for name in COMPOUND_SURNAMES]] = True
    pairs = [ord(name[0]) << 32 | ord(name[1]) for name in COMPOUND_SURNAMES]
    keys = np.sort(np.array(pairs, dtype=np.uint64))
    return np.packbits(bitmap, bitorder="little").tobytes() + keys.tobytes()


_SURNAME_KEYS = _surname_params()


def _mask_names(values: pl.Series) -> pl.Series:
    """The operator: plain names natively (``_rewrite.c`` OP_MASK_NAME), the rest by
    :func:`mask_names_reference`, which is the definition."""
    s = values.cast(pl.String)
    return native_mask(s, "OP_MASK_NAME", _SURNAME_KEYS, mask_names_reference).alias(values.name)


def mask_names_reference(values: pl.Series) -> pl.Series:
    """mask_name in Polars: the definition the native kernel must agree with."""
    s = values.cast(pl.String)
    v = pl.col("v")
    general = (
        s.to_frame("v")
        .select((v.str.contains(_NEEDS_GENERAL_RULE) | (v.str.len_chars() < 2)).fill_null(False))
        .to_series()
    )
    return two_paths(s, general, _padded, _rule).alias(values.name)


def _keep(s: pl.Expr, n: pl.Expr) -> pl.Expr:
    """How many leading characters stay visible (``n`` = length of ``s`` in characters)."""
    return (
        pl.when(s.str.contains(_COMPOUND_RE) & (n >= 3))
        .then(pl.lit(2, dtype=pl.UInt32))
        .when(n >= 2)
        .then(pl.lit(1, dtype=pl.UInt32))
        .otherwise(pl.lit(0, dtype=pl.UInt32))
    )


def _padded(s: pl.Series) -> pl.Series:
    """The rule for the common case: first character, then one ``*`` per character."""
    v = pl.col("v")
    return s.to_frame("v").select(v.str.head(1).str.pad_end(v.str.len_chars(), "*")).to_series()


def _rule(values: pl.Series) -> pl.Series:
    """The general rule: strip, keep the surname, star every character but separators."""
    s, keep = pl.col("v"), pl.col("keep")
    frame = values.to_frame("v").select(s.str.strip_chars())
    frame = frame.with_columns(_keep(s, s.str.len_chars()).alias("keep"))
    return frame.select(
        s.str.head(keep) + s.str.slice(keep).str.replace_all(_SEPARATORS, "*")
    ).to_series()
