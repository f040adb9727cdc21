"""Keyed digests of identifying values, computed column-at-a-time.

Why: the ledger's exposure index must answer "which releases contained this phone / order id /
name+address?" without storing the plaintext. A keyed digest (HMAC-SHA256 under a secret key)
does that: whoever holds the key can recompute the digest of a value from evidence and look it
up; whoever steals the index cannot brute-force the 10^11 phone numbers without the key.

How: releases run to 10M rows and a per-value Python ``hmac.new`` costs ~1.5 µs. The
standard construction (RFC 2104)

    HMAC(K, m) = SHA256((K' ⊕ opad) || SHA256((K' ⊕ ipad) || m))

with ``K'`` the key zero-padded to the 64-byte SHA-256 block (or first hashed when longer)
spends two of its SHA-256 compressions on the key blocks alone. :func:`keyed_digest` and
:func:`keyed_digests` therefore compress ``K' ⊕ ipad`` and ``K' ⊕ opad`` once per key
(``_hmac.sha256_midstate``) and hand the two chaining values with the column's Arrow
string views (Polars' own layout, read in place; an identity key's two parts are joined
inside the kernel) to the C extension ``leaktrace._hmac`` (``_hmac.c``), which then costs 2
compressions for a message under 56 bytes (4 for 40 Chinese characters), splits the rows
over :data:`THREADS` pthreads with the GIL released, and uses the x86 SHA extensions
(SHA-NI, two messages interleaved) when the CPU has them, else portable C. Measured with the
module's ``__main__`` on the 2-core development machine (SHA-NI, other jobs running):
1M 11-digit strings ≈ 0.05 s, 1M 40-character Chinese strings ≈ 0.10 s (DuckDB: 0.6–0.9 s
each), six 1M-row columns through :func:`keyed_digests` ≈ 0.25–0.5 s (DuckDB: 5–6 s). Per
thread the kernel takes ~50 ns per 11-digit value with SHA-NI and ~8x that in portable C.

Fallback: where the extension could not be compiled (``setup.py`` marks it optional), the
same digests come from DuckDB SQL, which has ``sha256`` on BLOB, ``unhex`` and blob ``||``:
the construction above runs as one SQL projection on all cores over the Arrow buffer
(``_keyed_digest_duckdb`` / ``_keyed_digests_duckdb``). :func:`keyed_digest_hex` (full
64-hex-digit digests, used by masking) always takes the DuckDB route.

Key hygiene: the native path keeps the key-derived chaining values in Python ``bytes`` for
the duration of the call and its errors never quote them. On the DuckDB path the two padded
key blocks are bound as prepared-statement *parameters* of a fresh in-memory DuckDB
connection that is closed before the function returns; they are never formatted into SQL
text, logs or error messages (DuckDB errors are replaced by a generic message without
chaining, because a DuckDB message may echo bound values).

Two schemes: a key is either plain ``bytes`` (HMAC-SHA256 as above) or a :class:`SipKey`,
whose digests are SipHash-2-4 (Aumasson & Bernstein 2012, designed as a PRF for short
inputs; 128-bit key, 64-bit output) under its first 16 bytes. Both are
pseudorandom functions with a 64-bit output, which is all an index lookup needs; SipHash
costs 10-25 ns per short value in ``_hmac.c`` where HMAC-SHA256 costs two to four SHA-256
compressions (50-120 ns even with SHA-NI). Which scheme a key uses is a property of the
workspace's key version (:meth:`leaktrace.keys.KeyRing.derive`): versions created since
key format 2 use SipHash for the anchor, index and customer digests, older versions keep
HMAC-SHA256, so an old release is traced with the digests it was made with. Without the C
extension SipHash runs vectorised in NumPy (:func:`_sip_numpy`), a reference
implementation in pure Python serves single values (:func:`siphash24`).

Encoding is part of the contract: the message is the UTF-8 encoding of the string exactly as
given (no normalisation here — normalise phones/names *before* digesting, consistently on the
release and the tracing side). Integers are digested as their canonical decimal string, so an
order id digests the same whether a reader typed it as Int64 or String.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from leaktrace.arrowtext import string_buffers, string_views
from leaktrace.errors import InputError
from leaktrace.secret import SecretKey

try:
    from leaktrace import _hmac
except ImportError:  # pragma: no cover - only where the C extension could not be built
    NATIVE = False
else:
    NATIVE = True

__all__ = [
    "MIN_KEY_BYTES",
    "SipKey",
    "keyed_digest",
    "keyed_digest_hex",
    "keyed_digest_hex_one",
    "keyed_digest_joined",
    "keyed_digest_one",
    "keyed_digests",
    "siphash24",
]

MIN_KEY_BYTES = 16
"""Shorter keys are refused: they are a configuration bug, never a deliberate choice."""


class SipKey(SecretKey):
    """A digest key whose 64-bit digests are SipHash-2-4 under its first 16 bytes.

    A ``bytes`` subclass, so that every function taking a key takes it unchanged and a
    release plan pickled to a Spark executor keeps the scheme; like every
    :class:`~leaktrace.secret.SecretKey` it never prints its bytes.
    """

    __slots__ = ()
    scheme = "siphash-2-4"


def _sip_words(key: bytes) -> tuple[int, int]:
    _check_key(key)
    return int.from_bytes(key[:8], "little"), int.from_bytes(key[8:16], "little")


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray):
        raise TypeError("digest key must be bytes")
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"digest key must be at least {MIN_KEY_BYTES} bytes")


_M64 = (1 << 64) - 1


def siphash24(key: bytes, message: bytes) -> int:
    """SipHash-2-4 of ``message`` under the first 16 bytes of ``key`` (reference code, one
    value: the kernel and :func:`_sip_numpy` are tested against it and the paper's vectors)."""
    k0, k1 = _sip_words(key)
    v = [0x736F6D6570736575 ^ k0, 0x646F72616E646F6D ^ k1, 0x6C7967656E657261 ^ k0,
         0x7465646279746573 ^ k1]  # fmt: skip

    def rounds(r: int) -> None:
        for _ in range(r):
            v[0] = (v[0] + v[1]) & _M64
            v[1] = ((v[1] << 13) | (v[1] >> 51)) & _M64 ^ v[0]
            v[0] = ((v[0] << 32) | (v[0] >> 32)) & _M64
            v[2] = (v[2] + v[3]) & _M64
            v[3] = ((v[3] << 16) | (v[3] >> 48)) & _M64 ^ v[2]
            v[0] = (v[0] + v[3]) & _M64
            v[3] = ((v[3] << 21) | (v[3] >> 43)) & _M64 ^ v[0]
            v[2] = (v[2] + v[1]) & _M64
            v[1] = ((v[1] << 17) | (v[1] >> 47)) & _M64 ^ v[2]
            v[2] = ((v[2] << 32) | (v[2] >> 32)) & _M64

    n = len(message)
    full = n - n % 8
    for i in range(0, full, 8):
        w = int.from_bytes(message[i : i + 8], "little")
        v[3] ^= w
        rounds(2)
        v[0] ^= w
    b = ((n & 0xFF) << 56) | int.from_bytes(message[full:], "little")
    v[3] ^= b
    rounds(2)
    v[0] ^= b
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def _sip_numpy(text: pl.Series, key: bytes) -> pl.Series:
    """SipHash-2-4 of every value of a String series, vectorised in NumPy (nulls stay null).

    The fallback where the C extension is missing. Rows are grouped by their number of
    8-byte words; each group becomes a (rows x words) matrix of little-endian words, the
    final word carrying the tail bytes and the length in its top byte, and the rounds run on
    whole columns of that matrix.
    """
    k0, k1 = (np.uint64(w) for w in _sip_words(key))
    arr = text.to_arrow().cast(pa.large_binary())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    out = np.zeros(n, dtype=np.uint64)
    if n:
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
        data = (
            np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        )
        data = np.concatenate([data, np.zeros(1, np.uint8)])  # a safe index for padding
        lens = offsets[1:] - offsets[:-1]
        words = lens // 8 + 1
        for w in np.unique(words).tolist():
            rows = np.nonzero(words == w)[0]
            length, start = lens[rows], offsets[rows]
            pos = np.arange(8 * w)
            inside = pos[None, :] < length[:, None]
            idx = np.where(inside, start[:, None] + pos[None, :], len(data) - 1)
            mat = data[idx]
            mat[:, 8 * w - 1] = (length & 0xFF).astype(np.uint8)
            m = np.ascontiguousarray(mat).view("<u8").astype(np.uint64)
            out[rows] = _sip_rounds(m, k0, k1)
    res = pl.Series(text.name, out)
    if arr.null_count:
        res = res.zip_with(
            pl.Series(arr.is_valid().to_numpy(zero_copy_only=False)),
            pl.Series([None], dtype=pl.UInt64),
        )
    return res


def _sip_rounds(m: np.ndarray[Any, np.dtype[np.uint64]], k0: np.uint64, k1: np.uint64) -> Any:
    """SipHash-2-4 over the rows of a word matrix (the last column is the final word)."""
    rows = m.shape[0]
    v0 = np.full(rows, np.uint64(0x736F6D6570736575) ^ k0)
    v1 = np.full(rows, np.uint64(0x646F72616E646F6D) ^ k1)
    v2 = np.full(rows, np.uint64(0x6C7967656E657261) ^ k0)
    v3 = np.full(rows, np.uint64(0x7465646279746573) ^ k1)

    def rotl(x: Any, b: int) -> Any:
        return (x << np.uint64(b)) | (x >> np.uint64(64 - b))

    def sipround(v0: Any, v1: Any, v2: Any, v3: Any) -> tuple[Any, Any, Any, Any]:
        v0 = v0 + v1
        v1 = rotl(v1, 13) ^ v0
        v0 = rotl(v0, 32)
        v2 = v2 + v3
        v3 = rotl(v3, 16) ^ v2
        v0 = v0 + v3
        v3 = rotl(v3, 21) ^ v0
        v2 = v2 + v1
        v1 = rotl(v1, 17) ^ v2
        v2 = rotl(v2, 32)
        return v0, v1, v2, v3

    for j in range(m.shape[1]):
        w = m[:, j]
        v3 = v3 ^ w
        v0, v1, v2, v3 = sipround(*sipround(v0, v1, v2, v3))
        v0 = v0 ^ w
    v2 = v2 ^ np.uint64(0xFF)
    for _ in range(4):
        v0, v1, v2, v3 = sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104 "B")

