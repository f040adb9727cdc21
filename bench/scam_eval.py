# ruff: noqa: E402  (thread limits must be set before numpy is imported)
"""Evaluate the scam detector on the committed held-out split (not part of the test suite).

    .venv/bin/python bench/scam_eval.py [--data /work/shared/data/fraud-text] [--out FILE]

Trains a char-n-gram and a jieba-word model on the train side of
src/leaktrace/scam/model/split.json, then runs the full ``check()`` pipeline (classifier +
stage rules) on the held-out side and reports, separately for REAL news reports and
GENERATED dialogues: per-class precision/recall/F1 and macro-F1; binary F1 for
冒充电商物流客服类 vs everything else; false-positive rate on held-out legitimate messages
(template negatives from held-out templates and another seed; held-out meeting
transcripts); speed of the shipped model on one core (batch throughput, single-message p99)
and its load time in a fresh process. Prints Markdown.
"""

from __future__ import annotations

import os

# One core, measured honestly: no BLAS threads, pinned to one CPU.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from leaktrace.scam import check
from leaktrace.scam.categories import CUSTOMER_SERVICE
from leaktrace.scam.data import Example
from leaktrace.scam.model import DEFAULT_MODEL_PATH, Analyzer
from leaktrace.scam.negatives import generate
from leaktrace.scam.train import DEFAULT_SEED, DEFAULT_SPLIT_PATH, build_corpus, train_from_corpus

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fraud-text"


def _machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc={os.cpu_count()}, CPU: {cpu}, Python {platform.python_version()}"


def _per_class(y: Sequence[str], pred: Sequence[str]) -> list[str]:
    labels = sorted(set(y))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    rows = ["| class | precision | recall | F1 | n |", "|---|---:|---:|---:|---:|"]
    for lab, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True):
        rows.append(f"| {lab} | {pi:.3f} | {ri:.3f} | {fi:.3f} | {si} |")
    macro = f1_score(y, pred, labels=labels, average="macro", zero_division=0)
    rows.append(
        f"| **macro-F1** (over the {len(labels)} classes present) | | | **{macro:.3f}** | {len(y)} |"
    )
    return rows


def _binary_cs(y: Sequence[str], pred: Sequence[str]) -> float:
    yt = [v == CUSTOMER_SERVICE for v in y]
    yp = [v == CUSTOMER_SERVICE for v in pred]
    return float(f1_score(yt, yp, zero_division=0))


def _evaluate(
    model_path: Path, test: list[Example]
) -> tuple[dict[str, list[str]], dict[str, float]]:
    lines: dict[str, list[str]] = {}
    nums: dict[str, float] = {}
    for src in ("real", "generated"):
        ex = [e for e in test if e.source == src]
        res = check([e.text for e in ex], model=model_path)
        y = [e.label for e in ex]
        pred = [r.fraud_type for r in res]
        lines[src] = _per_class(y, pred)
        nums[f"{src}_macro"] = float(
            f1_score(y, pred, labels=sorted(set(y)), average="macro", zero_division=0)
        )
        nums[f"{src}_cs_f1"] = _binary_cs(y, pred)
        nums[f"{src}_n"] = len(ex)
    for src in ("template", "meeting"):
        ex = [e for e in test if e.source == src]
        res = check([e.text for e in ex], model=model_path)
        fp = sum(r.is_scam for r in res)
        nums[f"{src}_fp"] = fp
        nums[f"{src}_n"] = len(ex)
    return lines, nums


