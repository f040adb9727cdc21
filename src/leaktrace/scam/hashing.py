"""Hashed character n-gram counts in numpy, equal to scikit-learn's ``HashingVectorizer``.

Why this exists: the shipped classifier hashes character 1–3-grams exactly as
``HashingVectorizer(analyzer="char", alternate_sign=False, norm=None, lowercase=False)``
does, but importing scikit-learn costs about 0.75 s — most of the model's load time
(issue 3 asks for < 1 s). Inference needs only the hashing, which is small enough to
reimplement; training still uses scikit-learn, and tests/scam/test_hashing.py checks the
two produce the same matrix (indices and counts) on random and real text.

What scikit-learn does, and so what this module does (sklearn 1.x,
``feature_extraction/text.py`` ``_char_ngrams`` and ``_hashing_fast.pyx``):

1. the preprocessor runs, then runs of two or more whitespace characters (``\\s\\s+``,
   Unicode-aware) become one space — a single ``\\n`` or ``\\t`` is kept as it is;
2. every character is a 1-gram, and every window of ``n`` characters for ``2 ≤ n ≤ 3``
   (none when the text is shorter than ``n``);
3. each n-gram's UTF-8 bytes are hashed with MurmurHash3_x86_32, seed 0, read as a signed
   32-bit int ``h``; the column is ``abs(h) % n_features`` (sklearn special-cases
   ``h == -2**31``; computing ``abs`` in int64 gives the same column);
4. equal columns of one text are summed; the result is CSR with sorted indices.

Everything after the per-text preprocessing runs on whole-batch numpy arrays (no Python
loop per n-gram); batches are cut into chunks of about :data:`CHUNK_CHARS` characters so
the n-gram arrays stay small whatever the batch size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy import sparse

__all__ = ["CHUNK_CHARS", "HashedCharNgrams", "char_ngram_counts", "murmurhash3_32"]

#: Characters hashed per chunk. Temporaries take ~100 bytes per n-gram (~3 per character):
#: 100k characters peak near 40 MB (tracemalloc: 1M characters peaked at 314 MB), and
#: smaller chunks measured no slower (cache-friendlier).
CHUNK_CHARS = 100_000

# Exactly scikit-learn's VectorizerMixin._white_spaces.
_WHITE_SPACES = re.compile(r"\s\s+")

U32 = npt.NDArray[np.uint32]

_BYTE_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF, 0xFFFFFFFF], dtype=np.uint32)
_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)


def _rotl(x: U32, r: int) -> U32:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _mix_k(k: U32) -> U32:
    k = k * _C1
    k = _rotl(k, 15)
    return k * _C2


def murmurhash3_32(words: U32, length: npt.NDArray[np.integer], seed: int = 0) -> U32:
    """MurmurHash3_x86_32 of many short keys at once, as unsigned 32-bit values.

    ``words`` has shape ``(n_keys, n_words)``: each key's bytes packed little-endian into
    32-bit words, zero past the key's ``length`` (bytes, at most ``4 * n_words``). Array
    arithmetic on uint32 wraps modulo 2**32, which is what the C reference relies on.
    """
    length = np.asarray(length)
    n_blocks = length // 4
    h = np.full(words.shape[0], seed, dtype=np.uint32)
    for j in range(words.shape[1]):
        mixed = h ^ _mix_k(words[:, j])
        mixed = _rotl(mixed, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        h = np.where(n_blocks > j, mixed, h)
    # Tail: the word after the last full block, already zero past the key. A zero tail
    # (no tail bytes, or only NUL bytes) mixes to zero, so applying it always is exact.
    tail = np.zeros(words.shape[0], dtype=np.uint32)
    for j in range(words.shape[1]):
        tail = np.where(n_blocks == j, words[:, j], tail)
    h ^= _mix_k(tail)
    h ^= length.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


@cache
def _key_masks(n_words: int) -> U32:
    """``[length, j]``: the bits of word ``j`` that belong to a key of ``length`` bytes."""
    kept = np.clip(np.arange(4 * n_words + 1)[:, None] - 4 * np.arange(n_words), 0, 4)
    masks: U32 = _BYTE_MASK[kept]
    masks.flags.writeable = False  # cached and shared between calls
    return masks


def _utf8_lengths(cps: U32) -> npt.NDArray[np.int64]:
    return (1 + (cps >= 0x80).astype(np.int64) + (cps >= 0x800) + (cps >= 0x10000)).astype(np.int64)


def _chunk_counts(
    docs: Sequence[str], ngram: tuple[int, int], n_features: int
) -> sparse.csr_matrix:
    n_docs = len(docs)
    joined = "".join(docs)
    # Code points (for UTF-8 widths) and the UTF-8 stream. A lone surrogate makes encode()
    # raise, as it makes sklearn's hashing raise; the model's _prep replaces them first.
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
    utf8 = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    doc_len = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n_docs)
    doc_start = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(doc_len, out=doc_start[1:])
    n_chars = int(doc_start[-1])
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    room = doc_start[1:][doc_of] - np.arange(n_chars, dtype=np.int64)  # chars left in doc
    byte_off = np.zeros(n_chars + 1, dtype=np.int64)
    np.cumsum(_utf8_lengths(cps), out=byte_off[1:])

    lo_n, max_n = ngram
    n_words = max_n  # a character is at most 4 UTF-8 bytes: one word per character
    # word_at[p]: the 4 bytes from byte p as a little-endian uint32 (zero-padded).
    padded = np.zeros(utf8.size + 4 * n_words + 4, dtype=np.uint32)
    padded[: utf8.size] = utf8
    word_at = (
        padded[:-3]
        | (padded[1:-2] << np.uint32(8))
        | (padded[2:-1] << np.uint32(16))
        | (padded[3:] << np.uint32(24))
    )

    # All n-grams of all lengths in one go (one hash call: fewer numpy calls per batch,
    # which is what a one-message check() pays for): start character and length n.
    starts = [np.flatnonzero(room >= n) for n in range(lo_n, max_n + 1)]
    start = np.concatenate(starts)
    n_chars_of = np.repeat(np.arange(lo_n, max_n + 1, dtype=np.int64), [len(s) for s in starts])
    b0 = byte_off[start]
    length = byte_off[start + n_chars_of] - b0
    # Word j of a key holds its bytes 4j..4j+3; mask off bytes past the key's end.
    words = word_at[b0[:, None] + 4 * np.arange(n_words)]
    words &= _key_masks(n_words)[length]
    h = murmurhash3_32(words, length).view(np.int32)
    # Sum equal (text, column) pairs: one sort of a combined int64 key (much faster than
    # scipy's COO → CSR at every batch size). Sorted keys give CSR with sorted indices and
    # no duplicates, as sklearn's ``sum_duplicates`` leaves it.
    key = doc_of[start] * n_features + np.abs(h.astype(np.int64)) % n_features
    key.sort()
    new = np.ones(key.size, dtype=bool)
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = np.flatnonzero(new)
    counts = np.diff(first, append=key.size).astype(np.float32)
    uniq = key[first]
    # sklearn's matrix has int32 indices unless it has ≥ 2**31 entries (not at this size)
    idx = np.int32 if max(n_features, uniq.size) < 2**31 else np.int64
    indptr = np.searchsorted(uniq // n_features, np.arange(n_docs + 1)).astype(idx)
    return sparse.csr_matrix(
        (counts, (uniq % n_features).astype(idx), indptr), shape=(n_docs, n_features)
    )


def char_ngram_counts(
    texts: Sequence[str],
    *,
    ngram: tuple[int, int] = (1, 3),
    n_features: int = 2**18,
    preprocessor: Callable[[str], str] | None = None,
) -> sparse.csr_matrix:
    """Counts of hashed character n-grams, ``(len(texts), n_features)`` float32 CSR.

    Equal (indptr, indices, data) to ``HashingVectorizer(analyzer="char",
    ngram_range=ngram, n_features=n_features, alternate_sign=False, norm=None,
    lowercase=False, preprocessor=preprocessor, dtype=np.float32).transform(texts)``.
    """
    if not 1 <= ngram[0] <= ngram[1]:
        raise ValueError(f"bad n-gram range {ngram}")
    prep = preprocessor or (lambda s: s)
    docs = [_WHITE_SPACES.sub(" ", prep(t)) for t in texts]
    chunks: list[sparse.csr_matrix] = []
    lo = 0
    while True:
        hi, size = lo, 0
        while hi < len(docs) and (hi == lo or size + len(docs[hi]) <= CHUNK_CHARS):
            size += len(docs[hi])
            hi += 1
        chunks.append(_chunk_counts(docs[lo:hi], ngram, n_features))
        if hi >= len(docs):
            break
        lo = hi
    if len(chunks) == 1:
        return chunks[0]
    return sparse.csr_matrix(sparse.vstack(chunks, format="csr", dtype=np.float32))


class HashedCharNgrams:
    """A stand-in for the char ``HashingVectorizer`` at inference: only ``transform``."""

    def __init__(
        self,
        ngram: tuple[int, int],
        n_features: int,
        preprocessor: Callable[[str], str] | None = None,
    ) -> None:
        self.ngram = ngram
        self.n_features = n_features
        self.preprocessor = preprocessor

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Hashed counts of ``texts``; see :func:`char_ngram_counts`."""
        return char_ngram_counts(
            texts, ngram=self.ngram, n_features=self.n_features, preprocessor=self.preprocessor
        )
