"""Review of session 20 (a new user's walk through the CLI), H1: ``demo-data --out`` and
``scam train --out`` wrote into the workspace and replaced its ledger, index files or
master key, while every other command refuses such a path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import leaktrace.cli.data
import leaktrace.cli.scam  # noqa: F401  (register the commands)
from leaktrace.cli import app
from leaktrace.workspace import init_workspace

runner = CliRunner()

TRAIN_CSV = (
    "text,label\n"
    "我是淘宝客服给您理赔,冒充电商物流客服类\n"
    "今天天气不错,正常\n"
    "我是快递客服包裹丢失,冒充电商物流客服类\n"
    "晚上吃饭吗,正常\n"
)


def _invoke(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stderr.replace("\n", "")


@pytest.fixture(autouse=True)
def _no_home_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAKTRACE_HOME", raising=False)


def test_demo_data_refuses_the_ledger_of_home(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    before = (ws / "ledger.db").read_bytes()
    code, err = _invoke(
        "demo-data", "--orders", "10", "--format", "csv", "--out", str(ws / "ledger.db"),
        "--home", str(ws),
    )  # fmt: skip
    assert code == 2 and "inside the workspace" in err, err
    assert (ws / "ledger.db").read_bytes() == before


def test_demo_data_refuses_the_workspace_of_leaktrace_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    monkeypatch.setenv("LEAKTRACE_HOME", str(ws))
    code, err = _invoke("demo-data", "--orders", "10", "--out", str(ws / "index" / "x.parquet"))
    assert code == 2 and "inside the workspace" in err, err
    assert not (ws / "index" / "x.parquet").exists()


def test_demo_data_refuses_the_default_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_workspace(tmp_path / ".leaktrace")
    monkeypatch.chdir(tmp_path)
    config = (tmp_path / ".leaktrace" / "leaktrace.toml").read_bytes()
    code, err = _invoke(
        "demo-data", "--orders", "10", "--format", "csv", "--out", ".leaktrace/leaktrace.toml"
    )
    assert code == 2 and "inside the workspace" in err, err
    assert (tmp_path / ".leaktrace" / "leaktrace.toml").read_bytes() == config


def test_demo_data_refuses_a_ledger_kept_outside_the_workspace(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "ledger.db"
    db.parent.mkdir()
    ws = tmp_path / "ws"
    init_workspace(ws, database_url=f"sqlite:///{db}")
    before = db.read_bytes()
    code, err = _invoke(
        "demo-data", "--orders", "10", "--format", "csv", "--out", str(db), "--home", str(ws)
    )
    assert code == 2 and "ledger database" in err, err
    assert db.read_bytes() == before


def test_demo_data_refuses_another_workspace_copy(tmp_path: Path) -> None:
    """The report's repro: the home is ``ws`` and the output goes into a copy ``ws-a``."""
    ws = tmp_path / "ws"
    init_workspace(ws)
    shutil.copytree(ws, tmp_path / "ws-a")
    target = tmp_path / "ws-a" / "ledger.db"
    before = target.read_bytes()
    code, err = _invoke(
        "demo-data", "--orders", "10", "--format", "csv", "--out", str(target), "--home", str(ws)
    )
    assert code == 2 and "inside the workspace" in err, err
    assert target.read_bytes() == before


def test_demo_data_needs_no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKTRACE_HOME", str(tmp_path / "nowhere"))
    out = tmp_path / "d.csv"
    code, err = _invoke("demo-data", "--orders", "10", "--out", str(out))
    assert code == 0, err
    assert out.is_file()
    # next to a workspace (not inside it) is fine too
    init_workspace(tmp_path / "ws")
    code, err = _invoke(
        "demo-data", "--orders", "10", "--out", str(tmp_path / "e.csv"),
        "--home", str(tmp_path / "ws"),
    )  # fmt: skip
    assert code == 0, err


def test_scam_train_refuses_the_master_key(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    data = tmp_path / "train.csv"
    data.write_text(TRAIN_CSV, encoding="utf-8")
    key = ws / "keys" / "master.v1.key"
    before = key.read_bytes()
    code, err = _invoke("scam", "train", str(data), "--out", str(key), "--home", str(ws))
    assert code == 2 and "inside the workspace" in err, err
    assert key.read_bytes() == before


def test_scam_train_refuses_the_workspace_of_leaktrace_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    init_workspace(ws)
    monkeypatch.setenv("LEAKTRACE_HOME", str(ws))
    data = tmp_path / "train.csv"
    data.write_text(TRAIN_CSV, encoding="utf-8")
    code, err = _invoke("scam", "train", str(data), "--out", str(ws / "model.npz"), "--all")
    assert code == 2 and "inside the workspace" in err, err
    assert not (ws / "model.npz").exists()
