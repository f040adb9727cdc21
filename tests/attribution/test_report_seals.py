"""Victim-report rows are sealed: a row changed, inserted or copied by someone who can
write the database but holds no workspace key is flagged and never counted."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from leaktrace.attribution.attribute import AttributionResult, attribute
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.attribution.store import (
    REPORT_SEALED_COLUMNS,
    ReportRecord,
    load_reports,
    report_is_sealed,
)
from leaktrace.workspace import Workspace

from .conftest import clear

_LEFT_OUT = "unsealed"


def _wave(
    ws: Workspace, shop: pl.DataFrame, n: int, seed: int, *, vague: bool = True
) -> list[dict[str, Any]]:
    """``n`` reports of zto's audience, one per victim (distinct phones)."""
    wave = simulate_wave(ws, shop, source="zto", victims=3 * n, seed=seed, unrelated=0.0)
    by_phone = {str(w["victim_phone"]): w for w in wave}
    out = list(by_phone.values())[:n]
    assert len(out) == n
    if vague:
        for w in out:
            w["quoted"] = {"name": True}
    return out


def _ingest(ws: Workspace, objs: list[dict[str, Any]], tag: str = "t") -> list[int]:
    return add_reports(ws, [parse_report_obj(o, f"{tag}:{i + 1}") for i, o in enumerate(objs)]).ids


def _sql(ws: Workspace, statement: str, params: tuple[object, ...] = ()) -> None:
    """An edit made straight in the database, as its administrator could."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        con.execute(statement, params)
        con.commit()


def _row(ws: Workspace, report_id: int) -> dict[str, Any]:
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        con.row_factory = sqlite3.Row
        row = con.execute("select * from victim_reports where id = ?", (report_id,)).fetchone()
    return dict(row)


def _insert(ws: Workspace, values: dict[str, Any]) -> int:
    cols = [c for c in values if c != "id"]
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        cur = con.execute(
            f"insert into victim_reports ({', '.join(cols)}) "
            f"values ({', '.join('?' for _ in cols)})",
            [values[c] for c in cols],
        )
        con.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid


def _status(res: AttributionResult) -> dict[int, str]:
    return {f["report"]: f["status"] for f in res.flagged if isinstance(f["report"], int)}


def _zto(res: AttributionResult) -> tuple[int, int]:
    c = next(c for c in res.candidates if c.recipient == "zto")
    return c.consistent, c.victims


def _campaign_reports(res: AttributionResult) -> set[int]:
    return {i for camp in res.campaigns for i in camp["reports"]}


def test_the_sealed_columns_are_every_column_but_id_and_the_seal() -> None:
    """A column added to the table must be added to the seal on purpose (or left out on
    purpose): otherwise it would be a clear field nobody authenticates."""
    columns = {c.name for c in ReportRecord.__table__.columns}
    assert set(REPORT_SEALED_COLUMNS) == columns - {"id", "seal"}
    assert len(REPORT_SEALED_COLUMNS) == len(set(REPORT_SEALED_COLUMNS))


def test_a_freshly_added_report_is_sealed_and_counted(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ids = _ingest(ws, _wave(ws, attr_shop, 4, seed=31))
    recs = load_reports(ws)
    assert [r.id for r in recs] == ids
    v = ws.keys.current_version
    for r in recs:
        assert r.seal is not None and r.seal.startswith(f"v{v}:") and len(r.seal) == 67
        assert report_is_sealed(ws, r)
    res = attribute(ws, families=("exposure",))
    assert res.reports["ok"] == 4 and _LEFT_OUT not in res.reports
    assert res.unsealed == {"reports": 0, "canary_hits": 0}
    assert _zto(res) == (4, 4)
    assert _status(res) == {}
    assert "seal" not in res.explanation["en"]


_EDITS: dict[str, object] = {
    "reported_at": "2025-06-01T00:00:00+00:00",
    "dedupe": "0" * 64,
    "customer": "{}",
    "quoted_roles": '["card_last4", "name"]',
    "caller": "95013-9999",
    "loss": 50000.0,
}


@pytest.mark.parametrize("column", list(_EDITS))
def test_an_edited_clear_column_leaves_the_report_out(
    ws: Workspace, attr_shop: pl.DataFrame, column: str
) -> None:
    ids = _ingest(ws, _wave(ws, attr_shop, 4, seed=32))
    assert attribute(ws, families=("exposure",)).reports["ok"] == 4
    _sql(ws, f"update victim_reports set {column} = ? where id = ?", (_EDITS[column], ids[0]))
    res = attribute(ws, families=("exposure",))
    assert _status(res) == {ids[0]: _LEFT_OUT}
    assert "does not match" in next(f["reason"] for f in res.flagged)
    assert res.reports["ok"] == 3 and res.reports[_LEFT_OUT] == 1
    assert res.unsealed["reports"] == 1
    assert _zto(res) == (3, 3)
    assert ids[0] not in _campaign_reports(res)
    assert "1 victim report(s) without a valid seal" in res.explanation["en"]


def test_a_malformed_report_set_to_ok_is_not_counted(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """status malformed → ok is the dangerous direction: the row's phone and time are
    usable, so without the seal it would count as one more victim."""
    wave = _wave(ws, attr_shop, 4, seed=33)
    bad = dict(wave.pop(), loss="a lot")  # usable phone and time, flagged malformed
    ids = _ingest(ws, [*wave, bad])
    res = attribute(ws, families=("exposure",))
    assert res.reports["ok"] == 3 and _status(res) == {ids[-1]: "malformed"}
    _sql(ws, "update victim_reports set status = 'ok', reason = '' where id = ?", (ids[-1],))
    res = attribute(ws, families=("exposure",))
    assert _status(res) == {ids[-1]: _LEFT_OUT}
    assert res.reports["ok"] == 3 and _zto(res) == (3, 3)


def test_blobs_swapped_between_rows_leave_both_out(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """The blob is sealed with its row: one victim's encrypted part beside another
    report's clear fields (call time, quoted roles) is not that report."""
    ids = _ingest(ws, _wave(ws, attr_shop, 4, seed=34))
    a, b = _row(ws, ids[0])["blob"], _row(ws, ids[1])["blob"]
    _sql(ws, "update victim_reports set blob = ? where id = ?", (b, ids[0]))
    _sql(ws, "update victim_reports set blob = ? where id = ?", (a, ids[1]))
    res = attribute(ws, families=("exposure",))
    assert _status(res) == {ids[0]: _LEFT_OUT, ids[1]: _LEFT_OUT}
    assert res.reports["ok"] == 2 and _zto(res) == (2, 2)


