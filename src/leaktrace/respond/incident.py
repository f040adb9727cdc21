"""Incidents: one record per leak, from the first report to the regulator's copy.

An incident is a sequence of events (opened, evidence, exposure, measure, notified,
reported, closed). The regulator report and the notice are drafted from these events and
nothing else, so every sentence in them points at something that was recorded: a verified
evidence bundle, an exposure list that was written, a measure an analyst entered. What was
not recorded is written as 【待补充】 and listed, never guessed.

Storage, and why: the events live in the workspace's ledger database, table
``incident_events``, outside the signed release chain (an incident is worked on daily; the
chain records releases). Each event is hash-chained to the incident's previous one and
sealed with an HMAC under a workspace subkey (``incident-seal``), as victim reports are:
a database administrator without the keys cannot alter, insert or remove an event from the
middle unseen, and a report is refused while an incident does not verify. Removing the
newest events leaves a shorter valid chain; ``show`` prints the head hash to keep
elsewhere, as ``verify`` does for the ledger. No personal data is stored: counts,
recipient names, release ids, digests of files and the analysts' own words.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, MetaData, String, Text, UniqueConstraint, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from leaktrace.errors import InputError, KeyFileError, LedgerIntegrityError, NotFoundError
from leaktrace.ledger.tables import create_tables
from leaktrace.lockfile import workspace_lock
from leaktrace.respond.times import PLATFORM_TZ
from leaktrace.workspace import Workspace

__all__ = [
    "KINDS",
    "PLATFORM_TZ",
    "Incident",
    "IncidentEvent",
    "add_event",
    "clean_text",
    "incident_ids",
    "load_incident",
    "open_incident",
    "record_evidence",
    "record_exposure",
    "record_grade",
    "record_notified",
]

KINDS = (
    "opened",
    "evidence",
    "exposure",
    "measure",
    "graded",
    "notified",
    "reported",
    "case",
    "case_paid",
    "case_recovered",
    "closed",
)
GENESIS = "0" * 64
_MAX_TEXT = 2000


class _Base(DeclarativeBase):
    metadata = MetaData()


class IncidentEventRecord(_Base):
    __tablename__ = "incident_events"
    __table_args__ = (UniqueConstraint("incident_id", "seq", name="uq_incident_event_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    event_hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(80))


@dataclass(frozen=True)
class IncidentEvent:
    seq: int
    at: str
    kind: str
    body: dict[str, Any]
    event_hash: str


@dataclass
class Incident:
    """An incident's events, verified, and what the drafts need from them."""

    id: str
    events: list[IncidentEvent] = field(default_factory=list)

    def latest(self, kind: str) -> IncidentEvent | None:
        found = [e for e in self.events if e.kind == kind]
        return found[-1] if found else None

    def all(self, kind: str) -> list[IncidentEvent]:
        return [e for e in self.events if e.kind == kind]

    @property
    def title(self) -> str:
        opened = self.latest("opened")
        return str(opened.body["title"]) if opened else ""

    @property
    def status(self) -> str:
        return "closed" if self.latest("closed") else "open"

    @property
    def accused(self) -> list[str]:
        """Every recipient a recorded evidence bundle accuses (in first-recorded order)."""
        out: dict[str, None] = {}
        for e in self.all("evidence"):
            for r in e.body.get("accused", []):
                out[str(r)] = None
        return list(out)

    def unaccused_exposure(self) -> list[str]:
        """Recipients the latest exposure was computed for that no recorded evidence
        accuses (``incident exposed --to`` names anyone): the drafts must not present them
        as the source."""
        counted = self._exposure_recipients()
        return sorted(counted - set(self.accused)) if counted is not None else []

    def uncounted_accused(self) -> list[str]:
        """Recipients the evidence accuses that the latest exposure did not count (evidence
        recorded after it, or ``incident exposed --to`` naming fewer): the drafts' figures
        would understate who and how many were exposed."""
        counted = self._exposure_recipients()
        return sorted(set(self.accused) - counted) if counted is not None else []

    def _exposure_recipients(self) -> set[str] | None:
        """The recipients the latest exposure was computed for; None without one."""
        exposure = self.latest("exposure")
        if exposure is None:
            return None
        return set(exposure.body.get("recipients") or exposure.body["by_recipient"])

    @property
    def head_hash(self) -> str:
        return self.events[-1].event_hash if self.events else GENESIS

    def row(self) -> dict[str, Any]:
        """One line of ``incident list`` (and of the service's list)."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "accused": self.accused,
            "events": len(self.events),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "accused": self.accused,
            "head_hash": self.head_hash,
            "events": [
                {"seq": e.seq, "at": e.at, "kind": e.kind, "body": e.body} for e in self.events
            ],
        }


_ENGINES: dict[str, Any] = {}


def _engine(ws: Workspace) -> Any:
    from leaktrace.ledger import Ledger

    url = ws.database_url
    eng = _ENGINES.get(url)
    if eng is None:
        eng = Ledger(ws).engine
        create_tables(_Base.metadata, eng)
        _ENGINES[url] = eng
    return eng


_EVENT_LOCK = (
    int.from_bytes(hashlib.sha256(b"leaktrace incident events").digest()[:8], "big") - 2**63
)
"""The PostgreSQL advisory lock every incident event is written under (a signed 64-bit key)."""


@contextmanager
def _database_lock(ws: Workspace) -> Iterator[None]:
    """On PostgreSQL, a session advisory lock held while an event's rule is checked and the
    event written: servers on several machines share the database, not the workspace's
    file lock, and a rule that reads other incidents (one advance per loss across
    incidents) must see every writer's last event. SQLite is one machine's file: nothing."""
    engine = _engine(ws)
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(sql_text("SELECT pg_advisory_lock(:k)"), {"k": _EVENT_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sql_text("SELECT pg_advisory_unlock(:k)"), {"k": _EVENT_LOCK})
            conn.commit()


def _canonical(incident_id: str, seq: int, at: str, kind: str, body: str, prev: str) -> bytes:
    return json.dumps(
        ["incident_events", incident_id, seq, at, kind, body, prev],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def _mac(ws: Workspace, version: int, facts: bytes) -> str:
    return hmac.new(ws.keys.derive("incident-seal", version), facts, "sha256").hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def clean_text(value: str, what: str, *, required: bool = True, personal_ok: bool = False) -> str:
    """``value`` on one line, checked for what an incident's record may hold.

    An incident's texts (title, summary, measures, channels, authorities, resolutions) are
    stored in clear, sealed for good once a checkpoint pins them, and copied into the
    notice every exposed person gets and into the regulator draft: a mobile or ID card
    number in them ("已联系用户 13800138000 核实"), in any spelling
    (:func:`leaktrace.attribution.erasure.holds_personal_number`), is refused, as it is in
    a case's or an erasure's reason. ``personal_ok``: a text that is encrypted before it
    is stored (a payment's note may quote a transfer's reference)."""
    from leaktrace.attribution.erasure import holds_personal_number

    text = " ".join(value.split())
    if required and not text:
        raise InputError(f"{what} is empty")
    if len(text) > _MAX_TEXT:
        raise InputError(f"{what} has {len(text):,} characters; at most {_MAX_TEXT:,}")
    if any(not ch.isprintable() for ch in text):
        raise InputError(f"{what} holds control characters")
    if not personal_ok and holds_personal_number(text):
        raise InputError(
            f"{what} holds what looks like a phone or ID card number (or a bank card "
            "number): it is stored in clear and sealed for good (and goes into the notices "
            "and the regulator draft), so leave personal details out"
        )
    return text


_INCIDENT_ID = re.compile(r"INC-[0-9]{8}-[0-9a-f]{8}")  # as open_incident makes them
_ID_TEXT = re.compile(r"[!-~]{1,40}")  # printable ASCII, no space: what an id is typed as
_LONG_DIGITS = re.compile(r"[0-9]{11,}")  # a mobile; ID, card and landline numbers are longer


def _check_id(incident_id: str) -> str:
    """``incident_id`` when it may name an incident, else an :class:`InputError`.

    An id of the shape ``open_incident`` makes passes; so does another ``INC-`` id that
    could be a typo of one (``INC-2026``: it is then "no incident INC-2026", which names
    it). The value is quoted back only when it has an id's shape: printable ASCII of at
    most 40 characters, with no run of 11 or more digits once ``-`` and ``.`` are
    dropped, starting ``INC`` in any case. A phone or a name pasted where the id belongs
    (the service's path, the dashboard's form, a CLI argument) must not come back in the
    answer, nor in a "no incident …" that names it (so it is refused here, not looked
    up); the rule ``_case_of`` follows for case ids."""
    if _INCIDENT_ID.fullmatch(incident_id):
        return incident_id
    from leaktrace.attribution.erasure import holds_personal_number

    plausible = (
        bool(_ID_TEXT.fullmatch(incident_id))
        and not _LONG_DIGITS.search(incident_id.replace("-", "").replace(".", ""))
        and not holds_personal_number(incident_id)  # 138_0013_8000, 138+0013+8000 …
    )
    if plausible and incident_id.startswith("INC-"):
        return incident_id
    named = repr(incident_id) if plausible and incident_id[:3].upper() == "INC" else "the id given"
    raise InputError(f"{named} is not an incident id (INC-…, as `leaktrace incident list` shows)")


def add_event(
    ws: Workspace,
    incident_id: str,
    kind: str,
    body: dict[str, Any],
    check: Callable[[Incident], Mapping[str, Any] | None] | None = None,
) -> IncidentEvent:
    """Append one event to an incident that verifies (see the module docstring).

    ``check``: a rule the event must keep (no second case for an order, no payment over
    the advance), called with the incident as it stands, under the lock and just before
    the write; it raises to refuse, or returns fields that replace the body's (a case's
    advance becomes a review when another advance for the same loss was written
    meanwhile). A rule checked on an incident loaded earlier can be broken by a writer in
    between; the lock is the workspace's, so ``check`` may read other incidents too."""
    if kind not in KINDS:
        raise InputError(f"unknown incident event {kind!r}")
    _check_id(incident_id)
    # under the workspace lock: two agents deciding one victim's case at once must not
    # both pass "no case for this order yet"; servers on several machines sharing one
    # PostgreSQL ledger take the database's lock too (the file lock holds on one machine
    # only), and the unique (incident, seq) pair refuses a second writer of one incident
    with workspace_lock(ws.home), _database_lock(ws):
        inc = load_incident(ws, incident_id) if kind != "opened" else Incident(incident_id)
        if kind != "opened" and inc.status == "closed":
            raise InputError(f"incident {incident_id} is closed")
        if check is not None and (changes := check(inc)):
            body = {**body, **changes}
        seq, prev, at = len(inc.events) + 1, inc.head_hash, _now()
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        facts = _canonical(incident_id, seq, at, kind, text, prev)
        event_hash = hashlib.sha256(facts).hexdigest()
        v = ws.keys.current_version
        rec = IncidentEventRecord(
            incident_id=incident_id,
            seq=seq,
            at=at,
            kind=kind,
            body=text,
            prev_hash=prev,
            event_hash=event_hash,
            seal=f"v{v}:{_mac(ws, v, facts)}",
        )
        try:
            with Session(_engine(ws)) as s, s.begin():
                s.add(rec)
        except IntegrityError:  # another machine's writer on a shared database
            raise InputError(
                f"incident {incident_id} changed while this event was written; try again"
            ) from None
    return IncidentEvent(seq, at, kind, body, event_hash)


