"""Training data: the public fraud-text set, our template negatives, and the split.

Units of text, and why:

- a **news report** (REAL) is one example: title + body. Reports that appear in several
  type files (general "常见诈骗类型" round-ups) carry contradictory labels and are dropped,
  except those that name 杀猪盘 (see ``_news``);
  exact duplicates within one type are kept once. The split group is a hash of the body,
  so a re-posted article never sits on both sides.
- a **dialogue** (GENERATED) is one example: all turns of one ``case`` joined; its group is
  the case, so one dialogue never crosses the split.
- the **meeting** transcripts (real speech recognition, the set's only non-fraud text) are
  cut into windows of :data:`MEETING_WINDOW` turns; the group is the meeting.
- **template negatives** (:mod:`leaktrace.scam.negatives`) are split by template, not
  by sample.

The split is a seeded, per-label permutation of sorted group ids; the test group ids are
committed in ``model/split.json`` so every later run, and every reviewer, sees the same one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from leaktrace.errors import InputError
from leaktrace.scam._io import read_csv_frame
from leaktrace.scam.categories import NORMAL, map_file_type
from leaktrace.scam.negatives import generate

__all__ = [
    "MEETING_WINDOW",
    "Example",
    "Source",
    "load_dataset",
    "load_labelled_file",
    "load_split",
    "make_split",
    "template_negatives",
]

Source = Literal["real", "generated", "meeting", "template"]

MEETING_WINDOW = 6
ROMANCE = "网络婚恋、交友类"
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    source: Source
    group: str


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _news(directory: Path) -> tuple[list[Example], int]:
    by_group: dict[str, list[Example]] = defaultdict(list)
    for path in sorted(directory.glob("*.csv")):
        label = map_file_type(path.stem)
        if label is None:
            continue
        df = read_csv_frame(path.read_bytes(), str(path))
        if "文章正文内容" not in df.columns or "标题" not in df.columns:
            raise InputError(f"{path}: expected columns 标题 and 文章正文内容")
        summary = df["首页缩略文段"].to_list() if "首页缩略文段" in df.columns else [None] * len(df)
        for title, body, short in zip(
            df["标题"].to_list(), df["文章正文内容"].to_list(), summary, strict=True
        ):
            body_text = _WS.sub(" ", body or short or "").strip()
            if len(body_text) < 20:
                continue
            text = f"{(title or '').strip()}\n{body_text}"
            by_group[_digest(body_text[:2000])].append(Example(text, label, "real", ""))
    out: list[Example] = []
    conflicts = 0
    for group, items in sorted(by_group.items()):
        e = items[0]
        if len({x.label for x in items}) > 1:
            # The source's 虚假购物诈骗 news file repeats ~170 “杀猪盘” articles (a scraping
            # slip); an article that names 杀猪盘 is labelled by what it is about.
            if "杀猪盘" in e.text:
                e = Example(e.text, ROMANCE, "real", "")
            else:
                conflicts += 1
                continue
        out.append(Example(e.text, e.label, "real", f"news:{group}"))
    return out, conflicts


def _dialogs(directory: Path) -> list[Example]:
    out: list[Example] = []
    for path in sorted(directory.glob("*.csv")):
        label = map_file_type(path.stem)
        if label is None:
            continue
        df = read_csv_frame(path.read_bytes(), str(path))
        if not {"case", "content"} <= set(df.columns):
            raise InputError(f"{path}: expected columns case and content")
        turns: dict[str, list[str]] = defaultdict(list)
        for case, content in zip(df["case"].to_list(), df["content"].to_list(), strict=True):
            if content:
                turns[str(case)].append(content.strip())
        base = path.stem.split("(", 1)[0].strip()
        for case, lines in turns.items():
            if label == NORMAL:
                for k in range(0, len(lines), MEETING_WINDOW):
                    window = "\n".join(lines[k : k + MEETING_WINDOW])
                    out.append(Example(window, label, "meeting", f"meeting:{_digest(case)}"))
            else:
                out.append(
                    Example("\n".join(lines), label, "generated", f"dialog:{_digest(base + case)}")
                )
    return out


def load_dataset(root: Path) -> tuple[list[Example], dict[str, int]]:
    """Examples from a fraud-text directory (``news-reports/``, ``dialogs/``) and stats."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    news_dir, dialog_dir = root / "news-reports", root / "dialogs"
    if not news_dir.is_dir() and not dialog_dir.is_dir():
        raise InputError(f"{root}: expected news-reports/ and/or dialogs/ sub-folders")
    news, conflicts = _news(news_dir) if news_dir.is_dir() else ([], 0)
    dialogs = _dialogs(dialog_dir) if dialog_dir.is_dir() else []
    stats = {"news": len(news), "news_conflicting_dropped": conflicts, "dialog_units": len(dialogs)}
    return news + dialogs, stats


def load_labelled_file(path: Path) -> list[Example]:
    """A platform's own cases: a CSV with ``text`` and ``label`` columns (label = category).

    Each row is its own split group; rows are treated as REAL text.
    """
    df = read_csv_frame(path.read_bytes(), str(path))
    if not {"text", "label"} <= set(df.columns):
        raise InputError(f"{path}: a labelled CSV needs columns text and label")
    out = []
    for i, (t, lab) in enumerate(zip(df["text"].to_list(), df["label"].to_list(), strict=True)):
        if t and lab:
            out.append(Example(t, lab.strip(), "real", f"row:{path.name}:{i}"))
    return out


def template_negatives(n_train: int, n_test: int, seed: int) -> tuple[list[Example], list[Example]]:
    """Template negatives for training and (held-out templates, other seed) for testing."""
    train = [Example(t, NORMAL, "template", "tpl:train") for t in generate(n_train, seed, "train")]
    test = [Example(t, NORMAL, "template", "tpl:test") for t in generate(n_test, seed + 1, "test")]
    return train, test


def make_split(examples: list[Example], seed: int, test_frac: float) -> dict[str, object]:
    """Choose test groups per label with a seeded permutation; returns the JSON-able split."""
    groups_by_label: dict[str, set[str]] = defaultdict(set)
    for e in examples:
        groups_by_label[e.label].add(e.group)
    rng = np.random.default_rng(seed)
    test: list[str] = []
    for label in sorted(groups_by_label):
        groups = sorted(groups_by_label[label])
        order = rng.permutation(len(groups))
        k = math.ceil(test_frac * len(groups))
        test.extend(groups[int(i)] for i in order[:k])
    return {"seed": seed, "test_frac": test_frac, "test_groups": sorted(set(test))}


def load_split(path: Path) -> frozenset[str]:
    """The committed test group ids."""
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(g) for g in obj["test_groups"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a split file ({type(exc).__name__})") from None
