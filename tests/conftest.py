"""Shared fixtures: a small synthetic shop and a workspace with the demo's recipients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace


@pytest.fixture(scope="session")
def shop() -> pl.DataFrame:
    return generate_orders(3000, seed=11)


@pytest.fixture(scope="session")
def shop_parquet(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    p = tmp_path_factory.mktemp("shop") / "orders.parquet"
    shop.write_parquet(p)
    return p


def run_cli(*args: str, home: Path, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m leaktrace ARGS --home HOME`` as a user runs it (a fresh process);
    ``user``: the shell's user, whom the command records as who acted."""
    env = None if user is None else {**os.environ, "USER": user, "LOGNAME": user}
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def make_workspace(home: Path, database_url: str = "sqlite:///ledger.db") -> Workspace:
    ws = init_workspace(home, database_url=database_url, platform="某电商平台")
    add_recipient(
        ws, "zto", template="courier", where="courier = '中通快递'", display_name="中通快递"
    )
    add_recipient(
        ws, "yto", template="courier", where="courier = '圆通速递'", display_name="圆通速递"
    )
    add_recipient(ws, "cs-firm", template="customer-service", display_name="外包客服")
    add_recipient(ws, "sms", template="sms-vendor", display_name="短信服务商")
    return ws


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def synced_at_append(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """For each ledger append, the paths fsynced before it (durability tests): one list per
    ``Ledger.append`` call, filled as the test runs."""
    import os

    from leaktrace.ledger import Ledger

    synced: list[str] = []
    seen: list[list[str]] = []
    real_fsync, real_append = os.fsync, Ledger.append

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def append(self: Ledger, *a: object, **k: object) -> object:
        seen.append(list(synced))
        return real_append(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Ledger, "append", append)
    return seen
