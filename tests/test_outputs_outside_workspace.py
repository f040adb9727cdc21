"""No command writes its output into the workspace.

A fresh user's walk through the docs (session 19) found that four outputs were written
wherever they were pointed: ``trace --bundle ws/keys/signing.pub`` replaced the public key
(every later ``verify``, ``trace``, ``attribute`` failed), ``trace --report ws/ledger.db``
destroyed the ledger, ``release --out ws/index/<release>.parquet`` made ``verify`` report
an altered index. ``exposed`` and the incident drafts already refused such paths.
Each case runs on its own copy of one workspace, and the file aimed at must be unchanged
and the ledger must still verify."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.release import release
from leaktrace.workspace import open_workspace


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    root = tmp_path_factory.mktemp("outside")
    ws = make_workspace(root / "ws")
    shop.write_parquet(root / "orders.parquet")
    release(shop, recipient="zto", workspace=ws, out=root / "zto.csv")
    pl.read_csv(root / "zto.csv", infer_schema=False).head(40).write_csv(root / "leak.csv")
    return root


def _copy(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "c")
    return tmp_path / "c"


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


CASES = [
    (
        "trace-bundle",
        ["trace", "{root}/leak.csv", "--bundle", "{ws}/keys/signing.pub"],
        "keys/signing.pub",
    ),
    ("trace-report", ["trace", "{root}/leak.csv", "--report", "{ws}/ledger.db"], "ledger.db"),
    (
        "trace-bundle-config",
        ["trace", "{root}/leak.csv", "--bundle", "{ws}/leaktrace.toml"],
        "leaktrace.toml",
    ),
    ("attribute-report", ["attribute", "--report", "{ws}/ledger.db"], "ledger.db"),
    (
        "release-out",
        ["release", "{root}/orders.parquet", "--to", "yto", "--out", "{ws}/leaktrace.toml"],
        "leaktrace.toml",
    ),
    (
        "release-out-new",
        ["release", "{root}/orders.parquet", "--to", "yto", "--out", "{ws}/index/new.parquet"],
        None,
    ),
    (
        "simulate-out",
        [
            "simulate",
            "wave",
            "--source",
            "zto",
            "--victims",
            "5",
            "--shop",
            "{root}/orders.parquet",
            "--out",
            "{ws}/ledger.db",
        ],
        "ledger.db",
    ),
]


@pytest.mark.parametrize(("name", "args", "target"), CASES, ids=[c[0] for c in CASES])
def test_an_output_inside_the_workspace_is_refused(
    base: Path, tmp_path: Path, name: str, args: list[str], target: str | None
) -> None:
    root = _copy(base, tmp_path)
    ws = root / "ws"
    before = _digest(ws / target) if target else None
    argv = [a.format(root=root, ws=ws) for a in args]
    done = run_cli(*argv, home=ws)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "inside the workspace" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    if target:
        assert _digest(ws / target) == before
    else:
        assert not (ws / "index" / "new.parquet").exists()
    assert run_cli("verify", home=ws).returncode == 0


def test_the_python_api_refuses_it_too(base: Path, tmp_path: Path, shop: pl.DataFrame) -> None:
    from leaktrace.errors import InputError

    root = _copy(base, tmp_path)
    ws = open_workspace(root / "ws")
    before = _digest(root / "ws" / "leaktrace.toml")
    with pytest.raises(InputError, match="inside the workspace"):
        release(shop, recipient="yto", workspace=ws, out=root / "ws" / "leaktrace.toml")
    assert _digest(root / "ws" / "leaktrace.toml") == before
