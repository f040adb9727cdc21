"""The shipped classifier: hashed n-gram TF-IDF features and a multinomial linear model.

Why this shape: on this data a linear model over character 1–3-grams is as accurate as
anything we could train offline (see bench/README.md (scam section)), needs no word segmenter, is
robust to the odd spellings scammers use, and classifies a batch as one sparse matrix
product. Hashing (no vocabulary) keeps the file small and the load a single ``np.load``.

The file is a compressed ``.npz`` holding only numbers and one JSON string (no pickle, so
loading a model file cannot run code): ``coef`` (classes × features), ``intercept``,
``idf`` and ``meta`` (classes, analyzer, n-gram range, hashing width, training record).
Inference re-creates the same hashing from ``meta`` and does the TF-IDF weighting and
softmax itself. For the shipped char analyzer the hashing is
:mod:`leaktrace.scam.hashing` (numpy, equal to scikit-learn's ``HashingVectorizer`` bit
for bit) so that loading and checking never import scikit-learn, which alone took about
0.75 s of a ~1 s load; training and the jieba analyzer still use scikit-learn, imported
lazily.
"""

from __future__ import annotations

import json
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from leaktrace.errors import ModelError
from leaktrace.io.jsontext import JsonTextError, loads_json
from leaktrace.scam.hashing import HashedCharNgrams

__all__ = [
    "DEFAULT_MODEL_PATH",
    "MODEL_CHARS",
    "Analyzer",
    "LinearTextModel",
    "load_model",
    "train_model",
]

Analyzer = Literal["char", "jieba"]

DEFAULT_MODEL_PATH = Path(__file__).parent / "model" / "scam-char.npz"

#: The classifier reads at most this many characters of each text (after the 20,000-char
#: input cap): the opening of a message or article carries its type; the rest costs time.
MODEL_CHARS = 3_000

FloatArray = npt.NDArray[np.float32]


def _prep(text: str) -> str:
    # Whole-string NFKC + lower: full-width letters and digits hash like half-width ones.
    s = text[:MODEL_CHARS]
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (junk input) cannot be hashed
        s = s.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFKC", s).lower()


def _jieba_tokens(text: str) -> list[str]:
    import jieba  # imported lazily: loading its dictionary costs about a second

    return [t for t in jieba.lcut(text) if not t.isspace()]


def _vectorizer(analyzer: Analyzer, ngram: tuple[int, int], n_features: int) -> Any:
    """scikit-learn's ``HashingVectorizer`` for ``analyzer``: used for training, and at
    inference only for jieba (the char analyzer has :func:`_inference_vectorizer`)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    common: dict[str, Any] = {
        "ngram_range": ngram,
        "n_features": n_features,
        "alternate_sign": False,
        "norm": None,
        "lowercase": False,
        "preprocessor": _prep,
        "dtype": np.float32,
    }
    if analyzer == "char":
        return HashingVectorizer(analyzer="char", **common)
    tokenizer: Callable[[str], list[str]] = _jieba_tokens
    return HashingVectorizer(analyzer="word", tokenizer=tokenizer, token_pattern=None, **common)


def _inference_vectorizer(analyzer: Analyzer, ngram: tuple[int, int], n_features: int) -> Any:
    """The char hashing without scikit-learn (same matrix); jieba falls back to sklearn."""
    if analyzer == "char":
        return HashedCharNgrams(ngram, n_features, preprocessor=_prep)
    return _vectorizer(analyzer, ngram, n_features)


@dataclass
class LinearTextModel:
    """Multinomial logistic regression on sublinear TF-IDF of hashed n-grams."""

    classes: tuple[str, ...]
    coef: FloatArray
    intercept: FloatArray
    idf: FloatArray
    analyzer: Analyzer = "char"
    ngram: tuple[int, int] = (1, 3)
    n_features: int = 2**18
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._vec = _inference_vectorizer(self.analyzer, self.ngram, self.n_features)
        self._coef_t = sparse.csr_matrix(self.coef.T) if self._sparse_coef() else self.coef.T

    def _sparse_coef(self) -> bool:
        return bool(np.count_nonzero(self.coef) < 0.25 * self.coef.size)

    def features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Sublinear TF × IDF, rows L2-normalised — the same weighting as training."""
        x = self._vec.transform(texts).tocsr()
        x.data = np.log1p(x.data, dtype=np.float32)
        x = x.multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1), dtype=np.float32)).ravel()
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)

    def predict_proba(self, texts: Sequence[str]) -> FloatArray:
        """Class probabilities, shape ``(len(texts), len(classes))``, one matrix product."""
        if len(texts) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        prod = self.features(texts) @ self._coef_t
        if sparse.issparse(prod):  # sparse weights (a small retrained model) give sparse logits
            prod = prod.toarray()
        z = np.asarray(prod, dtype=np.float32) + self.intercept
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def save(self, path: Path) -> None:
        meta = dict(self.meta)
        meta.update(
            classes=list(self.classes),
            analyzer=self.analyzer,
            ngram=list(self.ngram),
            n_features=self.n_features,
            format="leaktrace-scam-linear/1",
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                coef=self.coef.astype(np.float32),
                intercept=self.intercept.astype(np.float32),
                idf=self.idf.astype(np.float32),
                meta=np.array(json.dumps(meta, ensure_ascii=False, sort_keys=True)),
            )


