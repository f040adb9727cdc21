"""Erasure requests: customer service takes a victim's request, an analyst decides it.

Why a queue instead of letting customer service erase directly (as the service did until
session 16):

* **The answer must not tell the agent whether the person reported a scam.** An erasure
  that answers with the reports it found (or would find) lets whoever holds an agent token
  ask, phone by phone, who reported — and an outsourced customer-service firm is itself a
  recipient of the platform's data, so the victims who reported are the evidence against
  it. :func:`request_erasure` answers the same way whatever is stored: a request id.
* **Evidence is not removed by the party it may accuse.** With the victims' phones (which
  it holds) such a firm could erase a wave of reports naming it. A request changes nothing
  until an analyst of the platform erases (``leaktrace report erase --request N --yes``,
  ``POST /api/v1/erasure-requests/{id}``) or declines it with a reason (an Art. 47
  exception: a retention period set by law, a police case that needs the report).

What a request keeps: when, who took it (and, for an agent token bound to a recipient, the
firm that agent works for: ``taker_recipient``), the reason (a ticket number; a phone or ID number
in it is refused, as for an erasure) and the phone's keyed digests under every key version
(what sealed report rows list; never the number). It covers the reports received by the
time it was taken, not those made later (the analyst's count would not show them). The digests are cleared when the request
is decided, so a decided request no longer leads to the person. Erasing runs the erasure of
:mod:`leaktrace.attribution.erasure` and records the decision in the same transaction.

Before deciding, the analyst sees what erasing would do to the evidence — which partners
the attribution names now and after, with their bounds — and whether the agent who took
the request works for one of them (:mod:`leaktrace.attribution.erasure_impact`; the dry
run ``leaktrace report erase --request N``). Listing the requests does not run the
attribution: it stays cheap.

Sealed and checkpointed, as the victims' reports are (the table is outside the signed
chain, and whoever administers the database may hold no workspace key): a request lost,
a declined request's reason rewritten, or the taker's firm (what the conflict-of-interest
warning rests on) changed must show.

* **The taking seal** (``seal``; an HMAC under the workspace subkey
  ``erasure-request-seal`` of the key version it names) covers what is fixed when the
  request is taken: its id, time, taker, taker's firm, reason, the last report it covers,
  and the phone through ``phone_commitment`` — a SHA-256 of a random 32-byte
  ``phone_salt`` and the digest list as taken. Why not the digests themselves: they are
  cleared when the request is decided, and the seal must still hold then. Why salted:
  anything derived from the phone alone and kept after the decision would lead back to
  it (whoever holds the keys can digest every mobile number and compare); the salt is
  cleared with the digests, and the commitment alone then leads nowhere. While the
  request is pending, the stored digests must match the commitment, so they cannot be
  pointed at another victim's reports.
* **The decision seal** (``decision_seal``, subkey ``erasure-decision-seal``) covers the
  id, the taking seal and the decision: status, time, analyst, note. A decline's reason
  rewritten, an erasure passed off as a decline, or a decided request put back to pending
  (its decision cleared: its digests are gone, so its phone no longer matches) fails.
* **Checkpoints** pin requests by id and taking seal (log ``erasure_requests``) and, once
  decided, by id and decision seal (``erasure_decisions``): neither changes after it is
  written, so deciding a pinned request is no alarm, while a pinned request deleted, or a
  pinned decision undone (even from a copy of the row as it was pending), is named by
  ``verify`` (:mod:`leaktrace.ledger.checkpoint`).

``leaktrace verify`` (and the service's) names a request whose seals fail, one line
(:func:`request_seal_problems`); it does not stop ``attribute``, ``trace`` or
``checkpoint``: a tampered queue entry is not evidence. The analysts' list marks it
(``sealed``, ``seal_problem``), and no decision, dry run or impact is made of it: a forged
request must not erase anyone's reports. Requests taken before requests were sealed have
no seal: listed as unsealed, never erased (nothing vouches for the phone they name) but
declinable — take the person's request again. A request without a seal whose id follows
a sealed one's had its seal removed (ids only grow): it fails.

Not covered, as for every log: a request deleted before the next checkpoint pins it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from leaktrace.attribution.erasure import ERASED as ERASED_REPORT
from leaktrace.attribution.erasure import (
    ErasureResult,
    clean_actor,
    clean_reason,
    copies_of,
    dedupe_index,
    erase_in,
    erasure_states,
    phone_digests,
    phone_index,
    reports_of,
    stored_for_erasure,
)
from leaktrace.attribution.reports import normalise_phone_str
from leaktrace.attribution.store import (
    ErasureRequestRecord,
    ReportErasureRecord,
    ReportRecord,
    engine_for,
    seal_holds,
)
from leaktrace.errors import InputError, NotFoundError
from leaktrace.ledger import Ledger, VerifyResult
from leaktrace.lockfile import workspace_lock
from leaktrace.respond.times import shown_time
from leaktrace.workspace import Workspace

__all__ = [
    "DECLINED",
    "ERASED",
    "MAX_PENDING_PER_TAKER",
    "PENDING",
    "ErasureRequest",
    "decide_erasure_request",
    "erasure_requests",
    "pending_request",
    "pending_requests",
    "request_erasure",
    "request_seal_problems",
    "verify_requests",
]

MAX_PENDING_PER_TAKER = 200
"""Pending requests one taker (a token, a system user) may have: a person asks once, and
an agent token must not bury the analysts' list (or slow the dashboard) with requests."""