_SQL_HEX = "SELECT sha256($kout || unhex(sha256($kin || encode(v)))) AS d FROM _values"


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """Inner and outer padded key blocks of RFC 2104."""
    _check_key(key)
    k = bytes(key)
    if len(k) > _BLOCK:
        k = hashlib.sha256(k).digest()
    k = k.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def _as_utf8(values: pl.Series) -> pl.Series:
    dt = values.dtype
    if dt == pl.String:
        return values
    if dt in (pl.Categorical, pl.Null) or isinstance(dt, pl.Enum) or dt.is_integer():
        return values.cast(pl.String)
    # Floats, dates, structs … have no canonical text form we could promise to reproduce
    # on the tracing side; make the caller choose one.
    raise InputError(f"cannot digest column {values.name!r} of type {dt}: cast it to text first")


def _hex(values: pl.Series, key: bytes) -> pl.Series:
    kin, kout = _pads(key)
    s = _as_utf8(values)
    if s.len() == 0:
        return pl.Series(values.name, [], dtype=pl.String)
    con = duckdb.connect(":memory:")
    try:
        con.register("_values", pl.DataFrame({"v": s}).to_arrow())
        table = con.sql(_SQL_HEX, params={"kin": kin, "kout": kout}).to_arrow_table()
    except duckdb.Error:
        # Never chain: the DuckDB message may quote bound parameters.
        raise RuntimeError("keyed digest computation failed in DuckDB") from None
    finally:
        con.close()
    return pl.Series(values.name, table.column("d")).cast(pl.String)


