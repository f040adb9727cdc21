"""The ledger on a real PostgreSQL server: releases are recorded, chained and verified,
canary numbers are reserved and refused as on SQLite, and a leak traces to its source.

Why a separate file: the reservation query is written per database (a JSON array on
SQLite, an array parameter on PostgreSQL), and ``database_url`` in leaktrace.toml is how
a platform puts the ledger on its own database server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace

from .conftest import postgres_workspace
from .test_ledger import check_reservations, check_used_numbers_excluded

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose ledger is a fresh database on the test server."""
    with postgres_workspace(postgres_url, tmp_path / "ws") as ws:
        yield ws


def test_releases_are_recorded_verified_and_traced(
    pg_workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    ws = pg_workspace
    assert ws.database_url.startswith("postgresql")
    release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.parquet")
    release(shop, recipient="cs-firm", workspace=ws, out=tmp_path / "cs.csv")
    ledger = Ledger(ws)
    assert ledger.engine.dialect.name == "postgresql"
    res = ledger.verify()
    assert res.ok and res.records == 2
    entries = ledger.entries()
    assert entries[1].prev_hash == entries[0].record_hash
    assert sum(e.canaries for e in entries) == len(ledger.canary_tokens()) > 0
    leak = pl.read_parquet(tmp_path / "zto.parquet").sample(5, seed=1)
    leak = leak.select("name", "phone", "address", "order_time", "product")
    found = trace(leak, workspace=ws)
    assert [c.recipient for c in found.accused] == ["zto"]
    with ledger.engine.begin() as c:  # an altered record is named, as on SQLite
        c.execute(text("UPDATE releases SET rows = rows + 1 WHERE seq = 1"))
    bad = Ledger(ws).verify()
    assert not bad.ok and bad.first_bad == 1


def test_canary_reservations_on_postgres(pg_workspace: Workspace) -> None:
    check_reservations(Ledger(pg_workspace))


def test_recorded_canary_numbers_are_never_reserved_on_postgres(
    pg_workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    check_used_numbers_excluded(pg_workspace, shop, tmp_path)


def test_incidents_and_cases_on_postgres(
    pg_workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """The incident record and a victim's case on the platform's database server: sealed
    events round-trip (JSON bodies, unique event numbers), the case is decided from the
    index, and an event altered in the database is named."""
    from datetime import datetime, timedelta

    from leaktrace.errors import InputError, LedgerIntegrityError
    from leaktrace.respond.cases import cases_of, open_case, record_payment
    from leaktrace.respond.incident import (
        PLATFORM_TZ,
        load_incident,
        open_incident,
        record_evidence,
    )
    from leaktrace.respond.regulator import regulator_report
    from leaktrace.trace.bundle import build_bundle, write_bundle

    ws = pg_workspace
    release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.parquet")
    leak = pl.read_parquet(tmp_path / "zto.parquet").head(25)
    leak = leak.select("name", "phone", "address", "order_time", "product")
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), tmp_path / "b.json")
    inc = open_incident(ws, "事件", datetime.now(PLATFORM_TZ) - timedelta(hours=1), "简述")
    record_evidence(ws, inc.id, tmp_path / "b.json")
    victim = shop.filter(pl.col("courier") == "中通快递").row(0, named=True)
    case = open_case(
        ws,
        inc.id,
        order_id=str(victim["order_id"]),
        phone=str(victim["phone"]),
        occurred=datetime.now(PLATFORM_TZ),
        loss=300.0,
        police_receipt="A330106000042",
    )
    assert case.decision == "advance" and case.advance == 300.0
    record_payment(ws, inc.id, case.case_id, "case_paid", 300.0)
    with pytest.raises(InputError, match="exceed the advance"):
        record_payment(ws, inc.id, case.case_id, "case_paid", 0.01)
    again = load_incident(ws, inc.id)
    assert again.accused == ["zto"] and [c.paid for c in cases_of(again)] == [300.0]
    assert "决定垫付 300.00 元" in regulator_report(ws, again).text
    with Ledger(ws).engine.begin() as c:
        c.execute(
            text(
                "UPDATE incident_events SET body = replace(body, '300.0', '3000.0') "
                "WHERE kind = 'case_paid'"
            )
        )
    with pytest.raises(LedgerIntegrityError, match=f"incident {inc.id} event 4"):
        load_incident(ws, inc.id)


def test_checkpoints_on_postgres(pg_workspace: Workspace, shop: pl.DataFrame) -> None:
    """A checkpoint on the database server (the covered tables locked against writers
    while their ranges are read): it verifies, and a pinned event deleted is named."""
    from datetime import datetime, timedelta

    from leaktrace.respond.incident import PLATFORM_TZ, add_event, open_incident

    ws = pg_workspace
    release(shop, recipient="zto", workspace=ws)
    inc = open_incident(ws, "事件", datetime.now(PLATFORM_TZ) - timedelta(hours=1))
    add_event(ws, inc.id, "measure", {"text": "停用账号"})
    ledger = Ledger(ws)
    cp = ledger.checkpoint()
    assert cp.state["logs"]["incident_events"]["rows"] == 2
    assert cp.state["logs"]["victim_reports"]["rows"] == 0
    res = ledger.verify()
    assert res.ok and res.checkpoints == 1, res.problem
    with ledger.engine.begin() as c:
        c.execute(text("DELETE FROM incident_events WHERE kind = 'measure'"))
    res = ledger.verify()
    assert not res.ok and res.problem is not None
    assert res.problem.startswith("checkpoint 1: ") and "incident_events" in res.problem


def test_incident_events_wait_for_the_databases_lock(pg_workspace: Workspace) -> None:
    """Servers on two machines share the database, not the workspace's file lock: an
    event's rule (one advance per loss, across incidents) is checked and the event written
    under a PostgreSQL advisory lock, so a writer on another machine is waited for."""
    import threading
    from datetime import UTC, datetime, timedelta

    from leaktrace.respond.incident import _EVENT_LOCK, load_incident, open_incident

    ws = pg_workspace
    opened: list[str] = []

    def write() -> None:
        opened.append(open_incident(ws, "两台服务器", datetime.now(UTC) - timedelta(hours=1)).id)

    other_machine = create_engine(ws.database_url)
    try:
        with other_machine.connect() as c:
            c.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _EVENT_LOCK})
            c.commit()
            t = threading.Thread(target=write)
            t.start()
            t.join(1.5)
            assert t.is_alive() and not opened  # waiting for the other machine's write
            c.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _EVENT_LOCK})
            c.commit()
            t.join(30)
    finally:
        other_machine.dispose()
    assert len(opened) == 1 and load_incident(ws, opened[0]).status == "open"


