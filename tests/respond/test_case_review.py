"""A case's life after its decision: a person's review of a ``review`` case (approved: an
advance under the same cap; rejected: closed) and the withdrawal of a case opened by
mistake, so that one mistyped phone no longer blocks the order for good. Each is a sealed
``case`` event of the incident's chain, with who, when and the reason (encrypted)."""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.errors import InputError, LedgerIntegrityError
from leaktrace.respond.cases import (
    Case,
    case_detail,
    case_summary,
    cases_of,
    open_case,
    record_payment,
    review_case,
    withdraw_case,
)
from leaktrace.respond.incident import add_event, load_incident, open_incident, record_evidence
from leaktrace.respond.regulator import regulator_report
from leaktrace.respond.times import PLATFORM_TZ
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace, open_workspace

from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
TYPO = "19912345678"
"""A mobile number on no order of the shop: the clerk's typo."""
_RECEIPTS = itertools.count(1)
_FRESH = itertools.count(10)
FOLLOW_UP_KEYS = {"case_id", "action", "from", "decision", "advance", "reason", "by", "person"}


@dataclass
class Env:
    ws: Workspace
    root: Path
    bundle: Path
    zto: pl.DataFrame
    yto_only: pl.DataFrame


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("case-review")
    ws = make_workspace(root / "ws")
    copies = release_copies(ws, shop, root)
    bundle = root / "evidence.json"
    leak = copies["zto"].sample(25, seed=51).select(LEAK_COLS)
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    zto = shop.filter(pl.col("courier") == "中通快递")
    assert TYPO not in set(shop.get_column("phone"))
    return Env(ws, root, bundle, zto, shop.filter(pl.col("courier") == "圆通速递"))


@pytest.fixture
def iid(env: Env) -> str:
    """A fresh incident whose evidence accuses zto."""
    iid = open_incident(env.ws, "中通面单泄露", datetime.now(UTC) - timedelta(hours=2)).id
    record_evidence(env.ws, iid, env.bundle)
    return iid


def _fresh(env: Env) -> tuple[str, str]:
    """(order, phone) of a zto order no other test uses: an order advanced in one
    incident is for review in the next, and the module shares its workspace."""
    row = env.zto.row(next(_FRESH), named=True)
    return str(row["order_id"]), str(row["phone"])


def _open(env: Env, iid: str, order: str, phone: str, **kw: Any) -> Case:
    args: dict[str, Any] = {
        "occurred": datetime.now(UTC),
        "loss": 8000.0,
        "police_receipt": f"REVIEW-{next(_RECEIPTS):08d}",
    }
    args.update(kw)
    return open_case(env.ws, iid, order_id=order, phone=phone, **args)


def _review(env: Env, iid: str, **kw: Any) -> tuple[Case, str, str]:
    """A case decided ``review`` (the right order, a mistyped phone), with the order and
    its real phone."""
    order, phone = _fresh(env)
    case = _open(env, iid, order, TYPO, **kw)
    assert case.decision == "review", case.reasons
    return case, order, phone


def _count(ws: Workspace, incident_id: str) -> int:
    with sqlite3.connect(ws.home / "ledger.db") as con:
        (n,) = con.execute(
            "select count(*) from incident_events where incident_id = ?", (incident_id,)
        ).fetchone()
    con.close()
    return int(n)


