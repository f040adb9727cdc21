from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.masking.name import COMPOUND_SURNAMES

from .conftest import run


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("张三", "张*"),
        ("王小明", "王**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳娜", "欧阳*"),
        ("欧阳", "欧*"),  # two characters: too short to be surname + given name
        ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("阿卜杜拉·买买提", "阿***·***"),
        ("迪丽热巴•迪力木拉提", "迪***•*****"),
        ("张", "*"),
        (" 李四 ", "李*"),
        ("John Smith", "J*** *****"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_name(value: str | None, expected: str | None) -> None:
    assert run("mask_name", [value]) == [expected]


def test_compound_list_has_no_duplicates() -> None:
    assert len(set(COMPOUND_SURNAMES)) == len(COMPOUND_SURNAMES)
    assert all(len(s) == 2 for s in COMPOUND_SURNAMES)


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=6
    )
)
def test_han_name_hides_all_but_surname(name: str) -> None:
    (out,) = run("mask_name", [name])
    assert len(out) == len(name)
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) >= 3 else 1
    assert out[:keep] == name[:keep]
    assert set(out[keep:]) == {"*"}
