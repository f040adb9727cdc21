"""Canonical serialisation, hashing and signing of ledger records.

Why canonical JSON: a third party re-verifying an evidence bundle must recompute exactly
the bytes that were hashed, in any language. Records are dicts of str/int/bool/list,
serialised with sorted keys, no whitespace, UTF-8 (``ensure_ascii=False``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "GENESIS",
    "canary_digest",
    "canary_digest_v1",
    "canonical_json",
    "record_hash",
    "sign",
    "verify_signature",
]

GENESIS = "0" * 64

HASHED_FIELDS = (
    "seq",
    "release_id",
    "created",
    "recipient",
    "policy_name",
    "policy_hash",
    "fields",
    "channels",
    "code",
    "alias",
    "key_version",
    "input_sha256",
    "output_sha256",
    "output_format",
    "rows",
    "canaries",
    "canary_digest",
    "index_file",
    "index_sha256",
    "prev_hash",
)


def canary_digest(tokens: list[dict[str, str]]) -> str:
    """The ``canary_digest`` of a release record: SHA-256 of the canonical JSON list of its
    tokens' ``[anchor, kind, contact]``, sorted.

    Why the contact too: a canary hit names the release whose token holds the number called,
    so a token whose contact was changed or swapped with another's would accuse the wrong
    recipient; with the contact in the signed record, ``verify`` catches it."""
    rows = sorted([t["anchor"], t["kind"], t["contact"]] for t in tokens)
    return hashlib.sha256(canonical_json(rows)).hexdigest()


def canary_digest_v1(tokens: list[dict[str, str]]) -> str:
    """The ``canary_digest`` of records made before session 5: the sorted anchors only
    (their contacts can be checked for uniqueness and recipient, not against the record)."""
    return hashlib.sha256(json.dumps(sorted(t["anchor"] for t in tokens)).encode()).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: body[k] for k in HASHED_FIELDS})).hexdigest()


def sign(key: Ed25519PrivateKey, digest_hex: str) -> str:
    return key.sign(bytes.fromhex(digest_hex)).hex()


def verify_signature(key: Ed25519PublicKey, digest_hex: str, signature_hex: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature_hex), bytes.fromhex(digest_hex))
    except (InvalidSignature, ValueError, TypeError):  # TypeError: not a hex string at all
        return False
    return True