def open_incident(ws: Workspace, title: str, discovered: datetime, summary: str = "") -> Incident:
    """A new incident (``INC-<date>-<8 hex>``). ``discovered``: when the platform learnt
    of it (a naive time is the platform's, UTC+8); regulators count deadlines from it."""
    if discovered.tzinfo is None:
        discovered = discovered.replace(tzinfo=PLATFORM_TZ)
    if discovered > datetime.now(UTC) + timedelta(minutes=5):
        raise InputError("the discovery time is in the future")
    incident_id = f"INC-{datetime.now(PLATFORM_TZ):%Y%m%d}-{secrets.token_hex(4)}"
    add_event(
        ws,
        incident_id,
        "opened",
        {
            "title": clean_text(title, "the title"),
            "discovered_at": discovered.isoformat(timespec="seconds"),
            "summary": clean_text(summary, "the summary", required=False),
        },
    )
    return load_incident(ws, incident_id)


def incident_ids(ws: Workspace) -> list[str]:
    """Every incident with any event, oldest first. Not only those whose opening event is
    there: one whose events were partly deleted must still be listed, and fail to verify."""
    with Session(_engine(ws)) as s:
        rows = s.execute(
            select(IncidentEventRecord.incident_id, func.min(IncidentEventRecord.id))
            .group_by(IncidentEventRecord.incident_id)
            .order_by(func.min(IncidentEventRecord.id))
        ).all()
    return [r[0] for r in rows]


