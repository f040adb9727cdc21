"""Review of session 19: the case step routes must not echo a phone given in the place
of an id (the rule ff75e2f set for erasure request ids)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from leaktrace.respond.incident import PLATFORM_TZ, open_incident

from .conftest import Site, bearer

PHONE = "13912345678"


@pytest.mark.parametrize("step", ["approve", "reject", "withdraw"])
def test_a_phone_pasted_as_the_case_id_is_not_echoed(
    site: Site, client: httpx.Client, step: str
) -> None:
    iid = open_incident(site.ws, "复核回显", datetime.now(PLATFORM_TZ) - timedelta(hours=1)).id
    r = client.post(
        f"/api/v1/incidents/{iid}/cases/{PHONE}/{step}",
        headers=bearer(site.analyst),
        json={"reason": "坐席录入有误"},
    )
    assert r.status_code == 404, r.text
    assert PHONE not in r.text
