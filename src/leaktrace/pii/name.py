"""Chinese personal names: 2–4 CJK characters, common surnames, masked forms.

A bare "2–4 CJK characters" test also accepts 顺丰速运 or 已发货, so the score separates
names whose first character (or first two, for 欧阳/司马 …) is a common surname — strong —
from merely name-shaped values — weak. Masked names (张*, 张**, 张*三, 欧阳*) are names by
construction. Everything is vectorised: surname membership is an ``is_in`` on a slice.
"""

from __future__ import annotations

import polars as pl

from leaktrace.pii.base import Detector, register
from leaktrace.pii.text import canonical
from leaktrace.roles import Role

__all__ = [
    "COMMON_SURNAMES",
    "COMPOUND_SURNAMES",
    "NAME",
    "has_common_surname",
    "is_chinese_name",
    "is_masked_name",
    "normalise_name",
]

_CJK = r"\p{Han}"
NAME_RE = rf"^{_CJK}{{2,4}}$"
MASKED_NAME_RE = rf"^{_CJK}{{1,2}}\*{{1,3}}{_CJK}?$"
_NAME_OR_MASKED_RE = f"{NAME_RE}|{MASKED_NAME_RE}"

# The ~120 most frequent single-character surnames cover > 90 % of the population.
COMMON_SURNAMES: frozenset[str] = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "呼延",
    }
)


def normalise_name(expr: pl.Expr) -> pl.Expr:
    """Width fold (``＊`` → ``*``), drop whitespace and the middle dot of minority names."""
    return canonical(expr).str.replace_all(r"[·•・]", "")


def is_masked_name(expr: pl.Expr) -> pl.Expr:
    """Boolean: a masked name such as 张*, 张**, 张*三, 欧阳*."""
    return normalise_name(expr).str.contains(MASKED_NAME_RE).fill_null(False)


def is_chinese_name(expr: pl.Expr) -> pl.Expr:
    """Boolean: name-shaped (2–4 CJK characters) or masked."""
    return normalise_name(expr).str.contains(_NAME_OR_MASKED_RE).fill_null(False)


def has_common_surname(norm: pl.Expr) -> pl.Expr:
    """Boolean: starts with a common (single or compound) surname (expects normalised)."""
    return (
        norm.str.slice(0, 1).is_in(list(COMMON_SURNAMES))
        | norm.str.slice(0, 2).is_in(list(COMPOUND_SURNAMES))
    ).fill_null(False)


NAME = register(
    Detector(
        name="cn_name",
        role=Role.NAME,
        pattern=_NAME_OR_MASKED_RE,
        normalise=normalise_name,
        checksum=has_common_surname,
        context=("姓名", "收货人", "客户", "name", "consignee"),
        weak_score=0.3,
        strong_score=0.8,
    )
)
