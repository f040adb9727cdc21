"""Checkpoints pin erasure requests (by id and taking seal) and their decisions (by id and
decision seal, once decided): a request deleted, or a decision undone, after a checkpoint
is named by ``verify``; deciding a pinned request is no alarm."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

import leaktrace.ledger.checkpoint as checkpoint_module
from conftest import make_workspace, run_cli
from leaktrace.attribution import store
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    request_erasure,
    request_seal_problems,
)
from leaktrace.errors import ConfigError
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import Workspace

from .logs import add_wave, copied, one, rows, sql, verify

PHONE = "13700000001"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    """One small release and four reports (copied per test)."""
    home = tmp_path_factory.mktemp("cp-req") / "ws"
    ws = make_workspace(home)
    release(shop.head(400), recipient="zto", workspace=ws)
    add_wave(ws, shop.head(400), 4, seed=1)
    return home


@pytest.fixture
def ws(base: Path, tmp_path: Path) -> Workspace:
    return copied(base, tmp_path)


def _take(ws: Workspace, n: int) -> list[int]:
    return [
        request_erasure(ws, phone=PHONE, reason=f"工单 {i}", actor="token:cs-agent")
        for i in range(n)
    ]


def test_a_checkpoint_pins_requests_and_their_decisions(ws: Workspace) -> None:
    a, b = _take(ws, 2)
    cp = Ledger(ws).checkpoint()
    logs = cp.state["logs"]
    assert logs["erasure_requests"]["rows"] == 2 and logs["erasure_requests"]["runs"] == [[a, b]]
    assert logs["erasure_decisions"]["rows"] == 0  # pending: nothing decided to pin
    assert "2 erasure requests, 0 erasure decisions" in cp.pinned_text()
    assert verify(ws) == (True, None)


@pytest.mark.parametrize("erase", [True, False], ids=["erased", "declined"])
def test_deciding_a_pinned_request_is_no_alarm(ws: Workspace, erase: bool) -> None:
    (rid,) = _take(ws, 1)
    Ledger(ws).checkpoint()
    decide_erasure_request(ws, rid, erase=erase, actor="cli:ana", note="未核实身份")
    assert verify(ws) == (True, None)
    assert request_seal_problems(ws) == []
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 0, r.stderr
    cp2 = Ledger(ws).checkpoint()
    assert cp2.state["logs"]["erasure_decisions"]["runs"] == [[rid, rid]]
    assert cp2.state["logs"]["erasure_requests"]["rows"] == 0  # pinned by the first
    assert verify(ws) == (True, None)


@pytest.mark.parametrize("decided", [False, True], ids=["pending", "decided"])
def test_a_pinned_request_deleted_is_named(ws: Workspace, decided: bool) -> None:
    """What the request's own seal cannot show: a request that is gone."""
    _, b = _take(ws, 2)
    if decided:
        decide_erasure_request(ws, b, erase=False, actor="cli:ana", note="重复请求")
    Ledger(ws).checkpoint()
    sql(ws, f"delete from erasure_requests where id = {b}")
    assert request_seal_problems(ws) == []  # the rest all hold
    ok, problem = verify(ws)
    assert not ok and problem is not None and problem.startswith("checkpoint 1: ")
    assert "1 of the 2 erasure_requests rows it pinned are gone" in problem
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 2 and "erasure_requests" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("update erasure_requests set seal = NULL where id = {b}", "are gone"),
        ("update erasure_requests set id = {b} + 100 where id = {b}", "are gone"),
        ("update erasure_requests set seal = seal || ' ' where id = {b}", "were changed"),
        (
            "update erasure_requests set seal = case id "
            "when {a} then (select seal from erasure_requests where id = {b}) "
            "else (select seal from erasure_requests where id = {a}) end where id in ({a}, {b})",
            "were changed",
        ),
    ],
)
def test_a_pinned_requests_seal_stripped_moved_or_swapped_is_named(
    ws: Workspace, statement: str, says: str
) -> None:
    a, b = _take(ws, 2)
    Ledger(ws).checkpoint()
    sql(ws, statement.format(a=a, b=b))
    ok, problem = verify(ws)
    assert not ok and problem is not None and "erasure_requests" in problem and says in problem


