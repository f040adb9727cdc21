"""The wave simulator writes reports a clerk could have filed: never dated in the future
(`simulate wave` right after a release dated them up to 20 days ahead), never before the
release they follow, and 20 days after the leak when the leak is old enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from leaktrace.attribution.evidence import load_view
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace


def test_a_wave_after_a_fresh_release_is_dated_between_the_releases_and_now(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    wave = simulate_wave(ws, attr_shop, source="zto", victims=40, seed=3)
    after = datetime.now(UTC)
    last_release = max(load_view(ws).created.values())
    times = [datetime.fromisoformat(r["reported_at"]) for r in wave]
    assert all(last_release <= t <= after + timedelta(seconds=1) for t in times), (
        last_release,
        min(times),
        max(times),
        before,
    )


def test_a_wave_from_a_given_start_spans_twenty_days(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    wave = simulate_wave(ws, attr_shop, source="zto", victims=200, seed=4, start=start)
    times = [datetime.fromisoformat(r["reported_at"]) for r in wave]
    assert start + timedelta(hours=1) <= min(times) and max(times) <= start + timedelta(days=20)
    assert max(times) - min(times) > timedelta(days=15)  # spread over the weeks, as before