_TAKE_LOCK = (
    int.from_bytes(hashlib.sha256(b"leaktrace erasure requests taken").digest()[:8], "big") - 2**63
)
"""The PostgreSQL advisory lock a request is taken under (a signed 64-bit key): the cap on a
taker's pending requests is counted and kept under it."""

PENDING = "pending"
ERASED = "erased"
DECLINED = "declined"


@dataclass(frozen=True)
class ErasureRequest:
    """One request as an analyst sees it. ``matches``: for a pending request, how many
    stored reports it would erase now (``None`` once decided: the phone is forgotten; and
    for a request whose seal fails). ``taker_recipient``: the recipient the agent who took
    it works for (``None``: the platform's own staff, or a request taken before takers
    were bound to firms). ``sealed``: its seals hold; otherwise ``seal_problem`` says why:
    ``seal_fails`` (changed or forged in the database: never acted on), or it was taken
    before requests were sealed (never erased; it may be declined)."""

    id: int
    received_at: str
    actor: str
    reason: str
    status: str
    decided_at: str | None
    decided_by: str
    note: str
    matches: int | None = None
    taker_recipient: str | None = None
    sealed: bool = False
    seal_fails: bool = False
    seal_problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_TAKEN_PURPOSE = "erasure-request-seal"
_DECIDED_PURPOSE = "erasure-decision-seal"
_SALT = re.compile(r"[0-9a-f]{64}")

_SEALED = "sealed"
_UNSEALED = "unsealed"
_FAILS = "fails"
_UNSEALED_WORDS = (
    "no seal: taken before erasure requests were sealed (or written outside leaktrace); "
    "nothing vouches for it"
)


