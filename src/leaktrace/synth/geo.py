"""Synthetic geography: cities, mobile numbers whose prefix matches the city, full addresses.

The invariant everything here protects: **a phone number's 7-digit prefix geocodes (with
``phonenumbers``) to the province and city written in the address.** Real order data has
that property for most rows, and a synthetic or canary row without it is easy to spot.
So a row's city is drawn first (weighted by how many mobile prefixes the city holds, a
fair proxy for its population of phone owners), then the prefix from that city's own
prefixes, then a real current district of that city (from ``stdnum``'s division table).

Street names, numbers, compounds (小区) and rooms are synthetic but follow the common
shapes: ``文三路478号5号楼2单元301室``, ``锦绣花园12幢1单元502室``, ``华星大厦A座1203室``,
``城关镇王庄村3组15号`` for rural counties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace.synth._data import load_json, load_phone_runs

__all__ = ["Geo", "geo"]

IntArray = npt.NDArray[np.int64]

_PREFIX_BASE = 1_300_000
_PREFIX_SPAN = 700_000

_STREET_STEMS = (
    "文三", "文二", "中山", "人民", "解放", "建设", "和平", "胜利", "新华", "长江", "黄河", "延安",
    "北京", "南京", "东风", "学院", "科技", "创业", "滨江", "湖滨", "江南", "凤凰", "金桥", "光明",
    "幸福", "朝阳", "青年", "工农", "迎宾", "体育", "花园", "府前", "文化", "育才", "桃源", "翠柏",
    "丰收", "东湖", "西湖", "天目山", "莫干山", "古墩", "教工", "学府", "振兴", "繁荣", "站前", "华山",
    "泰山", "衡山", "嵩山", "珠江", "闽江", "汉江", "湘江", "漓江", "松花江", "钱塘", "太湖", "中兴",
    "龙华", "梅林", "福华", "深南", "高新", "星湖", "金鸡湖", "苏州", "上海", "广州", "天府", "红星",
    "丹桂", "银杏", "紫荆", "芙蓉", "玉兰", "海棠", "石榴", "樱花", "红旗", "团结", "友谊", "健康",
)  # fmt: skip
_STREET_DIRS = ("", "", "", "", "东", "西", "南", "北", "中", "一", "二", "三")
_STREET_SUFFIX = ("路", "路", "路", "路", "路", "街", "街", "大道", "大街", "巷")
_ESTATE_PREFIX = (
    "万科", "绿城", "碧桂园", "保利", "恒大", "金地", "龙湖", "华润", "中海", "融创", "招商", "世茂",
    "阳光", "锦绣", "金色", "翠苑", "紫金", "和谐", "康乐", "丽景", "东方", "明珠", "滨湖", "江南",
    "望京", "天鹅湖", "香樟", "枫林", "湖畔", "桃花源", "书香", "学府", "梧桐", "春江", "云栖", "星河",
)  # fmt: skip
_ESTATE_SUFFIX = (
    "花园", "小区", "家园", "新村", "公寓", "华府", "名苑", "城", "府", "一品", "苑", "公馆",
    "雅苑", "嘉园", "名都", "尚城", "佳园", "御府", "水岸", "国际",
)  # fmt: skip
_OFFICE = ("大厦", "广场", "中心", "国际大厦", "科技园", "商务楼", "写字楼", "创意园")
_TOWN = ("城关", "新城", "城东", "城西", "城南", "长安", "太平", "永兴", "龙泉", "石桥", "白沙", "青山")  # fmt: skip
_VILLAGE = ("王庄", "李家", "张湾", "刘营", "陈家岭", "杨柳", "高楼", "新庄", "后街", "马坊", "河口", "东岗")  # fmt: skip
_BUILDING_WORD = ("号楼", "号楼", "栋", "幢")
_TOWER = ("A座", "B座", "C座", "D座", "1号楼", "2号楼")


@dataclass(frozen=True, slots=True)
class Geo:
    """Vectorised view of the city/district/prefix tables.

    ``city_*`` arrays are indexed by city index; ``district_*`` arrays are flat with
    ``district_start[c] : district_start[c] + district_count[c]`` belonging to city ``c``;
    ``prefix_by_city`` is every mobile prefix sorted by city, sliced the same way;
    ``prefix_city[p - 1_300_000]`` is the city index of prefix ``p`` or ``-1``.
    """

    city_code: tuple[str, ...]
    city_province: tuple[str, ...]
    city_name: tuple[str, ...]
    city_weight: npt.NDArray[np.float64]
    district_name: tuple[str, ...]
    district_code: tuple[str, ...]
    district_is_county: npt.NDArray[np.bool_]
    district_start: IntArray
    district_count: IntArray
    district_weight: npt.NDArray[np.float64]
    prefix_by_city: IntArray
    prefix_start: IntArray
    prefix_count: IntArray
    prefix_city: IntArray

    # -- lookups -------------------------------------------------------------------------

    def city_index(self, code: str) -> int:
        return self.city_code.index(code)

    def city_of_phones(self, phones: Sequence[str | None]) -> IntArray:
        """City index of each phone's 7-digit prefix, ``-1`` when unknown or not a mobile."""
        out = np.full(len(phones), -1, dtype=np.int64)
        s = pl.Series(list(phones), dtype=pl.Utf8)
        # Plain 11-digit mobiles (every canary pool number) vectorised; the rest one by one.
        plain = s.str.contains(r"^1[0-9]{10}$").fill_null(False).to_numpy()
        if plain.any():
            prefix = s.filter(pl.Series(plain)).str.slice(0, 7).cast(pl.Int64).to_numpy()
            prefix = prefix - _PREFIX_BASE
            known = (prefix >= 0) & (prefix < _PREFIX_SPAN)
            city = np.full(prefix.shape, -1, dtype=np.int64)
            city[known] = self.prefix_city[prefix[known]]
            out[plain] = city
        for i in np.flatnonzero(~plain).tolist():
            phone = phones[i]
            digits = "".join(ch for ch in (phone or "") if ch.isdigit())
            if digits.startswith("86") and len(digits) == 13:
                digits = digits[2:]
            if len(digits) == 11 and digits[0] == "1":
                p = int(digits[:7]) - _PREFIX_BASE
                if 0 <= p < _PREFIX_SPAN:
                    out[i] = self.prefix_city[p]
        return out

    # -- sampling ------------------------------------------------------------------------

    def sample_cities(self, rng: np.random.Generator, n: int) -> IntArray:
        return rng.choice(len(self.city_code), size=n, p=self.city_weight).astype(np.int64)

    def sample_phones(self, rng: np.random.Generator, cities: IntArray) -> pl.Series:
        """An 11-digit mobile number per row whose prefix belongs to that row's city."""
        offset = (rng.random(len(cities)) * self.prefix_count[cities]).astype(np.int64)
        prefix = self.prefix_by_city[self.prefix_start[cities] + offset]
        number = prefix * 10_000 + rng.integers(0, 10_000, size=len(cities))
        return pl.Series("phone", number, dtype=pl.Int64).cast(pl.Utf8)

    def sample_districts(self, rng: np.random.Generator, cities: IntArray) -> IntArray:
        """A district index per row (``-1`` for cities without districts, e.g. 东莞市).

        Urban districts (区) are favoured over counties, as online shoppers are."""
        out = np.full(len(cities), -1, dtype=np.int64)
        for c in np.unique(cities):
            rows = np.flatnonzero(cities == c)
            k = int(self.district_count[c])
            if k == 0:
                continue
            s = int(self.district_start[c])
            w = self.district_weight[s : s + k]
            out[rows] = s + rng.choice(k, size=len(rows), p=w / w.sum())
        return out

    def sample_addresses(
        self,
        rng: np.random.Generator,
        cities: IntArray,
        *,
        with_province: bool = True,
        separator: str = "",
        municipality_twice: bool = False,
        openings: tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]] | None = None,
    ) -> pl.Series:
        """Full addresses, province/city/district from the tables and the rest synthetic.

        ``municipality_twice``: a 直辖市 as Taobao's exports write it, as province and city
        (北京 北京市 朝阳区 …; with ``with_province`` only). ``openings``: per row, what is
        written before the city, the separator after it, after the city and after the
        district, in place of the three settings (canaries take them from real rows: ``leaktrace.canary``); a 直辖市 needs
        its name there, as it has no city."""
        n = len(cities)
        districts = self.sample_districts(rng, cities)
        has_d = districts >= 0
        district_names = _pick(self.district_name, np.where(has_d, districts, 0))
        is_county = np.where(has_d, self.district_is_county[np.where(has_d, districts, 0)], False)

        # Formats: 0 street+estate+building, 1 street+building, 2 estate only,
        # 3 street+office tower, 4 rural (only in counties).
        fmt = rng.choice(5, size=n, p=[0.38, 0.27, 0.17, 0.12, 0.06])
        fmt = np.where(is_county & (rng.random(n) < 0.45), 4, np.where(fmt == 4, 1, fmt))
        has_street = np.isin(fmt, (0, 1, 3))
        has_estate = np.isin(fmt, (0, 2))
        has_unit = np.isin(fmt, (0, 1, 2)) & (rng.random(n) < 0.7)

        def idx(pool: Sequence[str]) -> IntArray:
            return rng.integers(0, len(pool), size=n)

        street_no = np.minimum(rng.geometric(1 / 180, size=n), 2999)
        building = np.minimum(rng.geometric(1 / 8, size=n), 60)
        floor_ = np.minimum(rng.geometric(1 / 7, size=n), 33)
        room = floor_ * 100 + rng.integers(1, 5, size=n)
        frame = pl.DataFrame(
            {
                "province": _pick(self.city_province, cities),
                "city": _pick(self.city_name, cities),
                "district": district_names,
                "has_d": has_d,
                "fmt": fmt,
                "has_street": has_street,
                "has_estate": has_estate,
                "has_unit": has_unit,
                "street": _cat(
                    _pick(_STREET_STEMS, idx(_STREET_STEMS)),
                    _pick(_STREET_DIRS, idx(_STREET_DIRS)),
                    _pick(_STREET_SUFFIX, idx(_STREET_SUFFIX)),
                ),
                "street_no": street_no,
                "estate": _cat(
                    _pick(_ESTATE_PREFIX, idx(_ESTATE_PREFIX)),
                    _pick(_ESTATE_SUFFIX, idx(_ESTATE_SUFFIX)),
                ),
                "office": _cat(
                    _pick(_ESTATE_PREFIX, idx(_ESTATE_PREFIX)),
                    _pick(_OFFICE, idx(_OFFICE)),
                    _pick(_TOWER, idx(_TOWER)),
                ),
                "building": building,
                "building_word": _pick(_BUILDING_WORD, idx(_BUILDING_WORD)),
                "unit": rng.integers(1, 6, size=n),
                "room": room,
                "room_word": rng.random(n) < 0.8,
                "town": _pick(_TOWN, idx(_TOWN)),
                "village": _pick(_VILLAGE, idx(_VILLAGE)),
                "group": rng.integers(1, 13, size=n),
            }
        )
        sep = pl.lit(separator)
        s = pl.col
        detail = (
            pl.when(s("fmt") == 4)
            .then(
                pl.concat_str(
                    s("town"),
                    pl.lit("镇"),
                    s("village"),
                    pl.lit("村"),
                    s("group").cast(pl.Utf8),
                    pl.lit("组"),
                    s("street_no").mod(90).add(1).cast(pl.Utf8),
                    pl.lit("号"),
                )
            )
            .otherwise(
                pl.concat_str(
                    pl.when(s("has_street"))
                    .then(pl.concat_str(s("street"), s("street_no").cast(pl.Utf8), pl.lit("号")))
                    .otherwise(pl.lit("")),
                    pl.when(s("has_estate")).then(s("estate")).otherwise(pl.lit("")),
                    pl.when(s("fmt") == 3)
                    .then(s("office"))
                    .otherwise(pl.concat_str(s("building").cast(pl.Utf8), s("building_word"))),
                    pl.when(s("has_unit"))
                    .then(pl.concat_str(s("unit").cast(pl.Utf8), pl.lit("单元")))
                    .otherwise(pl.lit("")),
                    s("room").cast(pl.Utf8),
                    pl.when(s("room_word")).then(pl.lit("室")).otherwise(pl.lit("")),
                )
            )
        )
        muni = s("city") == ""
        if openings is not None:
            frame = frame.with_columns(
                pl.Series("opening", list(openings[0]), dtype=pl.String),
                pl.Series("after", list(openings[1]), dtype=pl.String),
                pl.Series("sep", list(openings[2]), dtype=pl.String),
                pl.Series("district_sep", list(openings[3]), dtype=pl.String),
            )
        else:
            # the table's 直辖市 have no city: their province (北京市) names them, written
            # twice (北京 北京市) when asked, and always, with or without the provinces
            twice = pl.concat_str(s("province").str.strip_suffix("市"), sep, s("province"))
            frame = frame.with_columns(
                (
                    pl.when(muni & municipality_twice & with_province)
                    .then(twice)
                    .when(muni | with_province)
                    .then(s("province"))
                    .otherwise(pl.lit(""))
                ).alias("opening"),
                sep.alias("after"),
                sep.alias("sep"),
                sep.alias("district_sep"),
            )
        sep = s("sep")
        parts = [
            pl.when(s("opening") == "")
            .then(pl.lit(""))
            .otherwise(pl.concat_str(s("opening"), s("after"))),
            pl.when(muni).then(pl.lit("")).otherwise(pl.concat_str(s("city"), sep)),
            pl.when(s("has_d"))
            .then(pl.concat_str(s("district"), s("district_sep")))
            .otherwise(pl.lit("")),
            detail,
        ]
        return frame.select(pl.concat_str(parts).alias("address")).to_series()


