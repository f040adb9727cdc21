"""Choosing the pending erasure requests to weigh together, on the dashboard's page
``/dashboard/erasure-requests/impact``.

A set holding a request that cannot be weighed (its seal fails, it has none, it was
decided, or no such request) is refused whole, by design. Before, the page was then only
that error: with one forged request in the queue the analyst could weigh nothing there.
Now the page lists the pending requests in a GET form (``?id=N`` repeated, as the API
takes them), the ones that cannot be weighed shown but not selectable, with why; a
refused set still shows the form and names the requests that block it.

A workspace of this module's own, as in test_api_erasure_impact_together.py: releases to
every recipient, a simulated wave from cs-firm's copy, requests taken by an agent of
cs-firm (every victim who quoted an order number, and one who did not), by the platform's
own agent and by an agent of zto. Tests that change it work on a copy."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import httpx
import polars as pl
import pytest

from leaktrace.attribution.erasure_impact import erasure_impact_together
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    erasure_requests,
    pending_request,
    request_erasure,
)
from leaktrace.errors import LeaktraceError
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace, open_workspace
from ledger.logs import copied, sql
from served import served

from .conftest import cs_firm_wave

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PAGE = "/dashboard/erasure-requests/impact"


@dataclass(frozen=True)
class Queue:
    home: Path
    analyst: str
    firm_agent: str  # an agent token bound to cs-firm
    by_firm: tuple[int, ...]  # taken by token:firm-agent (cs-firm)
    by_own: int  # taken by token:cs-agent (the platform's own)
    by_zto: int  # taken by token:zto-agent (zto)
    phones: tuple[str, ...]

    @property
    def pending(self) -> list[int]:
        return sorted((*self.by_firm, self.by_own, self.by_zto))


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Queue:
    home = tmp_path_factory.mktemp("choose") / "ws"
    ws, wave = cs_firm_wave(home, shop)
    known = set(ws.config.recipients)
    analyst = add_token(home, "ana", "analyst", known=known)
    firm_agent = add_token(home, "firm-agent", "agent", recipient="cs-firm", known=known)
    quoters = [str(w["victim_phone"]) for w in wave if "order_id" in w["quoted"]]
    others = [str(w["victim_phone"]) for w in wave if "order_id" not in w["quoted"]]
    assert len(quoters) >= 2 and len(others) >= 3
    by_firm = tuple(
        request_erasure(
            ws, phone=p, reason=f"工单 70{i}", actor="token:firm-agent", taker_recipient="cs-firm"
        )
        for i, p in enumerate([*quoters, others[0]])
    )
    by_own = request_erasure(ws, phone=others[1], reason="工单 710", actor="token:cs-agent")
    by_zto = request_erasure(
        ws, phone=others[2], reason="工单 711", actor="token:zto-agent", taker_recipient="zto"
    )
    phones = tuple(str(w["victim_phone"]) for w in wave)
    return Queue(home, analyst, firm_agent, by_firm, by_own, by_zto, phones)


@pytest.fixture
def ws(queue: Queue, tmp_path: Path) -> Workspace:
    """A copy of the module's workspace, for a test that changes it."""
    return copied(queue.home, tmp_path)


# ------------------------------------------------------------------- reading the page


@dataclass(frozen=True)
class Box:
    """A checkbox of the form, as the browser has it."""

    checked: bool
    disabled: bool


