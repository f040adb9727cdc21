"""``generalise_address``: keep the administrative prefix, withhold the rest.

浙江省杭州市西湖区文三路478号华星时代广场A座 → 浙江省杭州市西湖区 (default, ``district``),
→ 浙江省杭州市 (``city``), → 浙江省 (``province``).

Why: GB/T 35273-2020 treats a precise address as personal information; for analytics and
customer service the district (县级行政区) is enough, and GB/T 41833-2022 privacy waybills hide
the detailed part of the address too. Street, house number, building and room never pass.

How (one regex, vectorised): the longest prefix of
``[province][city][市辖区][district]`` found at the start of the value, where

* province = 北京/天津/上海/重庆 (市 optional — 直辖市) or ``…省``/``…自治区``/``…特别行政区``;
* city = a city of the geo table: ``…市``, ``…自治州``, ``…地区``, ``…盟`` (optional: 直辖市
  and 省直辖县级市 have none);
* district = ``…区``/``…县``/``…旗`` incl. 自治县/自治旗/新区/林区/特区, or a ``…市`` that is
  a county-level city (县级市) of the geo table;
* whitespace between parts is allowed (``广西壮族自治区 贵港市 覃塘区``) and kept.

Why a lookup table for cities and 县级市 (districts and counties are checked after the
regex instead, ``_real_district``: a table name, or at most 3 characters): a residential
compound or a mall is often named ``…城市花园``/``…城市广场``, so "any Han run ending in 市"
took 广东省东莞市万科城市花园 for a county-level city and passed ``万科城市`` (and 浙江省万科
城市花园 for a city, as "any Han run ending in 盟" took 浙江省创业联盟大厦 for one). These
names are therefore matched against the table the synthetic shop uses
(``leaktrace/synth/data/regions.json``, built from the current administrative divisions): its
cities for the city, its county-level ``…市`` for the district, compiled at import into the
same single regex (alternations of literals, which the regex engine runs in its DFA: no
per-row lookup). A name that is not in the table — a compound, a mall, or a real city the
table lacks or an old name (三亚市 and 天门市 are not in it) — is never kept: the value stops
at the coarser level (``广东省东莞市万科城市花园`` → ``广东省东莞市``, ``浙江省万科城市花园`` →
``浙江省``). Only a table name that starts right after the preceding part counts, so a compound
whose name merely ends in one (万科海城市花园; 海城市 is a county-level city) is cut too.

Fail-safe choices: a part not looked up may not contain characters that start street-level
text (镇乡街路号村社, digits) after its first character, so ``东莞市长安镇锦厦社区`` stops at
``东莞市`` instead of leaking ``长安镇锦厦社区``; a level that is not present falls back to the
coarser one (``湖北省仙桃市郑场镇`` → ``湖北省仙桃市`` at district level); a value with no
recognisable prefix (or, at ``province`` level, no province) becomes null — withheld, never
passed through. Short forms without suffixes (浙江杭州西湖区, 浙江金华义乌市) are recognised
only at district level, as one district-like token; before a table city or county-level city
only a province or city name of the table may stand (浙江杭州市, 浙江义乌市), never free text.
Two kinds of names are kept only after their own province or city (``_HOME_PAIRS``): the
national new areas the table lacks (四川省成都市天府新区, not 浙江省杭州市天府新区) and the
table's districts the rule cannot take whole because they hold a street character or 市
(河北省邯郸市肥乡区, 湖北省荆州市沙市区), looked up in the text after the city.
The regex keeps a second table city after the first (浙江省杭州市宁波市…: see _PATTERNS), and
any table county-level city after any city; a check after it (``_where_it_belongs``) keeps
a …市 only under the name it belongs to (浙江省杭州市东方市场 → 浙江省杭州市, 广东省东莞市海城市
花园 → 广东省东莞市), on the few values whose kept part ends in a table 市.
"""

from __future__ import annotations

import re

import polars as pl

from leaktrace.masking.base import MaskContext, MaskingOperator
from leaktrace.synth._data import load_json

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
# The character before a final 区 must not make a compound, a scenic area, a campus, a
# numbered zone or a shop of it (阳光小区, 西溪湿地景区, 翠苑一区), nor a province (内蒙古自治区,
# 香港特别行政区: as a district token it would win over province + city, 内蒙古自治区呼和浩特市).
# No lookup table for 区: a real name this would refuse is listed in _DISTRICT below.
_LAST_QU = rf"[^{_NOT_INNER}小景园校厂片街商院营一二三四五六七八九十治政]"


