"""Table-driven tests, one block per detector / normaliser."""

from __future__ import annotations

import polars as pl
import pytest

from leaktrace.pii import (
    all_detectors,
    canonical_str,
    fold_width_str,
    get_detector,
    is_chinese_name,
    is_masked_name,
    is_mobile,
    is_valid_id,
    is_valid_id_str,
    luhn_ok_str,
    normalise_phone,
    phone_pattern,
)
from leaktrace.pii.base import Detector, register
from leaktrace.roles import Role


def _one(expr: pl.Expr, value: str | None) -> object:
    return pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(expr).item()


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("１３８ＡＢｃ", "138ABc"), ("（）【】", "()【】"), ("a\u3000b", "a b"), ("＃－＊", "#-*")],
)
def test_fold_width(raw: str, folded: str) -> None:
    from leaktrace.pii import fold_width

    assert _one(fold_width(pl.col("v")), raw) == folded == fold_width_str(raw)


def test_canonical_removes_all_whitespace() -> None:
    from leaktrace.pii import canonical

    raw = " 张\u3000三\t\n１ "
    assert _one(canonical(pl.col("v")), raw) == "张三1" == canonical_str(raw)


@pytest.mark.parametrize(
    ("raw", "norm", "mobile"),
    [
        ("13812345678", "13812345678", True),
        ("+86 138-1234-5678", "13812345678", True),
        ("0086 13812345678", "13812345678", True),
        ("8613812345678", "13812345678", True),
        ("(138) 1234 5678", "13812345678", True),
        ("１３８１２３４５６７８", "13812345678", True),
        ("138****5678", "138****5678", True),
        ("138＊＊＊＊5678", "138****5678", True),
        ("12812345678", "12812345678", False),
        ("010-12345678", "01012345678", False),
        ("1381234567", "1381234567", False),
        ("张三", None, False),
        (None, None, False),
    ],
)
def test_phone(raw: str | None, norm: str | None, mobile: bool) -> None:
    assert _one(normalise_phone(pl.col("v")), raw) == norm
    assert _one(is_mobile(pl.col("v")), raw) is mobile


def test_unmasked_only() -> None:
    assert _one(is_mobile(pl.col("v"), allow_masked=False), "138****5678") is False


def test_phone_pattern_in_text() -> None:
    s = pl.Series(["您好，请拨打 +86 138-1234-5678 联系客服", "无号码", "尾号 139****0000"])
    assert s.str.contains(phone_pattern).to_list() == [True, False, True]


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("１１０１０５１９４９１２３１００２Ｘ", True),
        ("110105 19491231 002X", True),
        ("110105194912310021", False),  # wrong check digit
        ("110105194913310028", False),  # month 13
        ("11010519491231002", False),  # 17 chars
        ("abc", False),
        (None, False),
    ],
)
def test_id_number(raw: str | None, valid: bool) -> None:
    assert _one(is_valid_id(pl.col("v")), raw) is valid
    if raw is not None:
        assert is_valid_id_str(raw) is valid


def test_id_strict_region_check_runs_on_survivors_only() -> None:
    # Region 999999 does not exist: checksum-valid, but stdnum rejects it.
    body = "99999919800101001"
    w = [pow(2, 17 - i, 11) for i in range(17)]
    fake = body + "10X98765432"[sum(int(c) * k for c, k in zip(body, w, strict=True)) % 11]
    df = pl.DataFrame({"v": ["11010519491231002X", fake, "junk", None]})
    assert df.select(is_valid_id(pl.col("v"))).to_series().to_list() == [True, True, False, False]
    strict = df.select(is_valid_id(pl.col("v"), strict=True)).to_series().to_list()
    assert strict == [True, False, False, False]


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("4111111111111111", True),
        ("4111 1111 1111 1111", True),
        ("6222-0212-3456-7890-128", True),
        ("6222-0212-3456-7890-129", False),
        ("6212262201023557228", True),  # 19 digits
        ("4111111111111112", False),
        ("1234", False),
    ],
)
def test_luhn(raw: str, ok: bool) -> None:
    assert luhn_ok_str(raw) is ok


@pytest.mark.parametrize(
    ("raw", "name", "masked"),
    [
        ("张三", True, False),
        ("欧阳娜娜", True, False),
        ("张*", True, True),
        ("张**", True, True),
        ("张*三", True, True),
        ("欧阳*", True, True),
        ("张＊", True, True),
        ("阿依古丽·买买提", False, False),  # longer than 4 — not claimed
        ("Zhang San", False, False),
        ("张三丰李四王", False, False),
    ],
)
def test_name(raw: str, name: bool, masked: bool) -> None:
    assert _one(is_chinese_name(pl.col("v")), raw) is name
    assert _one(is_masked_name(pl.col("v")), raw) is masked


def test_name_detector_prefers_common_surnames() -> None:
    det = get_detector("cn_name")
    assert det.score(pl.Series(["张伟", "王芳"])) > det.score(pl.Series(["顺丰速运", "已发货"]))


def test_registry() -> None:
    names = {d.name for d in all_detectors()}
    assert {"cn_mobile", "cn_ric", "bank_card", "cn_name", "cn_address"} <= names
    det = get_detector("cn_ric")
    assert det.role is Role.ID_NUMBER
    assert det.score(pl.Series(["11010519491231002X", None])) == 1.0
    with pytest.raises(ValueError, match="already registered"):
        register(Detector("cn_ric", Role.ID_NUMBER, r".", lambda e: e))
