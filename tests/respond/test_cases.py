"""Victim cases (先行垫付): decided from the incident's accused and the ledger's exposure
index, sealed in the incident's chain, with no personal data in clear."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_workspace
from leaktrace.alias import resolve_alias
from leaktrace.digest import keyed_digests
from leaktrace.errors import InputError, LedgerIntegrityError
from leaktrace.ledger import Ledger
from leaktrace.respond.cases import (
    DEFAULT_CAP,
    MAX_LOSS,
    Case,
    _decide,
    case_detail,
    case_summary,
    cases_of,
    open_case,
    record_payment,
)
from leaktrace.respond.incident import add_event, load_incident, open_incident, record_evidence
from leaktrace.respond.regulator import regulator_report
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace, open_workspace

from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
RECEIPT = "A3301062026112900123"
_RECEIPTS = itertools.count(1)
UTC8 = timezone(timedelta(hours=8))
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
NO_RELEASE = "no release to the accused recipient(s) carried this order"
ONLY_AFTER = "only after the scam"


@dataclass
class Env:
    ws: Workspace
    dir: Path
    bundle: Path
    """Cut from zto's copy: accuses zto."""
    bundle_cs: Path
    """Cut from cs-firm's copy: accuses cs-firm."""
    bundle_unmarked: Path
    """The shop's own rows: accuses nobody."""
    before_release: datetime
    """A moment before the first release: a scam then was fed by none of them."""
    zto: pl.DataFrame
    """The shop's orders the zto courier filter selects (computed here, not by the code)."""
    yto_only: pl.DataFrame
    """Orders shipped by yto: they went to yto and cs-firm (which had every order), not zto."""
    copies: dict[str, pl.DataFrame]
    release_id: dict[str, str]
    shop_phones: set[str]
    shop_ids: set[str]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("cases")
    ws = make_workspace(root / "ws")
    before = datetime.now(UTC)
    copies = release_copies(ws, shop, root)
    bundles = []
    for name, leak in (
        ("zto", copies["zto"].sample(25, seed=21).select(LEAK_COLS)),
        ("cs", copies["cs-firm"].sample(25, seed=23).select(LEAK_COLS)),
        ("unmarked", shop.sample(60, seed=32).select(LEAK_COLS)),
    ):
        path = root / f"evidence-{name}.json"
        write_bundle(build_bundle(ws, trace(leak, workspace=ws)), path)
        bundles.append(path)
    where = ws.config.recipients["zto"].where
    assert where == "courier = '中通快递'"
    zto = pl.SQLContext(orders=shop).execute(f"SELECT * FROM orders WHERE {where}", eager=True)
    assert zto.height == shop.filter(pl.col("courier") == "中通快递").height > 100
    yto_only = shop.filter(pl.col("courier") == "圆通速递")
    assert yto_only.height > 100
    ids = {e.recipient: e.release_id for e in Ledger(ws).entries()}
    return Env(
        ws,
        root,
        *bundles,
        before,
        zto,
        yto_only,
        copies,
        ids,
        set(shop.get_column("phone")),
        set(shop.get_column("order_id")),
    )


def _incident(ws: Workspace, bundle: Path | None, title: str = "中通面单泄露") -> str:
    iid = open_incident(ws, title, datetime.now(UTC) - timedelta(hours=2), "用户被冒充客服诈骗").id
    if bundle is not None:
        record_evidence(ws, iid, bundle)
    return iid


@pytest.fixture
def iid(env: Env) -> str:
    """A fresh incident whose evidence accuses zto (each test its own: one case per order)."""
    iid = _incident(env.ws, env.bundle)
    assert load_incident(env.ws, iid).accused == ["zto"]
    return iid


@pytest.fixture(scope="module")
def shared(env: Env) -> str:
    """One incident for the property tests, which must never write to it."""
    return _incident(env.ws, env.bundle, "属性测试")


def _count(ws: Workspace, incident_id: str) -> int:
    with sqlite3.connect(ws.home / "ledger.db") as con:
        (n,) = con.execute(
            "select count(*) from incident_events where incident_id = ?", (incident_id,)
        ).fetchone()
    con.close()
    return int(n)


def _bodies(ws: Workspace, incident_id: str, kind: str | None = None) -> list[str]:
    sql = "select body from incident_events where incident_id = ?"
    args: tuple[str, ...] = (incident_id,)
    if kind:
        sql, args = sql + " and kind = ?", (incident_id, kind)
    with sqlite3.connect(ws.home / "ledger.db") as con:
        out = [b for (b,) in con.execute(sql + " order by seq", args)]
    con.close()
    return out


def _case(ws: Workspace, iid: str, row: dict[str, Any] | tuple[str, str], **kw: Any) -> Case:
    order, phone = (row["order_id"], row["phone"]) if isinstance(row, dict) else row
    args: dict[str, Any] = {
        "order_id": order,
        "phone": phone,
        "occurred": datetime.now(UTC),
        "loss": 1000.0,
        # each case its own police report unless a test says otherwise: one report is one
        # loss, and a second advance citing it is for a person to decide
        "police_receipt": f"AUTO-{next(_RECEIPTS):08d}",
    }
    args.update(kw)
    return open_case(ws, iid, **args)


def _row(frame: pl.DataFrame, i: int) -> dict[str, Any]:
    return frame.row(i, named=True)


def _spaced(phone: str) -> str:
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}"


def _dashed(phone: str) -> str:
    return f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"


