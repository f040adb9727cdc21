"""check(): the shipped classifier plus rules, on held-out and hand-written text."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.errors import ModelError
from leaktrace.scam import FRAUD_TYPES, MAX_CHARS, NORMAL, ScamResult, check, load_model
from leaktrace.scam.categories import CUSTOMER_SERVICE
from leaktrace.scam.data import load_dataset, load_split
from leaktrace.scam.model import DEFAULT_MODEL_PATH
from leaktrace.scam.negatives import generate
from leaktrace.scam.train import DEFAULT_SPLIT_PATH

# shared/ sits beside the repository (in CI too); LEAKTRACE_FRAUD_TEXT overrides
DATA = Path(
    os.environ.get(
        "LEAKTRACE_FRAUD_TEXT",
        str(Path(__file__).resolve().parents[3] / "shared" / "data" / "fraud-text"),
    )
)


def test_model_is_small_and_loads_fast() -> None:
    assert DEFAULT_MODEL_PATH.stat().st_size < 20 * 2**20
    t = time.perf_counter()
    m = load_model(DEFAULT_MODEL_PATH.with_name("scam-char.npz"))
    assert time.perf_counter() - t < 2.0  # generous for CI; bench measures < 1 s
    assert NORMAL in m.classes and CUSTOMER_SERVICE in m.classes
    assert set(m.classes) <= set(FRAUD_TYPES)


@pytest.mark.skipif(not DATA.is_dir(), reason="fraud-text data set not available")
def test_held_out_real_reports_are_classified() -> None:
    examples, _ = load_dataset(DATA)
    held = load_split(DEFAULT_SPLIT_PATH)
    real = [e for e in examples if e.source == "real" and e.group in held]
    per_class: dict[str, list[str]] = {}
    for e in real:
        per_class.setdefault(e.label, [])
        if len(per_class[e.label]) < 8:
            per_class[e.label].append(e.text)
    texts = [t for ts in per_class.values() for t in ts]
    labels = [lab for lab, ts in per_class.items() for _ in ts]
    got = [r.fraud_type for r in check(texts)]
    correct = sum(g == y for g, y in zip(got, labels, strict=True))
    assert correct / len(labels) >= 0.8, list(zip(labels, got, strict=True))
    cs = [g for g, y in zip(got, labels, strict=True) if y == CUSTOMER_SERVICE]
    assert cs.count(CUSTOMER_SERVICE) >= 6


def test_customer_service_script_message() -> None:
    text = "您好，我是抖音商城客服，您买的面膜检测出质量问题，我们给您双倍赔偿，请下载会议软件开启屏幕共享，再打开支付宝备用金。"
    (r,) = check(text)
    assert r.is_scam and r.fraud_type == CUSTOMER_SERVICE
    assert {"impersonation", "pretext", "channel_switch", "screen_sharing", "borrowing"} <= {
        h.stage for h in r.stages
    }
    assert "屏幕共享" in r.advice and "http" not in r.advice


def test_held_out_template_negatives_are_not_scams() -> None:
    msgs = generate(300, seed=99, split="test")
    flagged = [m for m, r in zip(msgs, check(msgs), strict=True) if r.is_scam]
    assert len(flagged) <= 3, flagged[:5]


def test_batch_order_and_empty_text() -> None:
    texts = [
        "",
        "   ",
        "我是京东客服，您开通了白条会员，每月扣费，请加QQ并开启共享屏幕",
        "今晚一起吃饭吗",
    ]
    rs = check(texts)
    assert len(rs) == 4
    assert rs[0] == rs[1] == ScamResult(False, NORMAL, 0.0, (), rs[0].advice)
    assert rs[2].is_scam and not rs[3].is_scam
    assert check([]) == []


def test_serialisation_contract() -> None:
    d = check("请把验证码告诉我，我是淘宝客服")[0].to_dict()
    assert set(d) == {"is_scam", "fraud_type", "score", "stages", "advice"}
    assert 0.0 <= d["score"] <= 1.0  # type: ignore[operator]
    for s in d["stages"]:  # type: ignore[attr-defined]
        assert set(s) == {"stage", "start", "end", "cue"}


def test_huge_text_is_capped_not_slow() -> None:
    text = "我是淘宝客服，请共享屏幕。" + "无关内容" * 2_600_000  # ~10 MB of characters
    t = time.perf_counter()
    (r,) = check(text)
    assert time.perf_counter() - t < 5.0
    assert r.truncated and all(h.end <= MAX_CHARS for h in r.stages)


def test_binary_junk_and_non_str() -> None:
    junk = bytes(range(256)).decode("latin-1") * 10 + "\x00\ud800"
    (r,) = check(junk)
    assert r.fraud_type in FRAUD_TYPES
    with pytest.raises(TypeError):
        check([b"bytes"])  # type: ignore[list-item]


def test_bad_model_file(tmp_path: Path) -> None:
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        check("hello", model=bad)
    with pytest.raises(ModelError):
        check("hello", model=tmp_path / "missing.npz")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_check_never_crashes_and_spans_are_valid_slices(text: str) -> None:
    (r,) = check(text)
    assert 0.0 <= r.score <= 1.0
    assert r.fraud_type in FRAUD_TYPES
    assert r.is_scam == (r.fraud_type != NORMAL)
    for h in r.stages:
        assert 0 <= h.start < h.end <= len(text)
        assert text[h.start : h.end] == h.cue


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("我是淘宝客服共享屏幕备用金验证码告诉ＱＱ　 ，。加下载会议软件"),
        max_size=80,
    )
)
def test_spans_valid_on_cue_dense_text(text: str) -> None:
    for h in check(text)[0].stages:
        assert text[h.start : h.end] == h.cue


def test_short_chitchat_is_never_a_scam_by_the_classifier_alone() -> None:
    from leaktrace.scam import check

    for text in ["x", "你好", "收到", "?", "好的", "在吗"]:
        r = check(text)[0]
        assert not r.is_scam and r.fraud_type == "正常", text
    assert check("我是淘宝客服")[0].is_scam  # a stage cue still counts on its own


def _model_arrays() -> dict[str, np.ndarray]:
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _with_meta(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    """A writer of the shipped model with its meta JSON changed by ``change``."""

    def write(p: Path) -> None:
        arrays = _model_arrays()
        meta = json.loads(str(arrays["meta"]))
        new = change(meta)
        arrays["meta"] = np.array(new if isinstance(new, str) else json.dumps(new))
        np.savez_compressed(p, **arrays)  # type: ignore[arg-type]

    return write


def _with_array(name: str, value: np.ndarray) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        arrays = _model_arrays()
        arrays[name] = value
        np.savez_compressed(p, **arrays)  # type: ignore[arg-type]

    return write


def _npy(p: Path) -> None:
    with p.open("wb") as fh:
        np.save(fh, np.zeros(3))


def _without(meta: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k != key}


_BAD_MODELS: dict[str, tuple[Callable[[Path], None], str]] = {
    "zip-magic-garbage": (lambda p: p.write_bytes(b"PK\x03\x04" + b"junk" * 50), "BadZipFile"),
    "truncated": (
        lambda p: p.write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:2000]),
        "not a leaktrace scam model",
    ),
    "empty": (lambda p: p.write_bytes(b""), "not a leaktrace scam model"),
    "bare-npy": (_npy, "not an .npz archive"),
    "meta-is-a-list": (_with_meta(lambda m: [1, 2]), "not a JSON object"),
    "meta-not-json": (_with_meta(lambda m: "{nope"), "metadata is not valid JSON"),
    "meta-deep": (_with_meta(lambda m: "[" * 50_000 + "]" * 50_000), "nested too deeply"),
    "no-classes": (_with_meta(lambda m: _without(m, "classes")), "has no 'classes'"),
    "no-analyzer": (_with_meta(lambda m: _without(m, "analyzer")), "has no 'analyzer'"),
    "no-ngram": (_with_meta(lambda m: _without(m, "ngram")), "has no 'ngram'"),
    "ngram-int": (_with_meta(lambda m: {**m, "ngram": 3}), "malformed (TypeError)"),
    "ngram-dict": (_with_meta(lambda m: {**m, "ngram": {"a": 1}}), "malformed (KeyError)"),
    "ngram-short": (_with_meta(lambda m: {**m, "ngram": [1]}), "malformed (IndexError)"),
    "ngram-reversed": (_with_meta(lambda m: {**m, "ngram": [3, 1]}), "n-gram range"),
    "n_features-text": (_with_meta(lambda m: {**m, "n_features": "x"}), "(ValueError)"),
    "classes-null": (_with_meta(lambda m: {**m, "classes": None}), "(TypeError)"),
    "intercept-shape": (
        _with_array("intercept", np.zeros(3, dtype=np.float32)),
        "arrays do not match",
    ),
}


@pytest.mark.parametrize("case", list(_BAD_MODELS))
def test_malformed_model_files_are_one_model_error(tmp_path: Path, case: str) -> None:
    """``--model`` names any file: a non-zip, a truncated or empty file, meta that is not
    an object or lacks a key is a ModelError naming the file, never a traceback."""
    write, fragment = _BAD_MODELS[case]
    p = tmp_path / f"{case}.npz"
    write(p)
    with pytest.raises(ModelError) as ei:
        check("hello", model=p)
    msg = str(ei.value)
    assert msg.startswith(str(p)) and fragment in msg and "\n" not in msg, msg
