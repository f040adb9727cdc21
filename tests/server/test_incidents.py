"""Incidents through the service: the API, the dashboard's list and an incident's page.

The incident is made with the library as an analyst would with the CLI: a leak cut from
zto's copy, traced, its bundle recorded. The service must show what was recorded, and
refuse a record that was altered in the database.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.release import release
from leaktrace.respond.incident import PLATFORM_TZ, add_event, open_incident, record_evidence
from leaktrace.server import create_app
from leaktrace.server.tokens import add_token
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

from .conftest import LEAK_COLS, Site, bearer, serving

CHROMIUM = "/usr/bin/chromium"


def _incident_from_leak(ws: Workspace, copy: Path, root: Path, title: str) -> str:
    leak = root / f"leak-{title}.csv"
    pl.read_csv(copy, infer_schema=False).head(30).select(LEAK_COLS).write_csv(leak)
    bundle = root / f"bundle-{title}.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    inc = open_incident(ws, title, datetime.now(PLATFORM_TZ) - timedelta(hours=1), "用户反映")
    record_evidence(ws, inc.id, bundle)
    add_event(ws, inc.id, "measure", {"text": "已暂停向该快递公司提供数据"})
    return inc.id


@pytest.fixture(scope="module")
def incident(site: Site, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("incident")
    return _incident_from_leak(site.ws, site.released["zto"], root, "快递渠道泄露")


def test_the_api_lists_and_shows_an_incident(
    client: httpx.Client, site: Site, incident: str
) -> None:
    listed = client.get("/api/v1/incidents", headers=bearer(site.analyst))
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["id"] == incident)
    assert row["accused"] == ["zto"] and row["status"] == "open" and row["events"] == 3
    shown = client.get(f"/api/v1/incidents/{incident}", headers=bearer(site.analyst)).json()
    assert [e["kind"] for e in shown["events"]] == ["opened", "evidence", "measure"]
    assert "已暂停向该快递公司提供数据" in shown["report_draft"]
    # what was not recorded is named, not invented
    assert any("exposed people" in m for m in shown["missing"])
    assert "【待补充】" in shown["report_draft"]


@pytest.mark.parametrize("who", ["none", "agent", "zto"])
def test_incidents_are_for_analysts(
    client: httpx.Client, site: Site, incident: str, who: str
) -> None:
    headers = {} if who == "none" else bearer(getattr(site, who))
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{incident}"):
        assert client.get(path, headers=headers).status_code == (401 if who == "none" else 403)


def test_an_unknown_incident_is_a_clear_error(client: httpx.Client, site: Site) -> None:
    r = client.get("/api/v1/incidents/INC-20990101-00000000", headers=bearer(site.analyst))
    assert r.status_code == 404 and "no incident" in r.json()["error"]  # 400 until session 19


@pytest.fixture
def tampered(tmp_path: Path, shop: pl.DataFrame) -> Iterator[tuple[str, str, str]]:
    """A server over a workspace of its own whose incident was altered in the database."""
    ws = make_workspace(tmp_path / "ws")
    release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.csv")
    inc = _incident_from_leak(ws, tmp_path / "zto.csv", tmp_path, "altered")
    token = add_token(ws.home, "ana", "analyst", known=set(ws.config.recipients))
    with sqlite3.connect(ws.home / "ledger.db") as db:
        db.execute(
            "update incident_events set body = replace(body, '暂停', '恢复') where kind = 'measure'"
        )
    with serving(create_app(ws.home)) as url:
        yield url, token, inc


def test_an_altered_incident_is_refused_not_shown(tampered: tuple[str, str, str]) -> None:
    url, token, inc = tampered
    with httpx.Client(base_url=url, timeout=60) as c:
        one = c.get(f"/api/v1/incidents/{inc}", headers=bearer(token))
        assert one.status_code == 409
        assert inc in one.json()["error"] and "event 3" in one.json()["error"]
        assert c.get("/api/v1/incidents", headers=bearer(token)).status_code == 409


@pytest.mark.browser
def test_the_dashboard_lists_the_incident_and_opens_it(
    site: Site, base_url: str, incident: str
) -> None:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}: the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(base_url=base_url).new_page()
            page.goto("/login")
            page.fill("#token", site.analyst)
            with page.expect_navigation():
                page.click("#sign-in")
            assert incident in (page.text_content("#incidents") or "")
            with page.expect_navigation():
                page.click(f"a[href='/dashboard/incidents/{incident}']")
            assert page.text_content("#accused") == "zto"
            assert "已暂停向该快递公司提供数据" in (page.text_content("#events") or "")
            report = page.text_content("#report") or ""
            assert incident in report and "【待补充】" in report
            assert "exposed people" in (page.text_content("#missing") or "")
            page.goto("/dashboard/incidents/INC-20990101-00000000")
            assert "no incident" in (page.text_content("#error") or "")
        finally:
            browser.close()


def test_the_incident_page_needs_an_analyst(base_url: str, incident: str) -> None:
    with httpx.Client(base_url=base_url, timeout=60, follow_redirects=False) as c:
        r = c.get(f"/dashboard/incidents/{incident}")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def _zto_shopper(shop: pl.DataFrame, n: int) -> dict[str, str]:
    """The n-th order the platform shipped with 中通快递: zto's releases carried it."""
    row = shop.filter(pl.col("courier") == "中通快递").row(n, named=True)
    return {"order_id": str(row["order_id"]), "phone": str(row["phone"])}