def test_moving_call_times_cannot_accuse(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """Calls made before zto had any data accuse nobody. Rewriting their times to after
    its release would (the sealed twin below shows it does); with seals the rewritten
    rows are left out and flagged, and nobody is accused."""
    last_order = attr_shop.get_column("order_time").max()
    assert isinstance(last_order, datetime) and last_order < datetime(2025, 7, 1)
    wave = _wave(ws, attr_shop, 15, seed=35, vague=False)
    later = [dict(w) for w in wave]
    for w in wave:
        w["reported_at"] = "2025-07-01T10:00:00+08:00"  # after every order, before releases
    ids = _ingest(ws, wave)
    assert attribute(ws).accused == []
    moved = "2025-01-01T10:00:00+00:00"
    _sql(ws, "update victim_reports set reported_at = ?", (moved,))
    res = attribute(ws)
    assert res.accused == []
    assert res.unsealed["reports"] == 15 and set(_status(res)) == set(ids)
    clear(ws)  # what the rewrite would have done: the same reports, honestly after release
    _ingest(ws, later)
    assert [c.recipient for c in attribute(ws).accused] == ["zto"]


def test_rows_inserted_by_hand_are_not_counted(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """Someone with the database but no key copies a genuine row's blob into new rows:
    without a seal, with a made-up seal, with another row's seal, with a seal of a key
    version the workspace lacks — none counts. A row copied whole (seal included: the seal
    does not cover ``id``) is the same report stored twice and counts once."""
    ids = _ingest(ws, _wave(ws, attr_shop, 4, seed=36))
    base = attribute(ws, families=("exposure",))
    a, b = _row(ws, ids[0]), _row(ws, ids[1])
    early = {"reported_at": "2025-07-01T02:00:00+00:00", "dedupe": "1" * 64}
    forged = [
        _insert(ws, {**a, **early, "seal": None}),
        _insert(ws, {**a, **early, "seal": "v1:" + "0" * 64}),
        _insert(ws, {**b, "blob": a["blob"], "seal": b["seal"]}),
        _insert(ws, {**a, **early, "seal": "v9:" + a["seal"].partition(":")[2]}),
        _insert(ws, {**a, "seal": "not a seal"}),
    ]
    whole = _insert(ws, a)
    res = attribute(ws, families=("exposure",))
    assert _status(res) == {**dict.fromkeys(forged, _LEFT_OUT), whole: "duplicate_row"}
    assert res.reports["ok"] == base.reports["ok"] == 4
    assert res.unsealed["reports"] == 5 and res.reports["duplicate_row"] == 1
    assert _zto(res) == _zto(base)
    reasons = {f["report"]: f["reason"] for f in res.flagged}
    assert "has no seal" in reasons[forged[0]]
    assert "key version 9" in reasons[forged[3]]
    assert f"a copy of report {ids[0]}" in reasons[whole]
    assert not (set(forged) | {whole}) & _campaign_reports(res)


def test_an_unsealed_row_is_flagged_whatever_since_says(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """Its call time is exactly what cannot be trusted to leave it out of the window."""
    ids = _ingest(ws, _wave(ws, attr_shop, 3, seed=37))
    _sql(ws, "update victim_reports set reported_at = '2020-01-01T00:00:00+00:00' where id = ?", (ids[0],))  # fmt: skip
    res = attribute(ws, since=datetime(2099, 1, 1, tzinfo=UTC), families=("exposure",))
    assert _status(res) == {ids[0]: _LEFT_OUT} and res.reports["total"] == 1


def test_a_sealed_row_that_does_not_open_is_left_out_not_fatal(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """A row whose seal holds but whose blob cannot be decrypted (a bug, a restored
    backup of another workspace's keys) is one flagged row, not an error for the run."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from leaktrace.attribution.store import engine_for, seal_report

    ids = _ingest(ws, _wave(ws, attr_shop, 3, seed=38))
    rec = next(r for r in load_reports(ws) if r.id == ids[0])
    for blob in ("00" * 40, "zz"):
        rec.blob = blob
        rec.seal = seal_report(ws, rec)  # sealed with the workspace's own key
        with Session(engine_for(ws)) as s, s.begin():
            s.execute(
                update(ReportRecord)
                .where(ReportRecord.id == rec.id)
                .values(blob=rec.blob, seal=rec.seal)
            )
        res = attribute(ws, families=("exposure",))
        assert _status(res) == {ids[0]: "unreadable"}
        assert res.reports["ok"] == 2


def test_a_database_from_before_sealed_reports_gets_the_column(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    from leaktrace.attribution import store

    wave = _wave(ws, attr_shop, 3, seed=39)
    ids = _ingest(ws, wave)
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        con.execute("ALTER TABLE victim_reports DROP COLUMN seal")
        con.commit()
    store._ENGINES.clear()
    res = attribute(ws, families=("exposure",))
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        columns = {r[1] for r in con.execute("PRAGMA table_info(victim_reports)")}
    assert "seal" in columns
    assert _status(res) == dict.fromkeys(ids, _LEFT_OUT)
    assert all("stored before reports were sealed" in f["reason"] for f in res.flagged)
    assert res.reports.get("ok", 0) == 0 and res.unsealed["reports"] == 3
    # adding the same reports again stores them sealed (an unsealed row is no duplicate)
    again = add_reports(ws, [parse_report_obj(o, f"t:{i + 1}") for i, o in enumerate(wave)])
    assert (again.added, again.duplicates) == (3, 0)
    res = attribute(ws, families=("exposure",))
    assert res.reports["ok"] == 3 and res.unsealed["reports"] == 3 and _zto(res) == (3, 3)
    assert add_reports(ws, [parse_report_obj(o, "t") for o in wave]).duplicates == 3


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_shows_what_was_left_out(
    ws: Workspace, attr_shop: pl.DataFrame, tmp_path: Path
) -> None:
    h = ["--home", str(ws.home)]
    f = tmp_path / "wave.jsonl"
    wave = _wave(ws, attr_shop, 5, seed=40)
    f.write_text("".join(json.dumps(w, ensure_ascii=False) + "\n" for w in wave))
    r = _cli("report", "add", str(f), *h, "--json")
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout)["ids"]
    _sql(ws, "update victim_reports set status = 'ok', reported_at = ? where id = ?", ("2025-01-01T00:00:00+00:00", ids[0]))  # fmt: skip
    _sql(ws, "update victim_reports set blob = 'zz' where id = ?", (ids[1],))  # not even hex
    _sql(ws, "update victim_reports set quoted_roles = '[not json', loss = 'x' where id = ?", (ids[2],))  # fmt: skip
    r = _cli("attribute", *h)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "left out: 3 report(s), 0 canary hit(s) without a valid seal" in r.stdout
    for i in ids[:3]:
        assert f"report {i} (wave.jsonl:" in r.stderr
    assert r.stderr.count(": unsealed — ") == 3
    r = _cli("attribute", *h, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["unsealed"] == {"reports": 3, "canary_hits": 0}
    assert d["reports"]["unsealed"] == 3 and d["reports"]["ok"] == 2
    assert sorted(x["report"] for x in d["flagged"] if x["status"] == "unsealed") == ids[:3]
    r = _cli("report", "list", *h, "--json")
    assert r.returncode == 0, r.stderr
    assert [row["sealed"] for row in json.loads(r.stdout)] == [False] * 3 + [True] * 2
    r = _cli("report", "list", *h)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stdout.count("UNSEALED") == 3