# --- decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "cap", "want"),
    [
        (800.0, None, 800.0),
        (8000.0, None, DEFAULT_CAP),
        (1234.567, None, 1234.57),
        (DEFAULT_CAP, None, DEFAULT_CAP),
        (800.0, 1000.0, 800.0),
        (8000.0, 1000.0, 1000.0),
        (0.01, 20000.0, 0.01),
        (MAX_LOSS, MAX_LOSS, MAX_LOSS),
    ],
)
def test_a_zto_shoppers_own_order_and_phone_gets_the_loss_up_to_the_cap(
    env: Env, iid: str, loss: float, cap: float | None, want: float
) -> None:
    assert DEFAULT_CAP == 5000.0  # the documented default
    row = _fresh_zto(env)
    kw = {} if cap is None else {"cap": cap}
    case = _case(env.ws, iid, row, loss=loss, **kw)
    assert case.decision == "advance"
    assert case.advance == want
    assert case.loss == round(loss, 2)
    assert case.exposed_in == [env.release_id["zto"]]  # zto's release, nobody else's
    assert len(case.reasons) == 1 and "zto" in case.reasons[0]
    assert "cs-firm" not in case.reasons[0] and "yto" not in case.reasons[0]
    assert case.paid == 0 and case.recovered == 0
    assert f"{want:,.2f}" in case.message_zh and "先行垫付" in case.message_zh
    # what was returned is what was recorded
    [stored] = cases_of(load_incident(env.ws, iid))
    assert stored == case
    [event] = load_incident(env.ws, iid).all("case")
    assert event.body["advance"] == want and event.body["decision"] == "advance"
    assert event.body["cap"] == (DEFAULT_CAP if cap is None else cap)


def test_a_yto_only_order_is_declined_though_cs_firm_received_it(env: Env, iid: str) -> None:
    row = _row(env.yto_only, 3)
    # premise: cs-firm (no filter) received this order too, phone masked in its copy
    phone = row["phone"]
    masked = f"{phone[:3]}****{phone[-4:]}"
    assert masked in set(env.copies["cs-firm"].get_column("phone"))
    assert phone not in set(env.copies["zto"].get_column("phone"))
    case = _case(env.ws, iid, row, loss=3000.0)
    # cs-firm is not accused: only the accused recipients' releases count
    assert (case.decision, case.advance, case.exposed_in) == ("declined", 0.0, [])
    assert case.reasons == [NO_RELEASE]
    assert "不适用先行垫付" in case.message_zh
    assert "垫付 " not in case.message_zh  # no amount promised


def test_when_cs_firm_is_the_accused_the_same_order_is_advanced(env: Env) -> None:
    """The same yto order, in an incident whose evidence accuses cs-firm: its copy masked
    the phone, but the platform's lookup is of the real phone it released from."""
    iid = _incident(env.ws, env.bundle_cs, "外包客服泄露")
    assert load_incident(env.ws, iid).accused == ["cs-firm"]
    row = _row(env.yto_only, 3)
    case = _case(env.ws, iid, row, loss=3000.0)
    assert (case.decision, case.advance) == ("advance", 3000.0)
    assert case.exposed_in == [env.release_id["cs-firm"]]
    assert "cs-firm" in case.reasons[0]
    # a zto order went to cs-firm too, with the same result; its zto copy does not count
    zto_case = _case(env.ws, iid, _row(env.zto, 4), loss=100.0)
    assert zto_case.decision == "advance"
    assert zto_case.exposed_in == [env.release_id["cs-firm"]]


@pytest.mark.parametrize("phone", ["another shopper", "nobody's"])
def test_a_zto_order_with_another_phone_is_for_review(env: Env, iid: str, phone: str) -> None:
    row = _row(env.zto, 11)
    if phone == "another shopper":
        other = _row(env.zto, 12)["phone"]
    else:
        other = "19912345678"
        assert other not in env.shop_phones
    assert other != row["phone"]
    case = _case(env.ws, iid, (row["order_id"], other), loss=2000.0)
    assert (case.decision, case.advance) == ("review", 0.0)
    assert case.exposed_in == [env.release_id["zto"]]
    assert "not with this phone" in case.reasons[0]
    assert "人工" in case.message_zh


def test_a_scam_before_the_release_is_declined(env: Env, iid: str) -> None:
    row = _row(env.zto, 15)
    case = _case(env.ws, iid, row, occurred=env.before_release - timedelta(days=1))
    assert (case.decision, case.advance) == ("declined", 0.0)
    assert len(case.reasons) == 1 and ONLY_AFTER in case.reasons[0]
    assert case.exposed_in == [env.release_id["zto"]]  # it went out, but afterwards


def test_a_naive_scam_time_is_utc_plus_8(env: Env, iid: str) -> None:
    """Half an hour before the release, written in UTC+8 without a zone: read as UTC it
    would fall hours after the release and be advanced."""
    local = (env.before_release - timedelta(minutes=30)).astimezone(UTC8).replace(tzinfo=None)
    assert local.replace(tzinfo=UTC) > datetime.now(UTC)  # the wrong reading: after
    case = _case(env.ws, iid, _row(env.zto, 16), occurred=local.isoformat(sep=" "))
    assert case.decision == "declined" and ONLY_AFTER in case.reasons[0]
    [event] = load_incident(env.ws, iid).all("case")
    stored = datetime.fromisoformat(event.body["occurred_at"])
    assert stored == local.replace(tzinfo=UTC8, microsecond=0)
    # the same order given as after the release, as an aware time in another zone
    iid2 = _incident(env.ws, env.bundle)
    later = datetime.now(UTC).astimezone(timezone(timedelta(hours=-5)))
    assert _case(env.ws, iid2, _row(env.zto, 16), occurred=later).decision == "advance"


