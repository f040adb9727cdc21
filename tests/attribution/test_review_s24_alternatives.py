"""Review (session 24): the exposure test's alternatives left out two ways an innocent
recipient's audience looks like the source's, and each accused it.

- One copy leaks, not a recipient's whole audience. An SMS vendor that got two monthly
  exports leaks the second; a second vendor, onboarded for that export only, was
  consistent with every victim while its modelled chance was that export's share of the
  first vendor's whole audience: accused at 10^-13 on exposure alone. Each release is now
  an alternative of its own.
- A field the source never received. The store's SMS vendor (no order time) leaks, the
  scam script states the order date: the vendor was dropped as an alternative, and the
  store (same customers, with order times) was accused at 10^-16. An alternative's
  audience now counts whatever fields it held; only R's own consistency needs them.

Both scenarios are the reviewer's reproducers (/tmp/s24/r2), made smaller.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from leaktrace.attribution import attribute
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import add_recipient, init_workspace

from .conftest import accused_anywhere


def _exposure(res: dict[str, object], recipient: str) -> dict[str, object]:
    cands = res["candidates"]
    assert isinstance(cands, list)
    [c] = [c for c in cands if c["recipient"] == recipient]
    out: dict[str, object] = c["evidence"]["exposure"]
    return out


@pytest.mark.parametrize("vague", [True, False])
def test_a_leak_of_one_monthly_copy_does_not_accuse_who_got_only_that_month(
    tmp_path: Path, vague: bool
) -> None:
    ws = init_workspace(tmp_path / "ws", database_url="sqlite:///ledger.db", platform="某电商平台")
    add_recipient(ws, "cs-firm", template="customer-service")
    add_recipient(ws, "sms-old", template="sms-vendor")  # every monthly export
    add_recipient(ws, "sms-new", template="sms-vendor")  # onboarded for the latest only
    shop = generate_orders(2000, seed=11).sort("order_time")
    first, second = shop[:1000], shop[1000:]
    release(shop, recipient="cs-firm", workspace=ws)
    release(first, recipient="sms-old", workspace=ws)
    release(second, recipient="sms-old", workspace=ws)  # this copy leaks
    release(second, recipient="sms-new", workspace=ws)
    wave = simulate_wave(ws, second, source="sms-old", victims=60, seed=3, unrelated=0.0)
    if vague:  # victims remember only that the caller knew their name
        for o in wave:
            o["quoted"] = {"name": True}
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])
    res = attribute(ws)
    d = res.as_dict()
    assert "sms-new" not in accused_anywhere(res)
    new = _exposure(d, "sms-new")
    assert new["consistent"] == 60 and new["null_share_max"] == 1.0
    assert str(new["null_share_from"]).startswith("sms-old's copy rel-")
    if not vague:  # the quoted aliases still name the source
        assert [c["recipient"] for c in d["accused"]] == ["sms-old"]


def test_a_field_the_source_never_received_does_not_accuse_the_store(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", database_url="sqlite:///ledger.db", platform="某电商平台")
    store = "京东自营"
    add_recipient(ws, "cs-firm", template="customer-service")
    add_recipient(ws, "merch", template="merchant", where=f"merchant = '{store}'")
    add_recipient(ws, "sms-jd", template="sms-vendor", where=f"merchant = '{store}'")
    shop = generate_orders(3000, seed=11)
    for r in ("cs-firm", "merch", "sms-jd"):
        release(shop, recipient=r, workspace=ws)
    wave = simulate_wave(ws, shop, source="sms-jd", victims=20, seed=7, unrelated=0.0)
    when = shop.select("phone", "order_time").rows_by_key("phone")
    for o in wave:  # the script: "您9月12日购买的…": every victim says the caller knew the date
        o["quoted"] = {"name": True, "product": True}
        o["quoted"]["order_date"] = when[o["victim_phone"]][0][0].strftime("%m月%d日")
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])
    res = attribute(ws)
    d = res.as_dict()
    assert accused_anywhere(res) == set()
    merch = _exposure(d, "merch")
    assert merch["consistent"] == 20 and merch["null_share_max"] == 1.0
    assert str(merch["null_share_from"]).startswith("sms-jd")


def test_copies_with_the_quoted_fields_stay_an_alternative(tmp_path: Path) -> None:
    """The first version of the change above dropped the alternative it had before: a
    recipient's copies that held the quoted fields, together (the third review's case).
    S first got a copy without addresses, then six monthly copies with them, each that
    month's 150 customers and the same 150 regulars; R got the six months' 900 customers,
    never the regulars. A leak of S's address copies, victims quoting their address: one
    copy's share of R is 0.5 and all of S's copies' is diluted by the first, so R was
    accused at 6e-10; S's copies with addresses hold R's customers at 6/7."""
    ws = init_workspace(tmp_path / "ws", database_url="sqlite:///ledger.db", platform="某电商平台")
    add_recipient(ws, "R", template="courier")
    add_recipient(ws, "S", template="sms-vendor")
    shop = generate_orders(6000, seed=11).unique(subset="phone", keep="first", maintain_order=True)
    regulars = shop[:150]
    months = [shop[150 + i * 150 : 300 + i * 150] for i in range(6)]
    release(shop[1050:], recipient="S", workspace=ws)  # no address: the SMS policy
    ws.config.recipients["S"].policy = "courier"  # S's contract now includes addresses
    for i, month in enumerate(months):
        again = regulars.with_columns(pl.col("order_id").str.slice(0, 10) + str(i))
        release(pl.concat([month, again]), recipient="S", workspace=ws)
    release(pl.concat(months), recipient="R", workspace=ws)
    audience = pl.concat([*months, regulars])
    rng = random.Random(4)
    victims = audience[rng.sample(range(audience.height), 80)].get_column("phone").to_list()
    at = datetime.now(UTC) + timedelta(seconds=1)
    wave = [
        {
            "victim_phone": phone,
            "reported_at": at.isoformat(timespec="seconds"),
            "channel": "110",
            "quoted": {"address": True, "name": True},
        }
        for phone in victims
    ]
    time.sleep(1.5)  # the calls come after every release
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])
    d = attribute(ws).as_dict()
    assert d["accused"] == []
    r = _exposure(d, "R")
    assert r["null_share_from"] == "S" and abs(float(str(r["null_share_max"])) - 6 / 7) < 1e-3


def test_a_share_of_one_from_another_key_version_is_named_the_same_every_time() -> None:
    """R's customers are digested under key version 1, six other recipients' under 2–4:
    each bounds R's share by 1. The alternative named for it changed from run to run with
    the order the database returned them in (the last review); it is the first by name."""
    import numpy as np

    from leaktrace.attribution import evidence

    schema = evidence.VIEW_ROWS_SCHEMA
    rows = [("relR", "R", 1, 1, 1, None, None)]
    for i, s in enumerate("ABCDEF"):
        rows += [(f"rel{s}{k}", s, 2 + i % 3, 10 + 2 * i + k, 100 + i, None, None) for k in (0, 1)]
    df = pl.DataFrame(rows, schema=schema, orient="row")
    view = evidence.LedgerView(
        entries=[],
        created={},
        recipients=sorted(set(df["recipient"])),
        rows=df,
        canary_contacts={},
        max_day=None,
        first_days={v: (np.array([], dtype=np.int64), 10) for v in (1, 2, 3, 4)},
    )
    sig = frozenset(df["release_id"])
    named = {evidence._pi_table(view, sig, sig, None)[1]["R"] for _ in range(12)}
    assert named == {"A"}
    # a recipient without customers in the valid releases: bounded by 1 by a source in
    # two key versions, as before the session's change
    two = df.with_columns(
        pl.when(pl.col("release_id") == "relA1")
        .then(9)
        .otherwise(pl.col("key_version"))
        .alias("key_version")
    )
    view2 = evidence.LedgerView(**{**view.__dict__, "rows": two})
    best, arg, _ = evidence._pi_table(view2, sig - {"relR"}, sig - {"relR"}, None)
    assert best["R"] == 1.0 and arg["R"] == "A"
