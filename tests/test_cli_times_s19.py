"""Session 19: one clock in every listing a person reads, and verify before any checkpoint.

A fresh user's walk found mixed clocks: the respond commands (``incident show``, ``case
show``, ``report requests``) print platform time with its offset (``2024-06-02
01:30:00+08:00``), while ``report list``, ``releases``, ``token list``, ``checkpoints``
and ``canary reservations`` printed the stored UTC text (``2024-06-01T17:30:00+00:00``).
Analysts copy times between these outputs, so one of them was 8 hours off. Every
instant here is fixed so that its platform date is the day after its UTC date: a display
left in UTC cannot pass. ``--json`` keeps the stored UTC text (it is for programs).

And ``leaktrace verify`` said nothing about rows no checkpoint protects until the first
checkpoint existed ("unpinned": null), when every sealed row is unprotected.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import polars as pl
import pytest

import leaktrace.attribution.erasure as erasure_module
import leaktrace.ledger.checkpoint as checkpoint_module
import leaktrace.ledger.ledger as ledger_module
import leaktrace.server.tokens as tokens_module
from conftest import make_workspace
from leaktrace.attribution.erasure import erase_reports
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace

RELEASED = "2024-06-01T17:30:00+00:00"
RELEASED_SHOWN = "2024-06-02 01:30:00+08:00"
TOKEN_MADE = "2024-06-01T16:20:00+00:00"
TOKEN_MADE_SHOWN = "2024-06-02 00:20:00+08:00"
REPORTED = ("2024-06-02T03:10:00+08:00", "2024-06-02T03:40:00+08:00", "2024-06-02 04:05:00")
"""As the report file gives them: with the offset, and naive (platform time)."""
REPORTED_STORED = (
    "2024-06-01T19:10:00+00:00",
    "2024-06-01T19:40:00+00:00",
    "2024-06-01T20:05:00+00:00",
)
REPORTED_SHOWN = ("2024-06-02 03:10:00+08:00", "2024-06-02 03:40:00+08:00")
ERASED = "2024-06-01T20:30:00+00:00"
ERASED_SHOWN = "2024-06-02 04:30:00+08:00"
CHECKPOINTED = "2024-06-01T21:00:00+00:00"
CHECKPOINTED_SHOWN = "2024-06-02 05:00:00+08:00"
STORED_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
"""A stored instant as leaktrace writes it: shown to a person, it is 8 hours off."""
CALLER = "+86 171 0000 1234"


def _clock(at: str) -> type[datetime]:
    """``datetime`` whose ``now`` is ``at`` (for a module that stamps what it stores)."""
    fixed = datetime.fromisoformat(at)

    class _Fixed(datetime):
        @classmethod
        def now(cls, tz: object = None) -> _Fixed:  # type: ignore[override]
            return cls.fromtimestamp(fixed.timestamp(), tz)  # type: ignore[arg-type]

    return _Fixed


@dataclass
class Env:
    ws: Workspace
    release_id: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("times-s19")
    ws = make_workspace(root / "ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger_module, "datetime", _clock(RELEASED))
        res = release(shop, recipient="zto", workspace=ws, out=root / "zto.parquet")
        pool = [str(17090000000 + i) for i in range(50)]
        Ledger(ws).reserve_canary_contacts("rel-still-running", pool, 5, np.random.default_rng(1))
        mp.setattr(tokens_module, "datetime", _clock(TOKEN_MADE))
        add_token(ws.home, "alice", "analyst", known=set())
        reports = [
            {
                "victim_phone": f"1380013800{i}",
                "reported_at": at,
                "channel": "call",
                "caller": CALLER,
            }
            for i, at in enumerate(REPORTED)
        ]
        added = add_reports(ws, [parse_report_obj(r, f"t:{i}") for i, r in enumerate(reports)])
        assert added.added == 3, added.problems
        mp.setattr(erasure_module, "datetime", _clock(ERASED))
        erased = erase_reports(
            ws, ids=[added.ids[2]], reason="工单 7", actor="cli:tester", apply=True
        )
        assert erased.erased == [added.ids[2]]
        mp.setattr(checkpoint_module, "datetime", _clock(CHECKPOINTED))
        Ledger(ws).checkpoint()
    yield Env(ws, res.release_id)


def _ok(r: CompletedProcess[str]) -> CompletedProcess[str]:
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _cli(*args: str, home: Path, columns: int | None = None) -> CompletedProcess[str]:
    """``python -m leaktrace ARGS --home HOME`` into a pipe, as an analyst logs it (the
    tables are then as wide as they need: cli/common.py), or as a terminal of
    ``columns`` columns."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def _row(text: str, needle: str) -> str:
    """The one table line that holds ``needle``."""
    [line] = [line for line in text.splitlines() if needle in line]
    return line


# ----------------------------------------------------------------- the listings


def test_releases_show_created_in_platform_time(env: Env) -> None:
    human = _ok(_cli("releases", home=env.ws.home)).stdout
    assert RELEASED_SHOWN in human, human  # whole: a time cell is never broken in two
    assert not STORED_UTC.search(human), human
    [entry] = json.loads(_ok(_cli("releases", "--json", home=env.ws.home)).stdout)
    assert entry["created"] == RELEASED  # for programs: as stored, signed


