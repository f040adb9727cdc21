"""Canary hits: a platform-owned contact point was called, messaged or mailed.

A hit names the canary token (hence the release and the recipient) through
``Ledger(ws).canary_tokens()`` (contact → release). Contacts of the pool that were never
issued are kept too (``status = "pool"``): they measure the background rate of random
dialling, which is exactly what the chance probability of a hit needs (see
``attribute``). A contact outside the pool is kept with ``status = "not_canary"``.
A contact that more than one release holds (old ledgers could reuse pool numbers) is kept
with ``status = "ambiguous"``: it is attributed to none of them, flagged and explained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from leaktrace.attribution.reports import (
    in_the_future,
    normalise_phone_str,
    parse_datetime,
    shown,
)
from leaktrace.attribution.store import (
    CanaryHitRecord,
    engine_for,
    hit_is_sealed,
    load_hits,
    seal_hit,
)
from leaktrace.digest import keyed_digest
from leaktrace.errors import InputError
from leaktrace.ledger import Ledger
from leaktrace.workspace import Workspace

__all__ = [
    "CUSTOMER_HIT",
    "HIT_CHANNELS",
    "POOL_STATUSES",
    "CanaryHit",
    "check_channel",
    "contact_key",
    "contact_owners",
    "customers_among",
    "hit_row",
    "pool_contains",
    "pool_size",
    "record_hit",
    "resolve_contact",
    "resolve_with",
    "stored_hit",
    "stored_hits",
]


HIT_CHANNELS = ("call", "sms", "email", "qq", "wechat")
"""How a canary contact point can be reached (``canary hit --channel``): a phone number is
called or texted (also over QQ or WeChat, which find a person by number), a mailbox
mailed. The telecom adapters' records are calls and texts
(:data:`leaktrace.telecom.records.CHANNELS`, a subset). Why a closed set: a typo ("fax",
"cal") or an empty value was stored as the hit's channel and sealed with it."""


def check_channel(channel: str) -> str:
    """``channel`` as stored (whitespace folded, lower case), or an :class:`InputError`
    naming the option and the allowed values."""
    folded = " ".join(channel.split()).lower()
    allowed = ", ".join(HIT_CHANNELS)
    if not folded:
        raise InputError(f"--channel is empty; give one of {allowed}")
    if folded not in HIT_CHANNELS:
        # quoted only when it is a short word: a phone typed here (options swapped) must
        # not come back on stderr
        given = (
            f" {folded!r}" if folded.isascii() and folded.isalpha() and len(folded) <= 12 else ""
        )
        raise InputError(f"--channel{given} is not one of {allowed}")
    return folded


@dataclass(frozen=True)
class CanaryHit:
    id: int
    at: datetime
    channel: str
    caller: str
    contact: str
    knew: bool
    status: str
    recipient: str
    release_id: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "channel": self.channel,
            "caller": self.caller,
            "contact": self.contact,
            "knew": self.knew,
            "status": self.status,
            "recipient": self.recipient,
            "release_id": self.release_id,
            "reason": self.reason,
        }


def contact_key(contact: str) -> str:
    """The form in which two records of a contact point compare equal (a phone's digits,
    an e-mail in lower case)."""
    c = contact.strip()
    if "@" in c:
        return c.lower()
    return normalise_phone_str(c) or c


def pool_size(ws: Workspace) -> int:
    """Different contact points in the canary pool (a number or mailbox listed twice
    counts once): the denominator of a canary hit's chance."""
    pool = ws.config.canary_pool
    mailboxes = {e.strip().lower() for e in pool.emails if e and e.strip()}
    return pool.phone_numbers().distinct() + len(mailboxes)