@pytest.mark.parametrize(
    ("order", "phone"),
    [
        pytest.param(lambda o: o.translate(FULLWIDTH), str, id="full-width-order"),
        pytest.param(lambda o: f"  {o}\t", str, id="spaces-around-order"),
        pytest.param(lambda o: f"{o}.0", str, id="float-order"),
        pytest.param(lambda o: f"{o}.0".translate(FULLWIDTH), str, id="full-width-float"),
        pytest.param(str, _dashed, id="plus86-dashes"),
        pytest.param(str, _spaced, id="spaced-phone"),
        pytest.param(str, lambda p: "0086" + p, id="0086-phone"),
        pytest.param(str, lambda p: p.translate(FULLWIDTH), id="full-width-phone"),
        pytest.param(lambda o: f" {o}.0 ", _dashed, id="both"),
    ],
)
def test_spellings_of_the_order_and_phone_still_find_the_order(
    env: Env, iid: str, order: Any, phone: Any
) -> None:
    row = _fresh_zto(env)
    given_order, given_phone = order(row["order_id"]), phone(row["phone"])
    assert (given_order, given_phone) != (row["order_id"], row["phone"])
    case = _case(env.ws, iid, (given_order, given_phone), loss=600.0)
    assert (case.decision, case.advance) == ("advance", 600.0)
    assert case.exposed_in == [env.release_id["zto"]]


def test_canary_orders_from_zto_s_copy_are_no_shoppers_orders(env: Env, iid: str) -> None:
    """A canary row is planted, not sold: its order number (as zto's copy has it, or as
    the platform resolves the alias) with its phone is declined, though zto's exposure
    index does hold its anchor (flagged canary)."""
    copy = env.copies["zto"]
    canaries = copy.filter(~pl.col("phone").is_in(sorted(env.shop_phones)))
    entry = next(e for e in Ledger(env.ws).entries() if e.recipient == "zto")
    assert canaries.height == entry.canaries > 0
    index = pl.from_arrow(pq.read_table(env.ws.home / entry.index_file))
    assert isinstance(index, pl.DataFrame)
    flagged = set(index.filter(pl.col("is_canary")).get_column("anchor"))
    for alias, phone in canaries.select("order_id", "phone").iter_rows():
        real, version = resolve_alias(env.ws, alias, "zto")
        assert real not in env.shop_ids
        anchor = keyed_digests(
            {"a": (pl.Series([real]), env.ws.keys.derive("anchor", version))}
        ).get_column("a")[0]
        assert anchor in flagged  # the premise: the index does carry this order, as a canary
        for order in (real, alias):
            case = _case(env.ws, iid, (order, phone), loss=500.0)
            assert (case.decision, case.advance, case.exposed_in) == ("declined", 0.0, [])
            assert case.reasons == [NO_RELEASE]


def test_an_order_nobody_received_is_declined(env: Env, iid: str) -> None:
    case = _case(env.ws, iid, ("1234567890123456789", "13800138000"))
    assert (case.decision, case.advance, case.exposed_in) == ("declined", 0.0, [])
    assert case.reasons == [NO_RELEASE]


def test_a_scam_time_in_the_future_is_refused(env: Env, iid: str) -> None:
    with pytest.raises(InputError):
        _case(env.ws, iid, _row(env.zto, 25), occurred=datetime.now(UTC) + timedelta(days=30))
    assert _count(env.ws, iid) == 2


# --- refusals: nothing recorded ---------------------------------------------------------


def _refused(env: Env, iid: str, match: str | None = None, **kw: Any) -> None:
    before = _count(env.ws, iid)
    with pytest.raises(InputError, match=match):
        _case(env.ws, iid, kw.pop("row", _row(env.zto, 30)), **kw)
    assert _count(env.ws, iid) == before


def test_no_case_without_evidence(env: Env) -> None:
    bare = _incident(env.ws, None)
    _refused(env, bare, "no evidence")
    assert _count(env.ws, bare) == 1
    # evidence that accuses nobody is no evidence naming the source either
    unnamed = _incident(env.ws, env.bundle_unmarked)
    assert load_incident(env.ws, unnamed).accused == []
    _refused(env, unnamed, "no evidence")
    assert _count(env.ws, unnamed) == 2


def test_no_case_on_a_closed_incident(env: Env, iid: str) -> None:
    add_event(env.ws, iid, "closed", {"resolution": "已结案"})
    _refused(env, iid, "closed")


@pytest.mark.parametrize(
    "loss", [0.0, -0.0, -1.0, -5000.0, math.nan, math.inf, -math.inf, MAX_LOSS + 0.01, 1e12]
)
def test_a_loss_that_is_no_positive_amount_in_range_is_refused(
    env: Env, iid: str, loss: float
) -> None:
    _refused(env, iid, "loss", loss=loss)


@pytest.mark.parametrize("cap", [-1.0, math.nan, math.inf, MAX_LOSS + 1])
def test_a_cap_out_of_range_is_refused(env: Env, iid: str, cap: float) -> None:
    _refused(env, iid, "cap", cap=cap)


@pytest.mark.parametrize(
    "receipt",
    [
        "",
        "   ",
        "A12",
        "A33 0106",
        "报警回执123456",
        "A3301０６2026",  # full-width digits inside
        "-1234",
        "A" * 65,
        "A330106\n2026",
        "11010119900307451X",
        "11010119900307451x",
        "110101199003074513",
        "JJ11010119900307451X",
        "A-11010119900307451X-01",
    ],
)
def test_a_receipt_that_is_not_one_is_refused(env: Env, iid: str, receipt: str) -> None:
    _refused(env, iid, police_receipt=receipt)


