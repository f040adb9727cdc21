"""The native rewrites (``_rewrite.c``) against their Polars references, value by value.

The references are the definitions: :mod:`leaktrace.pii` canonical forms and the channels'
``embed_reference``. Text is generated from an alphabet built to hit every rule (digits of
both widths, 号楼/栋/幢/座楼/单元/室, 区/县, separators, brackets, every kind of
whitespace, units, × and *, +86 prefixes, middle dots) plus arbitrary characters, so that a
rule the C code gets wrong shows up as a differing value.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace import rewrite
from leaktrace.channels import get_channel
from leaktrace.synth import generate_orders


@pytest.fixture(autouse=True)
def kernel_built() -> None:
    # gcc and the Python headers are on every machine of this project, so a missing kernel
    # is a broken build (see setup.py), not a configuration to skip silently.
    if not rewrite.NATIVE:
        pytest.fail(
            "leaktrace._rewrite was not built (the install found no C compiler?): "
            "reinstall with `pip install -e .` and read its build output",
            pytrace=False,
        )


_PIECES = [
    *"0123456789０１２３４５６７８９",
    "号楼", "栋", "幢", "座楼", "单元", "楼", "室", "号", "区", "县", "省", "市", "路",
    *"#—–―‐‑−－~～-", *"()（）[]【】〔〕〖〗{}｛｝<>《》",
    " ", "\t", "\n", "\u3000", "\u00a0", "\u2003", "\u202f", "\x85", "\u205f", "\u2028", "\u1680",
    "ml", "ML", "mAh", "Kg", "\u212ag", "GB", "g", "l", "W", "cm", "ｍｌ", "ａ", "Ｚ",
    "*", "×", " * ", "x", "+86", "0086", "+0086", "86", "13", "1", "·", "•", "・", ".", "/",
    "张", "欧阳", "é", "ß", "٣", "Ⅻ", "😀", "a", "Z",
]  # fmt: skip

text = st.lists(st.one_of(st.sampled_from(_PIECES), st.characters(codec="utf-8")), max_size=14).map(
    "".join
)
column = st.lists(st.one_of(text, st.none()), min_size=1, max_size=30)


def _same(native: pl.Series, reference: pl.Series) -> None:
    assert native.dtype == pl.String
    assert native.len() == reference.len()
    diff = ~native.eq_missing(reference)
    assert not diff.any(), list(zip(native.filter(diff), reference.filter(diff), strict=True))


CANONICAL = [
    (rewrite.canonical_text, rewrite._CANONICAL),
    (rewrite.canonical_name, rewrite._NAME),
    (rewrite.canonical_phone, rewrite._PHONE),
    (rewrite.canonical_address, rewrite._ADDRESS),
]


@pytest.mark.parametrize(("native", "reference"), CANONICAL)
@settings(max_examples=300, deadline=None)
@given(values=column)
def test_canonical_forms_match_reference(native, reference, values: list[str | None]) -> None:
    s = pl.Series("v", values, dtype=pl.String)
    _same(native(s), reference(s, None))


@pytest.mark.parametrize("name", ["address", "title"])
@settings(max_examples=300, deadline=None)
@given(values=column, seed=st.integers(0, 2**32 - 1))
def test_embeds_match_reference(name: str, values: list[str | None], seed: int) -> None:
    ch = get_channel(name)
    rng = np.random.default_rng(seed)
    sym = np.stack([rng.integers(0, a, len(values)) for a in ch.alphabets], axis=1)
    s = pl.Series("v", values, dtype=pl.String)
    _same(ch.embed(s, sym.astype(np.int16)), ch.embed_reference(s, sym.astype(np.int16)))


def test_synthetic_shop_matches_reference_and_stays_native() -> None:
    """On real-shaped data every value is decided natively (no silent slow path), and the
    embeds of already-marked values (another recipient's spellings) match too."""
    df = generate_orders(3000, 11)
    rng = np.random.default_rng(3)
    for name, role in (("address", "address"), ("title", "product")):
        ch = get_channel(name)
        values = df.get_column(role)
        for _ in range(2):
            sym = np.stack([rng.integers(0, a, values.len()) for a in ch.alphabets], axis=1)
            marked = ch.embed(values, sym)
            _same(marked, ch.embed_reference(values, sym))
            values = marked
        _same(rewrite.canonical_address(values), rewrite._ADDRESS(values, None))
    for native, reference in CANONICAL:
        for role in ("order_id", "name", "phone", "address"):
            s = df.get_column(role).cast(pl.String)
            _same(native(s), reference(s, None))


def test_rows_outside_the_native_alphabet_fall_back_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Characters whose case or digit value the C code does not know are recomputed by
    the reference, and only those rows are."""
    seen: list[int] = []
    real = rewrite._ADDRESS

    def spy(values: pl.Series, symbols: object) -> pl.Series:
        seen.append(values.len())
        return real(values, None)

    monkeypatch.setattr(rewrite, "_ADDRESS", spy)
    s = pl.Series(
        "a", ["北京市朝阳区café路３号", "杭州市西湖区文三路478号5号楼2单元301室", "x٣#4", None]
    )
    out = rewrite._run(s, "OP_ADDRESS", rewrite._ADDRESS, None)
    assert seen == [2]  # é and ٣ rows only
    assert out.to_list() == [
        "北京市朝阳区CAFÉ路3号",
        "杭州市西湖区文三路478号5栋2单元301",
        "X٣-4",  # \d is Unicode in the reference: ٣ is a digit, so # after it becomes -
        None,
    ]


def test_phone_junk_is_null_and_prefixes_go() -> None:
    s = pl.Series(
        ["+86 138-1234-5678", "８６１３８１２３４５６７８", "138****5678", "abc", "", None]
    )
    assert rewrite.canonical_phone(s).to_list() == [
        "13812345678",
        "13812345678",
        "138****5678",
        None,
        None,
        None,
    ]


def test_sliced_and_chunked_input() -> None:
    base = pl.Series("v", ["张 三", "Ｌｉ·Ｍｉｎｇ", None, "欧阳　娜娜"] * 3)
    sliced = base.slice(3, 7)
    _same(rewrite.canonical_name(sliced), rewrite._NAME(sliced, None))
    chunked = pl.concat([base.slice(0, 5), base.slice(5)], rechunk=False)
    assert chunked.n_chunks() == 2
    _same(rewrite.canonical_name(chunked), rewrite._NAME(chunked, None))
    assert rewrite.canonical_name(pl.Series("v", [], dtype=pl.String)).len() == 0


def test_without_the_extension_the_reference_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    s = pl.Series(["杭州市西湖区 文三路４７８号"])
    native = rewrite.canonical_address(s)
    monkeypatch.setattr(rewrite, "NATIVE", False)
    assert rewrite.canonical_address(s).to_list() == native.to_list() == ["杭州市西湖区文三路478号"]


def test_big_columns_are_split_across_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the per-call byte limit (int32 view offsets) a column goes in parts, with the
    embed symbols split alongside, and the result is the same."""
    df = generate_orders(400, 2)
    ch = get_channel("address")
    sym = np.random.default_rng(1).integers(0, 2, size=(400, 4))
    whole = ch.embed(df.get_column("address"), sym)
    canon = rewrite.canonical_address(df.get_column("address"))
    monkeypatch.setattr(rewrite, "_MAX_CALL_BYTES", 500)
    _same(ch.embed(df.get_column("address"), sym), whole)
    _same(rewrite.canonical_address(df.get_column("address")), canon)


def test_a_single_value_over_the_call_limit_is_an_input_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value too big to split used to split into itself until Python's recursion
    limit (a 300 MB cell in a leaked file): now one clear error naming the column."""
    from leaktrace.errors import InputError

    monkeypatch.setattr(rewrite, "_MAX_CALL_BYTES", 500)
    for values in (["张" * 300], ["北京市", "张" * 300, "上海市"]):
        with pytest.raises(InputError, match="a name value of 0 MiB; values over 0 MiB"):
            rewrite.canonical_name(pl.Series("name", values))


def test_kernel_refuses_malformed_views() -> None:
    """The kernel checks every view against its buffers before reading (no out-of-bounds
    read whatever a caller passes)."""
    import struct

    from leaktrace import _rewrite

    data = b"x" * 40
    good = struct.pack("<i4sii", 20, b"xxxx", 0, 10)
    assert bytes(_rewrite.rewrite(_rewrite.OP_CANONICAL, good, (data,), b"")[1]) == b"x" * 20
    for views, bufs, what in [
        (good[:15], (data,), "16 bytes"),
        (struct.pack("<i4sii", 20, b"xxxx", 1, 0), (data,), "outside"),
        (struct.pack("<i4sii", 20, b"xxxx", 0, 30), (data,), "outside"),
        (struct.pack("<i4sii", -1, b"xxxx", 0, 0), (data,), "negative"),
    ]:
        with pytest.raises(ValueError, match=what):
            _rewrite.rewrite(_rewrite.OP_CANONICAL, views, bufs, b"")
    with pytest.raises(ValueError, match="4 int8 symbols"):
        _rewrite.rewrite(_rewrite.OP_EMBED_TITLE, good, (data,), b"\x00")
    with pytest.raises(ValueError, match="unknown"):
        _rewrite.rewrite(99, good, (data,), b"")
    for params in (b"", b"\x03", b"\x06\x06", b"\x03\x04\x00"):
        with pytest.raises(ValueError, match="head \\+ tail"):
            _rewrite.rewrite(_rewrite.OP_MASK_PHONE, good, (data,), params)
    for params in (b"", b"\x00" * 511, b"\x00" * 515):
        with pytest.raises(ValueError, match="bitmap"):
            _rewrite.rewrite(_rewrite.OP_MASK_NAME, good, (data,), params)


def test_reused_output_memory_never_changes_live_results() -> None:
    """Long outputs (over 4 MB of room) go back to a pool when freed and later calls write
    into that memory: a result still alive must keep its text through such calls."""
    rnd = np.random.default_rng(5)
    words = ["北京市朝阳区", "建国路", "８８号楼", "3单元", "1201室", "【旗舰店】", "12ＧＢ"]

    def column(seed: int) -> pl.Series:
        r = np.random.default_rng(seed)
        return pl.Series("v", ["".join(r.choice(words, size=4)) + str(i) for i in range(120_000)])

    first, second = column(1), column(2)
    want_first = rewrite.canonical_address(first).to_list()
    keep = rewrite.canonical_address(first)
    for seed in range(3, 8):  # each frees its output; the next call may reuse it
        other = column(seed)
        sym = rnd.integers(0, 2, size=(other.len(), 4)).astype(np.int8)
        rewrite.native_embed(other, sym, "OP_EMBED_ADDRESS", lambda v, s: v)
        assert rewrite.canonical_address(second).len() == second.len()
    assert keep.to_list() == want_first


def test_title_embed_long_runs_after_a_digit_match_reference() -> None:
    """The title kernel decides rules 3 and 4 on a window of characters after each digit
    and hands rows whose letters or whitespace run past it to its code-point version: both
    sides of that limit, and chained signs, give the reference's text."""
    ch = get_channel("title")
    rng = np.random.default_rng(8)
    ws = [" ", "\t", "\u3000", "\u00a0", "\u2003", "\x85"]
    values = []
    for n_letters in range(0, 30, 3):
        for n_ws in range(0, 30, 4):
            letters = "".join(rng.choice(list("gbmlKkｍＬ\u212ax"), size=n_letters))
            space = "".join(rng.choice(ws, size=n_ws))
            values.append(f"【装】5{letters}{space}×{space}３\u212ag*2ML 12{space}*{space}x[9]")
    values += ["1*2*3", "５ｍｌ×２", "2kG×3Mah", "7 * ", "8×", "[1]【2】", "x\u212ag9\u212ag"]
    s = pl.Series("v", values, dtype=pl.String)
    for seed in range(4):
        sym = np.random.default_rng(seed).integers(0, 2, size=(s.len(), 4))
        _same(ch.embed(s, sym), ch.embed_reference(s, sym))
