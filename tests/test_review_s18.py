"""Review of session 18: the erasure-request cap under a lock, several requests weighed
together, erasing a report's copies, the batched exposure list, the phone fix and the
CLI's lazy imports.

Each test below failed before its fix, for the reason its docstring gives, except those
marked "Checked, holds".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from leaktrace.attribution import erasure_requests as requests_module
from leaktrace.attribution.erasure import erase_reports
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    erasure_requests,
    pending_request,
    request_erasure,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.store import engine_for
from leaktrace.workspace import Workspace
from ledger.conftest import postgres_url, postgres_workspace  # noqa: F401  (the server fixture)
from ledger.logs import copied, copy_report_whole, sql
from served import NEVER_REPORTED, race_two_takers, reported_workspace, victim


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    """A workspace with one release and six sealed reports (and tokens)."""
    home = tmp_path_factory.mktemp("s18") / "ws"
    reported_workspace(home, shop, "firm-agent", "cs-firm")
    return home


@pytest.fixture
def ws(base: Path, tmp_path: Path) -> Workspace:
    return copied(base, tmp_path)


def _other(ws: Workspace, phone: str) -> tuple[int, str]:
    """A counted report of another person than ``phone``: its id and phone."""
    for r in load_stored_reports(ws):
        if r.phone is not None and r.phone != phone:
            return r.id, r.phone
    raise AssertionError("every report is of one phone")


# ------------------------------------------------------------- erasing a report's copies


def test_an_altered_intake_digest_does_not_erase_another_persons_report(ws: Workspace) -> None:
    """``_copies`` took any row sharing a matched row's ``dedupe`` for a copy, sealed or not.
    Whoever administers the database (no workspace key) wrote another victim's intake
    digest into the requester's row: the requester's erasure request then wiped that
    other victim's report too — the evidence it holds gone, under a valid erasure record
    that makes the wipe look lawful (before, the altered row was only flagged unsealed and
    the other report untouched)."""
    phone, theirs = victim(ws)
    other, other_phone = _other(ws, phone)
    sql(
        ws,
        "update victim_reports set dedupe = (select dedupe from victim_reports where id = ?) "
        "where id = ?",
        (other, min(theirs)),
    )
    rid = request_erasure(ws, phone=phone, reason="工单 1", actor="token:cs")
    _, matched = pending_request(ws, rid)
    assert other not in matched
    _, res = decide_erasure_request(ws, rid, erase=True, actor="cli:a")
    assert res is not None and other not in res.erased
    left = {r.id: r.phone for r in load_stored_reports(ws)}
    assert left.get(other) == other_phone


def test_erasing_an_altered_row_by_id_leaves_the_report_it_points_at(ws: Workspace) -> None:
    """The same by id: erasing a row whose ``dedupe`` was rewritten to another report's
    wiped that report as its "copy"."""
    phone, theirs = victim(ws)
    other, other_phone = _other(ws, phone)
    mine = min(theirs)
    sql(
        ws,
        "update victim_reports set dedupe = (select dedupe from victim_reports where id = ?) "
        "where id = ?",
        (other, mine),
    )
    res = erase_reports(ws, ids=[mine], reason="工单 2", actor="cli:a", apply=True)
    assert res.erased == [mine]
    left = {r.id: r.phone for r in load_stored_reports(ws)}
    assert left.get(other) == other_phone


def test_a_true_copy_still_goes_with_its_original(ws: Workspace) -> None:
    """Checked, holds (with the fix): a row copied whole (seal included) is erased with
    the report it copies."""
    phone, theirs = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 3", actor="token:cs")
    copy = copy_report_whole(ws, min(theirs))
    _, res = decide_erasure_request(ws, rid, erase=True, actor="cli:a")
    assert res is not None and copy in res.erased
    assert phone not in [r.phone for r in load_stored_reports(ws)]


def test_a_copy_of_a_report_named_by_id_is_not_matched_by_phone(ws: Workspace) -> None:
    """``matched_by_phone`` (what ``report erase --phone`` tells "no stored report is of
    that phone number" by) listed the copies of the reports named by id: erasing report N
    and a phone that never reported said nothing about the phone, and the JSON's
    ``matched_by_phone`` named a report the phone does not match."""
    _, theirs = victim(ws)
    mine = min(theirs)
    copy = copy_report_whole(ws, mine)
    res = erase_reports(ws, ids=[mine], phone=NEVER_REPORTED, reason="工单 5", actor="cli:a")
    assert copy in res.erased
    assert res.matched_by_phone == []


def test_the_list_counts_what_deciding_erases(ws: Workspace) -> None:
    """The list's count ("reports": how many stored reports erasing would erase now) did
    not count a copy made after the request, which the dry run and deciding erase: the
    analyst read one number on the list and another on the request's page."""
    phone, theirs = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 4", actor="token:cs")
    copy_report_whole(ws, min(theirs))
    _, matched = pending_request(ws, rid)
    (listed,) = [r for r in erasure_requests(ws) if r.id == rid]
    assert listed.matches == len(matched)


# ------------------------------------------------- the cap on a PostgreSQL ledger's takers


@pytest.fixture
def pg_ws(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:  # noqa: F811
    with postgres_workspace(postgres_url, tmp_path / "ws") as ws:
        yield ws


@pytest.mark.postgres
def test_the_cap_holds_on_a_repeatable_read_database(
    pg_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The advisory lock was the transaction's first statement: on a database whose
    default isolation is REPEATABLE READ (a DBA's setting, which leaktrace does not
    override), the transaction's snapshot is taken when that statement starts, before it
    waits for the lock, so the count after it did not see the request the other server
    committed meanwhile, and both went in past the cap."""
    engine = engine_for(pg_ws)
    database = engine.url.database
    with engine.connect() as c:
        c.execute(
            text(f"ALTER DATABASE {database} SET default_transaction_isolation = 'repeatable read'")
        )
        c.commit()
    engine.dispose()  # new connections take the database's default
    with engine.connect() as c:
        assert c.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
    monkeypatch.setattr(requests_module, "workspace_lock", lambda _home: contextlib.nullcontext())
    ids, refused = race_two_takers(pg_ws, monkeypatch)
    assert len(ids) == 1 and len(refused) == 1, (ids, refused)
