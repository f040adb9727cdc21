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

**Several requests together** (:func:`erasure_impact_together`). Judged one by one, each
request of an insider at such a firm (one token may hold 200 pending requests) may barely
move the evidence while all of them together remove what names the firm. The analyst can
weigh a set before deciding any of it: given request ids, all pending requests, those
taken by agents of one firm, or those of one taker (:func:`pending_selection`; selecting
only reads the list). The evidence is loaded once and scored without the union of the
reports the set would erase; the result is the single impact's, for the set, with
``conflict`` when any request of the set was taken by an agent of a partner named now, or
when erasing the set would name a partner not named now and any of its takers works for a
firm (``conflicted_requests`` names them). :func:`erasure_impact_by_firm` weighs all
pending requests and each firm's on one load (the dashboard). A set is refused as a
whole, with the one-line error of the first request (in id order) that the single impact
refuses: unknown, decided, failing its seal or without one. Skipping it would weigh a set
other than the one asked about; the analyst declines an unsealed request (taking the
person's request again) or names the other ids.

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
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from leaktrace.attribution.attribute import (
    ALL_FAMILIES,
    DEFAULT_ALPHA,
    AttributionResult,
    attribute_evidence,
    holders_words,
)
from leaktrace.attribution.erasure_requests import (
    ErasureRequest,
    erasure_requests,
    pending_request,
    pending_requests,
)
from leaktrace.attribution.evidence import build_evidence, load_view
from leaktrace.attribution.hits import stored_hits
from leaktrace.attribution.reports import StoredReport, load_stored_reports
from leaktrace.errors import InputError
from leaktrace.trace.stats import check_alpha
from leaktrace.workspace import Workspace

__all__ = [
    "CombinedImpact",
    "ErasureImpact",
    "PartnerImpact",
    "RequestWeighed",
    "erasure_impact",
    "erasure_impact_by_firm",
    "erasure_impact_together",
    "pending_selection",
    "requests_taken_by",
    "shown_p",
    "taken_by_words",
]


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
    exposure_only_before: bool = False
    exposure_only_after: bool = False
    """Named, by the verdict or a campaign flag, on exposure alone
    (:func:`~leaktrace.attribution.attribute.selection_caveats`): before the erasure, and
    after it (False when no longer named)."""


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
        return _as_dict(self)


def _as_dict(impact: ErasureImpact | CombinedImpact) -> dict[str, Any]:
    """Plain JSON: tuples as lists."""
    out = dataclasses.asdict(impact)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass(frozen=True)
class RequestWeighed:
    """One request of a set weighed together: who took it, and how many stored reports
    erasing it would erase (a report two requests of the set name counts once in the
    set's ``matched_reports``)."""

    request_id: int
    taker: str
    taker_recipient: str | None
    matched_reports: int


@dataclass(frozen=True)
class CombinedImpact:
    """What erasing the pending requests ``request_ids`` together would do to the evidence
    (module docstring): the attribution without the union of the reports they would erase
    (``matched_reports`` is its size). ``selection`` says how the set was chosen;
    ``conflicted_requests`` are the requests whose taker's firm makes the conflict."""

    selection: str
    request_ids: tuple[int, ...]
    matched_reports: int
    alpha: float
    requests: tuple[RequestWeighed, ...]
    verdict_before: str
    verdict_after: str
    named_before: tuple[str, ...]
    named_after: tuple[str, ...]
    partners: tuple[PartnerImpact, ...]
    conflict: bool
    conflicted_requests: tuple[int, ...]
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return _as_dict(self)


def _named(result: AttributionResult) -> dict[str, tuple[bool, int]]:
    """Partner → (accused by the verdict, campaigns flagged to it), for the named ones."""
    accused = {c.recipient for c in result.accused}
    flags: dict[str, int] = {}
    for camp in result.campaigns:
        if camp.get("attributed"):
            flags[str(camp["attributed"])] = flags.get(str(camp["attributed"]), 0) + 1
    return {r: (r in accused, flags.get(r, 0)) for r in sorted(accused | set(flags))}


def _caveats(result: AttributionResult) -> dict[str, dict[str, Any]]:
    """Partner → the caveat of its naming on exposure alone. A partner the verdict accuses
    is judged by the verdict alone (an alias-backed verdict is not "exposure only" because
    one early campaign flag was); a partner named only by campaign flags, by its first
    flag's caveat."""
    accused = {c.recipient for c in result.accused}
    out = {c["recipient"]: c for c in result.caveats}
    for camp in result.campaigns:
        named = str(camp.get("attributed") or "")
        if named and camp.get("caveat") and named not in accused:
            out.setdefault(named, camp["caveat"])
    return out


def _bounds(result: AttributionResult) -> dict[str, float]:
    return {c.recipient: c.log10_p_corrected for c in result.candidates}


@dataclass(frozen=True)
class _Change:
    """The attribution over every stored report and without some of them: who is named
    before and after, and each partner named now (what both impacts report)."""

    before: AttributionResult
    after: AttributionResult
    named_before: dict[str, tuple[bool, int]]
    named_after: dict[str, tuple[bool, int]]
    partners: tuple[PartnerImpact, ...]
    p_after: dict[str, float]
    caveats_after: dict[str, dict[str, Any]]

    @property
    def newly(self) -> list[str]:
        """The partners named only after the erasure."""
        return [r for r in self.named_after if r not in self.named_before]

    def conflicted(self, firm: str | None) -> bool:
        """A request taken by an agent of ``firm`` is a conflict of interest: the firm is
        named now, or erasing would name a partner that is not named now."""
        return firm is not None and (firm in self.named_before or bool(self.newly))

    def shown(self) -> dict[str, Any]:
        """The fields :class:`ErasureImpact` and :class:`CombinedImpact` share."""
        return {
            "verdict_before": self.before.verdict,
            "verdict_after": self.after.verdict,
            "named_before": tuple(self.named_before),
            "named_after": tuple(self.named_after),
            "partners": self.partners,
        }


def _change(before: AttributionResult, after: AttributionResult) -> _Change:
    named_before, named_after = _named(before), _named(after)
    p_before, p_after = _bounds(before), _bounds(after)
    cav_before, cav_after = _caveats(before), _caveats(after)
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
                exposure_only_before=r in cav_before,
                exposure_only_after=still and r in cav_after,
            )
        )
    return _Change(before, after, named_before, named_after, tuple(partners), p_after, cav_after)