class _Form(HTMLParser):
    """The form ``choose-form`` of a page as a browser reads it: its method and action,
    each checkbox, and what submitting it as it stands sends."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found = False
        self.method = self.action = ""
        self.boxes: dict[int, Box] = {}
        self.sent: list[tuple[str, str]] = []
        self._inside = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and a.get("id") == "choose-form":
            self.found = self._inside = True
            self.method, self.action = a.get("method") or "", a.get("action") or ""
        elif tag == "input" and self._inside:
            checked, disabled = "checked" in a, "disabled" in a
            if a.get("type") == "checkbox":
                self.boxes[int(a["value"] or "")] = Box(checked, disabled)
                if not checked:
                    return
            if a.get("name") and not disabled:
                self.sent.append((a["name"] or "", a.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def _form(html: str) -> _Form:
    form = _Form(html)
    assert form.found, "the page has no form to choose requests"
    assert form.method.lower() == "get" and form.action == PAGE
    return form


def _submit(page: httpx.Client, form: _Form, ticked: set[int] | None = None) -> httpx.Response:
    """Submit the form as a browser does: as it stands, or with only ``ticked`` ticked."""
    sent = form.sent
    if ticked is not None:
        assert all(not form.boxes[i].disabled for i in ticked)
        sent = [(k, v) for k, v in sent if k != "id"] + [("id", str(i)) for i in sorted(ticked)]
    return page.get(form.action, params=sent)


def _ticked(form: _Form) -> set[int]:
    return {i for i, b in form.boxes.items() if b.checked}


def _disabled(form: _Form) -> set[int]:
    return {i for i, b in form.boxes.items() if b.disabled}


def _weighed(html: str, key: str) -> list[int]:
    """The request ids of the section ``together-KEY`` (its table of requests)."""
    table = re.search(rf'<table id="together-{key}-requests">(.*?)</table>', html, re.S)
    assert table is not None, f"no section together-{key}"
    return [int(x) for x in re.findall(r"<tr><td>(\d+)</td>", table.group(1))]


def _error(html: str) -> str:
    got = re.search(r'<p id="error-message">(.*?)</p>', html, re.S)
    assert got is not None, "no error on the page"
    assert "\n" not in got.group(1), "the error is one line"
    return got.group(1)


def _form_html(html: str) -> str:
    got = re.search(r'<form [^>]*id="choose-form"[^>]*>(.*?)</form>', html, re.S)
    assert got is not None
    return got.group(1)


def _row(html: str, rid: int) -> str:
    got = re.search(rf'<tr id="choose-row-{rid}"[^>]*>(.*?)</tr>', html, re.S)
    assert got is not None, f"no row for request {rid}"
    return got.group(1)


def _no_phone(html: str, phones: tuple[str, ...]) -> None:
    assert not any(p in html or p[-8:] in html for p in phones)
    assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?!\d)", html)


def _break_seal(ws: Workspace, rid: int) -> None:
    """Change a request's ticket in the database, as someone without the key could."""
    sql(ws, "update erasure_requests set reason = ? where id = ?", ("工单 999", rid))


# -------------------------------------------------------------------------- the form


def test_the_form_lists_every_pending_request_and_ticks_the_set_shown(queue: Queue) -> None:
    with served(queue.home, queue.analyst) as page:
        every = page.get(PAGE)
        assert every.status_code == 200, every.text
        form = _form(every.text)
        assert form.boxes == {i: Box(True, False) for i in queue.pending}
        html = every.text
        for rid in queue.pending:
            assert "sealed" in _row(html, rid)
            assert f'id="why-not-{rid}"' not in html
        row = _row(html, queue.by_firm[0])
        assert "token:firm-agent" in row and "cs-firm" in row
        assert "工单" not in _form_html(html)  # the ticket is on the dashboard's list
        _no_phone(html, queue.phones)

        firms = page.get(PAGE, params={"firm": "cs-firm"})
        assert firms.status_code == 200, firms.text
        assert _ticked(_form(firms.text)) == set(queue.by_firm)
        assert not _disabled(_form(firms.text))


def test_the_page_weighs_the_requests_ticked(queue: Queue) -> None:
    chosen = {queue.by_own, queue.by_zto}
    with served(queue.home, queue.analyst) as page:
        form = _form(page.get(PAGE).text)
        r = _submit(page, form, chosen)
        assert r.status_code == 200, r.text
        assert [int(v) for k, v in parse_qsl(urlsplit(str(r.url)).query) if k == "id"] == sorted(
            chosen
        )
        html = r.text
        assert 'id="together-all"' not in html and 'id="together-firm-cs-firm"' not in html
        assert _weighed(html, "chosen") == sorted(chosen)
        library = erasure_impact_together(open_workspace(queue.home), sorted(chosen))
        assert f'id="together-chosen-matched">{library.matched_reports}<' in html
        assert _ticked(_form(html)) == chosen  # the form keeps the choice
        assert set(_form(html).boxes) == set(queue.pending)
        _no_phone(html, queue.phones)
        again = page.get(str(r.url))  # the address is the set: it can be shared
        assert again.status_code == 200 and _weighed(again.text, "chosen") == sorted(chosen)
        firms = page.get(PAGE, params=[("id", str(i)) for i in queue.by_firm])
        assert firms.status_code == 200 and "CONFLICT OF INTEREST" in firms.text
    assert {r.status for r in erasure_requests(open_workspace(queue.home))} == {"pending"}


# --------------------------------------------------- requests that cannot be weighed


