"""Text folding with an offset map back to the original string.

Scam messages dodge keyword filters with full-width letters (ＱＱ), inserted spaces
(备 用 金) and zero-width characters. We match on a *folded* copy (per-character NFKC,
lower-case, whitespace and invisible characters dropped) but users need spans in the text
they pasted, so :func:`fold` also returns, for every folded character, the index of the
original character it came from.

Per-character NFKC (rather than whole-string NFKC) keeps the offset map exact; the only
difference is for combining sequences, which do not occur in the cues we match.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["MAX_CHARS", "Folded", "clean_input", "fold"]

#: Longest prefix of one text that is analysed. A 10 MB paste would otherwise cost seconds
#: of regex time; real scam messages and call transcripts are far shorter. Documented in
#: docs/scam.md; results say ``truncated=True`` when the cap applied.
MAX_CHARS = 20_000

# Characters that carry no meaning for matching: zero-width space/joiners, BOM, soft hyphen.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded string plus ``origin[i]`` = index in the original of folded char ``i``."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded half-open span ``[start, end)`` back to the original text."""
        if end <= start:
            o = self.origin[start] if start < len(self.origin) else 0
            return o, o
        return self.origin[start], self.origin[end - 1] + 1


def clean_input(text: str) -> tuple[str, bool]:
    """Cap the length so a huge paste cannot make one check take seconds.

    Returns the prefix to analyse and whether it was truncated. The prefix is a prefix of
    the caller's text, so spans found in it are valid spans of the original too. Control
    characters (binary junk) are kept here and skipped by :func:`fold`.
    """
    truncated = len(text) > MAX_CHARS
    if truncated:
        text = text[:MAX_CHARS]
    return text, truncated


def fold(text: str) -> Folded:
    """Fold ``text`` for matching; see the module docstring."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace() or ch in _INVISIBLE:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cs":
            continue
        piece = ch.lower() if ch.isascii() else unicodedata.normalize("NFKC", ch).lower()
        for p in piece:
            if p.isspace():
                continue
            out.append(p)
            origin.append(i)
    return Folded("".join(out), tuple(origin))
