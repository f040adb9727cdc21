"""Role inference: Chinese/English headers, no header, shuffled and junk columns."""

from __future__ import annotations

import random

import polars as pl
import pytest
from lt_orders import ROLE_OF, make_orders

from leaktrace.errors import InputError, MissingColumnError
from leaktrace.io.columns import infer_roles, match_header, row_looks_like_data
from leaktrace.roles import Role

ENGLISH = {
    "订单号": "Order No",
    "下单时间": "created_at",
    "收货人": "Consignee",
    "手机": "Mobile",
    "收货地址": "Shipping Address",
    "商品名称": "Product Name",
    "数量": "QTY",
    "实付金额": "Amount",
    "卡号后四位": "card_last4",
    "身份证号": "ID Number",
    "快递公司": "Courier",
    "店铺": "Merchant",
    "邮箱": "E-mail",
}


@pytest.fixture
def orders() -> pl.DataFrame:
    return make_orders()


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("订单编号", Role.ORDER_ID),
        ("单号", Role.ORDER_ID),
        ("Order No", Role.ORDER_ID),
        ("付款时间", Role.ORDER_TIME),
        ("创建时间", Role.ORDER_TIME),
        ("客户姓名", Role.NAME),
        ("consignee", Role.NAME),
        ("联系电话", Role.PHONE),
        ("收货人手机", Role.PHONE),
        ("ＰＨＯＮＥ", Role.PHONE),
        ("详细地址", Role.ADDRESS),
        ("宝贝标题", Role.PRODUCT),
        ("SKU", Role.SKU),
        ("商品编码", Role.SKU),
        ("qty", Role.QUANTITY),
        ("实付金额(元)", Role.AMOUNT),
        ("卡号后四位", Role.CARD_LAST4),
        ("身份证号", Role.ID_NUMBER),
        ("物流公司", Role.COURIER),
        ("商家", Role.MERCHANT),
        ("邮箱", Role.EMAIL),
        (" 手 机 号 ", Role.PHONE),
        ("customer_phone", Role.PHONE),
    ],
)
def test_header_synonyms(header: str, role: Role) -> None:
    m = match_header(header)
    assert m is not None and m[0] is role


@pytest.mark.parametrize("header", ["运单号", "备注", "订单状态", "foo", ""])
def test_headers_that_are_not_roles(header: str) -> None:
    assert match_header(header) is None


def _expect_all(rm_cols: dict[str, str], names: dict[str, str]) -> None:
    assert rm_cols == {names[k]: v for k, v in ROLE_OF.items()}


def test_chinese_headers(orders: pl.DataFrame) -> None:
    rm = infer_roles(orders)
    assert rm.rename_map() == ROLE_OF
    assert all(a.via == "header" for a in rm.assignments.values())
    assert rm.unrecognised == []


def test_english_headers(orders: pl.DataFrame) -> None:
    rm = infer_roles(orders.rename(ENGLISH))
    _expect_all(rm.rename_map(), ENGLISH)


def test_content_only_shuffled(orders: pl.DataFrame) -> None:
    cols = list(orders.columns)
    random.Random(7).shuffle(cols)
    anon = {c: f"column_{i + 1}" for i, c in enumerate(cols)}
    rm = infer_roles(orders.select(cols).rename(anon), use_headers=False)
    _expect_all(rm.rename_map(), anon)
    assert all(a.via == "content" for a in rm.assignments.values())


def test_junk_columns_stay_unrecognised(orders: pl.DataFrame) -> None:
    rnd = random.Random(3)
    junk = orders.with_columns(
        pl.Series("备注", [rnd.choice(["请尽快发货", "谢谢", None]) for _ in range(orders.height)]),
        pl.Series("x", [f"{rnd.getrandbits(128):032x}-z" for _ in range(orders.height)]),
        pl.Series("运单号", [str(rnd.randrange(10**14)) for _ in range(orders.height)]),
        pl.Series("empty", [None] * orders.height, dtype=pl.String),
    ).rename({"订单号": "col_a"})
    rm = infer_roles(junk)
    assert rm.column(Role.ORDER_ID) == "col_a"
    assert rm.assignments[Role.ORDER_ID].via == "content"
    assert set(rm.unrecognised) == {"备注", "x", "运单号", "empty"}


def test_masked_values_are_recognised() -> None:
    df = pl.DataFrame(
        {
            "a": ["138****5678", "139****0001", "+86 137 1234 5678"] * 10,
            "b": ["张*", "欧阳**", "李*明"] * 10,
        }
    )
    rm = infer_roles(df, use_headers=False)
    assert rm.column(Role.PHONE) == "a" and rm.column(Role.NAME) == "b"


def test_each_role_once_and_threshold() -> None:
    df = pl.DataFrame({"p1": ["13812345678"] * 5, "p2": ["13912345678"] * 5, "n": ["abc"] * 5})
    rm = infer_roles(df, use_headers=False)
    assert rm.column(Role.PHONE) == "p1"
    assert rm.unrecognised == ["p2", "n"]


def test_overrides_win_and_are_validated(orders: pl.DataFrame) -> None:
    rm = infer_roles(orders, {"merchant": "快递公司"})
    assert rm.column(Role.MERCHANT) == "快递公司"
    assert rm.assignments[Role.MERCHANT].via == "override"
    assert rm.column(Role.COURIER) is None
    with pytest.raises(MissingColumnError):
        infer_roles(orders, {"phone": "nope"})
    with pytest.raises(InputError):
        infer_roles(orders, {"shoe_size": "手机"})


def test_require_and_report() -> None:
    rm = infer_roles(make_orders(20).select("手机"))
    rm.require(Role.PHONE)
    with pytest.raises(MissingColumnError, match="address") as ei:
        rm.require(Role.ADDRESS, source="leak.csv")
    assert "\n" not in str(ei.value)
    assert rm.to_dict() == {
        "roles": {"phone": {"column": "手机", "via": "header", "score": 1.0}},
        "unrecognised": [],
    }


@pytest.mark.parametrize(
    ("row", "is_data"),
    [
        (["订单号", "手机", "地址"], False),
        (["a", "b", "c"], False),
        (["张三", "13812345678", "x"], True),
        (["330106198001011234", "y"], True),  # bad checksum, but a long digit string
        (["20240912000123456", "y"], True),  # long digit string
        (["2024-09-12 14:03:27", "z"], True),
        (["张三", "手机", "138 1234 5678"], False),  # a synonym means header
    ],
)
def test_header_row_detection(row: list[str], is_data: bool) -> None:
    assert row_looks_like_data(row) is is_data
