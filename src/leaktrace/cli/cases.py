"""``leaktrace case …``: victims' advance payments (先行垫付) within an incident."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from leaktrace.respond.cases import Case

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


ReasonOption = Annotated[
    str,
    typer.Option(
        "--reason",
        help="Why (stored encrypted; `case show` opens it). No phone or ID number.",
    ),
]


def _step_out(incident_id: str, case: Case, json_out: bool) -> None:
    """What a review or a withdrawal prints: the case as it now stands, the event that
    recorded it, and what to tell the victim (never the reason: it is kept encrypted)."""
    step = case.history[-1]
    if json_out:
        print_json(
            {
                "incident": incident_id,
                **case.as_dict(),
                "action": step.action,
                "event": step.seq,
                "by": step.by,
                **({"another_loss": step.another_loss} if step.action == "approved" else {}),
            }
        )
        return
    if step.action == "approved":
        line = f"{case.case_id}: advance, advance {case.advance:,.2f} yuan (approved on review"
        line += f"{', as another loss' if step.another_loss else ''}, event {step.seq})"
    elif step.action == "withdrawn":
        line = f"{case.case_id}: withdrawn (event {step.seq}); the order may have a new case"
    else:
        line = f"{case.case_id}: {step.action} (event {step.seq})"
    out_console.print(line, markup=False)
    out_console.print(f"  告知用户：{escape(case.message_zh)}")


@case_app.command("approve")
@handle_errors
def approve_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    reason: ReasonOption,
    another_loss: Annotated[
        bool,
        typer.Option(
            "--another-loss",
            help="The order or police receipt already has an advance, and a person checked "
            "that this is a second loss.",
        ),
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a 'review' case once a person checked that the caller owns the order.

    It becomes an advance of the loss up to the case's cap, payable with `case paid`."""
    from leaktrace.respond.cases import review_case
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    case = review_case(
        ws,
        incident_id,
        case_id,
        "approved",
        reason,
        actor=cli_actor(),
        another_loss=another_loss,
    )
    _step_out(incident_id, case, json_out)


@case_app.command("reject")
@handle_errors
def reject_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    reason: ReasonOption,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject a case decided 'review': closed, nothing paid.

    The order may then have another case (its owner's): a refused claim does not lock the
    owner out."""
    from leaktrace.respond.cases import review_case
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    case = review_case(ws, incident_id, case_id, "rejected", reason, actor=cli_actor())
    _step_out(incident_id, case, json_out)


@case_app.command("withdraw")
@handle_errors
def withdraw_cmd(
    incident_id: IncidentArg,
    case_id: CaseArg,
    reason: ReasonOption,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Withdraw a case opened by mistake (a mistyped phone, loss or scam time).

    It stays in the record, is no longer counted, and the order may be opened again.
    Refused once anything was paid on it, and for a rejected case."""
    from leaktrace.respond.cases import withdraw_case
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    case = withdraw_case(ws, incident_id, case_id, reason, actor=cli_actor())
    _step_out(incident_id, case, json_out)


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
    """An incident's cases: decisions, advances, payments and recoveries.

    Each case as it stands (after a review or a withdrawal); the summary (`--json`) does
    not count withdrawn cases."""
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
        approved = any(step.action == "approved" for step in c.history)
        t.add_row(
            c.case_id,
            f"{c.decision} (approved)" if c.decision == "advance" and approved else c.decision,
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
    """One case with its police receipt number, payment notes and review reasons decrypted.

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
    if d["history"]:
        out_console.print(f"  decided '{d['opened_decision']}' when opened")
    # the case's later decisions and its payments, in the order they were recorded
    lines: list[tuple[int, str]] = []
    for p in d["payments"]:
        what = "paid" if p["kind"] == "case_paid" else "recovered"
        lines.append(
            (
                p["seq"],
                f"  event {p['seq']} {shown_time(p['at'])}: {p['amount']:,.2f} {what}"
                + (f" — {escape(p['note'])}" if p["note"] else "")
                + (f" ({escape(p['by'])})" if p["by"] else ""),
            )
        )
    for h in d["history"]:
        what = "approved on review" if h["action"] == "approved" else h["action"]
        after = f"advance {h['advance']:,.2f}" if h["decision"] == "advance" else h["decision"]
        lines.append(
            (
                h["seq"],
                f"  event {h['seq']} {shown_time(h['at'])}: {what} ({h['from']} → {after}"
                + (", as another loss" if h["another_loss"] else "")
                + f") — {escape(h['reason'])}"
                + (f" ({escape(h['by'])})" if h["by"] else ""),
            )
        )
    for _, line in sorted(lines):
        out_console.print(line)
