"""Erasing a victim's reports at the person's request (PIPL Art. 47) through the service.

``POST /api/v1/reports/erase``: an analyst lists first, erases only with ``apply``, and the
stored erasure names the token. ``/api/v1/erasure-requests``: customer service queues the
person's request and learns nothing about what is stored; an analyst decides it."""

from __future__ import annotations

import httpx
import polars as pl
import pytest

from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.store import load_erasures
from leaktrace.server.tokens import add_token

from .conftest import Site, bearer

PHONE = "13912345678"  # this file's own victim: other tests share the workspace


def _add(client: httpx.Client, site: Site) -> list[int]:
    r = client.post(
        "/api/v1/reports",
        json=[
            {"victim_phone": PHONE, "reported_at": "2025-04-01T10:00:00", "caller": "95000"},
            {"victim_phone": PHONE, "reported_at": "2025-04-02T10:00:00", "caller": "95001"},
        ],
        headers=bearer(site.agent),
    )
    assert r.status_code == 200, r.text
    ids: list[int] = r.json()["ids"]
    return ids


def test_an_analyst_lists_then_erases_a_victims_reports(client: httpx.Client, site: Site) -> None:
    ids = _add(client, site)
    url = "/api/v1/reports/erase"
    r = client.post(url, json={"phone": f"+86 {PHONE}"}, headers=bearer(site.analyst))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "erased": ids,
        "already_erased": [],
        "applied": False,
        "matched_by_phone": ids,
    }
    assert set(ids) <= {s.id for s in load_stored_reports(site.ws)}  # nothing changed yet
    body = {"phone": PHONE, "apply": True, "reason": "工单 88"}
    r = client.post(url, json=body, headers=bearer(site.analyst))
    assert r.status_code == 200 and r.json()["erased"] == ids and r.json()["applied"]
    assert not set(ids) & {s.id for s in load_stored_reports(site.ws)}
    erasures = load_erasures(site.ws)
    assert {erasures[i].actor for i in ids} == {"token:ana"}
    assert {erasures[i].reason for i in ids} == {"工单 88"}


REQUESTER = "13912340000"  # reports only for the request test


def test_an_agent_queues_a_request_and_learns_nothing(client: httpx.Client, site: Site) -> None:
    r = client.post(
        "/api/v1/reports",
        json=[{"victim_phone": REQUESTER, "reported_at": "2025-04-03T10:00:00", "caller": "95002"}],
        headers=bearer(site.agent),
    )
    assert r.status_code == 200, r.text
    ids = r.json()["ids"]
    url = "/api/v1/erasure-requests"
    asked = client.post(
        url, json={"phone": REQUESTER, "reason": "工单 9"}, headers=bearer(site.agent)
    )
    never = client.post(url, json={"phone": "13700000002"}, headers=bearer(site.agent))
    assert asked.status_code == never.status_code == 200, asked.text
    assert asked.json().keys() == never.json().keys() == {"request_id", "status"}
    assert asked.json()["status"] == never.json()["status"] == "pending"
    assert set(ids) <= {s.id for s in load_stored_reports(site.ws)}  # nothing erased

    for forbidden in (
        client.get(url, headers=bearer(site.agent)),
        client.post(
            f"{url}/{asked.json()['request_id']}",
            json={"decision": "erase"},
            headers=bearer(site.agent),
        ),
        client.post(url, json={"phone": REQUESTER}, headers=bearer(site.zto)),
    ):
        assert forbidden.status_code == 403, forbidden.text

    listed = client.get(url, headers=bearer(site.analyst))
    assert listed.status_code == 200
    by_id = {x["id"]: x for x in listed.json()}
    assert by_id[asked.json()["request_id"]]["matches"] == len(ids)
    assert by_id[never.json()["request_id"]]["matches"] == 0
    assert REQUESTER not in listed.text

    done = client.post(
        f"{url}/{asked.json()['request_id']}",
        json={"decision": "erase"},
        headers=bearer(site.analyst),
    )
    assert done.status_code == 200, done.text
    assert done.json()["erasure"]["erased"] == ids and done.json()["request"]["status"] == "erased"
    assert not set(ids) & {s.id for s in load_stored_reports(site.ws)}
    no_reason = client.post(
        f"{url}/{never.json()['request_id']}",
        json={"decision": "decline"},
        headers=bearer(site.analyst),
    )
    assert no_reason.status_code == 400 and "declined" in no_reason.text
    again = client.post(
        f"{url}/{asked.json()['request_id']}",
        json={"decision": "erase"},
        headers=bearer(site.analyst),
    )
    assert again.status_code == 400 and "already decided" in again.text
    bad = client.post(url, json={"phone": REQUESTER, "ids": [1]}, headers=bearer(site.agent))
    assert bad.status_code in (400, 422) and "malformed request" in bad.text


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "name the reports to erase"),
        ({"ids": [10**9]}, "no stored report has id"),
        ({"phone": "12"}, "not a mainland mobile number"),
        ({"ids": [1], "id_photo": "x"}, "malformed request"),
    ],
)
def test_a_bad_erasure_request_is_a_clear_400(
    client: httpx.Client, site: Site, body: dict[str, object], says: str
) -> None:
    r = client.post("/api/v1/reports/erase", json=body, headers=bearer(site.analyst))
    assert r.status_code in (400, 422), r.text
    assert says in r.text


