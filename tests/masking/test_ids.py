from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import run


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("mask_id", "110105199001011234", "110105********1234"),
        ("mask_id", "11010519900101123x", "110105********123X"),
        ("mask_id", "１１０１０５１９９００１０１１２３４", "110105********1234"),
        ("mask_id", "110105 19900101 1234", "110105********1234"),
        ("mask_id", "110105900101123", "110105******123"),  # 15-digit, pre-1999
        ("mask_id", "12345678", "****5678"),
        ("mask_id", "abc", "***"),
        ("mask_id", None, None),
        ("mask_id:last4", "110105199001011234", "**************1234"),
        ("mask_card", "6222021234567890123", "***************0123"),
        ("mask_card", "6222 0212 3456 7890", "************7890"),
        ("mask_card", "1234", "****"),
        ("mask_card", None, None),
    ],
)
def test_table(spec: str, value: str | None, expected: str | None) -> None:
    assert run(spec, [value]) == [expected]


@given(st.from_regex(r"[1-6][0-9]{16}[0-9X]", fullmatch=True))
def test_birth_date_never_leaks(id_number: str) -> None:
    (out,) = run("mask_id", [id_number])
    assert out[6:14] == "********"
    assert out[:6] == id_number[:6] and out[14:] == id_number[14:]


@given(st.from_regex(r"[0-9]{16,19}", fullmatch=True))
def test_card_keeps_only_last4(card: str) -> None:
    (out,) = run("mask_card", [card])
    assert out == "*" * (len(card) - 4) + card[-4:]