def _default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


THREADS = _default_threads()
"""Threads the native kernel splits one column over (the CPUs this process may use, ≤ 8)."""


def _native_states(key: bytes, *, portable: bool = False) -> tuple[bytes, bytes]:
    """SHA-256 chaining values after the ipad and opad key blocks (once per key and call)."""
    kin, kout = _pads(key)
    return (
        _hmac.sha256_midstate(kin, portable=portable),
        _hmac.sha256_midstate(kout, portable=portable),
    )


def _native_u64(
    text: pl.Series,
    states: tuple[bytes, bytes],
    *,
    threads: int | None = None,
    portable: bool = False,
    min_rows_per_thread: int = 4096,
) -> pl.Series:
    """The native kernel over one String series (already :func:`_as_utf8`); nulls stay null."""
    return _views_u64(
        [text],
        states,
        threads=threads,
        portable=portable,
        min_rows_per_thread=min_rows_per_thread,
    ).alias(text.name)


def _views_u64(
    parts: Sequence[pl.Series],
    states: tuple[bytes, bytes] | SipKey,
    *,
    sep: bytes = b"",
    threads: int | None = None,
    portable: bool = False,
    min_rows_per_thread: int = 4096,
) -> pl.Series:
    """The native kernel over one or two String series of equal length, the message of a
    row being the first value, or ``first + sep + second``; null where any part is null.
    ``states`` is an HMAC key's two chaining values, or a :class:`SipKey`.

    Why views: they are Polars' own string layout, so the kernel reads the text where
    Polars keeps it; the ``string``/``large_string`` path (:func:`_arrow_u64`) first copies
    every value into a contiguous buffer, and joining two columns first would copy again.
    """
    if not 1 <= len(parts) <= 2:
        raise ValueError("one or two columns")
    columns = []
    valid: np.ndarray[tuple[int], np.dtype[np.bool_]] | None = None
    for part in parts:
        sv = string_views(part.to_arrow(compat_level=pl.CompatLevel.newest()))
        columns.append((sv.views, sv.data))
        if sv.array.null_count:
            ok = sv.array.is_valid().to_numpy(zero_copy_only=False)
            valid = ok if valid is None else valid & ok
    if len(sv.array) == 0:
        return pl.Series("", [], dtype=pl.UInt64)
    if isinstance(states, SipKey):
        _check_key(states)
        raw = _hmac.siphash24_u64_views(
            tuple(columns),
            sep,
            bytes(states[:16]),
            THREADS if threads is None else threads,
            min_rows_per_thread=min_rows_per_thread,
        )
    else:
        raw = _hmac.hmac_sha256_u64_views(
            tuple(columns),
            sep,
            states[0],
            states[1],
            THREADS if threads is None else threads,
            portable=portable,
            min_rows_per_thread=min_rows_per_thread,
        )
    return _u64_series(raw, valid)


