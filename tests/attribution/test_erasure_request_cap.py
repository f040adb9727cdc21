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
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import make_workspace
from leaktrace.attribution import erasure_requests as requests_module
from leaktrace.attribution.erasure_requests import erasure_requests
from leaktrace.workspace import Workspace
from ledger.conftest import postgres_url, postgres_workspace  # noqa: F401  (the server fixture)
from served import race_two_takers


def test_two_requests_at_once_do_not_pass_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws")
    ids, refused = race_two_takers(ws, monkeypatch)
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
    ids, refused = race_two_takers(pg_ws, monkeypatch)
    assert len(ids) == 1 and len(refused) == 1, (ids, refused)
    assert [r.id for r in erasure_requests(pg_ws)] == ids