def _encoded(values: list[object]) -> bytes:
    """JSON keeps each value's type: one the database returns in another type than
    leaktrace wrote fails the seal (TypeError/ValueError for one JSON cannot hold)."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _commitment(salt: object, digests: object) -> str:
    """What the taking seal covers of the phone: SHA-256 of the salt and the digest list
    as stored. Raises ValueError for a salt or list leaktrace never writes."""
    if not isinstance(salt, str) or not _SALT.fullmatch(salt) or not isinstance(digests, str):
        raise ValueError("not a phone salt and digest list as leaktrace writes them")
    return hashlib.sha256(
        b"erasure-request-phone|" + bytes.fromhex(salt) + digests.encode()
    ).hexdigest()


def _taken_facts(rec: ErasureRequestRecord) -> bytes:
    return _encoded(
        [
            "erasure_requests",
            rec.id,
            rec.received_at,
            rec.actor,
            rec.taker_recipient,
            rec.reason,
            rec.last_report_id,
            rec.phone_commitment,
        ]
    )


def _decision_facts(rec: ErasureRequestRecord) -> bytes:
    return _encoded(
        [
            "erasure_decisions",
            rec.id,
            rec.seal,
            rec.status,
            rec.decided_at,
            rec.decided_by,
            rec.note,
        ]
    )


def _seal(ws: Workspace, purpose: str, facts: bytes) -> str:
    v = ws.keys.current_version
    return f"v{v}:{hmac.new(ws.keys.derive(purpose, v), facts, 'sha256').hexdigest()}"


def _present(value: object) -> bool:
    return value is not None and value != ""


def _taken_holds(ws: Workspace, rec: ErasureRequestRecord) -> bool:
    return seal_holds(ws, rec.seal, _TAKEN_PURPOSE, lambda: _taken_facts(rec))


def _first_sealed(ws: Workspace, recs: Iterable[ErasureRequestRecord]) -> int | None:
    """The lowest id among ``recs`` (in id order) whose taking seal holds: every request
    taken since is sealed, so one without a seal after it had its seal removed."""
    return next((int(r.id) for r in recs if _present(r.seal) and _taken_holds(ws, r)), None)


def _first_sealed_in(s: Session, ws: Workspace) -> int | None:
    """:func:`_first_sealed` over the stored requests (the first one holds but for
    tampering: one HMAC)."""
    query = (
        select(ErasureRequestRecord)
        .where(ErasureRequestRecord.seal.is_not(None), ErasureRequestRecord.seal != "")
        .order_by(ErasureRequestRecord.id)
    )
    return _first_sealed(ws, s.scalars(query))


def _seal_state(
    ws: Workspace, rec: ErasureRequestRecord, first_sealed: int | None
) -> tuple[str, str]:
    """``_SEALED``, ``_UNSEALED`` (taken before requests were sealed) or ``_FAILS``, and the
    words for the last two: one line naming the request, never a seal, key or digest."""
    fails = f"erasure request {rec.id} fails its seal"
    pending = rec.status == PENDING
    if _present(rec.seal):
        if not _taken_holds(ws, rec):
            return _FAILS, (
                f"{fails}: what it was taken with (time, taker, firm, ticket, reports covered, "
                "phone) was changed in the database, or it was written outside leaktrace"
            )
        if pending:
            try:
                phones_hold = _commitment(rec.phone_salt, rec.phone_digests) == (
                    rec.phone_commitment
                )
            except ValueError:
                phones_hold = False
            if not phones_hold:
                return _FAILS, (
                    f"{fails}: the phone it names is not the one it was taken for (changed "
                    "in the database, or a decided request put back to pending)"
                )
        state = _SEALED
    elif first_sealed is not None and rec.id > first_sealed:
        return _FAILS, (
            f"{fails}: it has none, though a request taken before it is sealed (its seal "
            "was removed in the database)"
        )
    elif rec.id < 1:  # no request was ever given such an id, before seals or since
        return _FAILS, f"{fails}: it has none, and an id leaktrace never gives (made up)"
    else:
        state = _UNSEALED
    if pending:
        if _present(rec.decision_seal) or rec.decided_at is not None or rec.decided_by or rec.note:
            return _FAILS, (
                f"{fails}: it is pending but carries a decision (a decided request put back "
                "to pending in the database, or a decision written into it)"
            )
    elif state == _SEALED or _present(rec.decision_seal):
        decision_holds = rec.status in (ERASED, DECLINED) and seal_holds(
            ws, rec.decision_seal, _DECIDED_PURPOSE, lambda: _decision_facts(rec)
        )
        if not decision_holds:
            return _FAILS, (
                f"{fails}: its decision (status, time, analyst, note) was changed in the "
                "database, or it was written outside leaktrace"
            )
    return state, "" if state == _SEALED else _UNSEALED_WORDS


def _view(
    rec: ErasureRequestRecord, matches: int | None = None, state: tuple[str, str] = ("", "")
) -> ErasureRequest:
    return ErasureRequest(
        id=rec.id,
        received_at=rec.received_at,
        actor=rec.actor,
        reason=rec.reason,
        status=rec.status,
        decided_at=rec.decided_at,
        decided_by=rec.decided_by or "",
        note=rec.note or "",
        matches=matches,
        taker_recipient=rec.taker_recipient,
        sealed=state[0] == _SEALED,
        seal_fails=state[0] == _FAILS,
        seal_problem=state[1],
    )


def _wanted(rec: ErasureRequestRecord) -> set[str]:
    try:
        listed = json.loads(rec.phone_digests)
    except ValueError:
        return set()
    return {d for d in listed if isinstance(d, str)} if isinstance(listed, list) else set()


def request_erasure(
    ws: Workspace,
    *,
    phone: str,
    reason: str | None,
    actor: str,
    taker_recipient: str | None = None,
) -> int:
    """Record a victim's request to erase every report of ``phone``; returns its id.

    Nothing is erased and nothing is looked up: the caller learns only that the request is
    queued, whether or not the phone ever reported (see the module docstring).
    ``taker_recipient``: the recipient the taker works for (an agent token bound to an
    outsourced customer-service firm), kept so that the analyst is told of a conflict of
    interest; ``None`` for the platform's own staff and system users."""
    wanted_phone = normalise_phone_str(phone)
    if wanted_phone is None:
        raise InputError("phone: not a mainland mobile number (11 digits starting with 1)")
    taker = clean_actor(actor)
    firm = clean_actor(taker_recipient) if taker_recipient else ""
    digests = json.dumps(sorted(phone_digests(ws, wanted_phone)))
    salt = secrets.token_hex(32)
    rec = ErasureRequestRecord(
        received_at=datetime.now(UTC).isoformat(timespec="seconds"),
        actor=taker,
        taker_recipient=firm or None,
        reason=clean_reason(reason),
        phone_digests=digests,
        phone_salt=salt,
        phone_commitment=_commitment(salt, digests),
        status=PENDING,
        decided_by="",
        note="",
    )
    # The count and the insert are one step for every taker at once: the workspace's file
    # lock on one machine, a transaction advisory lock for servers on several machines
    # sharing a PostgreSQL ledger (two requests arriving together both counted one short
    # of the cap and both went in). READ COMMITTED first, whatever the database's default:
    # under REPEATABLE READ or SERIALIZABLE the transaction's snapshot is taken when the
    # lock's statement starts, before it waits, and the count would not see the request
    # the lock's last holder committed (review of session 18).
    with workspace_lock(ws.home), Session(engine_for(ws)) as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sql_text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
            s.execute(sql_text("SELECT pg_advisory_xact_lock(:k)"), {"k": _TAKE_LOCK})
        pending = s.scalar(
            select(func.count())
            .select_from(ErasureRequestRecord)
            .where(ErasureRequestRecord.actor == taker, ErasureRequestRecord.status == PENDING)
        )
        if (pending or 0) >= MAX_PENDING_PER_TAKER:
            raise InputError(
                f"{MAX_PENDING_PER_TAKER} erasure requests taken by this token are still "
                "pending; an analyst must decide them first (`leaktrace report requests`)"
            )
        rec.last_report_id = int(s.scalar(select(func.max(ReportRecord.id))) or 0)
        s.add(rec)
        s.flush()  # the id, which the seal covers; sealed in the same transaction
        rec.seal = _seal(ws, _TAKEN_PURPOSE, _taken_facts(rec))
        return int(rec.id)


