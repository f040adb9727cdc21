"""``POST /api/v1/reports/erase``: customer service erases a victim's reports at the
person's request (PIPL Art. 47) — lists first, erases only with ``apply`` — and the stored
erasure names the token that asked."""

from __future__ import annotations

import httpx
import pytest

from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.store import load_erasures

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


def test_an_agent_lists_then_erases_a_victims_reports(client: httpx.Client, site: Site) -> None:
    ids = _add(client, site)
    url = "/api/v1/reports/erase"
    r = client.post(url, json={"phone": f"+86 {PHONE}"}, headers=bearer(site.agent))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "erased": ids,
        "already_erased": [],
        "applied": False,
        "matched_by_phone": ids,
    }
    assert set(ids) <= {s.id for s in load_stored_reports(site.ws)}  # nothing changed yet
    body = {"phone": PHONE, "apply": True, "reason": "工单 88"}
    r = client.post(url, json=body, headers=bearer(site.agent))
    assert r.status_code == 200 and r.json()["erased"] == ids and r.json()["applied"]
    assert not set(ids) & {s.id for s in load_stored_reports(site.ws)}
    erasures = load_erasures(site.ws)
    assert {erasures[i].actor for i in ids} == {"token:cs-agent"}
    assert {erasures[i].reason for i in ids} == {"工单 88"}


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


def test_an_agent_erases_by_phone_only(client: httpx.Client, site: Site) -> None:
    """An outsourced customer-service firm is itself a recipient: by id it could remove
    any report, evidence against itself included."""
    r = client.post("/api/v1/reports/erase", json={"ids": [1]}, headers=bearer(site.agent))
    assert r.status_code == 403 and "needs an analyst" in r.text


def test_a_recipient_token_cannot_erase(client: httpx.Client, site: Site) -> None:
    r = client.post("/api/v1/reports/erase", json={"ids": [1]}, headers=bearer(site.zto))
    assert r.status_code == 403
    r = client.post("/api/v1/reports/erase", json={"ids": [1]})
    assert r.status_code == 401
