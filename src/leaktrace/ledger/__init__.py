"""The release ledger: append-only, hash-chained, Ed25519-signed (SQLAlchemy)."""

from __future__ import annotations

from leaktrace.ledger.ledger import Ledger, ReleaseEntry, VerifyResult

__all__ = ["Ledger", "ReleaseEntry", "VerifyResult"]
