from __future__ import annotations

import pytest

from leaktrace.errors import PolicyError

from .conftest import run

CASES = [
    # value, district, city, province
    (
        "浙江省杭州市西湖区文三路478号华星时代广场A座",
        "浙江省杭州市西湖区",
        "浙江省杭州市",
        "浙江省",
    ),
    ("北京市朝阳区建国路88号", "北京市朝阳区", "北京市", "北京市"),
    ("北京市市辖区东城区东华门街道", "北京市市辖区东城区", "北京市", "北京市"),
    ("上海市浦东新区张江镇1号", "上海市浦东新区", "上海市", "上海市"),
    ("重庆市城口县葛城街道", "重庆市城口县", "重庆市", "重庆市"),
    (
        "广西壮族自治区 贵港市 覃塘区 ****",
        "广西壮族自治区 贵港市 覃塘区",
        "广西壮族自治区 贵港市",
        "广西壮族自治区",
    ),
    (
        "内蒙古自治区鄂尔多斯市伊金霍洛旗阿镇",
        "内蒙古自治区鄂尔多斯市伊金霍洛旗",
        "内蒙古自治区鄂尔多斯市",
        "内蒙古自治区",
    ),
    (
        "云南省临沧市双江拉祜族佤族布朗族傣族自治县勐勐镇",
        "云南省临沧市双江拉祜族佤族布朗族傣族自治县",
        "云南省临沧市",
        "云南省",
    ),
    (
        "四川省凉山彝族自治州西昌市航天大道",
        "四川省凉山彝族自治州西昌市",
        "四川省凉山彝族自治州",
        "四川省",
    ),
    ("福建省泉州市晋江市品牌大道", "福建省泉州市晋江市", "福建省泉州市", "福建省"),
    ("山东省济南市市中区经十路", "山东省济南市市中区", "山东省济南市", "山东省"),
    ("黑龙江省哈尔滨市道里区中央大街", "黑龙江省哈尔滨市道里区", "黑龙江省哈尔滨市", "黑龙江省"),
    ("河北省唐山市路南区", "河北省唐山市路南区", "河北省唐山市", "河北省"),
    # no district level: falls back, never leaks town/community
    ("广东省东莞市长安镇锦厦社区", "广东省东莞市", "广东省东莞市", "广东省"),
    ("湖北省仙桃市郑场镇", "湖北省仙桃市", "湖北省仙桃市", "湖北省"),
    # no province
    ("杭州市西湖区文三路", "杭州市西湖区", "杭州市", None),
    # unrecognised: withheld
    ("文三路478号", None, None, None),
    ("", None, None, None),
    (None, None, None, None),
]


@pytest.mark.parametrize(("value", "district", "city", "province"), CASES)
def test_levels(
    value: str | None, district: str | None, city: str | None, province: str | None
) -> None:
    assert run("generalise_address", [value]) == [district]
    assert run("generalise_address:district", [value]) == [district]
    assert run("generalise_address:city", [value]) == [city]
    assert run("generalise_address:province", [value]) == [province]


def test_output_is_always_a_prefix() -> None:
    values = [c[0] for c in CASES if c[0]]
    for out, value in zip(run("generalise_address", values), values, strict=True):
        assert out is None or value.startswith(out)
        assert out is None or not any(ch.isdigit() for ch in out)


def test_bad_level() -> None:
    with pytest.raises(PolicyError):
        run("generalise_address:street", ["x"])


def test_numeric_column_refused() -> None:
    with pytest.raises(PolicyError, match="generalise_address"):
        run("generalise_address", [1, 2])
