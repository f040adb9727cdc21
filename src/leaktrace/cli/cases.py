"""``leaktrace case …``: victims' advance payments (先行垫付) within an incident."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from leaktrace.cli import app
from leaktrace.cli.common import (
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    out_console,
    print_json,
    resolve_home,
)

__all__ = ["case_app"]

DEFAULT_CAP = 5000.0
"""The default of ``--cap``: :data:`leaktrace.respond.cases.DEFAULT_CAP`, written out here so
that registering the commands does not import the library (tests/test_cli_startup.py pins
that the two agree)."""

case_app = typer.Typer(
    help="Victim cases: advance payment decided from the incident's evidence and the ledger.",
    no_args_is_help=True,
)
app.add_typer(case_app, name="case")


def cli_actor() -> str:
    """Who is at the shell: the system user (recorded with a case, a payment or an erasure
    decision). A scheduler's or container's shell may set neither ``USER`` nor ``LOGNAME``:
    the account database names the user then, the bare uid only when it has no entry."""
    import os
    import pwd

    name = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not name:
        try:
            name = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            name = str(os.getuid())
    return "cli:" + name


IncidentArg = Annotated[str, typer.Argument(help="The incident id (INC-…).")]
CaseArg = Annotated[str, typer.Argument(help="The case id (CASE-…).")]


@case_app.command("open")
@handle_errors
def open_cmd(
    incident_id: IncidentArg,
    order: Annotated[str, typer.Option("--order", help="The victim's order number.")],
    phone: Annotated[str, typer.Option("--phone", help="The order account's mobile number.")],
    occurred: Annotated[
        str, typer.Option("--occurred", help="When the scam took place (ISO; no zone = UTC+8).")
    ],
    loss: Annotated[float, typer.Option("--loss", help="The amount lost, in yuan.")],
    police_receipt: Annotated[
        str, typer.Option("--police-receipt", help="The police report receipt number (报警回执).")
    ],
    cap: Annotated[float, typer.Option("--cap", help="Largest advance per case, in yuan.")] = (
        DEFAULT_CAP
    ),
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Decide a victim's advance payment and record the case (no ID photo is asked for)."""
    from leaktrace.respond.cases import open_case
    from leaktrace.workspace import open_workspace

    case = open_case(
        open_workspace(resolve_home(home)),
        incident_id,
        order_id=order,
        phone=phone,
        occurred=occurred,
        loss=loss,
        police_receipt=police_receipt,
        cap=cap,
        actor=cli_actor(),
    )
    if json_out:
        print_json({"incident": incident_id, **case.as_dict()})
        return
    out_console.print(
        f"[bold]{case.case_id}[/bold]: {case.decision}"
        + (f", advance {case.advance:,.2f} yuan" if case.decision == "advance" else "")
    )
    for r in case.reasons:
        out_console.print(f"  - {escape(r)}")
    out_console.print(f"  告知用户：{escape(case.message_zh)}")


def _payment(
    kind: str,
    incident_id: str,
    case_id: str,
    amount: float,
    note: str,
    home: Path | None,
    json_out: bool,
) -> None:
    from leaktrace.respond.cases import record_payment
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    ev = record_payment(ws, incident_id, case_id, kind, amount, note, actor=cli_actor())
    if json_out:
        # the note as typed (it is stored encrypted; `case show` opens it again)
        print_json({"incident": incident_id, "seq": ev.seq, **ev.body, "note": note.strip()})
    else:
        what = "paid" if kind == "case_paid" else "recovered"
        err_console.print(f"{case_id}: {amount:,.2f} yuan {what} (event {ev.seq})", markup=False)


@case_app.command("paid")
@handle_errors
def paid_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    amount: Annotated[float, typer.Option("--amount", help="Yuan paid to the victim.")],
    note: Annotated[str, typer.Option("--note", help="The payment's reference.")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record an advance paid (at most the decided advance, in total)."""
    _payment("case_paid", incident_id, case_id, amount, note, home, json_out)


@case_app.command("recovered")
@handle_errors
def recovered_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    amount: Annotated[float, typer.Option("--amount", help="Yuan recovered.")],
    note: Annotated[str, typer.Option("--note", help="From whom (公安返还、合作方赔偿 …).")] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record an amount recovered on a case (at most what was paid)."""
    _payment("case_recovered", incident_id, case_id, amount, note, home, json_out)


@case_app.command("list")
@handle_errors
def list_cmd(
    incident_id: IncidentArg, home: HomeOption = None, json_out: JsonOption = False
) -> None:
    """An incident's cases: decisions, advances, payments and recoveries."""
    from leaktrace.respond.cases import case_summary, cases_of
    from leaktrace.respond.incident import load_incident
    from leaktrace.workspace import open_workspace

    inc = load_incident(open_workspace(resolve_home(home)), incident_id)
    cases = cases_of(inc)
    if json_out:
        print_json({"summary": case_summary(inc), "cases": [c.as_dict() for c in cases]})
        return
    t = Table("case", "decision", "loss", "advance", "paid", "recovered")
    for c in cases:
        t.add_row(
            c.case_id,
            c.decision,
            f"{c.loss:,.2f}",
            f"{c.advance:,.2f}",
            f"{c.paid:,.2f}",
            f"{c.recovered:,.2f}",
        )
    out_console.print(t)


@case_app.command("show")
@handle_errors
def show_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """One case with its police receipt number and payment notes decrypted.

    They are stored encrypted; no list or report shows them. Times are platform time
    (UTC+8) with their offset; ``--json`` gives them as stored (UTC)."""
    from leaktrace.respond.cases import case_detail
    from leaktrace.respond.incident import load_incident
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    d = case_detail(ws, load_incident(ws, incident_id), case_id)
    if json_out:
        print_json({"incident": incident_id, **d})
        return
    out_console.print(
        f"[bold]{d['case_id']}[/bold]: {d['decision']}, loss {d['loss']:,.2f}, advance "
        f"{d['advance']:,.2f}, paid {d['paid']:,.2f}, recovered {d['recovered']:,.2f}"
    )
    out_console.print(
        f"  scam at {shown_time(d['occurred_at'])}; opened {shown_time(d['opened_at'])} by "
        f"{escape(d['by'] or '-')}; "
        f"police receipt {escape(d['police_receipt'])}"
    )
    for p in d["payments"]:
        what = "paid" if p["kind"] == "case_paid" else "recovered"
        out_console.print(
            f"  event {p['seq']} {shown_time(p['at'])}: {p['amount']:,.2f} {what}"
            + (f" — {escape(p['note'])}" if p["note"] else "")
            + (f" ({escape(p['by'])})" if p["by"] else "")
        )
