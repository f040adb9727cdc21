"""The numpy char n-gram hashing equals scikit-learn's HashingVectorizer, bit for bit.

Inference uses :mod:`leaktrace.scam.hashing` so that loading the model never imports
scikit-learn; the shipped model was trained with scikit-learn's hashing, so any difference
(one n-gram in a different column) would silently change predictions. These tests compare
the two on adversarial random text and on the real held-out texts, and check that
``check()`` itself is unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32 as sk_murmur

from leaktrace.scam import check, load_model
from leaktrace.scam import hashing as hashing_mod
from leaktrace.scam.data import load_dataset, load_split
from leaktrace.scam.hashing import char_ngram_counts, murmurhash3_32
from leaktrace.scam.model import _prep, _vectorizer
from leaktrace.scam.negatives import generate
from leaktrace.scam.train import DEFAULT_SPLIT_PATH

DATA = Path(
    os.environ.get(
        "LEAKTRACE_FRAUD_TEXT",
        str(Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud-text"),
    )
)

# Characters that stress each step: whitespace runs (\s is Unicode-aware), NFKC changes
# (full-width, ligatures, ideographic space), lower() that lengthens (İ), 1–4-byte UTF-8,
# NUL bytes (a zero tail word), lone surrogates (replaced by _prep), line separators.
_SPECIAL = [
    *"我是淘宝客服共享屏幕，。！ＡＢＱ１２ｑ　 \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u2029\u200b",
    *"ﬁ㍿İßΣσς😀🀄𠀀\U0010ffff\x00aZ9é€",
    *("\ud800", "\udfff", "\ud83d"),
]
_ALPHABET = st.one_of(st.characters(), st.sampled_from(_SPECIAL))
_TEXTS = st.lists(st.text(alphabet=_ALPHABET, max_size=40), max_size=12)


def _sklearn_char(ngram: tuple[int, int] = (1, 3), n_features: int = 2**18) -> Any:
    return HashingVectorizer(
        analyzer="char",
        ngram_range=ngram,
        n_features=n_features,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        preprocessor=_prep,
        dtype=np.float32,
    )


def _assert_same(texts: Sequence[str], ngram: tuple[int, int] = (1, 3), nf: int = 2**18) -> None:
    got = char_ngram_counts(texts, ngram=ngram, n_features=nf, preprocessor=_prep)
    want = _sklearn_char(ngram, nf).transform(texts)
    assert isinstance(got, sparse.csr_matrix)
    assert got.shape == want.shape and got.dtype == want.dtype == np.float32
    assert got.has_sorted_indices
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)


def _pack(keys: Sequence[bytes], n_words: int) -> tuple[np.ndarray, np.ndarray]:
    buf = b"".join(k.ljust(4 * n_words, b"\0") for k in keys)
    words = np.frombuffer(buf, dtype="<u4").reshape(len(keys), n_words).astype(np.uint32)
    return words, np.array([len(k) for k in keys], dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=50))
def test_murmurhash3_matches_sklearn(keys: list[bytes]) -> None:
    words, lengths = _pack(keys, 3)
    got = murmurhash3_32(words, lengths).view(np.int32)
    want = [sk_murmur(k, seed=0, positive=False) for k in keys]
    assert got.tolist() == want


def test_murmurhash3_known_values_and_seed() -> None:
    keys = [b"", b"\0", b"a", b"ab", b"abc", b"abcd", b"abcde", "我是淘".encode(), b"\xff" * 12]
    words, lengths = _pack(keys, 3)
    for seed in (0, 1, 2**32 - 1):
        got = murmurhash3_32(words, lengths, seed=seed).view(np.int32).tolist()
        assert got == [sk_murmur(k, seed=seed, positive=False) for k in keys]


@pytest.mark.parametrize("n_features", [2**18, 1000, 7])
def test_most_negative_hash_column(n_features: int) -> None:
    # sklearn's special case for h == -2**31 equals abs() taken in int64, which we use.
    sk = (2147483647 - (n_features - 1)) % n_features
    assert int(np.abs(np.array([-(2**31)], dtype=np.int32).astype(np.int64))[0]) % n_features == sk


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_char_counts_match_sklearn_on_random_text(texts: list[str]) -> None:
    if texts:  # sklearn refuses an empty batch
        _assert_same(texts)


@settings(max_examples=60, deadline=None)
@given(_TEXTS.filter(bool), st.sampled_from([(1, 1), (2, 3), (1, 4), (3, 5)]))
def test_other_ngram_ranges_and_widths(texts: list[str], ngram: tuple[int, int]) -> None:
    _assert_same(texts, ngram=ngram, nf=1009)


def test_edge_cases_and_empty_batch() -> None:
    _assert_same(["", " ", "  ", "a", "ab", "\n", "a\n\nb", "x \t y", "\ud800", "😀" * 5])
    _assert_same(["无关内容" * 2000])  # longer than MODEL_CHARS: _prep cuts it
    empty = char_ngram_counts([], preprocessor=_prep)
    assert empty.shape == (0, 2**18) and empty.nnz == 0


def test_chunked_batches_match(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [*generate(200, seed=3, split="test"), "", "我是淘宝客服" * 50]
    monkeypatch.setattr(hashing_mod, "CHUNK_CHARS", 100)
    _assert_same(texts)


def _held_out_texts() -> list[str]:
    examples, _ = load_dataset(DATA)
    held = load_split(DEFAULT_SPLIT_PATH)
    return [e.text for e in examples if e.group in held]


@pytest.mark.skipif(not DATA.is_dir(), reason="fraud-text data set not available")
def test_char_counts_match_sklearn_on_held_out_texts() -> None:
    texts = _held_out_texts()
    assert len(texts) > 500
    _assert_same(texts)


def test_predictions_identical_with_sklearn_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        *generate(300, seed=11, split="test"),
        "我是淘宝客服，您买的面膜有质量问题，请下载会议软件共享屏幕。",
        "您好，这里是快递公司理赔部，需要您开通备用金验证还款能力。",
        "x",
        "",
        "   ",
    ]
    if DATA.is_dir():
        texts += _held_out_texts()[:200]
    model = load_model()
    ours_proba = model.predict_proba(texts)
    ours = check(texts)
    # load_model caches the object check() uses: swap in sklearn's vectorizer for both.
    monkeypatch.setattr(model, "_vec", _vectorizer("char", model.ngram, model.n_features))
    np.testing.assert_array_equal(ours_proba, model.predict_proba(texts))
    assert ours == check(texts)
    assert [r.score for r in ours] == [r.score for r in check(texts)]


def test_fresh_process_check_does_not_import_sklearn() -> None:
    code = (
        "import sys\n"
        "from leaktrace.scam import check\n"
        "r = check(['x', '我是淘宝客服，请共享屏幕'])\n"
        "assert len(r) == 2\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'jieba'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