def _u64_series(raw: bytes, valid: Any) -> pl.Series:
    """The kernel's native uint64s as a Series, null where ``valid`` (if given) is false."""
    out = pl.Series("", np.frombuffer(raw, dtype=np.uint64))
    if valid is not None:
        out = out.zip_with(pl.Series(valid), pl.Series([None], dtype=pl.UInt64))
    return out


def _arrow_u64(
    arr: pa.Array | pa.ChunkedArray,
    states: tuple[bytes, bytes],
    *,
    threads: int | None = None,
    portable: bool = False,
    min_rows_per_thread: int = 4096,
) -> pl.Series:
    """The native kernel over an Arrow string array (any offset, chunking or string type).

    The kernel reads the data and offsets buffers in place (``string``: int32 offsets,
    ``large_string``: int64; ``string_view`` goes to :func:`_views_u64`). It hashes
    whatever bytes a null slot spans (usually none); the validity is re-applied here.
    """
    n = len(arr)
    if n == 0:
        return pl.Series("", [], dtype=pl.UInt64)
    if arr.type == pa.string_view():
        return _views_u64(
            [pl.Series(arr)],
            states,
            threads=threads,
            portable=portable,
            min_rows_per_thread=min_rows_per_thread,
        )
    buffers = string_buffers(arr)
    arr = buffers.array
    raw = _hmac.hmac_sha256_u64(
        buffers.data,
        buffers.offsets,
        states[0],
        states[1],
        THREADS if threads is None else threads,
        portable=portable,
        min_rows_per_thread=min_rows_per_thread,
    )
    return _u64_series(raw, arr.is_valid() if arr.null_count else None)