def test_an_id_number_as_receipt_says_why(env: Env, iid: str) -> None:
    _refused(env, iid, "ID card", police_receipt="11010119900307451X")


def test_an_id_number_with_dashes_is_refused_too(env: Env, iid: str) -> None:
    _refused(env, iid, police_receipt="110101-19900307-451X")


def test_receipts_of_4_and_64_characters_and_around_spaces_are_accepted(env: Env, iid: str) -> None:
    for i, receipt in enumerate(("A123", "B" * 64, f"  {RECEIPT}  ", "JJ-2026-001")):
        case = _case(env.ws, iid, _row(env.zto, 40 + i), police_receipt=receipt)
        assert case.decision == "advance"


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "12345",
        "1381234567",
        "138123456789",
        "23812345678",
        "0571-8888666",
        "abc",
        "+14155550100",
    ],
)
def test_a_phone_that_is_no_mobile_number_is_refused(env: Env, iid: str, phone: str) -> None:
    _refused(env, iid, "mobile", row=(_row(env.zto, 30)["order_id"], phone))


@pytest.mark.parametrize("order", ["", "   ", "1" * 65])
def test_an_order_number_missing_or_too_long_is_refused(env: Env, iid: str, order: str) -> None:
    _refused(env, iid, "order number", row=(order, _row(env.zto, 30)["phone"]))


@pytest.mark.parametrize("occurred", ["", "yesterday", "2024-13-01", "29/11/2026 17:00"])
def test_a_scam_time_that_is_no_time_is_refused(env: Env, iid: str, occurred: str) -> None:
    _refused(env, iid, "date/time", occurred=occurred)


def test_a_second_case_for_the_same_order_is_refused(env: Env, iid: str) -> None:
    row = _row(env.zto, 50)
    first = _case(env.ws, iid, row, loss=5000.0)
    assert first.decision == "advance"
    n = _count(env.ws, iid)
    # whatever the phone, the loss or the time given the second time
    for kw in ({}, {"loss": 10.0}, {"occurred": env.before_release - timedelta(days=1)}):
        with pytest.raises(InputError, match="already has a case"):
            _case(env.ws, iid, row, **kw)
    with pytest.raises(InputError, match="already has a case"):
        _case(env.ws, iid, (f" {row['order_id']} ", "19912345678"))
    assert _count(env.ws, iid) == n
    # the same order in another incident is another case, for a person: it was advanced
    other = _incident(env.ws, env.bundle)
    again = _case(env.ws, other, row)
    assert again.decision == "review" and again.advance == 0.0
    assert "already has an advance" in again.reasons[0] and first.case_id in again.reasons[0]
    # the victim is told why: an earlier advance, not the order's ownership
    assert "另一笔损失" in again.message_zh and "订单归属" not in again.message_zh


@pytest.mark.parametrize("spelling", ["full-width", "float"])
def test_a_second_case_for_the_same_order_in_another_spelling_is_refused(
    env: Env, iid: str, spelling: str
) -> None:
    row = _fresh_zto(env)
    assert _case(env.ws, iid, row, loss=5000.0).decision == "advance"
    n = _count(env.ws, iid)
    again = (
        row["order_id"].translate(FULLWIDTH) if spelling == "full-width" else row["order_id"] + ".0"
    )
    with pytest.raises(InputError, match="already has a case"):
        _case(env.ws, iid, (again, row["phone"]), loss=5000.0)
    assert _count(env.ws, iid) == n


@pytest.fixture
def clone(env: Env, tmp_path: Path) -> Workspace:
    """A copy of the module's workspace, for what must not touch it (a rotation, a
    tampered ledger)."""
    home = tmp_path / "ws"
    shutil.copytree(env.ws.home, home)
    return open_workspace(home)


def test_a_second_case_after_a_key_rotation_is_refused(env: Env, clone: Workspace) -> None:
    iid = _incident(clone, env.bundle)
    row, other = _row(env.zto, 52), _row(env.zto, 53)
    assert _case(clone, iid, row).decision == "advance"
    clone.keys.rotate()
    ws = open_workspace(clone.home)
    assert ws.keys.current_version == 2
    n = _count(ws, iid)
    with pytest.raises(InputError, match="already has a case"):
        _case(ws, iid, row)
    with pytest.raises(InputError, match="already has a case"):
        _case(ws, iid, (row["order_id"] + " ", _spaced(row["phone"])))
    assert _count(ws, iid) == n
    # another order is still decided from the v1 releases, and recorded under v2
    case = _case(ws, iid, other, loss=700.0)
    assert (case.decision, case.advance) == ("advance", 700.0)
    assert case.exposed_in == [env.release_id["zto"]]
    versions = [e.body["key_version"] for e in load_incident(ws, iid).all("case")]
    assert versions == [1, 2]
    # and the first case is still refused after a second rotation
    ws.keys.rotate()
    ws3 = open_workspace(ws.home)
    with pytest.raises(InputError, match="already has a case"):
        _case(ws3, iid, other)


@pytest.mark.parametrize("bad_id", ["INC-20240601-00000000", "not-an-incident", "INC-" + "f" * 40])
def test_an_unknown_incident_is_refused(env: Env, bad_id: str) -> None:
    with pytest.raises(InputError):
        _case(env.ws, bad_id, _row(env.zto, 30))
    assert _count(env.ws, bad_id) == 0


def test_no_case_from_a_ledger_that_does_not_verify(env: Env, clone: Workspace) -> None:
    iid = _incident(clone, env.bundle)
    with sqlite3.connect(clone.home / "ledger.db") as con:
        con.execute("update releases set rows = rows + 1 where recipient = 'zto'")
    con.close()
    with pytest.raises(LedgerIntegrityError):
        _case(clone, iid, _row(env.zto, 30))
    assert _count(clone, iid) == 2
    assert load_incident(clone, iid).all("case") == []