# Current cities (市) directly under a province that the geo table lacks: it is built from
# the ID-number region codes of python-stdnum, which stop before Hainan's cities of 1988-2015
# (三亚, 儋州, 三沙 and the province-administered 五指山 …), 济源 and 天门, and the cities of
# the Xinjiang Production and Construction Corps. Without them a real address there would be
# cut to its province (fail-closed, but a loss for every such customer). Written by hand.
_CITIES_THE_TABLE_LACKS = {
    **dict.fromkeys(["三亚", "三沙", "儋州", "五指山", "琼海", "文昌", "万宁", "东方"], "海南省"),
    "济源": "河南省",
    "天门": "湖北省",
    **dict.fromkeys(
        ["阿拉尔", "图木舒克", "五家渠", "北屯", "铁门关", "双河", "可克达拉", "昆玉",
         "胡杨河", "新星", "白杨"],
        "新疆维吾尔自治区",
    ),
}  # fmt: skip
"""Name (without 市) → its province."""


def _regions() -> list[tuple[str, str, list[str]]]:
    """(province, city, its district names) of the geo table, and the cities it lacks."""
    rows = [
        (r["province"], r["city"], [name for name, _code in r["districts"]])
        for r in load_json("regions.json")["cities"]
    ]
    return rows + [(prov, f"{name}市", []) for name, prov in _CITIES_THE_TABLE_LACKS.items()]


def _province_stem(province: str) -> str:
    return re.sub(r"(?:省|自治区|特别行政区)$", "", province)


def _table_names() -> tuple[list[str], ...]:
    """The geo table's names, longest first: the short forms of its provinces (浙江; 广西 and
    广西壮族 of 广西壮族自治区), its cities ending in 市 without it (杭州, 仙桃), its other
    cities (凉山彝族自治州, 阿克苏地区, 锡林郭勒盟) and its county-level cities ending in 市
    without it (义乌, 津市 of 津市市, 芒 of 芒市). 直辖市 are left to _PROVINCE."""
    provinces: set[str] = set()
    cities: set[str] = set()
    other_cities: set[str] = set()
    counties: set[str] = set()
    for province, city, districts in _REGIONS:
        stem = _province_stem(province)
        if stem != province:
            provinces |= {stem, stem[:2]}
        if city.endswith("市"):
            cities.add(city[:-1])
        elif city.endswith(("自治州", "地区", "盟")):
            other_cities.add(city)
        counties |= {name[:-1] for name in districts if name.endswith("市")}
    return tuple(_literals(n) for n in (provinces, cities, other_cities, counties))


def _literals(names: set[str] | list[str]) -> list[str]:
    """Names to go into a regex alternation: Han characters only (no escaping needed, and
    a table that held anything else is refused at import), longest first (the regex
    prefers the first alternative that matches)."""
    for name in names:
        if not (name and all("\u3400" <= ch <= "\u9fff" for ch in name)):
            raise ValueError(f"regions.json: unexpected place name {name!r}")
    return sorted(names, key=lambda x: (-len(x), x))


_REGIONS = _regions()
_PROVINCE_SHORT, _CITY_SHI, _CITY_OTHER, _COUNTY_SHI = (
    f"(?:{'|'.join(names)})" for names in _table_names()
)


def _places_before() -> tuple[set[str], list[str]]:
    """Which names may stand right before a ``…市`` of the table: ``"前|名"`` pairs (浙江省|
    杭州, 浙江|义乌, 金华市|义乌, 金华|义乌, 湖北省|仙桃 …: a city after its province, a
    county-level city after its city or province, in full or short form), and every such
    preceding name, longest first."""
    pairs: set[str] = set()
    for province, city, districts in _REGIONS:
        stem = _province_stem(province)
        p_forms = {province, stem, stem[:2]}
        c_forms = {city, city[:-1]} if city.endswith("市") else {city} if city else set()
        counties = {name[:-1] for name in districts if name.endswith("市")}
        if city.endswith("市"):
            pairs |= {f"{p}|{city[:-1]}" for p in p_forms}
        pairs |= {f"{f}|{k}" for f in p_forms | c_forms for k in counties}
    before = {pair.split("|")[0] for pair in pairs}
    return pairs, _literals(before)


