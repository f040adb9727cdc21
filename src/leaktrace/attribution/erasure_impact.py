"""What erasing a pending erasure request would do to the evidence, for the analyst deciding it.

An erasure request (:mod:`leaktrace.attribution.erasure_requests`) is lawful and usually
innocent, but the reports it would erase may be the evidence against a partner — and the
agent who took it may work for that partner (an outsourced customer-service firm is itself
a recipient of the platform's data and holds its victims' phones). :func:`erasure_impact`
shows the analyst, before they decide:

* how many stored reports erasing the request would erase now (found as deciding finds
  them: :func:`leaktrace.attribution.erasure_requests.pending_request`);
* the attribution as it stands and as it would stand without those reports, on the same
  loaded evidence: the ledger view, the canary hits and the stored reports are loaded once,
  the report list is filtered, and :func:`leaktrace.attribution.attribute.attribute_evidence`
  scores both (campaigns included, so the bounds are those ``leaktrace attribute``
  prints). A partner is *named* when the verdict accuses it or a campaign is flagged to it;
  for each partner named now: whether it still is, and its verdict bound (corrected
  p-value) before and after;
* ``conflict``: the request was taken by an agent whose token is bound to a partner named
  now (``leaktrace token add NAME --role agent --recipient FIRM``), or bound to any partner
  when erasing would name a partner not named now: such a firm holds its customers'
  phones, and requests nobody made, for the victims that do not fit a competitor, would
  move the accusation onto it (see the last point below). System users and the
  platform's own staff have no firm.

What it does not do, by design:

* **It does not block the erasure.** The person's right to erasure (PIPL Art. 47) does not
  depend on who took the request or on what the reports prove, and the law's exceptions (a
  retention period, a police case that needs the report) are judgements the analyst
  makes, with the reason recorded when declining. A rule that refused conflicted requests
  would also refuse the victims of that firm's leak, who are exactly the people most likely
  to ask; what the conflict calls for is confirming the request with the person through
  the platform's own channel, which only a person can do.
* **It does not rerun anything when deciding**: ``--yes`` erases what the request names;
  the impact is the dry run's (``leaktrace report erase --request N``). Listing the
  requests never runs the attribution (the dashboard lists them on every load).
* The "after" attribution is the statistics on the remaining reports as if they were all
  there ever was. Erasures chosen by someone who knows the evidence are not independent of
  it: removing the victims inconsistent with a partner raises that partner's
  concentration. A partner named only after the erasure is therefore said, never hidden.

Only counts, recipient names and bounds are returned: no report id, phone or digest (the
report ids are in the dry run's own list, for the analyst). A decided request has no
phone digests left, so it has no impact to show (an :class:`InputError`); nor has a
request whose seal fails, or one taken before requests were sealed: what they name is not
vouched for, and they are never erased (:func:`pending_request` refuses them).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from leaktrace.attribution.attribute import (
    ALL_FAMILIES,
    DEFAULT_ALPHA,
    AttributionResult,
    attribute_evidence,
)
from leaktrace.attribution.erasure_requests import pending_request
from leaktrace.attribution.evidence import build_evidence, load_view
from leaktrace.attribution.hits import stored_hits
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.trace.stats import check_alpha
from leaktrace.workspace import Workspace

__all__ = ["ErasureImpact", "PartnerImpact", "erasure_impact", "shown_p"]


def _p(log10: float) -> float:
    return 0.0 if log10 < -320 else 10.0**log10


def shown_p(log10: float) -> str:
    """A bound as the analyst reads it (``2.2e-14``); one too small for a float as its
    power of ten (``1e-400``), never ``0``, which no bound is (``p_before`` and
    ``p_after`` are 0.0 there)."""
    if log10 >= -300:
        return f"{10.0**log10:.2g}"
    if log10 <= -1e300:  # -inf, or -1e308 as as_dict writes it: no finite bound
        return "0"
    e = math.floor(log10)
    return f"{10.0 ** (log10 - e):.2g}e{e}"


def _log10(x: float) -> float:
    return -1e308 if x == -math.inf else round(x, 6)


@dataclass(frozen=True)
class PartnerImpact:
    """A partner named now: its verdict bound (corrected p-value, as ``attribute``
    reports it) before and after the erasure, whether the verdict accuses it and how many
    campaigns are flagged to it, before and after."""

    recipient: str
    p_before: float
    p_after: float
    log10_p_before: float
    log10_p_after: float
    accused_before: bool
    accused_after: bool
    campaigns_before: int
    campaigns_after: int
    still_named: bool
    weakened: bool
    """Not named any more, a larger bound, or fewer flagged campaigns."""


@dataclass(frozen=True)
class ErasureImpact:
    """What erasing request ``request_id`` would do to the evidence (module docstring)."""

    request_id: int
    matched_reports: int
    alpha: float
    taker: str
    taker_recipient: str | None
    verdict_before: str
    verdict_after: str
    named_before: tuple[str, ...]
    named_after: tuple[str, ...]
    partners: tuple[PartnerImpact, ...]
    conflict: bool
    warnings: tuple[str, ...]
    """Sentences for the analyst (CLI, dashboard): evidence removed or weakened, a partner
    named only after, the conflict of interest. Empty when erasing changes nothing."""

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("named_before", "named_after", "partners", "warnings"):
            out[key] = list(out[key])
        return out


def _named(result: AttributionResult) -> dict[str, tuple[bool, int]]:
    """Partner → (accused by the verdict, campaigns flagged to it), for the named ones."""
    accused = {c.recipient for c in result.accused}
    flags: dict[str, int] = {}
    for camp in result.campaigns:
        if camp.get("attributed"):
            flags[str(camp["attributed"])] = flags.get(str(camp["attributed"]), 0) + 1
    return {r: (r in accused, flags.get(r, 0)) for r in sorted(accused | set(flags))}


def _bounds(result: AttributionResult) -> dict[str, float]:
    return {c.recipient: c.log10_p_corrected for c in result.candidates}


def erasure_impact(
    ws: Workspace,
    request_id: int,
    alpha: float = DEFAULT_ALPHA,
    *,
    families: tuple[str, ...] = ALL_FAMILIES,
) -> ErasureImpact:
    """What erasing pending request ``request_id`` would do to the evidence: the
    attribution over every stored report and over every stored report but the ones it
    would erase (module docstring). Writes nothing.

    Raises :class:`~leaktrace.errors.NotFoundError` for an unknown request,
    :class:`~leaktrace.errors.InputError` for one already decided, one whose seal fails
    or one without a seal, and
    :class:`~leaktrace.errors.LedgerIntegrityError` when the ledger does not verify (as
    ``attribute`` does)."""
    check_alpha(alpha)
    view, matched = pending_request(ws, request_id)
    gone = set(matched)
    ledger = load_view(ws)
    reports = load_stored_reports(ws)
    hits = stored_hits(ws)
    before = attribute_evidence(
        ws, build_evidence(ws, reports, hits, ledger), alpha=alpha, families=families
    )
    if gone:
        kept = [r for r in reports if r.id not in gone]
        after = attribute_evidence(
            ws, build_evidence(ws, kept, hits, ledger), alpha=alpha, families=families
        )
    else:
        after = before  # nothing to erase: the same evidence
    named_before, named_after = _named(before), _named(after)
    p_before, p_after = _bounds(before), _bounds(after)
    partners = []
    for r, (accused, flags) in named_before.items():
        accused_after, flags_after = named_after.get(r, (False, 0))
        lb, la = p_before.get(r, 0.0), p_after.get(r, 0.0)
        still = r in named_after
        partners.append(
            PartnerImpact(
                recipient=r,
                p_before=_p(lb),
                p_after=_p(la),
                log10_p_before=_log10(lb),
                log10_p_after=_log10(la),
                accused_before=accused,
                accused_after=accused_after,
                campaigns_before=flags,
                campaigns_after=flags_after,
                still_named=still,
                weakened=not still or la > lb or flags_after < flags,
            )
        )
    firm = view.taker_recipient
    newly = any(r not in named_before for r in named_after)
    conflict = firm is not None and (firm in named_before or newly)
    return ErasureImpact(
        request_id=view.id,
        matched_reports=len(gone),
        alpha=alpha,
        taker=view.actor,
        taker_recipient=firm,
        verdict_before=before.verdict,
        verdict_after=after.verdict,
        named_before=tuple(named_before),
        named_after=tuple(named_after),
        partners=tuple(partners),
        conflict=conflict,
        warnings=tuple(
            _warnings(view.id, len(gone), partners, named_before, named_after, firm, p_after)
        ),
    )


def _named_how(accused: bool, flags: int, log10_p: float) -> str:
    parts = [f"p ≤ {shown_p(log10_p)}"] if accused else []
    if flags:
        parts.append(f"{flags} campaign flag(s)")
    return ", ".join(parts) if parts else f"p ≤ {shown_p(log10_p)}"


def _warnings(
    rid: int,
    n: int,
    partners: list[PartnerImpact],
    named_before: dict[str, tuple[bool, int]],
    named_after: dict[str, tuple[bool, int]],
    firm: str | None,
    p_after: dict[str, float],
) -> list[str]:
    out = []
    for p in partners:
        now = _named_how(p.accused_before, p.campaigns_before, p.log10_p_before)
        if not p.still_named:
            out.append(
                f"WARNING: erasing request {rid} ({n} report(s)) removes the evidence that "
                f"names {p.recipient}: named now ({now}), no longer named after (p ≤ "
                f"{shown_p(p.log10_p_after)})"
            )
        elif p.weakened:
            then = _named_how(p.accused_after, p.campaigns_after, p.log10_p_after)
            out.append(
                f"WARNING: erasing request {rid} ({n} report(s)) weakens the evidence "
                f"against {p.recipient}: {now} now, {then} after (still named)"
            )
    for r in named_after:
        if r not in named_before:
            accused, flags = named_after[r]
            out.append(
                f"NOTE: after erasing request {rid}, {r} would be named "
                f"({_named_how(accused, flags, p_after.get(r, 0.0))}), which it is not now: "
                "a verdict that appears because reports were removed rests on which ones "
                "remain; review it before acting on it"
            )
    if firm is not None and firm in named_before:
        mine = next(p for p in partners if p.recipient == firm)
        effect = (
            "removes that evidence"
            if not mine.still_named
            else "weakens that evidence"
            if mine.weakened
            else "does not change that evidence"
        )
        out.append(
            f"CONFLICT OF INTEREST: request {rid} was taken by an agent of {firm}, which the "
            f"evidence names now; erasing it {effect}. Confirm the request with the person "
            "through the platform's own channel before erasing"
        )
    elif firm is not None and (newly := [r for r in named_after if r not in named_before]):
        out.append(
            f"CONFLICT OF INTEREST: request {rid} was taken by an agent of {firm}, itself a "
            f"partner; erasing it would name {', '.join(newly)}, which the evidence does not "
            "name now. Confirm the request with the person through the platform's own "
            "channel before erasing"
        )
    return out
