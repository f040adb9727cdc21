"""Drafts from an incident's record: every figure from a recorded event, every gap said."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.errors import InputError
from leaktrace.respond import exposed
from leaktrace.respond.incident import (
    Incident,
    add_event,
    load_incident,
    open_incident,
    record_evidence,
    record_exposure,
    record_grade,
    record_notified,
)
from leaktrace.respond.regulator import notice_draft, regulator_report
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
TODO = "【待补充】"
ACCUSED = "zto"
# the categories a notice names, as the regulator reads them (the released columns)
CATEGORY_ZH = {
    "order_id": "订单号",
    "order_time": "下单时间",
    "name": "姓名",
    "phone": "手机号",
    "address": "收货地址",
    "product": "商品信息",
    "quantity": "数量",
    "amount": "金额",
}
MEASURE = "已于当日暂停向该快递公司推送订单数据，并要求其排查内部账号"
DISCOVERED = datetime(2024, 6, 1, 2, 30, tzinfo=UTC)  # 10:30 in UTC+8
CONTACT = "数据安全负责人 李工 010-88886666"


@dataclass
class Env:
    ws: Workspace
    dir: Path
    bundle: Path
    bundle_unmarked: Path
    orders: pl.DataFrame
    """The platform's order table as given to ``exposed`` (some customers ordered twice)."""
    accused_orders: pl.DataFrame
    """Computed here: the orders the accused courier's filter selects."""
    people: int
    categories: list[str]
    list_file: Path
    list_sha256: str


