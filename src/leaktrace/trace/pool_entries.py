"""The canary pool's entries as trace and attribute test hits on them: which entry holds a
number, how many numbers each holds, and the per-entry hypergeometric tail.

Why a module of its own: ``trace`` (leaked files) and ``attribute`` (calls and messages to
pool numbers) must stratify canary-number hits the same way, pool entry by pool entry,
since session 20 found that testing the whole pool at once let a file walking one entry
accuse its holders. One implementation keeps the two from drifting apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from leaktrace.trace.stats import hypergeom_tail

__all__ = ["entry_of", "entry_sizes", "in_pool", "number_tail"]


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


def entry_of(entries: list[str], phones: list[str]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The index of the first of the canary pool's ``entries`` holding each of ``phones``
    (-1: none). A number two overlapping entries hold belongs to the first one listing it."""
    out = np.full(len(phones), -1, dtype=np.int64)
    for j, entry in enumerate(entries):
        if not entry.strip():
            continue
        out[(out < 0) & in_pool([entry], phones)] = j
    return out


def entry_sizes(entries: list[str]) -> list[int]:
    """Distinct numbers per pool entry, a number held by several entries counted in the
    first one listing it (as :func:`entry_of` assigns it)."""
    from leaktrace.config import PhoneNumbers

    sizes, before = [], 0
    for j in range(len(entries)):
        upto = PhoneNumbers(entries[: j + 1]).distinct()
        sizes.append(upto - before)
        before = upto
    return sizes


def number_tail(counts: dict[str, int]) -> float:
    """log10 P(Hypergeometric(issued + free, issued, hits + free_hits) ≥ hits)."""
    k = int(counts["hits"])
    issued = int(counts["issued"])
    if not k:
        return 0.0
    return hypergeom_tail(
        issued + int(counts["free"]), issued, k + int(counts["free_hits"]), k
    ).log10
