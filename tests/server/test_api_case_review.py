"""A victim case's review and withdrawal through the service: the API routes
(``POST /api/v1/incidents/{id}/cases/{case}/approve|reject|withdraw``) and the ``/cases``
page's forms, over a real uvicorn.

Who may do what: approving or rejecting a review decides whether money is paid, so it is
for analysts only; customer service (agents) and analysts withdraw a case opened by
mistake, an agent only the cases its own token opened (an agent may work for an
outsourced firm that is itself a recipient: it must not make other people's cases
disappear from the counts). The library decides the transitions; the service answers
its refusals with 400, an unknown incident or case with 404.

One workspace of this module's own (a zto release, an incident whose evidence accuses
zto): an advance decided in one test makes the same order or receipt a review in the
next, so every case uses an order and a receipt no other test uses.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.release import release
from leaktrace.respond.cases import cases_of
from leaktrace.respond.incident import PLATFORM_TZ, load_incident, open_incident, record_evidence
from leaktrace.server import create_app
from leaktrace.server.tokens import add_token
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

from .conftest import LEAK_COLS, bearer, serving

CHROMIUM = "/usr/bin/chromium"
TYPO = "19912345678"
"""A mobile number on no order of the shop: the clerk's typo, which makes a case 'review'."""
UNKNOWN_INCIDENT = "INC-20990101-00000000"
_ORDERS = itertools.count(3)
_RECEIPTS = itertools.count(1)


@dataclass(frozen=True)
class Desk:
    ws: Workspace
    url: str
    incident: str
    analyst: str
    agent: str  # rv-cs1
    other_agent: str  # rv-cs2
    zto_token: str  # a recipient token
    zto: pl.DataFrame  # the orders shipped by 中通快递 (zto's releases carried them)
    yto: pl.DataFrame  # orders zto never received

    def cookie(self, token: str) -> dict[str, str]:
        return {"cookie": f"leaktrace_token={token}"}


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("case-review-api")
    ws = make_workspace(root / "ws")
    copy = root / "zto.csv"
    release(shop, recipient="zto", workspace=ws, out=copy)
    leak = root / "leak.csv"
    pl.read_csv(copy, infer_schema=False).head(30).select(LEAK_COLS).write_csv(leak)
    bundle = root / "bundle.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    inc = open_incident(ws, "快递面单泄露", datetime.now(PLATFORM_TZ) - timedelta(hours=1))
    record_evidence(ws, inc.id, bundle)
    known = set(ws.config.recipients)
    assert TYPO not in set(shop.get_column("phone").cast(pl.Utf8))
    with serving(create_app(ws.home)) as url:
        yield Desk(
            ws=ws,
            url=url,
            incident=inc.id,
            analyst=add_token(ws.home, "rv-ana", "analyst", known=known),
            agent=add_token(ws.home, "rv-cs1", "agent", known=known),
            other_agent=add_token(ws.home, "rv-cs2", "agent", recipient="cs-firm", known=known),
            zto_token=add_token(ws.home, "rv-zto", "recipient", recipient="zto", known=known),
            zto=shop.filter(pl.col("courier") == "中通快递"),
            yto=shop.filter(pl.col("courier") == "圆通速递"),
        )


@pytest.fixture
def api(desk: Desk) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=desk.url, timeout=60) as c:
        yield c


def _now() -> str:
    """The time of the scam: a minute from now (the library takes up to five), so every
    release of the fixture, made moments ago, came before it."""
    return (datetime.now(PLATFORM_TZ) + timedelta(minutes=1)).isoformat(timespec="seconds")


def _open(
    api: httpx.Client,
    desk: Desk,
    token: str,
    *,
    typo: bool = False,
    courier: str = "zto",
    receipt: str | None = None,
    loss: float = 1200.0,
) -> dict[str, Any]:
    """Open a case on a fresh order through the API; its answer plus ``order`` and the
    order's real ``phone``. ``typo``: with a mistyped phone (decided 'review')."""
    row = (desk.zto if courier == "zto" else desk.yto).row(next(_ORDERS), named=True)
    body = {
        "order_id": str(row["order_id"]),
        "phone": TYPO if typo else str(row["phone"]),
        "occurred": _now(),
        "loss": loss,
        "police_receipt": receipt or f"RV-{next(_RECEIPTS):08d}",
    }
    r = api.post(f"/api/v1/incidents/{desk.incident}/cases", headers=bearer(token), json=body)
    assert r.status_code == 200, r.text
    return {**r.json(), "order": body["order_id"], "phone": str(row["phone"]), "body": body}


