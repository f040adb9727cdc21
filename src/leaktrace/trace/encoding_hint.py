"""A hint for a leaked file read in the wrong encoding named with ``--encoding``.

A named encoding is taken at its word (README, "Commands"): bytes not valid in it are an
error. But some wrong encodings decode anything (latin1 reads every byte), and some decode
a file by accident (UTF-8 Chinese is often valid GB18030, as other Chinese characters).
Every name, address and product is then mojibake, nothing matches a released order, and
the answer is "no recipient identified": what unmarked data gives. Session 15 added this
hint; it changes no figure and no verdict.

How it decides, on the file's first 256 KB (what the detector reads): leaked files are
Chinese, so their non-ASCII characters are nearly all common Chinese ones (GB2312's hanzi,
CJK punctuation, full-width forms: 99.4 % in the synthetic shop). Mojibake is not: latin1
gives Latin-1 supplement and box-drawing characters (0 %), UTF-8 read as GBK rare
characters of GBK's extension (29 %), GBK read as Big5 32 %. The hint is given when the
detector names another encoding, the file read in that one is Chinese (at least 80 %),
and read as given it is either garbled (at most 50 %) or less Chinese while no row
matched. A short GB18030 file whose bytes are valid UTF-8 (the case ``--encoding`` is
for) reads as Latin and Greek letters in UTF-8, so naming GB18030 for it gets no hint.
"""

from __future__ import annotations

import codecs
from collections import Counter
from functools import lru_cache
from pathlib import Path

from leaktrace.io.encoding import (
    SAMPLE_BYTES,
    detect_encoding,
    looks_binary,
    normalise_encoding_name,
)

__all__ = ["chinese_share", "encoding_hint"]

_PLAUSIBLE = 0.8
"""Share of common Chinese characters above which a decoding reads as Chinese text."""
_GARBLED = 0.5
"""Share at or below which a decoding of a Chinese file is mojibake."""
_MIN_CHARS = 8
"""Fewer non-ASCII characters than this (in the detected reading) say nothing."""
_UTF8 = {"utf-8", "utf-8-sig"}


@lru_cache(maxsize=65536)
def _common_chinese(c: str) -> bool:
    if "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef":  # punctuation, full width
        return True
    if "\u4e00" <= c <= "\u9fff":
        try:
            c.encode("gb2312")
        except UnicodeEncodeError:
            return False
        return True
    return False


def chinese_share(text: str) -> tuple[int, float]:
    """How many non-ASCII characters ``text`` holds, and the share of them that are
    common Chinese (GB2312 hanzi, CJK punctuation, full-width forms)."""
    counts = Counter(c for c in text if c > "\x7f")
    total = sum(counts.values())
    if not total:
        return 0, 0.0
    return total, sum(n for c, n in counts.items() if _common_chinese(c)) / total


def _decode(sample: bytes, encoding: str) -> str | None:
    """The sample as text (it may end mid-character); None if it does not decode."""
    try:
        if not codecs.lookup(encoding)._is_text_encoding:  # rot13, hex, base64: the reader
            return None  # refuses those with its own message; no hint to add
        return codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample)
    except (UnicodeError, LookupError, ValueError, TypeError):  # binascii.Error is a ValueError
        return None


def _family(encoding: str) -> str:
    return "utf-8" if encoding in _UTF8 else encoding


def encoding_hint(path: Path, given: str, *, identified: int | None) -> str | None:
    """One line saying that ``path``, read as ``given`` (the caller's ``--encoding``),
    looks like another encoding; None when it does not (or nothing can be told).

    ``identified``: rows the trace matched to released orders (when none did, a smaller
    difference is enough); None when the trace stopped before matching (an error), where
    only a garbled reading is worth a hint."""
    try:
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
    except OSError:
        return None
    if not sample or looks_binary(sample):
        return None
    detected = detect_encoding(sample)
    if detected is None:
        return None
    detected = normalise_encoding_name(detected)
    as_given = normalise_encoding_name(given)
    if _family(detected) == _family(as_given):
        return None
    text_given, text_detected = _decode(sample, as_given), _decode(sample, detected)
    if text_given is None or text_detected is None:
        return None
    n_detected, share_detected = chinese_share(text_detected)
    _, share_given = chinese_share(text_given)
    if n_detected < _MIN_CHARS or share_detected < _PLAUSIBLE:
        return None
    shares = (
        f"{share_given:.0%} of its non-ASCII characters are common Chinese read as {given}, "
        f"{share_detected:.0%} read as {detected}"
    )
    advice = f"try --encoding {detected}, or leave --encoding out (it is detected)"
    if share_given <= _GARBLED:
        return f"{path} read as {given} (--encoding) looks garbled ({shares}); {advice}"
    if identified == 0 and share_given < share_detected:
        return (
            f"no row of {path} read as {given} (--encoding) matched a released order, and "
            f"the file looks like {detected} ({shares}); {advice}"
        )
    return None
