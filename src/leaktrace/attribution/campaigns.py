"""Group reports into campaigns and flag each as soon as its evidence passes the threshold.

Two reports belong to one campaign when they share a caller number or account (digits
and letters compared after removing separators) within ``window`` of each other; a canary
hit joins the campaign of its caller. Each campaign gets its own attribution (same
statistics as :func:`leaktrace.attribution.attribute.score`) evaluated after every report
in time order; the first look whose best candidate passes ``alpha`` corrected for all
recipients × campaigns × looks, and for the share of alpha the campaigns get (``split``:
by default alpha/2, the other half being the overall verdict's in ``attribute``) is the
moment the campaign is flagged. Together with the verdict, alpha bounds the chance of
accusing any innocent recipient anywhere in one run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from leaktrace.attribution.attribute import ALL_FAMILIES, Candidate, score, selection_caveats
from leaktrace.attribution.evidence import Evidence
from leaktrace.trace.stats import check_alpha
from leaktrace.workspace import Workspace

__all__ = ["Campaign", "campaign_lines", "campaign_loss", "find_campaigns"]


def _caller_key(caller: str) -> str:
    return re.sub(r"[\s\-+()]", "", caller).lower()


@dataclass
class Campaign:
    id: int
    callers: list[str]
    reports: list[int]
    start: str
    end: str
    stages: list[str]
    fraud_types: list[str]
    loss: float
    attributed: str | None = None
    log10_p: float = 0.0
    flagged_at: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    caveat: dict[str, Any] | None = None
    """Set when the flag rests on exposure alone (``attribute.selection_caveats``)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "callers": self.callers,
            "reports": self.reports,
            "start": self.start,
            "end": self.end,
            "stages": self.stages,
            "fraud_types": self.fraud_types,
            "loss": self.loss,
            "attributed": self.attributed,
            "log10_p_value": -1e308 if self.log10_p == -math.inf else round(self.log10_p, 4),
            "flagged_at": self.flagged_at,
            "timeline": self.timeline,
            "caveat": self.caveat,
        }


def campaign_loss(ev: Evidence, idx: list[int]) -> float:
    """The loss of the campaign made of reports ``idx``: each victim's loss once, the
    largest of that victim's reports, and nothing from a malformed report.

    Why once: a victim who is called back, or reports by phone and again through the app,
    is one victim and one loss, as the attribution counts them (one draw per customer
    digest of the victim's phone, :func:`leaktrace.attribution.evidence.build_evidence`);
    the sum showed 10,000 for one 5,000 loss while ``flagged`` said "counted once". Why
    the largest: a repeat report restates the loss or updates it upward as more transfers
    come to light, so the largest is the best single figure and a sum double-counts the
    overlap. Why no malformed report (no usable phone or time, dated in the future): it is
    left out of the statistics, and a copy of a valid report imported again (from a GBK
    copy of the file) is exactly such a row. Reports whose victim is no customer, or
    called before any order, still count: they are victims of the campaign's callers,
    only not evidence against a recipient. The victim key is the normalised phone, which
    is what the customer digests are keyed on."""
    largest: dict[str, float] = {}
    for i in idx:
        ve = ev.victims[i]
        r = ve.report
        if ve.status == "malformed" or not r.trusted or r.phone is None or not r.loss:
            continue
        largest[r.phone] = max(largest.get(r.phone, 0.0), float(r.loss))
    return float(sum(largest.values()))