class _Evidence:
    """The evidence loaded once (ledger view, canary hits, stored reports) and the
    attribution over every stored report; :meth:`without` scores the same evidence
    without some reports (each set of reports once, however many selections erase it)."""

    def __init__(self, ws: Workspace, alpha: float, families: tuple[str, ...]) -> None:
        self.ws, self.alpha, self.families = ws, alpha, families
        self._ledger = load_view(ws)
        self._reports = load_stored_reports(ws)
        self._hits = stored_hits(ws)
        self._before = self._score(self._reports)
        self._after: dict[frozenset[int], AttributionResult] = {frozenset(): self._before}

    def _score(self, reports: list[StoredReport]) -> AttributionResult:
        ev = build_evidence(self.ws, reports, self._hits, self._ledger)
        return attribute_evidence(self.ws, ev, alpha=self.alpha, families=self.families)

    def without(self, gone: frozenset[int]) -> _Change:
        if gone not in self._after:
            self._after[gone] = self._score([r for r in self._reports if r.id not in gone])
        return _change(self._before, self._after[gone])


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
    gone = frozenset(matched)
    change = _Evidence(ws, alpha, families).without(gone)
    firm = view.taker_recipient
    return ErasureImpact(
        request_id=view.id,
        matched_reports=len(gone),
        alpha=alpha,
        taker=view.actor,
        taker_recipient=firm,
        **change.shown(),
        conflict=change.conflicted(firm),
        warnings=tuple(_warnings([view.id], len(gone), change, {firm: [view.id]} if firm else {})),
    )


