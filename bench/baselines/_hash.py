"""Vectorised 64-bit keyed mixing for the baselines (benchmark only, not cryptographic).

The baselines need a keyed hash of millions of (key, row) pairs per trace; a SplitMix64
finaliser over ``row_digest XOR key`` is uniform enough for selection and mark bits, and
the keys are secret per recipient, so an innocent recipient's bits are independent of
another recipient's copy — which is all the binomial null of the detector needs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace.pii.name import normalise_name
from leaktrace.pii.phone import normalise_phone

U64 = npt.NDArray[np.uint64]

_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)


def mix64(x: U64) -> U64:
    """SplitMix64 finaliser (a bijection of uint64, good avalanche)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
        out: U64 = z ^ (z >> np.uint64(31))
    return out


def key64(secret: bytes, label: str) -> np.uint64:
    d = hashlib.blake2b(label.encode(), key=secret[:64], digest_size=8).digest()
    return np.uint64(int.from_bytes(d, "big"))


def keyed(digests: U64, key: np.uint64) -> U64:
    return mix64(mix64(digests ^ key))


def virtual_pk(df: pl.DataFrame) -> tuple[U64, npt.NDArray[np.bool_]]:
    """Digest of the virtual primary key (normalised phone + name) and where it exists.

    The leaked files of the scam scenario do not keep the order number, so the baseline
    gets the same row identity leaktrace uses (phone and name), not a primary key it
    could never see.
    """
    if "phone" not in df.columns or "name" not in df.columns:
        n = df.height
        return np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=bool)
    pk = df.select(
        pl.concat_str(
            [
                normalise_phone(pl.col("phone").cast(pl.Utf8)),
                normalise_name(pl.col("name").cast(pl.Utf8)),
            ],
            separator="|",
        ).alias("pk")
    ).to_series()
    ok = pk.is_not_null().to_numpy() & (pk.fill_null("").str.len_chars() > 1).to_numpy()
    h: Any = pk.fill_null("").hash(seed=7).to_numpy().astype(np.uint64)
    return h, ok
