"""The keyed pseudo-random function behind every mark.

Why AES-ECB over 16-byte blocks: a mark symbol must be a keyed PRF of (recipient, key
version, row anchor, channel), computed for millions of rows per release and again for
every candidate at trace time. One AES-ECB call over a numpy buffer of blocks
``anchor (8 bytes, big-endian) || channel code (8 bytes)`` runs at memory speed inside
OpenSSL, with no Python loop per row. AES is a pseudo-random permutation on distinct
blocks, so outputs for distinct (anchor, channel) under one key are indistinguishable from
independent uniform strings — which is exactly the assumption the tracer's exact binomial
test needs.

Symbols: position ``j`` of a channel owns bytes ``2j`` and ``2j+1`` of the 16 output bytes
(disjoint bytes, so positions are independent). A binary position uses the low bit of byte
``2j`` (exactly fair). A ``k``-ary position uses the two bytes as a 16-bit integer modulo
``k``; when ``k`` does not divide 65536 the symbols are very slightly non-uniform, and
:func:`match_probability` returns the *largest* symbol probability ``ceil(65536/k)/65536``
so that the tracer's null distribution is conservative.

Tardos mode (collusion resistance, opt-in per policy): a binary position's symbol is 1 with
a per-position bias ``p`` drawn from the arcsine distribution with cutoff
(:func:`tardos_bias`, keyed by a key SHARED by all recipients, so colluders' bits are
correlated through ``p`` exactly as the Tardos/Škorić analysis needs), compared against the
recipient's own 16-bit uniform: ``P(bit = 1) = ceil(65536 p)/65536`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "TARDOS_CUTOFF",
    "match_probability",
    "prf_blocks",
    "symbols_from_blocks",
    "tardos_bias",
    "tardos_symbols",
]

TARDOS_CUTOFF = 1.0 / 1500.0  # δ = 1/(300·c) for c = 5 colluders (Tardos' recommended scale)

U64 = npt.NDArray[np.uint64]


def prf_blocks(key: bytes, anchors: U64, channel_code: int) -> npt.NDArray[np.uint8]:
    """AES_key(anchor || channel_code) for every anchor: an ``(n, 16)`` uint8 array."""
    n = anchors.shape[0]
    buf = np.empty((n, 2), dtype=">u8")
    buf[:, 0] = anchors
    buf[:, 1] = channel_code
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    out = enc.update(buf.tobytes()) + enc.finalize()
    return np.frombuffer(out, dtype=np.uint8).reshape(n, 16)


def symbols_from_blocks(
    blocks: npt.NDArray[np.uint8], alphabets: list[int]
) -> npt.NDArray[np.int16]:
    """Turn PRF blocks into one symbol per position (``alphabets[j]`` symbols at ``j``)."""
    n = blocks.shape[0]
    out = np.empty((n, len(alphabets)), dtype=np.int16)
    if len(alphabets) > 8:
        raise ValueError("a channel may use at most 8 positions per row")
    for j, k in enumerate(alphabets):
        if k == 2:
            out[:, j] = blocks[:, 2 * j] & 1
        else:
            out[:, j] = (_word(blocks, j) % k).astype(np.int16)
    return out


def _word(blocks: npt.NDArray[np.uint8], j: int) -> npt.NDArray[np.uint32]:
    hi = blocks[:, 2 * j].astype(np.uint32) << np.uint32(8)
    return hi | blocks[:, 2 * j + 1].astype(np.uint32)


def tardos_bias(bias_blocks: npt.NDArray[np.uint8], npos: int) -> npt.NDArray[np.uint32]:
    """Per-position Tardos bias as an integer threshold ``T`` in 1..65535: ``p̂ = T/65536``.

    ``p = sin²(r)`` with ``r`` uniform on ``[t', π/2 − t']``, ``t' = arcsin(√δ)`` (the arcsine
    density with cutoff δ), from the shared-key PRF blocks of each row.
    """
    lo = math.asin(math.sqrt(TARDOS_CUTOFF))
    out = np.empty((bias_blocks.shape[0], npos), dtype=np.uint32)
    for j in range(npos):
        r = lo + (_word(bias_blocks, j).astype(np.float64) + 0.5) / 65536.0 * (math.pi / 2 - 2 * lo)
        out[:, j] = np.clip(np.ceil(np.sin(r) ** 2 * 65536.0), 1, 65535).astype(np.uint32)
    return out


def tardos_symbols(
    blocks: npt.NDArray[np.uint8],
    alphabets: list[int],
    thresholds: npt.NDArray[np.uint32],
) -> npt.NDArray[np.int16]:
    """Symbols with Tardos-biased binary positions (k-ary positions unchanged)."""
    out = symbols_from_blocks(blocks, alphabets)
    for j, k in enumerate(alphabets):
        if k == 2:
            out[:, j] = (_word(blocks, j) < thresholds[:, j]).astype(np.int16)
    return out


def match_probability(k: int) -> float:
    """Largest probability of any one symbol of a ``k``-ary position (conservative null)."""
    if k == 2:
        return 0.5
    return math.ceil(65536 / k) / 65536