# --- payments ---------------------------------------------------------------------------


_FRESH_ZTO = itertools.count(150)


def _fresh_zto(env: Env) -> dict[str, Any]:
    """A zto order no other test of the module uses: an order advanced in one incident is
    for review in the next (one loss, one advance), and the module shares its workspace."""
    return _row(env.zto, next(_FRESH_ZTO))


def _advance_case(env: Env, iid: str, i: int | None = None, loss: float = 8000.0) -> Case:
    case = _case(env.ws, iid, _fresh_zto(env) if i is None else _row(env.zto, i), loss=loss)
    assert case.decision == "advance", case.reasons
    return case


def _now_case(env: Env, iid: str, case_id: str) -> Case:
    return next(c for c in cases_of(load_incident(env.ws, iid)) if c.case_id == case_id)


def test_the_advance_is_paid_in_parts_and_no_yuan_more(env: Env, iid: str) -> None:
    case = _advance_case(env, iid)
    assert case.advance == 5000.0
    for part, note in ((2000.0, "转账流水号 001"), (2999.5, "转账流水号 002"), (0.5, "")):
        ev = record_payment(env.ws, iid, case.case_id, "case_paid", part, note)
        stored = ev.body.pop("note")
        assert ev.kind == "case_paid" and ev.body == {
            "case_id": case.case_id,
            "amount": part,
            "by": "",
        }
        # the note is stored encrypted (empty stays empty), and case_detail opens it
        assert (stored == "") == (note == "") and (not note or note not in stored)
    detail = case_detail(env.ws, load_incident(env.ws, iid), case.case_id)
    assert [p["note"] for p in detail["payments"]] == ["转账流水号 001", "转账流水号 002", ""]
    assert [p["amount"] for p in detail["payments"]] == [2000.0, 2999.5, 0.5]
    assert _now_case(env, iid, case.case_id).paid == 5000.0
    n = _count(env.ws, iid)
    for more in (1.0, 0.01):
        with pytest.raises(InputError, match="exceed the advance"):
            record_payment(env.ws, iid, case.case_id, "case_paid", more)
    assert _count(env.ws, iid) == n


def test_one_payment_above_the_advance_is_refused(env: Env, iid: str) -> None:
    case = _case(env.ws, iid, _row(env.zto, 61), loss=1200.0)
    assert case.advance == 1200.0
    with pytest.raises(InputError, match="exceed"):
        record_payment(env.ws, iid, case.case_id, "case_paid", 1201.0)
    assert _now_case(env, iid, case.case_id).paid == 0
    record_payment(env.ws, iid, case.case_id, "case_paid", 1200.0)
    assert _now_case(env, iid, case.case_id).paid == 1200.0


def test_at_most_what_was_paid_is_recovered(env: Env, iid: str) -> None:
    case = _advance_case(env, iid)
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match="recovered"):  # nothing paid yet
        record_payment(env.ws, iid, case.case_id, "case_recovered", 1.0)
    assert _count(env.ws, iid) == n
    record_payment(env.ws, iid, case.case_id, "case_paid", 3000.0, "垫付")
    record_payment(env.ws, iid, case.case_id, "case_recovered", 2000.0, "公安返还")
    record_payment(env.ws, iid, case.case_id, "case_recovered", 1000.0, "合作方赔偿")
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match="recovered"):
        record_payment(env.ws, iid, case.case_id, "case_recovered", 0.01)
    assert _count(env.ws, iid) == n
    now = _now_case(env, iid, case.case_id)
    assert (now.paid, now.recovered) == (3000.0, 3000.0)


def test_nothing_is_paid_on_a_review_or_declined_case(env: Env, iid: str) -> None:
    review = _case(env.ws, iid, (_row(env.zto, 62)["order_id"], "19912345678"))
    declined = _case(env.ws, iid, _row(env.yto_only, 62))
    assert (review.decision, declined.decision) == ("review", "declined")
    n = _count(env.ws, iid)
    for c in (review, declined):
        with pytest.raises(InputError, match="no advance to pay"):
            record_payment(env.ws, iid, c.case_id, "case_paid", 1.0)
        with pytest.raises(InputError, match="recovered"):
            record_payment(env.ws, iid, c.case_id, "case_recovered", 1.0)
    assert _count(env.ws, iid) == n


@pytest.mark.parametrize("kind", ["case_paid", "case_recovered"])
@pytest.mark.parametrize("amount", [0.0, -0.0, -1.0, -math.inf])
def test_amounts_must_be_positive(env: Env, iid: str, kind: str, amount: float) -> None:
    case = _advance_case(env, iid)
    record_payment(env.ws, iid, case.case_id, "case_paid", 100.0)
    n = _count(env.ws, iid)
    with pytest.raises(InputError, match="positive"):
        record_payment(env.ws, iid, case.case_id, kind, amount)
    assert _count(env.ws, iid) == n


@pytest.mark.parametrize("kind", ["case_paid", "case_recovered"])
def test_a_nan_amount_is_refused(env: Env, iid: str, kind: str) -> None:
    case = _advance_case(env, iid)
    record_payment(env.ws, iid, case.case_id, "case_paid", 100.0)
    n = _count(env.ws, iid)
    with pytest.raises(InputError):
        record_payment(env.ws, iid, case.case_id, kind, math.nan)
    assert _count(env.ws, iid) == n