def test_an_agent_cannot_erase(client: httpx.Client, site: Site) -> None:
    """An outsourced customer-service firm is itself a recipient: erasing, or listing what
    would be erased, would let it remove evidence against itself and learn who reported."""
    for body in ({"ids": [1]}, {"phone": PHONE}, {"phone": PHONE, "apply": True}):
        r = client.post("/api/v1/reports/erase", json=body, headers=bearer(site.agent))
        assert r.status_code == 403, r.text


def test_a_recipient_token_cannot_erase(client: httpx.Client, site: Site) -> None:
    r = client.post("/api/v1/reports/erase", json={"ids": [1]}, headers=bearer(site.zto))
    assert r.status_code == 403
    r = client.post("/api/v1/reports/erase", json={"ids": [1]})
    assert r.status_code == 401


def test_an_analyst_sees_what_erasing_a_request_does_to_the_evidence(
    client: httpx.Client, site: Site, shop: pl.DataFrame
) -> None:
    """A wave from cs-firm's copy names it; a request for one of its victims taken by an
    agent of cs-firm is a conflict of interest, one taken by an agent of zto is not. The
    impact is the analysts' (agents learn from it who reported), and says no phone."""
    from leaktrace.attribution.simulate import simulate_wave

    wave = simulate_wave(site.ws, shop, source="cs-firm", victims=12, seed=1, unrelated=0.0)
    added = client.post("/api/v1/reports", json=wave, headers=bearer(site.analyst))
    assert added.status_code == 200, added.text
    victim = str(wave[0]["victim_phone"])
    known = set(site.ws.config.recipients)
    firm = add_token(site.home, "impact-firm-agent", "agent", recipient="cs-firm", known=known)
    other = add_token(site.home, "impact-zto-agent", "agent", recipient="zto", known=known)
    url = "/api/v1/erasure-requests"
    ids = []
    for token in (firm, other):
        r = client.post(url, json={"phone": victim, "reason": "工单 61"}, headers=bearer(token))
        assert r.status_code == 200, r.text
        assert r.json().keys() == {"request_id", "status"}  # the firm learns nothing more
        ids.append(r.json()["request_id"])
    by_firm, by_other = ids

    listed = {x["id"]: x for x in client.get(url, headers=bearer(site.analyst)).json()}
    assert (listed[by_firm]["taker_recipient"], listed[by_other]["taker_recipient"]) == (
        "cs-firm",
        "zto",
    )

    r = client.get(f"{url}/{by_firm}/impact", headers=bearer(site.analyst))
    assert r.status_code == 200, r.text
    impact = r.json()
    assert impact["request_id"] == by_firm and impact["matched_reports"] == 1
    assert "cs-firm" in impact["named_before"]
    assert impact["taker_recipient"] == "cs-firm" and impact["conflict"] is True
    firm_row = next(p for p in impact["partners"] if p["recipient"] == "cs-firm")
    assert firm_row["p_before"] <= impact["alpha"] and firm_row["still_named"] is True
    assert any("conflict of interest" in w.lower() for w in impact["warnings"])
    assert victim not in r.text

    r = client.get(f"{url}/{by_other}/impact", headers=bearer(site.analyst))
    assert r.status_code == 200 and r.json()["conflict"] is False

    for token in (firm, site.agent, site.zto):
        assert client.get(f"{url}/{by_firm}/impact", headers=bearer(token)).status_code == 403
    assert client.get(f"{url}/{by_firm}/impact").status_code == 401

    unknown = client.post(f"{url}/999999", json={"decision": "erase"}, headers=bearer(site.analyst))
    assert unknown.status_code == 404 and "no erasure request has id" in unknown.text
    missing = client.get(f"{url}/999999/impact", headers=bearer(site.analyst))
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "no erasure request has id 999999 (`leaktrace report requests`)"
    }

    # the dashboard: each pending row links to its impact page
    with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
        browser.cookies.set("leaktrace_token", site.analyst)
        board = browser.get("/dashboard")
        assert board.status_code == 200
        assert f'href="/dashboard/erasure-requests/{by_firm}/impact"' in board.text
        page = browser.get(f"/dashboard/erasure-requests/{by_firm}/impact")
        assert page.status_code == 200, page.text
        assert "conflict of interest" in page.text.lower() and "cs-firm" in page.text
        assert victim not in page.text
        assert browser.get("/dashboard/erasure-requests/999999/impact").status_code == 404
        browser.cookies.set("leaktrace_token", firm)
        agent_try = browser.get(
            f"/dashboard/erasure-requests/{by_firm}/impact", follow_redirects=False
        )
        assert agent_try.status_code == 303 and agent_try.headers["location"] == "/login"

    for rid in ids:  # decided: the phone is forgotten, there is nothing left to weigh
        r = client.post(
            f"{url}/{rid}",
            json={"decision": "decline", "reason": "测试"},
            headers=bearer(site.analyst),
        )
        assert r.status_code == 200, r.text
    decided = client.get(f"{url}/{by_firm}/impact", headers=bearer(site.analyst))
    assert decided.status_code == 400 and "already decided" in decided.json()["error"]


