"""Review of session 20 (a new user's walk through the CLI), M3: a campaign's loss added
up one victim's repeat reports, and malformed (future-dated) ones, although the
attribution counts a victim once and leaves malformed reports out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.reports import add_reports, load_stored_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace

CALLER = "0571-88886666"


def test_a_campaign_counts_each_victims_loss_once(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    wave = simulate_wave(ws, attr_shop, source="zto", victims=2, seed=3, unrelated=0.0)
    a, b = wave[0], wave[1]
    assert a["victim_phone"] != b["victim_phone"]
    now = datetime.now(UTC)

    def rep(base: dict[str, object], minutes: int, loss: int) -> dict[str, object]:
        at = (now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
        return {**base, "caller": CALLER, "reported_at": at, "loss": loss}

    objs = [
        rep(a, -30, 5000),  # victim A by phone …
        rep(a, -20, 5000),  # … and again through the app: one loss of 5,000
        rep(a, 60 * 24 * 3, 5000),  # a copy of A's report dated days ahead: malformed
        rep(b, -15, 3000),  # victim B reports 3,000 …
        rep(b, -10, 4000),  # … then 4,000 as more transfers came to light
    ]
    add_reports(ws, [parse_report_obj(o, f"rep:{i}") for i, o in enumerate(objs)])
    stored = load_stored_reports(ws)
    assert sum(r.status == "malformed" for r in stored) == 1
    camp = next(c for c in attribute(ws).campaigns if "057188886666" in c["callers"])
    assert len(camp["reports"]) == 5  # the campaign still lists every report …
    assert camp["loss"] == 5000.0 + 4000.0  # … but each victim's loss is counted once
