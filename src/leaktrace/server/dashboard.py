"""Server-rendered pages: a scam check anyone can use, and the analysts' dashboard.

No JavaScript: every page is a form and its answer, so it works in any browser a shopper
has, and the content policy can forbid scripts outright. Analysts sign in with their API
token; it is kept in an HttpOnly, SameSite=Strict cookie (a form on another site cannot
post with it) and checked against the token file on every request, so revoking a token
signs its holder out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from leaktrace.errors import InputError, LeaktraceError
from leaktrace.respond.times import shown_field, shown_time
from leaktrace.scam.rules import STAGE_LABELS
from leaktrace.server.app import (
    CASE_REASON_MAX,
    CASE_STEPS,
    COOKIE,
    MAX_CHOSEN,
    MAX_TEXTS,
    ServerError,
    Service,
    case_steps_allowed,
    check_request_ids,
    error_status,
    incident_rows,
    incident_view,
    public_message,
    run_trace,
    shown_name,
    take_case_step,
    taker_firm,
    unechoed,
    verify_ledger,
)
from leaktrace.server.tokens import Principal

if TYPE_CHECKING:
    from leaktrace.attribution.erasure_impact import CombinedImpact
    from leaktrace.attribution.erasure_requests import ErasureRequest
    from leaktrace.respond.incident import Incident

__all__ = ["MAX_CHOSEN", "add_dashboard_routes", "highlight", "too_large_page"]

_env = Environment(
    loader=PackageLoader("leaktrace.server", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_MAX_FORM_TEXT = 20_000


def _shown(value: object, key: str) -> object:
    """An incident event's field as the incident page shows it: times in platform time
    with their offset, as ``leaktrace incident show`` prints them (the API keeps UTC)."""
    return shown_field(key, value)


_env.filters["shown"] = _shown
_env.filters["platform_time"] = shown_time


def _p_bound(log10: float) -> str:
    """A bound as the impact page shows it: never "0" (erasure_impact.shown_p)."""
    from leaktrace.attribution.erasure_impact import shown_p

    return shown_p(log10)


_env.filters["p_bound"] = _p_bound


@dataclass(frozen=True)
class Segment:
    text: str
    stage: str | None  # the stage label for a highlighted cue


def highlight(text: str, spans: list[tuple[int, int, str]]) -> list[Segment]:
    """``text`` cut into plain and highlighted pieces. Where spans overlap, the one that
    starts first keeps the shared characters and the rest of the later one carries its own
    stage (a character belongs to one stage on the page); spans past the end of the text
    (a truncated analysis cannot make them, but a caller might) are clipped."""
    out: list[Segment] = []
    pos = 0
    for start, end, label in sorted(spans):
        start, end = max(start, pos), min(end, len(text))
        if start >= end:
            continue
        if start > pos:
            out.append(Segment(text[pos:start], None))
        out.append(Segment(text[start:end], label))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:], None))
    return out


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status)


def _signed_in(request: Request, *roles: str) -> Principal | None:
    service: Service = request.app.state.service
    who = service.principal(request.cookies.get(COOKIE))
    return who if who is not None and who.role in roles else None


def _analyst(request: Request) -> Principal | None:
    return _signed_in(request, "analyst")


_HOME_OF = {"analyst": "/dashboard", "agent": "/cases"}
"""Where each role lands after signing in (recipients' systems use the API only)."""


def _size(n: int) -> str | None:
    """A byte count as a person reads it (``2 MiB``, ``64 KiB``), or None when it is no
    round number of either."""
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift:,} {unit}"
    return None


