"""Erasure requests: customer service queues a victim's request without learning whether
the phone ever reported, and only an analyst's decision erases (or declines) it."""

from __future__ import annotations

import json
import re

import pytest

from conftest import run_cli
from leaktrace.attribution.erasure_requests import (
    DECLINED,
    ERASED,
    PENDING,
    decide_erasure_request,
    erasure_requests,
    request_erasure,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.store import load_erasures
from leaktrace.errors import InputError
from leaktrace.workspace import Workspace
from ledger.logs import rows, verify

from .conftest import reported_phones, secure_delete_off

NEVER_REPORTED = "13700000001"


@pytest.fixture
def ws(erasure_ws: Workspace) -> Workspace:
    return erasure_ws


def _victim(ws: Workspace) -> tuple[str, set[int]]:
    """A reporting phone and the ids of all its reports."""
    phones = reported_phones(ws)
    phone = phones[min(phones)]
    assert phone != NEVER_REPORTED
    return phone, {i for i, p in phones.items() if p == phone}


def test_a_request_erases_nothing_and_answers_alike_for_any_phone(ws: Workspace) -> None:
    phone, _ = _victim(ws)
    before = rows(ws, "select * from victim_reports")
    a = request_erasure(ws, phone=f"+86 {phone}", reason="工单 7", actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 8", actor="token:cs-agent")
    assert isinstance(a, int) and isinstance(b, int) and a != b
    assert rows(ws, "select * from victim_reports") == before
    assert not load_erasures(ws)
    stored = json.dumps(rows(ws, "select * from erasure_requests"), ensure_ascii=False)
    assert phone not in stored and NEVER_REPORTED not in stored  # digests only


def test_an_analyst_sees_how_many_reports_each_request_would_erase(ws: Workspace) -> None:
    phone, theirs = _victim(ws)
    a = request_erasure(ws, phone=phone, reason=None, actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason=None, actor="token:cs-agent")
    listed = {r.id: r for r in erasure_requests(ws)}
    assert (listed[a].matches, listed[b].matches) == (len(theirs), 0)
    assert {r.status for r in listed.values()} == {PENDING}
    assert listed[a].reason.startswith("个人信息主体请求删除")  # the default reason


def test_erasing_a_request_erases_that_phone_only_and_forgets_it(ws: Workspace) -> None:
    phone, theirs = _victim(ws)
    others = {s.id for s in load_stored_reports(ws)} - theirs
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")

    view, dry = decide_erasure_request(ws, rid, erase=True, actor="cli:ana", apply=False)
    assert dry is not None and set(dry.erased) == theirs and not dry.applied
    assert view.status == PENDING and {s.id for s in load_stored_reports(ws)} >= theirs

    view, res = decide_erasure_request(ws, rid, erase=True, actor="cli:ana")
    assert res is not None and set(res.erased) == theirs and res.applied
    assert (view.status, view.decided_by) == (ERASED, "cli:ana")
    assert view.note == f"{len(theirs)} report(s) erased"
    assert {s.id for s in load_stored_reports(ws)} == others
    erasures = load_erasures(ws)
    assert {erasures[i].reason for i in theirs} == {f"erasure request {rid}: 工单 7"}
    assert {erasures[i].actor for i in theirs} == {
        f"cli:ana on request {rid} taken by token:cs-agent"
    }
    assert rows(ws, f"select phone_digests from erasure_requests where id = {rid}") == [("[]",)]
    assert [r.matches for r in erasure_requests(ws, pending_only=False)] == [None]
    assert erasure_requests(ws) == []
    verify(ws)

    with pytest.raises(InputError, match="already decided"):
        decide_erasure_request(ws, rid, erase=True, actor="cli:ana")


def test_a_declined_request_erases_nothing_and_says_why(ws: Workspace) -> None:
    phone, theirs = _victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    with pytest.raises(InputError, match="declined"):
        decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note=" ")
    view, res = decide_erasure_request(
        ws, rid, erase=False, actor="cli:ana", note="公安机关调查中 (案号 A-12)"
    )
    assert res is None and (view.status, view.note) == (DECLINED, "公安机关调查中 (案号 A-12)")
    assert {s.id for s in load_stored_reports(ws)} >= theirs
    assert rows(ws, f"select phone_digests from erasure_requests where id = {rid}") == [("[]",)]


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"phone": "12345", "reason": None}, "not a mainland mobile number"),
        ({"phone": "13912345678", "reason": "客户 139 1234 5678"}, "phone or ID card"),
    ],
)
def test_a_bad_request_is_refused(ws: Workspace, kwargs: dict[str, str], says: str) -> None:
    with pytest.raises(InputError, match=says):
        request_erasure(ws, actor="token:cs-agent", **kwargs)  # type: ignore[arg-type]
    assert rows(ws, "select count(*) from erasure_requests") == [(0,)]