def _taker(taker: str) -> str:
    """A taker as stored: ``token:NAME`` for a bare token name."""
    return taker if ":" in taker else f"token:{taker}"


def taken_by_words(firm: str | None, taker: str | None) -> str:
    """How a selection by ``firm`` or ``taker`` is said (``taken by agents of cs-firm``,
    ``taken by token:wang``); empty for no selection."""
    if firm is not None:
        return f"taken by agents of {firm}"
    return f"taken by {_taker(taker)}" if taker is not None else ""


def requests_taken_by(
    ws: Workspace,
    requests: Iterable[ErasureRequest],
    *,
    firm: str | None = None,
    taker: str | None = None,
) -> list[ErasureRequest]:
    """The ``requests`` taken by agents of ``firm`` (tokens bound to it), or by ``taker``
    (``token:NAME`` or a system user as the list shows it; a bare name is a token's), or
    all of them. Reads nothing but the workspace's recipients: a firm that is no recipient
    and took none of them is an :class:`~leaktrace.errors.UnknownRecipientError`."""
    if firm is not None and taker is not None:
        raise InputError("select the requests by firm or by taker, not both")
    if firm is not None:
        picked = [r for r in requests if r.taker_recipient == firm]
        if not picked and firm not in ws.config.recipients:
            ws.config.recipient(firm)  # raises, naming the nearest known names
        return picked
    if taker is not None:
        return [r for r in requests if r.actor == _taker(taker)]
    return list(requests)


def pending_selection(
    ws: Workspace, *, firm: str | None = None, taker: str | None = None
) -> list[int]:
    """The ids of the pending requests, in id order: all of them, those taken by agents
    of ``firm``, or those taken by ``taker`` (:func:`requests_taken_by`). Only lists
    (:func:`~leaktrace.attribution.erasure_requests.erasure_requests`): no attribution.
    An empty selection is an :class:`~leaktrace.errors.InputError`."""
    listed = erasure_requests(ws, counts=False)  # pending_requests counts what it weighs
    ids = [r.id for r in requests_taken_by(ws, listed, firm=firm, taker=taker)]
    if not ids:
        raise _none_pending(firm, taker)
    return ids


def _none_pending(firm: str | None, taker: str | None) -> InputError:
    said = taken_by_words(firm, taker)
    return InputError(
        f"no pending erasure requests{' ' + said if said else ''} (`leaktrace report requests`)"
    )


def _selection(firm: str | None, taker: str | None) -> str:
    """A selection as :attr:`CombinedImpact.selection` says it."""
    said = taken_by_words(firm, taker)
    return f"pending requests {said}" if said else "all pending requests"


_Pending = tuple[ErasureRequest, list[int]]
"""A pending request and the reports erasing it would erase (:func:`pending_request`)."""


def erasure_impact_together(
    ws: Workspace,
    request_ids: Iterable[int] | None = None,
    alpha: float = DEFAULT_ALPHA,
    *,
    firm: str | None = None,
    taker: str | None = None,
    families: tuple[str, ...] = ALL_FAMILIES,
) -> CombinedImpact:
    """What erasing several pending requests together would do to the evidence: the
    requests ``request_ids``, or else the pending ones :func:`pending_selection` selects
    (all, those of ``firm``'s agents, or ``taker``'s). The evidence is loaded once and
    scored without the union of the reports they would erase. Writes nothing.

    Every request of the set is looked up as the single impact looks it up
    (:func:`pending_request`, in id order), and the set is refused as a whole, with that
    request's one-line error, when one of them is unknown
    (:class:`~leaktrace.errors.NotFoundError`), decided, fails its seal or has none
    (:class:`~leaktrace.errors.InputError`): a set weighed without one of its requests
    would not be the set the analyst asked about. An empty set is an ``InputError``."""
    check_alpha(alpha)
    if request_ids is not None:
        if firm is not None or taker is not None:
            raise InputError("give request ids or a selection (firm, taker), not both")
        ids = sorted(set(request_ids))
        if not ids:
            raise InputError("no pending erasure requests to weigh: no request id given")
        selection = _requests_words(ids)
    else:
        ids = pending_selection(ws, firm=firm, taker=taker)
        selection = _selection(firm, taker)
    pending = pending_requests(ws, ids)
    return _together(_Evidence(ws, alpha, families), selection, pending)


