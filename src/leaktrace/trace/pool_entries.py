"""The canary pool's entries as trace and attribute test hits on them: which stratum (set of
entries listing it) holds a number, how many numbers each holds, and the per-stratum
hypergeometric tail.

Why a module of its own: ``trace`` (leaked files) and ``attribute`` (calls and messages to
pool numbers) must stratify canary-number hits the same way, pool entry by pool entry,
since session 20 found that testing the whole pool at once let a file walking one entry
accuse its holders. One implementation keeps the two from drifting apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import polars as pl

from leaktrace.trace.stats import hypergeom_tail

__all__ = ["PoolStrata", "in_pool", "number_tail"]


def in_pool(entries: list[str], phones: list[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which of ``phones`` the canary pool's configured ``entries`` (numbers and ranges,
    as :class:`leaktrace.config.CanaryPool` takes them) hold, a range at a time.

    Why not ``PhoneNumbers.__contains__``: it walks every entry for every number, and a
    leaked list of phone numbers holds a million of them."""
    s = pl.Series("phone", phones, dtype=pl.Utf8)
    out = s.is_in([e.strip() for e in entries if e.strip() and "-" not in e]).to_numpy()
    ranges = [e.strip().partition("-") for e in entries if "-" in e]
    if not ranges or not len(s):
        return out
    digits = s.str.contains(r"^[0-9]+$").fill_null(False).to_numpy()
    width = s.str.len_chars().fill_null(0).to_numpy()
    value = s.cast(pl.UInt64, strict=False).fill_null(0).to_numpy()  # not digits: masked
    for lo, _, hi in ranges:
        out |= digits & (width == len(lo)) & (value >= int(lo)) & (value <= int(hi))
    return out


_DIGITS = re.compile(r"[0-9]+")


class PoolStrata:
    """The canary pool's numbers split by *which entries list them*: the strata the
    number test runs in (trace and attribute alike).

    Why not one stratum per entry: a release draws its numbers by walking the pool's
    *listed* positions, so a number two overlapping entries list is drawn twice as often
    as one listed once. Within an entry the draw was then not uniform, and a plain list of
    the doubly listed numbers (no copy, no customer data) accused the recipient at 10^-45
    (session 24's review: 16.4 % of its numbers in a block of 10 % of the pool). Numbers
    listed by the same set of entries were drawn at the same rate, whatever the pool held
    at the time of the draw as long as entries were only added (a later entry adds itself
    to the set of every number it lists, the same for all of them): conditioned on
    landing in one such set, the draw is uniform over its free numbers. A pool without
    overlaps has one stratum per entry, as before.

    ``stratum``: index into :attr:`signatures` (the entries listing it, ascending) and
    :attr:`sizes` (its distinct numbers); -1 for a number no entry lists."""

    def __init__(self, entries: list[str]) -> None:
        spans: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # width: lo, end, j
        texts: dict[str, set[int]] = defaultdict(set)  # a single that is not digits
        for j, raw in enumerate(entries):
            entry = raw.strip()
            if not entry:
                continue
            lo, sep, hi = entry.partition("-")
            if sep:  # as :func:`in_pool` reads a range
                spans[len(lo)].append((int(lo), int(hi) + 1, j))
            elif _DIGITS.fullmatch(entry):
                spans[len(entry)].append((int(entry), int(entry) + 1, j))
            else:
                texts[entry].add(j)
        size: dict[tuple[int, ...], int] = defaultdict(int)
        segments: dict[int, tuple[list[int], list[tuple[int, ...] | None]]] = {}
        for width, items in spans.items():
            events: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for lo_v, end, j in items:
                events[lo_v].append((j, 1))
                events[end].append((j, -1))
            bounds = sorted(events)
            active: dict[int, int] = defaultdict(int)
            sigs: list[tuple[int, ...] | None] = []
            for a, b in zip(bounds, [*bounds[1:], None], strict=True):
                for j, d in events[a]:
                    active[j] += d
                sig = tuple(sorted(j for j, n in active.items() if n > 0))
                if b is not None and sig:
                    size[sig] += b - a
                sigs.append(sig if sig and b is not None else None)
            segments[width] = (bounds, sigs)
        for js in texts.values():
            size[tuple(sorted(js))] += 1
        self.signatures: list[tuple[int, ...]] = sorted(size)
        self.sizes: list[int] = [size[sig] for sig in self.signatures]
        index = {sig: k for k, sig in enumerate(self.signatures)}
        # numbers of up to 19 digits, as :func:`in_pool` compares them (UInt64)
        self._segments = {
            w: (
                np.array(bounds, dtype=np.uint64),
                np.array([-1 if sig is None else index[sig] for sig in sigs], dtype=np.int64),
            )
            for w, (bounds, sigs) in segments.items()
        }
        self._texts = {t: index[tuple(sorted(js))] for t, js in texts.items()}

    def __len__(self) -> int:
        return len(self.signatures)

    def first_entry(self, stratum: int) -> int:
        """The first pool entry listing the stratum's numbers (what the evidence shows as
        its ``entry``, as before strata existed)."""
        return self.signatures[stratum][0]

    def of(self, phones: list[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The stratum of each of ``phones`` (-1: in no entry), a width at a time."""
        out = np.full(len(phones), -1, dtype=np.int64)
        if not phones:
            return out
        s = pl.Series("phone", phones, dtype=pl.Utf8)
        digits = s.str.contains(r"^[0-9]+$").fill_null(False).to_numpy()
        width = s.str.len_chars().fill_null(0).to_numpy()
        value = s.cast(pl.UInt64, strict=False).fill_null(0).to_numpy()
        for w, (bounds, ids) in self._segments.items():
            at = np.flatnonzero(digits & (width == w))
            if not len(at):
                continue
            seg = np.searchsorted(bounds, value[at], side="right") - 1
            ok = (seg >= 0) & (seg < len(ids))
            out[at[ok]] = ids[seg[ok]]
        if self._texts:
            texts = s.replace_strict(self._texts, default=-1, return_dtype=pl.Int64).to_numpy()
            out = np.where(out < 0, texts, out)
        return out


def number_tail(counts: dict[str, Any]) -> float:
    """log10 P(Hypergeometric(issued + free, issued, hits + free_hits) ≥ hits)."""
    k = int(counts["hits"])
    issued = int(counts["issued"])
    if not k:
        return 0.0
    return hypergeom_tail(
        issued + int(counts["free"]), issued, k + int(counts["free_hits"]), k
    ).log10
