"""``generalise_to_district`` equals the join of ``parse_address``'s first three groups.

``_old_generalise_to_district`` is the implementation before the speed-up (join of the
province/city/district groups of the full ``_PARSE_RE`` capture); the new one matches a
regex cut from ``_PARSE_RE`` without capture groups. Compared on the synthetic shop and on
hypothesis values built from address tokens, widths, whitespace (incl. U+3000, newlines)
and nulls.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.pii import generalise_to_district, parse_address
from leaktrace.synth import generate_orders


def _old_generalise_to_district(expr: pl.Expr) -> pl.Expr:
    parts = parse_address(expr)
    joined = pl.concat_str(
        [parts.struct.field(f).fill_null("") for f in ("province", "city", "district")]
    )
    return pl.when(joined.str.len_chars() > 0).then(joined).otherwise(None)


def assert_same(values: list[Any]) -> None:
    frame = pl.DataFrame({"v": pl.Series("v", values, dtype=pl.String)})
    out = frame.select(
        new=generalise_to_district(pl.col("v")), old=_old_generalise_to_district(pl.col("v"))
    )
    assert out.schema == {"new": pl.String, "old": pl.String}
    unnamed = frame.select(
        generalise_to_district(pl.col("v")), _old_generalise_to_district(pl.col("v")).alias("x")
    )
    assert unnamed.columns == ["province", "x"]  # output name unchanged too
    for value, a, b in zip(values, out["new"], out["old"], strict=True):
        assert a == b, f"{value!r}: new {a!r} != old {b!r}"


@pytest.mark.parametrize("seed", [1, 20240601])
def test_synthetic_shop(seed: int) -> None:
    assert_same(generate_orders(20_000, seed).get_column("address").to_list())


@pytest.mark.parametrize(
    ("value", "district"),
    [
        ("浙江省杭州市西湖区文三路478号华星时代广场A座", "浙江省杭州市西湖区"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区"),
        ("广西壮族自治区 南宁市\u3000青秀区民族大道100号", "广西壮族自治区南宁市青秀区"),
        ("文三路478号", None),
        ("", None),
        (None, None),
    ],
)
def test_examples(value: str | None, district: str | None) -> None:
    frame = pl.DataFrame({"v": [value]}, schema={"v": pl.String})
    assert frame.select(generalise_to_district(pl.col("v"))).item() == district
    assert_same([value])


TOKENS = [
    "北京市",
    "天津市",
    "上海",
    "重庆市",
    "浙江省",
    "黑龙江省",
    "广西壮族自治区",
    "新疆维吾尔自治区",
    "香港特别行政区",
    "杭州市",
    "凉山彝族自治州",
    "大兴安岭地区",
    "锡林郭勒盟",
    "市辖区",
    "西湖区",
    "浦东新区",
    "城口县",
    "伊金霍洛旗",
    "仙桃市",
    "文三路",
    "世纪大道",
    "中央大街",
    "长安镇",
    "胡同",
    "弄",
    "478号",
    "１００号",
    *"省市区县旗镇乡街路号村道巷自治州地盟新",
    *"西湖长安文三江",
    *"0123456789０１",
    " ",
    "\u3000",
    "\n",
    "\t",
    "A座",
    "-",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(TOKENS), max_size=8).map("".join),
            st.text(alphabet=sorted(set("".join(TOKENS))), max_size=12),
            st.text(max_size=8),
            st.none(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_hypothesis(values: list[str | None]) -> None:
    assert_same(values)