def test_report_list_shows_reported_and_erased_times_in_platform_time(env: Env) -> None:
    human = _ok(_cli("report", "list", home=env.ws.home)).stdout
    for shown in REPORTED_SHOWN:
        assert shown in human, human
    # an erased report's status names when it was erased: the same clock
    assert f"erased ({ERASED_SHOWN} by cli:tester: 工单 7)" in " ".join(human.split()), human
    assert not STORED_UTC.search(human), human
    rows = json.loads(_ok(_cli("report", "list", "--json", home=env.ws.home)).stdout)
    assert [r["reported_at"] for r in rows] == [*REPORTED_STORED[:2], None]
    assert rows[2]["reason"] == f"{ERASED} by cli:tester: 工单 7"


def test_token_list_shows_created_in_platform_time(env: Env) -> None:
    human = _ok(_cli("token", "list", home=env.ws.home)).stdout
    assert TOKEN_MADE_SHOWN in human, human
    assert not STORED_UTC.search(human), human
    listed = json.loads(_ok(_cli("token", "list", "--json", home=env.ws.home)).stdout)
    assert [t["created"] for t in listed] == [TOKEN_MADE]


def test_checkpoints_show_created_in_platform_time(env: Env) -> None:
    human = _ok(_cli("checkpoints", home=env.ws.home)).stdout
    assert CHECKPOINTED_SHOWN in human, human
    assert not STORED_UTC.search(human), human
    [cp] = json.loads(_ok(_cli("checkpoints", "--json", home=env.ws.home)).stdout)
    assert cp["created"] == CHECKPOINTED  # signed: the hash covers this text


def test_canary_reservations_show_since_in_platform_time(env: Env) -> None:
    human = _ok(_cli("canary", "reservations", home=env.ws.home)).stdout
    assert RELEASED_SHOWN in human, human
    assert not STORED_UTC.search(human), human
    out = json.loads(_ok(_cli("canary", "reservations", "--json", home=env.ws.home)).stdout)
    assert [r["since"] for r in out["reservations"]] == [RELEASED]


def test_attribute_dates_its_campaigns_in_platform_time(env: Env) -> None:
    """The two reports from one caller are a campaign of 2024-06-02 in platform time
    (2024-06-01 in UTC, the date the line gave before)."""
    human = _ok(_cli("attribute", home=env.ws.home)).stdout
    line = _row(human, "campaign ")
    assert "2 reports 2024-06-02…2024-06-02" in line, line
    d = json.loads(_ok(_cli("attribute", "--json", home=env.ws.home)).stdout)
    [camp] = [c for c in d["campaigns"] if len(c["reports"]) == 2]
    assert (camp["start"], camp["end"]) == REPORTED_STORED[:2]


def test_a_time_in_a_narrower_terminal_wraps_at_its_space_instead_of_being_cut(
    env: Env,
) -> None:
    """Platform time has a space (RFC 3339's allowed form): a table squeezed by the
    terminal's width puts its time of day under its date, both whole, where the stored
    form (one word) was cut (``2024-06-01T17:3…`` at 100 columns). Into a pipe (the
    other tests) the table is as wide as it needs and the time is on one line."""
    r = _ok(_cli("releases", home=env.ws.home, columns=100))
    date, time_of_day = RELEASED_SHOWN.split(" ")
    assert date in r.stdout and time_of_day in r.stdout, r.stdout


# ------------------------------------------------------- verify before any checkpoint


NO_CHECKPOINT = "note: no checkpoint yet"


def test_verify_notes_rows_no_checkpoint_protects_before_the_first(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    r = _ok(_cli("verify", home=ws.home))
    assert "note:" not in r.stderr, r.stderr  # nothing recorded: nothing to protect
    assert (
        json.loads(_cli("verify", "--json", home=ws.home).stdout)["awaiting_first_checkpoint"] == 0
    )
    report = {"victim_phone": "13800138000", "reported_at": "2024-06-02T03:10:00+08:00"}
    add_reports(ws, [parse_report_obj({**report, "channel": "call"}, "t:1")])
    r = _ok(_cli("verify", home=ws.home))
    [line] = [line for line in r.stderr.splitlines() if line.startswith(NO_CHECKPOINT)]
    assert "1 sealed row" in line and "leaktrace checkpoint" in line, line
    assert "outside the workspace" in line and "--expect-head" in line, line
    d = json.loads(_ok(_cli("verify", "--json", home=ws.home)).stdout)
    assert d["awaiting_first_checkpoint"] == 1
    assert d["checkpoints"] == 0 and d["unpinned"] is None  # their meaning unchanged
    _ok(_cli("checkpoint", home=ws.home))
    r = _ok(_cli("verify", home=ws.home))
    assert NO_CHECKPOINT not in r.stderr, r.stderr
    d = json.loads(_ok(_cli("verify", "--json", home=ws.home)).stdout)
    assert d["awaiting_first_checkpoint"] is None and d["unpinned"] == 0
