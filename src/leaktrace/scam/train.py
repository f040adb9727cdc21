"""Reproducible training: data → examples → split → model file.

Used by ``leaktrace scam train`` and by ``bench/scam_eval.py`` so the shipped model, the
benchmark and a platform's retraining all follow one path. Everything is a function of the
data, the split file and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaktrace.errors import InputError
from leaktrace.scam.data import (
    Example,
    load_dataset,
    load_labelled_file,
    load_split,
    template_negatives,
)
from leaktrace.scam.model import Analyzer, LinearTextModel, train_model

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_SPLIT_PATH",
    "N_TEMPLATE_TEST",
    "N_TEMPLATE_TRAIN",
    "Corpus",
    "build_corpus",
    "train_from_corpus",
]

DEFAULT_SEED = 20240501
DEFAULT_SPLIT_PATH = Path(__file__).parent / "model" / "split.json"
N_TEMPLATE_TRAIN = 3000
N_TEMPLATE_TEST = 4000


@dataclass(frozen=True)
class Corpus:
    train: list[Example]
    test: list[Example]
    stats: dict[str, int]


def build_corpus(data: Path, split: Path | None, seed: int = DEFAULT_SEED) -> Corpus:
    """Examples from ``data`` (fraud-text folder or labelled CSV) plus template negatives.

    ``split``: a split file whose ``test_groups`` are held out; ``None`` trains on all.
    Template negatives are always split by template (held-out templates go to test).
    """
    if data.is_dir():
        examples, stats = load_dataset(data)
    elif data.is_file():
        examples, stats = load_labelled_file(data), {}
    else:
        raise InputError(f"{data}: no such file or directory")
    held = load_split(split) if split is not None else frozenset()
    train = [e for e in examples if e.group not in held]
    test = [e for e in examples if e.group in held]
    neg_train, neg_test = template_negatives(N_TEMPLATE_TRAIN, N_TEMPLATE_TEST, seed)
    stats = dict(stats, train=len(train) + len(neg_train), test=len(test) + len(neg_test))
    return Corpus(train + neg_train, test + neg_test, stats)


def train_from_corpus(
    corpus: Corpus, *, analyzer: Analyzer = "char", seed: int = DEFAULT_SEED, source: str = ""
) -> LinearTextModel:
    texts = [e.text for e in corpus.train]
    labels = [e.label for e in corpus.train]
    return train_model(
        texts,
        labels,
        analyzer=analyzer,
        ngram=(1, 3) if analyzer == "char" else (1, 2),
        seed=seed,
        meta={"data": source, "stats": corpus.stats},
    )