def _case(victim: dict[str, str], **extra: object) -> dict[str, object]:
    occurred = (datetime.now(PLATFORM_TZ) + timedelta(minutes=1)).isoformat()
    return {**victim, "occurred": occurred, "loss": 1234.5, "police_receipt": "A330106001", **extra}


def test_an_agent_opens_a_victims_case(
    client: httpx.Client, site: Site, incident: str, shop: pl.DataFrame
) -> None:
    path = f"/api/v1/incidents/{incident}/cases"
    r = client.post(path, headers=bearer(site.agent), json=_case(_zto_shopper(shop, 0)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"] == "advance" and body["advance"] == 1234.5
    assert "先行垫付" in body["message_zh"] and "手持身份证" in body["message_zh"]
    # a shopper of another courier: zto's copy never carried the order
    yto = shop.filter(pl.col("courier") == "圆通速递").row(0, named=True)
    other = {"order_id": str(yto["order_id"]), "phone": str(yto["phone"])}
    r = client.post(path, headers=bearer(site.agent), json=_case(other))
    assert r.json()["decision"] == "declined"
    # the same order twice is refused
    r = client.post(path, headers=bearer(site.analyst), json=_case(_zto_shopper(shop, 0)))
    assert r.status_code == 400 and "already has a case" in r.json()["error"]


@pytest.mark.parametrize(
    "extra",
    [{"id_number": "11010119900307451X"}, {"id_photo": "data:image/jpeg;base64,AAAA"}],
)
def test_a_case_accepts_no_identity_documents(
    client: httpx.Client, site: Site, incident: str, shop: pl.DataFrame, extra: dict[str, str]
) -> None:
    r = client.post(
        f"/api/v1/incidents/{incident}/cases",
        headers=bearer(site.agent),
        json=_case(_zto_shopper(shop, 1), **extra),
    )
    assert r.status_code == 400 and next(iter(extra)) in r.json()["error"]
    # an ID number in place of the police receipt is refused too
    r = client.post(
        f"/api/v1/incidents/{incident}/cases",
        headers=bearer(site.agent),
        json=_case(_zto_shopper(shop, 1), police_receipt="11010119900307451X"),
    )
    assert r.status_code == 400 and "ID card number" in r.json()["error"]


def test_a_recipient_cannot_open_cases(
    client: httpx.Client, site: Site, incident: str, shop: pl.DataFrame
) -> None:
    r = client.post(
        f"/api/v1/incidents/{incident}/cases",
        headers=bearer(site.zto),
        json=_case(_zto_shopper(shop, 2)),
    )
    assert r.status_code == 403


@pytest.mark.browser
def test_an_agent_decides_a_case_in_the_browser(
    site: Site, base_url: str, incident: str, shop: pl.DataFrame
) -> None:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}: the browser tests need it")
    from playwright.sync_api import sync_playwright

    victim = _zto_shopper(shop, 5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(base_url=base_url).new_page()
            page.goto("/login")
            page.fill("#token", site.agent)
            with page.expect_navigation():
                page.click("#sign-in")
            assert page.url.endswith("/cases")
            assert incident in (page.text_content("#incident") or "")
            page.select_option("#incident", incident)
            page.fill("#order_id", victim["order_id"])
            page.fill("#phone", victim["phone"])
            page.fill("#occurred", (datetime.now(PLATFORM_TZ) + timedelta(minutes=1)).isoformat())
            page.fill("#loss", "800")
            page.fill("#police_receipt", "A330106000777")
            with page.expect_navigation():
                page.click("#open-case")
            assert "advance" in (page.text_content("#decision") or "")
            assert "800.00" in (page.text_content("#decision") or "")
            assert "先行垫付" in (page.text_content("#message") or "")
            # an ID number where the receipt goes is refused, in words the agent can act on
            page.fill("#order_id", _zto_shopper(shop, 6)["order_id"])
            page.fill("#phone", _zto_shopper(shop, 6)["phone"])
            page.fill("#occurred", "2099-01-01 00:00")
            page.fill("#loss", "800")
            page.fill("#police_receipt", "11010119900307451X")
            with page.expect_navigation():
                page.click("#open-case")
            assert "ID card number" in (page.text_content("#error") or "")
            page.goto("/dashboard")  # an agent has no dashboard
            assert page.url.endswith("/login")
        finally:
            browser.close()