def keyed_digest(values: pl.Series, key: bytes) -> pl.Series:
    """UInt64 = first 8 bytes (big-endian) of HMAC-SHA256(key, utf8(value)), or with a
    :class:`SipKey` SipHash-2-4(key[:16], utf8(value)); nulls stay null.

    64 bits is plenty for an index lookup (collisions among 10^8 values: p ≈ 3e-4 for *any*
    pair, and a collision only adds a candidate release, it never hides one).
    """
    if isinstance(key, SipKey):
        if not NATIVE:  # pragma: no cover - exercised directly by the tests
            return _sip_numpy(_as_utf8(values), key).alias(values.name)
        return _views_u64([_as_utf8(values)], key).alias(values.name)
    if not NATIVE:  # pragma: no cover - exercised directly by the tests
        return _keyed_digest_duckdb(values, key)
    states = _native_states(key)
    return _native_u64(_as_utf8(values), states).alias(values.name)


def keyed_digest_joined(parts: Sequence[pl.Series], key: bytes, sep: str) -> pl.Series:
    """:func:`keyed_digest` of ``pl.concat_str(parts, separator=sep)`` (one or two String
    series; null where any part is null), without building the joined column."""
    if not NATIVE or len(parts) > 2:
        return keyed_digest(
            pl.DataFrame({f"p{i}": _as_utf8(p) for i, p in enumerate(parts)})
            .select(pl.concat_str(pl.all(), separator=sep))
            .to_series(),
            key,
        )
    states = key if isinstance(key, SipKey) else _native_states(key)
    return _views_u64([_as_utf8(p) for p in parts], states, sep=sep.encode("utf-8"))


def _keyed_digest_duckdb(values: pl.Series, key: bytes) -> pl.Series:
    """:func:`keyed_digest` without the C extension (same values)."""
    # Parsing 16 hex chars in Polars is ~10x cheaper than the same cast in DuckDB SQL.
    return _hex(values, key).str.head(16).str.to_integer(base=16, dtype=pl.UInt64)


def _trivial_digests(columns: Mapping[str, tuple[pl.Series, bytes]]) -> pl.DataFrame | None:
    """The result when there is nothing to hash (no columns, no rows), else None.

    Raises ValueError when the columns differ in length.
    """
    names = list(columns)
    if not names:
        return pl.DataFrame()
    heights = {s.len() for s, _ in columns.values()}
    if len(heights) != 1:
        raise ValueError("keyed_digests: all columns must have the same length")
    if heights == {0}:
        return pl.DataFrame({n: pl.Series(n, [], dtype=pl.UInt64) for n in names})
    return None


def keyed_digests(columns: Mapping[str, tuple[pl.Series, bytes]]) -> pl.DataFrame:
    """Several :func:`keyed_digest` columns, each under its own key.

    ``columns`` maps an output name to ``(values, key)``; all series must have the same
    length. The values are identical to calling :func:`keyed_digest` per column.

    Why one call: a release digests six columns per batch (anchor, customer, four identity
    keys). Every key and column type is checked before any hashing starts; the native
    kernel then digests one column after the other, each split over :data:`THREADS`
    threads. Without the extension all columns go into ONE DuckDB query (see
    :func:`_keyed_digests_duckdb`).
    """
    trivial = _trivial_digests(columns)
    if trivial is not None:
        return trivial
    if not NATIVE:  # pragma: no cover - exercised directly by the tests
        hmac_cols = {n: c for n, c in columns.items() if not isinstance(c[1], SipKey)}
        done = _keyed_digests_duckdb(hmac_cols) if hmac_cols else pl.DataFrame()
        return pl.DataFrame(
            [
                done.get_column(n) if n in hmac_cols else keyed_digest(v, k).alias(n)
                for n, (v, k) in columns.items()
            ]
        )
    prepared = [
        (name, key if isinstance(key, SipKey) else _native_states(key), _as_utf8(values))
        for name, (values, key) in columns.items()
    ]
    return pl.DataFrame([_views_u64([text], states).alias(name) for name, states, text in prepared])