def test_unknown_request(ws: Workspace) -> None:
    with pytest.raises(InputError, match="no erasure request has id 42"):
        decide_erasure_request(ws, 42, erase=True, actor="cli:ana")


def test_the_cli_lists_erases_and_declines_requests(ws: Workspace) -> None:
    phone, theirs = _victim(ws)
    a = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 8", actor="token:cs-agent")

    listed = run_cli("report", "requests", "--json", home=ws.home)
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["matches"]) for r in json.loads(listed.stdout)] == [
        (a, len(theirs)),
        (b, 0),
    ]
    table = run_cli("report", "requests", home=ws.home)
    assert "工单 7" in table.stdout and phone not in table.stdout + table.stderr

    dry = run_cli("report", "erase", "--request", str(a), home=ws.home)
    assert dry.returncode == 0 and "would be erased" in dry.stdout
    done = run_cli("report", "erase", "--request", str(a), "--yes", "--json", home=ws.home)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert set(got["erasure"]["erased"]) == theirs and got["request"]["status"] == ERASED

    declined = run_cli("report", "decline-request", str(b), "--reason", "未核实身份", home=ws.home)
    assert declined.returncode == 0 and "declined" in declined.stdout

    again = run_cli("report", "erase", "--request", str(a), "--yes", home=ws.home)
    assert again.returncode == 2 and "already decided" in again.stderr
    assert "Traceback" not in again.stderr
    mixed = run_cli("report", "erase", "1", "--request", str(a), home=ws.home)
    assert mixed.returncode == 2 and "--request" in mixed.stderr
    assert run_cli("report", "requests", home=ws.home).stdout.strip() == (
        "no pending erasure requests"
    )


def test_one_taker_may_not_bury_the_analysts_list(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leaktrace.attribution.erasure_requests as module

    monkeypatch.setattr(module, "MAX_PENDING_PER_TAKER", 3)
    for i in range(3):
        request_erasure(ws, phone=f"1370000000{i}", reason=None, actor="token:cs-agent")
    with pytest.raises(InputError, match="3 erasure requests taken by this token are still"):
        request_erasure(ws, phone="13700000009", reason=None, actor="token:cs-agent")
    request_erasure(ws, phone="13700000009", reason=None, actor="token:cs-other")  # another
    first = erasure_requests(ws)[0].id
    decide_erasure_request(ws, first, erase=False, actor="cli:ana", note="重复请求")
    request_erasure(ws, phone="13700000009", reason=None, actor="token:cs-agent")  # room again


@pytest.mark.parametrize("erase", [True, False], ids=["erased", "declined"])
def test_a_decided_requests_digests_are_gone_from_the_file(ws: Workspace, erase: bool) -> None:
    """With the SQLite build's secure_delete default turned off, as elsewhere: the cleared
    digests are overwritten, not left in the file's free pages. (A property: on this build
    the small row's page is rewritten whole, so it holds without the decision's
    secure_delete too.)"""
    phone, _ = _victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    (digests,) = rows(ws, f"select phone_digests from erasure_requests where id = {rid}")[0]
    with secure_delete_off(ws):
        decide_erasure_request(ws, rid, erase=erase, actor="cli:ana", note="未核实身份")
    raw = (ws.home / "ledger.db").read_bytes()
    # as the request stored them ("1:<digest>"; the reports of a declined request keep
    # theirs, in their own form)
    assert all(d.encode() not in raw for d in json.loads(digests))


def test_already_decided_says_when_in_platform_time(ws: Workspace) -> None:
    """As `report requests` and the dashboard show it: UTC+8 with its offset."""
    from datetime import UTC, datetime, timedelta

    rid = request_erasure(ws, phone=NEVER_REPORTED, reason=None, actor="token:cs-agent")
    view, _ = decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="重复请求")
    assert view.decided_at is not None and view.decided_at.endswith("+00:00")  # stored in UTC
    with pytest.raises(InputError) as err:
        decide_erasure_request(ws, rid, erase=True, actor="cli:ana")
    shown = re.search(r"declined (\S+ \S+) by cli:ana", str(err.value))
    assert shown is not None, str(err.value)
    assert shown.group(1).endswith("+08:00")
    when = datetime.fromisoformat(shown.group(1))
    assert when == datetime.fromisoformat(view.decided_at)
    assert when.utcoffset() == timedelta(hours=8) and when.tzinfo != UTC