def test_a_request_whose_seal_fails_blocks_the_default_set_and_the_form_stays(
    ws: Workspace, queue: Queue
) -> None:
    bad = queue.by_firm[1]
    _break_seal(ws, bad)
    rest = [i for i in queue.pending if i != bad]
    with served(ws.home, queue.analyst) as page:
        every = page.get(PAGE)
        assert every.status_code == 400, every.text
        assert _error(every.text).startswith(f"erasure request {bad} fails its seal")
        assert 'id="together-all"' not in every.text
        assert f'id="blocks-{bad}"' in every.text
        assert f'id="why-not-{bad}"' in every.text
        form = _form(every.text)
        assert form.boxes[bad] == Box(False, True)
        assert _ticked(form) == set(rest) and _disabled(form) == {bad}
        _no_phone(every.text, queue.phones)

        # the analyst submits the form as it stands: the set without the blocked request
        r = _submit(page, form)
        assert r.status_code == 200, r.text
        assert _weighed(r.text, "chosen") == rest

        firms = page.get(PAGE, params={"firm": "cs-firm"})
        assert firms.status_code == 400 and f'id="blocks-{bad}"' in firms.text
        assert _ticked(_form(firms.text)) == set(queue.by_firm) - {bad}

        # a set naming it is still refused whole, not weighed without it
        named = page.get(PAGE, params=[("id", str(bad)), ("id", str(queue.by_own))])
        assert named.status_code == 400
        assert _error(named.text).startswith(f"erasure request {bad} fails its seal")
        assert 'id="together-chosen"' not in named.text
        assert f'id="blocks-{bad}"' in named.text
        assert _ticked(_form(named.text)) == {queue.by_own}

        # a set without it, chosen by firm, is weighed as before
        zto = page.get(PAGE, params={"firm": "zto"})
        assert zto.status_code == 200 and _weighed(zto.text, "firm-zto") == [queue.by_zto]


def test_unsealed_and_decided_requests_are_shown_but_cannot_be_ticked(
    ws: Workspace, queue: Queue
) -> None:
    first = queue.pending[0]  # no seal on the first: taken before requests were sealed
    sql(ws, "update erasure_requests set seal = null where id = ?", (first,))
    decide_erasure_request(ws, queue.by_own, erase=False, actor="cli:ana", note="重新受理")
    with served(ws.home, queue.analyst) as page:
        every = page.get(PAGE)
        assert every.status_code == 400, every.text
        assert _error(every.text).startswith(f"erasure request {first} has no seal")
        form = _form(every.text)
        assert _disabled(form) == {first} and f'id="blocks-{first}"' in every.text
        assert queue.by_own not in form.boxes  # decided: no longer pending
        why = re.search(rf'id="why-not-{first}">(.*?)<', every.text, re.S)
        assert why is not None and "no seal" in why.group(1)

        # a shared address naming a request decided since
        named = page.get(PAGE, params=[("id", str(queue.by_own)), ("id", str(queue.by_zto))])
        assert named.status_code == 400
        assert f"erasure request {queue.by_own} was already decided" in _error(named.text)
        form = _form(named.text)
        assert form.boxes[queue.by_own] == Box(False, True)
        assert _ticked(form) == {queue.by_zto}
        why = re.search(rf'id="why-not-{queue.by_own}">(.*?)<', named.text, re.S)
        assert why is not None and "already decided (declined" in why.group(1)


