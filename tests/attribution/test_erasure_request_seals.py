"""Erasure requests are sealed: a request altered, forged or put back in the database is
named by ``verify``, marked in the analysts' list, and never acted on.

A request lost from the database before it is checkpointed cannot be shown (as for every
log); one a checkpoint pinned can: tests/ledger/test_checkpoint_erasure_requests.py."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from conftest import run_cli
from leaktrace.attribution import store
from leaktrace.attribution.erasure_impact import erasure_impact
from leaktrace.attribution.erasure_requests import (
    DECLINED,
    ERASED,
    PENDING,
    decide_erasure_request,
    erasure_requests,
    pending_request,
    request_erasure,
    request_seal_problems,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.store import load_erasures
from leaktrace.errors import InputError
from leaktrace.server.app import verify_ledger
from leaktrace.workspace import Workspace
from ledger.logs import one, rows, sql, verify

from .conftest import reported_phones, secure_delete_off

NEVER_REPORTED = "13700000001"


@pytest.fixture
def ws(erasure_ws: Workspace) -> Workspace:
    return erasure_ws


def _victims(ws: Workspace) -> list[tuple[str, set[int]]]:
    """Each reporting phone and the ids of its reports, in order of their first report."""
    out: dict[str, set[int]] = {}
    for i, phone in sorted(reported_phones(ws).items()):
        out.setdefault(phone, set()).add(i)
    return list(out.items())


def _listed(ws: Workspace, rid: int) -> dict[str, object]:
    return next(r.as_dict() for r in erasure_requests(ws, pending_only=False) if r.id == rid)


def _named(ws: Workspace, rid: int) -> str:
    """What verify says: the library's lines (one names request ``rid``), the service's
    answer and the CLI (one line, exit code 2), which name the first. Returns the CLI's
    line."""
    problems = request_seal_problems(ws)
    assert problems and all(p.count("\n") == 0 for p in problems)
    assert any(p.startswith(f"erasure request {rid} ") for p in problems), problems
    answer = verify_ledger(ws)
    assert answer["ok"] is False and answer["problem"] == problems[0]
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and problems[0] in r.stderr
    return r.stderr


def _secrets(ws: Workspace, rid: int) -> list[str]:
    """What must never be shown: the request's seals and digests, the workspace's subkeys."""
    seal, decision_seal, digests = rows(
        ws, f"select seal, decision_seal, phone_digests from erasure_requests where id = {rid}"
    )[0]
    out = [s.partition(":")[2] for s in (seal, decision_seal) if s]
    out += [d.partition(":")[2] for d in json.loads(digests or "[]")]
    v = ws.keys.current_version
    out += [
        bytes(ws.keys.derive(p, v)).hex() for p in ("erasure-request-seal", "erasure-decision-seal")
    ]
    return [s for s in out if s]


# --------------------------------------------------------------------- sealed and clean


def test_a_request_is_sealed_when_taken_and_when_decided(ws: Workspace) -> None:
    (phone, theirs), *_ = _victims(ws)
    a = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    b = request_erasure(
        ws, phone=NEVER_REPORTED, reason="工单 8", actor="token:agent", taker_recipient="zto"
    )
    seal, decision_seal = rows(
        ws, f"select seal, decision_seal from erasure_requests where id={a}"
    )[0]
    assert seal.startswith("v1:") and len(seal) == 3 + 64 and decision_seal is None
    assert {r.id: (r.sealed, r.seal_problem) for r in erasure_requests(ws)} == {
        a: (True, ""),
        b: (True, ""),
    }
    assert request_seal_problems(ws) == []
    decide_erasure_request(ws, a, erase=True, actor="cli:ana")
    decide_erasure_request(ws, b, erase=False, actor="cli:ana", note="未核实身份")
    after = rows(ws, "select seal, decision_seal, phone_salt, phone_digests from erasure_requests")
    assert all(r[0] and r[0].startswith("v1:") for r in after)  # the taking seal kept
    assert all(r[1] and r[1].startswith("v1:") for r in after)  # the decision sealed
    assert all(r[2] is None and r[3] == "[]" for r in after)  # nothing left of the phone
    listed = {r.id: r for r in erasure_requests(ws, pending_only=False)}
    assert [(listed[i].status, listed[i].sealed) for i in (a, b)] == [
        (ERASED, True),
        (DECLINED, True),
    ]
    assert request_seal_problems(ws) == []
    assert verify_ledger(ws)["ok"] is True
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 0, r.stderr
    assert {s.id for s in load_stored_reports(ws)}.isdisjoint(theirs)


# ------------------------------------------------------------- a pending request altered


@pytest.mark.parametrize(
    "change",
    [
        "reason = '工单 9'",
        "actor = 'token:someone-else'",
        "taker_recipient = NULL",  # a firm's agent passed off as the platform's own staff
        "taker_recipient = 'yto'",
        "last_report_id = last_report_id + 100",  # reports made since brought under it
        "received_at = '2020-01-01T00:00:00+00:00'",
        "id = id + 100",  # another request's number
        "phone_salt = (case when substr(phone_salt, 1, 2) = '00' then 'ff' else '00' end) "
        "|| substr(phone_salt, 3)",
        "phone_commitment = upper(phone_commitment)",
        "seal = seal || '0'",
        "seal = 'v9:' || substr(seal, 4)",  # a key version this workspace lacks
        "note = 'person withdrew'",  # a decision written into a pending request
        "decision_seal = 'v1:' || substr(seal, 4)",
    ],
)
def test_a_pending_request_altered_is_named_and_never_acted_on(ws: Workspace, change: str) -> None:
    (phone, theirs), *_ = _victims(ws)
    rid = request_erasure(
        ws, phone=phone, reason="工单 7", actor="token:cs-agent", taker_recipient="cs-firm"
    )
    sql(ws, f"update erasure_requests set {change} where id = {rid}")
    rid = one(ws, "select max(id) from erasure_requests")
    said = _named(ws, rid)
    assert phone not in said and not any(s in said for s in _secrets(ws, rid))
    listed = _listed(ws, rid)
    assert listed["sealed"] is False and "seal" in str(listed["seal_problem"])
    assert listed["matches"] is None  # what a forged request names is not counted
    for act in (
        lambda: decide_erasure_request(ws, rid, erase=True, actor="cli:ana"),
        lambda: decide_erasure_request(ws, rid, erase=True, actor="cli:ana", apply=False),
        lambda: decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="x"),
        lambda: pending_request(ws, rid),
        lambda: erasure_impact(ws, rid),
    ):
        with pytest.raises(InputError, match=f"erasure request {rid} fails its seal") as err:
            act()
        assert "\n" not in str(err.value) and phone not in str(err.value)
    assert {s.id for s in load_stored_reports(ws)} >= theirs
    assert not load_erasures(ws)
    cli = run_cli("report", "erase", "--request", str(rid), "--yes", home=ws.home)
    assert cli.returncode == 2 and "fails its seal" in cli.stderr
    assert "Traceback" not in cli.stderr and cli.stderr.count("\n") == 1


def test_a_forged_request_cannot_erase_anothers_reports(ws: Workspace) -> None:
    """Someone with database access points a request at another victim's reports (their
    digests copied from a request of that victim's), or writes a request of their own."""
    (phone_a, _), (phone_b, theirs_b), *_ = _victims(ws)
    a = request_erasure(ws, phone=phone_a, reason="工单 1", actor="token:cs-agent")
    b = request_erasure(ws, phone=phone_b, reason="工单 2", actor="token:cs-agent")
    sql(
        ws,
        "update erasure_requests set phone_digests = "
        f"(select phone_digests from erasure_requests where id = {b}) where id = {a}",
    )
    decide_erasure_request(ws, b, erase=False, actor="cli:ana", note="未核实身份")
    _named(ws, a)
    with pytest.raises(InputError, match="fails its seal"):
        decide_erasure_request(ws, a, erase=True, actor="cli:ana")
    # a request made up whole, with a seal-shaped value
    sql(
        ws,
        "insert into erasure_requests (received_at, actor, reason, phone_digests, "
        "last_report_id, status, decided_by, note, phone_salt, phone_commitment, seal) "
        "select received_at, actor, '工单 3', phone_digests, last_report_id, 'pending', '', '', "
        f"'{'11' * 32}', '{'22' * 32}', 'v1:{'33' * 32}' from erasure_requests where id = {a}",
    )
    forged = one(ws, "select max(id) from erasure_requests")
    _named(ws, forged)
    with pytest.raises(InputError, match=f"erasure request {forged} fails its seal"):
        decide_erasure_request(ws, forged, erase=True, actor="cli:ana")
    assert {s.id for s in load_stored_reports(ws)} >= theirs_b and not load_erasures(ws)