def _bodies(ws: Workspace, incident_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(ws.home / "ledger.db") as con:
        rows = con.execute(
            "select body from incident_events where incident_id = ? and kind = 'case' order by seq",
            (incident_id,),
        ).fetchall()
    con.close()
    return [json.loads(b) for (b,) in rows]


def _now(env: Env, iid: str, case_id: str) -> Case:
    return next(c for c in cases_of(load_incident(env.ws, iid)) if c.case_id == case_id)


# --- the walk that found the gap --------------------------------------------------------


def test_a_typo_case_is_withdrawn_and_the_owner_then_gets_the_advance(env: Env, iid: str) -> None:
    typo, order, phone = _review(env, iid)
    with pytest.raises(InputError, match="no advance to pay"):
        record_payment(env.ws, iid, typo.case_id, "case_paid", 50.0)
    # the owner's case is refused while the typo's is live, and the error says what to do
    with pytest.raises(InputError, match="already has a case") as refused:
        _open(env, iid, order, phone)
    assert typo.case_id in refused.value.message and "withdraw" in refused.value.message
    assert phone not in refused.value.message and TYPO not in refused.value.message

    n = _count(env.ws, iid)
    gone = withdraw_case(env.ws, iid, typo.case_id, "坐席录入手机号错误", actor="cli:alice")
    assert _count(env.ws, iid) == n + 1
    assert (gone.case_id, gone.decision, gone.advance, gone.loss) == (
        typo.case_id,
        "withdrawn",
        0.0,
        8000.0,
    )
    [step] = gone.history
    assert (step.action, step.before, step.decision, step.by) == (
        "withdrawn",
        "review",
        "withdrawn",
        "cli:alice",
    )
    assert step.seq == n + 1 and datetime.fromisoformat(step.at) <= datetime.now(UTC)
    assert gone.reasons[: len(typo.reasons)] == typo.reasons  # the history is kept
    assert "withdrawn" in gone.reasons[-1]
    assert "撤回" in gone.message_zh

    owner = _open(env, iid, order, phone)
    assert (owner.decision, owner.advance) == ("advance", 5000.0)
    record_payment(env.ws, iid, owner.case_id, "case_paid", 5000.0)
    with pytest.raises(InputError, match="withdrawn"):
        record_payment(env.ws, iid, typo.case_id, "case_paid", 50.0)
    inc = load_incident(env.ws, iid)
    assert [e.kind for e in inc.events] == [
        "opened",
        "evidence",
        "case",
        "case",
        "case",
        "case_paid",
    ]
    assert [(c.case_id, c.decision) for c in cases_of(inc)] == [
        (typo.case_id, "withdrawn"),
        (owner.case_id, "advance"),
    ]
    # the withdrawn case is kept but not counted: its loss is the owner's, reported once
    assert case_summary(inc) == {
        "cases": 1,
        "by_decision": {"advance": 1, "review": 0, "declined": 0},
        "reopened": 0,
        "advance_decided": 5000.0,
        "paid": 5000.0,
        "recovered": 0.0,
        "loss_reported": 8000.0,
    }
    # and the order has one live case again: a third one is refused
    with pytest.raises(InputError, match="already has a case"):
        _open(env, iid, order, phone)


# --- approve and reject -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "cap", "want"),
    [
        (8000.0, None, 5000.0),
        (300.0, None, 300.0),
        (1234.567, None, 1234.57),
        (8000.0, 1000.0, 1000.0),
    ],
)
def test_an_approved_review_is_an_advance_of_the_loss_up_to_the_cap(
    env: Env, iid: str, loss: float, cap: float | None, want: float
) -> None:
    case, _, _ = _review(env, iid, loss=loss, **({} if cap is None else {"cap": cap}))
    n = _count(env.ws, iid)
    ok = review_case(
        env.ws, iid, case.case_id, "approved", "回拨账户手机核实为本人", actor="cli:bob"
    )
    assert (ok.decision, ok.advance, ok.loss) == ("advance", want, round(loss, 2))
    assert f"{want:,.2f}" in ok.message_zh and "先行垫付" in ok.message_zh
    assert "approved on review" in ok.reasons[-1]
    [step] = ok.history
    assert (step.action, step.before, step.decision, step.advance, step.by) == (
        "approved",
        "review",
        "advance",
        want,
        "cli:bob",
    )
    assert _now(env, iid, case.case_id) == ok  # what was returned is what was recorded
    # the event: a sealed `case` event naming the case, its reason encrypted
    body = _bodies(env.ws, iid)[-1]
    assert set(body) == FOLLOW_UP_KEYS | {"another_loss"} and body["another_loss"] is False
    assert body["by"] == "cli:bob" and body["person"] == "bob"  # the shell's user
    assert (body["case_id"], body["action"], body["from"], body["decision"]) == (
        case.case_id,
        "approved",
        "review",
        "advance",
    )
    assert body["advance"] == want and body["by"] == "cli:bob"
    assert re.fullmatch(r"v\d+:[0-9a-f]+", body["reason"])
    assert _count(env.ws, iid) == n + 1
    # payable now, within the advance
    record_payment(env.ws, iid, case.case_id, "case_paid", want)
    with pytest.raises(InputError, match="exceed the advance"):
        record_payment(env.ws, iid, case.case_id, "case_paid", 0.01)
    assert _now(env, iid, case.case_id).paid == want