def find_campaigns(
    ws: Workspace,
    ev: Evidence,
    *,
    alpha: float = 1e-9,
    window: timedelta = timedelta(days=30),
    families: tuple[str, ...] = ALL_FAMILIES,
    split: int = 2,
) -> list[Campaign]:
    """Campaigns, each flagged at its first look that passes.

    All looks of all campaigns together spend alpha/``split`` (default: half of alpha;
    ``attribute`` spends the other half on the overall verdict).
    """
    check_alpha(alpha)
    n = len(ev.victims)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # a row nothing vouches for (no valid seal) joins no campaign: its caller, time, loss
    # and stages are whatever was written into the database
    trusted = [i for i in range(n) if ev.victims[i].report.trusted]
    timed = sorted(
        (i for i in trusted if ev.victims[i].report.reported_at is not None),
        key=lambda i: ev.victims[i].report.reported_at,  # type: ignore[arg-type,return-value]
    )
    last: dict[str, int] = {}
    for i in timed:
        key = _caller_key(ev.victims[i].report.caller)
        if not key:
            continue
        j = last.get(key)
        if j is not None:
            ti, tj = ev.victims[i].report.reported_at, ev.victims[j].report.reported_at
            assert ti is not None and tj is not None
            if ti - tj <= window:
                parent[find(i)] = find(j)
        last[key] = i
    groups: dict[int, list[int]] = {}
    timed_set = set(timed)
    for i in timed + [i for i in trusted if i not in timed_set]:
        groups.setdefault(find(i), []).append(i)
    members = [g for g in groups.values()]
    camps: list[Campaign] = []
    looks_total = max(len(members), 1)
    for cid, idx in enumerate(members, start=1):
        reps = [ev.victims[i].report for i in idx]
        callers = sorted({_caller_key(r.caller) for r in reps if r.caller})
        hit_idx = [
            j for j, h in enumerate(ev.hits) if h.caller and _caller_key(h.caller) in callers
        ]
        times = [r.reported_at for r in reps if r.reported_at is not None]
        camp = Campaign(
            id=cid,
            callers=callers,
            reports=[r.id for r in reps],
            start=min(times).isoformat() if times else "",
            end=max(times).isoformat() if times else "",
            stages=sorted({s for r in reps for s in r.stages}),
            fraud_types=sorted({r.fraud_type for r in reps if r.fraud_type}),
            loss=campaign_loss(ev, idx),
        )
        # a look at report k sees the hits known by then: a campaign "flagged at" a report
        # with hits that came later told the partner and the regulator it could be named
        # before it could (session 25's review). Hits after the last report are one more
        # look, at the last such hit's time, counted in the correction.
        last_report = max(times) if times else None
        late = sorted(
            (j for j in hit_idx if last_report is not None and ev.hits[j].at > last_report),
            key=lambda j: ev.hits[j].at,
        )
        looks = max(len(idx), 1) + (1 if late else 0)
        extra = max(split, 1) * looks_total * looks
        for k in range(1, len(idx) + 1 + (1 if late else 0)):
            if k > len(idx):  # the look at the late hits
                if camp.flagged_at is None and any(ev.victims[i].eligible for i in idx):
                    at = ev.hits[late[-1]].at.isoformat()
                    cands = score(ws, ev, idx, hits=hit_idx, families=families, extra_tests=extra)
                    _flag(camp, ev, idx, cands, at, alpha, extra)
                break
            r = reps[k - 1]
            camp.timeline.append(
                {
                    "at": r.reported_at.isoformat() if r.reported_at else None,
                    "event": "report",
                    "report": r.id,
                    "channel": r.channel,
                    "stages": r.stages,
                    "status": ev.victims[idx[k - 1]].status,
                }
            )
            if camp.flagged_at is None and ev.victims[idx[k - 1]].eligible:
                known = [
                    j for j in hit_idx if r.reported_at is None or ev.hits[j].at <= r.reported_at
                ]
                cands = score(ws, ev, idx[:k], hits=known, families=families, extra_tests=extra)
                _flag(camp, ev, idx[:k], cands, camp.timeline[-1]["at"], alpha, extra)
        if camp.attributed is None and any(ev.victims[i].eligible for i in idx):
            cands = score(ws, ev, idx, hits=hit_idx, families=families, extra_tests=extra)
            camp.log10_p = cands[0].log10_p_corrected if cands else 0.0
        for j in hit_idx:
            h = ev.hits[j]
            camp.timeline.append(
                {"at": h.at.isoformat(), "event": "canary hit", "recipient": h.recipient}
            )
        camp.timeline.sort(key=lambda e: str(e.get("at") or ""))
        camps.append(camp)
    camps.sort(key=lambda c: (c.attributed is None, -len(c.reports), c.id))
    return camps


def _flag(
    camp: Campaign,
    ev: Evidence,
    idx: list[int],
    cands: list[Candidate],
    at: str | None,
    alpha: float,
    extra: int,
) -> None:
    """Flag ``camp`` at ``at`` when the best of ``cands`` (scored on the reports ``idx``
    and the hits known by then) passes ``alpha``; nothing otherwise."""
    if not cands or cands[0].log10_p_corrected > math.log10(alpha):
        return
    camp.flagged_at = at
    camp.attributed = cands[0].recipient
    camp.log10_p = cands[0].log10_p_corrected
    tests = max(len(ev.view.recipients), 1) * extra  # score's correction
    caveats = selection_caveats(ev, cands[:1], alpha=alpha, tests=tests, idx=idx)
    camp.caveat = caveats[0] if caveats else None
    camp.timeline.append(
        {
            "at": at,
            "event": "flagged",
            "recipient": cands[0].recipient,
            "log10_p_value": round(cands[0].log10_p_corrected, 3),
        }
    )


def accused_label(exposure_only: bool) -> str:
    """How a table marks an accused recipient: an accusation resting on exposure alone
    says so where the eye lands, not only at the end of the explanation."""
    return "ACCUSED (exposure only)" if exposure_only else "ACCUSED"


def caveat_words(caveat: dict[str, Any] | None) -> str:
    """What a campaign line adds for a flag a filtered copy could explain."""
    if not caveat:
        return ""
    held = [h["recipient"] for h in caveat["also_held_by"]]
    if not held:
        return " — exposure only"
    more = f" and {len(held) - 3} more" if len(held) > 3 else ""
    return f" — exposure only; also held by {', '.join(held[:3])}{more}"


def campaign_lines(campaigns: list[dict[str, Any]]) -> list[str]:
    """One line per campaign worth a look (attributed, or more than one report), then how
    many lone unattributed reports were left out: without that line the campaign numbers
    shown skip (1, 2, 4) and look like a lost campaign.

    Dates and the flag time are in platform time (UTC+8), as every time a person reads:
    the stored instants are UTC, so a report made before 08:00 platform time was dated the
    day before (``attribute --json`` keeps them as stored)."""
    from leaktrace.respond.times import shown_time

    lines, hidden = [], 0
    for camp in campaigns:
        if not (camp["attributed"] or len(camp["reports"]) > 1):
            hidden += 1
            continue
        start, end = (shown_time(camp[k]) if camp[k] else "" for k in ("start", "end"))
        lines.append(
            f"campaign {camp['id']}: {len(camp['reports'])} reports "
            f"{start[:10]}…{end[:10]}, callers {', '.join(camp['callers'])}, "
            f"stages {', '.join(camp['stages'])} → {camp['attributed'] or 'not attributed'}"
            + (f" (flagged {shown_time(camp['flagged_at'])})" if camp["flagged_at"] else "")
            + caveat_words(camp.get("caveat"))
        )
    if hidden:
        lines.append(f"(and {hidden} single-report campaigns, not attributed: not shown)")
    return lines
