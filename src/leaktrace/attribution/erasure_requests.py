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

Not sealed or checkpointed: a request deleted from the database before it is decided is
lost without a trace in ``verify`` (the erasures it leads to are sealed and pinned as any).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from leaktrace.attribution.erasure import ERASED as ERASED_REPORT
from leaktrace.attribution.erasure import (
    ErasureResult,
    clean_actor,
    clean_reason,
    erase_in,
    erasure_states,
    phone_digests,
    phone_index,
    reports_of,
)
from leaktrace.attribution.reports import normalise_phone_str
from leaktrace.attribution.store import (
    ErasureRequestRecord,
    ReportErasureRecord,
    ReportRecord,
    engine_for,
)
from leaktrace.errors import InputError, NotFoundError
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
    "request_erasure",
]

MAX_PENDING_PER_TAKER = 200
"""Pending requests one taker (a token, a system user) may have: a person asks once, and
an agent token must not bury the analysts' list (or slow the dashboard) with requests."""

PENDING = "pending"
ERASED = "erased"
DECLINED = "declined"


@dataclass(frozen=True)
class ErasureRequest:
    """One request as an analyst sees it. ``matches``: for a pending request, how many
    stored reports it would erase now (``None`` once decided: the phone is forgotten).
    ``taker_recipient``: the recipient the agent who took it works for (``None``: the
    platform's own staff, or a request taken before takers were bound to firms)."""

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

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _view(rec: ErasureRequestRecord, matches: int | None = None) -> ErasureRequest:
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
    rec = ErasureRequestRecord(
        received_at=datetime.now(UTC).isoformat(timespec="seconds"),
        actor=taker,
        taker_recipient=firm or None,
        reason=clean_reason(reason),
        phone_digests=json.dumps(sorted(phone_digests(ws, wanted_phone))),
        status=PENDING,
        decided_by="",
        note="",
    )
    with Session(engine_for(ws)) as s, s.begin():
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
        s.flush()
        return int(rec.id)


def erasure_requests(ws: Workspace, *, pending_only: bool = True) -> list[ErasureRequest]:
    """The pending requests (all with ``pending_only`` false), oldest first, with how many
    reports each pending one would erase now.

    The reports are read and their seals checked once for all requests (an agent token
    may queue many), and a request whose reports cannot be told (an erasure row changed in
    the database) still lists, with its count left out: deciding it names the problem."""
    with Session(engine_for(ws)) as s:
        query = select(ErasureRequestRecord).order_by(ErasureRequestRecord.id)
        if pending_only:
            query = query.where(ErasureRequestRecord.status == PENDING)
        requests = list(s.scalars(query))
        if not any(r.status == PENDING for r in requests):
            return [_view(r) for r in requests]
        recs = {r.id: r for r in s.scalars(select(ReportRecord))}
        ers = {e.report_id: e for e in s.scalars(select(ReportErasureRecord))}
    index = phone_index(ws, recs.values())
    out = []
    for rec in requests:
        if rec.status != PENDING:
            out.append(_view(rec))
            continue
        ids = [i for i in reports_of(index, _wanted(rec)) if i <= rec.last_report_id]
        states = erasure_states(ws, (recs[i] for i in ids), {i: ers[i] for i in ids if i in ers})
        broken = any(i in ers and i not in states for i in ids)
        out.append(_view(rec, None if broken else sum(states.get(i) != ERASED_REPORT for i in ids)))
    return out


def _pending(s: Session, request_id: int) -> ErasureRequestRecord:
    """The pending request ``request_id``: :class:`NotFoundError` when there is none,
    :class:`InputError` when it was decided (its phone is forgotten)."""
    rec = s.get(ErasureRequestRecord, request_id)
    if rec is None:
        raise NotFoundError(f"no erasure request has id {request_id} (`leaktrace report requests`)")
    if rec.status != PENDING:
        when = shown_time(rec.decided_at) if rec.decided_at else "?"
        raise InputError(
            f"erasure request {request_id} was already decided ({rec.status} {when} by "
            f"{rec.decided_by})"
        )
    return rec


def pending_request(ws: Workspace, request_id: int) -> tuple[ErasureRequest, list[int]]:
    """A pending request and the ids of the stored reports erasing it would erase now:
    what :func:`decide_erasure_request` without ``apply`` lists, found the same way (the
    erasure's dry run). Raises as deciding does for an unknown or decided request."""
    with Session(engine_for(ws)) as s:
        rec = _pending(s, request_id)
        dry = erase_in(
            s,
            ws,
            ids=(),
            wanted=_wanted(rec),
            reason="",
            actor="",
            up_to_id=rec.last_report_id,
            apply=False,
        )
        return _view(rec, len(dry.erased)), dry.erased


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
    already decided (the time in platform time, as the lists show it), or a decline
    without a reason."""
    who = clean_actor(actor)
    if not erase and not (note or "").strip():
        raise InputError("say why the request is declined (--reason)")
    text = clean_reason(note) if (note or "").strip() else ""
    with workspace_lock(ws.home), Session(engine_for(ws)) as s, s.begin():
        if apply and s.get_bind().dialect.name == "sqlite":
            # the cleared digests (a decline too) are overwritten in the file, not left in
            # its free pages (Debian's SQLite does this by default; others do not)
            s.execute(sql_text("PRAGMA secure_delete = ON"))
        rec = _pending(s, request_id)
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
            rec.note = "; ".join(x for x in (erased, text) if x)
            rec.phone_digests = "[]"
        view = _view(rec)
    return view, result
