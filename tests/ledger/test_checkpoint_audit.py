"""Audit of signed checkpoints (leaktrace.ledger.checkpoint, as of commit ad3970f).

Passing tests: what held under attack (database-only edits that are named, legitimate use
that never fails verify, clean one-line errors). ``xfail(strict=True)`` tests: bugs found,
each asserting the correct behaviour, so they fail until the bug is fixed.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import leaktrace.ledger.checkpoint as cpmod
import leaktrace.ledger.ledger as ledger_mod
from conftest import make_workspace, run_cli
from leaktrace.attribution.reports import add_reports
from leaktrace.errors import LedgerIntegrityError, SigningPassphraseError
from leaktrace.ledger import Ledger
from leaktrace.ledger.checkpoint import HEAD_FILE, make_checkpoint
from leaktrace.release import release
from leaktrace.respond.incident import add_event, incident_ids, open_incident
from leaktrace.workspace import Workspace, open_workspace

from .logs import (
    add_wave,
    canary_contact,
    copied,
    hit,
    one,
    report_objs,
    rows,
    sql,
    verify,
)

LOGS = ("victim_reports", "canary_hits", "incident_events")

# ---------------------------------------------------------------------------- helpers


def _head(ws: Workspace) -> str | None:
    p = ws.home / HEAD_FILE
    return p.read_text() if p.exists() else None


def _copy_columns(table: str) -> str:
    """Every column of a covered table but id, for ``insert ... select``."""
    cols = {
        "victim_reports": "received_at, source, reported_at, channel, caller, quoted_roles, "
        "loss, has_receipt, fraud_type, stages, status, reason, customer, dedupe, "
        "key_version, blob",
        "canary_hits": "at, channel, caller, contact, knew, status, recipient, release_id, reason",
        "incident_events": "incident_id, seq, at, kind, body, prev_hash, event_hash",
    }
    return cols[table]


@pytest.fixture(scope="module")
def small(shop: pl.DataFrame) -> pl.DataFrame:
    return shop.head(400)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, small: pl.DataFrame) -> Path:
    """Two small releases, 4 reports, 1 hit, 1 incident of 2 events (copied per test)."""
    home = tmp_path_factory.mktemp("audit") / "ws"
    ws = make_workspace(home)
    release(small, recipient="zto", workspace=ws)
    release(small, recipient="cs-firm", workspace=ws)
    add_wave(ws, small, 4, seed=1)
    hit(ws, canary_contact(ws))
    inc = open_incident(ws, "快递面单泄露", datetime.now(UTC) - timedelta(days=1))
    add_event(ws, inc.id, "measure", {"text": "通知快递公司停用该账号"})
    return home


@pytest.fixture
def ws(base: Path, tmp_path: Path) -> Workspace:
    return copied(base, tmp_path)


# ------------------------------------------------- detection: database-only edits that hold


@pytest.mark.parametrize(
    ("script", "table", "says"),
    [
        ("update victim_reports set seal = seal || '  ' where id = 2", "victim_reports", "changed"),
        ("update victim_reports set seal = upper(seal) where id = 2", "victim_reports", "changed"),
        ("update victim_reports set seal = NULL where id = 2", "victim_reports", "gone"),
        ("update victim_reports set seal = '' where id = 2", "victim_reports", "gone"),
        ("update victim_reports set id = -2 where id = 2", "victim_reports", "gone"),
        ("update victim_reports set id = 1000 where id = 4", "victim_reports", "gone"),
        (
            # two pinned rows swap ids (through a free one): both still there, not as they were
            "update victim_reports set id = 99 where id = 1; "
            "update victim_reports set id = 1 where id = 2; "
            "update victim_reports set id = 2 where id = 99",
            "victim_reports",
            "changed",
        ),
        (
            "update victim_reports set seal = case id "
            "when 1 then (select seal from victim_reports where id = 3) "
            "else (select seal from victim_reports where id = 1) end where id in (1, 3)",
            "victim_reports",
            "changed",
        ),
        ("update canary_hits set seal = 5", "canary_hits", "changed"),
        ("update canary_hits set seal = ' ' || seal", "canary_hits", "changed"),
        ("delete from canary_hits", "canary_hits", "gone"),
        ("update incident_events set seq = seq + 10 where id = 2", "incident_events", "changed"),
        (
            "update incident_events set incident_id = 'INC-20000101-00000000' where id = 2",
            "incident_events",
            "changed",
        ),
        (
            "update incident_events set event_hash = upper(event_hash) where id = 1",
            "incident_events",
            "changed",
        ),
        ("drop table incident_events", "incident_events", "gone"),
        (
            # the table hidden behind a view that leaves a report out
            "alter table victim_reports rename to vr_old; "
            "create view victim_reports as select * from vr_old where id <> 2",
            "victim_reports",
            "gone",
        ),
    ],
)
def test_database_only_edits_of_pinned_rows_are_named(
    ws: Workspace, script: str, table: str, says: str
) -> None:
    Ledger(ws).checkpoint()
    sql(ws, script)
    ok, problem = verify(ws)
    assert not ok, script
    assert problem is not None and problem.startswith("checkpoint 1: ")
    assert table in problem and says in problem


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("update checkpoints set seq = 5 where seq = 2", "checkpoint 3 out of order"),
        (
            "update checkpoints set prev_hash = (select checkpoint_hash from checkpoints "
            "where seq = 1) where seq = 3",
            "checkpoint 3 does not link",
        ),
        (
            # a copy of checkpoint 1 in a table without the primary key
            "create table cp2 as select * from checkpoints; "
            "insert into cp2 select * from checkpoints where seq = 1; "
            "drop table checkpoints; alter table cp2 rename to checkpoints",
            "checkpoint 1 out of order",
        ),
        (
            "update checkpoints set state = json_set(state, '$.releases.seq', 1) where seq = 3",
            "checkpoint 3 was altered",
        ),
        ("update checkpoints set signature = '' where seq = 2", "checkpoint 2 has an invalid"),
        ("update checkpoints set created = 7 where seq = 2", "checkpoint 2 was altered"),
        ("update checkpoints set state = 42 where seq = 2", "checkpoint 2 is unreadable"),
        ("delete from checkpoints where seq = 3", HEAD_FILE),
    ],
)
def test_database_only_edits_of_checkpoint_rows_are_named(
    ws: Workspace, script: str, says: str
) -> None:
    for _ in range(3):
        Ledger(ws).checkpoint()
    sql(ws, script)
    ok, problem = verify(ws)
    assert not ok and problem is not None and says in problem, problem


@pytest.mark.parametrize(
    "script",
    [
        # the same JSON, other key order and spacing: the hash is over the parsed state
        "update checkpoints set state = json(state)",
        "update checkpoints set state = json_insert(json_remove(state, '$.logs'), '$.logs', "
        "json_extract(state, '$.logs'))",
        # a duplicate key before the real one: parsed, it is the signed state again
        "update checkpoints set state = '{\"logs\":{},' || substr(state, 2)",
        # the same signature in upper-case hex
        "update checkpoints set signature = upper(signature)",
    ],
)
def test_rewriting_a_checkpoint_without_changing_its_meaning_is_harmless(
    ws: Workspace, script: str
) -> None:
    """What verify checks is the parsed, signed state: a rewrite that keeps its meaning
    changes nothing that is pinned (and so is, correctly, no alarm)."""
    cp = Ledger(ws).checkpoint()
    sql(ws, script)
    res = Ledger(ws).verify()
    assert res.ok, res.problem
    assert res.checkpoint_hash == cp.checkpoint_hash
    sql(ws, "delete from victim_reports where id = 3")  # and it still pins what it pinned
    ok, problem = verify(ws)
    assert not ok and problem is not None and "victim_reports" in problem


def test_a_pinned_report_altered_but_keeping_its_seal_is_caught_by_the_seal(
    ws: Workspace,
) -> None:
    """The digest covers ids and seals only: a pinned report's other columns rewritten
    verify (by design), and the row's own seal is the safety net that leaves it out of
    ``attribute`` (which says so: 'left out: 1 report(s) without a valid seal')."""
    from leaktrace.attribution.store import load_reports, report_is_sealed

    Ledger(ws).checkpoint()
    sql(ws, "update victim_reports set status = 'malformed' where id = 2")
    sealed = {r.id: report_is_sealed(ws, r) for r in load_reports(ws)}
    assert sealed == {1: True, 2: False, 3: True, 4: True}


# ---------------------------------------------------------- no false alarms: what held


def test_intake_between_checkpoints_and_empty_checkpoints_verify(
    ws: Workspace, small: pl.DataFrame
) -> None:
    first = Ledger(ws).checkpoint()
    second = Ledger(ws).checkpoint()  # nothing new
    assert all(second.state["logs"][t]["rows"] == 0 for t in LOGS)
    assert verify(ws) == (True, None)
    new = add_wave(ws, small, 3, seed=2)
    hit(ws, canary_contact(ws, 1), hours=2)
    (iid,) = incident_ids(ws)
    add_event(ws, iid, "measure", {"text": "再次通知"})
    assert verify(ws) == (True, None)  # new rows are not pinned yet, and no alarm
    third = Ledger(ws).checkpoint()
    logs = third.state["logs"]
    assert (logs["victim_reports"]["rows"], logs["canary_hits"]["rows"]) == (3, 1)
    assert logs["incident_events"]["rows"] == 1
    assert logs["victim_reports"]["runs"] == [[new[0], new[-1]]]
    assert first.state["logs"]["victim_reports"]["rows"] == 4
    res = Ledger(ws).verify()
    assert res.ok and res.checkpoints == 3, res.problem


def test_key_rotation_and_a_release_between_checkpoints_verify(
    ws: Workspace, small: pl.DataFrame
) -> None:
    Ledger(ws).checkpoint()
    assert ws.keys.rotate() == 2
    ws = open_workspace(ws.home)
    assert verify(ws) == (True, None)
    new = add_wave(ws, small, 2, seed=5)
    assert all(s.startswith("v2:") for (s,) in rows(ws, "select seal from victim_reports")[-2:])
    release(small, recipient="yto", workspace=ws)
    assert verify(ws) == (True, None)
    cp = Ledger(ws).checkpoint()
    assert cp.state["releases"]["seq"] == 3
    assert cp.state["logs"]["victim_reports"]["runs"] == [[new[0], new[-1]]]
    assert verify(ws) == (True, None)
    r = run_cli("keys", "rotate", home=ws.home)
    assert r.returncode == 0, r.stderr
    r = run_cli("checkpoint", home=ws.home)
    assert r.returncode == 0, r.stderr
    assert run_cli("verify", home=ws.home).returncode == 0


def test_adding_the_same_reports_again_is_a_duplicate_and_verifies(
    ws: Workspace, small: pl.DataFrame
) -> None:
    objs = report_objs(ws, small, 3, seed=7)
    assert len(add_reports(ws, objs).ids) == 3
    Ledger(ws).checkpoint()
    again = add_reports(ws, objs)
    assert (again.ids, again.duplicates) == ([], 3)
    cp = Ledger(ws).checkpoint()
    assert cp.state["logs"]["victim_reports"]["rows"] == 0
    assert verify(ws) == (True, None)


def test_a_checkpoint_before_any_log_table_exists(tmp_path: Path, small: pl.DataFrame) -> None:
    ws = make_workspace(tmp_path / "ws")
    release(small, recipient="zto", workspace=ws)
    present = {r[0] for r in rows(ws, "select name from sqlite_master where type = 'table'")}
    assert not present & set(LOGS)
    cp = Ledger(ws).checkpoint()
    assert all(cp.state["logs"][t]["rows"] == 0 for t in LOGS)
    assert verify(ws) == (True, None)
    add_wave(ws, small, 2, seed=3)
    hit(ws, canary_contact(ws))
    open_incident(ws, "t", datetime.now(UTC) - timedelta(days=1))
    assert verify(ws) == (True, None)
    cp2 = Ledger(ws).checkpoint()
    assert [cp2.state["logs"][t]["rows"] for t in LOGS] == [2, 1, 1]
    assert verify(ws) == (True, None)
    sql(ws, "delete from canary_hits")
    ok, problem = verify(ws)
    assert not ok and problem is not None and problem.startswith("checkpoint 2: ")


def test_a_database_from_before_seals_upgraded_then_cleaned_up(
    ws: Workspace, small: pl.DataFrame
) -> None:
    """Seal columns dropped (an old database); the CLI's path adds them back (rows
    unsealed); new reports are pinned; deleting the old unsealed rows is allowed."""
    from leaktrace.attribution import store

    sql(
        ws,
        "alter table victim_reports drop column seal; alter table canary_hits drop column seal",
    )
    store._ENGINES.clear()
    assert verify(ws) == (True, None)
    store.engine_for(ws)  # what `leaktrace checkpoint` does first
    cp = Ledger(ws).checkpoint()
    assert cp.state["logs"]["victim_reports"]["rows"] == 0
    assert cp.state["logs"]["canary_hits"]["rows"] == 0
    new = add_wave(ws, small, 2, seed=9)
    Ledger(ws).checkpoint()
    sql(ws, f"delete from victim_reports where id < {new[0]}; delete from canary_hits")
    assert verify(ws) == (True, None)
    add_wave(ws, small, 1, seed=11)
    assert verify(ws) == (True, None)
    Ledger(ws).checkpoint()
    assert verify(ws) == (True, None)
    sql(ws, f"delete from victim_reports where id = {new[1]}")
    ok, problem = verify(ws)
    assert not ok and problem is not None and problem.startswith("checkpoint 2: ")


def test_concurrent_intake_and_checkpoints_cause_no_false_alarm(
    ws: Workspace, small: pl.DataFrame
) -> None:
    """Reports, hits and incident events written from threads while checkpoints are
    taken in a loop: every sealed row ends up pinned exactly once, and verify holds."""
    batches = [report_objs(ws, small, 2, seed=100 + k) for k in range(6)]
    tokens = [canary_contact(ws, k) for k in range(3)]
    (iid,) = incident_ids(ws)
    errors: list[str] = []
    done = threading.Event()

    def intake(k: int) -> None:
        try:
            for j in range(k, len(batches), 2):
                add_reports(ws, batches[j])
                hit(ws, tokens[j % 3], hours=j + 2)
                add_event(ws, iid, "measure", {"text": f"批次 {j}"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    def checkpoints() -> None:
        try:
            while not done.is_set():
                Ledger(ws).checkpoint()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    workers = [threading.Thread(target=intake, args=(k,)) for k in range(2)]
    cp_thread = threading.Thread(target=checkpoints)
    cp_thread.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    done.set()
    cp_thread.join()
    assert errors == []
    Ledger(ws).checkpoint()
    assert verify(ws) == (True, None)
    states = [json.loads(s) for (s,) in rows(ws, "select state from checkpoints order by seq")]
    for t in LOGS:
        pinned = sum(s["logs"][t]["rows"] for s in states)
        sealed = one(ws, f"select count(*) from {t} where seal is not null and seal <> ''")
        assert pinned == sealed, t


# ---------------------------------------------------------- errors: what held


def test_checkpoint_with_a_protected_key_and_no_passphrase(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger(ws).checkpoint()
    ws.keys.protect_signing_key("correct horse battery")
    monkeypatch.delenv("LEAKTRACE_SIGNING_PASSPHRASE", raising=False)
    head = _head(ws)
    r = run_cli("checkpoint", home=ws.home)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "LEAKTRACE_SIGNING_PASSPHRASE" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(SigningPassphraseError):
        Ledger(open_workspace(ws.home)).checkpoint()
    assert one(ws, "select count(*) from checkpoints") == 1 and _head(ws) == head
    monkeypatch.setenv("LEAKTRACE_SIGNING_PASSPHRASE", "correct horse battery")
    assert Ledger(open_workspace(ws.home)).checkpoint().seq == 2
    assert verify(ws) == (True, None)


def test_checkpoint_of_a_tampered_ledger_or_a_missing_workspace_writes_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    Ledger(ws).checkpoint()
    head = _head(ws)
    sql(ws, "delete from incident_events where seq = 2")
    r = run_cli("checkpoint", home=ws.home)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "incident_events" in r.stderr
    with pytest.raises(LedgerIntegrityError):
        Ledger(ws).checkpoint()
    assert one(ws, "select count(*) from checkpoints") == 1 and _head(ws) == head
    missing = tmp_path / "nowhere"
    r = run_cli("checkpoint", "--json", home=missing)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr and not missing.exists()


# ---------------------------------------------------------------------------- bugs


@pytest.mark.parametrize(
    ("script", "table"),
    [
        ("update victim_reports set seal = cast(seal as blob) where id = 2", "victim_reports"),
        ("update canary_hits set seal = cast(seal as blob)", "canary_hits"),
        (
            "update incident_events set incident_id = cast(incident_id as blob) where id = 2",
            "incident_events",
        ),
        ("alter table victim_reports drop column seal", "victim_reports"),
    ],
    ids=["report-seal-blob", "hit-seal-blob", "incident-id-blob", "seal-dropped"],
)
def test_verify_names_a_foreign_typed_edit_instead_of_crashing(
    ws: Workspace, script: str, table: str
) -> None:
    Ledger(ws).checkpoint()
    sql(ws, script)
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-300:]
    assert r.stderr.count("\n") == 1
    ok, problem = verify(ws)
    assert not ok and problem is not None and table in problem
    assert problem.startswith(("checkpoint 1", "checkpoints cannot be checked"))


def test_checkpoint_with_a_junk_blob_sealed_row_does_not_crash(ws: Workspace) -> None:
    Ledger(ws).checkpoint()
    sql(
        ws,
        f"insert into victim_reports (id, {_copy_columns('victim_reports')}, seal) "
        f"select 50, {_copy_columns('victim_reports')}, X'763100' from victim_reports "
        "where id = 1",
    )
    assert verify(ws) == (True, None)  # not pinned, not sealed validly: no alarm
    r = run_cli("checkpoint", home=ws.home)
    assert "Traceback" not in r.stderr, r.stderr[-300:]
    assert r.returncode == 0 or r.stderr.count("\n") == 1


@pytest.mark.parametrize("row_id", [0, -3])
def test_a_row_with_id_zero_or_below_does_not_poison_the_next_checkpoint(
    ws: Workspace, row_id: int
) -> None:
    Ledger(ws).checkpoint()
    cols = _copy_columns("victim_reports")
    sql(
        ws,
        f"insert into victim_reports (id, {cols}, seal) "
        f"select {row_id}, {cols}, 'v1:junk' from victim_reports where id = 1",
    )
    assert verify(ws) == (True, None)
    head = _head(ws)
    try:
        Ledger(ws).checkpoint()
    except LedgerIntegrityError:  # refusing is fine, if nothing was written
        assert one(ws, "select count(*) from checkpoints") == 1 and _head(ws) == head
        return
    assert verify(ws) == (True, None)


def test_verify_while_a_checkpoint_is_made_is_no_alarm(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger(ws).checkpoint()
    real = cpmod._read_head
    fired: list[bool] = []

    def read_head(home: Path) -> Any:
        if not fired:  # another process's checkpoint completes at this moment
            fired.append(True)
            make_checkpoint(ws, Ledger(ws).engine)
        return real(home)

    monkeypatch.setattr(cpmod, "_read_head", read_head)
    ok, problem = verify(ws)
    assert fired and ok, problem


def test_verify_while_a_release_and_a_checkpoint_are_made_is_no_alarm(
    ws: Workspace, small: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger(ws).checkpoint()
    real = ledger_mod.verify_checkpoints
    fired: list[bool] = []

    def verify_checkpoints(*args: Any, **kwargs: Any) -> Any:
        if not fired:  # another process: a release, then a checkpoint (head not yet written)
            fired.append(True)
            head = _head(ws)
            release(small, recipient="yto", workspace=ws)
            make_checkpoint(ws, Ledger(ws).engine)
            (ws.home / HEAD_FILE).write_text(head or "")
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger_mod, "verify_checkpoints", verify_checkpoints)
    ok, problem = verify(ws)
    assert fired and ok, problem


def test_concurrent_checkpoints_leave_the_head_file_at_the_newest(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cpmod._write_head
    entered, gate = threading.Event(), threading.Event()

    def write_head(home: Path, seq: int, digest: str) -> None:
        if not entered.is_set():  # the first writer is descheduled here
            entered.set()
            gate.wait(5)
        real(home, seq, digest)

    monkeypatch.setattr(cpmod, "_write_head", write_head)
    first = threading.Thread(target=make_checkpoint, args=(ws, Ledger(ws).engine))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=make_checkpoint, args=(ws, Ledger(ws).engine))
    second.start()
    second.join(2)  # finishes unless the head is written under the lock
    gate.set()
    first.join(10)
    second.join(10)
    assert one(ws, "select max(seq) from checkpoints") == 2
    assert (_head(ws) or "").split()[0] == "2"
    sql(ws, "delete from checkpoints where seq = 2")
    ok, problem = verify(ws)
    assert not ok and problem is not None and HEAD_FILE in problem


def test_a_junk_row_with_a_text_id_is_no_alarm_and_never_pinned(ws: Workspace) -> None:
    """A table re-created without its integer key, then a row with a text id: the pinned
    rows are all there as they were, so verify passes (no crash), and the junk row, of a
    shape leaktrace never writes, is not pinned by the next checkpoint."""
    Ledger(ws).checkpoint()
    sql(
        ws,
        "create table vr2 as select * from victim_reports; drop table victim_reports; "
        "alter table vr2 rename to victim_reports; "
        "insert into victim_reports (id, seal) values ('x7', 'v1:00')",
    )
    assert verify(ws) == (True, None)
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    cp = Ledger(ws).checkpoint()
    assert cp.state["logs"]["victim_reports"]["rows"] == 0
    assert verify(ws) == (True, None)
