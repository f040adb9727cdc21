"""Review of session 20 (a new user's walk through the CLI), M4: a release whose canaries
all fail its recipient's ``where`` filter recorded 0 canaries and kept the pool numbers
reserved for them for good (``canary reservations`` listed the finished release as still
running, and ``--free-older-than`` could not free them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from conftest import run_cli
from leaktrace.ledger import Ledger
from leaktrace.ledger.models import CanaryReservation
from leaktrace.release import release
from leaktrace.workspace import Workspace, add_recipient


def _phone_filtered(workspace: Workspace) -> None:
    # canary rows carry pool numbers (170…), never a 138 number: none passes the filter
    add_recipient(workspace, "yd", template="courier", where="phone like '138%'")


def test_a_release_with_no_canary_left_frees_its_reservations(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    _phone_filtered(workspace)
    res = release(shop, recipient="yd", workspace=workspace, out=tmp_path / "yd.csv")
    assert res.rows > 0 and res.canaries == 0
    ledger = Ledger(workspace)
    assert ledger.entry(res.release_id) is not None
    assert ledger.canary_reservations() == []
    assert ledger.verify().ok


def test_free_older_than_frees_what_a_recorded_release_kept(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A workspace where an earlier version left a recorded release's numbers reserved:
    ``--free-older-than`` frees them whatever their age (they were never sent), and still
    leaves a release that is running alone."""
    import numpy as np
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    _phone_filtered(workspace)
    res = release(shop, recipient="yd", workspace=workspace, out=tmp_path / "yd.csv")
    ledger = Ledger(workspace)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with Session(ledger.engine) as s, s.begin():  # what the earlier version left behind
        s.execute(
            insert(CanaryReservation),
            [
                {"contact": f"1709999000{i}", "release_id": res.release_id, "created": now}
                for i in range(5)
            ],
        )
    pool = [str(17080000000 + i) for i in range(50)]
    ledger.reserve_canary_contacts("rel-still-running", pool, 3, np.random.default_rng(1))
    cli = run_cli(
        "canary", "reservations", "--free-older-than", "24", "--json", home=workspace.home
    )
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    assert out["freed"] == 5
    assert [r["release_id"] for r in out["reservations"]] == ["rel-still-running"]
    assert ledger.free_stale_canary_reservations(timedelta(hours=24)) == 0


def test_free_older_than_zero_is_refused_without_contradiction(workspace: Workspace) -> None:
    """L2: 0 is refused by design (it would free a running release's numbers); the
    message said "from 0 to 876,000", which reads as if 0 were allowed."""
    cli = run_cli("canary", "reservations", "--free-older-than", "0", home=workspace.home)
    assert cli.returncode == 2
    assert "from 0" not in cli.stderr
    assert "more than 0" in cli.stderr