def erasure_impact_by_firm(
    ws: Workspace,
    alpha: float = DEFAULT_ALPHA,
    *,
    families: tuple[str, ...] = ALL_FAMILIES,
) -> tuple[CombinedImpact, dict[str, CombinedImpact]]:
    """All pending requests weighed together, and, for each firm whose agents took
    pending requests (in name order), those requests together: the dashboard's page. One
    load of the evidence, one attribution now, and one without each distinct set of
    reports. Refused as :func:`erasure_impact_together` refuses a set; no pending request
    is an :class:`~leaktrace.errors.InputError`."""
    check_alpha(alpha)
    rows = erasure_requests(ws, counts=False)  # pending_requests counts what it weighs
    if not rows:
        raise _none_pending(None, None)
    pending = {
        view.id: (view, matched) for view, matched in pending_requests(ws, [r.id for r in rows])
    }
    evidence = _Evidence(ws, alpha, families)
    every = _together(evidence, _selection(None, None), list(pending.values()))
    by_firm = {
        firm: _together(
            evidence,
            _selection(firm, None),
            [pending[r.id] for r in requests_taken_by(ws, rows, firm=firm)],
        )
        for firm in sorted({r.taker_recipient for r in rows if r.taker_recipient})
    }
    return every, by_firm


def _together(evidence: _Evidence, selection: str, pending: list[_Pending]) -> CombinedImpact:
    gone = frozenset(i for _, matched in pending for i in matched)
    change = evidence.without(gone)
    ids = [view.id for view, _ in pending]
    firms: dict[str, list[int]] = {}
    for view, _ in pending:
        if view.taker_recipient:
            firms.setdefault(view.taker_recipient, []).append(view.id)
    conflicted = tuple(v.id for v, _ in pending if change.conflicted(v.taker_recipient))
    return CombinedImpact(
        selection=selection,
        request_ids=tuple(ids),
        matched_reports=len(gone),
        alpha=evidence.alpha,
        requests=tuple(
            RequestWeighed(view.id, view.actor, view.taker_recipient, len(matched))
            for view, matched in pending
        ),
        **change.shown(),
        conflict=bool(conflicted),
        conflicted_requests=conflicted,
        warnings=tuple(_warnings(ids, len(gone), change, firms)),
    )


def _requests_words(ids: list[int]) -> str:
    """``request 3``, ``requests 3 and 5``, ``requests 3–7, 9 and 12``: ascending ids,
    runs of three or more consecutive ones as a range."""
    parts: list[str] = []
    for _, run in itertools.groupby(enumerate(ids), lambda pair: pair[1] - pair[0]):
        got = [i for _, i in run]
        parts += [f"{got[0]}–{got[-1]}"] if len(got) > 2 else [str(i) for i in got]
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"{'request' if len(ids) == 1 else 'requests'} {listed}"


def _named_how(accused: bool, flags: int, log10_p: float) -> str:
    parts = [f"p ≤ {shown_p(log10_p)}"] if accused else []
    if flags:
        parts.append(f"{flags} campaign flag(s)")
    return ", ".join(parts) if parts else f"p ≤ {shown_p(log10_p)}"


