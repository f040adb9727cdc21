"""Address and product canonical forms: table tests and invariance under mark variants."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.pii import (
    canonical_address,
    canonical_address_str,
    canonical_product,
    canonical_product_str,
    generalise_to_district,
    parse_address,
)

FW = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def to_fullwidth(s: str, mask: list[bool]) -> str:
    return "".join(
        FW.get(c, c) if m else c for c, m in zip(s, mask + [False] * len(s), strict=False)
    )


@pytest.mark.parametrize(
    "variant",
    [
        "浙江省杭州市西湖区文三路88号3号楼2单元501室",
        "浙江省杭州市西湖区文三路８８号３栋２单元５０１",
        "浙江省 杭州市 西湖区 文三路88号 3幢 2单元 501室",
        "浙江省杭州市西湖区文三路88号（3栋）2单元501",
        "浙江省杭州市西湖区文三路88号【3号楼】2单元501室",
    ],
)
def test_address_variants_fold_together(variant: str) -> None:
    assert canonical_address_str(variant) == "浙江省杭州市西湖区文三路88号3栋2单元501"


@pytest.mark.parametrize("sep", ["-", "－", "—", "#", " - ", "＃"])
def test_address_separators(sep: str) -> None:
    assert canonical_address_str(f"建国路88号A座3{sep}2{sep}501") == "建国路88号A座3-2-501"


def test_address_distinct_stay_distinct() -> None:
    a = canonical_address_str("文三路88号3栋2单元501室")
    assert a != canonical_address_str("文三路88号3栋2单元502室")
    assert a != canonical_address_str("文三路88号3栋3单元501室")


@st.composite
def address_and_variant(draw: st.DrawFn) -> tuple[str, str]:
    nums = draw(st.lists(st.integers(1, 2999), min_size=4, max_size=4))
    street = draw(st.sampled_from(["文三路", "建国路", "人民南路", "科技园路"]))
    extra = draw(st.sampled_from(["", "A座", "SOHO现代城", "阳光小区"]))

    def render(seed: int) -> str:
        rnd = st.randoms(use_true_random=False)
        r = draw(rnd)
        r.seed(seed)
        bld = r.choice(["号楼", "栋", "幢"])
        room = r.choice(["室", ""])
        sep = r.choice(["-", "－", "—", "#"])
        sp = r.choice(["", " ", "\u3000"])
        lb, rb = r.choice([("", ""), ("（", "）"), ("(", ")"), ("【", "】"), ("[", "]")])
        s = (
            f"浙江省{sp}杭州市西湖区{street}{nums[0]}号{sp}{extra}{lb}{nums[1]}{bld}{rb}"
            f"{nums[2]}单元{nums[3]}{room}{sp}{nums[1]}{sep}{nums[2]}{sep}{nums[3]}"
        )
        return to_fullwidth(s, [r.random() < 0.5 for _ in s])

    return render(draw(st.integers())), render(draw(st.integers()))


@settings(max_examples=200, deadline=None)
@given(pair=address_and_variant())
def test_address_invariance(pair: tuple[str, str]) -> None:
    a, b = pair
    df = pl.DataFrame({"v": [a, b]}).select(canonical_address(pl.col("v")))
    assert df.to_series()[0] == df.to_series()[1]


@st.composite
def product_and_variant(draw: st.DrawFn) -> tuple[str, str]:
    brand = draw(st.sampled_from(["官方正品", "新品", "顺丰包邮"]))
    name = draw(st.sampled_from(["农夫山泉", "Vinda抽纸", "儿童口罩"]))
    a, b = draw(st.integers(1, 999)), draw(st.integers(1, 99))
    unit = draw(st.sampled_from(["ml", "ML", "g", ""]))

    def render() -> str:
        lb, rb = draw(
            st.sampled_from([("【", "】"), ("[", "]"), ("〔", "〕"), ("(", ")"), ("（", "）")])
        )
        times = draw(st.sampled_from(["×", "x", "X", "*", "＊"]))
        sp = draw(st.sampled_from(["", " ", "\u3000"]))
        s = f"{lb}{brand}{rb}{sp}{name}{sp}{a}{unit}{times}{b}"
        return to_fullwidth(s, draw(st.lists(st.booleans(), min_size=len(s), max_size=len(s))))

    return render(), render()


@settings(max_examples=200, deadline=None)
@given(pair=product_and_variant())
def test_product_invariance(pair: tuple[str, str]) -> None:
    a, b = pair
    out = pl.DataFrame({"v": [a, b]}).select(canonical_product(pl.col("v"))).to_series()
    assert out[0] == out[1]


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("【官方正品】农夫山泉 550ml×24瓶", "官方正品农夫山泉550mlx24瓶"),
        ("[官方正品]农夫山泉550ML*24瓶", "官方正品农夫山泉550mlx24瓶"),
        ("〔官方正品〕农夫山泉５５０ｍｌＸ２４瓶", "官方正品农夫山泉550mlx24瓶"),
        ("收纳箱 30*40*50cm", "收纳箱30x40x50cm"),
        ("T恤 3XL", "t恤3xl"),
    ],
)
def test_product_table(raw: str, canon: str) -> None:
    assert canonical_product_str(raw) == canon


@pytest.mark.parametrize(
    ("raw", "parts", "district"),
    [
        (
            "浙江省杭州市西湖区文三路88号3号楼2单元501室",
            ("浙江省", "杭州市", "西湖区", "文三路", "88号", "3号楼2单元501室"),
            "浙江省杭州市西湖区",
        ),
        (
            "北京市朝阳区建国路８８号SOHO",
            ("北京市", None, "朝阳区", "建国路", "88号", "SOHO"),
            "北京市朝阳区",
        ),
        (
            "广西壮族自治区南宁市青秀区民族大道100号",
            ("广西壮族自治区", "南宁市", "青秀区", "民族大道", "100号", ""),
            "广西壮族自治区南宁市青秀区",
        ),
        (
            "上海市浦东新区世纪大道100号",
            ("上海市", None, "浦东新区", "世纪大道", "100号", ""),
            "上海市浦东新区",
        ),
        ("some text", (None, None, None, None, None, "sometext"), None),
    ],
)
def test_parse_and_generalise(
    raw: str, parts: tuple[str | None, ...], district: str | None
) -> None:
    df = pl.DataFrame({"v": [raw]}).select(
        p=parse_address(pl.col("v")), d=generalise_to_district(pl.col("v"))
    )
    assert tuple(df["p"][0].values()) == parts
    assert df["d"][0] == district
