"""A copy filtered down to another recipient's customers (docs/attribution.md, "Limits:
selection inside a copy").

A scammer who keeps only one merchant's buyers from the courier's copy produces victims
who are all that merchant's customers. By exposure alone the merchant then looks like the
source, and nothing in the exposure model can tell "the merchant leaked" from "the
courier's copy, filtered by product". The docs said so; the verdict did not. An accusation
that rests on exposure must name the recipients that held every one of its victims, in the
result and in its explanation, and a decisive family (here an order alias of the merchant's)
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
