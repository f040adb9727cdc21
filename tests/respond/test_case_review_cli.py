"""``leaktrace case approve / reject / withdraw`` as customer service and analysts run
them: the walk that found one mistyped phone blocking an order for good, each outcome
payable or not, and one line per refused command with nothing recorded."""

from __future__ import annotations

import itertools
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.respond.incident import load_incident, open_incident, record_evidence
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

from .conftest import event_count as _count
from .conftest import ok as _ok
from .conftest import one_error as _one_error
from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
TYPO = "19912345678"
_RECEIPTS = itertools.count(1)
_FRESH = itertools.count(40)


@dataclass
class Env:
    ws: Workspace
    bundle: Path
    zto: pl.DataFrame
    yto_only: pl.DataFrame


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("cli-case-review")
    ws = make_workspace(root / "ws")
    copies = release_copies(ws, shop, root)
    bundle = root / "evidence.json"
    write_bundle(
        build_bundle(ws, trace(copies["zto"].sample(25, seed=61).select(LEAK_COLS), workspace=ws)),
        bundle,
    )
    assert TYPO not in set(shop.get_column("phone"))
    zto = shop.filter(pl.col("courier") == "中通快递")
    return Env(ws, bundle, zto, shop.filter(pl.col("courier") == "圆通速递"))


def _incident(env: Env) -> str:
    iid = open_incident(env.ws, "中通面单泄露", datetime.now(UTC) - timedelta(hours=2)).id
    record_evidence(env.ws, iid, env.bundle)
    return iid


def _fresh(env: Env) -> tuple[str, str]:
    row = env.zto.row(next(_FRESH), named=True)
    return str(row["order_id"]), str(row["phone"])


def _open_argv(iid: str, order: str, phone: str, loss: str = "8000") -> list[str]:
    return [
        "case",
        "open",
        iid,
        f"--order={order}",
        f"--phone={phone}",
        f"--occurred={datetime.now(UTC).isoformat(timespec='seconds')}",
        f"--loss={loss}",
        f"--police-receipt=CLI-REVIEW-{next(_RECEIPTS):06d}",
    ]


def _case_id(r: CompletedProcess[str], decision: str) -> str:
    m = re.match(rf"(CASE-[0-9a-f]{{8}}): {decision}\b", r.stdout)
    assert m is not None, r.stdout
    return m.group(1)


def test_the_walk_a_typo_withdrawn_then_the_owners_case_paid(env: Env) -> None:
    """The fresh user's walk: a mistyped phone made a ``review`` case nobody could pay or
    resolve, and the owner's own case was refused for good."""
    home, iid = env.ws.home, _incident(env)
    order, phone = _fresh(env)
    typo = _case_id(_ok(run_cli(*_open_argv(iid, order, TYPO), home=home)), "review")

    line = _one_error(run_cli("case", "paid", iid, typo, "--amount", "50", home=home))
    assert "no advance to pay" in line and "case approve" in line
    line = _one_error(run_cli(*_open_argv(iid, order, phone), home=home))
    assert "already has a case" in line and typo in line and "case withdraw" in line
    assert phone not in line and TYPO not in line

    r = _ok(run_cli("case", "withdraw", iid, typo, "--reason", "坐席录入手机号错误", home=home))
    assert re.match(rf"{typo}: withdrawn \(event 4\)", r.stdout), r.stdout
    assert "撤回" in "".join(r.stdout.split())
    owner = _case_id(_ok(run_cli(*_open_argv(iid, order, phone), home=home)), "advance")
    r = _ok(run_cli("case", "paid", iid, owner, "--amount", "5000", home=home))
    assert f"{owner}: 5,000.00 yuan paid" in r.stderr

    listed = json.loads(_ok(run_cli("case", "list", iid, "--json", home=home)).stdout)
    assert [(c["case_id"], c["decision"]) for c in listed["cases"]] == [
        (typo, "withdrawn"),
        (owner, "advance"),
    ]
    assert listed["summary"]["cases"] == 1 and listed["summary"]["loss_reported"] == 8000.0
    table = _ok(run_cli("case", "list", iid, home=home)).stdout
    assert "withdrawn" in table and owner in table

    shown = json.loads(_ok(run_cli("case", "show", iid, typo, "--json", home=home)).stdout)
    [step] = shown["history"]
    assert (step["action"], step["from"], step["reason"]) == (
        "withdrawn",
        "review",
        "坐席录入手机号错误",
    )
    assert step["by"].startswith("cli:") and step["seq"] == 4
    text = _ok(run_cli("case", "show", iid, typo, home=home)).stdout
    assert "withdrawn" in text and "坐席录入手机号错误" in text and "event 4" in text

    # the record: sealed `case` events, shown by incident show, the reason not in clear
    r = _ok(run_cli("incident", "show", iid, home=home))
    assert "action=withdrawn" in r.stdout and "(encrypted: leaktrace case show)" in r.stdout
    assert "坐席录入" not in r.stdout and TYPO not in r.stdout and phone not in r.stdout
    assert re.search(r"head: [0-9a-f]{64}", r.stderr)
    events = json.loads(_ok(run_cli("incident", "show", iid, "--json", home=home)).stdout)
    kinds = [e["kind"] for e in events["events"]]
    assert kinds == ["opened", "evidence", "case", "case", "case", "case_paid"]
    # pinned by a checkpoint, and verify accepts them
    _ok(run_cli("checkpoint", home=home))
    r = _ok(run_cli("verify", home=home))
    assert "ledger OK" in r.stderr


