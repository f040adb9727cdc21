"""The combined impact of several pending erasure requests, through the service: the
analysts' route ``GET /api/v1/erasure-requests/impact`` and the dashboard's page
``/dashboard/erasure-requests/impact``, linked from the list of pending requests.

A workspace of this module's own (the session's ``site`` is shared with tests that count
its pending requests): releases to every recipient, a simulated wave from cs-firm's copy,
and requests taken through the API by an agent of cs-firm (for every victim who quoted an
order number: what names the firm), by the platform's own agent and by an agent of zto."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from leaktrace.server.tokens import add_token
from served import bearer, served

from .conftest import cs_firm_wave

URL = "/api/v1/erasure-requests"


@dataclass(frozen=True)
class Queue:
    home: Path
    analyst: str
    firm_agent: str  # an agent token bound to cs-firm
    own_agent: str  # the platform's own agent
    zto: str  # a recipient token
    by_firm: list[int]
    by_own: int
    by_zto_agent: int
    phones: list[str]


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Queue:
    home = tmp_path_factory.mktemp("together") / "ws"
    ws, wave = cs_firm_wave(home, shop)
    known = set(ws.config.recipients)
    analyst = add_token(home, "ana", "analyst", known=known)
    firm = add_token(home, "firm-agent", "agent", recipient="cs-firm", known=known)
    own = add_token(home, "cs-agent", "agent", known=known)
    zto_agent = add_token(home, "zto-agent", "agent", recipient="zto", known=known)
    zto = add_token(home, "zto-api", "recipient", recipient="zto", known=known)
    quoters = [str(w["victim_phone"]) for w in wave if "order_id" in w["quoted"]]
    others = [str(w["victim_phone"]) for w in wave if "order_id" not in w["quoted"]]
    with served(home) as api:

        def take(token: str, phone: str) -> int:
            r = api.post(URL, json={"phone": phone, "reason": "工单 90"}, headers=bearer(token))
            assert r.status_code == 200, r.text
            rid: int = r.json()["request_id"]
            return rid

        by_firm = [take(firm, p) for p in [*quoters, others[0]]]
        by_own, by_zto_agent = take(own, others[1]), take(zto_agent, others[2])
    phones = [str(w["victim_phone"]) for w in wave]
    return Queue(home, analyst, firm, own, zto, by_firm, by_own, by_zto_agent, phones)


def _no_phone(text: str, phones: list[str]) -> None:
    assert not any(p in text for p in phones)
    assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?!\d)", text)


def test_an_analyst_gets_the_combined_impact_of_a_firms_requests(queue: Queue) -> None:
    with served(queue.home) as api:
        r = api.get(f"{URL}/impact", params={"firm": "cs-firm"}, headers=bearer(queue.analyst))
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["request_ids"] == queue.by_firm
        assert got["matched_reports"] == len(queue.by_firm)
        assert got["named_before"] == ["cs-firm"] and got["named_after"] == []
        assert got["conflict"] is True and got["conflicted_requests"] == queue.by_firm
        assert any("removes the evidence" in w for w in got["warnings"])
        _no_phone(r.text, queue.phones)

        every = api.get(f"{URL}/impact", headers=bearer(queue.analyst))
        assert every.status_code == 200, every.text
        assert every.json()["request_ids"] == sorted(
            [*queue.by_firm, queue.by_own, queue.by_zto_agent]
        )
        by_taker = api.get(
            f"{URL}/impact", params={"taker": "token:cs-agent"}, headers=bearer(queue.analyst)
        )
        assert by_taker.status_code == 200 and by_taker.json()["request_ids"] == [queue.by_own]
        assert by_taker.json()["conflict"] is False
        named = api.get(
            f"{URL}/impact",
            params=[("id", str(queue.by_own)), ("id", str(queue.by_zto_agent))],
            headers=bearer(queue.analyst),
        )
        assert named.status_code == 200, named.text
        assert named.json()["request_ids"] == [queue.by_own, queue.by_zto_agent]
        # nothing was decided
        listed = api.get(URL, headers=bearer(queue.analyst)).json()
        assert {x["status"] for x in listed} == {"pending"}


def test_the_combined_impact_is_the_analysts_only(queue: Queue) -> None:
    with served(queue.home) as api:
        for token in (queue.firm_agent, queue.own_agent, queue.zto):
            r = api.get(f"{URL}/impact", params={"firm": "cs-firm"}, headers=bearer(token))
            assert r.status_code == 403, r.text
        assert api.get(f"{URL}/impact").status_code == 401
        assert api.get(f"{URL}/impact", headers=bearer("not-a-token")).status_code == 401


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"firm": "sms"}, 400, "no pending erasure requests taken by agents of sms"),
        ({"firm": "no-such-firm"}, 404, "unknown recipient"),
        ({"firm": "cs-firm", "taker": "firm-agent"}, 400, "not both"),
        ({"id": "999999"}, 404, "no erasure request has id 999999"),
    ],
)
def test_a_bad_selection_gets_the_single_impacts_statuses(
    queue: Queue, params: dict[str, str], status: int, says: str
) -> None:
    with served(queue.home) as api:
        r = api.get(f"{URL}/impact", params=params, headers=bearer(queue.analyst))
        assert r.status_code == status, r.text
        assert says in r.json()["error"]


def test_the_dashboard_links_the_combined_impact_and_shows_it(
    queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    impact_module = importlib.import_module("leaktrace.attribution.erasure_impact")
    real = impact_module.attribute_evidence
    with served(queue.home, queue.analyst) as page:
        # the list never runs the attribution: it is shown on every page view
        def refuse(*_: object, **__: object) -> None:
            raise AssertionError("the dashboard's list ran the attribution")

        monkeypatch.setattr(impact_module, "attribute_evidence", refuse)
        board = page.get("/dashboard")
        assert board.status_code == 200, board.text
        assert 'href="/dashboard/erasure-requests/impact"' in board.text
        assert 'href="/dashboard/erasure-requests/impact?firm=cs-firm"' in board.text
        assert 'href="/dashboard/erasure-requests/impact?firm=zto"' in board.text
        monkeypatch.setattr(impact_module, "attribute_evidence", real)

        shown = page.get("/dashboard/erasure-requests/impact")
        assert shown.status_code == 200, shown.text
        html = shown.text
        assert 'id="together-all"' in html and 'id="together-firm-cs-firm"' in html
        assert 'id="together-firm-zto"' in html
        assert "CONFLICT OF INTEREST" in html and "removes the evidence" in html
        for rid in queue.by_firm:
            assert f'href="/dashboard/erasure-requests/{rid}/impact"' in html
        _no_phone(html, queue.phones)

        one = page.get("/dashboard/erasure-requests/impact", params={"firm": "cs-firm"})
        assert one.status_code == 200, one.text
        assert 'id="together-firm-cs-firm"' in one.text and 'id="together-all"' not in one.text

        bad = page.get("/dashboard/erasure-requests/impact", params={"firm": "sms"})
        assert bad.status_code == 400 and "no pending erasure requests" in bad.text

    with served(queue.home, queue.firm_agent) as agent:
        r = agent.get("/dashboard/erasure-requests/impact", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_api_takes_the_dashboards_ids_and_never_echoes_a_phone(queue: Queue) -> None:
    """The route takes what the dashboard's form takes: at most MAX_CHOSEN ids, each a
    request id of at most ten digits. An eleven-digit mobile pasted as an id was looked up
    and came back in "no erasure request has id 13800138000"."""
    from leaktrace.server.dashboard import MAX_CHOSEN

    with served(queue.home) as api:
        r = api.get(f"{URL}/impact", params={"id": "13800138000"}, headers=bearer(queue.analyst))
        assert r.status_code == 400, r.text
        assert "13800138000" not in r.text
        assert "not a request id" in r.json()["error"]
        many = [("id", str(i)) for i in range(1, MAX_CHOSEN + 2)]
        r = api.get(f"{URL}/impact", params=many, headers=bearer(queue.analyst))
        assert r.status_code == 400, r.text
        assert f"at most {MAX_CHOSEN} request ids" in r.json()["error"]