_ETHNIC_GROUPS = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡",
    "纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬",
    "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安",
    "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)  # fmt: skip
"""The 55 minority nationalities, as autonomous areas' names spell them (族 optional)."""
_AUTONOMOUS = re.compile(
    "(?:(?:{})族?)*自治([县旗州])$".format("|".join(sorted(_ETHNIC_GROUPS, key=len, reverse=True)))
)
_WING = re.compile(r"^(\w)\w*?([左右])翼(\w*)旗$")


def _short_form(name: str) -> str | None:
    """How people write a county, banner or prefecture for short: 张家川回族自治县 → 张家川县,
    鄂温克族自治旗 → 鄂温克旗, 恩施土家族苗族自治州 → 恩施州, 科尔沁左翼中旗 → 科左中旗."""
    if m := _WING.match(name):
        return "".join(m.groups()) + "旗"
    for cut in range(2, len(name)):
        if m := _AUTONOMOUS.fullmatch(name, cut):
            stem = name[:cut].removesuffix("族")
            return stem + m.group(1) if len(stem) >= 2 else None
    return None


_SHORT_FORMS_BY_HAND = ("达茂旗",)
"""Short forms the rules of :func:`_short_form` do not give (达尔罕茂明安联合旗)."""


def _district_names() -> pl.Series:
    """Every county-level name of the table that is not a ``…市`` (区, 县, 旗, 自治县 …, and
    神农架林区, which the table lists as a city), their short forms and the short forms
    written by hand: the names kept wherever they stand. Not the new areas the table lacks
    (``_DISTRICTS_THE_TABLE_LACKS``): those are kept only at home (``_HOME_PAIRS``)."""
    names = {d for _p, _c, districts in _REGIONS for d in districts if not d.endswith("市")}
    names |= {c for _p, c, _d in _REGIONS if c and not c.endswith(("市", "自治州", "地区", "盟"))}
    names |= {f for n in names if (f := _short_form(n))}
    names |= set(_SHORT_FORMS_BY_HAND)
    return pl.Series(sorted(names), dtype=pl.String)


def _prefecture_short_forms() -> list[str]:
    """恩施州, 凉山州, 延边州 …: the short forms of the table's autonomous prefectures,
    longest first."""
    forms = {f for _p, c, _d in _REGIONS if c.endswith("自治州") and (f := _short_form(c))}
    return _literals(forms)


# The State Council's national new areas (国家级新区), all 19 it has approved (1992-2017:
# 国务院 approvals, listed in 国家发展改革委's 《国家级新区发展报告》), each with the
# province and the cities (地级市) it lies in. Three are districts of the table (上海市浦东新区,
# 天津市滨海新区, 重庆市两江新区), kept as any table district; the other 16 are functional areas
# (功能区), not administrative divisions, but addresses name them where a district stands
# (四川省成都市天府新区华阳街道), and each is a large, public area (hundreds to thousands of km²),
# no finer than a district. Longer than ``_SHORT_DISTRICT``, so without this list they were cut
# to the city. Kept only after their own province and/or city (or bare), never after another
# (杭州市天府新区 is a compound's name, not the area): see ``_HOME_PAIRS``. The cities: 西咸 and
# 贵安 straddle two cities each, 天府 成都 and 眉山, 赣江 南昌 and 九江; 滇中 lies in 昆明 (安宁,
# 嵩明, 官渡); 雄安 is 保定's 雄县, 容城 and 安新. Other functional areas (郑东新区, 苏州工业园区,
# the many 高新区 and 经开区) are not listed: they are no state-level list, and the short ones
# (高新区, 经开区) pass by ``_SHORT_DISTRICT`` anyway. Written by hand.
_DISTRICTS_THE_TABLE_LACKS = {
    "舟山群岛新区": ("浙江省", ("舟山市",)),
    "兰州新区": ("甘肃省", ("兰州市",)),
    "南沙新区": ("广东省", ("广州市",)),
    "西咸新区": ("陕西省", ("西安市", "咸阳市")),
    "贵安新区": ("贵州省", ("贵阳市", "安顺市")),
    "西海岸新区": ("山东省", ("青岛市",)),
    "金普新区": ("辽宁省", ("大连市",)),
    "天府新区": ("四川省", ("成都市", "眉山市")),
    "湘江新区": ("湖南省", ("长沙市",)),
    "江北新区": ("江苏省", ("南京市",)),
    "福州新区": ("福建省", ("福州市",)),
    "滇中新区": ("云南省", ("昆明市",)),
    "哈尔滨新区": ("黑龙江省", ("哈尔滨市",)),
    "长春新区": ("吉林省", ("长春市",)),
    "赣江新区": ("江西省", ("南昌市", "九江市")),
    "雄安新区": ("河北省", ("保定市",)),
}
"""Name → (its province, the cities it lies in)."""
_SHORT_DISTRICT = 3
"""A …区 kept by rule that the table does not know is kept when it has at most this many
characters, suffix included: real names are nearly all that short (临平区 and 钱塘区 of 2021
are not in the table), a compound or a block of one (万科城区, 阳光花园东区) is longer. No
such allowance for 县 and 旗: the table has every banner, new counties are not made any
more, and a short one is a street's or compound's start (红旗路, 老县城)."""

