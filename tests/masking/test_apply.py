from __future__ import annotations

import polars as pl
import pytest

from leaktrace.errors import MissingColumnError, PolicyError
from leaktrace.masking import (
    OPERATORS,
    MaskingOperator,
    apply_policy_fields,
    check_spec,
    parse_spec,
)

from .conftest import CTX

DF = pl.DataFrame(
    {
        "order_id": ["A1", "A2"],
        "name": ["张三", "欧阳娜娜"],
        "phone": ["13812345678", None],
        "address": ["浙江省杭州市西湖区文三路478号", "北京市朝阳区建国路88号"],
        "card_last4": ["1234", "5678"],
    }
)


def test_selects_masks_and_orders() -> None:
    out = apply_policy_fields(
        DF,
        {
            "address": "generalise_address:city",
            "phone": "mask_phone",
            "name": "mask_name",
            "card_last4": "drop",
            "amount": "keep?",
        },
        CTX,
    )
    assert out.columns == ["address", "phone", "name"]  # order of fields; drop/absent-optional gone
    assert out.to_dict(as_series=False) == {
        "address": ["浙江省杭州市", "北京市"],
        "phone": ["138****5678", None],
        "name": ["张*", "欧阳**"],
    }


def test_unlisted_roles_not_sent() -> None:
    assert apply_policy_fields(DF, {"order_id": "keep"}, CTX).columns == ["order_id"]


def test_missing_required_column_named() -> None:
    with pytest.raises(MissingColumnError, match="'amount'"):
        apply_policy_fields(DF, {"amount": "round_amount"}, CTX)


def test_unknown_operator_is_policy_error_before_data() -> None:
    with pytest.raises(PolicyError, match="alias"):
        apply_policy_fields(DF, {"order_id": "alias", "nope": "keep"}, CTX)
    with pytest.raises(PolicyError, match="'phone'"):
        apply_policy_fields(DF, {"phone": "mask_phone:bogus"}, CTX)


def test_dtype_mismatch_is_policy_error() -> None:
    with pytest.raises(PolicyError, match="'x'"):
        apply_policy_fields(pl.DataFrame({"x": [1.5]}), {"x": "mask_name"}, CTX)


def test_parse_spec() -> None:
    assert parse_spec("keep?").optional and parse_spec("keep?").name == "keep"
    s = parse_spec("mask_phone:waybill?")
    assert (s.name, s.arg, s.optional) == ("mask_phone", "waybill", True)
    assert parse_spec("generalise_address:city").arg == "city"
    with pytest.raises(PolicyError):
        parse_spec(":x")


def test_registry_and_config_membership() -> None:
    expected = {"keep", "drop", "mask_name", "mask_phone", "mask_id", "mask_card",
                "generalise_address", "digest", "truncate_date", "round_amount", "alias"}  # fmt: skip
    assert set(OPERATORS) == expected
    # config.check tests `spec.split(":", 1)[0] in OPERATORS`
    for spec in ("keep?", "mask_phone:waybill?", "generalise_address:city"):
        assert spec.split(":", 1)[0] in OPERATORS
    for cls in OPERATORS.values():
        assert issubclass(cls, MaskingOperator) and cls.description


def test_check_spec() -> None:
    check_spec("mask_phone:waybill?")
    with pytest.raises(PolicyError):
        check_spec("round_amount:zero")