def too_large_page(
    request: Request, limit: int, *, status: int = 413, per_field: bool = False
) -> HTMLResponse:
    """The page answering a form or upload posted over its body limit (413), for a person
    at a browser: the API's JSON line would show them raw JSON. One line with the limit,
    the way back to the form and, as on every page, who is signed in; nothing of what
    was posted (its body is not read, and may hold a phone or a leaked file).
    ``per_field``: one field of the form was over the form parser's limit for a field
    (answered ``status`` 400, as the API answers it)."""
    try:
        who = _signed_in(request, *_HOME_OF)
    except ServerError:  # a token file that cannot be read: still the 413, signed out
        who = None
    path = request.url.path
    back = next((p for p in ("/dashboard", "/cases", "/login") if path.startswith(p)), "/")
    size = _size(limit)
    zh = f"{size}（{limit:,} 字节）" if size else f"{limit:,} 字节"
    en = f"{size} ({limit:,} bytes)" if size else f"{limit:,} bytes"
    if per_field:
        error = (
            f"表单中有一项内容过大，每项上限为 {zh}。"
            f"A field of the form is too large: each field may be at most {en}."
        )
    else:
        error = (
            f"提交的表单或文件过大，上限为 {zh}。"
            f"The form or file sent is too large: the limit is {en}."
        )
    return _page("too_large.html", status, who=who, error=error, back=back)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