_PAIRS, _BEFORE = _places_before()
_DISTRICT_SERIES = _district_names()
_PAIR_SERIES = pl.Series(sorted(_PAIRS), dtype=pl.String)
_LAST_SHI_NAME = rf"(?:{_CITY_SHI}|{_COUNTY_SHI})市$"
# The district a kept prefix ends in, as far as it can be told without the regex's groups:
# the text after the last 省/市/区/县/旗/州/盟 or space (a district by rule holds none of
# them before its suffix). It stops early inside 靖州苗族侗族自治县 or 通州区 — such a
# tail is then only checked again more carefully, never cut for that alone.
_TAIL_DISTRICT = r"[州盟]?[^省市区县旗州盟\s]*[区县旗]$"
_SHORT_NAMES = "^(?:{})?(?:{}|{})?".format(
    _PROVINCE_SHORT, "|".join(_prefecture_short_forms()), _CITY_SHI
)
_NAME_BEFORE = "(?:{})$".format("|".join(_BEFORE))
# A 直辖市 written twice, as Taobao's and Tmall's exports write the province and the city
# of one (北京 北京市 朝阳区 …): taken whole, first (the regex prefers the first alternative
# that matches), or the value stopped at 北京 and every customer of the four cities lost
# their district while the canaries kept theirs (session 25's review).
_MUNICIPALITY_TWICE = "|".join(rf"{m}\s*{m}市" for m in ("北京", "天津", "上海", "重庆"))
_PROVINCE = (
    rf"(?:{_MUNICIPALITY_TWICE}|(?:北京|天津|上海|重庆)市?"
    rf"|\p{{Han}}{_INNER}{{1,7}}?(?:省|自治区|特别行政区))"
)
_CITY = rf"(?:{_CITY_OTHER}|{_CITY_SHI}市)"
_COUNTY_CITY = rf"{_COUNTY_SHI}市"
# Districts and counties are not looked up, county-level cities are; they come first (辉县市
# is not the county 辉县).
_DISTRICT_RULE = (
    rf"\p{{Han}}{_INNER}{{0,14}}?(?:自治县|自治旗|新区|林区|特区|县|旗)"
    rf"|(?:\p{{Han}}{_INNER}{{0,13}}?)?{_LAST_QU}区"
)
# Districts and counties are not looked up, county-level cities are; they come first (辉县市
# is not the county 辉县).
_DISTRICT = (
    rf"(?:{_COUNTY_CITY}|{_DISTRICT_RULE}"
    # the real districts the rule above would refuse (every county-level name of the
    # synthetic shop's current table is checked by tests/masking/test_fail_closed.py)
    r"|(?:上街|下花园|东营|二七|梁园|绿园|船营)区)"
)


def _names_the_rule_cuts() -> list[str]:
    """The table's county-level names (and short forms) the rule does not take whole,
    longest first (34 of them): 红旗区 and 社旗县 (the rule stops at the first 旗), 梅县区 and
    沙县区 (at the first 县), 加格達奇區 (the table's 區), and the names holding a character
    that starts street-level text or a 市 (肥乡区, 孟村回族自治县 and 孟村县, 天镇县, 榆社县,
    沙市区: the rule cannot pass it). With the rule alone 广东省梅州市梅县区 kept 梅县, no name
    of the table, which ``_real_district`` would cut to the city, and 河北省邯郸市肥乡区 kept
    only 河北省邯郸市; :func:`_taken_whole` looks these up in the address instead. Not in the
    regex itself: 41 more literals there made the whole pattern twice as slow (its lazy
    DFA's cache)."""
    names = _DISTRICT_SERIES
    whole = names.str.extract(f"^({_DISTRICT})$", 1)
    return _literals(names.filter(whole.is_null()).to_list())