def contact_owners(
    ws: Workspace, contacts: Sequence[str] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Normalised contact → every (recipient, release_id) whose canary token holds it.

    ``contacts``: only these phone numbers (each as given and in its normalised form),
    looked up through the ledger's contact index; otherwise, or when one is a mailbox
    (stored as configured, compared in lower case), every token is read."""
    out: dict[str, list[tuple[str, str]]] = {}
    ledger = Ledger(ws)
    tokens = (
        ledger.canary_tokens()
        if contacts is None or any("@" in c for c in contacts)
        else ledger.canary_tokens_of([*contacts, *(contact_key(c) for c in contacts)])
    )
    for t in tokens:
        owners = out.setdefault(contact_key(t["contact"]), [])
        if (t["recipient"], t["release_id"]) not in owners:
            owners.append((t["recipient"], t["release_id"]))
    return out


def _ambiguous_reason(owners: list[tuple[str, str]]) -> str:
    held = ", ".join(f"{r} ({rel})" for r, rel in owners)
    return (
        f"contact held by several releases: {held}; the hit is kept but attributed to none "
        "of them (an older ledger reused this pool contact)"
    )


def resolve_contact(ws: Workspace, contact: str) -> tuple[str, str, str, str]:
    """(status, recipient, release_id, reason) of a contact point.

    A contact issued to more than one release (possible in ledgers from before canary
    contacts were unique) is ``"ambiguous"``: it names no recipient and no release.
    """
    c = contact_key(contact)
    return resolve_with(c, contact_owners(ws, [contact]).get(c, []), pool_contains(ws))


def pool_contains(ws: Workspace) -> Callable[[str], bool]:
    """Membership in the workspace's canary pool (numbers or mailboxes), built once."""
    pool = ws.config.canary_pool
    phones, emails = pool.phone_numbers(), {e.lower() for e in pool.emails}
    return lambda c: c in phones or c in emails


def resolve_with(
    c: str, owners: list[tuple[str, str]], in_pool: Callable[[str], bool]
) -> tuple[str, str, str, str]:
    if len(owners) > 1:
        return "ambiguous", "", "", _ambiguous_reason(owners)
    if owners:
        return "canary", owners[0][0], owners[0][1], ""
    if in_pool(c):
        return "pool", "", "", "a pool contact not issued to any release (background rate)"
    return "not_canary", "", "", "the contact is not in the canary pool"


POOL_STATUSES = ("canary", "pool", "ambiguous")
"""Statuses of a hit on a pool number (issued to a release, to none, or to several)."""
CUSTOMER_HIT = (
    "customer",
    "",
    "",
    "the contact is also a real customer's phone in a release: a call to it names no recipient",
)
"""What a hit on a pool number that a release carries as a real customer's phone says:
a pool holding numbers that are not the platform's own (a range typed wrong) would
otherwise let a scam call to that customer, from anyone's leak, name the recipient the
number was issued to. Attribution decides it again (``evidence._customers_phones``)."""


def customers_among(ws: Workspace, contacts: Sequence[str]) -> set[str]:
    """Those of ``contacts`` (phones) that some release's exposure index holds as a real
    (not canary) customer's phone, under that release's key version. Every contact
    written for a matching phone is returned (``+86 138…`` and ``138…`` alike).

    One Polars scan of the index files per key version, run together: it reads every
    row's ``customer`` and, only where that is a digest asked for, ``is_canary`` — the
    least an exact answer without a cache can read, so the cost grows with the ledger's
    index rows (bench/customer_hits.py)."""
    import polars as pl

    from leaktrace.errors import LedgerIntegrityError

    phones = {c: p for c in contacts if (p := normalise_phone_str(c)) is not None}
    entries = Ledger(ws).entries()
    if not phones or not entries:
        return set()
    written: dict[str, list[str]] = {}
    for c, p in phones.items():
        written.setdefault(p, []).append(c)
    versions = sorted({e.key_version for e in entries})
    asked_phones = pl.Series(list(written), dtype=pl.Utf8)
    asked: list[dict[int, list[str]]] = []  # per version: digest -> phones (one, bar a collision)
    for v in versions:
        # customer_digest's vectorised twin, as the release computed the column (one scalar
        # digest at a time is 30 µs: 30 ms for a push of 1,000 numbers)
        keyed = keyed_digest(asked_phones, ws.keys.derive("customer", v)).to_list()
        digests: dict[int, list[str]] = {}
        for d, p in zip(keyed, written, strict=True):
            digests.setdefault(d, []).append(p)
        asked.append(digests)
    scans = [
        # by column name, whatever else a file holds (as DuckDB's read_parquet did)
        pl.scan_parquet(
            [str(ws.home / e.index_file) for e in entries if e.key_version == v],
            schema={"customer": pl.UInt64, "is_canary": pl.Boolean},
            extra_columns="ignore",
            glob=False,
        ).filter(pl.col("customer").is_in(pl.Series(list(wanted), dtype=pl.UInt64).implode()))
        for v, wanted in zip(versions, asked, strict=True)
    ]
    try:
        matched = pl.collect_all(scans)
    except (OSError, pl.exceptions.PolarsError):
        raise LedgerIntegrityError(
            "an exposure index file is missing or unreadable; run 'leaktrace verify' to see which"
        ) from None
    found: set[str] = set()
    for wanted, rows in zip(asked, matched, strict=True):
        real = rows.filter(pl.col("is_canary").not_())  # a null is_canary is neither, as in SQL
        for d in real.get_column("customer").unique().to_list():
            found.update(c for p in wanted[d] for c in written[p])
    return found


def _masked_contact(contact: str) -> str:
    """186****3285 for a phone, z***@example.com for a mailbox, the ends of anything else."""
    if "@" in contact:
        local, _, domain = contact.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(contact) >= 7:
        return f"{contact[:3]}****{contact[-4:]}"
    return "*" * len(contact)


def record_hit(
    ws: Workspace,
    *,
    contact: str,
    channel: str,
    at: str | datetime,
    caller: str = "",
    knew: bool = False,
) -> CanaryHit:
    """Record one hit and say which token/release/recipient it names."""
    with Session(engine_for(ws)) as s, s.begin():
        rec = hit_row(ws, contact=contact, channel=channel, at=at, caller=caller, knew=knew)
        s.add(rec)
        s.flush()
        return stored_hit(rec)


def hit_row(
    ws: Workspace,
    *,
    contact: str,
    channel: str,
    at: str | datetime,
    caller: str = "",
    knew: bool = False,
    resolved: tuple[str, str, str, str] | None = None,
) -> CanaryHitRecord:
    """The sealed row of one hit, not yet added to a session (a caller that records
    something with it in the same transaction adds both). ``resolved``: what
    :func:`resolve_contact` says of ``contact``, when the caller already asked (a batch
    resolves against the tokens once)."""
    channel = check_channel(channel)
    when = parse_datetime(at)
    if when is None:
        raise InputError("--at must be an ISO 8601 date/time")
    if in_the_future(when):
        # a mistyped year would be evidence attribute counts, at a time nobody called
        # shown as the user reads times (UTC+8), not the UTC instant: 2027-01-01T00:00
        # came back as "2026-12-31T16:00:00+00:00", a date the user never typed
        from leaktrace.respond.times import shown_time

        raise InputError(f"--at {shown_time(when)} is in the future")
    if not contact.strip():
        raise InputError("--contact must not be empty")
    if resolved is None:
        resolved = resolve_contact(ws, contact)
        if resolved[0] in POOL_STATUSES and customers_among(ws, [contact]):
            resolved = CUSTOMER_HIT
    status, recipient, release_id, reason = resolved
    # A contact outside the pool is somebody's own number or mailbox (often a customer's):
    # it names no release, so only its masked form is kept.
    stored = contact_key(contact)[:200]
    if status == "not_canary":
        stored = _masked_contact(stored)
    caller = " ".join(caller.split())[:200]
    return CanaryHitRecord(
        at=when.isoformat(),
        channel=channel,
        caller=caller,
        seal=seal_hit(ws, when.isoformat(), channel, caller, stored, knew),
        contact=stored,
        knew=knew,
        status=status,
        recipient=recipient,
        release_id=release_id,
        reason=reason,
    )


def stored_hit(rec: CanaryHitRecord) -> CanaryHit:
    """A hit row just written, as :func:`record_hit` reports it."""
    return CanaryHit(
        rec.id,
        datetime.fromisoformat(rec.at),
        rec.channel,
        rec.caller,
        rec.contact,
        rec.knew,
        rec.status,
        rec.recipient,
        rec.release_id,
        rec.reason,
    )


def _stored_time(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def stored_hits(ws: Workspace, since: datetime | None = None) -> list[CanaryHit]:
    """Stored hits, each resolved again from its contact against the ledger's (signed)
    canary tokens: the stored status, recipient and release are not trusted.

    Why: the hit table is an operator's log, outside the signed chain. An audit set the
    stored recipient of four hits to another partner, and inserted hits on contacts that
    are no canaries at all, and ``attribute`` accused whom the rows named. A contact held
    by several releases (older ledgers) resolves as ``"ambiguous"``.
    """
    out = []
    owners, in_pool = contact_owners(ws), pool_contains(ws)
    for r in load_hits(ws):
        if hit_is_sealed(ws, r):
            at = _stored_time(r.at)
            if since is not None and at < since:
                continue
            c = contact_key(r.contact)
            status, recipient, release_id, reason = resolve_with(c, owners.get(c, []), in_pool)
            caller = r.caller
        else:
            # listed whatever ``since`` says, and in no campaign: its time and caller are
            # what nothing vouches for (an unparseable time must not stop the run either)
            try:
                at = _stored_time(r.at)
            except (TypeError, ValueError):
                at = datetime(1970, 1, 1, tzinfo=UTC)
            status, recipient, release_id, caller = "unsealed", "", "", ""
            reason = (
                "the row carries no valid seal of this workspace (recorded before hits were "
                "sealed, altered in the database, or written outside leaktrace): not counted; "
                "record the hit again"
            )
        out.append(
            CanaryHit(
                r.id,
                at,
                r.channel if status != "unsealed" else shown(r.channel, 40),
                caller,
                r.contact,
                r.knew,
                status,
                recipient,
                release_id,
                reason,
            )
        )
    return out