def erasure_requests(
    ws: Workspace, *, pending_only: bool = True, counts: bool = True
) -> list[ErasureRequest]:
    """The pending requests (all with ``pending_only`` false), oldest first, with how many
    reports each pending one would erase now (not with ``counts`` false: for a caller
    that only selects requests, since counting decrypts every stored report), and whether
    its seals hold.

    The reports are read and their seals checked once for all requests (an agent token
    may queue many), and a request whose reports cannot be told (an erasure row changed in
    the database) still lists, with its count left out: deciding it names the problem. A
    request whose seal fails lists too, marked, with no count (what it names is not its
    own), so that the analyst sees it rather than trusts it."""
    with Session(engine_for(ws)) as s:
        query = select(ErasureRequestRecord).order_by(ErasureRequestRecord.id)
        if pending_only:
            query = query.where(ErasureRequestRecord.status == PENDING)
        requests = list(s.scalars(query))
        first = _first_sealed_in(s, ws) if requests else None
        sealing = {r.id: _seal_state(ws, r, first) for r in requests}
        if not counts or not any(
            r.status == PENDING and sealing[r.id][0] != _FAILS for r in requests
        ):
            return [_view(r, None, sealing[r.id]) for r in requests]
        recs = {r.id: r for r in s.scalars(select(ReportRecord))}
        ers = {e.report_id: e for e in s.scalars(select(ReportErasureRecord))}
    index = phone_index(ws, recs.values())
    by_dedupe = dedupe_index(recs)
    out = []
    for rec in requests:
        if rec.status != PENDING or sealing[rec.id][0] == _FAILS:
            out.append(_view(rec, None, sealing[rec.id]))
            continue
        ids = [i for i in reports_of(index, _wanted(rec)) if i <= rec.last_report_id]
        ids += sorted(copies_of(ws, recs, set(ids), by_dedupe))  # as deciding finds them
        states = erasure_states(ws, (recs[i] for i in ids), {i: ers[i] for i in ids if i in ers})
        broken = any(i in ers and i not in states for i in ids)
        count = None if broken else sum(states.get(i) != ERASED_REPORT for i in ids)
        out.append(_view(rec, count, sealing[rec.id]))
    return out


