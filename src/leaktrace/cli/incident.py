"""``leaktrace incident …``: one record per leak, and the drafts made from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from leaktrace.cli import app
from leaktrace.cli.common import (
    EncodingOption,
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    out_console,
    print_json,
    resolve_home,
)
from leaktrace.errors import InputError

if TYPE_CHECKING:
    from leaktrace.respond.incident import Incident
    from leaktrace.respond.regulator import Draft
    from leaktrace.workspace import Workspace

__all__ = ["incident_app"]

incident_app = typer.Typer(
    help="Incidents: evidence, exposed people, measures, notices and the regulator report.",
    no_args_is_help=True,
)
app.add_typer(incident_app, name="incident")

IdArg = Annotated[str, typer.Argument(help="The incident id (INC-…).")]


def _done(json_out: bool, incident_id: str, what: str, event: object) -> None:
    from leaktrace.respond.incident import IncidentEvent

    assert isinstance(event, IncidentEvent)
    if json_out:
        print_json({"incident": incident_id, "seq": event.seq, "kind": event.kind, **event.body})
    else:
        err_console.print(f"{incident_id}: {what} (event {event.seq})", markup=False)


@incident_app.command("open")
@handle_errors
def open_cmd(
    title: Annotated[str, typer.Argument(help="A short title.")],
    discovered: Annotated[
        str,
        typer.Option("--discovered", help="When the platform learnt of it (ISO; no zone = UTC+8)."),
    ],
    summary: Annotated[str, typer.Option("--summary", help="What is known so far.")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Open an incident and print its id."""
    from leaktrace.attribution.reports import parse_datetime
    from leaktrace.respond.incident import open_incident
    from leaktrace.workspace import open_workspace

    when = parse_datetime(discovered)
    if when is None:
        raise InputError("--discovered must be an ISO 8601 date/time")
    inc = open_incident(open_workspace(resolve_home(home)), title, when, summary)
    if json_out:
        print_json({"incident": inc.id, "title": inc.title})
    else:
        out_console.print(inc.id, highlight=False)


