"""SipHash-2-4 digests (key format 2): the C kernel, the NumPy fallback and the reference
code agree with the algorithm's published vectors and with each other."""

from __future__ import annotations

import pickle

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import digest
from leaktrace.digest import (
    SipKey,
    keyed_digest,
    keyed_digest_joined,
    keyed_digest_one,
    keyed_digests,
    siphash24,
)
from test_digest import texts

# The reference implementation's vectors (vectors_sip64): key 00 01 .. 0f, message
# 00 01 .. n-1, the 64-bit output read little-endian.
VECTORS = [
    0x726FDB47DD0E0E31, 0x74F839C593DC67FD, 0x0D6C8009D9A94F5A, 0x85676696D7FB7E2D,
    0xCF2794E0277187B7, 0x18765564CD99A68D, 0xCBC9466E58FEE3CE, 0xAB0200F58B01D137,
    0x93F5F5799A932462, 0x9E0082DF0BA9E4B0, 0x7A5DBBC594DDB9F3, 0xF4B32F46226BADA7,
    0x751E8FBC860EE5FB, 0x14EA5627C0843D90, 0xF723CA908E7AF2EE, 0xA129CA6149BE45E5,
    0x3F2ACC7F57C29BDB, 0x699AE9F52CBE4794,
]  # fmt: skip
KEY = SipKey(bytes(range(16)) + bytes(16))  # a 32-byte derived key; SipHash uses the first 16
MESSAGES = [bytes(range(n)).decode("ascii") for n in range(len(VECTORS))]


def test_reference_code_gives_the_published_vectors() -> None:
    assert [siphash24(KEY, m.encode()) for m in MESSAGES] == VECTORS


def test_kernel_and_fallback_give_the_published_vectors() -> None:
    s = pl.Series("v", MESSAGES)
    assert keyed_digest(s, KEY).to_list() == VECTORS
    assert digest._sip_numpy(s, KEY).to_list() == VECTORS
    assert [keyed_digest_one(m, KEY) for m in MESSAGES] == VECTORS


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), texts, st.just("")), max_size=40),
    key=st.binary(min_size=16, max_size=40),
    threads=st.integers(1, 3),
)
def test_kernel_fallback_and_reference_agree(
    values: list[str | None], key: bytes, threads: int
) -> None:
    k = SipKey(key)
    s = pl.Series("v", values, dtype=pl.String)
    want = [None if v is None else siphash24(k, v.encode()) for v in values]
    got = digest._views_u64([s], k, threads=threads, min_rows_per_thread=1).to_list()
    assert got == want
    assert keyed_digest(s, k).to_list() == want
    assert digest._sip_numpy(s, k).to_list() == want


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.one_of(st.none(), texts), st.one_of(st.none(), texts)), max_size=30
    ),
    sep=st.sampled_from(["\x1f", "", "|", "·"]),
)
def test_joined_columns_digest_as_the_joined_text(
    pairs: list[tuple[str | None, str | None]], sep: str
) -> None:
    a = pl.Series("a", [p[0] for p in pairs], dtype=pl.String)
    b = pl.Series("b", [p[1] for p in pairs], dtype=pl.String)
    want = [
        None if x is None or y is None else siphash24(KEY, (x + sep + y).encode()) for x, y in pairs
    ]
    assert keyed_digest_joined([a, b], KEY, sep).to_list() == want


def test_mixed_schemes_in_one_call_keep_each_its_own() -> None:
    s = pl.Series("v", ["13800138000", "张三", ""])
    hmac_key = bytes(KEY)  # same bytes, plain: HMAC-SHA256
    both = keyed_digests({"h": (s, hmac_key), "s": (s, KEY)})
    assert both["h"].to_list() == keyed_digest(s, hmac_key).to_list()
    assert both["s"].to_list() == [siphash24(KEY, v.encode()) for v in s.to_list()]
    assert both["h"].to_list() != both["s"].to_list()


def test_key_type_survives_pickling_and_never_prints() -> None:
    again = pickle.loads(pickle.dumps(KEY))
    assert isinstance(again, SipKey) and again == KEY
    assert "hidden" in repr(KEY) and KEY.hex() not in repr(KEY)
    with pytest.raises(ValueError, match="at least 16"):
        keyed_digest(pl.Series(["x"]), SipKey(b"short"))


def test_hex_digests_refuse_a_siphash_key() -> None:
    """The 64-hex-character digests are HMAC only; a SipKey there would silently mean HMAC."""
    from leaktrace.digest import keyed_digest_hex, keyed_digest_hex_one

    with pytest.raises(TypeError, match="64-bit"):
        keyed_digest_hex(pl.Series(["x"]), KEY)
    with pytest.raises(TypeError, match="64-bit"):
        keyed_digest_hex_one("x", KEY)
