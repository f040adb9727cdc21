"""``digest``: a keyed, per-recipient digest instead of the value (64 hex characters).

Why: some recipients need to *join* on a value without reading it (an analytics team
counting repeat buyers by phone). A keyed digest gives them equality and nothing else, and
because the key is derived per recipient, two recipients' digests of the same phone differ:
they cannot pool their copies on it. A leaked digest column could in principle name the
recipient whose key produced it, but the tracer does not use digest columns as evidence
(yet): a leak of digests alone is traced only through the row's other columns, its order
alias and its canaries.

Key: ``recipient_digest_key(ctx.digest_key, ctx.recipient)`` =
HMAC-SHA256(digest_key, b"leaktrace/masking/digest/v1\\0" + utf8(recipient)). The domain
label keeps these keys apart from any other use of the same master key (e.g. the ledger's
exposure index digests).

Arg: the number of hex characters to keep, 16–64 (default 64), for recipients whose
systems have short fields; 16 hex = 64 bits is still collision-free at platform scale.
The digest is over the value exactly as given (normalise upstream).
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

from leaktrace.digest import keyed_digest_hex
from leaktrace.masking.base import MaskContext, MaskingOperator

__all__ = ["DIGEST_KEY_LABEL", "DigestOperator", "recipient_digest_key"]

DIGEST_KEY_LABEL = b"leaktrace/masking/digest/v1\0"


def recipient_digest_key(digest_key: bytes, recipient: str) -> bytes:
    """Per-recipient 32-byte key for the ``digest`` operator."""
    return hmac.new(
        digest_key, DIGEST_KEY_LABEL + recipient.encode("utf-8"), hashlib.sha256
    ).digest()


class DigestOperator(MaskingOperator):
    name = "digest"
    description = (
        "HMAC-SHA256 under a per-recipient key, hex (arg: 16-64 hex chars, default 64); "
        "joinable, unreadable, differs between recipients"
    )
    accepts = ("string", "integer")

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        super().__init__(arg, ctx)
        if arg is None:
            self.length = 64
        elif arg.isdigit() and 16 <= int(arg) <= 64:
            self.length = int(arg)
        else:
            raise self._bad_arg("an integer from 16 to 64")
        self._key = recipient_digest_key(ctx.digest_key, ctx.recipient)

    def expr(self, col: pl.Expr) -> pl.Expr:
        key = self._key
        length = self.length

        def run(s: pl.Series) -> pl.Series:
            return keyed_digest_hex(s, key).str.head(length)

        return col.map_batches(run, return_dtype=pl.String, is_elementwise=True)
