"""Erasing a victim's report at the person's request (PIPL Art. 47): what they told us is
gone from the database, the row's id and seal stay so checkpoints still verify, an erased
report is no longer evidence, and nobody without the keys can fake or undo an erasure."""

from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.attribution.erasure import ERASED, erase_reports
from leaktrace.attribution.reports import add_reports, load_stored_reports
from leaktrace.attribution.store import load_reports
from leaktrace.errors import InputError
from leaktrace.ledger import Ledger
from leaktrace.ledger import checkpoint as checkpoint_module
from leaktrace.workspace import Workspace
from ledger.logs import report_objs, rows, sql, verify

from .conftest import reported_phones, secure_delete_off


@pytest.fixture
def ws(erasure_ws: Workspace) -> Workspace:
    return erasure_ws


_phones = reported_phones


def _dump(ws: Workspace) -> str:
    """Every stored value of the report and erasure tables, as text."""
    got = rows(ws, "select * from victim_reports") + rows(ws, "select * from report_erasures")
    return json.dumps(got, ensure_ascii=False, default=str)


def test_an_erased_report_keeps_only_its_id_seal_and_scam_kind(ws: Workspace) -> None:
    phones = _phones(ws)
    first = min(phones)
    seal, fraud = rows(ws, f"select seal, fraud_type from victim_reports where id = {first}")[0]
    digests = rows(ws, f"select customer, dedupe from victim_reports where id = {first}")[0]

    res = erase_reports(ws, ids=[first], reason="工单 2026-1129-001", apply=True)

    assert (res.erased, res.already, res.applied) == ([first], [], True)
    (row,) = rows(
        ws,
        "select seal, fraud_type, status, blob, customer, dedupe, reported_at, caller, "
        f"source, quoted_roles, loss, has_receipt, reason from victim_reports where id = {first}",
    )
    assert row == (seal, fraud, ERASED, "", "{}", "", None, "", "", "[]", None, 0, "")
    dump = _dump(ws)
    assert phones[first] not in dump  # nor the keyed digests the phone was found by
    assert all(d not in dump for d in json.loads(digests[0]).values()) and digests[1] not in dump
    raw = (ws.home / "ledger.db").read_bytes()  # nor in the file's free space
    assert digests[1].encode() not in raw
    assert all(str(d).encode() not in raw for d in json.loads(digests[0]).values())
    # the other reports are untouched and still evidence
    assert sorted(r.id for r in load_stored_reports(ws)) == sorted(set(phones) - {first})
    assert rows(ws, "select report_id, reason, actor from report_erasures") == [
        (first, "工单 2026-1129-001", "")
    ]


def test_without_apply_nothing_changes(ws: Workspace) -> None:
    before = _dump(ws)
    first = min(_phones(ws))
    res = erase_reports(ws, ids=[first])
    assert (res.erased, res.applied) == ([first], False)
    assert _dump(ws) == before


def test_every_report_of_a_phone_is_found_however_it_is_written(ws: Workspace) -> None:
    phones = _phones(ws)
    rid, phone = sorted(phones.items())[2]
    res = erase_reports(ws, phone=f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}", apply=True)
    assert res.erased == res.matched_by_phone == [rid]
    # once erased, nothing stored leads from the phone to the report any more
    again = erase_reports(ws, phone=phone, apply=True)
    assert (again.erased, again.already, again.matched_by_phone) == ([], [], [])
    assert erase_reports(ws, ids=[rid], apply=True).already == [rid]


def test_a_checkpoint_made_before_still_verifies_and_pins_the_erasure_next(
    ws: Workspace,
) -> None:
    Ledger(ws).checkpoint()
    first = min(_phones(ws))
    erase_reports(ws, ids=[first], apply=True)
    assert verify(ws) == (True, None)
    cp = Ledger(ws).checkpoint()
    assert cp.pinned()["report_erasures"] == 1
    assert verify(ws) == (True, None)
    # an erasure deleted afterwards is named, and the wiped row is no erasure any more
    sql(ws, "delete from report_erasures")
    ok, problem = verify(ws)
    assert not ok and problem is not None and "report_erasures" in problem
    (left,) = [r for r in load_stored_reports(ws) if r.id == first]
    assert left.status == "unsealed"


def test_a_wipe_or_an_erasure_made_without_the_keys_is_flagged(ws: Workspace) -> None:
    first, second = sorted(_phones(ws))[:2]
    # an administrator hides a report by wiping it as an erasure would, with a made-up row
    sql(
        ws,
        "update victim_reports set blob = '', customer = '{}', dedupe = '', status = 'erased' "
        f"where id = {first}",
    )
    sql(
        ws,
        "insert into report_erasures (report_id, erased_at, reason, actor, report_seal, seal) "
        f"select id, '2026-11-29T00:00:00+00:00', 'x', 'cli:root', seal, 'v1:' || seal "
        f"from victim_reports where id = {first}",
    )
    # and moves a genuine erasure onto another report
    erase_reports(ws, ids=[second], apply=True)
    sql(ws, f"update report_erasures set report_id = {second + 1} where report_id = {second}")
    stored = {r.id: r.status for r in load_stored_reports(ws)}
    assert stored[first] == "unsealed"
    assert stored[second] == "unsealed"
    assert stored[second + 1] == "ok"  # still counted: the moved erasure does not hold


