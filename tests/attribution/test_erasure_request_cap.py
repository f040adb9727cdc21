"""The cap on one taker's pending erasure requests holds when requests arrive at once.

Counting a taker's pending requests and recording the new one were two statements with
nothing between two takers: two requests arriving together (two API workers, two servers
on one PostgreSQL ledger) both counted one short of the cap and both were recorded, so an
agent token flooding the queue could pass ``MAX_PENDING_PER_TAKER`` by as many requests as
it sent at once. Each test holds both takers between their count and their insert (a
barrier in the seal, which runs after the count, in the same transaction), and failed
before the fix with two pending requests where the cap allows one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import make_workspace
from leaktrace.attribution import erasure_requests as requests_module
from leaktrace.attribution.erasure_requests import erasure_requests, request_erasure
from leaktrace.errors import InputError
from leaktrace.workspace import Workspace
from ledger.conftest import postgres_url, postgres_workspace  # noqa: F401  (the server fixture)

PHONES = ("13800138001", "13900139002")


def _race(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[str]]:
    """Two requests by one taker at once, with a cap of one: (ids recorded, refusals)."""
    monkeypatch.setattr(requests_module, "MAX_PENDING_PER_TAKER", 1)
    both_counted = threading.Barrier(2, timeout=3)
    original = requests_module._seal

    def seal_after_both(*args: Any, **kwargs: Any) -> str:
        with contextlib.suppress(threading.BrokenBarrierError):
            both_counted.wait()  # each has counted (or the other is held before its count)
        return original(*args, **kwargs)

    monkeypatch.setattr(requests_module, "_seal", seal_after_both)
    ids: list[int] = []
    refused: list[str] = []

    def take(phone: str) -> None:
        try:
            ids.append(request_erasure(ws, phone=phone, reason="工单 1", actor="token:flood"))
        except InputError as exc:
            refused.append(exc.message)

    threads = [threading.Thread(target=take, args=(p,)) for p in PHONES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids, refused


def test_two_requests_at_once_do_not_pass_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws")
    ids, refused = _race(ws, monkeypatch)
    assert len(ids) == 1 and len(refused) == 1, (ids, refused)
    assert "still pending" in refused[0]
    assert [r.id for r in erasure_requests(ws)] == ids


@pytest.fixture
def pg_ws(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:  # noqa: F811
    with postgres_workspace(postgres_url, tmp_path / "ws") as ws:
        yield ws


@pytest.mark.postgres
def test_two_servers_on_one_postgres_ledger_do_not_pass_the_cap(
    pg_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two machines: the workspace's file lock does not reach the other one."""
    monkeypatch.setattr(requests_module, "workspace_lock", lambda _home: contextlib.nullcontext())
    ids, refused = _race(pg_ws, monkeypatch)
    assert len(ids) == 1 and len(refused) == 1, (ids, refused)
    assert [r.id for r in erasure_requests(pg_ws)] == ids
