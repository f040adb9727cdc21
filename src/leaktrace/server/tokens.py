"""API tokens for ``leaktrace serve``: who may call what.

A token is 32 random bytes, shown once when it is made (``leaktrace token add``) and
stored only as its SHA-256 in ``<home>/api-tokens.json`` (mode 0600). A plain hash is
enough here, unlike for passwords: a token has 256 bits of entropy, so its hash cannot be
searched. The file is beside the config, not in the ledger: tokens are access control,
not evidence, and revoking one must not append to the signed chain.

A revoked token's name stays in the file (its name, role and when it was revoked; no
digest) and is never given again: what a holder did is recorded under the name
(``token:<name>`` opened a case, took a request), and the service decides who may act on
a record by that name, so a new token of the same name would inherit the old holder's
cases. An older file without revoked names is read as having none.

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

A token may name the **person** who holds it (``--person``, their login name): the four-eyes
rule on victims' cases (:mod:`leaktrace.respond.cases`) compares persons, so one person who
opens a case with one token and approves it with another, or at the shell as the same login
(``cli:<USER>``), is refused. A token without a person is taken to be held by the person its
name names (``token:alice`` is ``alice``).

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
from leaktrace.respond.times import shown_time

__all__ = [
    "ROLES",
    "TOKEN_FILE",
    "Principal",
    "RevokedToken",
    "Role",
    "TokenInfo",
    "add_token",
    "authenticate",
    "list_revoked",
    "list_tokens",
    "revoke_token",
]

Role = Literal["analyst", "agent", "recipient", "telecom"]
ROLES: tuple[Role, ...] = ("analyst", "agent", "recipient", "telecom")
TOKEN_FILE = "api-tokens.json"
_PREFIX = "lt_"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_NAME = 64
_NAME = re.compile(rf"(?=.*[A-Za-z0-9])[A-Za-z0-9_-]{{1,{_MAX_NAME}}}")
_PERSON = re.compile(r"[A-Za-z0-9_.@\u3400-\u4dbf\u4e00-\u9fff-]{1,64}")
"""A login name or e-mail address: what ``USER`` holds at the shell, so that the two
channels can be compared. ASCII, or Chinese characters (CJK unified ideographs), so that
one person cannot be written two ways the four-eyes rule would tell apart: full-width
``ａｌｉｃｅ``, Cyrillic ``аlice`` (session 25's review). Token names (``_NAME``) are ASCII
for the same reason: a token made without ``--person`` is held by the person its name
names."""


@dataclass(frozen=True)
class TokenInfo:
    """What is stored about a token (never the token itself)."""

    name: str
    role: Role
    recipient: str | None
    created: str
    sha256: str
    person: str | None = None


@dataclass(frozen=True)
class RevokedToken:
    """A revoked token's name, kept so that no later token takes it (see the module)."""

    name: str
    role: Role
    revoked: str


@dataclass(frozen=True)
class Principal:
    """The caller a request's token names."""

    name: str
    role: Role
    recipient: str | None
    person: str | None = None
    """Who holds the token (their login name), when the token names one."""


def _path(home: Path) -> Path:
    return home / TOKEN_FILE


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def list_tokens(home: Path) -> list[TokenInfo]:
    """Stored tokens, oldest first. A missing file is an empty list; a broken one is a
    :class:`ConfigError` naming the file (never its content)."""
    return _load(home)[0]


def list_revoked(home: Path) -> list[RevokedToken]:
    """The names of revoked tokens, in the order they were revoked (never given again)."""
    return _load(home)[1]


def _load(home: Path) -> tuple[list[TokenInfo], list[RevokedToken]]:
    """The live tokens and the revoked names; a broken file is a :class:`ConfigError`."""
    path = _path(home)
    if not path.exists():
        return [], []
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
                    person=None if t.get("person") is None else str(t["person"]),
                )
            )
        gone = []
        for r in data.get("revoked", []):
            if r["role"] not in ROLES or not isinstance(r["name"], str):
                raise ValueError("not a revoked token record")
            gone.append(
                RevokedToken(name=r["name"], role=cast(Role, r["role"]), revoked=str(r["revoked"]))
            )
        return out, gone
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RecursionError):
        raise ConfigError(f"{path}: cannot read the API token file (broken or not ours)") from None


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serialise changes to the token file (two ``token add`` at once must keep both)."""
    if not home.is_dir():
        raise ConfigError(f"no workspace at {home}")
    with workspace_lock(home):
        yield


def _save(home: Path, tokens: list[TokenInfo], revoked: list[RevokedToken]) -> None:
    body = json.dumps(
        {"tokens": [asdict(t) for t in tokens], "revoked": [asdict(r) for r in revoked]},
        ensure_ascii=False,
        indent=1,
    )
    write_bytes_atomic(_path(home), body.encode("utf-8"))  # 0600, fsynced, renamed


def add_token(
    home: Path,
    name: str,
    role: str,
    *,
    recipient: str | None = None,
    known: set[str],
    person: str | None = None,
) -> str:
    """Make a token for ``name`` and return it: the only time it is ever seen.

    ``known``: the workspace's recipient names; a ``recipient`` token must name one of them
    (a typo would make a token that can resolve nothing). An ``agent`` token may name one
    too: the firm its holder works for (a typo would hide a conflict of interest).
    ``person``: who holds it, by the login name they have at the shell (the four-eyes
    rule on cases compares persons across tokens and the command line)."""
    if not _NAME.fullmatch(name):
        raise InputError(
            f"a token name has 1–{_MAX_NAME} ASCII letters, digits, - and _ (got {name[:80]!r})"
        )
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if person is not None and not _PERSON.fullmatch(person):
        raise InputError(
            "--person is a login name: 1–64 ASCII letters, digits, '.', '@', '-' and '_', "
            "or Chinese characters "
            f"(got {person[:80]!r})"
        )
    if person is not None:
        from leaktrace.attribution.erasure import holds_personal_number

        if holds_personal_number(person):
            # it is recorded in clear with every case step, which the check refuses
            raise InputError(
                "--person looks like a phone or ID card number; give the login name "
                "without it (it is recorded in clear with each case step)"
            )
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
        tokens, revoked = _load(home)
        if any(t.name == name for t in tokens):
            raise InputError(f"a token named {name!r} exists; pick another name")
        if gone := next((r for r in revoked if r.name == name), None):
            raise InputError(
                f"the name {name!r} belonged to a token revoked on {shown_time(gone.revoked)}; "
                "pick another name (what its holder did stays recorded under it)"
            )
        tokens.append(
            TokenInfo(
                name=name,
                role=role,
                recipient=recipient,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                sha256=_digest(token),
                person=person,
            )
        )
        _save(home, tokens, revoked)
    return token


def revoke_token(home: Path, name: str) -> None:
    """Remove the token called ``name``; a server stops accepting it on its next request.
    Its name, role and the time are kept (:func:`list_revoked`), so the name is never
    given to another token."""
    with _locked(home):
        tokens, revoked = _load(home)
        gone = [t for t in tokens if t.name == name]
        if not gone:
            if any(r.name == name for r in revoked):
                raise InputError(f"the token named {name!r} is already revoked")
            raise InputError(f"no token named {name!r}")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        revoked += [RevokedToken(name=t.name, role=t.role, revoked=now) for t in gone]
        _save(home, [t for t in tokens if t.name != name], revoked)


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
    return Principal(
        name=found.name, role=found.role, recipient=found.recipient, person=found.person
    )