def test_approve_makes_the_case_payable_up_to_the_cap(env: Env) -> None:
    home, iid = env.ws.home, _incident(env)
    order, _ = _fresh(env)
    cid = _case_id(_ok(run_cli(*_open_argv(iid, order, TYPO), home=home)), "review")
    argv = ("case", "approve", iid, cid, "--reason", "回拨账户手机核实为本人", "--json")
    # four eyes: the shell user who opened it may not approve it; another one may
    line = _one_error(run_cli(*argv, home=home))
    assert "another person approves it" in line
    r = _ok(run_cli(*argv, home=home, user="lead"))
    got = json.loads(r.stdout)
    assert (got["incident"], got["case_id"], got["decision"], got["advance"]) == (
        iid,
        cid,
        "advance",
        5000.0,
    )
    assert (got["action"], got["event"]) == ("approved", 4) and got["by"] == "cli:lead"
    assert "先行垫付" in got["message_zh"] and "回拨" not in r.stdout  # the reason is not echoed
    _ok(run_cli("case", "paid", iid, cid, "--amount", "5000", home=home))
    line = _one_error(run_cli("case", "paid", iid, cid, "--amount", "0.01", home=home))
    assert "exceed the advance" in line

    # as people read it
    order, _ = _fresh(env)
    cid = _case_id(_ok(run_cli(*_open_argv(iid, order, TYPO, "300"), home=home)), "review")
    r = _ok(run_cli("case", "approve", iid, cid, "--reason", "核实为本人", home=home, user="lead"))
    first = r.stdout.splitlines()[0]
    assert re.fullmatch(
        rf"{cid}: advance, advance 300\.00 yuan \(approved on review, event \d+\)", first
    )
    assert "先行垫付300.00元" in "".join(r.stdout.split())


def test_reject_closes_the_case_unpaid(env: Env) -> None:
    home, iid = env.ws.home, _incident(env)
    order, phone = _fresh(env)
    cid = _case_id(_ok(run_cli(*_open_argv(iid, order, TYPO), home=home)), "review")
    r = _ok(run_cli("case", "reject", iid, cid, "--reason", "来电人无法说明订单信息", home=home))
    assert re.match(rf"{cid}: rejected \(event 4\)", r.stdout), r.stdout
    line = _one_error(run_cli("case", "paid", iid, cid, "--amount", "1", home=home))
    assert "rejected" in line
    assert "rejected" in _ok(run_cli("case", "list", iid, home=home)).stdout
    # the owner is not locked out by a refused caller
    _case_id(_ok(run_cli(*_open_argv(iid, order, phone), home=home)), "advance")


def test_a_second_advance_for_one_loss_is_approved_only_as_another_loss(env: Env) -> None:
    home = env.ws.home
    order, phone = _fresh(env)
    first_incident, second_incident = _incident(env), _incident(env)
    first = _case_id(_ok(run_cli(*_open_argv(first_incident, order, phone), home=home)), "advance")
    cid = _case_id(_ok(run_cli(*_open_argv(second_incident, order, phone), home=home)), "review")
    line = _one_error(
        run_cli("case", "approve", second_incident, cid, "--reason", "核实", home=home, user="lead")
    )
    assert "already has an advance" in line and first in line and "--another-loss" in line
    args = ("case", "approve", second_incident, cid, "--reason", "二次被骗，已核实")
    r = _ok(run_cli(*args, "--another-loss", "--json", home=home, user="lead"))
    assert json.loads(r.stdout)["decision"] == "advance"