def load_incident(ws: Workspace, incident_id: str) -> Incident:
    """The incident's events, each checked against its seal and chained to the one before;
    :class:`LedgerIntegrityError` naming the first event that fails."""
    _check_id(incident_id)
    with Session(_engine(ws)) as s:
        recs = list(
            s.scalars(
                select(IncidentEventRecord)
                .where(IncidentEventRecord.incident_id == incident_id)
                .order_by(IncidentEventRecord.seq)
            )
        )
        s.expunge_all()
    if not recs:
        raise NotFoundError(f"no incident {incident_id}")
    inc = Incident(incident_id)
    prev = GENESIS
    for i, rec in enumerate(recs, start=1):
        where = f"incident {incident_id} event {rec.seq}"
        if rec.seq != i or rec.prev_hash != prev:
            raise LedgerIntegrityError(
                f"{where}: the event chain is broken (an event was removed or inserted)"
            )
        facts = _canonical(incident_id, rec.seq, rec.at, rec.kind, rec.body, rec.prev_hash)
        if hashlib.sha256(facts).hexdigest() != rec.event_hash:
            raise LedgerIntegrityError(f"{where} does not match its hash (altered)")
        version, _, mac = rec.seal.partition(":")
        try:
            expected = _mac(ws, int(version[1:]), facts)
        except (KeyFileError, ValueError):
            raise LedgerIntegrityError(f"{where} carries no valid seal") from None
        if not hmac.compare_digest(expected, mac):
            raise LedgerIntegrityError(f"{where}: its seal does not match (altered)")
        if rec.kind not in KINDS or (i == 1) != (rec.kind == "opened"):
            raise LedgerIntegrityError(f"{where}: an event of kind {rec.kind!r} here")
        inc.events.append(
            IncidentEvent(rec.seq, rec.at, rec.kind, json.loads(rec.body), rec.event_hash)
        )
        prev = rec.event_hash
    return inc


