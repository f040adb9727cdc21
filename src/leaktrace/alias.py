"""Order-number aliases: FF1 per recipient and key version.

A recipient sees ``FF1_K(order_id, tweak = recipient | key version)``: same length, all
digits, so its systems keep working, but every recipient's number for the same order is
different. One quoted alias identifies the copy; the platform maps it back with
:func:`resolve_alias` when the recipient calls its API.
"""

from __future__ import annotations

import re

import polars as pl

from leaktrace.digest import keyed_digest
from leaktrace.errors import InputError, LedgerIntegrityError
from leaktrace.identity import identity_digests
from leaktrace.ledger import Ledger
from leaktrace.pii.text import canonical_str
from leaktrace.release import alias_cipher_for, alias_tweak_for
from leaktrace.workspace import Workspace

__all__ = ["resolve_alias"]


def resolve_alias(ws: Workspace, alias: str, recipient: str) -> tuple[str, int]:
    """(order_id, key_version) for ``alias`` quoted by ``recipient``.

    Tries every key version the recipient's releases used, newest first, and accepts a
    decryption only if the resulting order id's anchor appears in one of those releases'
    index — so a mistyped alias is reported, not silently mapped to a random order.
    """
    ws.config.recipient(recipient)
    value = canonical_str(alias)
    if not value.isdigit():
        raise InputError("an order alias must be digits only")
    entries = [e for e in Ledger(ws).entries(recipient) if e.alias]
    if not entries:
        raise InputError(f"recipient {recipient!r} has no release with order aliases")
    import duckdb

    for version in sorted({e.key_version for e in entries}, reverse=True):
        cipher = alias_cipher_for(ws, version)
        try:
            order_id = cipher.decrypt(value, alias_tweak_for(recipient, version))
        except InputError:
            continue
        anchor = int(keyed_digest(pl.Series([order_id]), ws.keys.derive("anchor", version))[0])
        k_order = int(
            identity_digests(pl.DataFrame({"order_id": [value]}), ws.keys.derive("index", version))[
                "k_order"
            ][0]
        )
        files = [str(ws.home / e.index_file) for e in entries if e.key_version == version]
        con = duckdb.connect()
        try:
            rows = con.execute(
                "select count(*) from read_parquet(?) where anchor = ? and k_order = ?",
                [files, anchor, k_order],
            ).fetchall()
        except duckdb.Error:
            raise LedgerIntegrityError(
                f"an exposure index of {recipient!r}'s releases is missing or unreadable; "
                "run 'leaktrace verify' to see which"
            ) from None
        finally:
            con.close()
        if rows and rows[0][0]:
            return order_id, version
    raise InputError(f"{_shown_alias(alias)} is not an order alias issued to {recipient!r}")


def _shown_alias(alias: str) -> str:
    """The alias as the refusal quotes it, or "that alias": an alias has the shape of an
    order number, but a caller may paste a phone or an ID number in its place (the
    service's ``/api/v1/resolve``), which must not come back in the answer. Quoted only
    when it is ASCII digits that are neither a mobile (``1[3-9]`` and 9 digits, or that
    with 86 in front) nor an ID number (15, or 17 and a check digit, not starting 0);
    a long one is cut to one readable line."""
    if not (alias.isascii() and alias.isdigit()) or re.fullmatch(
        r"(?:86)?1[3-9][0-9]{9}|[1-9][0-9]{14}|[1-9][0-9]{16}[0-9Xx]", alias
    ):
        return "that alias"
    shown = alias if len(alias) <= 40 else alias[:20] + "…" + alias[-8:]  # one readable line
    return repr(shown)
