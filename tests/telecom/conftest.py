"""What the telecom tests share: a workspace copied per test (each module releases its own
``base``), its canary numbers, records in each provider's shape, and the service with a
token of every role."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace, open_workspace

PHONE_NO = "17100003225"  # the A number an Aliyun record carries: never a hit

Service = tuple[str, Workspace, dict[str, str]]


@pytest.fixture
def ws(base: Path, tmp_path: Path) -> Workspace:
    """A copy of the module's ``base`` workspace, for one test."""
    shutil.copytree(base, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.fixture
def service(ws: Workspace) -> Iterator[Service]:
    """The service on loopback, with a token of every role."""
    known = set(ws.config.recipients)
    tokens = {
        role: add_token(
            ws.home,
            f"t-{role}",
            role,
            known=known,
            recipient="zto" if role == "recipient" else None,
        )
        for role in ("telecom", "analyst", "agent", "recipient")
    }
    with serving(create_app(ws.home)) as url:
        yield url, ws, tokens


def tokens_of(ws: Workspace) -> dict[str, str]:
    """recipient -> one canary contact it was issued."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        rows = con.execute(
            "select recipient, min(contact) from canary_tokens where contact <> '' "
            "group by recipient"
        ).fetchall()
    return dict(rows)


def unissued(ws: Workspace, n: int = 1) -> list[str]:
    """``n`` pool numbers no release was issued."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        taken = {r[0] for r in con.execute("select contact from canary_tokens")}
    out: list[str] = []
    for num in ws.config.canary_pool.phone_numbers():
        if num not in taken:
            out.append(num)
            if len(out) == n:
                return out
    raise AssertionError("pool exhausted")


def local_record(i: Any, to: str, **kw: Any) -> dict[str, Any]:
    """A record in leaktrace's own format (``local``)."""
    return {
        "id": i,
        "at": "2026-11-28 14:20:05",
        "channel": "call",
        "to": to,
        "from": "021-5555",
    } | kw


def pns_record(call_id: Any, secret_no: str, call_type: Any = 1, **kw: Any) -> dict[str, Any]:
    """An Alibaba Cloud ``SecretReport`` record, as its documentation's sample has it."""
    return {
        "phone_no": PHONE_NO,
        "city": "北京",
        "call_id": call_id,
        "secret_no": secret_no,
        "peer_no": "15200001504",
        "call_type": call_type,
        "call_time": "2026-11-28 20:11:29",
        "start_time": "2026-11-28 20:11:38",
        "release_time": "2026-11-28 20:11:41",
        "pool_key": "FC10000009708000",
        "sub_id": 1000043068030000,
        "release_cause": 31,
    } | kw
