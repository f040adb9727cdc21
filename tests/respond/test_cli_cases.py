"""``leaktrace case …`` as customer service runs it: a decision and what to tell the
victim, payments within the advance, and one line per error with nothing recorded."""

from __future__ import annotations

import itertools
import json
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.ledger import Ledger
from leaktrace.respond.incident import load_incident, open_incident, record_evidence
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

from .conftest import event_count as _count
from .conftest import ok as _ok
from .conftest import one_error as _one_error
from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
RECEIPT = "A3301062026112900123"
CASE_KEYS = {
    "incident",
    "case_id",
    "decision",
    "advance",
    "loss",
    "paid",
    "recovered",
    "reasons",
    "exposed_in",
    "message_zh",
}


@dataclass
class Env:
    ws: Workspace
    dir: Path
    bundle: Path
    zto: pl.DataFrame
    """The shop's orders the zto courier filter selects."""
    yto_only: pl.DataFrame
    """yto's orders (cs-firm got them too, zto did not)."""
    zto_release: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("cli-cases")
    ws = make_workspace(root / "ws")
    copies = release_copies(ws, shop, root)
    bundle = root / "evidence.json"
    leak = copies["zto"].sample(25, seed=41).select(LEAK_COLS)
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    where = ws.config.recipients["zto"].where
    zto = pl.SQLContext(orders=shop).execute(f"SELECT * FROM orders WHERE {where}", eager=True)
    assert zto.height == shop.filter(pl.col("courier") == "中通快递").height > 50
    [zto_release] = [e.release_id for e in Ledger(ws).entries() if e.recipient == "zto"]
    yto_only = shop.filter(pl.col("courier") == "圆通速递")
    return Env(ws, root, bundle, zto, yto_only, zto_release)


def _incident(env: Env, evidence: bool = True) -> str:
    iid = open_incident(env.ws, "中通面单泄露", datetime.now(UTC) - timedelta(hours=2), "简述").id
    if evidence:
        record_evidence(env.ws, iid, env.bundle)
    return iid


_RECEIPTS = itertools.count(1)


def _open_args(iid: str, row: dict[str, Any], **over: str) -> list[str]:
    opts = {
        "--order": row["order_id"],
        "--phone": row["phone"],
        "--occurred": datetime.now(UTC).isoformat(timespec="seconds"),
        "--loss": "8000",
        # each case its own police report: a second advance citing one is for review
        "--police-receipt": f"CLI-{next(_RECEIPTS):08d}",
    }
    opts.update(over)
    args = ["case", "open", iid]
    for k, v in opts.items():
        args.append(f"{k}={v}")  # "=": a negative amount is a value, not an option
    return args


