"""Audit (session 13, both fixed there): could ``attribute`` accuse an innocent recipient?

1. Repeat customers. The exposure null says a victim of source S is a uniformly random
*customer* of S's audience (or of the whole ledger, for "outside the ledger"). A scammer
works from a copy, and a copy is a table of *orders*: a customer with thirty orders is
thirty rows of it, thirty times as likely to be called as a one-off buyer, and — having
shipped through every courier — is in almost every courier's audience. Victims of any
copy that holds everybody's orders (the SMS vendor, customer service, the platform's own
table) are then concentrated in every courier's audience well beyond |A_R| / |A_S|, and
an innocent courier is accused. ``simulate_wave`` itself draws victims as order rows; the
test shops of ``tests/conftest.py`` have one order per phone, so the trap never showed.

2. A canary pool whose listing repeats numbers (a block pasted twice, overlapping blocks;
the ledger's reservation already expects "a pool listing a number twice"): ``pool_size``
counts listed entries, not distinct numbers, so the chance per hit |C_R| / |pool| is
halved, and random dialling over the pool — the canary null itself — accuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.hits import record_hit
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

from .conftest import clear, soon

REGULARS, ORDERS_EACH, ORDERS = 60, 30, 3000


def _regulars_shop() -> pl.DataFrame:
    """3,000 orders: 60 regular customers with 30 orders each (weekly grocery buyers),
    1,200 one-off buyers. Each order keeps its own courier and merchant."""
    shop = generate_orders(ORDERS, seed=11)
    rng = np.random.default_rng(3)
    one_off = ORDERS - REGULARS * ORDERS_EACH
    cust = np.concatenate(
        [np.repeat(np.arange(REGULARS), ORDERS_EACH), np.arange(REGULARS, REGULARS + one_off)]
    )
    rng.shuffle(cust)
    first: dict[int, int] = {}
    for i, c in enumerate(cust.tolist()):
        first.setdefault(c, i)
    ident = shop.select("name", "phone", "address")[[first[c] for c in cust.tolist()]]
    return shop.with_columns(ident["name"], ident["phone"], ident["address"])


@pytest.fixture(scope="module")
def regulars(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, pl.DataFrame]:
    shop = _regulars_shop()
    ws = make_workspace(Path(tmp_path_factory.mktemp("regulars")) / "ws")
    for r in ("zto", "yto", "cs-firm", "sms"):
        release(shop, recipient=r, workspace=ws)
    return ws, shop


@pytest.fixture
def rws(regulars: tuple[Workspace, pl.DataFrame]) -> Iterator[Workspace]:
    ws = regulars[0]
    clear(ws)
    yield ws
    clear(ws)


def _ingest(ws: Workspace, wave: list[dict[str, object]]) -> None:
    add_reports(ws, [parse_report_obj(o, f"audit:{i}") for i, o in enumerate(wave)])


def _accused_anywhere(res: object) -> set[str]:
    d = res.as_dict()  # type: ignore[attr-defined]
    named = {c["recipient"] for c in d["accused"]}
    return named | {c["attributed"] for c in d["campaigns"] if c["attributed"]}


def test_sms_vendor_leak_with_repeat_customers_accuses_no_courier(
    rws: Workspace, regulars: tuple[Workspace, pl.DataFrame]
) -> None:
    """The SMS vendor gets every order; its copy leaks and 200 of its rows are called
    (simulate_wave's own model, realistic quotes). The vendor is rightly named — and yto,
    which only shipped some of those customers' parcels, is named beside it at ~1e-13."""
    _ingest(rws, simulate_wave(rws, regulars[1], source="sms", victims=200, seed=0, unrelated=0))
    res = attribute(rws)
    assert _accused_anywhere(res) <= {"sms"}


def test_vague_reports_from_everyones_copy_accuse_no_courier(
    rws: Workspace, regulars: tuple[Workspace, pl.DataFrame]
) -> None:
    """Same leak, victims only say "they knew my name" (the usual report): nothing tells
    the SMS vendor's copy from customer service's or the platform's, so nobody may be
    accused — yet yto is, alone, as the source."""
    wave = simulate_wave(rws, regulars[1], source="sms", victims=200, seed=0, unrelated=0)
    for w in wave:
        w["quoted"] = {"name": True}
    _ingest(rws, wave)
    res = attribute(rws)
    assert _accused_anywhere(res) == set()


def test_pool_listed_twice_random_dialling_accuses_nobody(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Pool = one block of 400 numbers, listed twice. Two recipients hold 150 canaries
    each; a robo-dialler calls every number of the block once (uniform random dialling,
    exactly the null). Each recipient then has 150 of 400 distinct hits, its share of the
    pool (chance per hit 150/400; tail ≈ 0.5) — but the chance is computed as 150/800 and
    both are accused at ~1e-13."""
    home = Path(tmp_path_factory.mktemp("pool")) / "ws"
    block = "17090000000-17090000399"
    ws = init_workspace(home, database_url="sqlite:///ledger.db", canary_phones=[block, block])
    add_recipient(ws, "cs-firm", template="customer-service")
    add_recipient(ws, "sms", template="sms-vendor")
    for p in ("customer-service", "sms-vendor"):
        ws.config.policies[p].canary_rate = 0.05
    ws.save()
    shop = generate_orders(ORDERS, seed=11)
    for r in ("cs-firm", "sms"):
        release(shop, recipient=r, workspace=ws)
    numbers = sorted(set(ws.config.canary_pool.phone_numbers()))
    assert len(numbers) == 400 and len(Ledger(ws).canary_tokens()) == 300
    when = soon()
    for n in numbers:
        record_hit(ws, contact=n, channel="call", at=when)
    res = attribute(ws)
    assert _accused_anywhere(res) == set()
    # 100 free numbers (distinct), not 500: each recipient's 150 among its own ∪ free
    assert [(c.canary_free, c.canary_q) for c in res.candidates] == [(100, 150 / 250)] * 2


def test_a_courier_leak_with_repeat_customers_still_names_the_courier(
    rws: Workspace, regulars: tuple[Workspace, pl.DataFrame]
) -> None:
    """The larger, order-weighted share costs power where regulars are many: a wave from
    zto's copy (20 victims, realistic quotes) must still name zto, and only zto."""
    _ingest(rws, simulate_wave(rws, regulars[1], source="zto", victims=20, seed=1, unrelated=0))
    res = attribute(rws)
    assert [c["recipient"] for c in res.as_dict()["accused"]] == ["zto"]
    assert _accused_anywhere(res) == {"zto"}
