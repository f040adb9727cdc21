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

import polars as pl

from leaktrace.masking.base import MaskContext, MaskingOperator

__all__ = ["COMPOUND_SURNAMES", "MaskName"]

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
        s = col.cast(pl.String).str.strip_chars()
        keep = (
            pl.when(s.str.contains(_COMPOUND_RE) & (s.str.len_chars() >= 3))
            .then(pl.lit(2, dtype=pl.UInt32))
            .when(s.str.len_chars() >= 2)
            .then(pl.lit(1, dtype=pl.UInt32))
            .otherwise(pl.lit(0, dtype=pl.UInt32))
        )
        head = s.str.head(keep)
        rest = s.str.slice(keep).str.replace_all(_SEPARATORS, "*")
        return head + rest
