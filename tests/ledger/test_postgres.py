"""The ledger on a real PostgreSQL server: releases are recorded, chained and verified,
canary numbers are reserved and refused as on SQLite, and a leak traces to its source.

Why a separate file: the reservation query is written per database (a JSON array on
SQLite, an array parameter on PostgreSQL), and ``database_url`` in leaktrace.toml is how
a platform puts the ledger on its own database server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from conftest import make_workspace
from leaktrace.ledger import Ledger
from leaktrace.ledger.ledger import close_engines
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace

from .test_ledger import check_reservations, check_used_numbers_excluded

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_workspace(postgres_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose ledger is a fresh database on the test server."""
    name = "lt_" + uuid.uuid4().hex[:12]
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield make_workspace(tmp_path / "ws", database_url=url)
    finally:
        close_engines(url)
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_releases_are_recorded_verified_and_traced(
    pg_workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    ws = pg_workspace
    assert ws.database_url.startswith("postgresql")
    release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.parquet")
    release(shop, recipient="cs-firm", workspace=ws, out=tmp_path / "cs.csv")
    ledger = Ledger(ws)
    assert ledger.engine.dialect.name == "postgresql"
    res = ledger.verify()
    assert res.ok and res.records == 2
    entries = ledger.entries()
    assert entries[1].prev_hash == entries[0].record_hash
    assert sum(e.canaries for e in entries) == len(ledger.canary_tokens()) > 0
    leak = pl.read_parquet(tmp_path / "zto.parquet").sample(5, seed=1)
    leak = leak.select("name", "phone", "address", "order_time", "product")
    found = trace(leak, workspace=ws)
    assert [c.recipient for c in found.accused] == ["zto"]
    with ledger.engine.begin() as c:  # an altered record is named, as on SQLite
        c.execute(text("UPDATE releases SET rows = rows + 1 WHERE seq = 1"))
    bad = Ledger(ws).verify()
    assert not bad.ok and bad.first_bad == 1


def test_canary_reservations_on_postgres(pg_workspace: Workspace) -> None:
    check_reservations(Ledger(pg_workspace))


def test_recorded_canary_numbers_are_never_reserved_on_postgres(
    pg_workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    check_used_numbers_excluded(pg_workspace, shop, tmp_path)