def test_a_rejected_review_pays_nothing_and_frees_the_order(env: Env, iid: str) -> None:
    case, order, phone = _review(env, iid, loss=2000.0)
    no = review_case(env.ws, iid, case.case_id, "rejected", "来电人无法说明订单信息", actor="x")
    assert (no.decision, no.advance) == ("rejected", 0.0)
    assert "rejected on review" in no.reasons[-1]
    assert "元" not in no.message_zh and "人工" in no.message_zh
    n = _count(env.ws, iid)
    for kind in ("case_paid", "case_recovered"):
        with pytest.raises(InputError, match=r"rejected|recovered"):
            record_payment(env.ws, iid, case.case_id, kind, 1.0)
    assert _count(env.ws, iid) == n
    # a refused caller must not lock the owner out: the owner's case is decided afresh
    owner = _open(env, iid, order, phone, loss=2000.0)
    assert (owner.decision, owner.advance) == ("advance", 2000.0)
    inc = load_incident(env.ws, iid)
    summary = case_summary(inc)
    assert summary["cases"] == 2  # a rejection is a decision on a claim: it is counted
    assert summary["by_decision"] == {"advance": 1, "review": 0, "declined": 1}
    # but the order's loss is reported once: it was counted for both claims before
    assert (summary["loss_reported"], summary["reopened"]) == (2000.0, 1)
    text = regulator_report(env.ws, inc).text
    assert "其中 1 起驳回后同一订单重新受理，损失只计一次），报告损失 2,000.00 元" in text


# --- withdrawal ----------------------------------------------------------------------------


def test_an_unpaid_advance_with_a_mistyped_loss_is_withdrawn_and_opened_again(
    env: Env, iid: str
) -> None:
    order, phone = _fresh(env)
    wrong = _open(env, iid, order, phone, loss=80.0)  # 8000 was lost
    assert (wrong.decision, wrong.advance) == ("advance", 80.0)
    gone = withdraw_case(env.ws, iid, wrong.case_id, "损失金额录入错误")
    assert (gone.decision, gone.advance, gone.history[0].before) == ("withdrawn", 0.0, "advance")
    again = _open(env, iid, order, phone, loss=8000.0)
    # the withdrawn advance is no earlier advance for this loss: no review
    assert (again.decision, again.advance) == ("advance", 5000.0)


def test_a_declined_case_with_a_mistyped_scam_time_is_withdrawn_and_opened_again(
    env: Env, iid: str
) -> None:
    order, phone = _fresh(env)
    wrong = _open(env, iid, order, phone, occurred=datetime(2020, 1, 1, tzinfo=UTC))
    assert wrong.decision == "declined"
    with pytest.raises(InputError, match="already has a case"):
        _open(env, iid, order, phone)
    withdraw_case(env.ws, iid, wrong.case_id, "被骗时间录入错误")
    assert _open(env, iid, order, phone).decision == "advance"


def test_an_approved_case_not_yet_paid_can_be_withdrawn(env: Env, iid: str) -> None:
    case, _, _ = _review(env, iid)
    review_case(env.ws, iid, case.case_id, "approved", "核实为本人")
    gone = withdraw_case(env.ws, iid, case.case_id, "重复登记")
    assert gone.decision == "withdrawn" and gone.advance == 0.0
    assert [s.action for s in gone.history] == ["approved", "withdrawn"]
    assert [s.before for s in gone.history] == ["review", "advance"]
    with pytest.raises(InputError, match="withdrawn"):
        record_payment(env.ws, iid, case.case_id, "case_paid", 1.0)


def test_a_paid_case_cannot_be_withdrawn(env: Env, iid: str) -> None:
    order, phone = _fresh(env)
    case = _open(env, iid, order, phone)
    record_payment(env.ws, iid, case.case_id, "case_paid", 10.0)
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match=r"10\.00 .*paid") as refused:
        withdraw_case(env.ws, iid, case.case_id, "录入错误")
    assert "recovered" in refused.value.message  # what to do instead
    assert _count(env.ws, iid) == n
    # the order stays blocked: its advance was paid
    with pytest.raises(InputError, match="already has a case"):
        _open(env, iid, order, phone)