def _dashboard(request: Request, who: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
    from leaktrace.ledger import Ledger

    service: Service = request.app.state.service
    ws = service.workspace()
    entries = Ledger(ws).entries()
    recipients = [
        {"name": name, "display": r.display_name, "kind": r.kind, "policy": r.policy}
        for name, r in sorted(ws.config.recipients.items())
    ]
    try:
        incidents = incident_rows(ws)
        incidents_error = ""
    except LeaktraceError as exc:  # a tampered record must not hide the rest of the page
        incidents, incidents_error = [], public_message(service.home, exc)
    from leaktrace.attribution.erasure_requests import erasure_requests

    try:
        requests = erasure_requests(ws)
    except LeaktraceError as exc:  # as for incidents: the rest of the page still shows
        requests, extra["erasure_error"] = [], public_message(service.home, exc)
    return _page(
        "dashboard.html",
        status,
        who=who,
        workspace=ws.config.workspace.name,
        incidents=list(reversed(incidents)),
        incidents_error=incidents_error,
        recipients=recipients,
        releases=list(reversed(entries))[:100],
        release_count=len(entries),
        erasure_requests=requests,
        **extra,
    )


@dataclass(frozen=True)
class Waiting:
    """A case decided 'review' as the page lists it: what a person needs to pick it up,
    never a phone (a case holds none) nor the police receipt (stored encrypted; only
    ``leaktrace case show`` opens it). ``steps``: what the signed-in person may do with it
    (:func:`~leaktrace.server.app.case_steps_allowed`), each a button of its form."""

    incident: str
    case_id: str
    loss: float
    opened_at: str
    by: str
    reasons: list[str]
    steps: tuple[str, ...]


def _waiting(inc: Incident, who: Principal) -> list[Waiting]:
    """The incident's cases awaiting a person's review, in the order they were opened."""
    from leaktrace.respond.cases import cases_of

    # when and by whom each case was opened: its first ``case`` event, the one without
    # an ``action`` (the library's Case does not say; :func:`case_opener` reads the same)
    opened = {e.body.get("case_id"): e for e in inc.all("case") if "action" not in e.body}
    out = []
    for c in cases_of(inc):
        if c.decision != "review":
            continue
        by = str(opened[c.case_id].body.get("by", ""))
        out.append(
            Waiting(
                incident=inc.id,
                case_id=c.case_id,
                loss=c.loss,
                opened_at=opened[c.case_id].at,
                by=by,
                reasons=c.reasons,
                steps=case_steps_allowed(who, by),
            )
        )
    return out


def _cases_page(request: Request, who: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
    """The customer-service page: open incidents that name a source, the case form, and
    each such incident's cases awaiting review with the steps the signed-in person may
    take on them."""
    from leaktrace.respond.incident import incident_ids, load_incident

    service: Service = request.app.state.service
    ws = service.workspace()
    open_ones = []
    waiting: list[Waiting] = []
    for i in incident_ids(ws):
        try:
            inc = load_incident(ws, i)
        except LeaktraceError:  # a tampered record takes no cases; the analysts see why
            continue
        if inc.status == "open" and inc.accused:
            open_ones.append({"id": inc.id, "title": inc.title})
            waiting += _waiting(inc, who)
    return _page(
        "cases.html",
        status,
        who=who,
        incidents=open_ones,
        waiting=waiting,
        reason_max=CASE_REASON_MAX,
        **extra,
    )


_REQUEST_ID = re.compile(r"[0-9]{1,10}")
"""A request id as the page takes it: ASCII digits (``int`` would take other scripts'
digits too), at most ten, so that a mobile number (eleven) pasted there is refused
rather than looked up and echoed in "no erasure request has id …"."""

_TOGETHER = "erasure_impact_together.html"


@dataclass(frozen=True)
class Choice:
    """A request as the form of the page of requests weighed together lists it: never
    its phone (a request holds only digests of it) nor its ticket (the dashboard's list
    shows that). ``why_not``: why it cannot be weighed (its checkbox is disabled), empty
    when it can; ``blocks``: it is in the set asked for, which was refused for it."""

    id: int
    received_at: str
    taker: str
    firm: str | None
    seal: str
    """``sealed``, ``seal fails`` or ``no seal``."""
    why_not: str
    ticked: bool
    blocks: bool


def _why_not_weighed(r: ErasureRequest) -> str:
    """Why weighing ``r`` is refused, or "" when it is not: its seal fails, it was
    decided, or it has no seal, checked in the order
    :func:`~leaktrace.attribution.erasure_requests.pending_requests` checks them, so that
    the row says what refusing a set that holds it says (the library decides: this only
    greys out the checkboxes it would refuse)."""
    from leaktrace.attribution.erasure_requests import PENDING

    if r.seal_fails:
        return r.seal_problem
    if r.status != PENDING:
        when = shown_time(r.decided_at) if r.decided_at else "?"
        return f"already decided ({r.status} {when} by {r.decided_by})"
    if not r.sealed:
        return f"{r.seal_problem}; decline it, and take the person's request again"
    return ""


def _chosen_ids(given: list[str], *, firm: str | None, form: bool) -> list[int] | None:
    """The request ids the analyst chose (``?id=``, repeated), or None when the page
    weighs a selection (all pending requests, or ``firm``'s). ``form``: the form was
    submitted (``?chosen=1``), so no id means nothing ticked, not "all". One-line
    :class:`InputError` for bad input; never echoes a value given (a phone pasted there
    must not come back in the page)."""
    # ASCII digits first (int() takes other scripts' digits), then the API's own check
    ids = [int(v) if _REQUEST_ID.fullmatch(v) else -1 for v in given]
    check_request_ids(ids)
    if ids and firm is not None:
        raise InputError("choose requests by id (id=) or those of a firm (firm=), not both")
    if form and not ids:
        raise InputError("no request ticked: tick the requests to weigh together")
    return ids or None


def _asked(listed: list[ErasureRequest], ids: list[int] | None, firm: str | None) -> set[int]:
    """The set the page was asked to weigh: the ``ids`` given, else ``firm``'s pending
    requests, else all pending ones (as the library selects them)."""
    from leaktrace.attribution.erasure_requests import PENDING

    if ids is not None:
        return set(ids)
    return {
        r.id for r in listed if r.status == PENDING and (firm is None or r.taker_recipient == firm)
    }


def _together_page(
    who: Principal,
    listed: list[ErasureRequest],
    asked: set[int],
    *,
    firm: str | None,
    chosen: bool,
    impacts: list[tuple[str, CombinedImpact]],
    status: int = 200,
    error: str = "",
) -> HTMLResponse:
    """The page of requests weighed together: the weighed sets (``impacts``), or the
    ``error`` that refused the set, then the form to choose one. The form lists the
    pending requests and those ``asked`` for; the ``asked`` ones are ticked but for those
    that cannot be weighed, which have no box to tick and, when the set was refused, are
    marked as blocking it. Submitting the form as it stands then weighs the rest: a set the
    analyst chose, not the refused one quietly changed."""
    from leaktrace.attribution.erasure_requests import PENDING

    shown = [r for r in listed if r.status == PENDING or r.id in asked]
    why = {r.id: _why_not_weighed(r) for r in shown}
    tickable = {r.id for r in shown if r.id in asked and not why[r.id]}
    too_many = len(tickable) > MAX_CHOSEN  # none ticked: the form would be refused
    choices = [
        Choice(
            id=r.id,
            received_at=r.received_at,
            taker=r.actor,
            firm=r.taker_recipient,
            seal="seal fails" if r.seal_fails else "sealed" if r.sealed else "no seal",
            why_not=why[r.id],
            ticked=r.id in tickable and not too_many,
            blocks=bool(error) and r.id in asked and bool(why[r.id]),
        )
        for r in shown
    ]
    return _page(
        _TOGETHER,
        status,
        who=who,
        impacts=impacts,
        firm=shown_name(firm, "firm"),  # said in the page's text: no phone pasted there
        chosen=chosen,
        error=error,
        choices=choices,
        blocking=[c.id for c in choices if c.blocks],
        max_chosen=MAX_CHOSEN,
        too_many=too_many,
    )


def add_dashboard_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def check_page() -> HTMLResponse:
        return _page("check.html", max_texts=MAX_TEXTS)

    @app.post("/check", response_class=HTMLResponse, include_in_schema=False)
    def check_form(text: Annotated[str, Form()] = "") -> HTMLResponse:
        from leaktrace.scam import check

        text = text.strip()
        if not text:
            return _page("check.html", 400, error="请粘贴要检查的短信、聊天记录或通话内容。")
        if len(text) > _MAX_FORM_TEXT:
            return _page(
                "check.html",
                413,
                text=text[:_MAX_FORM_TEXT],
                error=f"内容过长：请只粘贴前 {_MAX_FORM_TEXT:,} 个字符。",
            )
        result = check([text])[0]
        spans = [(h.start, h.end, STAGE_LABELS[h.stage]) for h in result.stages]
        return _page(
            "check.html",
            text=text,
            result=result,
            segments=highlight(text, spans),
            stages=[(STAGE_LABELS[h.stage], h.cue) for h in result.stages],
        )

    @app.post("/verify-contact", response_class=HTMLResponse, include_in_schema=False)
    def verify_contact_form(request: Request, contact: Annotated[str, Form()] = "") -> HTMLResponse:
        from leaktrace.scam import verify_contact

        contact = contact.strip()[:300]
        if not contact:
            return _page("check.html", 400, contact_error="请输入电话号码、网址或账号。")
        service: Service = request.app.state.service
        verdict = verify_contact(contact, service.workspace().config.official_contacts)
        return _page("check.html", contact=contact, contact_verdict=verdict)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page() -> HTMLResponse:
        return _page("login.html")

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: Annotated[str, Form()] = "") -> Response:
        service: Service = request.app.state.service
        who = service.principal(token.strip())
        if who is None or who.role not in _HOME_OF:
            return _page(
                "login.html", 401, error="token not accepted (an analyst or agent token is needed)"
            )
        resp = RedirectResponse(_HOME_OF[who.role], status_code=303)
        resp.set_cookie(
            COOKIE,
            token.strip(),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return resp

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> Response:
        who = _analyst(request)
        return _to_login() if who is None else _dashboard(request, who)

    @app.post("/dashboard/verify", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_verify(request: Request) -> Response:
        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        return _dashboard(request, who, verify=verify_ledger(service.workspace()))

    @app.get(
        "/dashboard/incidents/{incident_id}", response_class=HTMLResponse, include_in_schema=False
    )
    def dashboard_incident(request: Request, incident_id: str) -> Response:
        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        try:
            view = incident_view(service.workspace(), incident_id)
        except LeaktraceError as exc:  # the API's statuses: 409 only for a record that
            # does not verify, 404 for an unknown incident
            message = public_message(service.home, exc)
            return _page("incident.html", error_status(exc), who=who, error=message)
        return _page("incident.html", who=who, incident=view)

    @app.get("/cases", response_class=HTMLResponse, include_in_schema=False)
    def cases_page(request: Request) -> Response:
        who = _signed_in(request, "analyst", "agent")
        return _to_login() if who is None else _cases_page(request, who)

    @app.post("/cases", response_class=HTMLResponse, include_in_schema=False)
    def cases_form(
        request: Request,
        incident: Annotated[str, Form()] = "",
        order_id: Annotated[str, Form()] = "",
        phone: Annotated[str, Form()] = "",
        occurred: Annotated[str, Form()] = "",
        loss: Annotated[str, Form()] = "",
        police_receipt: Annotated[str, Form()] = "",
    ) -> Response:
        from leaktrace.respond.cases import open_case

        who = _signed_in(request, "analyst", "agent")
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        try:
            amount = float(loss)
        except ValueError:
            return _cases_page(
                request, who, 400, error="损失金额应为数字 (the loss must be a number)"
            )
        try:
            case = open_case(
                service.workspace(),
                incident,
                order_id=order_id,
                phone=phone,
                occurred=occurred,
                loss=amount,
                police_receipt=police_receipt,
                actor=f"token:{who.name}",
                person=who.person,
            )
        except LeaktraceError as exc:  # the API's statuses: an unknown incident is a 404
            message = public_message(service.home, exc)
            return _cases_page(request, who, error_status(exc), error=message)
        return _cases_page(request, who, case=case, incident_id=incident, just_opened=True)

    @app.post("/cases/step", response_class=HTMLResponse, include_in_schema=False)
    def case_step_form(
        request: Request,
        incident: Annotated[str, Form()] = "",
        case_id: Annotated[str, Form()] = "",
        action: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        another_loss: Annotated[str, Form()] = "",
    ) -> Response:
        """Approve, reject or withdraw a case from the page (a form per waiting case, a
        button per step the signed-in person may take): the API's rules and statuses
        (:func:`~leaktrace.server.app.take_case_step`), the answer the case as it now
        stands with the sentence to read to the victim. Posted from this site only, as
        every form (the same-origin check). The reason is never put back in the page: one
        refused for holding a phone must not come back."""
        who = _signed_in(request, "analyst", "agent")
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        if action not in CASE_STEPS:
            return _cases_page(request, who, 400, step_error="choose approve, reject or withdraw")
        if len(reason) > CASE_REASON_MAX:
            return _cases_page(
                request, who, 400, step_error=f"the reason: at most {CASE_REASON_MAX:,} characters"
            )
        try:
            case = take_case_step(
                service.workspace(),
                who,
                incident,
                case_id,
                action,
                reason,
                another_loss=action == "approve" and another_loss != "",
            )
        except ServerError as exc:
            return _cases_page(request, who, exc.status, step_error=exc.message)
        except LeaktraceError as exc:
            message = public_message(service.home, exc)
            return _cases_page(request, who, error_status(exc), step_error=message)
        return _cases_page(request, who, case=case, step=case.history[-1], incident_id=incident)

    @app.post("/cases/erasure-request", response_class=HTMLResponse, include_in_schema=False)
    def erasure_request_form(
        request: Request,
        phone: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        """Customer service takes a person's erasure request; the page answers the same
        whatever is stored (see :mod:`leaktrace.attribution.erasure_requests`)."""
        from leaktrace.attribution.erasure_requests import request_erasure

        who = _signed_in(request, "analyst", "agent")
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        try:
            rid = request_erasure(
                service.workspace(),
                phone=phone,
                reason=reason,
                actor=f"token:{who.name}",
                taker_recipient=taker_firm(who),
            )
        except LeaktraceError as exc:  # the API's statuses (a broken ledger is no 400)
            message = public_message(service.home, exc)
            return _cases_page(request, who, error_status(exc), erasure_error=message)
        return _cases_page(request, who, erasure_request=rid)

    @app.get(
        "/dashboard/erasure-requests/{request_id}/impact",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def erasure_impact_page(request: Request, request_id: int) -> Response:
        """What erasing a pending request does to the evidence, with its Erase and Decline
        buttons (:mod:`leaktrace.attribution.erasure_impact`); the API's statuses."""
        from leaktrace.attribution.erasure_impact import erasure_impact

        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        try:
            impact = erasure_impact(service.workspace(), request_id)
        except LeaktraceError as exc:
            return _page(
                "erasure_impact.html",
                error_status(exc),
                who=who,
                error=public_message(service.home, exc),
            )
        return _page("erasure_impact.html", who=who, impact=impact)

    @app.get(
        "/dashboard/erasure-requests/impact",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def erasure_impact_together_page(
        request: Request,
        firm: str | None = None,
        given: Annotated[list[str] | None, Query(alias="id")] = None,
        chosen: str | None = None,
    ) -> Response:
        """Pending requests weighed together: all of them, then each firm's (one load of
        the evidence); ``?firm=`` for one firm's only; ``?id=3&id=7`` for those ids (the
        API's parameter; not with ``firm``), which the page's form sends (with
        ``chosen=1``, so that nothing ticked is not taken for "all"). Computed here only:
        the list of requests never runs the attribution. The API's statuses; a set that is
        refused (a request whose seal fails, one without a seal, decided, unknown) is
        refused whole, and the page still lists the requests to choose another set, the
        ones blocking it marked (:func:`_together_page`)."""
        from leaktrace.attribution.erasure_impact import (
            erasure_impact_by_firm,
            erasure_impact_together,
        )
        from leaktrace.attribution.erasure_requests import erasure_requests

        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        ws = service.workspace()
        try:
            ids, bad = _chosen_ids(given or [], firm=firm, form=chosen is not None), ""
        except InputError as exc:  # still the form: the analyst chooses again
            ids, bad = None, public_message(service.home, exc)
        try:  # decided ones too when ids are given: a shared address may name one
            listed = erasure_requests(ws, pending_only=ids is None, counts=False)
        except LeaktraceError as exc:  # nothing to choose from: the error alone
            message = public_message(service.home, exc)
            return _page(_TOGETHER, error_status(exc), who=who, error=message)
        if bad:
            return _together_page(
                who, listed, set(), firm=firm, chosen=False, impacts=[], status=400, error=bad
            )
        asked = _asked(listed, ids, firm)
        try:
            if ids is not None:
                impacts = [("chosen", erasure_impact_together(ws, ids))]
            elif firm is None:
                every, by_firm = erasure_impact_by_firm(ws)
                impacts = [("all", every), *((f"firm-{f}", i) for f, i in by_firm.items())]
            else:
                with unechoed(firm=firm):  # a phone pasted as the firm is not repeated
                    impacts = [(f"firm-{firm}", erasure_impact_together(ws, firm=firm))]
        except LeaktraceError as exc:
            message = public_message(service.home, exc)
            return _together_page(
                who,
                listed,
                asked,
                firm=firm,
                chosen=ids is not None,
                impacts=[],
                status=error_status(exc),
                error=message,
            )
        return _together_page(
            who, listed, asked, firm=firm, chosen=ids is not None, impacts=impacts
        )

    @app.post(
        "/dashboard/erasure-requests/{request_id}",
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def erasure_decision_form(
        request: Request,
        request_id: int,
        decision: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        from leaktrace.attribution.erasure_requests import decide_erasure_request

        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        if decision not in ("erase", "decline"):
            return _dashboard(request, who, 400, erasure_error="decide erase or decline")
        try:
            view, _ = decide_erasure_request(
                service.workspace(),
                request_id,
                erase=decision == "erase",
                actor=f"token:{who.name}",
                note=reason,
            )
        except LeaktraceError as exc:
            message = public_message(service.home, exc)
            return _dashboard(request, who, error_status(exc), erasure_error=message)
        return _dashboard(request, who, erasure_done=view)

    @app.post("/dashboard/trace", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_trace(
        request: Request,
        file: Annotated[UploadFile, File()],
        alpha: Annotated[float, Form()] = 1e-9,
    ) -> Response:
        who = _analyst(request)
        if who is None:
            return _to_login()
        service: Service = request.app.state.service
        try:
            result = run_trace(service, file, alpha, None)
        except LeaktraceError as exc:  # the API's statuses: a ledger that does not
            # verify is a 409, not a 400 (nothing is wrong with the file)
            message = public_message(service.home, exc)
            return _dashboard(request, who, error_status(exc), trace_error=message)
        except ServerError as exc:
            return _dashboard(request, who, exc.status, trace_error=exc.message)
        # a recipient is a candidate once per key version: only the version that was
        # accused is marked (after a rotation the other one sits at chance)
        accused_keys = {(c["recipient"], c["key_version"]) for c in result["accused"]}
        return _page("trace.html", who=who, result=result, accused_keys=accused_keys)