def test_an_unknown_case_or_payment_kind_is_refused(env: Env, iid: str) -> None:
    case = _advance_case(env, iid)
    elsewhere = _incident(env.ws, env.bundle)
    theirs = _advance_case(env, elsewhere)
    n = _count(env.ws, iid)
    for case_id in ("CASE-00000000", "", theirs.case_id, case.case_id.upper() + "0"):
        with pytest.raises(InputError, match="no case"):
            record_payment(env.ws, iid, case_id, "case_paid", 1.0)
    for kind in ("case", "paid", "case_refunded", "measure"):
        with pytest.raises(InputError, match="unknown payment"):
            record_payment(env.ws, iid, case.case_id, kind, 1.0)
    with pytest.raises(InputError, match="control"):
        record_payment(env.ws, iid, case.case_id, "case_paid", 1.0, "流水\x1b[31m")
    assert _count(env.ws, iid) == n
    add_event(env.ws, iid, "closed", {"resolution": "已结案"})
    with pytest.raises(InputError, match="closed"):
        record_payment(env.ws, iid, case.case_id, "case_paid", 1.0)


def test_the_summary_adds_up(env: Env, iid: str) -> None:
    a = _case(env.ws, iid, _row(env.zto, 70), loss=800.0)
    b = _case(env.ws, iid, _row(env.zto, 71), loss=8000.0)
    c = _case(env.ws, iid, _row(env.zto, 72), loss=1500.0, cap=1000.0)
    r = _case(env.ws, iid, (_row(env.zto, 73)["order_id"], "19912345678"), loss=300.0)
    d = _case(env.ws, iid, _row(env.yto_only, 74), loss=200.25)
    assert [x.decision for x in (a, b, c, r, d)] == [
        "advance",
        "advance",
        "advance",
        "review",
        "declined",
    ]
    record_payment(env.ws, iid, a.case_id, "case_paid", 800.0)
    record_payment(env.ws, iid, b.case_id, "case_paid", 2500.0)
    record_payment(env.ws, iid, b.case_id, "case_paid", 1000.0)
    record_payment(env.ws, iid, b.case_id, "case_recovered", 600.0)
    record_payment(env.ws, iid, a.case_id, "case_recovered", 0.5)
    inc = load_incident(env.ws, iid)
    assert case_summary(inc) == {
        "cases": 5,
        "by_decision": {"advance": 3, "review": 1, "declined": 1},
        "reopened": 0,
        "advance_decided": 800.0 + 5000.0 + 1000.0,
        "paid": 800.0 + 3500.0,
        "recovered": 600.5,
        "loss_reported": 800.0 + 8000.0 + 1500.0 + 300.0 + 200.25,
    }
    by_id = {x.case_id: x for x in cases_of(inc)}
    assert (by_id[a.case_id].paid, by_id[a.case_id].recovered) == (800.0, 0.5)
    assert (by_id[b.case_id].paid, by_id[b.case_id].recovered) == (3500.0, 600.0)
    assert by_id[c.case_id].paid == 0 and by_id[d.case_id].loss == 200.25
    assert [x.case_id for x in cases_of(inc)] == [x.case_id for x in (a, b, c, r, d)]
    assert len(set(by_id)) == 5 and all(re.fullmatch(r"CASE-[0-9a-f]{8}", k) for k in by_id)
    assert set(a.as_dict()) == {
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


# --- privacy ----------------------------------------------------------------------------


def _spellings(value: str) -> list[str]:
    return [value, value.translate(FULLWIDTH), f"{value}.0"]


def test_the_record_holds_no_phone_order_or_receipt_in_clear(env: Env, iid: str) -> None:
    rows = [_row(env.zto, 80), _row(env.zto, 81), _row(env.yto_only, 82)]
    receipts = ["A3301062026112900987", "J4401052026113000987", "ZX-2026-000987"]
    given = [
        (rows[0]["order_id"].translate(FULLWIDTH), _dashed(rows[0]["phone"])),
        (f" {rows[1]['order_id']}.0 ", _spaced(rows[1]["phone"])),
        (rows[2]["order_id"], rows[2]["phone"]),
    ]
    for (order, phone), receipt in zip(given, receipts, strict=True):
        _case(env.ws, iid, (order, phone), police_receipt=receipt)
    case_ids = [c.case_id for c in cases_of(load_incident(env.ws, iid))]
    record_payment(env.ws, iid, case_ids[0], "case_paid", 100.0, "转账流水 6222000011112222")
    record_payment(env.ws, iid, case_ids[0], "case_recovered", 50.0, "公安返还 张三")
    stored = "\n".join(_bodies(env.ws, iid))
    for note in ("转账流水", "6222000011112222", "公安返还", "张三"):
        assert note not in stored  # payment notes are encrypted too
    folded = unicodedata.normalize("NFKC", stored)
    digits = re.sub(r"\D", "", folded)
    squeezed = re.sub(r"[\s-]", "", folded).lower()
    for row, receipt in zip(rows, receipts, strict=True):
        phone, order = row["phone"], row["order_id"]
        for spelled in _spellings(order) + _spellings(phone) + [_dashed(phone), _spaced(phone)]:
            assert spelled not in stored
        assert phone not in digits and order not in digits
        assert phone[-8:] not in digits  # not even most of it
        for text in (receipt, receipt.replace("-", ""), re.sub(r"\D", "", receipt)):
            assert text.lower() not in squeezed
    for body in _bodies(env.ws, iid, "case"):
        b = json.loads(body)
        assert set(b) == {
            "case_id",
            "order_key",
            "order_keys",
            "key_version",
            "occurred_at",
            "loss",
            "cap",
            "decision",
            "advance",
            "reasons",
            "exposed_in",
            "receipt",
            "by",
            "person",  # who acted, as the four-eyes rule compares them (session 24)
        }
        assert re.fullmatch(r"[0-9a-f]{16,}", b["order_key"])
        # the order's digest under every key version (session 19), each a digest too
        assert b["order_keys"][str(b["key_version"])] == b["order_key"]
        assert all(re.fullmatch(r"[0-9a-f]{16,}", d) for d in b["order_keys"].values())
        assert re.fullmatch(r"v\d+:[0-9a-f]+", b["receipt"])


def _decrypt(ws: Workspace, stored: str, key_name: str = "case-pii", aad: str | None = None) -> str:
    version, _, blob = stored.partition(":")
    v = int(version[1:])
    raw = bytes.fromhex(blob)
    aad = aad if aad is not None else f"incident_events|case|v{v}"
    return AESGCM(ws.keys.derive(key_name, v)).decrypt(raw[:12], raw[12:], aad.encode()).decode()


def test_the_receipt_is_recoverable_by_the_key_holder_only(env: Env, iid: str) -> None:
    receipts = [f"  {RECEIPT} ", "J4401052026113000077"]
    for i, receipt in enumerate(receipts):
        _case(env.ws, iid, _row(env.zto, 90 + i), police_receipt=receipt)
    stored = [json.loads(b)["receipt"] for b in _bodies(env.ws, iid, "case")]
    assert [_decrypt(env.ws, s) for s in stored] == [r.strip() for r in receipts]
    # a fresh nonce each time: the same receipt twice is two different ciphertexts
    again = _incident(env.ws, env.bundle)
    _case(env.ws, again, _row(env.zto, 90), police_receipt=RECEIPT)
    [other] = [json.loads(b)["receipt"] for b in _bodies(env.ws, again, "case")]
    assert other != stored[0] and _decrypt(env.ws, other) == RECEIPT
    # bound to its key and its place: another subkey, another context, another workspace
    with pytest.raises(InvalidTag):
        _decrypt(env.ws, stored[0], key_name="case-order")
    with pytest.raises(InvalidTag):
        _decrypt(env.ws, stored[0], aad="incident_events|case_paid|v1")
    stranger = make_workspace(env.dir / "stranger")
    with pytest.raises(InvalidTag):
        _decrypt(stranger, stored[0])


def test_case_detail_opens_the_receipt_and_notes_for_the_key_holder(env: Env, iid: str) -> None:
    receipt = "K1101052026112900042"
    case = _case(env.ws, iid, _fresh_zto(env), loss=8000.0, police_receipt=receipt)
    assert case.decision == "advance"
    record_payment(env.ws, iid, case.case_id, "case_paid", 300.0, "转账流水号 9")
    record_payment(env.ws, iid, case.case_id, "case_recovered", 100.0, "公安返还")
    d = case_detail(env.ws, load_incident(env.ws, iid), case.case_id)
    assert d["police_receipt"] == receipt and d["case_id"] == case.case_id
    assert [(p["kind"], p["amount"], p["note"]) for p in d["payments"]] == [
        ("case_paid", 300.0, "转账流水号 9"),
        ("case_recovered", 100.0, "公安返还"),
    ]
    # a note from before notes were encrypted reads back as stored
    from leaktrace.respond.cases import _decrypt as open_field

    assert open_field(env.ws, "流水 1", "case_paid") == "流水 1"
    # a receipt's ciphertext moved into a note does not open there (bound to its kind),
    # nor in another workspace: one line, no traceback
    [body] = [json.loads(b) for b in _bodies(env.ws, iid, "case") if case.case_id in b]
    with pytest.raises(InputError, match="cannot be opened"):
        open_field(env.ws, body["receipt"], "case_paid")
    with pytest.raises(InputError, match="cannot be opened"):
        open_field(make_workspace(env.dir / "stranger2"), body["receipt"], "case")
    with pytest.raises(InputError, match="no case"):
        case_detail(env.ws, load_incident(env.ws, iid), "CASE-00000000")


def test_a_tampered_case_event_does_not_verify(env: Env, iid: str) -> None:
    from leaktrace.respond.incident import _canonical

    case = _case(env.ws, iid, _row(env.zto, 95), loss=500.0)
    seq = len(load_incident(env.ws, iid).events)
    [body] = _bodies(env.ws, iid, "case")
    b = json.loads(body)
    b["advance"] = 50000.0
    forged = json.dumps(b, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    db = env.ws.home / "ledger.db"
    with sqlite3.connect(db) as con:
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
        _case(env.ws, iid, _row(env.zto, 96))
    # the hash recomputed too (its format is public): the seal still fails
    with sqlite3.connect(db) as con:
        at, kind, prev = con.execute(
            "select at, kind, prev_hash from incident_events where incident_id = ? and seq = ?",
            (iid, seq),
        ).fetchone()
        h = hashlib.sha256(_canonical(iid, seq, at, kind, forged, prev)).hexdigest()
        con.execute(
            "update incident_events set event_hash = ? where incident_id = ? and seq = ?",
            (h, iid, seq),
        )
    con.close()
    with pytest.raises(LedgerIntegrityError, match="seal"):
        load_incident(env.ws, iid)
    # put back, it verifies again and says what was decided
    with sqlite3.connect(db) as con:
        h0 = hashlib.sha256(_canonical(iid, seq, at, kind, body, prev)).hexdigest()
        con.execute(
            "update incident_events set body = ?, event_hash = ? where incident_id = ? and seq = ?",
            (body, h0, iid, seq),
        )
    con.close()
    assert cases_of(load_incident(env.ws, iid))[0].advance == 500.0


# --- the regulator report ---------------------------------------------------------------


def _section(text: str, number: str) -> str:
    parts = re.split(r"^## ", text, flags=re.M)
    [s] = [p for p in parts[1:] if p.startswith(number)]
    return s


def test_the_report_counts_the_cases_in_its_measures(env: Env, iid: str) -> None:
    before = _section(regulator_report(env.ws, load_incident(env.ws, iid)).text, "四")
    assert "先行垫付" not in before
    add_event(env.ws, iid, "measure", {"text": "已暂停向中通快递推送订单数据"})
    a = _case(env.ws, iid, _row(env.zto, 100), loss=800.0)
    b = _case(env.ws, iid, _row(env.zto, 101), loss=8000.0)
    _case(env.ws, iid, (_row(env.zto, 102)["order_id"], "19912345678"), loss=300.0)
    _case(env.ws, iid, _row(env.yto_only, 103), loss=200.0)
    _case(env.ws, iid, _row(env.yto_only, 104), loss=1000.0)
    record_payment(env.ws, iid, a.case_id, "case_paid", 800.0)
    record_payment(env.ws, iid, b.case_id, "case_paid", 3000.0)
    record_payment(env.ws, iid, b.case_id, "case_recovered", 500.0)
    text = regulator_report(env.ws, load_incident(env.ws, iid), "李工 010-88886666").text
    s = _section(text, "四")
    assert "已暂停向中通快递推送订单数据" in s
    [line] = [x for x in s.splitlines() if "先行垫付" in x]
    counts = re.search(
        r"受理 (\d+) 起（垫付 (\d+) 起、人工复核 (\d+) 起、不予垫付 (\d+) 起）", line
    )
    assert counts is not None and counts.groups() == ("5", "2", "1", "2")
    assert "报告损失 10,300.00 元" in line
    assert "决定垫付 5,800.00 元" in line
    assert "已支付 3,800.00 元" in line and "已追回 500.00 元" in line
    assert "未收集手持身份证照片" in line
    # the cases are counted in the measures only, and no shopper's data is in the report
    assert sum("先行垫付" in _section(text, n) for n in "一二三四五六七八") == 1
    for i in (100, 101, 102):
        row = _row(env.zto, i)
        assert row["order_id"] not in text and row["phone"] not in text
    assert RECEIPT not in text


# --- properties (no database writes) -----------------------------------------------------

_T0 = datetime(2024, 6, 1, tzinfo=UTC)
_found = st.lists(
    st.fixed_dictionaries(
        {
            "release_id": st.sampled_from(["rel-a", "rel-b", "rel-c"]),
            "recipient": st.sampled_from(["zto", "cs-firm"]),
            "created": st.integers(0, 1000).map(
                lambda h: (_T0 + timedelta(hours=h)).isoformat(timespec="seconds")
            ),
            "phone_matches": st.booleans(),
        }
    ),
    max_size=5,
)
_money = st.floats(min_value=0.0, max_value=MAX_LOSS, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(_found, st.integers(0, 1000), _money.filter(lambda x: x > 0), _money)
def test_decide_follows_the_documented_rules(
    found: list[dict[str, Any]], at: int, loss: float, cap: float
) -> None:
    occurred = _T0 + timedelta(hours=at, minutes=30)
    decision, advance, reasons = _decide(found, occurred, loss, cap)
    fed = [f for f in found if datetime.fromisoformat(f["created"]) < occurred]
    assert len(reasons) == 1
    if any(f["phone_matches"] for f in fed):
        assert decision == "advance"
        assert advance == round(min(loss, cap), 2)
        assert 0 <= advance <= cap + 0.005 and advance <= loss + 0.005  # to the cent
        who = {f["recipient"] for f in fed if f["phone_matches"]}
        assert all(r in reasons[0] for r in who)
    else:
        assert advance == 0.0
        assert decision == ("review" if fed else "declined")
        if not found:
            assert reasons == [NO_RELEASE]
        elif not fed:
            assert ONLY_AFTER in reasons[0]
    # a release made after the scam changes nothing
    later = {
        "release_id": "rel-later",
        "recipient": "zto",
        "created": (occurred + timedelta(hours=1)).isoformat(),
        "phone_matches": True,
    }
    again = _decide([*found, later], occurred, loss, cap)
    if found:
        assert again == (decision, advance, reasons)
    else:
        assert again[:2] == ("declined", 0.0) and ONLY_AFTER in again[2][0]


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=MAX_LOSS, exclude_min=True),
        st.just(math.nan),
    )
)
def test_any_loss_out_of_range_is_refused_and_nothing_recorded(
    env: Env, shared: str, loss: float
) -> None:
    n = _count(env.ws, shared)
    with pytest.raises(InputError, match="loss"):
        _case(env.ws, shared, _row(env.zto, 110), loss=loss)
    assert _count(env.ws, shared) == n


_id_numbers = st.builds(
    lambda region, day, seq, check, prefix: f"{prefix}{region}{day:%Y%m%d}{seq:03d}{check}",
    st.integers(110000, 659999),
    st.dates(min_value=datetime(1930, 1, 1).date(), max_value=datetime(2020, 12, 31).date()),
    st.integers(0, 999),
    st.sampled_from("0123456789Xx"),
    st.sampled_from(["", "A", "JJ", "A-", "NO-"]),
)


@settings(max_examples=40, deadline=None)
@given(_id_numbers)
def test_any_id_number_shaped_receipt_is_refused(env: Env, shared: str, receipt: str) -> None:
    n = _count(env.ws, shared)
    with pytest.raises(InputError, match="ID card"):
        _case(env.ws, shared, _row(env.zto, 111), police_receipt=receipt)
    assert _count(env.ws, shared) == n
