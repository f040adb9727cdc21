"""A copy filtered down to another recipient's customers (docs/attribution.md, "Limits:
selection inside a copy").

A scammer who keeps only one merchant's buyers from the courier's copy produces victims
who are all that merchant's customers. By exposure alone the merchant then looks like the
source, and nothing in the exposure model can tell "the merchant leaked" from "the
courier's copy, filtered by product". The docs said so; the verdict did not. An accusation
that rests on exposure must name the recipients that held (at least 90 % of) its victims,
in the result, its explanation and its tables, and a decisive family (here an order alias of the merchant's)
must lift the caveat.
"""

from __future__ import annotations

import polars as pl

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.campaigns import campaign_lines
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace

from .conftest import store_wave


def _merchant_buyers(ws: Workspace, shop: pl.DataFrame) -> set[str]:
    top = shop.group_by("merchant").len().sort("len", descending=True).item(0, "merchant")
    return set(shop.filter(pl.col("merchant") == top).get_column("phone").to_list())


def _filtered_courier_wave(ws: Workspace, shop: pl.DataFrame) -> list[dict[str, object]]:
    """zto's copy filtered to the merchant's buyers, one caller; victims say "they knew
    my name"."""
    buyers = _merchant_buyers(ws, shop)
    wave = simulate_wave(ws, shop, source="zto", victims=3000, seed=4, unrelated=0, callers=1)
    kept = [w for w in wave if w["victim_phone"] in buyers][:60]
    assert len(kept) >= 40
    for w in kept:
        w["quoted"] = {"name": True}
    return kept


def test_an_exposure_only_accusation_names_who_else_held_every_victim(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    res = attribute(ws)
    d = res.as_dict()
    # the documented limit: exposure alone names the merchant (the courier is the source)
    assert [c["recipient"] for c in d["accused"]] == ["merch"]
    (caveat,) = d["caveats"]
    assert caveat["recipient"] == "merch"
    assert caveat["rests_on"] == "exposure"
    assert caveat["consistent"] == d["accused"][0]["evidence"]["exposure"]["consistent"]
    # the recipients that held (nearly) all of merch's consistent victims: the courier
    # whose copy it was, and the two that see everyone
    held = {h["recipient"]: h["victims"] for h in caveat["also_held_by"]}
    assert held["zto"] == held["cs-firm"] == held["sms"] == caveat["consistent"]
    assert "yto" not in held  # it shipped none of them (or few)
    assert "merch" not in held
    assert caveat["log10_p_without_exposure"] > -9
    for lang in ("zh", "en"):
        assert "zto" in res.explanation[lang], res.explanation[lang]
    assert "filtered" in res.explanation["en"]
    assert "筛选" in res.explanation["zh"]
    # the campaign flags (the wave's callers) say it too, in the result and in its lines
    flagged = [c for c in d["campaigns"] if c["attributed"]]
    assert flagged and {c["attributed"] for c in flagged} == {"merch"}
    for camp in flagged:
        held = {h["recipient"] for h in camp["caveat"]["also_held_by"]}
        assert {"zto", "cs-firm", "sms"} <= held
    lines = [ln for ln in campaign_lines(d["campaigns"]) if "→ merch" in ln]
    assert lines and all("exposure only; also held by" in ln for ln in lines)


def test_decisive_evidence_lifts_the_caveat(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """The merchant's own leak, victims quoting its order aliases: the aliases alone pass
    alpha, so the verdict does not rest on exposure and carries no caveat."""
    wave = simulate_wave(ws, attr_shop, source="merch", victims=80, seed=2, unrelated=0)
    quoting = [w for w in wave if "order_id" in w["quoted"]]  # type: ignore[operator]
    assert len(quoting) >= 10
    store_wave(ws, quoting)
    res = attribute(ws)
    d = res.as_dict()
    assert [c["recipient"] for c in d["accused"]] == ["merch"]
    assert d["caveats"] == []
    assert "filtered" not in res.explanation["en"]
    assert all(c["caveat"] is None for c in d["campaigns"])


def test_no_accusation_no_caveat(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    res = attribute(ws)
    assert res.as_dict()["caveats"] == []


def test_the_tables_say_exposure_only_where_the_eye_lands(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """The caveat was the last sentence of a long paragraph; the candidates tables of the
    command and of the HTML report said only ACCUSED, and the report had no caveat line."""
    from typer.testing import CliRunner

    from leaktrace.attribution.report_html import render_report
    from leaktrace.cli import _register, app

    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    _register()
    r = CliRunner().invoke(app, ["attribute", "--home", str(ws.home)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "ACCUSED (exposure only)" in r.output
    html = render_report(attribute(ws))
    head = html[: html.index("<h2>Candidates</h2>")]
    assert "merch: exposure only" in head and "zto" in head
    assert "ACCUSED (exposure only)" in html


def test_unrelated_reports_below_the_share_still_show_the_top_holders(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """A caveat whose ``also_held_by`` is empty still lists the three recipients holding
    most of the victims: reports from elsewhere can push the real source under 90 %."""
    from leaktrace.attribution.attribute import score, selection_caveats
    from leaktrace.attribution.evidence import build_evidence, load_view
    from leaktrace.attribution.hits import stored_hits
    from leaktrace.attribution.reports import load_stored_reports

    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    ev = build_evidence(ws, load_stored_reports(ws), stored_hits(ws), load_view(ws))
    (merch,) = [c for c in score(ws, ev) if c.recipient == "merch"]
    # half of merch's victims made ones no other recipient held (nor had consistently):
    # zto etc. now hold 50 %, under the share
    mine = [v for v in ev.victims if v.consistent.get("merch")]
    for v in mine[: len(mine) // 2]:
        v.consistent = {r: r == "merch" for r in v.consistent}
        v.held = {r: r == "merch" for r in v.held}
    (cav,) = selection_caveats(ev, [merch], alpha=1e-9, tests=1)
    assert cav["also_held_by"] == []
    tops = {h["recipient"]: h["victims"] for h in cav["top_holders"]}
    assert len(tops) == 3 and "zto" in tops
    assert tops["zto"] == len(mine) - len(mine) // 2


def test_the_caveat_names_a_holder_that_lacked_a_quoted_field(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """The SMS vendor's copy (no order times) filtered to the merchant's buyers, and the
    script states each order's date: the victims are consistent with the merchant (which
    has the dates) and not with the SMS vendor, which nonetheless held every one of them
    and is the source. The caveat counted only consistent holders and left it out
    (session 24's review); it counts who held the victims before the call."""
    buyers = _merchant_buyers(ws, attr_shop)
    when = attr_shop.select("phone", "order_time").rows_by_key("phone")
    wave = simulate_wave(ws, attr_shop, source="sms", victims=3000, seed=4, unrelated=0, callers=1)
    kept = [w for w in wave if w["victim_phone"] in buyers][:60]
    assert len(kept) >= 40
    for w in kept:
        w["quoted"] = {
            "name": True,
            "order_date": when[w["victim_phone"]][0][0].strftime("%m月%d日"),
        }
    store_wave(ws, kept)
    d = attribute(ws).as_dict()
    assert [c["recipient"] for c in d["accused"]] == ["merch"]  # the documented limit
    (caveat,) = d["caveats"]
    sms = next(c for c in d["candidates"] if c["recipient"] == "sms")
    assert sms["evidence"]["exposure"]["consistent"] == 0  # it had no order dates
    held = {h["recipient"]: h["victims"] for h in caveat["also_held_by"]}
    assert held["sms"] == caveat["consistent"]
