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

from leaktrace import rewrite
from leaktrace.digest import keyed_digest_joined

__all__ = [
    "IDENTITY_KEYS",
    "IDENTITY_PARTS",
    "canonical_columns",
    "identity_digests",
    "identity_messages",
]

IDENTITY_KEYS = ["k_order", "k_phone_name", "k_phone_addr", "k_name_addr"]
_SEP = "\x1f"

IDENTITY_PARTS: dict[str, tuple[str, ...]] = {
    "k_order": ("order_id",),
    "k_phone_name": ("phone", "name"),
    "k_phone_addr": ("phone", "address"),
    "k_name_addr": ("name", "address"),
}


def canonical_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Canonical text of the identity roles present in ``df`` (absent roles → null).

    The forms are those of :mod:`leaktrace.pii` (``canonical``, ``normalise_phone``,
    ``normalise_name``, ``canonical_address``), computed by :mod:`leaktrace.rewrite`.
    """
    forms = {
        "order_id": rewrite.canonical_text,
        "phone": rewrite.canonical_phone,
        "name": rewrite.canonical_name,
        "address": rewrite.canonical_address,
    }
    canon = pl.DataFrame(
        [
            fn(df.get_column(role).cast(pl.Utf8)).alias(role)
            if role in df.columns
            else pl.Series(role, [None] * df.height, dtype=pl.Utf8)
            for role, fn in forms.items()
        ]
    )
    return canon.select(
        pl.when(pl.col(role).str.len_bytes() > 0).then(pl.col(role)).otherwise(None)
        for role in forms
    )


def identity_messages(df: pl.DataFrame) -> pl.DataFrame:
    """The text each identity key digests (canonical parts joined by U+001F; null if any
    part is null): the definition :func:`identity_digests` follows without building these
    columns (the tests compare the two)."""
    return canonical_columns(df).select(
        [
            pl.concat_str([pl.col(c) for c in parts], separator=_SEP).alias(k)
            for k, parts in IDENTITY_PARTS.items()
        ]
    )


def identity_digests(df: pl.DataFrame, index_key: bytes) -> pl.DataFrame:
    """The identity-key digests (UInt64, nullable) of every row of ``df``: the digests of
    :func:`identity_messages`, each pair joined inside the digest kernel instead of as a
    column first."""
    canon = canonical_columns(df)
    return pl.DataFrame(
        [
            keyed_digest_joined([canon.get_column(c) for c in parts], index_key, _SEP).alias(k)
            for k, parts in IDENTITY_PARTS.items()
        ]
    )
