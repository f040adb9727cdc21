"""Canary hits from telecom records: each contact with a canary pool number is recorded
once, however often the provider sends it.

* **Only the pool's numbers are kept.** A provider may push every record of the lines it
  serves; a call to a number outside the canary pool is some customer's own conversation
  and is neither stored nor quoted (counted as ignored). Calls to pool numbers never
  issued are kept: they measure the background rate of random dialling that
  ``attribute`` needs.
* **Once per record.** The provider's record id goes into ``telecom_receipts`` (unique per
  adapter) in the same transaction as the hit, so a push sent again — or two copies racing
  — records one hit, and a hit is never lost behind a receipt without it.
* **Nothing about partners goes back.** The answer to the provider holds counts only:
  which recipient a canary number names stays with the platform's analysts
  (``leaktrace attribute``, ``canary hit --json``).
* A record's text (an SMS, a transcript) is run through the scam detector and the fraud
  type returned with the result; it is not stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Integer, MetaData, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from leaktrace.attribution.hits import (
    CUSTOMER_HIT,
    CanaryHit,
    contact_key,
    contact_owners,
    customers_among,
    hit_row,
    pool_contains,
    resolve_with,
    stored_hit,
)
from leaktrace.attribution.reports import in_the_future
from leaktrace.attribution.store import engine_for
from leaktrace.errors import InputError
from leaktrace.ledger.tables import create_tables
from leaktrace.telecom.records import CallRecord
from leaktrace.telecom.registry import adapter
from leaktrace.workspace import Workspace

__all__ = ["IngestResult", "TelecomReceipt", "ingest"]


class _Base(DeclarativeBase):
    metadata = MetaData()


class TelecomReceipt(_Base):
    __tablename__ = "telecom_receipts"
    __table_args__ = (UniqueConstraint("adapter", "event_id", name="uq_telecom_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(100))
    hit_id: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[str] = mapped_column(String(40))


@dataclass
class IngestResult:
    adapter: str
    received: int
    hits: list[CanaryHit] = field(default_factory=list)
    duplicates: int = 0
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scam: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """What may go back to the provider: numbers only."""
        return {
            "received": self.received,
            "recorded": len(self.hits),
            "duplicates": self.duplicates,
            "ignored": len(self.ignored),
            # the first 100: a push of 1 MiB of junk would otherwise answer megabytes
            "problems": self.problems[:100],
            "problems_total": len(self.problems),
        }

    def as_dict(self) -> dict[str, Any]:
        """For the platform's analysts: every hit with the release it names."""
        return {
            "adapter": self.adapter,
            **self.counts(),
            "ignored": self.ignored,
            "hits": [h.as_dict() for h in self.hits],
            "scam": self.scam,
        }


def ingest(
    ws: Workspace, adapter_name: str, payload: Any, *, all_or_nothing: bool = True
) -> IngestResult:
    """Record the canary hits in one provider payload (decoded JSON).

    ``all_or_nothing``: a record that cannot be read stops the whole payload before
    anything is recorded (a file an analyst can fix and ingest again). Off for a push,
    where the provider would resend the readable records with the unreadable one: those
    are recorded, and the problems listed."""
    ad = adapter(adapter_name)
    records, ignored, problems = ad.read(payload)
    received = len(records) + len(ignored) + len(problems)
    now = datetime.now(UTC)
    late = [in_the_future(r.at, now) for r in records]  # a provider's clock, a typo
    if any(late):
        problems = problems + [
            f"record {r.event_id[:40]}: dated {r.at.isoformat()}, in the future"
            for r, is_late in zip(records, late, strict=True)
            if is_late
        ]
        records = [r for r, is_late in zip(records, late, strict=True) if not is_late]
    if problems and all_or_nothing:
        raise InputError(
            f"{len(problems)} of {received} record(s) cannot be read, nothing was recorded; "
            f"first: {problems[0]}"
        )
    result = IngestResult(ad.name, received, ignored=ignored, problems=problems)
    if not records:
        return result
    engine = engine_for(ws)
    create_tables(_Base.metadata, engine)
    owners = contact_owners(ws, [r.callee for r in records])
    in_pool = pool_contains(ws)
    todo: list[tuple[CallRecord, tuple[str, str, str, str]]] = []
    for rec in records:
        key = contact_key(rec.callee)
        resolved = resolve_with(key, owners.get(key, []), in_pool)
        if resolved[0] == "not_canary":
            result.ignored.append(f"record {rec.event_id[:40]}: not a canary pool number")
        else:
            todo.append((rec, resolved))
    # a pool number some release carries as a real customer's phone names nobody
    real = customers_among(ws, [r.callee for r, res in todo if res[0] != "not_canary"])
    todo = [(r, CUSTOMER_HIT if r.callee in real else res) for r, res in todo]
    # the whole payload in one transaction (one commit, not one per record); a record
    # that a racing push recorded meanwhile makes it fail, and then each record is
    # recorded in its own transaction, the raced ones counted as seen
    try:
        hits, dups = _record_all(ws, engine, ad.name, todo)
    except IntegrityError:
        hits, dups = [], 0
        for rec, resolved in todo:
            one, seen = _record_all(ws, engine, ad.name, [(rec, resolved)], racing=True)
            hits += one
            dups += seen
    result.hits, result.duplicates = hits, dups
    # only what reached a pool number is scanned: a customer's own message is not ours
    texts = [r for r, _ in todo if r.text]
    if texts:
        from leaktrace.scam import check

        for r, verdict in zip(texts, check([r.text for r in texts]), strict=True):
            result.scam.append(
                {"record": r.event_id, "is_scam": verdict.is_scam, "fraud_type": verdict.fraud_type}
            )
    return result


def _record_all(
    ws: Workspace,
    engine: Engine,
    adapter_name: str,
    todo: list[tuple[CallRecord, tuple[str, str, str, str]]],
    *,
    racing: bool = False,
) -> tuple[list[CanaryHit], int]:
    """The hits and their receipts in one transaction: (hits recorded, records seen
    before). A record repeated within the payload counts once. ``racing``: a unique
    violation means the record was recorded meanwhile (counted as seen); otherwise it is
    raised for the caller to retry record by record."""
    hits: list[CanaryHit] = []
    try:
        with Session(engine) as s, s.begin():
            ids = sorted({rec.event_id for rec, _ in todo})
            seen: set[str] = set()
            for i in range(0, len(ids), 500):
                seen.update(
                    s.scalars(
                        select(TelecomReceipt.event_id).where(
                            TelecomReceipt.adapter == adapter_name,
                            TelecomReceipt.event_id.in_(ids[i : i + 500]),
                        )
                    )
                )
            dups = 0
            now = datetime.now(UTC).isoformat(timespec="seconds")
            for rec, resolved in todo:
                if rec.event_id in seen:
                    dups += 1
                    continue
                seen.add(rec.event_id)
                row = hit_row(
                    ws,
                    contact=rec.callee,
                    channel=rec.channel,
                    at=rec.at,
                    caller=rec.caller,
                    resolved=resolved,
                )
                s.add(row)
                s.flush()
                s.add(
                    TelecomReceipt(
                        adapter=adapter_name, event_id=rec.event_id, hit_id=row.id, received_at=now
                    )
                )
                hits.append(stored_hit(row))
            s.flush()
    except IntegrityError:
        if not racing:
            raise
        return [], len(todo)
    return hits, dups