def test_seals_swapped_between_requests_fail_both(ws: Workspace) -> None:
    a = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 1", actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 1", actor="token:cs-agent")
    seal_a, seal_b = (one(ws, f"select seal from erasure_requests where id = {i}") for i in (a, b))
    sql(ws, "update erasure_requests set seal = ? where id = ?", (seal_b, a))
    sql(ws, "update erasure_requests set seal = ? where id = ?", (seal_a, b))
    assert len(request_seal_problems(ws)) == 2
    assert {r.id: r.sealed for r in erasure_requests(ws)} == {a: False, b: False}


def test_a_seal_stripped_after_sealing_began_is_named(ws: Workspace) -> None:
    """A request without a seal counts as taken before requests were sealed only while no
    earlier request is sealed: ids only grow, and every request taken since is sealed."""
    a = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 1", actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 2", actor="token:cs-agent")
    sql(ws, f"update erasure_requests set seal = NULL where id = {b}")
    _named(ws, b)
    assert _listed(ws, b)["sealed"] is False and _listed(ws, a)["sealed"] is True
    with pytest.raises(InputError, match=f"erasure request {b} fails its seal"):
        decide_erasure_request(ws, b, erase=False, actor="cli:ana", note="x")


# ------------------------------------------------------------- a decided request altered