def _warnings(ids: list[int], n: int, change: _Change, firms: dict[str, list[int]]) -> list[str]:
    """The analyst's sentences for erasing the requests ``ids`` (one, or a set weighed
    together) and their ``n`` reports; ``firms``: firm → the requests its agents took."""
    what = _requests_words(ids) + ("" if len(ids) == 1 else " together")
    it = "it" if len(ids) == 1 else f"the {len(ids)} requests together"
    out = []
    for p in change.partners:
        now = _named_how(p.accused_before, p.campaigns_before, p.log10_p_before)
        if not p.still_named:
            out.append(
                f"WARNING: erasing {what} ({n} report(s)) removes the evidence that "
                f"names {p.recipient}: named now ({now}), no longer named after (p ≤ "
                f"{shown_p(p.log10_p_after)})"
            )
        elif p.weakened or (p.exposure_only_after and not p.exposure_only_before):
            then = _named_how(p.accused_after, p.campaigns_after, p.log10_p_after)
            out.append(
                f"WARNING: erasing {what} ({n} report(s)) weakens the evidence "
                f"against {p.recipient}: {now} now, {then} after (still named)"
                + (
                    f"; after, it rests on exposure alone{_held_words(change, p.recipient)}"
                    if p.exposure_only_after and not p.exposure_only_before
                    else ""
                )
            )
    for r in change.newly:
        accused, flags = change.named_after[r]
        alone = (
            f"; it would rest on exposure alone{_held_words(change, r)}"
            if r in change.caveats_after
            else ""
        )
        out.append(
            f"NOTE: after erasing {what}, {r} would be named "
            f"({_named_how(accused, flags, change.p_after.get(r, 0.0))}), which it is not "
            f"now{alone}: a verdict that appears because reports were removed rests on which "
            "ones remain; review it before acting on it"
        )
    for firm, theirs in sorted(firms.items()):
        one = len(theirs) == 1
        taken = (
            f"{_requests_words(theirs)} {'was' if one else 'were'} taken by "
            f"{'an agent' if one else 'agents'} of {firm}"
        )
        confirm = (
            "Confirm the request with the person" if one else "Confirm each of them with its person"
        ) + " through the platform's own channel before erasing"
        if firm in change.named_before:
            mine = next(p for p in change.partners if p.recipient == firm)
            effect = (
                "removes that evidence"
                if not mine.still_named
                else "weakens that evidence"
                if mine.weakened
                else "does not change that evidence"
            )
            out.append(
                f"CONFLICT OF INTEREST: {taken}, which the evidence names now; erasing {it} "
                f"{effect}. {confirm}"
            )
        elif change.newly:
            out.append(
                f"CONFLICT OF INTEREST: {taken}, itself a partner; erasing {it} would name "
                f"{', '.join(change.newly)}, which the evidence does not name now."
                + "".join(_firm_held_words(change, r, firm) for r in change.newly)
                + f" {confirm}"
            )
    return out


def _held_words(change: _Change, r: str) -> str:
    """What follows "rests on exposure alone" in a warning: who held at least 90 % of the
    victims ``r`` would be named for (e.g. ", and zto (58), cs-firm (60) held …")."""
    cav = change.caveats_after[r]
    held = cav["also_held_by"]
    if not held:
        return ""
    return f", and {holders_words(held)[1]} held at least 90 % of its {cav['consistent']} victims"


def _firm_held_words(change: _Change, r: str, firm: str) -> str:
    """The sentence for a firm whose agents' requests would name ``r`` on exposure alone
    while the firm itself held ``r``'s victims: the firm's own copy, filtered to ``r``'s
    customers, explains them as well as ``r`` does."""
    cav = change.caveats_after.get(r)
    mine = next((h for h in cav["also_held_by"] if h["recipient"] == firm), None) if cav else None
    if cav is None or mine is None:
        return ""
    return (
        f" {firm} itself held {mine['victims']} of the {cav['consistent']} victims {r} "
        f"would be named for, on exposure alone: a copy of {firm}'s filtered down to {r}'s "
        "customers would look the same."
    )
