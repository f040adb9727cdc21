"""``POST /api/v1/erasure-requests`` refuses a reason holding a phone in Chinese numerals
(session 20, H2): the reason is stored in clear and shown on the dashboard."""

from __future__ import annotations

import httpx
import pytest

from leaktrace.attribution.erasure_requests import erasure_requests

from .conftest import Site, bearer


@pytest.mark.parametrize(
    "reason", ["回拨 一三八零零一三八零零零", "幺三八 零零幺三 八零零零", "138零零13八000"]
)
def test_an_erasure_request_reason_in_chinese_numerals_is_refused(
    client: httpx.Client, site: Site, reason: str
) -> None:
    before = len(erasure_requests(site.ws, pending_only=False))
    r = client.post(
        "/api/v1/erasure-requests",
        json={"phone": "13800138000", "reason": reason},
        headers=bearer(site.agent),
    )
    assert r.status_code == 400, r.text
    assert "phone or ID card number" in r.text and reason not in r.text
    assert len(erasure_requests(site.ws, pending_only=False)) == before