@incident_app.command("evidence")
@handle_errors
def evidence_cmd(
    incident_id: IdArg,
    bundle: Annotated[Path, typer.Argument(help="An evidence bundle from 'trace --bundle'.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a trace's evidence bundle (verified with the workspace's public key first)."""
    from leaktrace.respond.incident import record_evidence
    from leaktrace.workspace import open_workspace

    ev = record_evidence(open_workspace(resolve_home(home)), incident_id, bundle)
    accused = ", ".join(ev.body["accused"]) or "none"
    _done(json_out, incident_id, f"evidence recorded: {ev.body['verdict']}, accused {accused}", ev)


@incident_app.command("exposed")
@handle_errors
def exposed_cmd(
    incident_id: IdArg,
    orders: Annotated[Path, typer.Argument(help="The platform's own order table.")],
    out: Annotated[Path, typer.Option("--out", help="The exposed orders (mode 0600).")],
    to: Annotated[
        list[str] | None,
        typer.Option("--to", help="Recipients (default: those the recorded evidence accuses)."),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option("--allow-incomplete", help="Record it even when rows match no order."),
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
    encoding: EncodingOption = None,
) -> None:
    """List the people the incident's recipients were sent, and record the figures."""
    from leaktrace.io.writers import TableWriter, check_output_path
    from leaktrace.respond import exposed
    from leaktrace.respond.incident import load_incident, record_exposure
    from leaktrace.workspace import open_workspace

    check_output_path(out, "--out", not_over=[orders])
    ws = open_workspace(resolve_home(home))
    ws.refuse_output("--out", out)
    inc = load_incident(ws, incident_id)
    if inc.status == "closed":  # before the list of people is written, not after
        raise InputError(f"incident {incident_id} is closed")
    recipients = to or inc.accused
    if not recipients:
        raise InputError(
            f"{incident_id} has no evidence accusing a recipient; record a bundle "
            "(incident evidence) or name them with --to"
        )
    for r in recipients:
        ws.config.recipient(r)
    ex = exposed(ws, orders, recipients=recipients, encoding=encoding)
    if ex.unmatched and not allow_incomplete:
        raise InputError(
            f"{ex.unmatched:,} released rows match no order in {orders}; nothing written or "
            "recorded: give the table the releases were made from, or --allow-incomplete"
        )
    summary = ex.summary()
    # The list is complete on disk before the event records its digest, and visible only
    # after: a list of people that no record points at is personal data nobody will look
    # after, so a failed event discards it (and leaves a list already at --out as it was).
    with TableWriter(out) as listed:
        listed.write(ex.for_people())  # times in platform time
        ev = record_exposure(ws, incident_id, summary, listed.finish(), recipients)
        listed.publish()
    _done(
        json_out,
        incident_id,
        f"{summary['orders']:,} orders, {summary['people']:,} people exposed by "
        f"{', '.join(recipients)} → {out}",
        ev,
    )


@incident_app.command("measure")
@handle_errors
def measure_cmd(
    incident_id: IdArg,
    text: Annotated[str, typer.Argument(help="A measure taken (Chinese, as it will be reported).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a measure the platform has taken."""
    from leaktrace.respond.incident import add_event, clean_text
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    ev = add_event(ws, incident_id, "measure", {"text": clean_text(text, "the measure")})
    _done(json_out, incident_id, "measure recorded", ev)


@incident_app.command("grade")
@handle_errors
def grade_cmd(
    incident_id: IdArg,
    grade: Annotated[
        str,
        typer.Argument(help="一般, 较大, 重大 or 特别重大 (网络安全事件分级指南)."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why this grade.")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record the incident's grade, which the regulator report states.

    A later grade replaces it in the report; 较大 and above are reported within 4 hours of
    discovery (1 hour for critical information infrastructure)."""
    from leaktrace.respond.incident import record_grade
    from leaktrace.workspace import open_workspace

    ev = record_grade(open_workspace(resolve_home(home)), incident_id, grade, reason)
    _done(json_out, incident_id, "grade recorded", ev)


@incident_app.command("notified")
@handle_errors
def notified_cmd(
    incident_id: IdArg,
    people: Annotated[
        int,
        typer.Option("--people", help="How many exposed people have been told, in total so far."),
    ],
    channel: Annotated[str, typer.Option("--channel", help="How (短信、App 站内信 …).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record how many exposed people have been notified, in total so far."""
    from leaktrace.respond.incident import record_notified
    from leaktrace.workspace import open_workspace

    ev = record_notified(open_workspace(resolve_home(home)), incident_id, people, channel)
    _done(json_out, incident_id, "notification recorded", ev)


@incident_app.command("reported")
@handle_errors
def reported_cmd(
    incident_id: IdArg,
    authority: Annotated[str, typer.Option("--to", help="The authority (属地网信部门 …).")],
    reference: Annotated[str, typer.Option("--reference", help="Its receipt number.")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record that the incident was reported to an authority."""
    from leaktrace.respond.incident import add_event, clean_text
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    body = {
        "authority": clean_text(authority, "--to"),
        "reference": clean_text(reference, "--reference", required=False),
    }
    ev = add_event(ws, incident_id, "reported", body)
    _done(json_out, incident_id, "report to the authority recorded", ev)


@incident_app.command("close")
@handle_errors
def close_cmd(
    incident_id: IdArg,
    resolution: Annotated[str, typer.Option("--resolution", help="How it ended.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Close the incident (no event can be added after this)."""
    from leaktrace.respond.incident import add_event, clean_text
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    body = {"resolution": clean_text(resolution, "--resolution")}
    ev = add_event(ws, incident_id, "closed", body)
    _done(json_out, incident_id, "closed", ev)


@incident_app.command("list")
@handle_errors
def list_cmd(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List incidents (each verified; one that does not verify is an error)."""
    from leaktrace.respond.incident import incident_ids, load_incident
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    incidents = [load_incident(ws, i) for i in incident_ids(ws)]
    if json_out:
        print_json([i.row() for i in incidents])
        return
    t = Table("incident", "title", "status", "accused", "events")
    for i in incidents:
        t.add_row(i.id, escape(i.title), i.status, ", ".join(i.accused), str(len(i.events)))
    out_console.print(t)


@incident_app.command("show")
@handle_errors
def show_cmd(incident_id: IdArg, home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Show an incident's events, verified, and its head hash (keep it elsewhere).

    Times are platform time (UTC+8) with their offset; ``--json`` gives them as stored (UTC)."""
    from leaktrace.respond.incident import load_incident
    from leaktrace.respond.times import shown_field, shown_time
    from leaktrace.workspace import open_workspace

    inc = load_incident(open_workspace(resolve_home(home)), incident_id)
    if json_out:
        print_json(inc.as_dict())
        return
    out_console.print(f"[bold]{inc.id}[/bold] {escape(inc.title)} ({inc.status})")
    for e in inc.events:
        shown = ", ".join(
            f"{k}={shown_field(k, v)}" for k, v in e.body.items() if not isinstance(v, dict | list)
        )
        out_console.print(
            f"  {e.seq}. {shown_time(e.at)} {e.kind}: {escape(shown)}", soft_wrap=True
        )
    err_console.print(f"head: {inc.head_hash}")


def _draft(
    incident_id: str,
    out: Path,
    home: Path | None,
    make: Callable[[Workspace, Incident], Draft],
) -> Draft:
    """A draft of the incident, after checking where it will be written: not over another
    file given, not inside the workspace."""
    from leaktrace.io.writers import check_output_path
    from leaktrace.respond.incident import load_incident
    from leaktrace.workspace import open_workspace

    check_output_path(out, "--out", not_over=[])
    ws = open_workspace(resolve_home(home))
    ws.refuse_output("--out", out)
    return make(ws, load_incident(ws, incident_id))


@incident_app.command("report")
@handle_errors
def report_cmd(
    incident_id: IdArg,
    out: Annotated[Path, typer.Option("--out", help="The draft (Markdown).")],
    contact: Annotated[str, typer.Option("--contact", help="The person the authority calls.")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Draft the report to the regulator from what the incident recorded."""
    from leaktrace.io.writers import write_text_atomic
    from leaktrace.respond.regulator import regulator_report

    draft = _draft(incident_id, out, home, lambda ws, inc: regulator_report(ws, inc, contact))
    write_text_atomic(out, draft.text)
    if json_out:
        print_json({"incident": incident_id, "out": str(out), "missing": draft.missing})
        return
    err_console.print(f"report draft written to {out}", markup=False)
    for item in draft.missing:
        err_console.print(f"  still to fill in: {item}", markup=False)


@incident_app.command("notice")
@handle_errors
def notice_cmd(
    incident_id: IdArg,
    out: Annotated[Path, typer.Option("--out", help="The notice text.")],
    contact: Annotated[
        str, typer.Option("--contact", help="How people reach the platform.")
    ] = "App 内“我的-客服”",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Draft the notice to the exposed people from the recorded exposure and measures."""
    from leaktrace.io.writers import write_text_atomic
    from leaktrace.respond.regulator import notice_draft

    draft = _draft(incident_id, out, home, lambda ws, inc: notice_draft(ws, inc, contact))
    if draft.missing:
        raise InputError(
            f"{incident_id}: nothing true to tell people yet; record {' and '.join(draft.missing)}"
        )
    write_text_atomic(out, draft.text)
    if json_out:
        print_json({"incident": incident_id, "out": str(out)})
    else:
        err_console.print(f"notice draft written to {out}", markup=False)