def request_seal_problems(ws: Workspace) -> list[str]:
    """One line for each erasure request whose seals fail, in id order: what ``leaktrace
    verify`` names. Never a phone, digest, seal or key.

    Reads only: a table without the seal columns (a database from before requests were
    sealed, until a command adds them) holds no sealed request, hence no problem; nor does
    a workspace without the table."""
    engine = Ledger(ws).engine
    try:
        insp = inspect(engine)
        if ErasureRequestRecord.__tablename__ not in insp.get_table_names():
            return []
        have = {c["name"] for c in insp.get_columns(ErasureRequestRecord.__tablename__)}
        if not set(ErasureRequestRecord.__table__.columns.keys()) <= have:
            return []
        with Session(engine) as s:
            recs = list(s.scalars(select(ErasureRequestRecord).order_by(ErasureRequestRecord.id)))
    except SQLAlchemyError as exc:
        return [f"erasure requests are unreadable ({type(exc).__name__})"]
    first = _first_sealed(ws, recs)
    states = (_seal_state(ws, rec, first) for rec in recs)
    return [why for state, why in states if state == _FAILS]


def verify_requests(ws: Workspace, res: VerifyResult) -> VerifyResult:
    """``res`` (the ledger's :meth:`~leaktrace.ledger.Ledger.verify`) failed on the first
    erasure request whose seals fail, when it verified: what ``leaktrace verify`` and the
    service's verify answer. Not part of ``Ledger.verify`` itself, which ``attribute``,
    ``trace`` and ``checkpoint`` require: a tampered queue entry is no evidence, and must
    not stop them."""
    if not res.ok:
        return res
    problems = request_seal_problems(ws)
    if not problems:
        return res
    return dataclasses.replace(res, ok=False, problem=problems[0], problems=problems)


def _pending(
    s: Session, ws: Workspace, request_id: int, *, erase: bool, lock: bool = False
) -> tuple[ErasureRequestRecord, tuple[str, str]]:
    """The pending request ``request_id`` and its seal state: :class:`NotFoundError` when
    there is none, :class:`InputError` when its seal fails (a forged or altered request
    must not erase reports, nor be closed as if it were sound), when it was decided (its
    phone is forgotten), or, for erasing, when it has no seal (taken before requests were
    sealed: nothing vouches for the phone it names; declining it is allowed).

    ``lock``: the row is read FOR UPDATE (PostgreSQL), so that a decision made at once on
    another machine, which the workspace's file lock does not reach, waits for this one's
    and then finds it decided. An id no SQL integer holds names no request (SQLite cannot
    even bind it)."""
    in_range = abs(request_id) < 2**63
    rec = s.get(ErasureRequestRecord, request_id, with_for_update=lock) if in_range else None
    if rec is None:
        # the id is said only when it can be a request's (up to 9 digits; the ids count
        # from 1): a mobile or ID number pasted as the id must not come back in the answer
        named = f"id {request_id}" if abs(request_id) < 10**9 else "that id"
        raise NotFoundError(f"no erasure request has {named} (`leaktrace report requests`)")
    state = _seal_state(ws, rec, None if _present(rec.seal) else _first_sealed_in(s, ws))
    if state[0] == _FAILS:
        raise InputError(f"{state[1]}; it is not acted on (`leaktrace verify` names it)")
    if rec.status != PENDING:
        when = shown_time(rec.decided_at) if rec.decided_at else "?"
        raise InputError(
            f"erasure request {request_id} was already decided ({rec.status} {when} by "
            f"{rec.decided_by})"
        )
    if erase and state[0] == _UNSEALED:
        raise InputError(
            f"erasure request {request_id} has no seal (taken before erasure requests were "
            "sealed, or written outside leaktrace): nothing vouches for the phone it names, "
            "so it is not erased; take the person's request again, and decline this one"
        )
    return rec, state