# --- refused transitions ----------------------------------------------------------------


def _states(env: Env, iid: str) -> dict[str, str]:
    """One case in each state of the machine, in one incident."""
    out = {}
    order, phone = _fresh(env)
    out["advance"] = _open(env, iid, order, phone, loss=100.0).case_id
    order, phone = _fresh(env)
    paid = _open(env, iid, order, phone, loss=100.0).case_id
    record_payment(env.ws, iid, paid, "case_paid", 100.0)
    out["paid"] = paid
    out["declined"] = _open(
        env, iid, str(env.yto_only.row(5, named=True)["order_id"]), TYPO
    ).case_id
    out["review"] = _review(env, iid)[0].case_id
    for state, action in (("approved", "approved"), ("rejected", "rejected")):
        cid = _review(env, iid)[0].case_id
        review_case(env.ws, iid, cid, action, "核实")
        out[state] = cid
    cid = _review(env, iid)[0].case_id
    withdraw_case(env.ws, iid, cid, "录入错误")
    out["withdrawn"] = cid
    return out


@pytest.fixture(scope="module")
def states(env: Env) -> tuple[str, dict[str, str]]:
    iid = open_incident(env.ws, "状态", datetime.now(UTC) - timedelta(hours=2)).id
    record_evidence(env.ws, iid, env.bundle)
    return iid, _states(env, iid)


@pytest.mark.parametrize(
    ("action", "state", "match"),
    [
        ("approved", "advance", "decided 'advance'.*only a case decided 'review'"),
        ("rejected", "advance", "decided 'advance'.*only a case decided 'review'"),
        ("approved", "paid", "decided 'advance'"),
        ("approved", "declined", "decided 'declined'"),
        ("rejected", "declined", "decided 'declined'"),
        ("approved", "approved", "already approved"),
        ("rejected", "approved", "already approved"),
        ("approved", "rejected", "already rejected"),
        ("rejected", "rejected", "already rejected"),
        ("approved", "withdrawn", "was withdrawn"),
        ("rejected", "withdrawn", "was withdrawn"),
        ("withdrawn", "withdrawn", "already withdrawn"),
        ("withdrawn", "rejected", "rejected on review"),
        ("withdrawn", "paid", "paid"),
        ("paid", "withdrawn", "withdrawn"),
        ("paid", "rejected", "rejected"),
        ("paid", "review", "no advance to pay"),
        ("paid", "declined", "no advance to pay"),
    ],
)
def test_a_transition_the_machine_does_not_have_is_refused_and_records_nothing(
    env: Env, states: tuple[str, dict[str, str]], action: str, state: str, match: str
) -> None:
    iid, ids = states
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match=match) as refused:
        if action == "withdrawn":
            withdraw_case(env.ws, iid, ids[state], "录入错误")
        elif action == "paid":
            record_payment(env.ws, iid, ids[state], "case_paid", 1.0)
        else:
            review_case(env.ws, iid, ids[state], action, "核实")
    assert ids[state] in refused.value.message
    assert "\n" not in refused.value.message
    assert _count(env.ws, iid) == n


def test_an_unknown_case_or_outcome_is_refused(
    env: Env, states: tuple[str, dict[str, str]]
) -> None:
    iid, ids = states
    elsewhere = open_incident(env.ws, "另一事件", datetime.now(UTC) - timedelta(hours=1)).id
    n = _count(env.ws, iid)
    for case_id in ("CASE-00000000", "", ids["review"] + "0", "x" * 500):
        with pytest.raises(InputError, match="no case"):
            review_case(env.ws, iid, case_id, "approved", "核实")
        with pytest.raises(InputError, match="no case"):
            withdraw_case(env.ws, iid, case_id, "录入错误")
    with pytest.raises(InputError, match="no case"):  # a case of another incident
        withdraw_case(env.ws, elsewhere, ids["review"], "录入错误")
    for outcome in ("approve", "advance", "withdrawn", ""):
        with pytest.raises(InputError, match="'approved' or 'rejected'"):
            review_case(env.ws, iid, ids["review"], outcome, "核实")
    assert _count(env.ws, iid) == n


