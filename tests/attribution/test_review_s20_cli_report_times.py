"""Review of session 20 (a new user's walk through the CLI), M5: ``attribute --report``
showed a campaign's span, flag time and timeline in UTC, while the command line shows
platform time (UTC+8)."""

from __future__ import annotations

import polars as pl

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.campaigns import campaign_lines
from leaktrace.attribution.report_html import render_report
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.respond.times import shown_time
from leaktrace.workspace import Workspace


def test_the_html_report_shows_platform_time(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    wave = simulate_wave(ws, attr_shop, source="zto", victims=12, seed=1, unrelated=0.0)
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])
    res = attribute(ws)
    flagged = [c for c in res.campaigns if c["flagged_at"]]
    assert flagged, "the wave should flag a campaign"
    page = render_report(res)
    assert "+00:00" not in page
    camp = flagged[0]
    shown = shown_time(camp["flagged_at"])
    assert shown.endswith("+08:00")
    assert f"flagged at {shown}" in page
    assert f"{shown_time(camp['start'])} → {shown_time(camp['end'])}" in page
    for ev in camp["timeline"]:
        assert f"<li>{shown_time(ev['at'])} " in page
    # the same flag time as the command line's campaign line
    assert any(f"(flagged {shown})" in line for line in campaign_lines(res.campaigns))
