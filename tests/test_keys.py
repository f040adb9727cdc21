"""Keys: files are private, rotation adds a version, old releases still trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from leaktrace.errors import KeyFileError
from leaktrace.keys import KeyRing
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, open_workspace

COLS = ["name", "phone", "address", "order_time", "product"]


def test_rotation_keeps_old_releases_traceable(workspace: Workspace, shop: pl.DataFrame) -> None:
    old = release(shop, recipient="cs-firm", workspace=workspace).frame
    assert workspace.keys.rotate() == 2
    ws = open_workspace(workspace.home)
    new = release(shop, recipient="cs-firm", workspace=ws).frame
    assert old is not None and new is not None
    assert (ws.home / "keys" / "master.v1.key").exists()
    r_old = trace(old.sample(8, seed=1).select(COLS), workspace=ws)
    r_new = trace(new.sample(8, seed=2).select(COLS), workspace=ws)
    assert [(c.recipient, c.key_version) for c in r_old.accused] == [("cs-firm", 1)]
    assert [(c.recipient, c.key_version) for c in r_new.accused] == [("cs-firm", 2)]


def test_derived_keys_differ_by_purpose_and_version(workspace: Workspace) -> None:
    k = workspace.keys
    assert k.derive("mark/a") != k.derive("mark/b")
    k.rotate()
    assert k.derive("mark/a", 1) != k.derive("mark/a", 2)
    assert "hidden" in repr(k.master(1)) and k.master(1)._secret.hex() not in repr(k)


def test_world_readable_key_is_refused(workspace: Workspace) -> None:
    os.chmod(workspace.home / "keys" / "master.v1.key", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyRing(workspace.home / "keys")


def test_cli_verify_names_the_first_bad_record(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    import sqlite3

    release(shop, recipient="zto", workspace=workspace)
    release(shop, recipient="yto", workspace=workspace)
    with sqlite3.connect(workspace.home / "ledger.db") as con:
        con.execute("update releases set canaries = canaries + 1 where seq = 2")
    r = subprocess.run(
        [sys.executable, "-m", "leaktrace", "verify", "--home", str(workspace.home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "record 2" in r.stderr and "Traceback" not in r.stderr
    t = subprocess.run(
        [
            sys.executable,
            "-m",
            "leaktrace",
            "trace",
            str(tmp_path / "x.csv"),
            "--home",
            str(workspace.home),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert t.returncode == 2


def test_master_keys_refuse_to_be_pickled(workspace: Workspace) -> None:
    import pickle

    with pytest.raises(TypeError, match="must not be pickled"):
        pickle.dumps(workspace.keys)
    with pytest.raises(TypeError):
        pickle.dumps(workspace)


def test_workspace_files_are_owner_only(workspace: Workspace) -> None:
    """The config names the canary pool and the ledger holds canary tokens and victim
    reports: anyone who reads them can strip canaries from a copy."""
    assert workspace.home.stat().st_mode & 0o077 == 0
    for name in ("leaktrace.toml", "ledger.db"):
        assert (workspace.home / name).stat().st_mode & 0o077 == 0, name