@pytest.mark.parametrize(
    "reason",
    [
        "",
        "   ",
        "核实\x1b[31m",
        "x" * 2001,
        "本人身份证 11010119900307451X",
        "回拨 13812345678 核实",
        "回拨 +86 138-1234-5678 核实",
        "回拨 １３８１２３４５６７８",
        "回拨138 1234 5678",
    ],
    ids=[
        "empty",
        "blank",
        "control",
        "long",
        "id-number",
        "phone",
        "dashed",
        "full-width",
        "spaced",
    ],
)
@pytest.mark.parametrize("action", ["approved", "rejected", "withdrawn"])
def test_a_reason_is_required_and_holds_no_phone_or_id_number(
    env: Env, states: tuple[str, dict[str, str]], action: str, reason: str
) -> None:
    iid, ids = states
    n = _count(env.ws, iid)
    with pytest.raises(InputError) as refused:
        if action == "withdrawn":
            withdraw_case(env.ws, iid, ids["review"], reason)
        else:
            review_case(env.ws, iid, ids["review"], action, reason)
    message = refused.value.message
    assert "reason" in message
    digits = re.sub(r"\D", "", message)
    assert "12345678" not in digits and "19900307" not in digits  # not echoed back
    assert _count(env.ws, iid) == n


def test_nothing_is_reviewed_or_withdrawn_on_a_closed_incident(env: Env, iid: str) -> None:
    case, _, _ = _review(env, iid)
    add_event(env.ws, iid, "closed", {"resolution": "已结案"})
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match="closed"):
        review_case(env.ws, iid, case.case_id, "approved", "核实")
    with pytest.raises(InputError, match="closed"):
        withdraw_case(env.ws, iid, case.case_id, "录入错误")
    assert _count(env.ws, iid) == n


# --- one loss, one advance --------------------------------------------------------------


@pytest.mark.parametrize("same", ["order", "receipt"])
def test_approving_a_second_advance_for_one_loss_needs_another_loss_said(
    env: Env, iid: str, same: str
) -> None:
    """A review made because the order or the police receipt already has an advance: the
    approval is refused unless the reviewer says it is another loss (``another_loss``)."""
    order, phone = _fresh(env)
    first = _open(env, iid, order, phone, police_receipt=f"SAME-{same}-0001")
    assert first.decision == "advance"
    if same == "order":
        where = open_incident(env.ws, "同一合作方", datetime.now(UTC) - timedelta(hours=1)).id
        record_evidence(env.ws, where, env.bundle)
        second = _open(env, where, order, phone)
    else:
        where = iid
        other, other_phone = _fresh(env)
        second = _open(env, iid, other, other_phone, police_receipt=f"SAME-{same}-0001")
    assert second.decision == "review" and first.case_id in second.reasons[0]
    n = _count(env.ws, where)
    with pytest.raises(InputError, match="already has an advance") as refused:
        review_case(env.ws, where, second.case_id, "approved", "核实")
    assert first.case_id in refused.value.message and "another" in refused.value.message
    assert _count(env.ws, where) == n
    ok = review_case(env.ws, where, second.case_id, "approved", "二次被骗", another_loss=True)
    assert (ok.decision, ok.advance) == ("advance", 5000.0)
    # a rejection needs no such word: it pays nothing
    third, _, _ = _review(env, where, police_receipt=f"SAME-{same}-0001")
    assert review_case(env.ws, where, third.case_id, "rejected", "重复申请").decision == "rejected"


def test_a_withdrawn_advance_is_no_earlier_advance_in_another_incident(env: Env, iid: str) -> None:
    order, phone = _fresh(env)
    first = _open(env, iid, order, phone)
    withdraw_case(env.ws, iid, first.case_id, "误开事件")
    where = open_incident(env.ws, "正确事件", datetime.now(UTC) - timedelta(hours=1)).id
    record_evidence(env.ws, where, env.bundle)
    assert _open(env, where, order, phone).decision == "advance"


# --- the record ---------------------------------------------------------------------------


