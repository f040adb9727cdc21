"""Phone and ID numbers typed into kept texts are masked as the policy masks those fields.

Session 25 left open that a phone a shopper typed into the address (…402室 电话13812345678)
went out whole under the merchant template (address ``keep``, phone ``mask_phone``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import rewrite
from leaktrace.masking.apply import apply_policy_fields
from leaktrace.masking.base import MaskContext
from leaktrace.masking.numbers import mask_numbers, mask_numbers_reference, number_params
from leaktrace.pii.text import fold_width
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, add_recipient

CTX = MaskContext(digest_key=b"k" * 32, recipient="m")
ALL = (True, 3, 4, True, 6, 4)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "朝阳区建国路88号3号楼402室 电话13812345678",
            "朝阳区建国路88号3号楼402室 电话138****5678",
        ),
        ("张三13812345678", "张三138****5678"),
        ("13812345678@163.com", "13812345678@163.com".replace("1234", "****", 1)),
        ("+86 138-1234-5678，139 1234 5678", "+86 138-****-5678，139 **** 5678"),
        ("８６１３８１２３４５６７８", "８６１３８****５６７８"),
        ("13812345678,13912345678;13712345678", "138****5678,139****5678;137****5678"),
        ("身份证110105194912310021号", "身份证110105********0021号"),
        ("110105 1949 1231 002x", "110105 **** **** 002x"),
        # as copied from a web page or typed loosely (the session 26 review)
        ("电话+86\u00a0138\u00a01234\u00a05678", "电话+86\u00a0138\u00a0****\u00a05678"),
        ("电话138  1234  5678", "电话138  ****  5678"),
        ("电话138 - 1234 - 5678", "电话138 - **** - 5678"),
        ("电话138.1234.5678，139。1234。5678", "电话138.****.5678，139。****。5678"),
        ("电话138 —— 1234 —— 5678", "电话138 —— **** —— 5678"),
        ("电话138\u20601234\ufeff5678、13912345678", "电话138\u2060****\ufeff5678、139****5678"),
        ("电话013812345678", "电话0138****5678"),
        # not a whole number: longer runs of digits (order numbers, waybills), landlines
        ("订单1381234567890", "订单1381234567890"),
        ("运单SF13812345678901", "运单SF13812345678901"),
        ("座机010-12345678", "座机010-12345678"),
        ("GB/T 1335-2008 160/84A", "GB/T 1335-2008 160/84A"),
        # a product's options, not a phone (the slash is no separator: the second review)
        ("对流取暖器 三档 150/1000/2000W", "对流取暖器 三档 150/1000/2000W"),
        ("身份证0110105194912310021", "身份证0110105194912310021"),  # a trunk 0 is a mobile's
    ],
)
def test_numbers_in_text_are_masked_as_mask_phone_and_mask_id_mask_them(
    text: str, masked: str
) -> None:
    out = mask_numbers(pl.Series([text]), ALL).to_list()
    assert out == [masked]
    assert mask_numbers_reference(pl.Series([text]), ALL).to_list() == [masked]


def test_a_null_stays_null_whatever_its_slot_holds() -> None:
    """Polars keeps a value's old bytes in the slot it nulls (when/then, set, scatter): the
    native rewrite read them, and a withheld address went to the merchant, masked or whole
    (the session 26 review)."""
    s = pl.Series(
        "a", ["朝阳区建国路88号 电话13812345678", "x", "广东省湛江市 邮编100020 门禁1234"]
    )
    s = s.to_frame().select(pl.when(pl.Series([False, True, False])).then(pl.col("a"))).to_series()
    assert s.to_list() == [None, "x", None]
    assert mask_numbers(s, ALL).to_list() == [None, "x", None]
    assert mask_numbers_reference(s, ALL).to_list() == [None, "x", None]
    df = pl.DataFrame({"address": s, "phone": ["13900000000"] * 3})
    merchant = {"phone": "mask_phone", "address": "keep"}
    assert apply_policy_fields(df, merchant, CTX).get_column("address").to_list() == [
        None,
        "x",
        None,
    ]


def test_the_caller_s_series_is_not_changed() -> None:
    s = pl.Series("a", ["电话13812345678", "x"])
    mask_numbers(s, ALL)
    assert s.to_list() == ["电话13812345678", "x"]


def test_params_follow_the_policy_fields() -> None:
    assert number_params({"phone": "keep", "id_number": "keep"}) is None
    # a courier keeps the phone; the ID it is not sent is starred whole
    assert number_params({"phone": "keep", "address": "keep"}) == (False, 0, 0, True, 0, 0)
    assert number_params({"phone": "mask_phone:waybill", "id_number": "mask_id:last4"}) == (
        True,
        3,
        2,
        True,
        0,
        4,
    )
    assert number_params({"phone": "digest", "id_number": "mask_id"}) == (True, 0, 0, True, 6, 4)
    assert number_params({"phone": "mask_phone?"}) == (True, 3, 4, True, 0, 0)


def test_apply_masks_numbers_only_in_kept_texts() -> None:
    df = pl.DataFrame(
        {
            "name": ["张三13812345678"],
            "phone": ["13912345678"],
            "address": ["北京市朝阳区建国路88号 13812345678"],
            "product": ["电话卡 13812345678"],
            "order_id": ["13812345678"],  # not a text role: an order number stays
        }
    )
    merchant = {
        "order_id": "keep",
        "name": "keep",
        "phone": "mask_phone",
        "address": "keep",
        "product": "keep",
    }
    out = apply_policy_fields(df, merchant, CTX).row(0, named=True)
    assert out == {
        "order_id": "13812345678",
        "name": "张三138****5678",
        "phone": "139****5678",
        "address": "北京市朝阳区建国路88号 138****5678",
        "product": "电话卡 138****5678",
    }
    courier = {**merchant, "phone": "keep"}
    assert (
        apply_policy_fields(df, courier, CTX).row(0, named=True)["address"].endswith("13812345678")
    )
    waybill = {**merchant, "phone": "mask_phone:waybill"}
    assert (
        apply_policy_fields(df, waybill, CTX).row(0, named=True)["address"].endswith("138******78")
    )


_PIECES = [
    *"0123456789０１２３４５６７８９",
    *" \t\u3000‐–—-－\u00a0\u200b./·_~−﹣", "+", "＋", "86", "0086", "+86", "0", "１３８", "138",
    "X", "x", "Ｘ", "ｘ",
    "19", "20", "110105", "号", "室", "电话", "@", "a", "é", "😀",
]  # fmt: skip
_text = st.lists(
    st.one_of(st.sampled_from(_PIECES), st.characters(codec="utf-8")), max_size=24
).map("".join)
_params = st.tuples(
    st.booleans(),
    st.integers(0, 5),
    st.integers(0, 5),
    st.booleans(),
    st.integers(0, 8),
    st.integers(0, 8),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_text, st.none()), min_size=1, max_size=20), _params)
def test_native_rewrite_equals_the_reference(values: list[str | None], params: tuple) -> None:  # type: ignore[type-arg]
    assert rewrite.NATIVE
    s = pl.Series("v", values, dtype=pl.String)
    # half the rows nulled after the fact: their slots keep the text (as Polars leaves them)
    s = s.to_frame().select(pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.col("v"))).to_series()
    native = mask_numbers(s, params)
    reference = mask_numbers_reference(s, params)
    assert native.eq_missing(reference).all(), list(
        zip(s.to_list(), native.to_list(), reference.to_list(), strict=True)
    )


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="号室路区市楼单元 ，,", max_size=6),
    st.sampled_from(
        ["13812345678", "138 1234 5678", "+86-138-1234-5678", "１３８１２３４５６７８"]
    ),
    st.text(alphabet="号室路区市楼单元 ，,", max_size=6),
)
def test_a_typed_mobile_never_survives_whole(before: str, phone: str, after: str) -> None:
    out = mask_numbers(pl.Series([before + phone + after]), ALL).item()
    digits = "".join(c for c in out if c.isdigit())
    assert "12345678" not in digits.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    assert out.count("*") == 4


def test_a_merchant_release_masks_the_phone_typed_into_the_address(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    add_recipient(workspace, "shop1", template="merchant")
    rows = shop.head(400).with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 0)
        .then(pl.col("address") + " 电话" + pl.col("phone"))
        .otherwise(pl.col("address"))
        .alias("address")
    )
    res = release(rows, recipient="shop1", workspace=workspace, out=tmp_path / "m.csv")
    out = pl.read_csv(tmp_path / "m.csv", infer_schema=False)
    assert out.height == res.rows
    # the address mark writes some digits full-width: compare the folded text
    address = out.select(fold_width(pl.col("address"))).to_series()
    typed = address.filter(address.str.contains("电话"))
    assert typed.len() >= 100
    assert typed.str.contains(r"电话1[3-9][0-9]\*{4}[0-9]{4}$").all()
    assert not address.str.contains(r"1[3-9][0-9]{9}").any()
    # the copy's address marks still read: tracing it names the merchant
    assert [c.recipient for c in trace(tmp_path / "m.csv", workspace=workspace).accused] == [
        "shop1"
    ]