def test_erasure_on_postgres(pg_workspace: Workspace, shop: pl.DataFrame) -> None:
    """A victim's report erased on the database server: the person's data is gone from the
    row, the erasure is sealed and pinned by the next checkpoint, and the one before it
    still verifies; erasing again is 'already'."""
    from leaktrace.attribution.erasure import erase_reports
    from leaktrace.attribution.reports import add_reports, load_stored_reports

    from .logs import report_objs

    ws = pg_workspace
    release(shop, recipient="zto", workspace=ws)
    ids = add_reports(ws, report_objs(ws, shop, 3, seed=5)).ids
    phone = next(r.phone for r in load_stored_reports(ws) if r.id == ids[0])
    assert phone is not None
    ledger = Ledger(ws)
    ledger.checkpoint()
    res = erase_reports(ws, phone=phone, reason="工单 7", actor="cli:pg", apply=True)
    assert res.erased == [ids[0]]
    with ledger.engine.connect() as c:
        row = c.execute(
            text("SELECT blob, customer, dedupe, status FROM victim_reports WHERE id = :i"),
            {"i": ids[0]},
        ).one()
    assert tuple(row) == ("", "{}", "", "erased")
    assert sorted(r.id for r in load_stored_reports(ws)) == ids[1:]
    cp = ledger.checkpoint()
    assert cp.pinned()["report_erasures"] == 1
    assert ledger.verify().ok
    assert erase_reports(ws, ids=[ids[0]], apply=True).already == [ids[0]]


def test_erasure_request_on_postgres(pg_workspace: Workspace, shop: pl.DataFrame) -> None:
    """Customer service's erasure request queued on the database server and decided by an
    analyst: the request table is made there, the decision erases in one transaction and
    forgets the phone; its seals hold as the server returns the row, a checkpoint pins it,
    deciding it after is no alarm, and an altered decision is named."""
    from leaktrace.attribution.erasure_requests import (
        decide_erasure_request,
        erasure_requests,
        request_erasure,
        request_seal_problems,
    )
    from leaktrace.attribution.reports import add_reports, load_stored_reports

    from .logs import report_objs

    ws = pg_workspace
    release(shop, recipient="zto", workspace=ws)
    ids = add_reports(ws, report_objs(ws, shop, 3, seed=6)).ids
    phone = next(r.phone for r in load_stored_reports(ws) if r.id == ids[0])
    assert phone is not None
    rid = request_erasure(
        ws, phone=phone, reason="工单 8", actor="token:cs", taker_recipient="cs-firm"
    )
    assert [(r.id, r.matches, r.sealed) for r in erasure_requests(ws)] == [(rid, 1, True)]
    assert Ledger(ws).checkpoint().pinned()["erasure_requests"] == 1
    view, res = decide_erasure_request(ws, rid, erase=True, actor="cli:pg")
    assert res is not None and res.erased == [ids[0]] and view.status == "erased"
    assert sorted(r.id for r in load_stored_reports(ws)) == ids[1:]
    with Ledger(ws).engine.connect() as c:
        left = c.execute(text("SELECT phone_digests, phone_salt FROM erasure_requests")).one()
    assert tuple(left) == ("[]", None)
    assert Ledger(ws).verify().ok and request_seal_problems(ws) == []
    assert Ledger(ws).checkpoint().pinned()["erasure_decisions"] == 1
    with Ledger(ws).engine.begin() as c:
        c.execute(text("UPDATE erasure_requests SET status = 'declined'"))
    assert request_seal_problems(ws) == [
        f"erasure request {rid} fails its seal: its decision (status, time, analyst, note) "
        "was changed in the database, or it was written outside leaktrace"
    ]
