"""The pages as a person uses them, in a real headless Chromium (the system's browser)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from leaktrace.server.tokens import add_token, revoke_token

from .conftest import LEAK_COLS, OFFICIAL_PHONE, RECIPIENTS, SCAM, Site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None or not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}: the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of any alert/confirm a page opened (a page without script opens none)."""
    return []


@pytest.fixture
def page(browser: Browser, base_url: str, dialogs: list[str]) -> Iterator[Page]:
    """A fresh browser profile (no cookies) on the server under test."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(20_000)
    pg = context.new_page()

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    try:
        yield pg
    finally:
        context.close()


def _submit(page: Page, button: str) -> Any:
    """Click a form's button and wait for the answer page."""
    with page.expect_navigation():
        page.click(button)


def _sign_in(page: Page, token: str) -> None:
    page.goto("/login")
    page.fill("#token", token)
    _submit(page, "#sign-in")


def _path(page: Page) -> str:
    from urllib.parse import urlsplit

    return urlsplit(page.url).path


# --------------------------------------------------------------------------- scam check


def test_a_fake_customer_service_text_is_flagged_and_marked(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#text", SCAM)
    _submit(page, "#check")
    expect(page.locator("#verdict")).to_contain_text("疑似诈骗")
    expect(page.locator("#verdict")).to_contain_text("冒充电商物流客服类")
    assert page.input_value("#text") == SCAM  # the text stays for the reader
    stages = page.locator("#stages li").all_inner_texts()
    assert len(stages) >= 3
    assert any("屏幕共享" in s for s in stages)
    # the marked cues are pieces of what was pasted, in order, and the marked text
    # as a whole is the pasted text
    marks = page.locator("#marked mark")
    assert marks.count() == len(stages)
    cues = [m.evaluate("e => e.firstChild.textContent") for m in marks.all()]
    pos = 0
    for cue in cues:
        assert cue and SCAM.find(cue, pos) >= pos, cue
        pos = SCAM.find(cue, pos) + len(cue)
    assert any("屏幕共享" in c for c in cues)
    plain = page.locator("#marked").evaluate(
        "e => { const c = e.cloneNode(true); c.querySelectorAll('small').forEach(s => s.remove());"
        " return c.textContent; }"
    )
    assert plain == SCAM
    advice = page.locator("#advice").inner_text()
    assert advice.strip() and "冒充电商物流客服类" in advice


def test_an_ordinary_message_is_not_flagged(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#text", "妈，我周末回家吃饭，帮我留点饺子。")
    _submit(page, "#check")
    expect(page.locator("#verdict")).to_contain_text("未判定为诈骗")
    assert "疑似诈骗" not in page.locator("#verdict").inner_text()
    assert page.locator("mark").count() == 0


def test_an_empty_check_asks_for_text(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    _submit(page, "#check")
    expect(page.locator("#error")).to_be_visible()
    assert page.locator("#verdict").count() == 0


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>骗子",
        "<script>alert(1)</script><img src=x onerror=alert(2)>" + SCAM,
        '</textarea><script>alert(3)</script><b id="injected">骗子</b>',
    ],
    ids=["plain", "with-marks", "out-of-the-textarea"],
)
def test_the_check_page_shows_html_as_text(page: Page, dialogs: list[str], text: str) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#text", text)
    _submit(page, "#check")
    expect(page.locator("#verdict")).to_be_visible()
    assert page.input_value("#text") == text
    assert page.locator("script").count() == 0
    assert page.locator("main img").count() == 0
    assert page.locator("#injected").count() == 0
    assert dialogs == []
    if SCAM in text:  # the text is shown again, cut into marked cues
        shown = page.locator("#marked").inner_text()
        assert "<script>alert(1)</script>" in shown and "<img src=x" in shown


def test_the_contact_form_tells_official_from_not(page: Page) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.fill("#contact", OFFICIAL_PHONE)
    _submit(page, "#verify-contact")
    expect(page.locator("#contact-result")).to_contain_text("官方 official")
    assert "非官方" not in page.locator("#contact-result").inner_text()
    assert page.input_value("#contact") == OFFICIAL_PHONE
    page.fill("#contact", "13800138000")
    _submit(page, "#verify-contact")
    expect(page.locator("#contact-result")).to_contain_text("非官方 not official")
    page.fill("#contact", "   ")
    _submit(page, "#verify-contact")
    expect(page.locator("#contact-error")).to_be_visible()


# --------------------------------------------------------------------------- dashboard


def test_an_analyst_signs_in_verifies_traces_and_signs_out(
    page: Page, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto("/dashboard")
    assert _path(page) == "/login"  # not signed in yet
    _sign_in(page, site.analyst)
    assert _path(page) == "/dashboard"
    expect(page.locator("header")).to_contain_text("Sign out (ana)")
    [cookie] = page.context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    shown = page.locator("#recipients tr td:first-child").all_inner_texts()
    assert sorted(shown) == sorted(RECIPIENTS)
    assert page.locator("#releases tr").count() == 1 + len(RECIPIENTS)

    _submit(page, "#verify")
    result = page.locator("#verify-result")
    expect(result).to_contain_text("Ledger OK")
    expect(result).to_contain_text(f"{len(RECIPIENTS)} records")
    expect(page.locator("#checkpoint")).to_contain_text("No checkpoint yet")

    leak = tmp_path / "快递单号泄露.csv"
    copy = site.copy("yto")
    copy.sample(30, seed=21).select([c for c in LEAK_COLS if c in copy.columns]).write_csv(leak)
    page.set_input_files("#file", str(leak))
    _submit(page, "#trace")
    expect(page.locator("#verdict")).to_have_text("source identified")
    expect(page.locator("h1")).to_contain_text(leak.name)
    rows = page.locator("#candidates tr").all()[1:]
    accused = [r.locator("td").first.inner_text() for r in rows if "ACCUSED" in r.inner_text()]
    assert accused == ["yto"]

    page.click("text=← Dashboard")
    expect(page.locator("#verify")).to_be_visible()
    _submit(page, "header button")  # Sign out
    assert _path(page) == "/"
    assert page.context.cookies() == []
    page.goto("/dashboard")
    assert _path(page) == "/login"


def test_an_unreadable_file_on_the_dashboard_says_so(
    page: Page, site: Site, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _sign_in(page, site.analyst)
    bad = tmp_path / "客户名单.xlsx"
    bad.write_bytes(b"no workbook here" * 50)
    page.set_input_files("#file", str(bad))
    _submit(page, "#trace")
    error = page.locator("#trace-error")
    expect(error).to_contain_text(bad.name)
    assert "leaktrace-upload-" not in error.inner_text()
    assert _path(page) == "/dashboard/trace"
    expect(page.locator("#verify")).to_be_visible()  # still the dashboard, still signed in


def test_a_wrong_token_is_refused_on_the_login_page(page: Page, site: Site) -> None:
    from playwright.sync_api import expect

    for wrong in ("lt_not-a-token", site.analyst[:-2], site.zto):
        _sign_in(page, wrong)
        expect(page.locator("#error")).to_be_visible()
        assert _path(page) == "/login"
        assert page.context.cookies() == []
    page.goto("/dashboard")
    assert _path(page) == "/login"


def test_an_agent_token_cannot_open_the_dashboard(page: Page, site: Site, base_url: str) -> None:
    # even planted in the cookie by hand, an agent's token opens nothing
    page.context.add_cookies([{"name": "leaktrace_token", "value": site.agent, "url": base_url}])
    page.goto("/dashboard")
    assert _path(page) == "/login"
    assert page.locator("#verify").count() == 0
    resp = page.request.post("/dashboard/verify")
    assert resp.url.endswith("/login")
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "leaktrace_token", "value": site.analyst, "url": base_url}])
    page.goto("/dashboard")
    assert _path(page) == "/dashboard"  # the same cookie with an analyst's token does