def test_open_pay_recover_and_list(env: Env) -> None:
    home = env.ws.home
    iid = _incident(env)
    row = env.zto.row(5, named=True)
    phone = row["phone"]
    spaced = f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    r = _ok(run_cli(*_open_args(iid, row, **{"--phone": spaced}), home=home))
    first, *rest = r.stdout.strip().splitlines()
    m = re.fullmatch(r"(CASE-[0-9a-f]{8}): advance, advance 5,000\.00 yuan", first.strip())
    assert m is not None, r.stdout
    case_id = m.group(1)
    assert any("zto" in line and "before the scam" in line for line in rest)
    said = "".join(r.stdout.split())  # however the console wrapped it
    assert "告知用户：" in said and "先行垫付5,000.00元" in said
    assert phone not in r.stdout + r.stderr  # the phone is not echoed back

    r = _ok(
        run_cli("case", "paid", iid, case_id, "--amount", "3000", "--note", "流水 01", home=home)
    )
    assert f"{case_id}: 3,000.00 yuan paid" in r.stderr
    r = _ok(run_cli("case", "paid", iid, case_id, "--amount", "2000", "--json", home=home))
    paid = json.loads(r.stdout)
    # who paid is kept with the payment: the system user at the shell
    assert paid.pop("by").startswith("cli:")
    assert paid == {"incident": iid, "seq": 5, "case_id": case_id, "amount": 2000.0, "note": ""}
    args = ("case", "recovered", iid, case_id, "--amount", "1500", "--note", "公安返还")
    r = _ok(run_cli(*args, "--json", home=home))
    back = json.loads(r.stdout)
    assert (back["amount"], back["note"], back["seq"]) == (1500.0, "公安返还", 6)
    # the notes and the receipt are stored encrypted; `case show` opens them
    r = _ok(run_cli("case", "show", iid, case_id, "--json", home=home))
    shown = json.loads(r.stdout)
    assert [(p["amount"], p["note"]) for p in shown["payments"]] == [
        (3000.0, "流水 01"),
        (2000.0, ""),
        (1500.0, "公安返还"),
    ]
    assert re.fullmatch(r"[0-9A-Za-z-]{4,64}", shown["police_receipt"])
    r = _ok(run_cli("case", "show", iid, case_id, home=home))
    assert "流水 01" in r.stdout and shown["police_receipt"] in r.stdout
    r = run_cli("case", "show", iid, "CASE-nothere", home=home)
    assert r.returncode == 2 and "no case" in r.stderr and "Traceback" not in r.stderr

    listed = json.loads(_ok(run_cli("case", "list", iid, "--json", home=home)).stdout)
    assert listed["summary"] == {
        "cases": 1,
        "by_decision": {"advance": 1, "review": 0, "declined": 0},
        "reopened": 0,
        "advance_decided": 5000.0,
        "paid": 5000.0,
        "recovered": 1500.0,
        "loss_reported": 8000.0,
    }
    [c] = listed["cases"]
    assert (c["case_id"], c["decision"], c["paid"], c["recovered"]) == (
        case_id,
        "advance",
        5000.0,
        1500.0,
    )
    assert c["exposed_in"] == [env.zto_release]
    table = _ok(run_cli("case", "list", iid, home=home)).stdout
    assert case_id in table and "5,000.00" in table and "1,500.00" in table
    kinds = [e.kind for e in load_incident(env.ws, iid).events]
    assert kinds == ["opened", "evidence", "case", "case_paid", "case_paid", "case_recovered"]


def test_open_json_and_each_decision(env: Env) -> None:
    home = env.ws.home
    iid = _incident(env)
    review = env.zto.row(6, named=True)
    r = _ok(run_cli(*_open_args(iid, review, **{"--phone": "19912345678"}), "--json", home=home))
    got = json.loads(r.stdout)
    assert set(got) == CASE_KEYS
    assert got["incident"] == iid and re.fullmatch(r"CASE-[0-9a-f]{8}", got["case_id"])
    assert (got["decision"], got["advance"], got["loss"]) == ("review", 0.0, 8000.0)
    assert got["exposed_in"] == [env.zto_release] and (got["paid"], got["recovered"]) == (0, 0)
    assert "人工" in got["message_zh"]

    declined = env.yto_only.row(6, named=True)
    r = _ok(run_cli(*_open_args(iid, declined), home=home))
    assert re.match(r"CASE-[0-9a-f]{8}: declined\s*$", r.stdout.splitlines()[0])
    assert "advance" not in r.stdout.splitlines()[0]
    said = "".join(r.stdout.split())
    assert "noreleasetotheaccused" in said and "不适用先行垫付" in said

    capped = env.zto.row(8, named=True)
    r = _ok(run_cli(*_open_args(iid, capped, **{"--cap": "1000"}), "--json", home=home))
    assert json.loads(r.stdout)["advance"] == 1000.0


_FRESH = 21  # a zto order no case was opened for

# (id, command, what to change, what the error line says); none of these may write
_ERRORS: list[tuple[str, str, dict[str, str], str]] = [
    ("loss-negative", "open", {"--loss": "-5"}, "loss"),
    ("receipt-id-number", "open", {"--police-receipt": "11010119900307451X"}, "ID card"),
    ("phone", "open", {"--phone": "12345"}, "mobile"),
    ("occurred", "open", {"--occurred": "last tuesday"}, "date/time"),
    ("duplicate", "open", {"--order": "zto-20"}, "already has a case"),
    ("unknown-incident", "open", {"incident": "INC-20240601-00000000"}, "no incident"),
    ("no-evidence", "open", {"incident": "bare"}, "no evidence"),
    ("overpay", "paid", {"case": "advance", "--amount": "401"}, "exceed the advance"),
    ("pay-declined", "paid", {"case": "declined", "--amount": "1"}, "no advance to pay"),
    ("recover-more", "recovered", {"case": "advance", "--amount": "100.01"}, "would exceed"),
    ("unknown-case", "paid", {"case": "CASE-00000000", "--amount": "1"}, "no case"),
]


