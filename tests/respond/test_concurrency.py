"""Rules that must hold when two clerks act at once: one case per order, payments within
the advance, notification totals that never go down. Each test races four processes on
one workspace (the review reproduced two advances for one victim, and 200 yuan paid on a
100 yuan advance, before "check, then write" was taken under the incident lock)."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.respond.cases import cases_of, open_case, record_payment
from leaktrace.respond.incident import PLATFORM_TZ, load_incident, open_incident, record_evidence
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import open_workspace

WORKERS = 4


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("race")
    ws = make_workspace(root / "ws")
    release(shop, recipient="zto", workspace=ws, out=root / "zto.csv")
    leak = root / "leak.csv"
    cols = ["name", "phone", "address", "product"]
    pl.read_csv(root / "zto.csv", infer_schema=False).head(30).select(cols).write_csv(leak)
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), root / "b.json")
    inc = open_incident(ws, "并发", datetime.now(PLATFORM_TZ) - timedelta(hours=1))
    record_evidence(ws, inc.id, root / "b.json")
    return ws.home, inc.id


def _zto_order(shop: pl.DataFrame, n: int) -> tuple[str, str]:
    row = shop.filter(pl.col("courier") == "中通快递").row(n, named=True)
    return str(row["order_id"]), str(row["phone"])


def _open(args: tuple[str, str, str, str]) -> str:
    home, incident_id, order, phone = args
    if _gate is not None:
        _gate.wait()  # type: ignore[attr-defined]
    try:
        return open_case(
            open_workspace(Path(home)),
            incident_id,
            order_id=order,
            phone=phone,
            occurred=datetime.now(PLATFORM_TZ).isoformat(),
            loss=100.0,
            police_receipt=f"A3301-{phone[-6:]}",  # one report per victim: one loss
        ).case_id
    except InputError as exc:
        return "refused: " + exc.message


_gate: object = None


def _start(gate: object) -> None:
    global _gate
    _gate = gate


def _pay(args: tuple[str, str, str, float]) -> str:
    home, incident_id, case_id, amount = args
    _gate.wait()  # type: ignore[attr-defined]  # all four clerks press "pay" together
    try:
        record_payment(open_workspace(Path(home)), incident_id, case_id, "case_paid", amount)
        return "paid"
    except InputError as exc:
        return "refused: " + exc.message


def _race(fn: object, args: list[object]) -> list[str]:
    ctx = mp.get_context("spawn")  # a fresh interpreter per worker, as separate clerks have
    with ctx.Manager() as manager:
        gate = manager.Barrier(WORKERS)
        with ctx.Pool(WORKERS, initializer=_start, initargs=(gate,)) as pool:
            return pool.map(fn, args, chunksize=1)  # type: ignore[arg-type]


def test_one_order_gets_one_case_however_many_clerks_open_it(
    setup: tuple[Path, str], shop: pl.DataFrame
) -> None:
    home, incident_id = setup
    order, phone = _zto_order(shop, 0)
    spellings = [
        order,
        f" {order} ",
        order + ".0",
        order.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]
    results = _race(_open, [(str(home), incident_id, s, phone) for s in spellings])
    opened = [r for r in results if not r.startswith("refused")]
    assert len(opened) == 1, results
    assert all("already has a case" in r for r in results if r.startswith("refused"))
    cases = cases_of(load_incident(open_workspace(home), incident_id))
    assert [c.case_id for c in cases if c.case_id in opened] == opened
    assert sum(c.decision == "advance" for c in cases) == 1


def test_payments_raced_stay_within_the_advance(
    setup: tuple[Path, str], shop: pl.DataFrame
) -> None:
    home, incident_id = setup
    order, phone = _zto_order(shop, 1)
    global _gate
    _gate = None  # this one call runs here, alone
    case_id = _open((str(home), incident_id, order, phone))
    assert case_id.startswith("CASE-"), case_id
    results = _race(_pay, [(str(home), incident_id, case_id, 60.0)] * WORKERS)
    assert results.count("paid") == 1, results  # 60 + 60 would pass the 100 advance
    case = next(
        c
        for c in cases_of(load_incident(open_workspace(home), incident_id))
        if c.case_id == case_id
    )
    assert case.advance == 100.0 and case.paid == 60.0