def test_the_reason_is_encrypted_and_case_detail_opens_it(env: Env, iid: str) -> None:
    from leaktrace.respond.cases import _decrypt as open_field

    case, _, _ = _review(env, iid)
    review_case(env.ws, iid, case.case_id, "approved", "回拨核实，用户张三本人", actor="cli:bob")
    withdraw_case(env.ws, iid, case.case_id, "同一用户重复登记", actor="cli:carol")
    with sqlite3.connect(env.ws.home / "ledger.db") as con:
        stored = "\n".join(b for (b,) in con.execute("select body from incident_events"))
    con.close()
    for text in ("回拨核实", "张三", "重复登记"):
        assert text not in stored
    d = case_detail(env.ws, load_incident(env.ws, iid), case.case_id)
    assert (d["decision"], d["opened_decision"]) == ("withdrawn", "review")
    assert [(h["action"], h["from"], h["reason"], h["by"]) for h in d["history"]] == [
        ("approved", "review", "回拨核实，用户张三本人", "cli:bob"),
        ("withdrawn", "advance", "同一用户重复登记", "cli:carol"),
    ]
    assert [h["advance"] for h in d["history"]] == [5000.0, 0.0]
    assert all(h["seq"] > 3 and h["at"] for h in d["history"])
    # bound to its place: a reason's ciphertext does not open as a receipt or a note
    reason = _bodies(env.ws, iid)[-1]["reason"]
    for kind in ("case", "case_paid"):
        with pytest.raises(InputError, match="cannot be opened"):
            open_field(env.ws, reason, kind)


def test_a_tampered_review_does_not_verify(env: Env, iid: str) -> None:
    case, _, _ = _review(env, iid, loss=300.0)
    review_case(env.ws, iid, case.case_id, "approved", "核实")
    seq = len(load_incident(env.ws, iid).events)
    db = env.ws.home / "ledger.db"
    with sqlite3.connect(db) as con:
        (body,) = con.execute(
            "select body from incident_events where incident_id = ? and seq = ?", (iid, seq)
        ).fetchone()
        forged = body.replace('"advance":300.0', '"advance":50000.0')
        assert forged != body
        con.execute(
            "update incident_events set body = ? where incident_id = ? and seq = ?",
            (forged, iid, seq),
        )
    con.close()
    where = re.escape(f"incident {iid} event {seq}") + r"\b"
    with pytest.raises(LedgerIntegrityError, match=where):
        load_incident(env.ws, iid)
    with pytest.raises(LedgerIntegrityError, match=where):
        record_payment(env.ws, iid, case.case_id, "case_paid", 1000.0)
    with pytest.raises(LedgerIntegrityError, match=where):
        withdraw_case(env.ws, iid, case.case_id, "录入错误")
    # put back (every case decision reads every incident: one loss, one advance), it
    # verifies again and says what the reviewer decided
    with sqlite3.connect(db) as con:
        con.execute(
            "update incident_events set body = ? where incident_id = ? and seq = ?",
            (body, iid, seq),
        )
    con.close()
    assert _now(env, iid, case.case_id).advance == 300.0


def test_the_regulator_report_counts_the_outcomes(env: Env, iid: str) -> None:
    a = _open(env, iid, *_fresh(env), loss=800.0)
    b, _, _ = _review(env, iid, loss=8000.0)
    review_case(env.ws, iid, b.case_id, "approved", "核实")
    c, _, _ = _review(env, iid, loss=300.0)
    review_case(env.ws, iid, c.case_id, "rejected", "非本人")
    _review(env, iid, loss=200.0)  # still awaiting its review
    _open(env, iid, str(env.yto_only.row(7, named=True)["order_id"]), TYPO, loss=100.0)
    f, _, _ = _review(env, iid, loss=9999.0)
    withdraw_case(env.ws, iid, f.case_id, "录入错误")
    record_payment(env.ws, iid, b.case_id, "case_paid", 5000.0)
    inc = load_incident(env.ws, iid)
    assert case_summary(inc) == {
        "cases": 5,
        "by_decision": {"advance": 2, "review": 1, "declined": 2},
        "reopened": 0,
        "advance_decided": 800.0 + 5000.0,
        "paid": 5000.0,
        "recovered": 0.0,
        "loss_reported": 800.0 + 8000.0 + 300.0 + 200.0 + 100.0,
    }
    assert a.decision == "advance"
    text = regulator_report(env.ws, inc).text
    assert "受理 5 起（垫付 2 起、人工复核 1 起、不予垫付 2 起）" in text
    assert "报告损失 9,400.00 元" in text and "决定垫付 5,800.00 元" in text


