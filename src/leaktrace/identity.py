"""Row identity keys: how a leaked row finds the released row it came from.

The exposure index stores, per released row, keyed digests of mark-invariant canonical
forms of the values *as released* (masked or not). The tracer computes the same digests
from a leaked file and joins. Canonical forms fold every variant a mark channel may write
(width, 号楼/栋, 室, spaces, brackets), so the join never depends on any recipient's
marks — it picks the order (the *anchor*), and only then are marks compared.

Keys (each null when one of its inputs is absent or empty):

* ``k_order``       the order number as released (real id or a recipient's alias);
* ``k_phone_name``  phone + name;
* ``k_phone_addr``  phone + address;
* ``k_name_addr``   name + address.
"""

from __future__ import annotations

import polars as pl

from leaktrace.digest import keyed_digest
from leaktrace.pii.address import canonical_address
from leaktrace.pii.name import normalise_name
from leaktrace.pii.phone import normalise_phone
from leaktrace.pii.text import canonical

__all__ = ["IDENTITY_KEYS", "canonical_columns", "identity_digests"]

IDENTITY_KEYS = ["k_order", "k_phone_name", "k_phone_addr", "k_name_addr"]
_SEP = "\x1f"

_PARTS: dict[str, tuple[str, ...]] = {
    "k_order": ("order_id",),
    "k_phone_name": ("phone", "name"),
    "k_phone_addr": ("phone", "address"),
    "k_name_addr": ("name", "address"),
}


def canonical_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical text of the identity roles present in ``df`` (absent roles → null)."""
    exprs = {
        "order_id": canonical(pl.col("order_id").cast(pl.Utf8)),
        "phone": normalise_phone(pl.col("phone").cast(pl.Utf8)),
        "name": normalise_name(pl.col("name").cast(pl.Utf8)),
        "address": canonical_address(pl.col("address").cast(pl.Utf8)),
    }
    out = []
    for role, e in exprs.items():
        if role in df.columns:
            out.append(pl.when(e.str.len_chars() > 0).then(e).otherwise(None).alias(role))
        else:
            out.append(pl.lit(None, dtype=pl.Utf8).alias(role))
    return df.select(out)


def identity_digests(df: pl.DataFrame, index_key: bytes) -> pl.DataFrame:
    """The identity-key digests (UInt64, nullable) of every row of ``df``."""
    canon = canonical_columns(df)
    joined = canon.select(
        [
            pl.concat_str([pl.col(c) for c in parts], separator=_SEP).alias(k)
            for k, parts in _PARTS.items()
        ]
    )
    return pl.DataFrame(
        {k: keyed_digest(joined.get_column(k), index_key).alias(k) for k in IDENTITY_KEYS}
    )