_CUT_NAMES = _names_the_rule_cuts()
_WHOLE_NAME = "^(?:{})".format("|".join(_CUT_NAMES))
_NEW_AREA = "(?:{})$".format("|".join(_literals(list(_DISTRICTS_THE_TABLE_LACKS))))


def _written_before(province: str, city: str) -> set[str]:
    """How an address may write, before a district, where it lies, without whitespace:
    nothing, its province, its city or both, each in full or in short form (四川省成都市,
    四川成都, 成都市, 四川省, 四川, "" …; 北京市 and 北京 for a 直辖市, which has no city)."""
    stem = _province_stem(province)
    provinces = {"", province, stem, stem[:2]}
    cities = {""}
    if city.endswith("市"):
        cities |= {city, city[:-1]}
    elif city:
        cities |= {city, _short_form(city) or city}
    return {p + c for p in provinces for c in cities}


def _home_pairs() -> set[str]:
    """``"前|名"`` pairs (四川省成都市|天府新区, 河北省邯郸市|肥乡区, 河北|肥乡区, |肥乡区 …):
    the places after which a new area of ``_DISTRICTS_THE_TABLE_LACKS`` or a table name the
    rule cuts (``_CUT_NAMES``) is kept, as :func:`_written_before` writes them.

    Why bound to their place (a table district the rule takes whole is kept after any
    city): these names are looked up in text the rule refused or never reached (a 乡, 镇 or
    村 starts street-level text), and they are made of words a compound or street elsewhere
    may start with (天府, 江北, 新乡, 东乡: 浙江省杭州市天府新区花园, 浙江省杭州市肥乡区路).
    After their own province or city such a name says no more than the district; after
    another one it is cut. Bare (nothing written before) is kept, as a bare district of the
    rule is (西湖区文三路 → 西湖区)."""
    pairs: set[str] = set()
    for name, (province, cities) in _DISTRICTS_THE_TABLE_LACKS.items():
        for city in cities:
            pairs |= {f"{where}|{name}" for where in _written_before(province, city)}
    cut = set(_CUT_NAMES)
    for province, city, districts in _REGIONS:
        forms = set(districts) | {f for d in districts if (f := _short_form(d))}
        for form in forms & cut:
            pairs |= {f"{where}|{form}" for where in _written_before(province, city)}
    return pairs


_HOME_PAIRS = pl.Series(sorted(_home_pairs()), dtype=pl.String)
_HOMES = pl.Series(
    sorted({where for pair in _HOME_PAIRS if (where := pair.split("|")[0])}), dtype=pl.String
)
"""The non-empty places of ``_HOME_PAIRS``: a kept prefix that is one of them (written the
way :func:`_written_place` gives) may be followed by a name of ``_CUT_NAMES``."""


def _written_place(prefix: pl.Series) -> pl.Series:
    """A kept prefix as ``_HOME_PAIRS`` writes the place: without whitespace and without a
    final 市辖区 (河北省 邯郸市 市辖区 → 河北省邯郸市)."""
    return prefix.str.replace_all(r"\s", "").str.strip_suffix("市辖区")


