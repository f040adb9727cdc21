"""Files and folders the user may not read or write, through the CLI as a user meets them.

Each case: exit code 2, one stderr line naming the path, no traceback, and nothing left
behind (no output, no temporary file, no ledger record).

Why the ``setpriv`` prefix: the suite often runs as root, and root reads a ``chmod 000``
file anyway. Without the capabilities that let it ignore file modes (``CAP_DAC_OVERRIDE``,
``CAP_DAC_READ_SEARCH``) root meets them like any owner does, so the command runs without
them; as another user it runs as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leaktrace.release import release
from leaktrace.workspace import Workspace


def _unprivileged_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]


def run_cli_unprivileged(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_unprivileged_prefix(), sys.executable, "-m", "leaktrace", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(autouse=True)
def _modes_are_enforced(tmp_path: Path) -> Iterator[None]:
    """Skip where even the prefixed command reads a mode-000 file (a container that keeps
    the capabilities); restore modes afterwards so pytest can clean up."""
    prefix = _unprivileged_prefix()
    if subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True).returncode:
        pytest.skip("cannot run a command without file-mode capabilities here")
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0)
    r = subprocess.run(
        [*prefix, sys.executable, "-c", f"open({str(probe)!r}).read()"],
        capture_output=True,
        text=True,
    )
    if "PermissionError" not in r.stderr:
        pytest.skip("file modes are not enforced for this user")
    yield
    for p in [tmp_path, *tmp_path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | stat.S_IRWXU)


def _user_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def _release_count(ws: Workspace) -> int:
    r = run_cli_unprivileged("releases", "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    return len(json.loads(r.stdout))


def _leftovers(*folders: Path) -> list[Path]:
    return [p for f in folders for p in f.iterdir() if p.name.startswith(".")]


def test_unreadable_input(workspace: Workspace, shop_parquet: Path, tmp_path: Path) -> None:
    src = tmp_path / "orders.parquet"
    shutil.copy(shop_parquet, src)
    src.chmod(0)
    out = tmp_path / "out.csv"
    before = _release_count(workspace)
    r = run_cli_unprivileged(
        "release", str(src), "--to", "zto", "--out", str(out), home=workspace.home
    )
    _user_error(r, str(src))
    assert not out.exists() and _release_count(workspace) == before
    assert _leftovers(tmp_path, workspace.home / "index") == []


def test_output_folder_not_writable(
    workspace: Workspace, shop_parquet: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    folder.chmod(0o555)
    before = _release_count(workspace)
    r = run_cli_unprivileged(
        "release",
        str(shop_parquet),
        "--to",
        "zto",
        "--out",
        str(folder / "o.csv"),
        home=workspace.home,
    )
    _user_error(r, f"cannot write {folder / 'o.csv'}: Permission denied")
    assert list(folder.iterdir()) == [] and _release_count(workspace) == before
    assert _leftovers(workspace.home / "index") == []


def test_index_folder_not_writable(
    workspace: Workspace, shop_parquet: Path, tmp_path: Path
) -> None:
    (workspace.home / "index").mkdir(exist_ok=True)
    (workspace.home / "index").chmod(0o555)
    out = tmp_path / "o.csv"
    before = _release_count(workspace)
    r = run_cli_unprivileged(
        "release", str(shop_parquet), "--to", "zto", "--out", str(out), home=workspace.home
    )
    _user_error(r, "cannot write the exposure index", str(workspace.home / "index"))
    assert not out.exists() and _release_count(workspace) == before
    assert _leftovers(tmp_path) == []


def test_read_only_ledger(workspace: Workspace, shop_parquet: Path, tmp_path: Path) -> None:
    """A ledger the user may read but not write: listing works, a release is refused
    whole — no copy goes out that the ledger does not record."""
    release(shop_parquet, recipient="zto", workspace=workspace, out=tmp_path / "first.csv")
    (workspace.home / "ledger.db").chmod(0o444)
    out = tmp_path / "o.csv"
    assert _release_count(workspace) == 1
    r = run_cli_unprivileged(
        "release", str(shop_parquet), "--to", "zto", "--out", str(out), home=workspace.home
    )
    _user_error(r, "ledger database is read-only")
    assert not out.exists() and _release_count(workspace) == 1
    assert _leftovers(tmp_path, workspace.home / "index") == []
    assert run_cli_unprivileged("verify", home=workspace.home).returncode == 0


def test_unreadable_master_key(workspace: Workspace, shop_parquet: Path, tmp_path: Path) -> None:
    for key in (workspace.home / "keys").glob("master*"):
        key.chmod(0)
    out = tmp_path / "o.csv"
    r = run_cli_unprivileged(
        "release", str(shop_parquet), "--to", "zto", "--out", str(out), home=workspace.home
    )
    _user_error(r, "master")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_init_in_a_folder_not_writable(tmp_path: Path) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    r = run_cli_unprivileged("init", home=parent / "ws")
    _user_error(r, str(parent))
    assert list(parent.iterdir()) == []


def test_demo_data_into_a_folder_not_writable(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    r = subprocess.run(
        [
            *_unprivileged_prefix(),
            sys.executable,
            "-m",
            "leaktrace",
            "demo-data",
            "--orders",
            "50",
            "--out",
            str(folder / "orders.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    _user_error(r, f"cannot write {folder / 'orders.csv'}")
    assert list(folder.iterdir()) == []