def _keyed_digests_duckdb(columns: Mapping[str, tuple[pl.Series, bytes]]) -> pl.DataFrame:
    """:func:`keyed_digests` without the C extension, in ONE DuckDB query (same values).

    One query pays the connection, Arrow hand-over and scheduling once, and DuckDB spreads
    the hash pipelines over all cores. The first 8 bytes are cast to UBIGINT inside the
    query (``('0x' || left(hex, 16))::UBIGINT``) so that only 8 bytes per value, not a
    64-character hex string, come back to Polars.
    """
    trivial = _trivial_digests(columns)
    if trivial is not None:
        return trivial
    names = list(columns)
    params: dict[str, bytes] = {}
    selects: list[str] = []
    frame: dict[str, pl.Series] = {}
    for i, name in enumerate(names):
        values, key = columns[name]
        params[f"kin{i}"], params[f"kout{i}"] = _pads(key)
        frame[f"v{i}"] = _as_utf8(values).alias(f"v{i}")
        selects.append(
            f"('0x' || left(sha256($kout{i} || unhex(sha256($kin{i} || encode(v{i})))), 16))"
            f"::UBIGINT AS d{i}"
        )
    con = duckdb.connect(":memory:")
    try:
        con.register("_values", pl.DataFrame(frame).to_arrow())
        table = con.sql(f"SELECT {', '.join(selects)} FROM _values", params=params).to_arrow_table()
    except duckdb.Error:
        # Never chain: the DuckDB message may quote bound parameters.
        raise RuntimeError("keyed digest computation failed in DuckDB") from None
    finally:
        con.close()
    return pl.DataFrame(
        {name: pl.Series(name, table.column(f"d{i}")) for i, name in enumerate(names)}
    )


def keyed_digest_hex(values: pl.Series, key: bytes) -> pl.Series:
    """Full HMAC-SHA256 as 64 lowercase hex characters; nulls stay null. (A :class:`SipKey`
    is refused: its scheme has 64-bit digests only.)"""
    _no_sip(key)
    return _hex(values, key)


def _no_sip(key: bytes) -> None:
    if isinstance(key, SipKey):
        raise TypeError("a SipKey makes 64-bit digests only; use keyed_digest")


def keyed_digest_one(value: str, key: bytes) -> int:
    """Scalar twin of :func:`keyed_digest` for one value (tracing a single quoted phone)."""
    if isinstance(key, SipKey):
        return siphash24(key, value.encode("utf-8"))
    _pads(key)  # same key checks as the vectorised path
    mac = hmac.new(bytes(key), value.encode("utf-8"), "sha256").digest()
    return int.from_bytes(mac[:8], "big")


def keyed_digest_hex_one(value: str, key: bytes) -> str:
    """Scalar twin of :func:`keyed_digest_hex`."""
    _no_sip(key)
    _pads(key)
    return hmac.new(bytes(key), value.encode("utf-8"), "sha256").hexdigest()


if __name__ == "__main__":  # pragma: no cover - manual benchmark
    import random
    import time
    from collections.abc import Callable

    n = 1_000_000
    k = os.urandom(32)
    rnd = random.Random(0)
    digits = pl.Series("v", [str(13_000_000_000 + rnd.randrange(10**9)) for _ in range(n)])
    chinese = pl.Series(
        "v", ["".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(40)) for _ in range(n)]
    )

    def best(fn: Callable[[], object], repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    print(f"native kernel: {NATIVE} (SHA-NI: {NATIVE and _hmac.has_sha_ni()}, threads {THREADS})")
    for label, series in (("1M 11-digit", digits), ("1M 40-char Chinese", chinese)):
        for name, fn in (
            ("keyed_digest", keyed_digest),
            ("  DuckDB fallback", _keyed_digest_duckdb),
            ("keyed_digest_hex", keyed_digest_hex),
        ):
            print(f"{label:20s} {name:18s} {best(lambda: fn(series, k)):.3f} s")  # noqa: B023
    six = {f"c{i}": ((digits, chinese)[i % 2], os.urandom(32)) for i in range(6)}
    print(
        f"{'6 x 1M (3+3 above)':20s} {'keyed_digests':18s} {best(lambda: keyed_digests(six)):.3f} s"
    )
    print(
        f"{'6 x 1M (3+3 above)':20s} {'  DuckDB fallback':18s} "
        f"{best(lambda: _keyed_digests_duckdb(six)):.3f} s"
    )