def _review(api: httpx.Client, desk: Desk, token: str | None = None, **kw: Any) -> dict[str, Any]:
    case = _open(api, desk, token or desk.agent, typo=True, **kw)
    assert case["decision"] == "review", case["reasons"]
    return case


def _step(
    api: httpx.Client,
    desk: Desk,
    token: str | None,
    case_id: str,
    step: str,
    *,
    incident: str | None = None,
    **body: Any,
) -> httpx.Response:
    path = f"/api/v1/incidents/{incident or desk.incident}/cases/{case_id}/{step}"
    return api.post(path, headers=bearer(token) if token else {}, json=body)


def _events(desk: Desk) -> int:
    return len(load_incident(desk.ws, desk.incident).events)


def _error(r: httpx.Response) -> str:
    body = r.json()
    assert list(body) == ["error"], body
    msg = body["error"]
    assert isinstance(msg, str) and msg and "\n" not in msg
    return msg


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
    "action",
    "event",
    "by",
}


# --------------------------------------------------------------------------- the API


def test_an_analyst_approves_a_review_case(api: httpx.Client, desk: Desk) -> None:
    case = _review(api, desk)
    reason = "回拨账户预留手机，核实为订单本人"
    r = _step(api, desk, desk.analyst, case["case_id"], "approve", reason=reason)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == CASE_KEYS | {"another_loss"}
    assert body["incident"] == desk.incident and body["case_id"] == case["case_id"]
    assert body["decision"] == "advance" and body["advance"] == 1200.0
    assert body["action"] == "approved" and body["by"] == "token:rv-ana"
    assert body["another_loss"] is False
    assert "1,200.00" in body["message_zh"] and "先行垫付" in body["message_zh"]
    # the case as the library now has it, and the event that recorded it
    inc = load_incident(desk.ws, desk.incident)
    [now] = [c for c in cases_of(inc) if c.case_id == case["case_id"]]
    assert {k: body[k] for k in now.as_dict()} == now.as_dict()
    event = next(e for e in inc.events if e.seq == body["event"])
    assert event.body["action"] == "approved" and event.body["by"] == "token:rv-ana"
    assert reason not in json.dumps(event.body, ensure_ascii=False)  # stored encrypted
    assert reason not in r.text  # and never answered
    # a review's outcome is final
    again = _step(api, desk, desk.analyst, case["case_id"], "approve", reason="再次核实")
    assert again.status_code == 400 and "already approved" in _error(again)
    rejected = _step(api, desk, desk.analyst, case["case_id"], "reject", reason="改判")
    assert rejected.status_code == 400 and "already approved" in _error(rejected)


def test_an_analyst_does_not_approve_a_case_they_opened(api: httpx.Client, desk: Desk) -> None:
    """Four eyes: whoever took a claim does not also decide that money is paid. An analyst
    may open cases and approve others' cases, so without the check one token did both."""
    case = _review(api, desk, desk.analyst)
    n = _events(desk)
    r = _step(api, desk, desk.analyst, case["case_id"], "approve", reason="核实为本人")
    assert r.status_code == 400 and "another person approves it" in _error(r)
    assert _events(desk) == n  # nothing recorded
    # a rejection pays nothing: the opener may make it
    r = _step(api, desk, desk.analyst, case["case_id"], "reject", reason="来电人无法说明订单")
    assert r.status_code == 200, r.text


