"""Keyed digests must equal the RFC 2104 reference bit for bit, vectorised or not."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import digest
from leaktrace.digest import (
    keyed_digest,
    keyed_digest_hex,
    keyed_digest_hex_one,
    keyed_digest_one,
    keyed_digests,
)
from leaktrace.errors import InputError

try:
    from leaktrace import _hmac
except ImportError:  # not built: the tests marked `native` fail, the others still run
    _hmac = None  # type: ignore[assignment]

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


# --- the native kernel (leaktrace._hmac) and the DuckDB fallback --------------------------------

PATHS = [pytest.param(False, id="sha-ni"), pytest.param(True, id="portable")]


@pytest.fixture(scope="module")
def kernel_built() -> None:
    # gcc and the Python headers are on every machine of this project, so a missing kernel
    # is a broken build (see setup.py), not a configuration to skip silently.
    if _hmac is None or not digest.NATIVE:
        pytest.fail(
            "leaktrace._hmac was not built (the install found no C compiler?): "
            "reinstall with `pip install -e .` and read its build output",
            pytrace=False,
        )


native = pytest.mark.usefixtures("kernel_built")


def rfc2104_pads(key: bytes) -> tuple[bytes, bytes]:
    """Padded key blocks for ANY key length (``digest._pads`` refuses keys < 16 bytes)."""
    k = hashlib.sha256(key).digest() if len(key) > 64 else key
    k = k.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def native_u64(
    messages: list[bytes],
    key: bytes,
    *,
    portable: bool,
    threads: int = 1,
    width: type[np.int32] | type[np.int64] = np.int64,
    min_rows_per_thread: int = 1,
) -> list[int]:
    """The C function on raw buffers, midstates from the C function too."""
    kin, kout = rfc2104_pads(key)
    inner = _hmac.sha256_midstate(kin, portable=portable)
    outer = _hmac.sha256_midstate(kout, portable=portable)
    offsets = np.cumsum([0, *map(len, messages)]).astype(width)
    raw = _hmac.hmac_sha256_u64(
        b"".join(messages),
        offsets,
        inner,
        outer,
        threads,
        portable=portable,
        min_rows_per_thread=min_rows_per_thread,
    )
    return [int(x) for x in np.frombuffer(raw, dtype=np.uint64)]


def ref_u64_bytes(message: bytes, key: bytes) -> int:
    return int.from_bytes(hmac.new(key, message, "sha256").digest()[:8], "big")


# RFC 4231 section 4: (key, data, HMAC-SHA256). Case 5 (truncated output) has no use here.
RFC4231 = [
    pytest.param(
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        id="case1",
    ),
    pytest.param(
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        id="case2",
    ),
    pytest.param(
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        id="case3",
    ),
    pytest.param(
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        id="case4",
    ),
    pytest.param(
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        id="case6",
    ),
    pytest.param(
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size "
        b"data. The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        id="case7",
    ),
]


@native
@pytest.mark.parametrize("portable", PATHS)
@pytest.mark.parametrize(("key", "data", "mac"), RFC4231)
def test_rfc4231_vectors(key: bytes, data: bytes, mac: str, portable: bool) -> None:
    assert hmac.new(key, data, "sha256").hexdigest() == mac  # the vectors are transcribed right
    expected = int(mac[:16], 16)
    # alone (the single-row path) and in pairs (the two-chains-at-once path), both widths
    assert native_u64([data], key, portable=portable) == [expected]
    for width in (np.int32, np.int64):
        got = native_u64([data, b"", data, data], key, portable=portable, width=width)
        assert got == [expected, ref_u64_bytes(b"", key), expected, expected]


@native
def test_sha_ni_detected_where_the_cpu_has_it() -> None:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = f.read().split()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    if "sha_ni" not in flags:
        pytest.skip("this CPU has no SHA extensions: only the portable path runs")
    assert _hmac.has_sha_ni()


def py_sha256_compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    """FIPS 180-4 SHA-256 compression in plain Python (a slow independent reference)."""

    def rotr(x: int, n: int) -> int:
        return ((x >> n) | (x << (32 - n))) & 0xFFFFFFFF

    primes = [p for p in range(2, 312) if all(p % d for d in range(2, p))][:64]
    k = [int((p ** (1 / 3) % 1) * 2**32) for p in primes]  # float precision suffices here
    w = [int.from_bytes(block[i : i + 4], "big") for i in range(0, 64, 4)]
    for t in range(16, 64):
        s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & 0xFFFFFFFF)
    a, b, c, d, e, f, g, h = state
    for t in range(64):
        t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t]
        t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))
        a, b, c, d, e, f, g, h = (t1 + t2) & 0xFFFFFFFF, a, b, c, (d + t1) & 0xFFFFFFFF, e, f, g
    return tuple((x + y) & 0xFFFFFFFF for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


SHA256_IV = (
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
)  # fmt: skip


@native
@pytest.mark.parametrize("portable", PATHS)
def test_midstate_is_one_sha256_compression(portable: bool) -> None:
    pad = b"\x80" + b"\0" * 55 + (512).to_bytes(8, "big")  # padding block of a 64-byte message
    for block in (bytes(range(64)), b"\x36" * 64, b"\x5c" * 64, random.Random(1).randbytes(64)):
        mid = py_sha256_compress(SHA256_IV, block)
        # the Python reference is right: finishing it gives hashlib's SHA-256 of the block
        full = py_sha256_compress(mid, pad)
        assert b"".join(x.to_bytes(4, "big") for x in full) == hashlib.sha256(block).digest()
        assert _hmac.sha256_midstate(block, portable=portable) == b"".join(
            x.to_bytes(4, "big") for x in mid
        )
    with pytest.raises(ValueError, match="64 bytes"):
        _hmac.sha256_midstate(bytes(63), portable=portable)


# Message lengths around the SHA-256 padding boundaries, and beyond one block of 1 KB.
BOUNDARY_LENGTHS = [0, 1, 11, 54, 55, 56, 57, 63, 64, 65, 118, 119, 120, 121, 127, 128, 129]


@native
@pytest.mark.parametrize("portable", PATHS)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_boundary_lengths_every_pairing(portable: bool, threads: int) -> None:
    # Every length next to every other, so the interleaved pair path meets every mix of
    # block counts; odd counts and thread splits exercise the single-row tail.
    rnd = random.Random(threads)
    lengths = [*BOUNDARY_LENGTHS, 1000, 1100, 4097]
    messages = [rnd.randbytes(n) for a in lengths for n in (a, *lengths)]
    for key in (bytes(range(16)), bytes(range(64)), bytes(range(100))):
        assert native_u64(messages, key, portable=portable, threads=threads) == [
            ref_u64_bytes(m, key) for m in messages
        ]


utf8_lengths = st.sampled_from([*BOUNDARY_LENGTHS, 1500])


@st.composite
def exact_utf8(draw: st.DrawFn) -> str:
    """A string whose UTF-8 encoding is exactly one of the boundary lengths (1–4 byte chars)."""
    target = draw(utf8_lengths)
    out: list[str] = []
    size = 0
    while size < target:
        ch = draw(st.characters(codec="utf-8", exclude_categories=["Cs"]))
        w = len(ch.encode("utf-8"))
        if size + w > target:
            ch, w = "a", 1
        out.append(ch)
        size += w
    return "".join(out)


native_values = st.lists(
    st.one_of(st.none(), texts, exact_utf8(), st.just(""), st.text(min_size=300, max_size=700)),
    max_size=40,
)


@native
@settings(max_examples=80, deadline=None)
@given(
    values=native_values,
    key=st.one_of(st.binary(min_size=16, max_size=63), st.binary(min_size=64, max_size=200)),
    portable=st.booleans(),
    threads=st.sampled_from([1, 2, 3]),
    cut=st.integers(min_value=0, max_value=5),
)
def test_native_equals_reference(
    values: list[str | None], key: bytes, portable: bool, threads: int, cut: int
) -> None:
    s = pl.Series("v", values, dtype=pl.String)
    states = digest._native_states(key, portable=portable)
    want = [None if v is None else ref_u64(v, key) for v in values]

    got = digest._native_u64(s, states, threads=threads, portable=portable, min_rows_per_thread=1)
    assert got.dtype == pl.UInt64
    assert got.name == "v"
    assert got.to_list() == want
    # a sliced Series, and Arrow arrays with a non-zero offset, int32 offsets, several chunks
    assert (
        digest._native_u64(
            s.slice(cut), states, threads=threads, portable=portable, min_rows_per_thread=1
        ).to_list()
        == want[cut:]
    )
    for typ in (pa.string(), pa.large_string(), pa.string_view()):
        arr = pa.array(values, type=typ)
        kw: dict[str, Any] = {"threads": threads, "portable": portable, "min_rows_per_thread": 1}
        assert digest._arrow_u64(arr.slice(cut), states, **kw).to_list() == want[cut:]
        chunked = pa.chunked_array([arr.slice(0, cut), arr.slice(cut)], type=typ)
        assert digest._arrow_u64(chunked, states, **kw).to_list() == want


@native
def test_public_functions_run_natively() -> None:
    # The build must provide the kernel here; keyed_digest falls back to DuckDB only where
    # the extension could not be compiled (see test_duckdb_fallback_*).
    assert digest.NATIVE
    s = pl.Series("phone", ["13800138000", None, ""])
    assert keyed_digest(s, KEY).to_list() == [ref_u64("13800138000"), None, ref_u64("")]


@native
@pytest.mark.parametrize("portable", PATHS)
def test_many_rows_split_over_threads(portable: bool) -> None:
    rnd = random.Random(7)
    values: list[str | None] = [
        "".join(rnd.choice("0123456789张三李四·") for _ in range(rnd.choice(BOUNDARY_LENGTHS)))
        for _ in range(3 * 4096 + 7)
    ]
    values[5] = None
    s = pl.Series("v", values, dtype=pl.String)
    want = [None if v is None else ref_u64(v) for v in values]
    states = digest._native_states(KEY, portable=portable)
    for threads in (1, 2, 3, 8):
        # default min_rows_per_thread (4096): up to 3 threads really run here
        got = digest._native_u64(s, states, threads=threads, portable=portable)
        assert got.to_list() == want


def test_keyed_digests_equals_keyed_digest_per_column() -> None:
    rnd = random.Random(3)
    n = 5000
    phones = pl.Series(
        [None if i % 97 == 0 else f"1{rnd.randrange(10**10):010d}" for i in range(n)]
    )
    ids = pl.Series(list(range(n)), dtype=pl.Int64)
    names = pl.Series([rnd.choice(["张三", "欧阳娜娜", "", None]) for _ in range(n)])
    key2 = bytes(range(100, 200))
    cols = {"phone": (phones, KEY), "id": (ids, key2), "name": (names, KEY[::-1])}
    got = keyed_digests(cols)
    assert got.columns == ["phone", "id", "name"]
    for name, (values, key) in cols.items():
        assert got.get_column(name).to_list() == keyed_digest(values, key).to_list()
    assert got.get_column("id")[1234] == ref_u64("1234", key2)


@native
def test_kernel_rejects_bad_arguments() -> None:
    inner, outer = digest._native_states(KEY)
    with pytest.raises(ValueError, match="offsets"):
        _hmac.hmac_sha256_u64(b"abc", np.array([0, 5], dtype=np.int64), inner, outer)
    with pytest.raises(ValueError, match="offsets"):
        _hmac.hmac_sha256_u64(b"abc", np.array([2, 1], dtype=np.int32), inner, outer)
    with pytest.raises(TypeError, match="int32 or int64"):
        _hmac.hmac_sha256_u64(b"abc", np.array([0, 3], dtype=np.float64), inner, outer)
    with pytest.raises(ValueError, match="32 bytes"):
        _hmac.hmac_sha256_u64(b"abc", np.array([0, 3], dtype=np.int64), inner[:31], outer)
    with pytest.raises(ValueError, match=">= 1"):
        _hmac.hmac_sha256_u64(b"abc", np.array([0, 3], dtype=np.int64), inner, outer, 0)
    assert _hmac.hmac_sha256_u64(b"", np.array([0], dtype=np.int64), inner, outer) == b""


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), texts, st.just("")), max_size=20),
    key=st.binary(min_size=16, max_size=150),
)
def test_duckdb_fallback_equals_reference(values: list[str | None], key: bytes) -> None:
    # The path used where leaktrace._hmac could not be built must stay bit-identical.
    s = pl.Series("v", values, dtype=pl.String)
    want = [None if v is None else ref_u64(v, key) for v in values]
    assert digest._keyed_digest_duckdb(s, key).to_list() == want
    both = digest._keyed_digests_duckdb({"a": (s, key), "b": (s, KEY)})
    assert both.get_column("a").to_list() == want
    assert both.get_column("b").to_list() == [None if v is None else ref_u64(v) for v in values]


def test_duckdb_fallback_used_without_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    s = pl.Series("v", ["13800138000", None, "张三"])
    native = keyed_digests({"x": (s, KEY)})
    monkeypatch.setattr(digest, "NATIVE", False)
    monkeypatch.setattr(digest, "_hmac", None, raising=False)  # any use of it would now fail
    assert keyed_digest(s, KEY).to_list() == native.get_column("x").to_list()
    assert keyed_digests({"x": (s, KEY)}).equals(native)
    assert keyed_digests({"x": (s[:0], KEY)}).get_column("x").dtype == pl.UInt64


@native
@settings(max_examples=80, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.one_of(st.none(), texts, exact_utf8(), st.just("")),
            st.one_of(st.none(), texts, exact_utf8(), st.just("")),
        ),
        max_size=40,
    ),
    sep=st.sampled_from(["\x1f", "", "·分隔·"]),
    portable=st.booleans(),
    threads=st.sampled_from([1, 2, 3]),
    cut=st.integers(min_value=0, max_value=5),
)
def test_joined_digest_equals_digest_of_joined_text(
    pairs: list[tuple[str | None, str | None]], sep: str, portable: bool, threads: int, cut: int
) -> None:
    """Two columns joined inside the kernel digest exactly like the joined text (and a
    row with a null part is null), also for sliced input and two chunks."""
    a = pl.Series("a", [p[0] for p in pairs], dtype=pl.String)
    b = pl.Series("b", [p[1] for p in pairs], dtype=pl.String)
    want = [None if x is None or y is None else ref_u64(x + sep + y) for x, y in pairs]
    states = digest._native_states(KEY, portable=portable)
    kw: dict[str, Any] = {"threads": threads, "portable": portable, "min_rows_per_thread": 1}
    assert digest._views_u64([a, b], states, sep=sep.encode(), **kw).to_list() == want
    assert (
        digest._views_u64([a.slice(cut), b.slice(cut)], states, sep=sep.encode(), **kw).to_list()
        == want[cut:]
    )
    two_chunks = pl.concat([a.slice(0, cut), a.slice(cut)], rechunk=False)
    assert digest._views_u64([two_chunks, b], states, sep=sep.encode(), **kw).to_list() == want
    assert digest.keyed_digest_joined([a, b], KEY, sep).to_list() == want
    assert (
        keyed_digest(
            pl.DataFrame([a, b]).select(pl.concat_str("a", "b", separator=sep)).to_series(), KEY
        ).to_list()
        == want
    )


@native
def test_views_kernel_refuses_views_outside_their_buffers() -> None:
    inner, outer = digest._native_states(KEY)
    data = (b"x" * 40,)

    def view(length: int, buf: int = 0, offset: int = 0) -> bytes:
        return np.array([length, 0, buf, offset], dtype=np.int32).tobytes()

    ok = view(30, 0, 10)
    assert len(_hmac.hmac_sha256_u64_views(((ok, data),), b"", inner, outer)) == 8
    for bad in (view(31, 0, 10), view(20, 1, 0), view(20, 0, -1), view(-1)):
        with pytest.raises(ValueError, match="row 1: a string view lies outside"):
            _hmac.hmac_sha256_u64_views(((ok + bad, data),), b"", inner, outer)
        with pytest.raises(ValueError, match="row 0: a string view lies outside"):
            _hmac.hmac_sha256_u64_views(((ok, data), (bad, data)), b"-", inner, outer)
    with pytest.raises(ValueError, match="16 bytes per row"):
        _hmac.hmac_sha256_u64_views(((ok[:15], data),), b"", inner, outer)
    with pytest.raises(ValueError, match="differ in length"):
        _hmac.hmac_sha256_u64_views(((ok, data), (ok + ok, data)), b"", inner, outer)
    with pytest.raises(ValueError, match="one or two"):
        _hmac.hmac_sha256_u64_views(((ok, data),) * 3, b"", inner, outer)
    with pytest.raises(ValueError, match="pair"):
        _hmac.hmac_sha256_u64_views(((ok, list(data)),), b"", inner, outer)
    assert _hmac.hmac_sha256_u64_views(((b"", ()),), b"", inner, outer) == b""
