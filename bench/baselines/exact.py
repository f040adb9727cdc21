"""The "fingerprint must match exactly" detector (baseline).

Public relational-fingerprinting toolboxes attribute a leaked tuple only when it equals a
recipient's fingerprinted tuple exactly. The index holds, per recipient, a digest of every
released row (name, phone, address, order time to the second, product — the columns the
scam files keep); a leaked row votes for a recipient only if its digest is in that
recipient's set. The copies are leaktrace's own marked copies, so the comparison isolates
the detector: leaktrace reads symbols with erasures, this one needs the whole row intact.

Null: a leaked row equals an innocent recipient's copy of the same order only if every
mark symbol the row shows coincides, probability ≤ ``q`` = the product of the per-position
match probabilities of the positions readable in that row (read from the evidence alone
with leaktrace's channel readers; the largest ``q`` over the leak is used). Accuse when
P(Binomial(n, q) ≥ matches) · recipients ≤ alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from leaktrace.channels import ERASED, get_channel
from leaktrace.prf import match_probability

__all__ = ["ROW_COLS", "ExactIndex", "row_digests"]

ROW_COLS = ["name", "phone", "address", "order_time", "product"]


def row_digests(df: pl.DataFrame) -> pl.Series | None:
    """Digest of the whole row over ROW_COLS, or None when a column is missing."""
    if any(c not in df.columns for c in ROW_COLS):
        return None
    t = df.get_column("order_time")
    ts = (
        pl.col("order_time").dt.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(t.dtype, pl.Datetime)
        else pl.col("order_time").cast(pl.Utf8)
    )
    return df.select(
        pl.concat_str(
            [pl.col(c).cast(pl.Utf8) if c != "order_time" else ts for c in ROW_COLS],
            separator="\x1f",
            ignore_nulls=True,
        )
        .hash(seed=11)
        .alias("h")
    ).to_series()


def _row_q(leak: pl.DataFrame) -> float:
    """Largest per-row probability that an innocent copy shows the same mark symbols."""
    logq = np.zeros(leak.height)
    for name in ("timestamp", "address", "title"):
        ch = get_channel(name)
        if ch.role not in leak.columns:
            continue
        sym = ch.read(leak.get_column(ch.role))
        for j, k in enumerate(ch.alphabets):
            logq += np.where(sym[:, j] != ERASED, math.log(match_probability(k)), 0.0)
    return float(np.exp(logq.max())) if leak.height else 1.0


@dataclass
class ExactIndex:
    table: pl.DataFrame  # columns h (UInt64), recipient (Utf8)

    @classmethod
    def load(cls, path: str) -> ExactIndex:
        return cls(pl.read_parquet(path))

    def detect(
        self, leak: pl.DataFrame, recipients: list[str], alpha: float
    ) -> tuple[list[str], dict[str, float]]:
        h = row_digests(leak)
        if h is None or leak.height == 0:
            return [], {}
        q = _row_q(leak)
        leaked = pl.DataFrame({"h": h}).unique()
        hits = self.table.join(leaked, on="h", how="semi").group_by("recipient").len()
        n = leak.height
        m = len(recipients)
        out: dict[str, float] = {}
        accused = []
        for r, k in hits.iter_rows():
            v = float(stats.binom.logsf(int(k) - 1, n, q)) / math.log(10) if q < 1 else 0.0
            lc = min(0.0, (v if math.isfinite(v) else -400.0) + math.log10(m))
            out[str(r)] = lc
            if lc <= math.log10(alpha):
                accused.append(str(r))
        return accused, out
