"""Keyed digests must equal the RFC 2104 reference bit for bit, vectorised or not."""

from __future__ import annotations

import hmac
import time

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.digest import (
    keyed_digest,
    keyed_digest_hex,
    keyed_digest_hex_one,
    keyed_digest_one,
)
from leaktrace.errors import InputError

KEY = bytes(range(32))


def ref_hex(value: str, key: bytes = KEY) -> str:
    return hmac.new(key, value.encode("utf-8"), "sha256").hexdigest()


def ref_u64(value: str, key: bytes = KEY) -> int:
    return int(ref_hex(value, key)[:16], 16)


texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), texts, st.just(""), st.just("张三·买买提")), max_size=30),
    key=st.binary(min_size=16, max_size=150),
)
def test_vectorised_equals_reference(values: list[str | None], key: bytes) -> None:
    s = pl.Series("v", values, dtype=pl.String)
    got_u = keyed_digest(s, key)
    got_h = keyed_digest_hex(s, key)
    assert got_u.dtype == pl.UInt64
    assert got_h.dtype == pl.String
    assert got_u.to_list() == [None if v is None else ref_u64(v, key) for v in values]
    assert got_h.to_list() == [None if v is None else ref_hex(v, key) for v in values]


@settings(max_examples=60, deadline=None)
@given(value=texts, key=st.binary(min_size=16, max_size=100))
def test_scalar_equals_reference(value: str, key: bytes) -> None:
    assert keyed_digest_one(value, key) == ref_u64(value, key)
    assert keyed_digest_hex_one(value, key) == ref_hex(value, key)


@pytest.mark.parametrize(
    "value",
    ["", "13800138000", "张三", "欧阳娜娜", "阿卜杜拉·买买提", "浙江省杭州市西湖区文三路478号"],
)
def test_table(value: str) -> None:
    s = pl.Series("v", [value])
    assert keyed_digest(s, KEY).item() == ref_u64(value) == keyed_digest_one(value, KEY)
    assert keyed_digest_hex(s, KEY).item() == ref_hex(value)


def test_order_preserved_on_many_rows() -> None:
    # Parallel DuckDB execution must keep row order.
    values = [f"{i:011d}" for i in range(200_000)]
    got = keyed_digest(pl.Series("v", values), KEY).to_list()
    for i in (0, 1, 12_345, 99_999, 122_880, 199_999):
        assert got[i] == ref_u64(values[i])


def test_empty_all_null_and_name_kept() -> None:
    assert keyed_digest(pl.Series("x", [], dtype=pl.String), KEY).dtype == pl.UInt64
    out = keyed_digest(pl.Series("phone", [None, None]), KEY)
    assert out.name == "phone"
    assert out.to_list() == [None, None]


def test_integers_digest_as_decimal_text() -> None:
    s = pl.Series("order_id", [1234567890123, None], dtype=pl.Int64)
    assert keyed_digest(s, KEY).to_list() == [ref_u64("1234567890123"), None]


def test_unsuitable_dtype_is_input_error() -> None:
    with pytest.raises(InputError, match="amount"):
        keyed_digest(pl.Series("amount", [1.5]), KEY)


def test_different_keys_differ() -> None:
    s = pl.Series("v", ["13800138000"])
    assert keyed_digest(s, KEY).item() != keyed_digest(s, KEY[::-1]).item()


def test_short_key_refused_without_echoing_it() -> None:
    secret = b"short-secret"
    with pytest.raises(ValueError) as exc:
        keyed_digest(pl.Series("v", ["a"]), secret)
    assert "short-secret" not in str(exc.value)
    with pytest.raises(TypeError):
        keyed_digest_one("a", "not-bytes-but-a-str-key" * 2)  # type: ignore[arg-type]


def test_speed_smoke() -> None:
    # Not a benchmark (see ``python -m leaktrace.digest``): catches a fall-back to per-row Python.
    s = pl.Series("v", [f"1{i:010d}" for i in range(200_000)])
    t0 = time.perf_counter()
    keyed_digest(s, KEY)
    assert time.perf_counter() - t0 < 2.0