def _read(path: Path) -> LinearTextModel:
    """Load a model file; anything a user can pass (`--model` names any file) that is not a
    well-formed model becomes one :class:`ModelError` line naming the file, never a
    traceback: a text file, a truncated or non-zip ``.npz`` (BadZipFile), an empty file
    (EOFError, which the CLI would otherwise take for Ctrl-D), meta that is not a JSON
    object or lacks a key."""
    try:
        # opened here, not by np.load: numpy leaks its own handle when zipfile refuses it
        with path.open("rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):  # a bare .npy array
                raise ModelError(f"{path}: not a leaktrace scam model (not an .npz archive)")
            with z:
                meta_text = str(z["meta"])
                coef, intercept, idf = z["coef"], z["intercept"], z["idf"]
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: not a leaktrace scam model ({type(exc).__name__})") from None
    try:
        meta = loads_json(meta_text, "")
    except JsonTextError as exc:
        raise ModelError(f"{path}: model metadata is {exc.reason}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: model metadata is not a JSON object")
    if meta.get("format") != "leaktrace-scam-linear/1":
        raise ModelError(f"{path}: unknown model format {meta.get('format')!r}")
    try:
        return _from_parts(path, meta, coef, intercept, idf)
    except KeyError as exc:
        if exc.args and isinstance(exc.args[0], str):  # a top-level key of meta is missing
            raise ModelError(f"{path}: model metadata has no {exc.args[0]!r}") from None
        raise ModelError(f"{path}: model metadata is malformed (KeyError)") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"{path}: model metadata is malformed ({type(exc).__name__})") from None


def _from_parts(
    path: Path, meta: dict[str, Any], coef: Any, intercept: Any, idf: Any
) -> LinearTextModel:
    """The model from its checked metadata and arrays. KeyError/TypeError/ValueError/
    IndexError from a malformed ``meta`` are left to :func:`_read` to turn into one line."""
    classes = tuple(str(c) for c in meta["classes"])
    n_features = int(meta["n_features"])
    ngram = (int(meta["ngram"][0]), int(meta["ngram"][1]))
    if not 1 <= ngram[0] <= ngram[1] or n_features < 1:
        raise ModelError(f"{path}: model metadata has an impossible n-gram range or width")
    if (
        coef.shape != (len(classes), n_features)
        or intercept.shape != (len(classes),)
        or idf.shape != (n_features,)
    ):
        raise ModelError(f"{path}: model arrays do not match its metadata")
    analyzer = meta["analyzer"]
    if analyzer not in ("char", "jieba"):
        raise ModelError(f"{path}: unknown analyzer {analyzer!r}")
    return LinearTextModel(
        classes=classes,
        coef=coef.astype(np.float32),
        intercept=intercept.astype(np.float32),
        idf=idf.astype(np.float32),
        analyzer=analyzer,
        ngram=ngram,
        n_features=n_features,
        meta=meta,
    )


@cache
def _cached(path: str, mtime_ns: int) -> LinearTextModel:
    return _read(Path(path))


def load_model(path: Path | None = None) -> LinearTextModel:
    """Load (and cache per path and modification time) a model; default: the shipped one."""
    p = (path or DEFAULT_MODEL_PATH).resolve()
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise ModelError(f"{p}: model file not found") from None
    return _cached(str(p), mtime)


def train_model(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    analyzer: Analyzer = "char",
    ngram: tuple[int, int] = (1, 3),
    n_features: int = 2**18,
    c: float = 10.0,
    seed: int = 20240501,
    meta: dict[str, Any] | None = None,
) -> LinearTextModel:
    """Fit the model; deterministic for fixed inputs and ``seed`` (lbfgs, no sampling)."""
    from sklearn.linear_model import LogisticRegression

    if len(texts) != len(labels) or not texts:
        raise ModelError("training needs the same, non-zero number of texts and labels")
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        raise ModelError("training needs at least two classes")
    vec = _vectorizer(analyzer, ngram, n_features)
    x = vec.transform(texts).tocsr()
    x.data = np.log1p(x.data, dtype=np.float32)
    df = np.bincount(x.indices, minlength=n_features).astype(np.float64)
    n = x.shape[0]
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    idf[df == 0] = 0.0  # buckets never seen in training carry no weight
    probe = LinearTextModel(
        classes=classes,
        coef=np.zeros((len(classes), n_features), dtype=np.float32),
        intercept=np.zeros(len(classes), dtype=np.float32),
        idf=idf,
        analyzer=analyzer,
        ngram=ngram,
        n_features=n_features,
    )
    feats = probe.features(texts)
    y = np.array([classes.index(lab) for lab in labels])
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)
    clf.fit(feats, y)
    coef = np.asarray(clf.coef_, dtype=np.float32)
    intercept = np.asarray(clf.intercept_, dtype=np.float32)
    if len(classes) == 2:
        # sklearn stores one row for two classes; softmax over (0, w) equals sigmoid(w).
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([np.zeros_like(intercept), intercept])
    return LinearTextModel(
        classes=classes,
        coef=coef,
        intercept=intercept,
        idf=idf,
        analyzer=analyzer,
        ngram=ngram,
        n_features=n_features,
        meta=dict(meta or {}, seed=seed, C=c, n_train=len(texts)),
    )
