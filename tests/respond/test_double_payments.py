"""Audit of the respond part (session 13, fixed there): victims' cases, incident evidence
and the regulator report. Each test states a rule the code did not keep: one order is
advanced once across incidents, one police report is one loss, a release without phones
decides nothing about a phone, no zero advance, the same evidence once, no accused partner
left out of the report's figures."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.errors import InputError
from leaktrace.respond import exposed
from leaktrace.respond.cases import open_case
from leaktrace.respond.incident import (
    add_event,
    load_incident,
    open_incident,
    record_evidence,
    record_exposure,
)
from leaktrace.respond.regulator import regulator_report
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace, add_recipient

from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
RECEIPT = "A3301062026112900123"


@dataclass
class Env:
    ws: Workspace
    dir: Path
    shop_path: Path
    bundle_zto: Path
    bundle_cs: Path
    bundle_bi: Path
    zto: pl.DataFrame
    """The shop's zto orders; rows 0 and 1 share one phone (one shopper, two orders)."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("audit-s13")
    # one shopper with two zto orders: the second zto order gets the first one's phone
    zto_ids = shop.filter(pl.col("courier") == "中通快递").get_column("order_id")
    first, second = zto_ids[0], zto_ids[1]
    phone = shop.filter(pl.col("order_id") == first).get_column("phone")[0]
    shop = shop.with_columns(
        pl.when(pl.col("order_id") == second)
        .then(pl.lit(phone))
        .otherwise(pl.col("phone"))
        .alias("phone")
    )
    shop_path = root / "shop.parquet"
    shop.write_parquet(shop_path)
    ws = make_workspace(root / "ws")
    # an analytics team: its policy sends no phone (nor name)
    add_recipient(ws, "bi", template="internal", display_name="数据分析部")
    copies = release_copies(ws, shop, root, ("zto", "yto", "cs-firm", "bi"))
    bundles = {}
    for name, leak in (
        ("zto", copies["zto"].sample(25, seed=21).select(LEAK_COLS)),
        ("cs", copies["cs-firm"].sample(25, seed=23).select(LEAK_COLS)),
        ("bi", copies["bi"].sample(200, seed=25)),
    ):
        path = root / f"evidence-{name}.json"
        write_bundle(build_bundle(ws, trace(leak, workspace=ws)), path)
        bundles[name] = path
    zto = shop.filter(pl.col("courier") == "中通快递")
    assert zto.get_column("phone")[0] == zto.get_column("phone")[1]
    return Env(ws, root, shop_path, bundles["zto"], bundles["cs"], bundles["bi"], zto)


def _incident(ws: Workspace, *bundles: Path, title: str = "审计") -> str:
    iid = open_incident(ws, title, datetime.now(UTC) - timedelta(hours=2), "用户被骗").id
    for b in bundles:
        record_evidence(ws, iid, b)
    return iid


def _case(ws: Workspace, iid: str, order: str, phone: str, **kw: Any) -> Any:
    args: dict[str, Any] = {
        "order_id": order,
        "phone": phone,
        "occurred": datetime.now(UTC),
        "loss": 1000.0,
        "police_receipt": RECEIPT,
    }
    args.update(kw)
    return open_case(ws, iid, **args)


# --- cases: paid twice ------------------------------------------------------------------


def test_one_order_is_not_advanced_twice_through_two_incidents(env: Env) -> None:
    row = env.zto.row(5, named=True)
    a = _incident(env.ws, env.bundle_zto, title="第一起")
    b = _incident(env.ws, env.bundle_zto, title="同一来源的第二起")
    first = _case(env.ws, a, row["order_id"], row["phone"])
    assert first.decision == "advance" and first.advance == 1000.0
    # the same shopper, same order, same loss and police receipt, at the next desk
    try:
        second = _case(env.ws, b, row["order_id"], row["phone"])
    except InputError:
        return  # refused: fine
    assert second.decision != "advance" or second.advance == 0.0


def test_one_police_report_is_not_advanced_above_its_loss(env: Env) -> None:
    iid = _incident(env.ws, env.bundle_zto, title="一次被骗两笔订单")
    r0, r1 = env.zto.row(0, named=True), env.zto.row(1, named=True)
    assert r0["phone"] == r1["phone"]
    when = datetime.now(UTC)
    receipt = "JJ-ONE-REPORT-0001"  # this test's own: the module's other cases share RECEIPT
    first = _case(
        env.ws, iid, r0["order_id"], r0["phone"], occurred=when, loss=3000.0, police_receipt=receipt
    )
    assert first.decision == "advance" and first.advance == 3000.0
    total = first.advance
    try:
        second = _case(
            env.ws,
            iid,
            r1["order_id"],
            r1["phone"],
            occurred=when,
            loss=3000.0,
            police_receipt=receipt,
        )
        assert second.decision == "review"  # a person decides whether it adds to the loss
        total += second.advance
    except InputError:
        pass
    # one police receipt, one transfer of 3,000 yuan: the advances total at most that
    assert total <= 3000.0


