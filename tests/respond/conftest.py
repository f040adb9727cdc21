"""What the respond tests share: one workspace's copies, released as a partner gets them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import polars as pl

from leaktrace.release import release
from leaktrace.workspace import Workspace

RECIPIENTS = ("zto", "yto", "cs-firm")


def release_copies(
    ws: Workspace, shop: pl.DataFrame, root: Path, recipients: tuple[str, ...] = RECIPIENTS
) -> dict[str, pl.DataFrame]:
    """Release ``shop`` to each recipient (Parquet under ``root``) and read the copies back.
    cs-firm receives every order: only the marks tell its copy from a courier's."""
    copies = {}
    for r in recipients:
        p = root / f"{r}.parquet"
        release(shop, recipient=r, workspace=ws, out=p)
        copies[r] = pl.read_parquet(p)
    return copies


def ok(r: CompletedProcess[str]) -> CompletedProcess[str]:
    """A command that succeeded, without a traceback."""
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r


def one_error(r: CompletedProcess[str]) -> str:
    """Exit 2, one ``error:`` line on stderr, no traceback; the line."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


def event_count(env: Any, iid: str) -> int:
    """How many events the incident ``iid`` has in ``env.ws``'s SQLite ledger."""
    with sqlite3.connect(env.ws.home / "ledger.db") as con:
        (n,) = con.execute(
            "select count(*) from incident_events where incident_id = ?", (iid,)
        ).fetchone()
    con.close()
    return int(n)