def record_evidence(ws: Workspace, incident_id: str, bundle_path: Path) -> IncidentEvent:
    """Record a trace's evidence bundle, after verifying it with the workspace's public key
    (a bundle that does not verify is refused): its verdict, the accused, each accused
    recipient's corrected log10 p, and the bundle's SHA-256."""
    from leaktrace.trace.bundle import bundle_body_digest, load_bundle, verify_bundle

    bundle = load_bundle(bundle_path)  # a missing or broken file is a one-line error
    raw = bundle_path.read_bytes()
    checked = verify_bundle(bundle, ws.keys.public_key())
    digest = hashlib.sha256(raw).hexdigest()
    signed = bundle_body_digest(bundle)  # the same bundle saved again with other spacing
    for e in load_incident(ws, incident_id).all("evidence"):
        if digest == e.body.get("bundle_sha256") or signed == e.body.get("body_sha256"):
            # the same evidence twice would count twice in the report's list of evidence
            raise InputError(
                f"{bundle_path.name} is already evidence of {incident_id} (event {e.seq})"
            )
    body = bundle["body"]
    # a recipient is a candidate once per key version: the figure is that of the version
    # that accused it (after a rotation the other one sits at chance)
    accusing = {(r, v) for r, v in body["accused_candidates"]}
    log10_p: dict[str, float] = {}
    for c in body["candidates"]:
        if (c["recipient"], c["key_version"]) in accusing:
            r = c["recipient"]
            log10_p[r] = min(log10_p.get(r, 0.0), c["log10_p_value"])
    return add_event(
        ws,
        incident_id,
        "evidence",
        {
            "source": "trace bundle",
            "file": bundle_path.name,
            "bundle_sha256": digest,
            "body_sha256": signed,
            "verdict": checked["verdict"],
            "accused": checked["accused"],
            "log10_p": log10_p,
            "alpha": body["alpha"],
            "rows_read": checked["rows_read"],
            "truncated": checked["truncated"],
            "evidence_sha256": checked["evidence_sha256"],
            "contradictions": sum(len(v) for v in checked["contradictions"].values()),
        },
    )


