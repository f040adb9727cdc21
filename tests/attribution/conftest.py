"""A workspace with overlapping audiences: two couriers, a merchant that ships 90% of its
orders through one courier, a customer-service firm and an SMS vendor that see everyone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import event, text

from conftest import make_workspace
from leaktrace.attribution.reports import add_reports, load_stored_reports, parse_report_obj
from leaktrace.attribution.store import engine_for
from leaktrace.release import release
from leaktrace.workspace import Workspace, add_recipient


@pytest.fixture(scope="session")
def attr_shop(shop: pl.DataFrame) -> pl.DataFrame:
    top = shop.group_by("merchant").len().sort("len", descending=True).item(0, "merchant")
    rng = np.random.default_rng(5)
    to_zto = pl.Series(rng.random(shop.height) < 0.9)
    return shop.with_columns(
        pl.when((pl.col("merchant") == top) & to_zto)
        .then(pl.lit("中通快递"))
        .otherwise(pl.col("courier"))
        .alias("courier")
    )


@pytest.fixture(scope="session")
def attr_ws(tmp_path_factory: pytest.TempPathFactory, attr_shop: pl.DataFrame) -> Workspace:
    home = tmp_path_factory.mktemp("attr") / "ws"
    ws = make_workspace(home)
    top = attr_shop.group_by("merchant").len().sort("len", descending=True).item(0, "merchant")
    add_recipient(ws, "merch", template="merchant", where=f"merchant = '{top}'")
    for r in ("zto", "yto", "cs-firm", "sms", "merch"):
        release(attr_shop, recipient=r, workspace=ws)
    attr_shop.write_parquet(home.parent / "orders.parquet")
    return ws


@pytest.fixture
def ws(attr_ws: Workspace) -> Iterator[Workspace]:
    yield from cleared(attr_ws)


@pytest.fixture
def impact_ws(ws: Workspace) -> Iterator[Workspace]:
    """The attribution workspace with no reports, hits or erasure requests (the erasure
    impact tests)."""

    def no_requests() -> None:
        with engine_for(ws).begin() as c:
            c.execute(text("delete from erasure_requests"))

    no_requests()
    yield ws
    no_requests()


def store_wave(ws: Workspace, wave: list[dict[str, Any]]) -> None:
    """Store a simulated wave's reports (``simulate_wave``'s objects)."""
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])


def clear(ws: Workspace) -> None:
    with engine_for(ws).begin() as c:
        c.execute(text("delete from victim_reports"))
        c.execute(text("delete from canary_hits"))


def cleared(ws: Workspace) -> Iterator[Workspace]:
    """A module's workspace for one test: no reports or hits before it, none left after."""
    clear(ws)
    yield ws
    clear(ws)


def shop_file(ws: Workspace) -> Path:
    return ws.home.parent / "orders.parquet"


def soon(seconds: int = 0) -> str:
    """A hit time after every release of the session's workspace and not in the future
    beyond the clock skew a hit may have (``CLOCK_SKEW``): now, plus ``seconds`` to order
    several hits."""
    from datetime import UTC, datetime, timedelta

    from leaktrace.attribution.reports import CLOCK_SKEW

    assert timedelta(seconds=seconds) < CLOCK_SKEW / 2
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def erasure_base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    """A workspace with one release and six sealed reports, for the erasure tests (each
    test gets a copy: ``erasure_ws``)."""
    from ledger.logs import report_objs

    home = tmp_path_factory.mktemp("erase") / "ws"
    ws = make_workspace(home)
    release(shop, recipient="zto", workspace=ws)
    add_reports(ws, report_objs(ws, shop, 6, seed=3))
    return home


@pytest.fixture
def erasure_ws(erasure_base: Path, tmp_path: Path) -> Workspace:
    from ledger.logs import copied

    return copied(erasure_base, tmp_path)


def reported_phones(ws: Workspace) -> dict[int, str]:
    """Each counted report's id and victim phone."""
    out = {}
    for r in load_stored_reports(ws):
        assert r.phone is not None
        out[r.id] = r.phone
    return out


@contextmanager
def secure_delete_off(ws: Workspace) -> Iterator[None]:
    """The workspace's database connections as on an SQLite build that does not overwrite
    freed space by default (Debian's does): what leaktrace asks for itself is then seen."""
    engine = engine_for(ws)
    engine.dispose()

    def no_secure_delete(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA secure_delete = OFF")

    event.listen(engine, "connect", no_secure_delete)
    try:
        yield
    finally:
        event.remove(engine, "connect", no_secure_delete)
        engine.dispose()


def held_numbers(ws: Any) -> dict[str, set[str]]:
    """Each recipient's canary contact points, as the ledger's tokens hold them."""
    from leaktrace.ledger import Ledger

    held: dict[str, set[str]] = {}
    for t in Ledger(ws).canary_tokens():
        held.setdefault(t["recipient"], set()).add(t["contact"])
    return held


def call_numbers(ws: Any, numbers: list[str], tag: str) -> None:
    """A telecom push of one call to each of ``numbers`` (the local adapter)."""
    from leaktrace.telecom import ingest

    records = [
        {"id": f"{tag}{i}", "at": soon(), "channel": "call", "to": n} for i, n in enumerate(numbers)
    ]
    ingest(ws, "local", records)


def accused_anywhere(res: Any) -> set[str]:
    """Recipients the verdict or a campaign flag names."""
    d = res.as_dict()
    return {c["recipient"] for c in d["accused"]} | {
        c["attributed"] for c in d["campaigns"] if c["attributed"]
    }


def three_partner_workspace(home: Path, pool: str) -> tuple[Workspace, pl.DataFrame]:
    """A fresh workspace whose canary pool is the one entry ``pool``, with customer service
    (canary rate 0.1), the SMS vendor and the ZTO courier (0.2 each), and the 3,000-order
    shop they are released from (the canary-hit framing tests; nothing released yet)."""
    from leaktrace.synth import generate_orders
    from leaktrace.workspace import init_workspace

    ws = init_workspace(home, database_url="sqlite:///ledger.db", canary_phones=[pool])
    add_recipient(ws, "cs-firm", template="customer-service")
    add_recipient(ws, "sms", template="sms-vendor")
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    rates = {"customer-service": 0.1, "sms-vendor": 0.2, "courier": 0.2}
    for policy, rate in rates.items():
        ws.config.policies[policy].canary_rate = rate
    ws.save()
    return ws, generate_orders(3000, seed=11)