def test_revoking_a_token_signs_its_holder_out(page: Page, site: Site) -> None:
    from playwright.sync_api import expect

    token = add_token(site.home, "browser-analyst", "analyst", known=set())
    try:
        _sign_in(page, token)
        expect(page.locator("header")).to_contain_text("browser-analyst")
    finally:
        revoke_token(site.home, "browser-analyst")
    page.goto("/dashboard")
    assert _path(page) == "/login"


# --------------------------------------------------------------------------- erasure requests

ERASING_PHONE = "13912340077"  # reports only for this test (the workspace is shared)


def test_customer_service_takes_an_erasure_request_and_an_analyst_decides(
    page: Page, site: Site
) -> None:
    """The agent's page answers alike whether or not the phone reported; the analyst sees
    the request with its count on the dashboard and erases (or declines) it there."""
    import re

    from playwright.sync_api import expect

    from leaktrace.attribution.reports import load_stored_reports

    added = page.request.post(
        "/api/v1/reports",
        data=json.dumps(
            [{"victim_phone": ERASING_PHONE, "reported_at": "2025-05-01T10:00:00", "caller": "95"}]
        ),
        headers={"Authorization": f"Bearer {site.agent}", "Content-Type": "application/json"},
    )
    assert added.ok, added.text()
    ids = added.json()["ids"]

    _sign_in(page, site.agent)
    assert _path(page) == "/cases"
    answers = []
    for phone, ticket in ((ERASING_PHONE, "工单 31"), ("13700000077", "工单 32")):
        page.fill("#erasure-phone", phone)
        page.fill("#erasure-reason", ticket)
        _submit(page, "#request-erasure")
        answers.append(page.locator("#erasure-requested").inner_text())
    asked, never = (int(re.search(r"编号 (\d+)", a).group(1)) for a in answers)  # type: ignore[union-attr]
    assert answers[0].replace(str(asked), "N") == answers[1].replace(str(never), "N")
    page.fill("#erasure-phone", "12")
    _submit(page, "#request-erasure")
    expect(page.locator("#erasure-error")).to_contain_text("not a mainland mobile number")
    assert set(ids) <= {s.id for s in load_stored_reports(site.ws)}  # nothing erased yet

    page.context.clear_cookies()
    _sign_in(page, site.analyst)
    table = page.locator("#erasure-requests")
    expect(table.locator("tr", has_text="工单 31").locator("td").nth(4)).to_have_text("1")
    expect(table.locator("tr", has_text="工单 32").locator("td").nth(4)).to_have_text("0")
    assert ERASING_PHONE not in page.content()
    _submit(page, f"#erase-{asked}")
    expect(page.locator("#erasure-done")).to_have_text(
        f"Request {asked}: erased (1 report(s) erased)"
    )
    assert not set(ids) & {s.id for s in load_stored_reports(site.ws)}
    _submit(page, f"#decline-{never}")  # no reason given
    expect(page.locator("#erasure-error")).to_contain_text("declined")
    page.fill(f"#decline-reason-{never}", "无此用户报案记录")
    _submit(page, f"#decline-{never}")
    expect(page.locator("#erasure-done")).to_contain_text(f"Request {never}: declined")
    expect(page.locator("#erasure-requests tr", has_text="工单 3")).to_have_count(0)