def test_a_pinned_decision_undone_from_a_copy_of_the_pending_row_is_named(
    ws: Workspace,
) -> None:
    """Someone who kept the row as it was pending (digests and salt) puts it back after
    the decision: every seal of the old row holds, so only the pinned decision shows it."""
    (rid,) = _take(ws, 1)
    cols = "status, decided_at, decided_by, note, phone_digests, phone_salt, decision_seal"
    pending = rows(ws, f"select {cols} from erasure_requests where id = {rid}")[0]
    decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="公安机关调查中")
    Ledger(ws).checkpoint()
    assert verify(ws) == (True, None)
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    sql(ws, f"update erasure_requests set {sets} where id = {rid}", pending)
    assert request_seal_problems(ws) == []  # the pending row, as leaktrace wrote it
    ok, problem = verify(ws)
    assert not ok and problem is not None and problem.startswith("checkpoint 1: ")
    assert "erasure_decisions" in problem and "are gone" in problem


def test_a_checkpoint_from_before_requests_were_covered_still_verifies(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    (a,) = _take(ws, 1)
    old = tuple(log for log in checkpoint_module.COVERED_LOGS if log.table != "erasure_requests")
    monkeypatch.setattr(checkpoint_module, "COVERED_LOGS", old)
    cp = Ledger(ws).checkpoint()
    assert "erasure_requests" not in cp.state["logs"]
    monkeypatch.undo()
    assert verify(ws) == (True, None)
    cp2 = Ledger(ws).checkpoint()
    assert cp2.state["logs"]["erasure_requests"]["runs"] == [[a, a]]
    assert verify(ws) == (True, None)


def test_a_database_from_before_request_seals_with_checkpoints(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests without the seal columns and a checkpoint made before requests were
    covered: verify is clean before anything adds the columns (no "unreadable"); the
    library's checkpoint says what to do; once added, the old (unsealed) requests are not
    pinned and may be deleted, and new ones are pinned."""
    (old,) = _take(ws, 1)
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        for column in ("seal", "decision_seal", "phone_salt", "phone_commitment"):
            con.execute(f"ALTER TABLE erasure_requests DROP COLUMN {column}")
        con.commit()
    store._ENGINES.clear()
    covered = checkpoint_module.COVERED_LOGS
    monkeypatch.setattr(
        checkpoint_module,
        "COVERED_LOGS",
        tuple(log for log in covered if log.table != "erasure_requests"),
    )
    Ledger(ws).checkpoint()  # as the version before made it
    monkeypatch.undo()
    assert verify(ws) == (True, None)
    assert run_cli("verify", home=ws.home).returncode == 0
    with pytest.raises(ConfigError, match="erasure_requests has no column seal"):
        Ledger(ws).checkpoint()
    r = run_cli("checkpoint", "--json", home=ws.home)  # adds the columns first
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["logs"]["erasure_requests"]["rows"] == 0  # unsealed
    assert verify(ws) == (True, None)
    (new,) = _take(ws, 1)
    assert new > old
    cp = Ledger(ws).checkpoint()
    assert cp.state["logs"]["erasure_requests"]["runs"] == [[new, new]]
    sql(ws, f"delete from erasure_requests where id = {old}")  # unsealed: may go
    assert verify(ws) == (True, None)
    assert one(ws, "select count(*) from erasure_requests") == 1


def test_cli_checkpoints_lists_requests_and_decisions(ws: Workspace) -> None:
    (rid,) = _take(ws, 1)
    Ledger(ws).checkpoint()
    decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="重复请求")
    r = run_cli("checkpoint", home=ws.home)
    assert r.returncode == 0 and "0 erasure requests, 1 erasure decisions" in r.stderr
    r = run_cli("checkpoints", "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    assert [
        (c["logs"]["erasure_requests"]["rows"], c["logs"]["erasure_decisions"]["rows"])
        for c in json.loads(r.stdout)
    ] == [(1, 0), (0, 1)]
    assert run_cli("checkpoints", home=ws.home).returncode == 0
