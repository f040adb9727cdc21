from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.errors import PolicyError

from .conftest import run


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("mask_phone", "13812345678", "138****5678"),
        ("mask_phone:keep4", "13812345678", "138****5678"),
        ("mask_phone", "+86 138-1234-5678", "138****5678"),
        ("mask_phone", "008613812345678", "138****5678"),
        ("mask_phone", "8613812345678", "138****5678"),
        ("mask_phone", "１３８１２３４５６７８", "138****5678"),  # full-width digits
        ("mask_phone", "＋８６ １３８ １２３４ ５６７８", "138****5678"),
        ("mask_phone", "138 1234\u30005678", "138****5678"),
        ("mask_phone:waybill", "13812345678", "138******78"),
        ("mask_phone:last4", "13812345678", "*******5678"),
        ("mask_phone", "0571-88886666", "********6666"),  # landline: fail closed
        ("mask_phone:waybill", "0571-88886666", "**********66"),
        ("mask_phone", "1234", "****"),
        ("mask_phone", "n/a", "*"),
        ("mask_phone", None, None),
    ],
)
def test_mask_phone(spec: str, value: str | None, expected: str | None) -> None:
    assert run(spec, [value]) == [expected]


def test_integer_column() -> None:
    assert run("mask_phone", [13812345678, None]) == ["138****5678", None]


def test_bad_arg() -> None:
    with pytest.raises(PolicyError, match="waybill"):
        run("mask_phone:middle", ["13812345678"])


mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles, st.sampled_from(["keep4", "waybill", "last4"]))
def test_hidden_digits_never_leak(phone: str, mode: str) -> None:
    (out,) = run(f"mask_phone:{mode}", [phone])
    head, tail = {"keep4": (3, 4), "waybill": (3, 2), "last4": (0, 4)}[mode]
    assert len(out) == 11
    assert out[:head] == phone[:head]
    assert out[11 - tail :] == phone[11 - tail :]
    assert out[head : 11 - tail] == "*" * (11 - head - tail)
    assert 11 - head - tail >= 4 and (mode != "waybill" or 11 - head - tail >= 6)


@given(st.text(max_size=20))
def test_any_text_shows_at_most_last_four_digits(value: str) -> None:
    (out,) = run("mask_phone", [value])
    assert sum(c.isdigit() for c in out) <= 7  # mobile: 3 + 4; anything else: 4