def test_an_advance_written_between_decision_and_write_makes_a_review(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clerks in two incidents, one police report: the second clerk's advance is
    written after the first clerk's case was decided but before it is written (the order
    an unlucky moment gives). The first case must see it: the rule is checked under the
    workspace lock, on the cases as they stand at the write."""
    from leaktrace.respond import cases

    a = _incident(env.ws, env.bundle_zto, title="窗口一")
    b = _incident(env.ws, env.bundle_zto, title="窗口二")
    r2, r3 = env.zto.row(2, named=True), env.zto.row(3, named=True)
    receipt = "JJ-TWO-DESKS-0002"
    real_add_event = cases.add_event
    other: list[Any] = []

    def other_clerk_first(*args: Any, **kw: Any) -> Any:
        if not other:  # the first clerk's write: the other desk gets in just before it
            monkeypatch.setattr(cases, "add_event", real_add_event)
            other.append(_case(env.ws, b, r3["order_id"], r3["phone"], police_receipt=receipt))
        return real_add_event(*args, **kw)

    monkeypatch.setattr(cases, "add_event", other_clerk_first)
    first = _case(env.ws, a, r2["order_id"], r2["phone"], police_receipt=receipt)
    assert other and other[0].decision == "advance"
    assert first.decision == "review" and first.advance == 0.0, first
    assert "this police receipt already has an advance" in first.reasons[0]
    stored = next(e for e in load_incident(env.ws, a).all("case"))
    assert stored.body["decision"] == "review" and stored.body["advance"] == 0.0


# --- cases: decided on a release that did not carry the phone -----------------------------


def test_an_accused_release_without_phones_is_for_review(env: Env) -> None:
    from leaktrace.ledger import Ledger

    bi = [e for e in Ledger(env.ws).entries() if e.recipient == "bi"]
    assert bi and all("phone" not in e.fields for e in bi)
    iid = _incident(env.ws, env.bundle_bi, title="分析部数据泄露")
    assert load_incident(env.ws, iid).accused == ["bi"]
    shop = pl.read_parquet(env.shop_path)
    row = shop.row(100, named=True)  # bi received every order, without its phone
    case = _case(env.ws, iid, row["order_id"], row["phone"])
    # docs/respond.md: review = "the order went out before the scam, but not with this
    # phone (another number on the order, or the release carried none)"
    assert case.decision == "review", case


# --- cases: an advance nobody can pay -------------------------------------------------------


def test_a_zero_cap_is_refused_not_decided_as_a_zero_advance(env: Env) -> None:
    iid = _incident(env.ws, env.bundle_zto, title="零上限")
    row = env.zto.row(7, named=True)
    try:
        case = _case(env.ws, iid, row["order_id"], row["phone"], cap=0.0)
    except InputError:
        return
    assert not (case.decision == "advance" and case.advance < 0.01), case


# --- incident evidence and the regulator report ---------------------------------------------


def test_the_same_evidence_reformatted_is_evidence_once(env: Env) -> None:
    iid = _incident(env.ws, env.bundle_zto, title="同一证据")
    pretty = env.dir / "evidence-zto-pretty.json"
    pretty.write_text(
        json.dumps(json.loads(env.bundle_zto.read_text()), indent=2, ensure_ascii=False)
    )
    with contextlib.suppress(InputError):  # refused: fine
        record_evidence(env.ws, iid, pretty)
    inc = load_incident(env.ws, iid)
    assert len(inc.all("evidence")) == 1


def test_the_report_says_when_an_accused_recipient_was_not_counted(env: Env) -> None:
    iid = _incident(env.ws, env.bundle_zto, title="两个来源")
    ex = exposed(env.ws, env.shop_path, recipients=["zto"])
    record_exposure(env.ws, iid, ex.summary(), "0" * 64, ["zto"])
    add_event(env.ws, iid, "measure", {"text": "已停止向该快递公司提供数据"})
    record_evidence(env.ws, iid, env.bundle_cs)  # cs-firm had every order
    inc = load_incident(env.ws, iid)
    assert inc.accused == ["zto", "cs-firm"]
    draft = regulator_report(env.ws, inc, "数据安全负责人")
    # the figure stated (zto's people only) is not the scope the record's evidence names
    assert any("cs-firm" in m for m in draft.missing), draft.missing