def test_what_the_form_lets_be_ticked_is_what_the_library_weighs(
    ws: Workspace, queue: Queue
) -> None:
    """The form's judgement and the library's refusal agree, request by request."""
    sql(ws, "update erasure_requests set seal = null where id = ?", (queue.pending[0],))
    _break_seal(ws, queue.by_firm[2])
    sql(
        ws,
        "insert into erasure_requests (id, received_at, actor, reason, phone_digests, "
        "last_report_id, status, decided_by, note) values (?, ?, ?, ?, ?, ?, ?, '', '')",
        (0, "2025-01-01T00:00:00+00:00", "token:cs", "工单 9", "[]", 100, "pending"),
    )
    with served(ws.home, queue.analyst) as page:
        form = _form(page.get(PAGE).text)
    assert set(form.boxes) == {0, *queue.pending}
    for rid, box in form.boxes.items():
        try:
            pending_request(ws, rid)
            refused = False
        except LeaktraceError:
            refused = True
        assert box.disabled == refused, rid
    assert _disabled(form) == {0, queue.pending[0], queue.by_firm[2]}


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ([("id", "abc")], 400, "id 1 of the 1 given is not a request id"),
        ([("id", "3"), ("id", "")], 400, "id 2 of the 2 given is not a request id"),
        ([("id", "-1")], 400, "is not a request id"),
        ([("id", "٣")], 400, "is not a request id"),  # a digit, but not 0-9
        ([("id", "13912345678")], 400, "is not a request id"),  # a phone pasted: not echoed
        ([("id", "999999")], 404, "no erasure request has id 999999"),
        ([("id", "3"), ("firm", "cs-firm")], 400, "not both"),
        ([("chosen", "1")], 400, "no request ticked"),
        ([("id", "1")] * 501, 400, "at most 500 request ids at once (501 given)"),
        ([("firm", "no-such-firm")], 404, "unknown recipient"),
        ([("firm", "sms")], 400, "no pending erasure requests taken by agents of sms"),
    ],
)
def test_bad_input_is_one_line_with_its_status_and_the_form(
    queue: Queue, params: list[tuple[str, str]], status: int, says: str
) -> None:
    with served(queue.home, queue.analyst) as page:
        r = page.get(PAGE, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert says in _error(r.text)
    assert "Traceback" not in r.text and "13912345678" not in r.text
    assert '<section id="together-' not in r.text
    assert set(_form(r.text).boxes) == set(queue.pending)  # the analyst can choose again


def test_a_set_over_the_cap_is_not_ticked(queue: Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    """The form would be refused: none of its boxes is ticked, and the page says why."""
    import leaktrace.server.app as api
    import leaktrace.server.dashboard as dashboard

    monkeypatch.setattr(api, "MAX_CHOSEN", 3)  # the check the API and the form share
    monkeypatch.setattr(dashboard, "MAX_CHOSEN", 3)  # the form's ticks
    with served(queue.home, queue.analyst) as page:
        every = page.get(PAGE)
        assert every.status_code == 200, every.text
        assert 'id="choose-too-many"' in every.text
        assert not _ticked(_form(every.text)) and not _disabled(_form(every.text))
        over = page.get(PAGE, params=[("id", str(i)) for i in queue.pending[:4]])
        assert over.status_code == 400
        assert "at most 3 request ids at once (4 given)" in _error(over.text)


# ---------------------------------------------------------------- who, and escaping


def test_only_analysts_see_it(queue: Queue) -> None:
    url = f"{PAGE}?id={queue.by_own}"
    with served(queue.home) as anyone:
        r = anyone.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        r = anyone.get(
            url, headers={"authorization": f"Bearer {queue.analyst}"}, follow_redirects=False
        )
        assert r.status_code == 303  # the pages take the signed-in cookie, as before
    with served(queue.home, queue.firm_agent) as agent:
        r = agent.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_everything_shown_is_escaped(ws: Workspace, queue: Queue) -> None:
    script = "<script>alert(1)</script>"
    sql(ws, "update erasure_requests set actor = ? where id = ?", (script, queue.by_zto))
    with served(ws.home, queue.analyst) as page:
        r = page.get(PAGE)
        assert r.status_code == 400  # its seal fails: it blocks the set
        assert script not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert _form(r.text).boxes[queue.by_zto].disabled
        firm = page.get(PAGE, params={"firm": '<b id="x">f</b>'})
        assert firm.status_code == 404
        assert '<b id="x">' not in firm.text and "&lt;b id=" in firm.text


# ------------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_an_analyst_unticks_a_request_and_weighs_the_rest_in_a_browser(
    ws: Workspace, queue: Queue
) -> None:
    chromium = "/usr/bin/chromium"
    if shutil.which("chromium") is None or not Path(chromium).exists():
        pytest.skip(f"no system Chromium at {chromium}: the browser tests need it")
    from playwright.sync_api import expect, sync_playwright

    bad = queue.by_firm[0]
    _break_seal(ws, bad)
    with serving(create_app(ws.home)) as url, sync_playwright() as p:
        browser: Browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_context(base_url=url).new_page()
            page.set_default_timeout(20_000)
            page.goto("/login")
            page.fill("#token", queue.analyst)
            with page.expect_navigation():
                page.click("#sign-in")
            page.goto(PAGE)
            expect(page.locator("#error-message")).to_contain_text(
                f"erasure request {bad} fails its seal"
            )
            expect(page.locator(f"#choose-{bad}")).to_be_disabled()
            expect(page.locator(f"#blocks-{bad}")).to_be_visible()
            page.uncheck(f"#choose-{queue.by_own}")
            with page.expect_navigation():
                page.click("#weigh-chosen")
            want = [i for i in queue.pending if i not in (bad, queue.by_own)]
            assert [int(v) for k, v in parse_qsl(urlsplit(page.url).query) if k == "id"] == want
            rows = page.locator("#together-chosen-requests tr td:first-child")
            expect(rows).to_have_text([str(i) for i in want])
            expect(page.locator(f"#choose-{queue.by_own}")).not_to_be_checked()
            expect(page.locator(f"#choose-{bad}")).to_be_disabled()
            _no_phone(page.content(), queue.phones)
        finally:
            browser.close()
