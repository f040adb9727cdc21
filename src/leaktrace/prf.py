"""The keyed pseudo-random function behind every mark.

Why AES-ECB over 16-byte blocks: a mark symbol must be a keyed PRF of (recipient, key
version, row anchor, channel), computed for millions of rows per release and again for
every candidate at trace time. One AES-ECB call over a numpy buffer of blocks
``anchor (8 bytes, big-endian) || channel code (8 bytes)`` runs at memory speed inside
OpenSSL, with no Python loop per row. AES is a pseudo-random permutation on distinct
blocks, so outputs for distinct (anchor, channel) under one key are indistinguishable from
independent uniform strings — which is exactly the assumption the tracer's exact binomial
test needs.

Symbols: position ``j`` of a channel reads its symbol from the 16 output bytes. A binary
position uses one bit of byte ``j`` (exactly fair). A ``k``-ary position uses bytes
``2j, 2j+1`` as a 16-bit integer modulo ``k``; when ``k`` does not divide 65536 the symbols
are very slightly non-uniform, and :func:`match_probability` returns the *largest* symbol
probability ``ceil(65536/k)/65536`` so that the tracer's null distribution is conservative.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["match_probability", "prf_blocks", "symbols_from_blocks"]

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
            out[:, j] = blocks[:, j] & 1
        else:
            word = blocks[:, 2 * j].astype(np.uint32) << 8 | blocks[:, 2 * j + 1]
            out[:, j] = (word % k).astype(np.int16)
    return out


def match_probability(k: int) -> float:
    """Largest probability of any one symbol of a ``k``-ary position (conservative null)."""
    if k == 2:
        return 0.5
    return math.ceil(65536 / k) / 65536