# (id, argv after "case", error line pattern); none of these may write
_ERRORS: list[tuple[str, list[str], str]] = [
    (
        "approve-advance",
        ["approve", "{iid}", "{advance}", "--reason", "核实"],
        "only a case decided 'review'",
    ),
    (
        "reject-declined",
        ["reject", "{iid}", "{declined}", "--reason", "核实"],
        "decided 'declined'",
    ),
    (
        "approve-rejected",
        ["approve", "{iid}", "{rejected}", "--reason", "核实"],
        "already rejected",
    ),
    ("approve-withdrawn", ["approve", "{iid}", "{withdrawn}", "--reason", "核实"], "was withdrawn"),
    ("reject-approved", ["reject", "{iid}", "{approved}", "--reason", "核实"], "already approved"),
    ("withdraw-paid", ["withdraw", "{iid}", "{paid}", "--reason", "录入错误"], "paid"),
    (
        "withdraw-withdrawn",
        ["withdraw", "{iid}", "{withdrawn}", "--reason", "录入错误"],
        "already withdrawn",
    ),
    ("withdraw-rejected", ["withdraw", "{iid}", "{rejected}", "--reason", "录入错误"], "rejected"),
    ("pay-rejected", ["paid", "{iid}", "{rejected}", "--amount", "1"], "rejected"),
    ("pay-withdrawn", ["paid", "{iid}", "{withdrawn}", "--amount", "1"], "withdrawn"),
    ("pay-review", ["paid", "{iid}", "{review}", "--amount", "1"], "no advance to pay"),
    ("approve-unknown", ["approve", "{iid}", "CASE-00000000", "--reason", "核实"], "no case"),
    (
        "withdraw-unknown-incident",
        ["withdraw", "INC-20240601-00000000", "{review}", "--reason", "x"],
        "no incident",
    ),
    ("approve-no-reason", ["approve", "{iid}", "{review}"], "Missing option '--reason'"),
    ("approve-blank-reason", ["approve", "{iid}", "{review}", "--reason", "   "], "reason"),
    (
        "withdraw-phone-in-reason",
        ["withdraw", "{iid}", "{review}", "--reason", "回拨 {phone}"],
        "phone or ID card",
    ),
    (
        "reject-id-in-reason",
        ["reject", "{iid}", "{review}", "--reason", "证件 11010119900307451X"],
        "phone or ID card",
    ),
]


@pytest.fixture(scope="module")
def error_runs(env: Env) -> dict[str, Any]:
    """Each refused command of ``_ERRORS`` against one case in each state (in parallel:
    each is a fresh process, and none may write), with the event count before and after."""
    from leaktrace.respond.cases import (
        cases_of,
        open_case,
        record_payment,
        review_case,
        withdraw_case,
    )

    ws, iid = env.ws, _incident(env)

    def opened(order: str, phone: str, loss: float = 100.0) -> str:
        receipt = f"E-REVIEW-{next(_RECEIPTS):06d}"
        return open_case(
            ws,
            iid,
            order_id=order,
            phone=phone,
            occurred=datetime.now(UTC),
            loss=loss,
            police_receipt=receipt,
        ).case_id

    ids = {"advance": opened(*_fresh(env)), "paid": opened(*_fresh(env))}
    record_payment(ws, iid, ids["paid"], "case_paid", 100.0)
    ids["declined"] = opened(str(env.yto_only.row(3, named=True)["order_id"]), TYPO)
    for state in ("review", "approved", "rejected", "withdrawn"):
        ids[state] = opened(_fresh(env)[0], TYPO)
    review_case(ws, iid, ids["approved"], "approved", "核实")
    review_case(ws, iid, ids["rejected"], "rejected", "核实")
    withdraw_case(ws, iid, ids["withdrawn"], "录入错误")
    assert {c.case_id: c.decision for c in cases_of(load_incident(ws, iid))} == {
        ids["advance"]: "advance",
        ids["paid"]: "advance",
        ids["declined"]: "declined",
        ids["review"]: "review",
        ids["approved"]: "advance",
        ids["rejected"]: "rejected",
        ids["withdrawn"]: "withdrawn",
    }
    phone = _fresh(env)[1]
    argvs = {
        name: ["case", *(a.format(iid=iid, phone=phone, **ids) for a in argv)]
        for name, argv, _ in _ERRORS
    }
    before = _count(env, iid)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {n: pool.submit(run_cli, *a, home=ws.home) for n, a in argvs.items()}
        results = {n: f.result() for n, f in futures.items()}
    return {"results": results, "before": before, "after": _count(env, iid), "phone": phone}


@pytest.mark.parametrize(
    ("name", "match"), [(e[0], e[2]) for e in _ERRORS], ids=[e[0] for e in _ERRORS]
)
def test_each_refused_command_is_one_line_and_records_nothing(
    error_runs: dict[str, Any], name: str, match: str
) -> None:
    line = _one_error(error_runs["results"][name])
    assert re.search(match, line), line
    digits = re.sub(r"\D", "", line)
    assert error_runs["phone"] not in digits and "19900307" not in digits
    assert error_runs["after"] == error_runs["before"]