def pending_request(ws: Workspace, request_id: int) -> tuple[ErasureRequest, list[int]]:
    """A pending request and the ids of the stored reports erasing it would erase now:
    what :func:`decide_erasure_request` without ``apply`` lists, found the same way (the
    erasure's dry run). Raises as deciding does for an unknown or decided request."""
    return pending_requests(ws, [request_id])[0]


def pending_requests(
    ws: Workspace, request_ids: Sequence[int]
) -> list[tuple[ErasureRequest, list[int]]]:
    """:func:`pending_request` for each of ``request_ids``, in their order, reading the
    stored reports once (weighing 200 requests together read and decrypted them 200
    times). Raises as :func:`pending_request` does for the first one it refuses."""
    out = []
    with Session(engine_for(ws)) as s:
        found = [_pending(s, ws, request_id, erase=True) for request_id in request_ids]
        stored = stored_for_erasure(s, ws)  # once every request is known to be sound
        for rec, state in found:
            dry = erase_in(
                s,
                ws,
                ids=(),
                wanted=_wanted(rec),
                reason="",
                actor="",
                up_to_id=rec.last_report_id,
                apply=False,
                stored=stored,
            )
            out.append((_view(rec, len(dry.erased), state), dry.erased))
    return out


def decide_erasure_request(
    ws: Workspace,
    request_id: int,
    *,
    erase: bool,
    actor: str,
    note: str | None = None,
    apply: bool = True,
) -> tuple[ErasureRequest, ErasureResult | None]:
    """Erase the reports a pending request names (``erase``) or decline it (``note`` says
    why, required). Without ``apply`` nothing is written: the result says what erasing
    would erase. The erasures record ``actor`` and the request's number, ticket and taker.

    Raises :class:`InputError` for an unknown request (:class:`NotFoundError`), one
    whose seal fails, one already decided (the time in platform time, as the lists show
    it), erasing one without a seal, or a decline without a reason. The decision is
    sealed (module docstring)."""
    who = clean_actor(actor)
    if not erase and not (note or "").strip():
        raise InputError("say why the request is declined (--reason)")
    text = clean_reason(note) if (note or "").strip() else ""
    with workspace_lock(ws.home), Session(engine_for(ws)) as s, s.begin():
        if apply and s.get_bind().dialect.name == "sqlite":
            # the cleared digests (a decline too) are overwritten in the file, not left in
            # its free pages (Debian's SQLite does this by default; others do not)
            s.execute(sql_text("PRAGMA secure_delete = ON"))
        rec, state = _pending(s, ws, request_id, erase=erase, lock=True)
        result: ErasureResult | None = None
        if erase:
            result = erase_in(
                s,
                ws,
                ids=(),
                wanted=_wanted(rec),
                # both parts passed their checks; re-checking the joint text could find a
                # "phone" in the request number followed by the ticket's digits
                reason=f"erasure request {rec.id}: {rec.reason}"[:300],
                up_to_id=rec.last_report_id,
                actor=clean_actor(f"{who} on request {rec.id} taken by {rec.actor}"),
                apply=apply,
            )
        if apply:
            rec.status = ERASED if erase else DECLINED
            rec.decided_at = datetime.now(UTC).isoformat(timespec="seconds")
            rec.decided_by = who
            erased = f"{len(result.erased)} report(s) erased" if result is not None else ""
            rec.note = "; ".join(x for x in (erased, text) if x)[:300]  # the column's
            rec.phone_digests = "[]"
            rec.phone_salt = None  # the commitment the seal keeps then leads nowhere
            rec.decision_seal = _seal(ws, _DECIDED_PURPOSE, _decision_facts(rec))
        view = _view(rec, None, state)
    return view, result
