"""``generalise_address``: keep the administrative prefix, withhold the rest.

浙江省杭州市西湖区文三路478号华星时代广场A座 → 浙江省杭州市西湖区 (default, ``district``),
→ 浙江省杭州市 (``city``), → 浙江省 (``province``).

Why: GB/T 35273-2020 treats a precise address as personal information; for analytics and
customer service the district (县级行政区) is enough, and GB/T 41833-2022 privacy waybills hide
the detailed part of the address too. Street, house number, building and room never pass.

How (one regex, vectorised, no lookup table): the longest prefix of
``[province][city][市辖区][district]`` found at the start of the value, where

* province = 北京/天津/上海/重庆 (市 optional — 直辖市) or ``…省``/``…自治区``/``…特别行政区``;
* city = ``…市``/``…自治州``/``…地区``/``…盟`` (optional: 直辖市 and 省直辖县级市 have none);
* district = ``…区``/``…县``/``…旗``/``…市`` (county-level city) incl. 自治县/自治旗/新区/林区/特区;
* whitespace between parts is allowed (``广西壮族自治区 贵港市 覃塘区``) and kept.

Fail-safe choices: a part may not contain characters that start street-level text
(镇乡街路号村社, digits) after its first character, so ``东莞市长安镇锦厦社区`` stops at
``东莞市`` instead of leaking ``长安镇锦厦社区``; a level that is not present falls back to the
coarser one (``湖北省仙桃市郑场镇`` → ``湖北省仙桃市`` at district level); a value with no
recognisable prefix (or, at ``province`` level, no province) becomes null — withheld, never
passed through. Short forms without suffixes (浙江杭州西湖区) are recognised only at district
level, as one district-like token.
"""

from __future__ import annotations

import polars as pl

from leaktrace.masking.base import MaskContext, MaskingOperator

__all__ = ["GeneraliseAddress"]

# Inside a place name: no whitespace, digits, Latin letters or punctuation, and none of the
# characters that start street-level text (镇乡街路号村社) or name a building's parts
# (室栋幢座层弄巷; not 楼: 鼓楼区, 石楼县): a room written first (三〇一室，浙江省…) is no
# province. Punctuation is listed, not ``\p{P}``: that class made the regex 12 times slower
# (1.14 s against 0.09 s per 1M addresses).
_NOT_INNER = (
    r"\s\d0-9A-Za-zＡ-Ｚａ-ｚ，、,。．；;：:（）()【】\[\]《》<>\-—–·•/\\#＃"
    r"省市区县旗镇乡街路号村社室栋幢座层弄巷〇"
)
_INNER = rf"[^{_NOT_INNER}]"
# The character before a final 区 or 市 must not make a compound, a scenic area, a campus,
# a numbered zone or a shop of it (阳光小区, 西溪湿地景区, 翠苑一区, 联华超市). No lookup
# table: a real name this would refuse is listed in _DISTRICT below.
_LAST_QU = rf"[^{_NOT_INNER}小景园校厂片街商院营一二三四五六七八九十]"
_LAST_SHI = rf"[^{_NOT_INNER}超]"  # 东营市 is a city: only 超市 is refused
_PROVINCE = rf"(?:(?:北京|天津|上海|重庆)市?|\p{{Han}}{_INNER}{{1,7}}?(?:省|自治区|特别行政区))"
# A city never starts with 市/区/县 (that is 市辖区 or a district such as 市中区).
_CITY = (
    rf"(?:[^\s\d0-9市区县]{_INNER}{{0,10}}?(?:自治州|地区|盟)"
    rf"|[^\s\d0-9市区县]{_INNER}{{0,9}}?{_LAST_SHI}市)"
)
_DISTRICT = (
    rf"(?:\p{{Han}}{_INNER}{{0,14}}?(?:自治县|自治旗|新区|林区|特区|县|旗)"
    rf"|(?:\p{{Han}}{_INNER}{{0,13}}?)?(?:{_LAST_QU}区|{_LAST_SHI}市)"
    # the real districts the rule above would refuse (every county-level name of the
    # synthetic shop's current table is checked by tests/masking/test_fail_closed.py)
    r"|(?:上街|下花园|东营|二七|梁园|绿园|船营)区)"
)

_PATTERNS = {
    "province": rf"^\s*({_PROVINCE})",
    "city": rf"^\s*((?:{_PROVINCE}\s*)?{_CITY}|{_PROVINCE})",
    "district": (
        rf"^\s*((?:{_PROVINCE}\s*)?(?:{_CITY}\s*)?(?:市辖区\s*)?{_DISTRICT}"
        rf"|(?:{_PROVINCE}\s*)?{_CITY}|{_PROVINCE})"
    ),
}


class GeneraliseAddress(MaskingOperator):
    name = "generalise_address"
    description = (
        "keeps province/city/district (default district; arg city or province); "
        "street, number, building and room are withheld; unrecognised addresses become null"
    )

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        level = arg or "district"
        if level not in _PATTERNS:
            raise self._bad_arg(", ".join(_PATTERNS))
        self.level = level

    def expr(self, col: pl.Expr) -> pl.Expr:
        # The prefix is group 1 of the pattern, i.e. the whole match minus the leading ``\s*``:
        # group 1 starts with a non-space character and always ends in a Han suffix (省, 市,
        # 区, …), so stripping the whole match gives exactly group 1, never "" (``\s`` and
        # ``strip_chars`` are both Unicode White_Space). ``extract_all`` finds the match with
        # the regex's DFA; ``extract`` asks for capture groups, which costs 2-3x as much. The
        # pattern is anchored at ``^`` and never matches empty, so there is at most one match.
        return (
            col.cast(pl.String)
            .str.extract_all(_PATTERNS[self.level])
            .list.first()
            .str.strip_chars_start()
        )
