"""Agrawal–Kiernan-style LSB watermark used as a per-recipient fingerprint (baseline).

Agrawal & Kiernan (VLDB 2002): a keyed hash of each tuple's primary key selects about
1/γ of the tuples; for each selected tuple it picks one of ν numeric attributes and one of
its ξ least-significant bits and sets that bit to a keyed value. Detection recomputes the
selection, counts matching bits among the selected tuples, and accuses when the count is
improbable under Binomial(τ, 1/2). As a fingerprint (Li, Swarup & Jajodia 2005) every
recipient gets its own key, and every recipient is tested.

Here: ν = 3 attributes — amount in fen, quantity, the seconds of order_time; ξ = 1 (the
LSB); the primary key is the virtual key phone + name (see ``_hash.virtual_pk``). The
p-value is exact (scipy binomial survival) and Bonferroni-corrected over all recipients at
the same alpha as leaktrace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from ._hash import U64, key64, keyed, virtual_pk

__all__ = ["AKScheme"]

ATTRS = ("amount", "quantity", "order_time")


@dataclass
class AKScheme:
    secret: bytes
    gamma: int = 10
    xi: int = 1
    _keys: dict[str, np.uint64] = field(default_factory=dict, repr=False)

    def key(self, recipient: str) -> np.uint64:
        k = self._keys.get(recipient)
        if k is None:
            k = self._keys[recipient] = key64(self.secret, f"ak/{recipient}")
        return k

    def _plan(self, h: U64) -> tuple[npt.NDArray[np.bool_], U64, U64, U64]:
        sel = (h % np.uint64(self.gamma)) == 0
        attr = (h >> np.uint64(20)) % np.uint64(len(ATTRS))
        bit = (h >> np.uint64(40)) % np.uint64(self.xi)
        val = (h >> np.uint64(60)) & np.uint64(1)
        return sel, attr, bit, val

    def embed(self, df: pl.DataFrame, recipient: str) -> pl.DataFrame:
        """Mark ``df`` (original rows with amount, quantity, order_time) for ``recipient``."""
        pk, ok = virtual_pk(df)
        sel, attr, bit, val = self._plan(keyed(pk, self.key(recipient)))
        sel &= ok
        out = []
        for i, col in enumerate(ATTRS):
            if col not in df.columns:
                continue
            rows = sel & (attr == i)
            raw = self._ints(df.get_column(col), col)
            if raw is None:
                continue
            x, valid = raw
            mask = np.uint64(1) << bit
            xv = x.astype(np.uint64)
            marked = np.where(val == 1, xv | mask, xv & ~mask).astype(np.int64)
            new = np.where(rows & valid, marked, x)
            out.append(self._back(df.get_column(col), col, new))
        return df.with_columns(out) if out else df

    @staticmethod
    def _ints(s: pl.Series, col: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]] | None:
        if col == "order_time":
            if not isinstance(s.dtype, pl.Datetime):
                return None
            sec = s.dt.second()
            return sec.fill_null(0).to_numpy().astype(np.int64), sec.is_not_null().to_numpy()
        num = s.cast(pl.Float64, strict=False)
        scale = 100.0 if col == "amount" else 1.0
        v = (num * scale).round(0)
        return v.fill_null(0).to_numpy().astype(np.int64), v.is_not_null().to_numpy()

    @staticmethod
    def _back(s: pl.Series, col: str, new: npt.NDArray[np.int64]) -> pl.Series:
        if col == "order_time":
            df = pl.DataFrame({"t": s, "s": new})
            return df.select(
                (pl.col("t").dt.truncate("1m") + pl.duration(seconds=pl.col("s")))
                .cast(s.dtype)
                .alias(col)
            ).to_series()
        if col == "amount":
            return pl.Series(col, new / 100.0).cast(s.dtype, strict=False)
        return pl.Series(col, new).cast(s.dtype, strict=False)

    def detect(
        self, leak: pl.DataFrame, recipients: list[str], alpha: float
    ) -> tuple[list[str], dict[str, float]]:
        """(accused, corrected log10 p per recipient) for a role-named leaked frame."""
        pk, ok = virtual_pk(leak)
        obs: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]] = {}
        for i, col in enumerate(ATTRS):
            if col in leak.columns:
                raw = self._ints(leak.get_column(col), col)
                if raw is not None:
                    obs[i] = raw
        m = len(recipients)
        out: dict[str, float] = {}
        accused: list[str] = []
        if not obs or not ok.any():
            return [], dict.fromkeys(recipients, 0.0)
        for r in recipients:
            sel, attr, bit, val = self._plan(keyed(pk, self.key(r)))
            sel &= ok
            tau = 0
            hits = 0
            for i, (x, valid) in obs.items():
                rows = sel & (attr == np.uint64(i)) & valid
                if not rows.any():
                    continue
                b = (x[rows].astype(np.uint64) >> bit[rows]) & np.uint64(1)
                tau += int(rows.sum())
                hits += int((b == val[rows]).sum())
            lp = _log10_sf(tau, hits)
            lc = min(0.0, lp + math.log10(m))
            out[r] = lc
            if lc <= math.log10(alpha):
                accused.append(r)
        return accused, out


def _log10_sf(n: int, k: int) -> float:
    if k <= 0 or n <= 0:
        return 0.0
    v = float(stats.binom.logsf(k - 1, n, 0.5))
    return v / math.log(10) if math.isfinite(v) else -math.inf