def test_one_person_does_not_approve_with_another_token_or_at_the_shell(
    api: httpx.Client, desk: Desk
) -> None:
    """Four eyes compares persons, not tokens: a clerk who holds an agent token and an
    analyst token (or also works at the shell) opened a case with one and approved it
    with the other, and was paid (session 24; before, only the same token was refused)."""
    known = set(desk.ws.config.recipients)
    clerk = add_token(desk.ws.home, "rv-mallory-cs", "agent", known=known, person="mallory")
    also = add_token(desk.ws.home, "rv-mallory-ana", "analyst", known=known, person="Mallory")
    other = add_token(desk.ws.home, "rv-bob-ana", "analyst", known=known, person="bob")
    case = _review(api, desk, clerk)
    n = _events(desk)
    r = _step(api, desk, also, case["case_id"], "approve", reason="核实为本人")
    assert r.status_code == 400, r.text
    assert "another person approves it" in _error(r) and "held by mallory" in _error(r)
    # the same person at the shell (USER=mallory): the command line is refused too
    shell = run_cli(
        "case", "approve", desk.incident, case["case_id"], "--reason", "核实为本人",
        home=desk.ws.home, user="mallory",
    )  # fmt: skip
    assert shell.returncode != 0 and "another person approves it" in shell.stderr
    assert _events(desk) == n  # nothing recorded
    r = _step(api, desk, other, case["case_id"], "approve", reason="回拨核实为本人")
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "advance"
    inc = load_incident(desk.ws, desk.incident)
    [opening] = [
        e
        for e in inc.all("case")
        if e.body["case_id"] == case["case_id"] and "action" not in e.body
    ]
    assert (opening.body["by"], opening.body["person"]) == ("token:rv-mallory-cs", "mallory")

    # a case opened at the shell: a token held by that login name does not approve it
    mine = _review(api, desk)  # any order on file; reopened below from the shell
    r = _step(api, desk, desk.analyst, mine["case_id"], "withdraw", reason="录入错误")
    assert r.status_code == 200, r.text
    opened = run_cli(
        "case", "open", desk.incident, f"--order={mine['order']}", f"--phone={TYPO}",
        f"--occurred={_now()}", "--loss=900", f"--police-receipt=RV-{next(_RECEIPTS):08d}",
        home=desk.ws.home, user="mallory",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    cid = re.match(r"(CASE-[0-9a-f]{8}): review\b", opened.stdout)
    assert cid is not None, opened.stdout
    r = _step(api, desk, also, cid.group(1), "approve", reason="核实为本人")
    assert r.status_code == 400 and "another person approves it" in _error(r)

    # a token made without --person (as every token before session 24) is held by the
    # person its name names: "carol" opens with it, USER=carol does not approve
    carol = add_token(desk.ws.home, "carol", "agent", known=known)
    theirs = _review(api, desk, carol)
    shell = run_cli(
        "case", "approve", desk.incident, theirs["case_id"], "--reason", "核实为本人",
        home=desk.ws.home, user="carol",
    )  # fmt: skip
    assert shell.returncode != 0 and "another person approves it" in shell.stderr


def test_an_analyst_rejects_and_the_owner_may_open_the_order_again(
    api: httpx.Client, desk: Desk
) -> None:
    case = _review(api, desk)
    r = _step(api, desk, desk.analyst, case["case_id"], "reject", reason="来电人无法说明订单信息")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == CASE_KEYS  # another_loss belongs to an approval only
    assert body["decision"] == "rejected" and body["advance"] == 0.0
    assert body["action"] == "rejected" and "经人工核实" in body["message_zh"]
    # the rejection frees the order: its owner, with the right phone, gets an advance
    owner = {**case["body"], "phone": case["phone"], "police_receipt": "RV-OWNER-0001"}
    again = api.post(
        f"/api/v1/incidents/{desk.incident}/cases", headers=bearer(desk.agent), json=owner
    )
    assert again.status_code == 200, again.text
    assert again.json()["decision"] == "advance"
    assert again.json()["case_id"] != case["case_id"]
    # a rejection is final: no second review, no withdrawal
    for step in ("reject", "withdraw"):
        r = _step(api, desk, desk.analyst, case["case_id"], step, reason="重新处理")
        assert r.status_code == 400, (step, r.text)
    assert "rejection is final" in _error(r)


def test_an_agent_withdraws_a_case_it_opened(api: httpx.Client, desk: Desk) -> None:
    case = _review(api, desk)
    r = _step(api, desk, desk.agent, case["case_id"], "withdraw", reason="坐席录入手机号错误")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == CASE_KEYS
    assert body["decision"] == "withdrawn" and body["action"] == "withdrawn"
    assert body["by"] == "token:rv-cs1" and "撤回" in body["message_zh"]
    # opened again with the right phone: decided afresh
    fixed = {**case["body"], "phone": case["phone"]}
    again = api.post(
        f"/api/v1/incidents/{desk.incident}/cases", headers=bearer(desk.agent), json=fixed
    )
    assert again.status_code == 200 and again.json()["decision"] == "advance", again.text
    r = _step(api, desk, desk.agent, case["case_id"], "withdraw", reason="重复撤回")
    assert r.status_code == 400 and "already withdrawn" in _error(r)
    # a declined case opened by mistake (another courier's order) is withdrawn too, and
    # an automatic advance on which nothing was paid
    for kw in ({"courier": "yto"}, {}):
        other = _open(api, desk, desk.agent, **kw)
        assert other["decision"] == ("declined" if kw else "advance")
        r = _step(api, desk, desk.agent, other["case_id"], "withdraw", reason="订单号录错")
        assert r.status_code == 200 and r.json()["decision"] == "withdrawn", r.text


def test_another_agents_case_is_withdrawn_by_an_analyst_only(api: httpx.Client, desk: Desk) -> None:
    case = _review(api, desk, desk.agent)
    before = _events(desk)
    r = _step(api, desk, desk.other_agent, case["case_id"], "withdraw", reason="录入错误")
    assert r.status_code == 403
    assert "only the cases it opened" in _error(r)
    assert _events(desk) == before
    r = _step(api, desk, desk.analyst, case["case_id"], "withdraw", reason="坐席确认录入错误")
    assert r.status_code == 200 and r.json()["by"] == "token:rv-ana", r.text


@pytest.mark.parametrize("who", ["none", "agent", "other_agent", "zto_token"])
@pytest.mark.parametrize("step", ["approve", "reject"])
def test_only_analysts_approve_or_reject(
    api: httpx.Client, desk: Desk, who: str, step: str
) -> None:
    # the agent who opened the case may not decide the money either
    case = _review(api, desk, desk.agent)
    before = _events(desk)
    token = None if who == "none" else getattr(desk, who)
    r = _step(api, desk, token, case["case_id"], step, reason="核实")
    assert r.status_code == (401 if who == "none" else 403), r.text
    _error(r)
    assert _events(desk) == before


@pytest.mark.parametrize("who", ["none", "zto_token"])
def test_a_recipient_or_nobody_withdraws_nothing(api: httpx.Client, desk: Desk, who: str) -> None:
    case = _review(api, desk)
    before = _events(desk)
    token = None if who == "none" else desk.zto_token
    r = _step(api, desk, token, case["case_id"], "withdraw", reason="录入错误")
    assert r.status_code == (401 if who == "none" else 403)
    assert _events(desk) == before


@pytest.mark.parametrize(
    ("who", "step"),
    [("analyst", "approve"), ("analyst", "reject"), ("analyst", "withdraw"), ("agent", "withdraw")],
)
def test_an_unknown_incident_or_case_is_a_404(
    api: httpx.Client, desk: Desk, who: str, step: str
) -> None:
    token = getattr(desk, who)
    case = _review(api, desk)
    r = _step(api, desk, token, case["case_id"], step, incident=UNKNOWN_INCIDENT, reason="核实")
    assert r.status_code == 404 and "no incident" in _error(r)
    r = _step(api, desk, token, "CASE-00000000", step, reason="核实")
    assert r.status_code == 404 and "no case" in _error(r)
    r = _step(api, desk, token, case["case_id"], step, incident="foo", reason="核实")
    assert r.status_code == 400  # a malformed id, as GET /api/v1/incidents/foo


def test_a_case_not_awaiting_review_is_a_400_with_the_librarys_line(
    api: httpx.Client, desk: Desk
) -> None:
    advanced = _open(api, desk, desk.agent)
    assert advanced["decision"] == "advance"
    before = _events(desk)
    for step in ("approve", "reject"):
        r = _step(api, desk, desk.analyst, advanced["case_id"], step, reason="核实")
        assert r.status_code == 400
        assert "only a case decided 'review' awaits a person's review" in _error(r)
    assert _events(desk) == before


@pytest.mark.parametrize(
    ("step", "body", "named"),
    [
        ("approve", {}, "reason"),
        ("approve", {"reason": ""}, "reason"),
        ("withdraw", {"reason": "   "}, "reason"),
        ("approve", {"reason": 12}, "reason"),
        ("approve", {"reason": ["核实"]}, "reason"),
        ("approve", {"reason": "核实", "id_number": "11010119900307451X"}, "id_number"),
        ("approve", {"reason": "核实", "id_photo": "data:image/jpeg;base64,AA"}, "id_photo"),
        ("approve", {"reason": "核实", "another_loss": "yes"}, "another_loss"),
        ("approve", {"reason": "核实", "another_loss": 1}, "another_loss"),
        ("reject", {"reason": "核实", "another_loss": False}, "another_loss"),
        ("withdraw", {"reason": "录错", "another_loss": True}, "another_loss"),
        ("withdraw", {"reason": "录错", "phone": "13912345678"}, "phone"),
        ("approve", {"reason": "核" * 2001}, "reason"),
    ],
    ids=[
        "no-reason",
        "empty",
        "blank",
        "number",
        "list",
        "id-number",
        "id-photo",
        "loss-string",
        "loss-number",
        "loss-on-reject",
        "loss-on-withdraw",
        "phone-field",
        "too-long",
    ],
)
def test_a_malformed_body_is_a_400_and_records_nothing(
    api: httpx.Client, desk: Desk, step: str, body: dict[str, Any], named: str
) -> None:
    case = _review(api, desk)
    before = _events(desk)
    token = desk.analyst
    path = f"/api/v1/incidents/{desk.incident}/cases/{case['case_id']}/{step}"
    r = api.post(path, headers=bearer(token), json=body)
    assert r.status_code == 400, r.text
    msg = _error(r)
    assert named in msg
    assert "13912345678" not in msg and "11010119900307451X" not in msg
    assert _events(desk) == before


@pytest.mark.parametrize(
    "reason",
    ["回拨 13912345678 核实", "回拨１３９１２３４５６７８核实", "身份证 11010119900307451X"],
)
def test_a_reason_holding_a_phone_or_id_number_is_refused_not_echoed(
    api: httpx.Client, desk: Desk, reason: str
) -> None:
    case = _review(api, desk)
    before = _events(desk)
    r = _step(api, desk, desk.analyst, case["case_id"], "approve", reason=reason)
    assert r.status_code == 400
    msg = _error(r)
    assert "phone or ID card number" in msg
    assert "13912345678" not in msg and "１３９" not in msg and "451X" not in msg
    assert _events(desk) == before


def test_a_second_advance_for_one_receipt_needs_another_loss(api: httpx.Client, desk: Desk) -> None:
    first = _open(api, desk, desk.agent, receipt="RV-SAME-RECEIPT-1")
    assert first["decision"] == "advance"
    case = _review(api, desk, receipt="RV-SAME-RECEIPT-1", loss=300.0)
    r = _step(api, desk, desk.analyst, case["case_id"], "approve", reason="核实为本人")
    assert r.status_code == 400
    assert "already has an advance" in _error(r) and first["case_id"] in _error(r)
    r = _step(
        api, desk, desk.analyst, case["case_id"], "approve", reason="二次被骗", another_loss=True
    )
    assert r.status_code == 200, r.text
    assert r.json()["another_loss"] is True and r.json()["advance"] == 300.0


def test_the_logs_hold_no_reason_and_no_phone(
    api: httpx.Client, desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "回拨核实甲乙丙丁"
    with caplog.at_level(logging.DEBUG):
        case = _review(api, desk)
        refused = _step(
            api, desk, desk.analyst, case["case_id"], "approve", reason="手机13912345678"
        )
        assert refused.status_code == 400
        ok = _step(api, desk, desk.analyst, case["case_id"], "approve", reason=marker)
        assert ok.status_code == 200
        page = api.post(
            "/cases/step",
            headers=desk.cookie(desk.agent),
            data={
                "incident": desk.incident,
                "case_id": _review(api, desk)["case_id"],
                "action": "withdraw",
                "reason": marker + "页面",
            },
        )
        assert page.status_code == 200
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert caplog.records  # the access log at least
    for secret in (marker, "13912345678", TYPO, case["phone"]):
        assert secret not in logged


def test_the_routes_are_in_the_openapi_description(api: httpx.Client) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for step in ("approve", "reject", "withdraw"):
        assert f"/api/v1/incidents/{{incident_id}}/cases/{{case_id}}/{step}" in paths


# --------------------------------------------------------------------------- the /cases page


def _decision(page: str) -> str:
    """The page's decision line (the case a form decided or changed)."""
    found = re.search(r'<p class="verdict [a-z]+" id="decision">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


def _waiting(page: str, case_id: str) -> bool:
    return f'id="review-{case_id}"' in page


def test_the_page_lists_cases_awaiting_review_with_each_roles_actions(
    api: httpx.Client, desk: Desk
) -> None:
    mine = _review(api, desk, desk.agent)
    theirs = _review(api, desk, desk.other_agent)
    advanced = _open(api, desk, desk.agent)
    agent_page = api.get("/cases", headers=desk.cookie(desk.agent)).text
    assert _waiting(agent_page, mine["case_id"]) and _waiting(agent_page, theirs["case_id"])
    assert not _waiting(agent_page, advanced["case_id"])  # only cases decided 'review'
    assert f'id="withdraw-{mine["case_id"]}"' in agent_page
    assert f'id="withdraw-{theirs["case_id"]}"' not in agent_page  # not the agent's own
    assert 'id="approve-' not in agent_page and 'id="reject-' not in agent_page
    analyst_page = api.get("/cases", headers=desk.cookie(desk.analyst)).text
    for case in (mine, theirs):
        for step in ("approve", "reject", "withdraw"):
            assert f'id="{step}-{case["case_id"]}"' in analyst_page
    for page in (agent_page, analyst_page):
        # never a phone: neither the one typed nor the order's own
        assert TYPO not in page
        assert mine["phone"] not in page and theirs["phone"] not in page
        assert 'name="reason"' in page and "required" in page


def test_an_analyst_approves_and_rejects_on_the_page(api: httpx.Client, desk: Desk) -> None:
    case = _review(api, desk)
    form = {"incident": desk.incident, "case_id": case["case_id"], "action": "approve"}
    before = _events(desk)
    empty = api.post("/cases/step", headers=desk.cookie(desk.analyst), data={**form, "reason": ""})
    assert empty.status_code == 400 and 'id="step-error"' in empty.text
    assert "the reason is empty" in empty.text and _events(desk) == before
    r = api.post(
        "/cases/step", headers=desk.cookie(desk.analyst), data={**form, "reason": "回拨核实本人"}
    )
    assert r.status_code == 200, r.text
    assert "1,200.00" in _decision(r.text) and "核实通过" in _decision(r.text)
    assert "经核实，您的订单信息曾由平台提供给涉事合作方" in r.text  # read to the victim
    assert "回拨核实本人" not in r.text  # the reason is kept encrypted, not shown
    assert not _waiting(r.text, case["case_id"])  # no longer waiting
    assert [
        c.decision
        for c in cases_of(load_incident(desk.ws, desk.incident))
        if c.case_id == case["case_id"]
    ] == ["advance"]
    other = _review(api, desk)
    r = api.post(
        "/cases/step",
        headers=desk.cookie(desk.analyst),
        data={**form, "case_id": other["case_id"], "action": "reject", "reason": "非订单本人"},
    )
    assert r.status_code == 200, r.text
    assert "不予垫付" in _decision(r.text) and 'class="verdict bad"' in r.text
    assert "经人工核实，您的本次申请暂不适用先行垫付" in r.text


def test_an_agent_withdraws_on_the_page_and_decides_no_money(api: httpx.Client, desk: Desk) -> None:
    mine = _review(api, desk, desk.agent)
    theirs = _review(api, desk, desk.other_agent)
    cookie = desk.cookie(desk.agent)
    before = _events(desk)

    def post(case_id: str, action: str, reason: str = "录入错误", **extra: str) -> httpx.Response:
        form = {"incident": desk.incident, "case_id": case_id, "action": action, "reason": reason}
        return api.post("/cases/step", headers=cookie, data={**form, **extra})

    for action in ("approve", "reject"):
        r = post(mine["case_id"], action)
        assert r.status_code == 403 and 'id="step-error"' in r.text
    assert post(theirs["case_id"], "withdraw").status_code == 403
    assert post("CASE-00000000", "withdraw").status_code == 404
    bad = post(mine["case_id"], "erase")
    assert bad.status_code == 400 and 'id="step-error"' in bad.text
    phone = post(mine["case_id"], "withdraw", reason="用户 13912345678")
    assert phone.status_code == 400 and "13912345678" not in phone.text
    assert _events(desk) == before
    r = post(mine["case_id"], "withdraw")
    assert r.status_code == 200, r.text
    assert "已撤回" in _decision(r.text) and 'class="verdict warn"' in r.text
    assert "因登记信息有误已撤回" in r.text
    assert not _waiting(r.text, mine["case_id"]) and _waiting(r.text, theirs["case_id"])


def test_a_just_opened_case_can_be_withdrawn_from_its_answer(api: httpx.Client, desk: Desk) -> None:
    row = desk.yto.row(next(_ORDERS), named=True)  # the agent picked the wrong order
    form = {
        "incident": desk.incident,
        "order_id": str(row["order_id"]),
        "phone": str(row["phone"]),
        "occurred": _now(),
        "loss": "500",
        "police_receipt": f"RV-{next(_RECEIPTS):08d}",
    }
    r = api.post("/cases", headers=desk.cookie(desk.agent), data=form)
    assert r.status_code == 200, r.text
    assert 'id="new-withdraw"' in r.text and str(row["phone"]) not in r.text
    case_id = _decision(r.text).split(":")[0]
    assert "declined" in _decision(r.text)
    w = api.post(
        "/cases/step",
        headers=desk.cookie(desk.agent),
        data={
            "incident": desk.incident,
            "case_id": case_id,
            "action": "withdraw",
            "reason": "订单号选错",
        },
    )
    assert w.status_code == 200 and "已撤回" in _decision(w.text)


def test_a_step_form_from_another_site_is_refused(api: httpx.Client, desk: Desk) -> None:
    case = _review(api, desk)
    form = {
        "incident": desk.incident,
        "case_id": case["case_id"],
        "action": "approve",
        "reason": "核实",
    }
    before = _events(desk)
    for headers in ({"sec-fetch-site": "cross-site"}, {"origin": "http://evil.example"}):
        r = api.post("/cases/step", headers={**desk.cookie(desk.analyst), **headers}, data=form)
        assert r.status_code == 403, headers
    assert _events(desk) == before
    # signed out: to the sign-in page, nothing recorded
    r = api.post("/cases/step", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # a recipient's token planted in the cookie signs nobody in
    r = api.post("/cases/step", headers=desk.cookie(desk.zto_token), data=form)
    assert r.status_code == 303
    assert _events(desk) == before
    # the site's own form
    own = {"sec-fetch-site": "same-origin", "origin": "null"}
    r = api.post("/cases/step", headers={**desk.cookie(desk.analyst), **own}, data=form)
    assert r.status_code == 200, r.text


@pytest.mark.browser
def test_customer_service_withdraws_and_an_analyst_approves_in_the_browser(
    api: httpx.Client, desk: Desk
) -> None:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}: the browser tests need it")
    from playwright.sync_api import expect, sync_playwright

    row = desk.zto.row(next(_ORDERS), named=True)
    waiting = _review(api, desk, desk.other_agent)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(base_url=desk.url).new_page()
            page.set_default_timeout(20_000)
            page.goto("/login")
            page.fill("#token", desk.agent)
            with page.expect_navigation():
                page.click("#sign-in")
            page.select_option("#incident", desk.incident)
            page.fill("#order_id", str(row["order_id"]))
            page.fill("#phone", TYPO)  # the clerk's typo
            page.fill("#occurred", _now())
            page.fill("#loss", "900")
            page.fill("#police_receipt", f"RV-{next(_RECEIPTS):08d}")
            with page.expect_navigation():
                page.click("#open-case")
            expect(page.locator("#decision")).to_contain_text("review")
            case_id = (page.text_content("#decision") or "").split(":")[0].strip()
            form = page.locator(f"#review-{case_id}")
            expect(form).to_be_visible()
            assert page.locator(f"#withdraw-{waiting['case_id']}").count() == 0
            form.locator("input[name=reason]").fill("坐席录入手机号错误")
            with page.expect_navigation():
                page.click(f"#withdraw-{case_id}")
            expect(page.locator("#decision")).to_contain_text("已撤回")
            expect(page.locator("#message")).to_contain_text("因登记信息有误已撤回")
            assert page.locator(f"#review-{case_id}").count() == 0
            assert TYPO not in page.content()

            page.context.clear_cookies()
            page.goto("/login")
            page.fill("#token", desk.analyst)
            with page.expect_navigation():
                page.click("#sign-in")
            page.goto("/cases")
            page.locator(f"#review-{waiting['case_id']} input[name=reason]").fill("回拨核实本人")
            with page.expect_navigation():
                page.click(f"#approve-{waiting['case_id']}")
            expect(page.locator("#decision")).to_contain_text("1,200.00")
            expect(page.locator("#message")).to_contain_text("先行垫付")
        finally:
            browser.close()