# Each level's pattern: group 1 is the kept prefix. Whitespace is only taken before a part, so
# group 1 never ends in it, and every alternative takes at least one part. Before a table city
# a province may stand in short form (浙江杭州市); at district level a county-level city may
# also be written short, after a province's and/or a city's short form (浙江义乌市, 金华义乌市,
# 浙江金华义乌市) — only table names, never free text, stand before it.
#
# At district level the cities after the province are a loop, ``(?:\s*CITY)*``, not one
# optional city: after the province and after a city the regex is then in the same state, and
# its lazy DFA builds the states that walk the table's ~700 names once instead of twice. With
# an optional city those states did not fit the DFA's cache (Polars does not let us size it)
# and the pattern ran 2.4 times slower (0.72 s against 0.31 s CPU per 1M addresses). The
# price: a second table city is kept too (浙江省杭州市宁波市…) — still only table names. For the
# same reason the short forms share the city's start, ``PROVINCE_SHORT?(?:CITY|CITY_SHI?COUNTY)``:
# as an alternative of their own they cost another 15-20%.
_PATTERNS = {
    "province": rf"^\s*({_PROVINCE})",
    "city": rf"^\s*({_PROVINCE}(?:\s*{_CITY})?|(?:{_PROVINCE_SHORT}\s*)?{_CITY})",
    "district": (
        rf"^\s*((?:{_PROVINCE}|(?:{_PROVINCE_SHORT}\s*)?(?:{_CITY}|{_CITY_SHI}?{_COUNTY_CITY}))"
        rf"(?:\s*{_CITY})*(?:\s*市辖区)?(?:\s*{_DISTRICT})?"
        rf"|(?:市辖区\s*)?{_DISTRICT})"
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
        pattern = _PATTERNS[self.level]
        if self.level == "province":
            return _prefix(col.cast(pl.String), pattern)

        # one pass over the column's values for the prefix and its check: as expressions the
        # prefix would be computed again for each of its four uses (no common-subexpression
        # elimination in an eager select: seven times the time per 1M addresses)
        def checked(s: pl.Series) -> pl.Series:
            kept = s.to_frame("p").select(_prefix(pl.col("p"), pattern)).to_series()
            return _checked(kept, s, district=self.level == "district")

        return col.cast(pl.String).map_batches(checked, return_dtype=pl.String, is_elementwise=True)


def _prefix(col: pl.Expr, pattern: str) -> pl.Expr:
    return col.str.extract_all(pattern).list.first().str.strip_chars_start()


def _checked(kept: pl.Series, address: pl.Series, *, district: bool) -> pl.Series:
    """The regex's prefixes ``kept`` of ``address`` after the checks that a district is
    real (``district`` level only: :func:`_real_district`) and that a …市 belongs where it
    stands (:func:`_where_it_belongs`).

    Why on the distinct prefixes: a million addresses have a few thousand (2,816 in the
    benchmark's 1M), so the checks run on those, and only the rows whose prefix changes
    are touched: per 1M addresses about 0.02 s instead of 0.14 s for the checks on every
    row (bench/address_ab.py). Only a district the rule stopped inside of (梅县区 kept as
    梅县) or before (肥乡区: the prefix ends at 河北省邯郸市) needs the row's own address: it
    is looked up there on those rows, the ones whose prefix changed or is a place such a
    name belongs to (``_HOMES``)."""
    distinct = kept.drop_nulls().unique()
    # the checks scatter into the Series they are given (Series.scatter works in place)
    fixed = _where_it_belongs(_real_district(distinct.clone()) if district else distinct.clone())
    look = fixed.ne_missing(distinct)
    if district:
        # and the prefixes a district the rule cuts may follow (河北省邯郸市 + 肥乡区): the
        # rows of a few cities that were written without a district, or with such a one
        look |= _written_place(fixed).is_in(_HOMES.implode()).fill_null(False)
    if not look.any():
        return kept
    old, new = distinct.filter(look), fixed.filter(look)
    at = kept.is_in(old.implode()).arg_true()
    value = kept.gather(at).replace_strict(old, new, return_dtype=pl.String)
    if district:
        value = _taken_whole(value, address.gather(at))
    return kept.scatter(at, value)


def _taken_whole(stem: pl.Series, address: pl.Series) -> pl.Series:
    """``stem`` (a prefix the checks cut back to, or one a district may follow), with the
    table name the rule stops inside of or before that follows it in ``address``, if one
    does and ``stem`` is its place (广东省梅州市 + 梅县区, 河北省邯郸市 + 肥乡区; not
    浙江省杭州市 + 肥乡区: ``_HOME_PAIRS``)."""
    head = stem.fill_null("")
    after = address.str.strip_chars_start().str.strip_prefix(head)
    gap = after.str.extract(r"^\s*(?:市辖区\s*)?", 0).fill_null("")
    name = after.str.strip_prefix(gap).str.extract(_WHOLE_NAME, 0)
    home = (_written_place(head + gap) + "|" + name).is_in(_HOME_PAIRS.implode())
    return (head + gap + name).zip_with(home.fill_null(False), stem)


def _real_district(prefix: pl.Series) -> pl.Series:
    """A district kept by rule (…区/县/旗) must be one of the table's (or a short form of
    one), or a …区 of at most ``_SHORT_DISTRICT`` characters: else the value stops before
    it, at its city (or province; null when there is neither).

    Why: the rule keeps whatever Han text ends in 区, 县 or 旗 where a district may stand, so
    an address without its district kept the compound's or street's name (浙江省杭州市阳光
    花园东区3栋 → …阳光花园东区; 广东省东莞市万科城区 — 东莞 has no districts; …红旗路 → …红旗).

    How, cheaply: the tail after the last 省/市/区/县/旗/州/盟 or space is what the rule kept
    as the district, unless a 州 or 盟 stands right before it (恩施州巴东县, but also 九州东区
    and 通州区), or it is not a table name: only those few values are looked at again. The
    city-level pattern on the kept prefix then gives where the district starts; where no
    city was written in full, short province, city and prefecture names before it are
    allowed (浙江杭州西湖区, 湖北省恩施州巴东县), never after a full one (石家庄市阳江东区 is a
    compound, not 阳江 + 东区). A table name the rule stops inside of (梅县区 kept as 梅县) is
    cut here too, and taken whole from the address afterwards (:func:`_taken_whole`).
    """
    names = _DISTRICT_SERIES.implode()
    tail = prefix.str.extract(_TAIL_DISTRICT, 0)
    # most values end in a table name (no table name starts with 州 or 盟): only the others
    # are tested further, each test on fewer values
    odd = (~(tail.is_null() | tail.is_in(names))).arg_true()
    if not len(odd):
        return prefix
    t = tail.gather(odd)
    short_qu = (
        (t.str.len_chars() <= _SHORT_DISTRICT)
        & t.str.ends_with("区")
        & ~(t.str.starts_with("州") | t.str.starts_with("盟"))
    )
    at = odd.filter(~short_qu)
    if not len(at):
        return prefix
    kept = prefix.gather(at)
    city = kept.to_frame("p").select(_prefix(pl.col("p"), _PATTERNS["city"])).to_series()
    rest = (
        kept.str.strip_prefix(city.fill_null(""))
        .str.strip_chars_start()
        .str.strip_prefix("市辖区")
        .str.strip_chars_start()
    )
    no_city = city.is_null() | ~city.str.contains(r"(?:市|州|盟|地区)$").fill_null(False)
    short = rest.str.extract(_SHORT_NAMES, 0).fill_null("")
    name = rest.str.strip_prefix(
        pl.select(pl.when(no_city).then(short).otherwise(pl.lit(""))).to_series()
    )
    new_area = kept.str.extract(_NEW_AREA, 0)
    at_home = _written_place(kept.str.strip_suffix(new_area)) + "|" + new_area
    real = (
        (rest == "")
        | name.is_in(names)
        | (
            (name.str.len_chars() <= _SHORT_DISTRICT)
            & name.str.ends_with("区")
            & ~name.str.contains("[州盟]")
        )
        | at_home.is_in(_HOME_PAIRS.implode())
    ).fill_null(False)
    return prefix.scatter(at.filter(~real), city.filter(~real))


def _where_it_belongs(prefix: pl.Series) -> pl.Series:
    """A kept ``…市`` of the table must belong to the name right before it (浙江省金华市义乌市,
    湖北省仙桃市); else the value stops before it. The regex keeps any table name there, so
    a compound named like a county-level city of another province (广东省东莞市海城市花园:
    海城 is in 鞍山) or a market named like a city (浙江省杭州市东方市场) kept a fragment of
    its name. A name before it that is not the table's (a province the regex took by rule)
    cuts too: fail-closed."""
    at = prefix.str.ends_with("市").arg_true()  # only these can need it (most end in 区, 县)
    last = prefix.gather(at).str.extract_all(_LAST_SHI_NAME).list.first()
    at, last = at.filter(last.is_not_null()), last.drop_nulls()
    if not len(at):
        return prefix
    ends = prefix.gather(at)
    before = ends.str.strip_suffix(last).str.strip_chars_end()
    name_before = before.str.extract_all(_NAME_BEFORE).list.first()
    pair = name_before + "|" + last.str.strip_suffix("市")  # null when either is
    cut = ((before != "") & ~pair.is_in(_PAIR_SERIES.implode()).fill_null(False)).fill_null(False)
    return prefix.scatter(at.filter(cut), before.filter(cut))
