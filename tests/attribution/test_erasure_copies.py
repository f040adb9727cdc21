"""Erasing a report erases its copies: a row copied whole in the database is the same report.

A report row copied whole (seal included: the seal does not cover ``id``) is listed as a
``duplicate_row`` of the first and counted once. An erasure by request matched only the
reports stored up to the request (``up_to_id``), so a copy made afterwards, under a new id,
survived the erasure with the person's phone; with the original wiped it was no longer a
duplicate of anything and counted as evidence again. The impact's dry run, which finds
what deciding finds, missed it the same way. Both tests failed before the fix.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from leaktrace.attribution.erasure import erase_reports
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    pending_request,
    request_erasure,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.workspace import Workspace
from ledger.logs import copied, copy_report_whole
from served import reported_workspace, victim


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    home = tmp_path_factory.mktemp("copies") / "ws"
    reported_workspace(home, shop, "firm-agent", "cs-firm")
    return home


@pytest.fixture
def ws(base: Path, tmp_path: Path) -> Workspace:
    return copied(base, tmp_path)


def _phones_left(ws: Workspace) -> list[str | None]:
    return [r.phone for r in load_stored_reports(ws)]


def test_a_request_erases_a_copy_made_after_it_was_taken(ws: Workspace) -> None:
    phone, theirs = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs")
    copy = copy_report_whole(ws, min(theirs))
    assert {r.id: r.status for r in load_stored_reports(ws)}[copy] == "duplicate_row"
    _, matched = pending_request(ws, rid)
    assert set(matched) == theirs | {copy}  # the dry run (and the impact) see it
    _, res = decide_erasure_request(ws, rid, erase=True, actor="cli:a")
    assert res is not None and copy in res.erased
    assert phone not in _phones_left(ws)


def test_erasing_reports_by_id_erases_their_copies(ws: Workspace) -> None:
    phone, theirs = victim(ws)
    copy = copy_report_whole(ws, min(theirs))
    res = erase_reports(ws, ids=sorted(theirs), reason="工单 8", actor="cli:a", apply=True)
    assert copy in res.erased
    assert phone not in _phones_left(ws)
