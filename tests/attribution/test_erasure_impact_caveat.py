"""An erasure that makes a partner named by exposure alone says so, and says when the
requests' taker's own firm held that partner's victims.

The case the erasure impact exists for, pushed one step further: an agent of cs-firm (a
partner that sees every customer) takes requests for the reports that keep a wave from
naming anyone. Erasing them leaves the victims of a filtered copy, who all sit in one
merchant's audience: exposure then names the merchant. cs-firm held every one of those
victims, so "a copy of cs-firm's filtered to the merchant's buyers" explains them as well
as the merchant does — and cs-firm's agent is the one who asked for the erasure."""

from __future__ import annotations

import polars as pl

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.erasure_impact import erasure_impact_together
from leaktrace.attribution.erasure_requests import request_erasure
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace

from .conftest import store_wave
from .test_selection_caveat import _merchant_buyers


def test_a_partner_newly_named_by_exposure_alone_is_said_so(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    buyers = _merchant_buyers(ws, attr_shop)
    wave = simulate_wave(ws, attr_shop, source="zto", victims=3000, seed=4, unrelated=0)
    kept = [w for w in wave if w["victim_phone"] in buyers][:60]
    noise = simulate_wave(
        ws, attr_shop, source="unmarked", victims=60, seed=9, unrelated=0, callers=60
    )
    noise = [w for w in noise if w["victim_phone"] not in buyers][:50]
    for w in kept + noise:
        w["quoted"] = {"name": True}
    store_wave(ws, kept + noise)
    assert not attribute(ws).accused  # the noise hides the merchant's concentration
    ids = [
        request_erasure(
            ws,
            phone=str(w["victim_phone"]),
            reason="工单",
            actor="token:firm-agent",
            taker_recipient="cs-firm",
        )
        for w in noise
    ]
    impact = erasure_impact_together(ws, ids)
    assert "merch" in impact.named_after
    text = " ".join(impact.warnings)
    assert "merch" in text and "exposure alone" in text, text
    # the conflict sentence says that the taker's own firm held the merchant's victims
    conflict = next(w for w in impact.warnings if w.startswith("CONFLICT OF INTEREST"))
    assert "cs-firm itself held" in conflict, conflict
    assert "filtered" in conflict
