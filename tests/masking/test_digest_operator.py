from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.errors import PolicyError
from leaktrace.masking import MaskContext, recipient_digest_key

from .conftest import CTX, run


def reference(value: str, ctx: MaskContext) -> str:
    rkey = hmac.new(
        ctx.digest_key, b"leaktrace/masking/digest/v1\0" + ctx.recipient.encode(), hashlib.sha256
    ).digest()
    return hmac.new(rkey, value.encode("utf-8"), hashlib.sha256).hexdigest()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=30)), max_size=10))
def test_equals_reference(values: list[str | None]) -> None:
    assert run("digest", values) == [None if v is None else reference(v, CTX) for v in values]


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=30), st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10))
def test_differs_per_recipient(value: str, r1: str, r2: str) -> None:
    if r1 == r2:
        return
    a = MaskContext(CTX.digest_key, r1)
    b = MaskContext(CTX.digest_key, r2)
    assert run("digest", [value], ctx=a) != run("digest", [value], ctx=b)
    assert recipient_digest_key(CTX.digest_key, r1) != recipient_digest_key(CTX.digest_key, r2)


def test_length_arg_and_chinese() -> None:
    (full,) = run("digest", ["张三 13812345678"])
    assert run("digest:16", ["张三 13812345678"]) == [full[:16]]
    for bad in ("8", "65", "abc"):
        with pytest.raises(PolicyError):
            run(f"digest:{bad}", ["x"])


def test_context_repr_hides_key() -> None:
    ctx = MaskContext(digest_key=b"super-secret-key-material-32byte", recipient="sto")
    assert "super-secret" not in repr(ctx)
    assert "sto" in repr(ctx)
