"""The review tests' shared steps: a workspace with reports and tokens, its service in this process, signed in or
called with a bearer token, and the victim whose reports an erasure would remove."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from conftest import make_workspace
from leaktrace.attribution import erasure_requests as requests_module
from leaktrace.attribution.erasure_requests import request_erasure
from leaktrace.attribution.reports import add_reports, load_stored_reports
from leaktrace.errors import InputError
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


def race_two_takers(ws: Workspace, monkeypatch: Any) -> tuple[list[int], list[str]]:
    """Two erasure requests by one taker at once, with a cap of one pending request, each
    held after its count (a barrier in the seal, which runs after the count, in the same
    transaction) until the other has counted or waits for the lock: (ids recorded,
    refusals)."""
    monkeypatch.setattr(requests_module, "MAX_PENDING_PER_TAKER", 1)
    both_counted = threading.Barrier(2, timeout=3)
    original = requests_module._seal

    def seal_after_both(*args: Any, **kwargs: Any) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_counted.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(requests_module, "_seal", seal_after_both)
    ids: list[int] = []
    refused: list[str] = []

    def take(phone: str) -> None:
        try:
            ids.append(request_erasure(ws, phone=phone, reason="工单 1", actor="token:flood"))
        except InputError as exc:
            refused.append(exc.message)

    threads = [threading.Thread(target=take, args=(p,)) for p in ("13800138001", "13900139002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids, refused
