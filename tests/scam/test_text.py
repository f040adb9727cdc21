from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from leaktrace.scam._text import MAX_CHARS, clean_input, fold


def test_fold_full_width_and_spaces() -> None:
    f = fold("加 ＱＱ　１２３")
    assert f.text == "加qq123"
    assert f.span(1, 3) == (2, 4)


def test_clean_input_caps() -> None:
    text, truncated = clean_input("a" * (MAX_CHARS + 5))
    assert truncated and len(text) == MAX_CHARS
    assert clean_input("abc") == ("abc", False)


@given(st.text(max_size=200))
def test_origin_is_monotone_and_in_range(text: str) -> None:
    f = fold(text)
    assert len(f.origin) == len(f.text)
    assert list(f.origin) == sorted(f.origin)
    assert all(0 <= o < len(text) for o in f.origin)