def _cat(*parts: pl.Series) -> pl.Series:
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def _pick(pool: Sequence[str], index: npt.ArrayLike) -> pl.Series:
    return pl.Series(values=list(pool), dtype=pl.Utf8).gather(np.asarray(index))


@cache
def geo() -> Geo:
    """The shipped tables as a :class:`Geo` (built once per process, ~50 ms)."""
    regions = load_json("regions.json")
    cities = regions["cities"]
    codes = tuple(c["code"] for c in cities)
    code_index = {c: i for i, c in enumerate(codes)}
    weight = np.array([c["phone_prefixes"] for c in cities], dtype=np.float64)

    d_name: list[str] = []
    d_code: list[str] = []
    d_start: list[int] = []
    d_count: list[int] = []
    for c in cities:
        d_start.append(len(d_name))
        d_count.append(len(c["districts"]))
        for name, code in c["districts"]:
            d_name.append(name)
            d_code.append(code)
    is_county = np.array([n.endswith(("县", "旗")) for n in d_name], dtype=np.bool_)
    d_weight = np.where(
        is_county, 1.0, np.where(np.array([n.endswith("区") for n in d_name]), 3.0, 1.5)
    )

    runs = load_phone_runs()
    starts = runs["start"].to_numpy()
    lengths = runs["length"].to_numpy()
    run_city = np.array([code_index[c] for c in runs["city"].to_list()], dtype=np.int64)
    prefixes = np.repeat(starts, lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    prefix_city_of = np.repeat(run_city, lengths)
    prefix_city = np.full(_PREFIX_SPAN, -1, dtype=np.int64)
    prefix_city[prefixes - _PREFIX_BASE] = prefix_city_of
    order = np.argsort(prefix_city_of, kind="stable")
    counts = np.bincount(prefix_city_of, minlength=len(codes)).astype(np.int64)
    return Geo(
        city_code=codes,
        city_province=tuple(c["province"] for c in cities),
        city_name=tuple(c["city"] for c in cities),
        city_weight=weight / weight.sum(),
        district_name=tuple(d_name),
        district_code=tuple(d_code),
        district_is_county=is_county,
        district_start=np.array(d_start, dtype=np.int64),
        district_count=np.array(d_count, dtype=np.int64),
        district_weight=d_weight.astype(np.float64),
        prefix_by_city=prefixes[order].astype(np.int64),
        prefix_start=(np.cumsum(counts) - counts).astype(np.int64),
        prefix_count=counts,
        prefix_city=prefix_city,
    )