def test_a_request_records_the_firm_of_the_agent_who_took_it(ws: Workspace) -> None:
    a = request_erasure(
        ws, phone=NEVER_REPORTED, reason=None, actor="token:firm-agent", taker_recipient="zto"
    )
    b = request_erasure(ws, phone=NEVER_REPORTED, reason=None, actor="cli:ana")
    listed = {r.id: r for r in erasure_requests(ws)}
    assert (listed[a].taker_recipient, listed[b].taker_recipient) == ("zto", None)
    assert rows(ws, "select id, taker_recipient from erasure_requests order by id") == [
        (a, "zto"),
        (b, None),
    ]


def test_a_database_from_before_the_taker_firm_column_keeps_working(ws: Workspace) -> None:
    """The column is added to an older database when the workspace is opened."""
    import sqlite3

    from leaktrace.attribution import store

    old = request_erasure(ws, phone=NEVER_REPORTED, reason=None, actor="token:cs-agent")
    with sqlite3.connect(ws.home / "ledger.db") as con:
        con.execute("ALTER TABLE erasure_requests DROP COLUMN taker_recipient")
    store._ENGINES.clear()
    new = request_erasure(
        ws, phone=NEVER_REPORTED, reason=None, actor="token:firm", taker_recipient="zto"
    )
    listed = {r.id: r.taker_recipient for r in erasure_requests(ws)}
    assert listed == {old: None, new: "zto"}


def test_a_decline_can_be_pinned_at_once(ws: Workspace) -> None:
    """`report decline-request --checkpoint`, as `report erase --request N --yes
    --checkpoint`: a decision is sealed and pinned like the rest (a decline rewritten
    before the next checkpoint would otherwise go unseen)."""
    rid = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 9", actor="token:cs-agent")
    r = run_cli(
        "report", "decline-request", str(rid), "--reason", "未核实身份", "--checkpoint",
        home=ws.home,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert re.search(r"checkpoint \d+: .*1 erasure decisions", r.stderr), r.stderr


def test_the_cli_actor_is_the_system_user_without_user_variables(ws: Workspace) -> None:
    """A scheduler's or container's shell may set neither USER nor LOGNAME: the decision
    still names the system user (docs: ``cli:<system user>``), not a bare uid."""
    import os
    import pwd
    import subprocess
    import sys

    rid = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 10", actor="token:cs-agent")
    env = {k: v for k, v in os.environ.items() if k not in ("USER", "LOGNAME")}
    r = subprocess.run(
        [sys.executable, "-m", "leaktrace", "report", "decline-request", str(rid),
         "--reason", "未核实身份", "--json", "--home", str(ws.home)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["request"]["decided_by"] == (
        "cli:" + pwd.getpwuid(os.getuid()).pw_name
    )
