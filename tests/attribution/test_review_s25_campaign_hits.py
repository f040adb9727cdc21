"""A campaign is flagged when its evidence existed, not before (session 25's review).

``find_campaigns`` looks at a campaign report by report in time order to say when it could
first be named (``flagged_at``); each look was given every hit of the campaign's callers,
whatever its time, so a campaign was "flagged" at a report on the strength of canary calls
that came minutes later. A look now sees the hits known by its report's time, and hits
after the last report are one more look, at the last one's time (counted in the
correction)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.hits import record_hit
from leaktrace.attribution.reports import add_reports, parse_report_obj
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import add_recipient, init_workspace

CALLER = "02155550000"


def test_a_campaign_is_flagged_when_the_canary_calls_came_not_at_an_earlier_report(
    tmp_path: Path,
) -> None:
    ws = init_workspace(tmp_path / "ws")
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    add_recipient(ws, "sms", template="sms-vendor")
    orders = generate_orders(3000, seed=3)
    for r in ("zto", "sms"):
        release(orders, recipient=r, workspace=ws)
    t0 = datetime.now(UTC) + timedelta(seconds=5)
    phones = orders.filter(pl.col("courier") == "中通快递")["phone"].unique().sort().to_list()[:2]
    reports = [
        {
            "victim_phone": p,
            "reported_at": (t0 + timedelta(seconds=10 * i)).isoformat(),
            "channel": "phone",
            "caller": CALLER,
            "quoted": {"name": True},
        }
        for i, p in enumerate(phones)
    ]
    add_reports(ws, [parse_report_obj(o, f"t:{i}") for i, o in enumerate(reports)])
    # two reports quoting a name name nobody; the same caller then dials five of the
    # courier's canary numbers, minutes after the reports
    assert [c["attributed"] for c in attribute(ws).as_dict()["campaigns"]] == [None]
    hit_time = t0 + timedelta(minutes=4)
    zto = [t["contact"] for t in Ledger(ws).canary_tokens() if t["recipient"] == "zto"]
    for n in zto[:5]:
        record_hit(ws, contact=n, channel="call", at=hit_time.isoformat(), caller=CALLER)
    [camp] = [c for c in attribute(ws).as_dict()["campaigns"] if len(c["reports"] or []) == 2]
    assert camp["attributed"] == "zto"
    assert abs(datetime.fromisoformat(camp["flagged_at"]) - hit_time) < timedelta(seconds=1)
    flagged = [e for e in camp["timeline"] if e["event"] == "flagged"]
    assert len(flagged) == 1 and flagged[0]["at"] == camp["flagged_at"]
    # in the timeline the flag comes after the reports and with the hits
    events = [e["event"] for e in camp["timeline"]]
    assert events.index("flagged") > max(i for i, e in enumerate(events) if e == "report")
