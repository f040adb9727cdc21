"""What the checkpoint tests share: edits made straight in a workspace's SQLite database
(as its administrator could), and sealed rows for the three logs a checkpoint covers."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from leaktrace.attribution.hits import record_hit
from leaktrace.attribution.reports import VictimReport, add_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.ledger import Ledger
from leaktrace.respond.incident import add_event, open_incident
from leaktrace.workspace import Workspace, open_workspace


def sql(ws: Workspace, script: str, params: tuple[object, ...] = ()) -> None:
    """An edit made straight in the database: one statement with ``params``, or a script."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        if params:
            con.execute(script, params)
        else:
            con.executescript(script)
        con.commit()


def rows(ws: Workspace, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        return con.execute(query).fetchall()


def one(ws: Workspace, query: str) -> Any:
    return rows(ws, query)[0][0]


def report_objs(ws: Workspace, shop: pl.DataFrame, n: int, seed: int) -> list[VictimReport]:
    """``n`` reports of zto's audience, one per victim."""
    wave = simulate_wave(ws, shop, source="zto", victims=3 * n, seed=seed, unrelated=0.0)
    objs = list({str(w["victim_phone"]): w for w in wave}.values())[:n]
    return [parse_report_obj(o, f"w{seed}:{i + 1}") for i, o in enumerate(objs)]


def add_wave(ws: Workspace, shop: pl.DataFrame, n: int, seed: int) -> list[int]:
    """Store ``n`` reports; their row ids."""
    return add_reports(ws, report_objs(ws, shop, n, seed)).ids


def canary_contact(ws: Workspace, offset: int = 0) -> str:
    return str(
        one(ws, f"select contact from canary_tokens where contact <> '' limit 1 offset {offset}")
    )


def hit(ws: Workspace, contact: str, hours: int = 1) -> None:
    record_hit(ws, contact=contact, channel="call", at=datetime.now(UTC) - timedelta(hours=hours))


def incident(ws: Workspace, title: str) -> str:
    """An incident of two events."""
    inc = open_incident(ws, title, datetime.now(UTC) - timedelta(days=1))
    add_event(ws, inc.id, "measure", {"text": "通知快递公司停用该账号"})
    return inc.id


def verify(ws: Workspace) -> tuple[bool, str | None]:
    res = Ledger(ws).verify()
    return res.ok, res.problem


def copied(base: Path, tmp_path: Path) -> Workspace:
    """A copy of the workspace at ``base`` for one test."""
    home = tmp_path / "ws"
    shutil.copytree(base, home)
    return open_workspace(home)


def copy_report_whole(ws: Workspace, report_id: int) -> int:
    """Copy a report row whole in the database (every column but ``id``, the seal too),
    as its administrator could; the copy's id."""
    columns = [str(r[1]) for r in rows(ws, "pragma table_info(victim_reports)") if r[1] != "id"]
    listed = ", ".join(columns)
    sql(
        ws,
        f"insert into victim_reports ({listed}) select {listed} from victim_reports where id = ?",
        (report_id,),
    )
    return int(one(ws, "select max(id) from victim_reports"))