def record_exposure(
    ws: Workspace,
    incident_id: str,
    summary: dict[str, Any],
    list_sha256: str,
    recipients: list[str] | None = None,
) -> IncidentEvent:
    """Record what :func:`leaktrace.respond.exposed` found (its ``summary()``), for which
    ``recipients`` it was asked, and the SHA-256 of the list written, so the report's
    figures point at one file. The drafts compare ``recipients`` with the accused: a
    notice must not blame a partner no evidence names."""
    keep = (
        "orders",
        "people",
        "people_counted_by",
        "fields",
        "fields_zh",
        "by_recipient",
        "unmatched_index_rows",
        "ambiguous_rows",
    )
    body = {k: summary[k] for k in keep}
    body["releases"] = [
        {"release_id": r["release_id"], "recipient": r["recipient"], "created": r["created"]}
        for r in summary["releases"]
    ]
    body["list_sha256"] = list_sha256
    body["recipients"] = sorted(recipients or summary["by_recipient"])
    return add_event(ws, incident_id, "exposure", body)


GRADES = ("一般", "较大", "重大", "特别重大")
"""The grades of the CAC's 网络安全事件分级指南 that 国家网络安全事件报告管理办法 (in force
2025-11-01) has an operator give an incident; 较大 and above are reported within 4 hours
of discovery (1 hour for critical information infrastructure)."""


def record_grade(ws: Workspace, incident_id: str, grade: str, reason: str = "") -> IncidentEvent:
    """Record the incident's grade (one of :data:`GRADES`), a person's judgement under the
    grading guide that the regulator report states; a later grade replaces it (an
    incident found larger is graded again, and both stay in the record)."""
    g = grade.strip()
    if g not in GRADES:
        raise InputError(f"the grade is one of {'、'.join(GRADES)} (got {grade[:20]!r})")
    body = {"grade": g, "reason": clean_text(reason, "the reason", required=False)}
    return add_event(ws, incident_id, "graded", body)


def record_notified(ws: Workspace, incident_id: str, people: int, channel: str) -> IncidentEvent:
    """Record how many of the exposed people have been told, IN TOTAL so far (not this
    batch: one person told by SMS and in the app is one person). It may not exceed the
    people the latest exposure counted, nor go down."""

    def plausible(now: Incident) -> None:
        exposure = now.latest("exposure")
        if exposure is not None and people > int(exposure.body["people"]):
            raise InputError(
                f"{people:,} people told is more than the {exposure.body['people']:,} exposed"
            )
        before = max((int(e.body["people"]) for e in now.all("notified")), default=0)
        if people < before:
            raise InputError(
                f"{people:,} is fewer than the {before:,} already recorded as told; give the "
                "total told so far"
            )

    if not 0 <= people <= 2_000_000_000:
        raise InputError("the number of people told must be between 0 and 2,000,000,000")
    body = {"people": people, "channel": clean_text(channel, "the channel")}
    return add_event(ws, incident_id, "notified", body, check=plausible)