@pytest.mark.parametrize(
    ("erase", "change"),
    [
        (False, "note = '用户撤回'"),  # a decline's reason rewritten
        (False, "decided_by = 'cli:boss'"),
        (False, "decided_at = '2020-01-01T00:00:00+00:00'"),
        (True, "status = 'declined'"),  # an erasure passed off as a decline
        (False, "status = 'erased'"),
        (True, "note = '0 report(s) erased'"),
        (True, "decision_seal = NULL"),
        (True, "decision_seal = seal"),
        (False, "reason = '工单 99'"),  # the taking facts stay sealed after the decision
        (True, "taker_recipient = 'zto'"),
        (
            # put back to pending (what a decided row lost cannot be put back with it)
            True,
            "status = 'pending', decided_at = NULL, decided_by = '', note = '', "
            "decision_seal = NULL",
        ),
    ],
)
def test_a_decided_request_altered_is_named(ws: Workspace, erase: bool, change: str) -> None:
    (phone, _), *_ = _victims(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    decide_erasure_request(ws, rid, erase=erase, actor="cli:ana", note="公安机关调查中")
    assert request_seal_problems(ws) == []
    sql(ws, f"update erasure_requests set {change} where id = {rid}")
    said = _named(ws, rid)
    assert phone not in said and not any(s in said for s in _secrets(ws, rid))
    assert _listed(ws, rid)["sealed"] is False
    with pytest.raises(InputError, match=f"erasure request {rid} fails its seal"):
        decide_erasure_request(ws, rid, erase=True, actor="cli:ana")


def test_the_phone_salt_is_gone_from_the_file_once_decided(ws: Workspace) -> None:
    """What stays of the phone after the decision (its commitment, which the taking seal
    covers) leads nowhere once the salt is gone: the salt is cleared, and overwritten in
    the file, with the digests."""
    (phone, _), *_ = _victims(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs-agent")
    (salt,) = rows(ws, f"select phone_salt from erasure_requests where id = {rid}")[0]
    assert isinstance(salt, str) and len(salt) == 64
    with secure_delete_off(ws):
        decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="未核实身份")
    assert salt.encode() not in (ws.home / "ledger.db").read_bytes()
    assert request_seal_problems(ws) == []


# ------------------------------------------------------------------ an older database


_NEW_COLUMNS = ("seal", "decision_seal", "phone_salt", "phone_commitment")


def test_a_database_from_before_request_seals(ws: Workspace) -> None:
    """Requests taken before seals existed: still listed (unsealed, never vouched for),
    verify is clean, an unsealed request is not erased (nothing vouches for the phone it
    names) but may be declined; requests taken since are sealed and acted on."""
    (phone_a, theirs_a), (phone_b, theirs_b), *_ = _victims(ws)
    old_pending = request_erasure(ws, phone=phone_a, reason="工单 1", actor="token:cs-agent")
    old_decided = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 2", actor="cli:ana")
    decide_erasure_request(ws, old_decided, erase=False, actor="cli:ana", note="重复请求")
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        for column in _NEW_COLUMNS:
            con.execute(f"ALTER TABLE erasure_requests DROP COLUMN {column}")
        con.commit()
    store._ENGINES.clear()
    assert request_seal_problems(ws) == []  # read-only: before anything adds the columns
    assert verify(ws) == (True, None) and run_cli("verify", home=ws.home).returncode == 0
    listed = {r.id: r for r in erasure_requests(ws, pending_only=False)}  # adds them
    have = {r[1] for r in rows(ws, "pragma table_info(erasure_requests)")}
    assert have >= set(_NEW_COLUMNS)
    for rid in (old_pending, old_decided):
        assert listed[rid].sealed is False
        assert "before erasure requests were sealed" in listed[rid].seal_problem
    assert listed[old_pending].matches == len(theirs_a)  # still told, for the analyst
    assert request_seal_problems(ws) == [] and verify_ledger(ws)["ok"] is True
    table = run_cli("report", "requests", "--all", home=ws.home)
    assert table.returncode == 0 and table.stdout.count(" none ") == 2
    with pytest.raises(InputError, match=f"erasure request {old_pending} has no seal"):
        decide_erasure_request(ws, old_pending, erase=True, actor="cli:ana")
    with pytest.raises(InputError, match="has no seal"):
        pending_request(ws, old_pending)
    assert {s.id for s in load_stored_reports(ws)} >= theirs_a
    view, _ = decide_erasure_request(
        ws, old_pending, erase=False, actor="cli:ana", note="无封印: 重新受理"
    )
    assert view.status == DECLINED
    new = request_erasure(ws, phone=phone_b, reason="工单 3", actor="token:cs-agent")
    assert _listed(ws, new)["sealed"] is True
    _, res = decide_erasure_request(ws, new, erase=True, actor="cli:ana")
    assert res is not None and set(res.erased) == theirs_b
    assert request_seal_problems(ws) == [] and verify_ledger(ws)["ok"] is True
    # the old declined request's decision is sealed now: rewriting it is named
    sql(ws, f"update erasure_requests set note = 'x' where id = {old_pending}")
    _named(ws, old_pending)


def test_the_lists_mark_a_request_whose_seal_fails(ws: Workspace) -> None:
    a = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 1", actor="token:cs-agent")
    b = request_erasure(ws, phone=NEVER_REPORTED, reason="工单 2", actor="token:cs-agent")
    sql(ws, f"update erasure_requests set reason = '工单 3' where id = {b}")
    listed = json.loads(run_cli("report", "requests", "--json", home=ws.home).stdout)
    assert [(r["id"], r["sealed"]) for r in listed] == [(a, True), (b, False)]
    table = run_cli("report", "requests", home=ws.home).stdout
    assert table.count("FAILS") == 1 and table.count(" ok ") == 1
    assert PENDING in table
