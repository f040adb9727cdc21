"""FF1 format-preserving encryption (NIST SP 800-38G), scalar and vectorised.

leaktrace gives every data recipient its own alias of each order number::

    alias = FF1_K(order_id, tweak = recipient id || key version)

The alias has the same length and alphabet as the order id, so it drops into every
downstream system unchanged, and the holder of ``K`` can map a leaked alias back to the
real order (``decrypt``) and, through the tweak, to the recipient it was released to.

Why FF1 and not FF3: FF3 was broken (Durak–Vaudenay 2017, then Beyne 2021 against
FF3-1) and NIST has announced its withdrawal from SP 800-38G; FF1 is the remaining
approved mode. FF1 is a 10-round Feistel network whose round function is AES-CBC-MAC.

What the tweak binds: the tweak is hashed into every round (it is part of ``Q``), so
``FF1_K(·, T)`` is a different permutation of the strings of a given length for every
``T``. With ``T = recipient id || key version`` the same order id yields *independent*
aliases for different recipients and for different key versions: seeing one recipient's
alias says nothing about another's, aliases cannot be joined across recipients, and a
key rotation changes every alias. Under one tweak the map is a permutation, so aliases
never collide within one length.

Two implementations of the same function:

* :meth:`FF1.encrypt` / :meth:`FF1.decrypt` — a plain reference implementation of
  Algorithms 7 and 8 on Python integers, for any radix 2..36 (digits ``0-9a-z``) and any
  length from ``minlen`` (the smallest ``n`` with ``radix**n >= 1_000_000``, per
  SP 800-38G Rev. 1) up to ``2**32``.
* :meth:`FF1.encrypt_arrow` / :meth:`FF1.decrypt_arrow` — the batch path for releases of
  millions of rows, on Arrow string arrays (:meth:`FF1.encrypt_many` /
  :meth:`FF1.decrypt_many` are its front end for lists and numpy arrays). Values are
  grouped by length; within one length every row shares
  ``P`` and the tweak part of ``Q``, and only the final 16-byte block of ``P || Q``
  (round number and ``NUM(B)``) differs per row. So the CBC-MAC state over the shared
  prefix is computed once per length, and each round is ONE AES-ECB call over an
  ``(rows, 16)`` numpy buffer. ``NUM``/``STR`` and the modular arithmetic run in numpy
  ``uint64``: ``y = NUM(S)`` (``d`` bytes, up to 2**128) is reduced modulo
  ``radix**m`` through 16-bit limbs times precomputed ``2**(16k) mod radix**m``, which
  cannot overflow while ``radix**m < 2**44`` (``d/2 <= 8`` limbs ``< 2**16`` times a
  residue ``< 2**44`` sum below ``2**63``). That covers radix 10 up to 26 digits; for
  those lengths ``b <= 6`` and ``d <= 12``, so ``S`` is always the first ``d`` bytes of
  ``R`` and the extra blocks ``CIPH(R xor [j])`` (needed when ``d > 16``, i.e. for radix
  10 only from ``v >= 29``, ``n >= 57``) never occur on this path. Lengths beyond that
  limit fall back to the scalar code, one value at a time.

The batch path first hands the whole Arrow array to the C kernel ``leaktrace._ff1``
(``_ff1.c``) when it is built and the CPU has AES-NI (:data:`NATIVE`): the same function per
row, for every length with ``radix**v < 2**64`` (radix 10: up to 38 digits), ten AES blocks
per row on AES-NI (four blocks per instruction with VAES/AVX-512 where present), the CBC-MAC
prefix once per length, ``y mod radix**m`` by exact multiply-high division, the GIL
released. Rows longer than that still go through the numpy/scalar code below; when a row is
too short or has a character outside the alphabet the kernel gives up and the numpy path
raises the usual error. 1M 16–19-digit ids: ~0.4 s on the numpy path, ~0.035 s on the
kernel with VAES and ~0.065 s on plain AES-NI (one thread, 2-core development machine).

Errors never contain the key or the value: they name the problem and, for batches, the
row number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from leaktrace.errors import InputError, KeyFileError

try:
    from leaktrace import _ff1
except ImportError:  # pragma: no cover - only where the C extension could not be built
    NATIVE = False
else:
    NATIVE = _ff1.has_aesni()
"""Whether the batch path runs on the C kernel (else numpy; the tests switch it off)."""

__all__ = ["FF1"]

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ROUNDS = 10
MIN_DOMAIN = 1_000_000
MAX_LEN = 2**32
MAX_TWEAK = 2**32 - 1
# The numpy path keeps radix**m below this, so the limb sums fit in uint64 (see above).
_FAST_LIMIT = 2**44
# The C kernel needs radix**v < 2**64 (NUM(B) and radix**m in one uint64); see _native_maxlen.
_NATIVE_LIMIT = 2**64
# Rows per batch: bounds the temporaries (a few hundred bytes per row) on 10M-row releases.
_CHUNK = 1 << 20

_U8 = npt.NDArray[np.uint8]
_U64 = npt.NDArray[np.uint64]


class FF1:
    """FF1-AES with a fixed key and radix; the tweak is given per call.

    ``key`` is an AES-128/192/256 key (16, 24 or 32 bytes). ``radix`` is 2..36 and the
    alphabet is the first ``radix`` characters of ``0-9a-z`` (lower case only).
    """

    __slots__ = ("_cipher", "_key", "_native_maxlen", "maxlen", "minlen", "radix")

    def __init__(self, key: bytes, radix: int = 10) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) not in (16, 24, 32):
            raise KeyFileError("FF1 key must be 16, 24 or 32 bytes (AES-128/192/256)")
        if not isinstance(radix, int) or not 2 <= radix <= len(ALPHABET):
            raise ValueError(f"FF1 radix must be an integer in 2..{len(ALPHABET)}")
        self._key = bytes(key)
        self._cipher = Cipher(algorithms.AES(self._key), modes.ECB())
        self.radix = radix
        minlen = 2
        while radix**minlen < MIN_DOMAIN:
            minlen += 1
        self.minlen = minlen
        self.maxlen = MAX_LEN
        # Longest length the C kernel takes (radix 10: 38 digits); longer rows go to numpy.
        native_maxlen = minlen - 1
        while radix ** ((native_maxlen + 1) - (native_maxlen + 1) // 2) < _NATIVE_LIMIT:
            native_maxlen += 1
        self._native_maxlen = native_maxlen

    def __repr__(self) -> str:
        return f"FF1(radix={self.radix})"

    # ------------------------------------------------------------------ scalar

    def encrypt(self, x: str, tweak: bytes) -> str:
        """FF1.Encrypt (SP 800-38G Algorithm 7) of one string."""
        return self._crypt(x, tweak, decrypt=False)

    def decrypt(self, x: str, tweak: bytes) -> str:
        """FF1.Decrypt (SP 800-38G Algorithm 8) of one string."""
        return self._crypt(x, tweak, decrypt=True)

    def _crypt(self, x: str, tweak: bytes, *, decrypt: bool) -> str:
        tweak = _check_tweak(tweak)
        digits = self._parse(x)
        radix, n, t = self.radix, len(digits), len(tweak)
        u, v, b, d = _lengths(radix, n)
        p = _p_block(radix, u, n, t)
        pad = bytes((-t - b - 1) % 16)
        a, bb = _num(digits[:u], radix), _num(digits[u:], radix)
        enc = self._cipher.encryptor()
        for i in reversed(range(ROUNDS)) if decrypt else range(ROUNDS):
            m = u if i % 2 == 0 else v
            q = tweak + pad + bytes([i]) + (a if decrypt else bb).to_bytes(b, "big")
            r = _cbc_mac(enc, p + q)
            s = r + b"".join(
                enc.update(_xor(r, j.to_bytes(16, "big"))) for j in range(1, -(-d // 16))
            )
            y = int.from_bytes(s[:d], "big")
            if decrypt:
                a, bb = (bb - y) % radix**m, a
            else:
                a, bb = bb, (a + y) % radix**m
        return _str(a, radix, u) + _str(bb, radix, v)

    def _parse(self, x: str) -> list[int]:
        if not isinstance(x, str):
            raise InputError("FF1 input must be a string")
        n = len(x)
        if n < self.minlen:
            raise InputError(
                f"FF1 input is shorter than the minimum length {self.minlen} for radix {self.radix}"
            )
        if n > self.maxlen:
            raise InputError("FF1 input is longer than 2**32 characters")
        digits = [ALPHABET.find(c) if c.isascii() else -1 for c in x]
        if any(not 0 <= dgt < self.radix for dgt in digits):
            raise InputError(f"FF1 input has a character outside the radix-{self.radix} alphabet")
        return digits

    # -------------------------------------------------------------- vectorised

    def encrypt_many(
        self, values: Sequence[str] | npt.NDArray[Any], tweak: bytes
    ) -> npt.NDArray[np.str_]:
        """Encrypt every value (same tweak for all); returns a numpy ``str`` array.

        Values may have different lengths. Each length up to the fast-path limit (26
        digits for radix 10) costs ten AES-ECB calls over the whole group.
        """
        return self._crypt_many(values, tweak, decrypt=False)

    def decrypt_many(
        self, values: Sequence[str] | npt.NDArray[Any], tweak: bytes
    ) -> npt.NDArray[np.str_]:
        """Inverse of :meth:`encrypt_many`."""
        return self._crypt_many(values, tweak, decrypt=True)

    def _crypt_many(
        self, values: Sequence[str] | npt.NDArray[Any], tweak: bytes, *, decrypt: bool
    ) -> npt.NDArray[np.str_]:
        """The numpy/list front end of :meth:`_crypt_arrow` (one implementation of the batch
        path, so both give the same aliases and the same errors)."""
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise InputError("FF1 values must be a one-dimensional sequence of strings")
        if arr.size == 0:
            return np.empty(0, dtype="<U1")
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "latin-1")  # non-ASCII bytes then fail the alphabet
        elif arr.dtype.kind == "O":
            arr = arr.astype(np.str_)
        if arr.dtype.kind != "U":
            raise InputError("FF1 values must be strings")
        out = self._crypt_arrow(pa.array(arr, type=pa.large_string()), tweak, decrypt=decrypt)
        return np.asarray(out.to_pylist(), dtype=np.str_)

    def encrypt_arrow(self, values: pa.Array, tweak: bytes) -> pa.Array:
        """:meth:`encrypt_many` on an Arrow string array, without Python strings.

        Why: the release path holds order ids as Arrow; converting 1M of them to a numpy
        ``str`` array and back costs more than the ten AES rounds. FF1 preserves length,
        so the output reuses the input's offsets and validity buffers and only its bytes
        change: each length group is gathered from the data buffer, encrypted and
        scattered back. Nulls stay null; errors name the row like :meth:`encrypt_many`.
        """
        return self._crypt_arrow(values, tweak, decrypt=False)

    def decrypt_arrow(self, values: pa.Array, tweak: bytes) -> pa.Array:
        """Inverse of :meth:`encrypt_arrow`."""
        return self._crypt_arrow(values, tweak, decrypt=True)

    def _crypt_arrow(self, values: pa.Array, tweak: bytes, *, decrypt: bool) -> pa.Array:
        tweak = _check_tweak(tweak)
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if not pa.types.is_large_string(values.type):
            values = values.cast(pa.large_string())
        n_rows = len(values)
        validity, offsets_buf, data_buf = values.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
            values.offset : values.offset + n_rows + 1
        ]
        data = (
            np.frombuffer(data_buf, dtype=np.uint8)
            if data_buf is not None
            else np.empty(0, np.uint8)
        )
        lens = np.diff(offsets)
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        out = self._crypt_native(data, offsets, valid, tweak, decrypt) if NATIVE else None
        if out is not None:
            # The kernel did (and checked) every valid row up to _native_maxlen.
            rest = valid & (lens > self._native_maxlen)
        else:  # no kernel, or it met a bad row, which this path names
            out = data.copy()
            short = np.flatnonzero(valid & (lens < self.minlen))
            if short.size:
                raise InputError(
                    f"FF1 value at row {int(short[0])} is shorter than the minimum length "
                    f"{self.minlen} for radix {self.radix}"
                )
            rest = valid
        self._crypt_lengths(data, out, offsets, lens, rest, tweak, decrypt)
        return pa.LargeStringArray.from_buffers(
            n_rows, offsets_buf, pa.py_buffer(out), validity, offset=values.offset
        )

    def _crypt_native(
        self,
        data: _U8,
        offsets: npt.NDArray[np.int64],
        valid: npt.NDArray[np.bool_],
        tweak: bytes,
        decrypt: bool,
    ) -> _U8 | None:
        """The C kernel over all valid rows of length <= ``_native_maxlen``: a writable copy
        of ``data`` with those rows replaced, or None when a row is too short or has a
        character outside the alphabet (the numpy path then raises the usual error)."""
        raw = _ff1.crypt_arrow(
            data,
            offsets,
            valid,
            self._key,
            tweak,
            self.radix,
            self.minlen,
            self._native_maxlen,
            decrypt,
        )
        return None if raw is None else np.frombuffer(raw, dtype=np.uint8)

    def _crypt_lengths(
        self,
        data: _U8,
        out: _U8,
        offsets: npt.NDArray[np.int64],
        lens: npt.NDArray[np.int64],
        rows: npt.NDArray[np.bool_],
        tweak: bytes,
        decrypt: bool,
    ) -> None:
        """The numpy/scalar path: the selected ``rows`` of ``data``, one length at a time,
        written into ``out`` at the same offsets."""
        if not rows.any():
            return
        table = np.full(256, 255, dtype=np.uint8)
        table[np.frombuffer(ALPHABET[: self.radix].encode("ascii"), dtype=np.uint8)] = np.arange(
            self.radix, dtype=np.uint8
        )
        chars = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)
        for n in np.unique(lens[rows]).tolist():
            idx = np.flatnonzero(rows & (lens == n))
            # n-byte windows starting at every byte: gathering rows of this view copies each
            # value's bytes without an (rows, n) index matrix; values never overlap, so the
            # writable twin can take the results back the same way.
            src = np.lib.stride_tricks.as_strided(data, (data.size - n + 1, n), (1, 1))
            dst = np.lib.stride_tricks.as_strided(out, (out.size - n + 1, n), (1, 1))
            for start in range(0, idx.size, _CHUNK):
                part = idx[start : start + _CHUNK]
                starts = offsets[part]
                digits = table[src[starts]]
                bad = np.flatnonzero((digits == 255).any(axis=1))
                if bad.size:
                    raise InputError(
                        f"FF1 value at row {int(part[bad[0]])} has a character outside the "
                        f"radix-{self.radix} alphabet"
                    )
                if self.radix ** (n - n // 2) < _FAST_LIMIT:
                    res = self._crypt_group(digits, tweak, decrypt=decrypt)
                else:
                    res = np.array(
                        [
                            [ALPHABET.index(c) for c in self._crypt(x, tweak, decrypt=decrypt)]
                            for x in _rows_as_str(digits)
                        ],
                        dtype=np.uint8,
                    ).reshape(part.size, n)
                dst[starts] = chars[res]

    def _crypt_group(self, digits: _U8, tweak: bytes, *, decrypt: bool) -> _U8:
        """FF1 over all rows of one length ``n`` (``digits`` is ``(rows, n)``)."""
        rows, n = digits.shape
        radix, t = self.radix, len(tweak)
        u, v, b, d = _lengths(radix, n)
        # Only the last block of P || Q varies per row: [i] and NUM(B) fit in it.
        assert 1 + b <= 16 and d <= 16, "fast path needs one-block rows"
        enc = self._cipher.encryptor()
        q_zero = tweak + bytes((-t - b - 1) % 16) + bytes(1 + b)
        head = _cbc_mac(enc, _p_block(radix, u, n, t) + q_zero[:-16])
        base = np.frombuffer(_xor(head, q_zero[-16:]), dtype=np.uint8)
        mods = {m: radix**m for m in (u, v)}
        powers = {  # 2**(16k) mod radix**m, most significant limb first
            m: np.array([pow(2, 16 * k, mod) for k in reversed(range(d // 2))], dtype=np.uint64)
            for m, mod in mods.items()
        }
        a, bb = _num_many(digits[:, :u], radix), _num_many(digits[:, u:], radix)
        buf = np.empty((rows, 16), dtype=np.uint8)
        for i in reversed(range(ROUNDS)) if decrypt else range(ROUNDS):
            m = u if i % 2 == 0 else v
            mod = np.uint64(mods[m])
            block = base.copy()
            block[15 - b] ^= i
            buf[:] = block
            # NUM(B) as b big-endian bytes: the low b bytes of a big-endian uint64
            num = (a if decrypt else bb).astype(">u8").view(np.uint8).reshape(rows, 8)
            buf[:, 16 - b :] ^= num[:, 8 - b :]
            r = np.frombuffer(enc.update(buf.data), dtype=np.uint8).reshape(rows, 16)
            # y = NUM(S[:d]) mod radix**m from big-endian 16-bit limbs; sums stay < 2**63
            limbs = r.view(">u2")
            y = np.zeros(rows, dtype=np.uint64)
            for k, pw in enumerate(powers[m].tolist()):
                y += limbs[:, k].astype(np.uint64) * np.uint64(pw)
            y %= mod
            if decrypt:
                a, bb = (bb + (mod - y)) % mod, a
            else:
                a, bb = bb, (a + y) % mod
        return np.concatenate([_str_many(a, radix, u), _str_many(bb, radix, v)], axis=1)


# ---------------------------------------------------------------------- helpers


def _check_tweak(tweak: bytes) -> bytes:
    if not isinstance(tweak, bytes | bytearray):
        raise InputError("FF1 tweak must be bytes")
    if len(tweak) > MAX_TWEAK:
        raise InputError("FF1 tweak is too long")
    return bytes(tweak)


def _lengths(radix: int, n: int) -> tuple[int, int, int, int]:
    """u, v, b, d of Algorithm 7 steps 1-4, with b computed exactly (no floats)."""
    u = n // 2
    v = n - u
    # ceil(v * log2(radix)) is the bit length of radix**v - 1.
    b = ((radix**v - 1).bit_length() + 7) // 8
    d = 4 * (-(-b // 4)) + 4
    return u, v, b, d


def _p_block(radix: int, u: int, n: int, t: int) -> bytes:
    return (
        bytes([1, 2, 1])
        + radix.to_bytes(3, "big")
        + bytes([10, u % 256])
        + n.to_bytes(4, "big")
        + t.to_bytes(4, "big")
    )


def _xor(x: bytes, y: bytes) -> bytes:
    return bytes(i ^ j for i, j in zip(x, y, strict=True))


def _cbc_mac(enc: CipherContext, data: bytes) -> bytes:
    """PRF of SP 800-38G (CBC-MAC with a zero IV) via single-block ECB calls."""
    y = bytes(16)
    for j in range(0, len(data), 16):
        y = enc.update(_xor(y, data[j : j + 16]))
    return y


def _num(digits: list[int], radix: int) -> int:
    x = 0
    for dgt in digits:
        x = x * radix + dgt
    return x


def _str(x: int, radix: int, m: int) -> str:
    out = []
    for _ in range(m):
        x, r = divmod(x, radix)
        out.append(ALPHABET[r])
    return "".join(reversed(out))


def _num_many(digits: _U8, radix: int) -> _U64:
    x = np.zeros(digits.shape[0], dtype=np.uint64)
    r = np.uint64(radix)
    for col in range(digits.shape[1]):
        x = x * r + digits[:, col]
    return x


def _str_many(x: _U64, radix: int, m: int) -> _U8:
    out = np.empty((x.shape[0], m), dtype=np.uint8)
    r = np.uint64(radix)
    for col in reversed(range(m)):
        out[:, col] = x % r
        x = x // r
    return out


def _rows_as_str(digits: _U8) -> Iterator[str]:
    for row in digits.tolist():
        yield "".join(ALPHABET[dgt] for dgt in row)
