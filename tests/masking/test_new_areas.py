"""The State Council's 19 national new areas (国家级新区) are kept at district level after
their own province or city, never after another one.

Three of them are districts of the geo table (上海市浦东新区, 天津市滨海新区, 重庆市两江新区)
and were kept already; the other 16 (雄安新区 aside) were cut to the city because they are
longer than the ``_SHORT_DISTRICT`` allowance and not in the table (四川省成都市天府新区华阳
街道 → 四川省成都市). 雄安新区 was kept after any city (浙江省杭州市雄安新区 → kept).
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.masking.address import GeneraliseAddress
from leaktrace.synth._data import load_json

from .conftest import run

# Written here independently of the module: (name, province, the cities it lies in).
NEW_AREAS = [
    ("舟山群岛新区", "浙江省", ("舟山市",)),
    ("兰州新区", "甘肃省", ("兰州市",)),
    ("南沙新区", "广东省", ("广州市",)),
    ("西咸新区", "陕西省", ("西安市", "咸阳市")),
    ("贵安新区", "贵州省", ("贵阳市", "安顺市")),
    ("西海岸新区", "山东省", ("青岛市",)),
    ("金普新区", "辽宁省", ("大连市",)),
    ("天府新区", "四川省", ("成都市", "眉山市")),
    ("湘江新区", "湖南省", ("长沙市",)),
    ("江北新区", "江苏省", ("南京市",)),
    ("福州新区", "福建省", ("福州市",)),
    ("滇中新区", "云南省", ("昆明市",)),
    ("哈尔滨新区", "黑龙江省", ("哈尔滨市",)),
    ("长春新区", "吉林省", ("长春市",)),
    ("赣江新区", "江西省", ("南昌市", "九江市")),
    ("雄安新区", "河北省", ("保定市",)),
]
AT_HOME = [(p + c, n) for n, p, cities in NEW_AREAS for c in cities]


def generalised(values: list[str | None], level: str | None = None) -> list[str | None]:
    op = GeneraliseAddress(level, None)  # type: ignore[arg-type]
    frame = pl.DataFrame({"a": pl.Series(values, dtype=pl.String)})
    return frame.select(op.expr(pl.col("a"))).to_series().to_list()


@pytest.mark.parametrize(("where", "name"), AT_HOME)
def test_a_new_area_after_its_own_city_is_kept(where: str, name: str) -> None:
    assert generalised([f"{where}{name}幸福路12号3栋"]) == [where + name]


@pytest.mark.parametrize(("name", "province"), [(n, p) for n, p, _c in NEW_AREAS])
def test_a_new_area_after_its_own_province_is_kept(name: str, province: str) -> None:
    assert generalised([f"{province}{name}幸福路12号"]) == [province + name]


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        # spacing, 市辖区, short forms and the names as the State Council writes them
        ("四川省 成都市 天府新区 华阳街道", "四川省 成都市 天府新区"),
        ("四川省成都市市辖区天府新区", "四川省成都市市辖区天府新区"),
        ("四川成都天府新区华阳街道", "四川成都天府新区"),
        ("四川天府新区华阳街道", "四川天府新区"),
        ("浙江舟山群岛新区定海区", "浙江舟山群岛新区"),
        ("浙江省舟山群岛新区临城街道", "浙江省舟山群岛新区"),
        ("山东省青岛西海岸新区长江路", "山东省青岛西海岸新区"),
        ("陕西西咸新区沣东新城", "陕西西咸新区"),
        ("云南省昆明市滇中新区", "云南省昆明市滇中新区"),
        # bare, as a bare district of the rule is (西湖区文三路 → 西湖区)
        ("天府新区华阳街道", "天府新区"),
        # the three the table has stay as they were
        ("上海市浦东新区张江镇", "上海市浦东新区"),
        ("天津市滨海新区塘沽街道", "天津市滨海新区"),
        ("重庆市两江新区礼嘉街道", "重庆市两江新区"),
        ("河北省雄安新区容城县", "河北省雄安新区"),
        # a compound or a street named after the area, in the area's own city: the area is
        # kept (as 浙江省杭州市西湖区大道 keeps 西湖区), never the compound's or street's name
        ("四川省成都市天府新区大道88号", "四川省成都市天府新区"),
        ("四川省成都市天府新区花园3栋", "四川省成都市天府新区"),
        # the name inside a longer one is not the area
        ("四川省成都市锦绣天府新区花园3栋", "四川省成都市"),
        ("四川省成都市新天府新区", "四川省成都市"),
        ("四川省成都市天府新区二区", "四川省成都市天府新区"),
    ],
)
def test_new_area_cases(address: str, kept: str | None) -> None:
    assert generalised([address]) == [kept]


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("浙江省杭州市天府新区文三路", "浙江省杭州市"),
        ("杭州市天府新区文三路", "杭州市"),
        ("四川省绵阳市天府新区", "四川省绵阳市"),
        ("浙江省杭州市雄安新区", "浙江省杭州市"),
        ("重庆市江北新区", "重庆市"),
        ("浙江省宁波市江北新区", "浙江省宁波市"),
        ("湖南省株洲市湘江新区", "湖南省株洲市"),
        ("浙江省杭州市天府新区大道88号", "浙江省杭州市"),
        ("浙江省杭州市天府新区花园3栋", "浙江省杭州市"),
        ("广东省深圳市南沙新区", "广东省深圳市"),
        ("河北省石家庄市雄安新区", "河北省石家庄市"),
        ("浙江省天府新区", "浙江省"),
    ],
)
def test_a_new_area_after_another_city_or_province_is_cut(address: str, kept: str) -> None:
    assert generalised([address]) == [kept]


@pytest.mark.parametrize(("level", "kept"), [("city", "四川省成都市"), ("province", "四川省")])
def test_coarser_levels_are_unchanged(level: str, kept: str) -> None:
    assert run(f"generalise_address:{level}", ["四川省成都市天府新区华阳街道"]) == [kept]


_CITIES = [
    (r["province"], r["city"])
    for r in load_json("regions.json")["cities"]
    if r["city"].endswith("市") and r["districts"]
]


@settings(max_examples=300, deadline=None)
@given(
    area=st.sampled_from(NEW_AREAS),
    at_home=st.booleans(),
    pick=st.integers(0, 1),
    elsewhere=st.sampled_from(_CITIES),
    tail=st.sampled_from(["", "3栋2单元", "大道88号", "花园1号", "路12号", "东区5幢"]),
)
def test_a_new_area_is_kept_only_at_home(
    area: tuple[str, str, tuple[str, ...]],
    at_home: bool,
    pick: int,
    elsewhere: tuple[str, str],
    tail: str,
) -> None:
    name, home_province, cities = area
    province, city = (home_province, cities[pick % len(cities)]) if at_home else elsewhere
    out = generalised([f"{province}{city}{name}{tail}"])[0]
    if province == home_province and city in cities:
        assert out == f"{province}{city}{name}"
    else:
        assert out == f"{province}{city}"
