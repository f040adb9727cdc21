"""``alias``: an order number typed with full-width digits or padded with spaces gets the
alias of its plain form, whether or not the rest of the column is plain ASCII (the operator
skips the width fold for all-ASCII columns)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.errors import InputError
from leaktrace.masking import MaskContext

from .conftest import run

CTX = MaskContext(digest_key=bytes(range(32)), recipient="zto", alias_key=bytes(32))
FULL = str.maketrans("0123456789", "０１２３４５６７８９")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[1-9][0-9]{15,18}", fullmatch=True), min_size=2, max_size=20))
def test_typed_forms_alias_like_the_plain_form(ids: list[str]) -> None:
    plain = run("alias", ids, ctx=CTX)
    assert all(
        len(a) == len(i) and a.isascii() and a.isdigit() for a, i in zip(plain, ids, strict=True)
    )
    typed = [i.translate(FULL) if k % 2 else f" {i}\u3000" for k, i in enumerate(ids)]
    assert run("alias", typed, ctx=CTX) == plain  # no ASCII-only column: folded
    padded = [f" {i} " if k % 2 else i for k, i in enumerate(ids)]
    assert run("alias", padded, ctx=CTX) == plain  # ASCII-only column: stripped, not folded
    assert run("alias", [*ids, None], ctx=CTX) == [*plain, None]


def test_a_letter_is_still_refused() -> None:
    with pytest.raises(InputError, match=r"row 1 .*alphabet"):
        run("alias", ["1234567890123456", "12345678901234x6"], ctx=CTX)