# --- two people at once -----------------------------------------------------------------

WORKERS = 4
_gate: Any = None


def _start(gate: Any) -> None:
    global _gate
    _gate = gate


def _act(args: tuple[str, str, str, str]) -> str:
    home, incident_id, case_id, action = args
    _gate.wait()  # every clerk presses the button together
    ws = open_workspace(Path(home))
    try:
        if action == "paid":
            record_payment(ws, incident_id, case_id, "case_paid", 60.0)
        elif action == "withdrawn":
            withdraw_case(ws, incident_id, case_id, "录入错误")
        else:
            review_case(ws, incident_id, case_id, action, "核实")
        return action
    except InputError as exc:
        return "refused: " + exc.message


def _race(args: list[tuple[str, str, str, str]]) -> list[str]:
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker, as separate clerks have
    with ctx.Manager() as manager:
        gate = manager.Barrier(WORKERS)
        with ctx.Pool(WORKERS, initializer=_start, initargs=(gate,)) as pool:
            return pool.map(_act, args, chunksize=1)


def test_two_reviewers_at_once_record_one_outcome(env: Env, iid: str) -> None:
    case, _, _ = _review(env, iid)
    actions = ["approved", "rejected", "approved", "rejected"]
    results = _race([(str(env.ws.home), iid, case.case_id, a) for a in actions])
    done = [r for r in results if not r.startswith("refused")]
    assert len(done) == 1, results
    assert _now(env, iid, case.case_id).decision == {"approved": "advance"}.get(done[0], done[0])
    assert len(_now(env, iid, case.case_id).history) == 1


def test_a_withdrawal_and_a_payment_at_once_do_not_both_pass(env: Env, iid: str) -> None:
    order, phone = _fresh(env)
    case = _open(env, iid, order, phone, loss=100.0)
    actions = ["paid", "withdrawn", "paid", "withdrawn"]
    results = _race([(str(env.ws.home), iid, case.case_id, a) for a in actions])
    done = [r for r in results if not r.startswith("refused")]
    assert len(done) == 1, results  # 60 + 60 would pass the 100 advance; paid is final
    now = _now(env, iid, case.case_id)
    assert (now.decision, now.paid) in {("withdrawn", 0.0), ("advance", 60.0)}


@pytest.mark.parametrize("opener", ["cli:alice", "token:alice"])
@pytest.mark.parametrize("approver", ["ａｌｉｃｅ", " ALICE ", "Ａｌｉｃｅ"])
def test_one_person_written_another_way_does_not_approve(
    env: Env, iid: str, opener: str, approver: str
) -> None:
    """Persons compare after NFKC as well as without case: full-width ``ａｌｉｃｅ`` (a
    shell's ``USER``, a token's ``--person``) is alice, who opened the case (session 25's
    review: casefold alone let her approve her own claim)."""
    case, _, _ = _review(env, iid, actor=opener)
    for actor, person in ((f"cli:{approver}", None), ("token:audit", approver)):
        with pytest.raises(InputError, match="another person approves it"):
            review_case(
                env.ws, iid, case.case_id, "approved", "回拨核实", actor=actor, person=person
            )
    done = review_case(env.ws, iid, case.case_id, "approved", "回拨核实", actor="cli:bob")
    assert done.decision == "advance"


@pytest.mark.parametrize("day", ["2026-11-29", "20261129", "2026/11/29", " 2026-11-29 "])
def test_a_scam_date_without_a_time_of_day_is_refused(env: Env, iid: str, day: str) -> None:
    """Read as midnight, a date alone puts a release made later that day after the scam,
    and the victim would be declined with a sentence that may be untrue (session 25's
    review); a date with a time is decided as before."""
    order, phone = _fresh(env)
    with pytest.raises(InputError, match="needs a time of day"):
        _open(env, iid, order, phone, occurred=day)
    assert not [c for c in cases_of(load_incident(env.ws, iid)) if c.case_id]
    now = datetime.now(PLATFORM_TZ) + timedelta(minutes=1)  # typed as a clerk would: UTC+8
    case = _open(env, iid, order, phone, occurred=now.strftime("%Y-%m-%d %H:%M"))
    assert case.decision == "advance", case.reasons
