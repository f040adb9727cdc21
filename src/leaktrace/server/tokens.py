"""API tokens for ``leaktrace serve``: who may call what.

A token is 32 random bytes, shown once when it is made (``leaktrace token add``) and
stored only as its SHA-256 in ``<home>/api-tokens.json`` (mode 0600). A plain hash is
enough here, unlike for passwords: a token has 256 bits of entropy, so its hash cannot be
searched. The file is beside the config, not in the ledger: tokens are access control,
not evidence, and revoking one must not append to the signed chain.

Roles (one per token):

- ``analyst``: the platform's security/risk team: releases, ledger checks, traces,
  alias resolution for any recipient, victim reports.
- ``agent``: customer-service staff: record victim reports, decide victims' cases, take
  victims' erasure requests. May be bound to the recipient its holder works for (an
  outsourced customer-service firm is itself a recipient of the data): the erasure
  requests it takes then record that firm, and the analyst deciding one is warned when the
  evidence names it (:mod:`leaktrace.attribution.erasure_impact`). The binding grants
  nothing.
- ``recipient``: a partner's system, bound to one recipient: resolve *its own* order
  aliases back to order numbers (DESIGN §3, "the platform resolves aliases back when a
  recipient calls its API") and nothing else.

The scam check needs no token: shoppers use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

from leaktrace.errors import ConfigError, InputError
from leaktrace.io.writers import write_bytes_atomic
from leaktrace.lockfile import workspace_lock

__all__ = [
    "ROLES",
    "TOKEN_FILE",
    "Principal",
    "Role",
    "TokenInfo",
    "add_token",
    "authenticate",
    "list_tokens",
    "revoke_token",
]

Role = Literal["analyst", "agent", "recipient", "telecom"]
ROLES: tuple[Role, ...] = ("analyst", "agent", "recipient", "telecom")
TOKEN_FILE = "api-tokens.json"
_PREFIX = "lt_"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_NAME = 64


@dataclass(frozen=True)
class TokenInfo:
    """What is stored about a token (never the token itself)."""

    name: str
    role: Role
    recipient: str | None
    created: str
    sha256: str


@dataclass(frozen=True)
class Principal:
    """The caller a request's token names."""

    name: str
    role: Role
    recipient: str | None


def _path(home: Path) -> Path:
    return home / TOKEN_FILE


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def list_tokens(home: Path) -> list[TokenInfo]:
    """Stored tokens, oldest first. A missing file is an empty list; a broken one is a
    :class:`ConfigError` naming the file (never its content)."""
    path = _path(home)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for t in data["tokens"]:
            if t["role"] not in ROLES or not _HEX64.fullmatch(str(t["sha256"])):
                raise ValueError("not a token record")
            out.append(
                TokenInfo(
                    name=str(t["name"]),
                    role=cast(Role, t["role"]),
                    recipient=None if t.get("recipient") is None else str(t["recipient"]),
                    created=str(t["created"]),
                    sha256=str(t["sha256"]),
                )
            )
        return out
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
        raise ConfigError(f"{path}: cannot read the API token file (broken or not ours)") from None


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serialise changes to the token file (two ``token add`` at once must keep both)."""
    if not home.is_dir():
        raise ConfigError(f"no workspace at {home}")
    with workspace_lock(home):
        yield


def _save(home: Path, tokens: list[TokenInfo]) -> None:
    body = json.dumps({"tokens": [asdict(t) for t in tokens]}, ensure_ascii=False, indent=1)
    write_bytes_atomic(_path(home), body.encode("utf-8"))  # 0600, fsynced, renamed


def add_token(
    home: Path, name: str, role: str, *, recipient: str | None = None, known: set[str]
) -> str:
    """Make a token for ``name`` and return it: the only time it is ever seen.

    ``known``: the workspace's recipient names; a ``recipient`` token must name one of them
    (a typo would make a token that can resolve nothing). An ``agent`` token may name one
    too: the firm its holder works for (a typo would hide a conflict of interest)."""
    if not name or len(name) > _MAX_NAME or not name.replace("-", "").replace("_", "").isalnum():
        raise InputError(
            f"a token name has 1–{_MAX_NAME} letters, digits, - and _ (got {name[:80]!r})"
        )
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "recipient" and recipient is None:
        raise InputError("a recipient token needs --recipient NAME (whose aliases it resolves)")
    if recipient is not None:
        if role not in ("recipient", "agent"):
            raise InputError(
                "--recipient is only for a token of role 'recipient' (whose aliases it "
                "resolves) or 'agent' (the firm its holder works for)"
            )
        if recipient not in known:
            raise InputError(f"unknown recipient {recipient!r}")
    token = _PREFIX + secrets.token_urlsafe(32)
    with _locked(home):
        tokens = list_tokens(home)
        if any(t.name == name for t in tokens):
            raise InputError(f"a token named {name!r} exists; revoke it first")
        tokens.append(
            TokenInfo(
                name=name,
                role=role,
                recipient=recipient,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                sha256=_digest(token),
            )
        )
        _save(home, tokens)
    return token


def revoke_token(home: Path, name: str) -> None:
    """Remove the token called ``name``; a server stops accepting it on its next request."""
    with _locked(home):
        tokens = list_tokens(home)
        kept = [t for t in tokens if t.name != name]
        if len(kept) == len(tokens):
            raise InputError(f"no token named {name!r}")
        _save(home, kept)


def authenticate(home: Path, token: str) -> Principal | None:
    """The principal ``token`` belongs to, or None. Read from the file on every call, so a
    revoked token stops working at once without restarting the server. Every stored digest
    is compared in constant time, so timing tells nothing about which one came close."""
    if not token.startswith(_PREFIX) or len(token) > 200:
        return None
    wanted = _digest(token)
    found: TokenInfo | None = None
    for t in list_tokens(home):
        if hmac.compare_digest(t.sha256.encode(), wanted.encode()):
            found = t
    if found is None:
        return None
    return Principal(name=found.name, role=found.role, recipient=found.recipient)