def test_an_erased_report_is_not_evidence_and_may_be_reported_again(
    ws: Workspace, shop: pl.DataFrame
) -> None:
    from leaktrace.attribution.attribute import attribute

    phones = _phones(ws)
    first = min(phones)
    erase_reports(ws, ids=[first], apply=True)
    res = attribute(ws)
    assert res.reports["total"] == len(phones) - 1
    assert res.reports["erased"] == 1  # the evidence shrank, and the result says so
    assert all(f["report"] != first for f in res.flagged)
    # the same report sent again is a new report, not a duplicate of the erased one
    objs = report_objs(ws, shop, 2, seed=9)
    new = add_reports(ws, objs).ids
    erase_reports(ws, ids=new[:1], apply=True)
    again = add_reports(ws, objs)
    assert (again.added, again.duplicates) == (1, 1)
    assert len(load_stored_reports(ws)) == len(phones) - 1 + 2


def test_a_checkpoint_from_before_erasures_existed_still_verifies(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = tuple(log for log in checkpoint_module.COVERED_LOGS if log.table != "report_erasures")
    monkeypatch.setattr(checkpoint_module, "COVERED_LOGS", old)
    cp = Ledger(ws).checkpoint()
    assert "report_erasures" not in cp.state["logs"]
    monkeypatch.undo()
    assert verify(ws) == (True, None)
    erase_reports(ws, ids=[min(_phones(ws))], apply=True)
    assert Ledger(ws).checkpoint().pinned()["report_erasures"] == 1
    assert verify(ws) == (True, None)


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({}, "name the reports to erase"),
        ({"ids": [99999]}, "no stored report has id 99999"),
        ({"phone": "12345"}, "--phone: not a mainland mobile number"),
        ({"ids": [1], "reason": "a\x1b[2Jb"}, "reason: control characters"),
        ({"ids": [1], "reason": "x" * 301}, "reason: at most 300 characters"),
    ],
)
def test_a_request_that_names_nothing_or_nonsense_is_refused(
    ws: Workspace, kwargs: dict[str, object], says: str
) -> None:
    before = _dump(ws)
    with pytest.raises(InputError, match=says.replace("[", r"\[")):
        erase_reports(ws, apply=True, **kwargs)  # type: ignore[arg-type]
    assert _dump(ws) == before


def test_cli_lists_first_erases_with_yes_and_list_shows_it(ws: Workspace) -> None:
    first = min(r.id for r in load_reports(ws))
    dry = run_cli("report", "erase", str(first), home=ws.home)
    assert dry.returncode == 0, dry.stderr
    assert f"1 report(s) would be erased: {first}; nothing was changed" in dry.stdout
    done = run_cli("report", "erase", str(first), "--yes", "--json", home=ws.home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["erased"] == [first]
    listed = run_cli("report", "list", "--json", home=ws.home)
    (row,) = [r for r in json.loads(listed.stdout) if r["id"] == first]
    assert row["status"] == ERASED and row["sealed"] and row["caller"] == ""
    assert " by cli:" in row["reason"]  # who erased it: the system user
    bad = run_cli("report", "erase", "99999", "--yes", home=ws.home)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "no stored report has id 99999" in bad.stderr


def test_the_old_bytes_are_overwritten_whatever_the_sqlite_build_defaults_to(
    ws: Workspace,
) -> None:
    """Debian's SQLite overwrites freed space by default, others do not: the erasure asks."""
    with secure_delete_off(ws):
        first = min(_phones(ws))
        customer, dedupe = rows(
            ws, f"select customer, dedupe from victim_reports where id = {first}"
        )[0]
        erase_reports(ws, ids=[first], apply=True)
    raw = (ws.home / "ledger.db").read_bytes()
    assert dedupe.encode() not in raw
    assert all(str(d).encode() not in raw for d in json.loads(customer).values())


def test_cli_reads_the_phone_from_stdin_out_of_the_shells_history(ws: Workspace) -> None:
    import subprocess
    import sys

    rid, phone = sorted(_phones(ws).items())[0]
    done = subprocess.run(
        [sys.executable, "-m", "leaktrace", "report", "erase", "--phone", "-", "--yes",
         "--json", "--home", str(ws.home)],
        input=phone + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["erased"] == [rid]


def test_a_reason_quoting_a_phone_or_id_number_is_refused(ws: Workspace) -> None:
    phone = next(iter(_phones(ws).values()))
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    for reason in (f"客户{phone}来电", f"客户 {spaced} 来电", "身份证 11010119900307451X"):
        with pytest.raises(InputError, match="phone or ID card number"):
            erase_reports(ws, phone=phone, reason=reason, apply=True)
    assert erase_reports(ws, phone=phone, reason="工单 2026-1129-0001", apply=True).erased


@pytest.mark.parametrize("prefix", ["+86", "0086", "＋８６", "86"])
def test_a_reason_quoting_a_phone_with_its_country_code_is_refused(
    ws: Workspace, prefix: str
) -> None:
    """+8613912345678 is how a phone is written in E.164; the country code glued in front
    of it must not hide it from the check (it was stored in clear, and pinned)."""
    phone = next(iter(_phones(ws).values()))
    bad = run_cli(
        "report", "erase", "--phone", phone, "--yes", "--reason", f"客户 {prefix}{phone}",
        home=ws.home,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "phone or ID card number" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and phone not in bad.stderr
    assert not [r for r in load_stored_reports(ws) if r.status == ERASED]