def _speed(model_path: Path) -> dict[str, float]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    msgs = (
        generate(5000, seed=7, split="test")
        + [
            "我是淘宝客服，您买的面膜有质量问题，我们给您三倍赔偿，请下载会议软件共享屏幕。",
            "您好，这里是快递公司理赔部，您的包裹丢失了，需要您开通备用金验证还款能力。",
        ]
        * 2500
    )
    check(msgs[:100], model=model_path)  # warm up: model load, regex compile
    t = time.perf_counter()
    check(msgs, model=model_path)
    batch = len(msgs) / (time.perf_counter() - t)
    one: list[float] = []
    for m in msgs[:2000]:
        t = time.perf_counter()
        check(m, model=model_path)
        one.append(time.perf_counter() - t)
    avg_len = float(np.mean([len(m) for m in msgs]))
    code = (
        "import time; t=time.perf_counter(); from leaktrace.scam import load_model; "
        f"load_model(__import__('pathlib').Path({str(model_path)!r})); "
        "print(time.perf_counter()-t)"
    )
    loads = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)
    ]
    return {
        "batch_per_s": batch,
        "p50_ms": float(np.percentile(one, 50) * 1e3),
        "p99_ms": float(np.percentile(one, 99) * 1e3),
        "avg_len": avg_len,
        "n": len(msgs),
        "load_s_median": float(np.median(loads)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ap.add_argument("--skip-jieba", action="store_true")
    args = ap.parse_args()

    if not args.data.is_dir():
        # The corpus is the team's shared data, beside the project (../shared), not shipped.
        sys.exit(
            f"scam_eval: no fraud-text corpus at {args.data} (a checkout beside ../shared has "
            "it; or pass --data DIR)"
        )
    corpus = build_corpus(args.data, DEFAULT_SPLIT_PATH, DEFAULT_SEED)
    out: list[str] = [
        "# Scam detector evaluation",
        "",
        f"Machine: {_machine()}",
        f"Command: `.venv/bin/python bench/scam_eval.py{' --skip-jieba' if args.skip_jieba else ''}`",
        f"Corpus: {corpus.stats}",
        "",
    ]
    analyzers: list[Analyzer] = ["char"] if args.skip_jieba else ["char", "jieba"]
    summary = [
        "| model | real macro-F1 | real 冒充电商物流客服类 F1 | generated macro-F1 | generated CS F1 | FPR templates | FPR meetings | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for analyzer in analyzers:
            t = time.perf_counter()
            model = train_from_corpus(corpus, analyzer=analyzer, seed=DEFAULT_SEED)
            train_s = time.perf_counter() - t
            path = Path(tmp) / f"scam-{analyzer}.npz"
            model.save(path)
            lines, nums = _evaluate(path, corpus.test)
            summary.append(
                f"| {analyzer} | {nums['real_macro']:.3f} | {nums['real_cs_f1']:.3f} | "
                f"{nums['generated_macro']:.3f} | {nums['generated_cs_f1']:.3f} | "
                f"{nums['template_fp'] / nums['template_n']:.3%} ({int(nums['template_fp'])}/{int(nums['template_n'])}) | "
                f"{nums['meeting_fp'] / nums['meeting_n']:.3%} ({int(nums['meeting_fp'])}/{int(nums['meeting_n'])}) | {train_s:.1f} |"
            )
            out += [
                f"## {analyzer}: REAL held-out news reports (full check() pipeline)",
                "",
                *lines["real"],
                "",
            ]
            out += [f"## {analyzer}: GENERATED held-out dialogues", "", *lines["generated"], ""]
            if analyzer == "jieba":
                sp = _speed(path)
                out += [
                    "## jieba speed (same protocol as below)",
                    "",
                    f"batch {sp['batch_per_s']:,.0f} msgs/s; single p50 {sp['p50_ms']:.2f} ms, p99 {sp['p99_ms']:.2f} ms; load {sp['load_s_median']:.2f} s (jieba dictionary loads lazily on first use, not included)",
                    "",
                ]
    out[6:6] = ["## Summary (held-out only)", "", *summary, ""]
    sp = _speed(DEFAULT_MODEL_PATH)
    out += [
        "## Speed of the shipped model (one core)",
        "",
        f"- batch: {sp['batch_per_s']:,.0f} messages/s ({int(sp['n'])} messages, mean {sp['avg_len']:.0f} chars, one `check()` call)",
        f"- one message per call: p50 {sp['p50_ms']:.2f} ms, p99 {sp['p99_ms']:.2f} ms (2000 calls)",
        f"- load in a fresh process (import + np.load), median of 3: {sp['load_s_median']:.2f} s",
        f"- model file size: {DEFAULT_MODEL_PATH.stat().st_size / 2**20:.1f} MiB",
        "",
    ]
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