def _phone_key(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("regulator")
    ws = make_workspace(root / "ws")
    copies = release_copies(ws, shop, root)
    leak = copies[ACCUSED].sample(25, seed=31).select(LEAK_COLS)
    bundle = root / "evidence.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    unmarked = root / "unmarked.json"
    write_bundle(
        build_bundle(ws, trace(shop.sample(60, seed=32).select(LEAK_COLS), workspace=ws)), unmarked
    )

    # repeat customers: 40 of the courier's orders are by people who also placed another
    where = ws.config.recipients[ACCUSED].where
    pick = pl.SQLContext(orders=shop).execute(
        f"SELECT order_id FROM orders WHERE {where}", eager=True
    )
    ids = pick.get_column("order_id").to_list()
    phone_of = dict(zip(shop.get_column("order_id"), shop.get_column("phone"), strict=True))
    repeat = {ids[i]: phone_of[ids[i + 40]] for i in range(40)}
    orders = shop.with_columns(
        pl.col("order_id").replace_strict(repeat, default=pl.col("phone")).alias("phone")
    )
    accused_orders = pl.SQLContext(orders=orders).execute(
        f"SELECT * FROM orders WHERE {where}", eager=True
    )
    people = len({_phone_key(p) for p in accused_orders.get_column("phone")})
    assert people == accused_orders.height - 40  # the test's own premise
    categories = [CATEGORY_ZH[c] for c in copies[ACCUSED].columns]
    ex = exposed(ws, orders, recipients=[ACCUSED])
    list_file = root / "exposed.csv"
    ex.rows.write_csv(list_file)
    return Env(
        ws,
        root,
        bundle,
        unmarked,
        orders,
        accused_orders,
        people,
        categories,
        list_file,
        hashlib.sha256(list_file.read_bytes()).hexdigest(),
    )


def _record_exposure(env: Env, iid: str) -> None:
    ex = exposed(env.ws, env.orders, recipients=load_incident(env.ws, iid).accused or [ACCUSED])
    record_exposure(env.ws, iid, ex.summary(), env.list_sha256)


@pytest.fixture(scope="module")
def full(env: Env) -> Incident:
    inc = open_incident(env.ws, "中通面单信息泄露", DISCOVERED, "多名用户接到冒充客服的理赔电话")
    record_evidence(env.ws, inc.id, env.bundle)
    _record_exposure(env, inc.id)
    add_event(env.ws, inc.id, "measure", {"text": MEASURE})
    record_grade(env.ws, inc.id, "较大", "涉及人数逾千")
    add_event(env.ws, inc.id, "notified", {"people": env.people, "channel": "短信"})
    add_event(env.ws, inc.id, "reported", {"authority": "属地网信部门", "reference": "WX-0601"})
    return load_incident(env.ws, inc.id)


def _sections(text: str) -> dict[str, str]:
    """The report's sections by their number (一 … 八)."""
    parts = re.split(r"^## ", text, flags=re.M)
    return {p[0]: p for p in parts[1:]}


def test_only_opened_every_recorded_section_is_to_be_filled(env: Env) -> None:
    inc = open_incident(env.ws, "刚开的事件", DISCOVERED, "接到用户反映")
    draft = regulator_report(env.ws, inc)
    s = _sections(draft.text)
    assert list(s) == ["一", "二", "三", "四", "五", "六", "七", "八"]
    for needs_a_record in ("二", "三", "四", "五", "八"):
        assert TODO in s[needs_a_record], needs_a_record
    # discovery time and summary were recorded; the grade was not
    assert [x for x in s["一"].splitlines() if TODO in x] == [
        next(x for x in s["一"].splitlines() if x.startswith("- 事件级别："))
    ]
    assert "2024年06月01日 10:30（UTC+8）" in s["一"]
    assert len(draft.missing) == 6
    for what in ("evidence", "exposed", "measures", "notification", "contact", "grade"):
        assert sum(what in m for m in draft.missing) == 1, what
    # no figure was invented
    assert not re.search(r"\d+ 人", draft.text) and "认定来源为" not in draft.text
    no_summary = open_incident(env.ws, "无简述", DISCOVERED)
    again = regulator_report(env.ws, no_summary, "  ")
    assert len(again.missing) == 7 and any("summary" in m for m in again.missing)
    assert TODO in _sections(again.text)["一"]


def test_the_reporting_organisation_is_named_or_marked_to_fill_in(
    env: Env, full: Incident, tmp_path: Path
) -> None:
    """报告单位 is the platform set at init; the workspace's name (an analysts' label,
    "leaktrace" by default) was printed instead, and no gap was said."""
    draft = regulator_report(env.ws, full, CONTACT)
    assert "- 报告单位：某电商平台" in draft.text and draft.missing == []
    env.ws.config.workspace.platform = ""  # as `leaktrace init` without --platform
    try:
        unnamed = regulator_report(env.ws, full, CONTACT)
    finally:
        env.ws.config.workspace.platform = "某电商平台"
    assert f"- 报告单位：{TODO}" in unnamed.text
    assert "leaktrace" not in unnamed.text.split("\n")[2]
    assert len(unnamed.missing) == 1 and "init --platform" in unnamed.missing[0]


def test_a_complete_record_fills_every_item(env: Env, full: Incident) -> None:
    draft = regulator_report(env.ws, full, CONTACT)
    assert draft.missing == []
    text, s = draft.text, _sections(draft.text)
    for section in ("一", "二", "三", "四", "五", "六", "八"):
        assert TODO not in s[section], section
    assert "2024年06月01日 10:30（UTC+8）" in s["一"]
    # the grade, its reason, and when a 较大 incident is due (4 h and 1 h after 10:30)
    assert "- 事件级别：较大；定级理由：涉及人数逾千（" in s["一"]
    assert "2024年06月01日 14:30前" in s["一"] and "2024年06月01日 11:30前" in s["一"]
    m = re.search(r"涉及个人信息主体：([\d,]+) 人.*涉及订单 ([\d,]+) 笔", s["二"])
    assert m is not None
    people, orders = (int(g.replace(",", "")) for g in m.groups())
    assert people == env.people
    assert orders == env.accused_orders.get_column("order_id").n_unique()
    kinds = re.search(r"涉及个人信息种类：(.*)", s["二"])
    assert kinds is not None and set(kinds.group(1).split("、")) == set(env.categories)
    assert env.list_sha256 in s["二"]
    # the accused is the courier whose copy the leak was cut from, and nobody else
    m = re.search(r"认定来源为 (.*?)（经", s["三"])
    assert m is not None and ACCUSED in m.group(1) and "中通快递" in m.group(1)
    # the event does not say which families spoke: the method is named, not a watermark
    # (a canary-only accusation was written up as "经数字水印比对")
    assert "经溯源标记比对（数字水印、订单号别名、伪行）" in s["三"]
    for innocent in ("yto", "圆通", "cs-firm", "外包客服"):
        assert innocent not in text
    assert hashlib.sha256(env.bundle.read_bytes()).hexdigest() in s["三"]
    assert f"{MEASURE}\n" in s["四"]
    assert f"已通过短信告知，累计告知 {env.people:,} 人" in s["五"] and "少于" not in text
    assert "属地网信部门" in s["六"] and "WX-0601" in s["六"]
    assert CONTACT in s["八"]
    assert full.head_hash in text


def test_fewer_people_notified_than_exposed_is_said(env: Env) -> None:
    inc = open_incident(env.ws, "部分告知", DISCOVERED, "简述")
    record_evidence(env.ws, inc.id, env.bundle)
    _record_exposure(env, inc.id)
    add_event(env.ws, inc.id, "measure", {"text": MEASURE})
    record_grade(env.ws, inc.id, "一般")
    add_event(env.ws, inc.id, "notified", {"people": 300, "channel": "短信"})
    draft = regulator_report(env.ws, load_incident(env.ws, inc.id), CONTACT)
    rest = env.people - 300
    warning = [line for line in draft.text.splitlines() if "少于" in line]
    assert len(warning) == 1 and f"{env.people:,}" in warning[0] and "300" in warning[0]
    assert draft.missing == [m for m in draft.missing if "notif" in m] and len(draft.missing) == 1
    assert f"{rest:,}" in draft.missing[0]
    # the same 300 told again by another channel are still 300 people: no gap closes
    record_notified(env.ws, inc.id, 300, "App 站内信")
    again = regulator_report(env.ws, load_incident(env.ws, inc.id), CONTACT)
    assert len(again.missing) == 1 and f"{rest:,}" in again.missing[0]
    # a total that goes down, or beyond the people exposed, is refused
    for wrong in (299, env.people + 1):
        with pytest.raises(InputError):
            record_notified(env.ws, inc.id, wrong, "短信")
    # the total told so far reaching everyone closes it
    record_notified(env.ws, inc.id, env.people, "App 站内信")
    done = regulator_report(env.ws, load_incident(env.ws, inc.id), CONTACT)
    assert done.missing == [] and "少于" not in done.text


def test_evidence_that_accuses_nobody_says_so(env: Env) -> None:
    inc = open_incident(env.ws, "来源不明", DISCOVERED, "简述")
    record_evidence(env.ws, inc.id, env.bundle_unmarked)
    inc = load_incident(env.ws, inc.id)
    assert inc.accused == []
    s = _sections(regulator_report(env.ws, inc).text)["三"]
    assert "未能认定来源" in s and "认定来源为" not in s and TODO not in s
    assert hashlib.sha256(env.bundle_unmarked.read_bytes()).hexdigest() in s


def test_no_personal_data_in_the_report_the_notice_or_the_record(env: Env, full: Incident) -> None:
    report = regulator_report(env.ws, full, CONTACT).text
    notice = notice_draft(env.ws, full, "95000").text
    with sqlite3.connect(env.ws.home / "ledger.db") as con:
        stored = "\n".join(b for (b,) in con.execute("select body from incident_events"))
    con.close()
    exposed_rows = env.accused_orders.head(50)
    for column in ("phone", "name", "address", "order_id"):
        for value in exposed_rows.get_column(column):
            for where, text in (("report", report), ("notice", notice), ("record", stored)):
                assert value not in text, f"a customer's {column} in the {where}"
    for phone in exposed_rows.get_column("phone"):  # nor spelled with a space or a dash
        assert phone[3:7] + phone[7:] not in re.sub(r"[\s-]", "", report + notice + stored)


def test_no_notice_without_exposure_and_measures(env: Env) -> None:
    nothing = open_incident(env.ws, "无记录", DISCOVERED)
    d = notice_draft(env.ws, nothing, "95000")
    assert d.text == "" and len(d.missing) == 2
    exposure_only = open_incident(env.ws, "只有范围", DISCOVERED)
    _record_exposure(env, exposure_only.id)
    d = notice_draft(env.ws, load_incident(env.ws, exposure_only.id), "95000")
    # no measure, and no evidence names the partner the exposure counted: the notice
    # would blame it without evidence
    assert d.text == "" and len(d.missing) == 2 and "measure" in d.missing[0]
    assert "evidence against zto" in d.missing[1]
    measures_only = open_incident(env.ws, "只有措施", DISCOVERED)
    add_event(env.ws, measures_only.id, "measure", {"text": MEASURE})
    d = notice_draft(env.ws, load_incident(env.ws, measures_only.id), "95000")
    assert d.text == "" and len(d.missing) == 1 and "expos" in d.missing[0]


def test_the_notice_names_the_measures_the_categories_and_the_partner(
    env: Env, full: Incident
) -> None:
    d = notice_draft(env.ws, full, "客服热线 95000")
    assert d.missing == []
    assert MEASURE in d.text and "客服热线 95000" in d.text
    for category in env.categories:
        assert category in d.text, category
    assert "中通快递" in d.text  # the partner, by the name the platform gives it
    assert "圆通" not in d.text and "外包客服" not in d.text
    second = "已报警"
    add_event(env.ws, full.id, "measure", {"text": second})
    both = notice_draft(env.ws, load_incident(env.ws, full.id), "95000").text
    assert MEASURE in both and second in both


def test_a_discovery_in_another_zone_is_reported_in_utc8(env: Env) -> None:
    """A discovery given in another zone is reported at the same instant in UTC+8."""
    when = datetime(2024, 5, 31, 10, 15, tzinfo=timezone(timedelta(hours=-5)))  # 15:15 UTC
    inc = open_incident(env.ws, "时区", when, "简述")
    assert "2024年05月31日 23:15（UTC+8）" in _sections(regulator_report(env.ws, inc).text)["一"]


def test_the_grade_is_asked_for_until_given_and_the_latest_counts(env: Env) -> None:
    """国家网络安全事件报告管理办法 (in force 2025-11-01) has the operator grade an incident:
    较大 and above are reported within 4 hours of discovery. A draft without a grade says
    it is missing and when such an incident would be due (session 25's review: the draft
    had no 事件级别 and listed nothing missing)."""
    inc = open_incident(env.ws, "待定级", DISCOVERED, "简述")
    draft = regulator_report(env.ws, inc, CONTACT)
    line = next(x for x in draft.text.splitlines() if x.startswith("- 事件级别："))
    assert TODO in line and "2024年06月01日 14:30前" in line
    assert sum("grade" in m for m in draft.missing) == 1
    record_grade(env.ws, inc.id, " 重大 ")
    record_grade(env.ws, inc.id, "一般", "复核后降级")
    graded = regulator_report(env.ws, load_incident(env.ws, inc.id), CONTACT)
    line = next(x for x in graded.text.splitlines() if x.startswith("- 事件级别："))
    assert line == "- 事件级别：一般；定级理由：复核后降级"
    assert not any("grade" in m for m in graded.missing)
    for wrong in ("较小", "", "major"):
        with pytest.raises(InputError, match="the grade is one of"):
            record_grade(env.ws, inc.id, wrong)
