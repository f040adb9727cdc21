"""The wave simulator writes reports a clerk could have filed: never dated in the future
(`simulate wave` right after a release dated them up to 20 days ahead), never before the
release they follow, and 20 days after the leak when the leak is old enough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def test_campaign_lines_say_how_many_lone_reports_they_leave_out() -> None:
    """The listing showed campaigns 1, 2, 4 with nothing said of 3 (one report, not
    attributed): it now says how many such campaigns it leaves out."""
    from leaktrace.attribution.campaigns import campaign_lines

    def camp(i: int, n: int, who: str | None) -> dict[str, object]:
        return {
            "id": i, "reports": list(range(n)), "start": "2026-11-20T10:00", "end": "2026-11-21",
            "callers": ["021-1"], "stages": ["pretext"], "attributed": who, "flagged_at": None,
        }  # fmt: skip

    lines = campaign_lines(
        [camp(1, 3, "zto"), camp(2, 2, None), camp(3, 1, None), camp(4, 1, "zto")]
    )
    assert [line.split(":")[0] for line in lines[:3]] == ["campaign 1", "campaign 2", "campaign 4"]
    assert lines[3] == "(and 1 single-report campaigns, not attributed: not shown)"
    assert campaign_lines([camp(1, 3, "zto")])[-1].startswith("campaign 1: 3 reports 2026-11-20")


def test_a_wave_from_a_recipient_under_a_broken_policy_names_it(
    ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """The workspace loads a policy whose operator is unknown here; simulating that
    recipient's copy is refused as a release to it is, naming the recipient."""
    import pytest

    from leaktrace.errors import PolicyError

    policy = ws.config.recipients["zto"].policy
    fields = ws.config.policies[policy].fields
    saved = fields["name"]
    fields["name"] = "mask_nam"
    try:
        with pytest.raises(PolicyError, match=r"cannot release to 'zto'.*mask_nam"):
            simulate_wave(ws, attr_shop, source="zto", victims=5, seed=1)
    finally:
        fields["name"] = saved


def test_campaign_lines_date_in_platform_time_wherever_they_are_printed() -> None:
    """``make demo`` printed the campaigns' dates in UTC while ``leaktrace attribute``
    printed them in platform time: a report made at 07:30 in Beijing was dated the day
    before in the demo. The lines now convert the stored UTC instants themselves."""
    from leaktrace.attribution.campaigns import campaign_lines

    camp = {
        "id": 1, "reports": [1, 2], "start": "2026-11-20T23:30:00+00:00",
        "end": "2026-11-21T23:10:00+00:00", "callers": ["021-1"], "stages": ["pretext"],
        "attributed": "zto", "flagged_at": "2026-11-21T23:40:00+00:00",
    }  # fmt: skip
    (line,) = campaign_lines([camp])
    assert "2 reports 2026-11-21…2026-11-22" in line, line
    assert "(flagged 2026-11-22 07:40:00+08:00)" in line, line


def test_a_wave_comes_from_the_newest_release_made_from_the_shop_given(
    tmp_path: Path, attr_shop: pl.DataFrame
) -> None:
    """``simulate wave --shop orders.parquet`` said "no shop order was released to 'zto'"
    once zto had a newer release made from another table: only the newest was looked at."""
    from conftest import make_workspace
    from leaktrace.release import release
    from leaktrace.synth import generate_orders

    ws = make_workspace(tmp_path / "ws")
    release(attr_shop, recipient="zto", workspace=ws)
    release(generate_orders(2000, seed=99), recipient="zto", workspace=ws)  # another month
    wave = simulate_wave(ws, attr_shop, source="zto", victims=10, seed=1, unrelated=0.0)
    assert len(wave) >= 10