def test_a_request_altered_in_the_database_is_marked_named_and_refused(
    client: httpx.Client, site: Site
) -> None:
    """The service's list marks it, its verify names it (no phone), deciding it is a 400,
    the dashboard marks it; restored as it was, all is well again (the workspace is
    shared with the other tests)."""
    import sqlite3
    from contextlib import closing

    url = "/api/v1/erasure-requests"
    phone = "13700000003"
    r = client.post(url, json={"phone": phone, "reason": "工单 70"}, headers=bearer(site.agent))
    assert r.status_code == 200, r.text
    rid = r.json()["request_id"]
    listed = {x["id"]: x for x in client.get(url, headers=bearer(site.analyst)).json()}
    assert (listed[rid]["sealed"], listed[rid]["seal_fails"]) == (True, False)

    def edit(reason: str) -> None:
        with closing(sqlite3.connect(site.home / "ledger.db")) as con:
            con.execute("update erasure_requests set reason = ? where id = ?", (reason, rid))
            con.commit()

    edit("工单 71")
    try:
        listed = {x["id"]: x for x in client.get(url, headers=bearer(site.analyst)).json()}
        assert (listed[rid]["sealed"], listed[rid]["seal_fails"]) == (False, True)
        assert listed[rid]["matches"] is None
        checked = client.get("/api/v1/ledger/verify", headers=bearer(site.analyst))
        assert checked.status_code == 200 and checked.json()["ok"] is False
        assert checked.json()["problem"].startswith(f"erasure request {rid} fails its seal")
        assert phone not in checked.text
        decided = client.post(
            f"{url}/{rid}", json={"decision": "erase"}, headers=bearer(site.analyst)
        )
        assert decided.status_code == 400 and "fails its seal" in decided.text
        impact = client.get(f"{url}/{rid}/impact", headers=bearer(site.analyst))
        assert impact.status_code == 400 and "fails its seal" in impact.text
        with httpx.Client(base_url=str(client.base_url), timeout=60) as browser:
            browser.cookies.set("leaktrace_token", site.analyst)
            board = browser.get("/dashboard")
            assert board.status_code == 200 and f'id="seal-fails-{rid}"' in board.text
    finally:
        edit("工单 70")
    checked = client.get("/api/v1/ledger/verify", headers=bearer(site.analyst))
    assert checked.json()["ok"] is True, checked.text
    done = client.post(
        f"{url}/{rid}", json={"decision": "decline", "reason": "测试"}, headers=bearer(site.analyst)
    )
    assert done.status_code == 200 and done.json()["request"]["sealed"] is True
