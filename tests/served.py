"""The review tests' shared steps: a workspace with reports and tokens, its service in this process, signed in or
called with a bearer token, and the victim whose reports an erasure would remove."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import polars as pl

from conftest import make_workspace
from leaktrace.attribution.reports import add_reports, load_stored_reports
from leaktrace.release import release
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace
from ledger.logs import report_objs

NEVER_REPORTED = "13700000001"


def victim(ws: Workspace) -> tuple[str, set[int]]:
    """The phone of the first stored report, and the ids of all its reports."""
    by_id = {r.id: r.phone for r in load_stored_reports(ws)}
    phone = by_id[min(by_id)]
    assert phone is not None and phone != NEVER_REPORTED
    return phone, {i for i, p in by_id.items() if p == phone}


@contextmanager
def served(home: Path, token: str | None = None) -> Iterator[httpx.Client]:
    """The service for ``home`` in this process; signed in with ``token`` (a cookie)."""
    with serving(create_app(home)) as url, httpx.Client(base_url=url, timeout=60) as c:
        if token is not None:
            r = c.post("/login", data={"token": token}, follow_redirects=False)
            assert r.status_code == 303, r.text
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def reported_workspace(
    home: Path, shop: pl.DataFrame, agent: str, firm: str | None
) -> tuple[str, str]:
    """A workspace at ``home`` with one release to zto and six sealed reports; returns an
    analyst token and an agent token named ``agent`` (bound to ``firm`` when given)."""
    ws = make_workspace(home)
    release(shop, recipient="zto", workspace=ws)
    add_reports(ws, report_objs(ws, shop, 6, seed=3))
    known = set(ws.config.recipients)
    analyst = add_token(home, "ana", "analyst", known=known)
    return analyst, add_token(home, agent, "agent", recipient=firm, known=known)