@pytest.fixture(scope="module")
def error_runs(env: Env) -> dict[str, Any]:
    """Every refused command of ``_ERRORS`` run against one incident (in parallel: each is
    a fresh process, and none may write), with the incidents' event counts before and
    after all of them."""
    from leaktrace.respond.cases import open_case, record_payment

    iid = _incident(env)
    common = {"occurred": datetime.now(UTC), "loss": 500.0, "police_receipt": "E-ERRORS-0001"}
    row = env.zto.row(20, named=True)
    adv = open_case(env.ws, iid, order_id=row["order_id"], phone=row["phone"], **common)
    assert (adv.decision, adv.advance) == ("advance", 500.0)
    record_payment(env.ws, iid, adv.case_id, "case_paid", 100.0)
    row = env.yto_only.row(20, named=True)
    dec = open_case(env.ws, iid, order_id=row["order_id"], phone=row["phone"], **common)
    assert dec.decision == "declined"
    cases = {"advance": adv.case_id, "declined": dec.case_id}
    bare = _incident(env, evidence=False)
    argvs: dict[str, list[str]] = {}
    for name, command, what, _ in _ERRORS:
        over = dict(what)
        target = over.pop("incident", iid)
        target = bare if target == "bare" else target
        if command == "open":
            if over.get("--order") == "zto-20":
                over["--order"] = env.zto.row(20, named=True)["order_id"]
            over.setdefault("--police-receipt", RECEIPT)  # must not be echoed (below)
            argvs[name] = _open_args(target, env.zto.row(_FRESH, named=True), **over)
        else:
            case = over.pop("case")
            argvs[name] = ["case", command, target, cases.get(case, case)]
            argvs[name] += [f"{k}={v}" for k, v in over.items()]
    ids = (iid, bare)
    before = [_count(env, i) for i in ids]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {n: pool.submit(run_cli, *a, home=env.ws.home) for n, a in argvs.items()}
        results = {n: f.result() for n, f in futures.items()}
    return {"results": results, "before": before, "after": [_count(env, i) for i in ids]}


@pytest.mark.parametrize(
    ("name", "match"), [(e[0], e[3]) for e in _ERRORS], ids=[e[0] for e in _ERRORS]
)
def test_each_user_error_is_one_line_and_records_nothing(
    env: Env, error_runs: dict[str, Any], name: str, match: str
) -> None:
    line = _one_error(error_runs["results"][name])
    assert re.search(match, line), line
    assert env.zto.row(_FRESH, named=True)["phone"] not in line and RECEIPT not in line
    assert error_runs["after"] == error_runs["before"]


def test_a_tampered_case_stops_list_with_one_error(env: Env) -> None:
    from leaktrace.respond.cases import open_case

    iid = _incident(env)
    row = env.zto.row(30, named=True)
    case = open_case(
        env.ws,
        iid,
        order_id=row["order_id"],
        phone=row["phone"],
        occurred=datetime.now(UTC),
        loss=8000.0,
        police_receipt="T-TAMPERED-0001",
    )
    assert case.advance == 5000.0
    with sqlite3.connect(env.ws.home / "ledger.db") as con:
        (body,) = con.execute(
            "select body from incident_events where incident_id = ? and kind = 'case'", (iid,)
        ).fetchone()
        forged = body.replace('"advance":5000.0', '"advance":50000.0')
        assert forged != body
        con.execute(
            "update incident_events set body = ? where incident_id = ? and kind = 'case'",
            (forged, iid),
        )
    con.close()
    line = _one_error(run_cli("case", "list", iid, "--json", home=env.ws.home))
    assert iid in line and "event 3" in line
