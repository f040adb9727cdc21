"""``leaktrace report``, ``canary hit|ingest|adapters|reservations``, ``attribute`` and ``simulate wave``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from leaktrace.cli import app
from leaktrace.cli.common import (
    AlphaOption,
    HomeOption,
    JsonOption,
    ReportOption,
    check_alpha,
    err_console,
    handle_errors,
    out_console,
    print_json,
    resolve_home,
)
from leaktrace.errors import InputError

if TYPE_CHECKING:  # the commands import these when they run: a faster start for the others
    from leaktrace.attribution.erasure import ErasureResult
    from leaktrace.attribution.erasure_impact import CombinedImpact, ErasureImpact
    from leaktrace.attribution.reports import IntakeResult
    from leaktrace.telecom.ingest import IngestResult
    from leaktrace.workspace import Workspace

report_app = typer.Typer(
    help="Victim reports: add, list and erase, and erasure requests.", no_args_is_help=True
)
canary_app = typer.Typer(
    help="Canary contact points: record hits, manage reserved numbers.", no_args_is_help=True
)
simulate_app = typer.Typer(
    help="Simulated scam waves for demos and benchmarks.", no_args_is_help=True
)
app.add_typer(report_app, name="report")
app.add_typer(canary_app, name="canary")
app.add_typer(simulate_app, name="simulate")

CheckpointOption = Annotated[
    bool,
    typer.Option(
        "--checkpoint",
        help="Then sign a checkpoint that pins what was just recorded, as `leaktrace "
        "checkpoint` does (its hash on stderr, to keep elsewhere).",
    ),
]


def _checkpoint_after(ws: Workspace) -> None:
    """The checkpoint an intake command was asked for (``--checkpoint``), after its output.

    Why in the intake commands: rows recorded since the last checkpoint can be deleted
    unseen, and "run `leaktrace checkpoint` after each intake" is easy to forget. What
    was recorded stays recorded if the checkpoint cannot be made (a ledger that does not
    verify, a signing key whose passphrase is not set): the error says so, exit code 2."""
    from leaktrace.errors import LeaktraceError
    from leaktrace.ledger import Ledger

    try:
        cp = Ledger(ws).checkpoint()
    except LeaktraceError as exc:
        exc.message = f"recorded, but no checkpoint was made: {exc.message}"
        raise
    err_console.print(
        f"checkpoint {cp.seq}: {cp.pinned_text()} pinned; keep {cp.checkpoint_hash} "
        "elsewhere (verify --expect-head)",
        soft_wrap=True,
    )


@report_app.command("add")
@handle_errors
def report_add(
    file: Annotated[Path, typer.Argument(help="Reports: JSON lines, JSON array, CSV or XLSX.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
    checkpoint: CheckpointOption = False,
) -> None:
    """Store victim reports; bad rows are kept, flagged and explained."""
    from leaktrace.attribution.reports import add_reports, parse_report_file
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    res = add_reports(ws, parse_report_file(file))
    if json_out:
        print_json(res.as_dict())
    else:
        _say_added(res)
    if checkpoint:
        _checkpoint_after(ws)


def _count(n: int, noun: str) -> str:
    """``1 report``, ``2 reports``, ``1,200 reports``: "1 reports added" read as a slip."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _say_added(res: IntakeResult) -> None:
    out_console.print(
        f"{_count(res.added, 'report')} added ({res.malformed:,} flagged malformed), "
        f"{_count(res.duplicates, 'duplicate')} skipped"
        + (
            "; each flagged report is named below as file:line, the line where it starts "
            "(header = line 1; in a workbook, its row)"
            if res.problems
            else ""
        ),
        markup=False,
        soft_wrap=True,
    )
    for src, reason in res.problems:
        # one line each however long (Rich wraps at the terminal's width, 80 in a pipe)
        err_console.print(f"  {src}: {reason}", markup=False, soft_wrap=True)


@report_app.command("list")
@handle_errors
def report_list(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List stored reports (no victim phone or quoted values are shown).

    Times (when reported, when erased) are platform time (UTC+8) with their offset, as
    every time a person reads; ``--json`` gives them as stored (UTC)."""
    from leaktrace.attribution.erasure import ERASED, UNDONE, erasure_states
    from leaktrace.attribution.store import load_erasures, load_reports, report_is_sealed
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    rows: list[dict[str, Any]] = []
    # an erased report's status as the table says it: the erasure's time in platform time
    # (the JSON's "reason" keeps the stored text)
    erased_shown: dict[int, str] = {}
    stored = load_reports(ws)
    erasures = load_erasures(ws)
    state = erasure_states(ws, stored, erasures)
    for rec in stored:
        if state.get(rec.id) == ERASED:
            er = erasures[rec.id]
            rows.append(
                {
                    "id": rec.id,
                    "reported_at": None,
                    "channel": "",
                    "caller": "",
                    "quoted": [],
                    "fraud_type": rec.fraud_type,
                    "stages": _json_names(rec.stages),
                    "loss": None,
                    "status": ERASED,
                    "reason": f"{er.erased_at} by {er.actor or '?'}: {er.reason}",
                    "source": "",
                    "sealed": True,
                }
            )
            erased_shown[rec.id] = (
                f"{shown_time(str(er.erased_at))} by {er.actor or '?'}: {er.reason}"
            )
            continue
        undone = state.get(rec.id) == UNDONE
        rows.append(
            {
                "id": rec.id,
                "reported_at": rec.reported_at,
                "channel": rec.channel,
                "caller": rec.caller,
                "quoted": _json_names(rec.quoted_roles),
                "fraud_type": rec.fraud_type,
                "stages": _json_names(rec.stages),
                "loss": rec.loss if isinstance(rec.loss, int | float) else None,
                "status": rec.status,
                "reason": rec.reason,
                "source": rec.source,
                "sealed": report_is_sealed(ws, rec),
                **(
                    {"status": UNDONE, "reason": "erased, then put back: not counted"}
                    if undone
                    else {}
                ),
            }
        )
    if json_out:
        print_json(rows)
        return
    t = Table("id", "reported at", "channel", "caller", "quoted", "stages", "loss", "status")
    for r in rows:
        reason = erased_shown.get(r["id"], r["reason"])
        status = str(r["status"]) + (f" ({reason})" if reason else "")
        if not r["sealed"]:
            status = f"UNSEALED, not counted (stored as: {status})"
        # Text, not markup: every cell was written by a report file or the database
        t.add_row(
            *(
                Text(str(cell))
                for cell in (
                    r["id"],
                    shown_time(str(r["reported_at"])) if r["reported_at"] else "—",
                    r["channel"],
                    r["caller"],
                    ",".join(r["quoted"]),
                    ",".join(r["stages"]),
                    "" if r["loss"] is None else f"{r['loss']:.0f}",
                    status,
                )
            )
        )
    out_console.print(t)


@report_app.command("erase")
@handle_errors
def report_erase(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Ids of the reports to erase (`report list`).")
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option(
            "--phone",
            help="Erase every report of this victim's phone number ('-': read it from "
            "standard input, out of the shell's history).",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            help="Why (stored in clear: a ticket number, never personal details). "
            "Default: the person's request under PIPL Art. 47.",
        ),
    ] = None,
    request: Annotated[
        int | None,
        typer.Option(
            "--request",
            help="Erase what this erasure request (taken by customer service, `report "
            "requests`) names, and record the decision. Without --yes: what erasing would "
            "do to the evidence (the partners named now and after, and a conflict of "
            "interest when the agent who took it works for one of them).",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Erase. Without it, only list what would be erased.")
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
    checkpoint: CheckpointOption = False,
) -> None:
    """Erase victim reports at the person's request (PIPL Art. 47).

    What they told us is deleted; the row's id and seal stay so that checkpoints still
    verify (docs/attribution.md)."""
    from leaktrace.attribution.erasure import erase_reports
    from leaktrace.cli.cases import cli_actor
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    if request is not None:
        if ids or phone is not None or reason is not None:
            raise InputError(
                "--request erases what the request names: give no ids, --phone or --reason"
            )
        _decide_request(ws, request, erase=True, note=None, yes=yes, json_out=json_out)
        if checkpoint and yes:
            _checkpoint_after(ws)
        return
    if phone == "-":
        phone = sys.stdin.readline().strip()
    res = erase_reports(ws, ids=ids or [], phone=phone, reason=reason, actor=cli_actor(), apply=yes)
    if json_out:
        print_json(res.as_dict())
    else:
        _say_erased(res, yes=yes, phone=phone)
    if checkpoint and yes:
        _checkpoint_after(ws)


def _decide_request(
    ws: Workspace, request: int, *, erase: bool, note: str | None, yes: bool, json_out: bool
) -> None:
    from leaktrace.attribution.erasure_requests import decide_erasure_request
    from leaktrace.cli.cases import cli_actor

    view, res = decide_erasure_request(
        ws, request, erase=erase, actor=cli_actor(), note=note, apply=yes
    )
    impact = None
    if erase and not yes:  # the dry run: what erasing would do to the evidence
        from leaktrace.attribution.erasure_impact import erasure_impact

        impact = erasure_impact(ws, request)
    if json_out:
        print_json(
            {
                "request": view.as_dict(),
                **({"erasure": res.as_dict()} if res else {}),
                **({"impact": impact.as_dict()} if impact else {}),
            }
        )
        return
    if res is not None:
        _say_erased(res, yes=yes, phone=None)
    if impact is not None:
        _say_impact(impact)
    if yes:
        out_console.print(f"erasure request {view.id}: {view.status} ({view.note})", markup=False)


def _say_impact(impact: ErasureImpact) -> None:
    """The dry run's account of the evidence: who took the request, then
    :func:`_say_change`."""
    taker = impact.taker + (
        f" (an agent of {impact.taker_recipient})" if impact.taker_recipient else ""
    )
    out_console.print(
        f"request {impact.request_id} was taken by {taker}", markup=False, soft_wrap=True
    )
    _say_change(impact, "erasing")


def _say_together(impact: CombinedImpact) -> None:
    """``report requests --impact``: the set weighed, then :func:`_say_change` (the
    CONFLICT lines name the requests whose taker's firm makes it)."""
    n = len(impact.request_ids)
    out_console.print(
        f"{n} pending request(s) weighed together ({impact.selection}): erasing them all "
        f"would erase {impact.matched_reports} report(s); nothing was changed (decide each "
        "with `report erase --request N`)",
        markup=False,
        soft_wrap=True,
    )
    _say_change(impact, "erasing them all")


def _say_change(impact: ErasureImpact | CombinedImpact, erasing: str) -> None:
    """Who is named now and after, each named partner's bound before and after, then the
    warnings (library sentences)."""
    from leaktrace.attribution.erasure_impact import shown_p

    now = ", ".join(impact.named_before) or "no partner"
    after = ", ".join(impact.named_after) or "no partner"
    out_console.print(
        f"the evidence names {now} now; after {erasing} it would name {after}",
        markup=False,
        soft_wrap=True,
    )
    for p in impact.partners:
        state = (
            "no longer named"
            if not p.still_named
            else "still named, weakened"
            if p.weakened
            else "still named, unchanged"
        )
        out_console.print(
            f"  {p.recipient}: p ≤ {shown_p(p.log10_p_before)} now, "
            f"p ≤ {shown_p(p.log10_p_after)} after ({state}; "
            f"campaign flags {p.campaigns_before} → {p.campaigns_after})",
            markup=False,
            soft_wrap=True,
        )
    for w in impact.warnings:
        out_console.print(w, markup=False, style="bold red", soft_wrap=True)


@report_app.command("requests")
@handle_errors
def report_requests(
    all_: Annotated[
        bool, typer.Option("--all", help="Also the decided ones (default: pending only).")
    ] = False,
    firm: Annotated[
        str | None,
        typer.Option(
            "--firm",
            help="Only the requests taken by agents of this firm (agent tokens bound to it: "
            "`token add NAME --role agent --recipient FIRM`).",
        ),
    ] = None,
    taker: Annotated[
        str | None,
        typer.Option(
            "--taker",
            help="Only the requests taken by this taker, as listed (`token:NAME`, "
            "`cli:USER`; a bare NAME is a token's).",
        ),
    ] = None,
    impact: Annotated[
        bool,
        typer.Option(
            "--impact",
            help="Then weigh the pending requests listed together: what erasing all of them "
            "would do to the evidence (partners named now and after, warnings, conflict of "
            "interest). A dry run: nothing is decided or erased.",
        ),
    ] = False,
    request: Annotated[
        list[int] | None,
        typer.Option(
            "--request",
            help="With --impact: weigh these pending requests together (repeat it) instead "
            "of all, --firm's or --taker's.",
        ),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Erasure requests taken by customer service, and what deciding them would erase.

    Taken through `POST /api/v1/erasure-requests`, each waits for an analyst to erase
    (`report erase --request N --yes`) or decline it (`report decline-request N --reason
    ...`). Shows how many reports each would erase; never the phone. Seal FAILS: changed or forged in the database, never acted on
    (`leaktrace verify` names it); none: taken before requests were sealed, never erased
    (take it again, decline this one). --impact weighs the listed pending requests
    together (an insider's requests may each barely move the evidence, and all together
    remove what names their firm); a request whose seal fails, or one without a seal,
    refuses the whole set, naming it."""
    from leaktrace.attribution.erasure_impact import requests_taken_by, taken_by_words
    from leaktrace.attribution.erasure_requests import erasure_requests
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    if request and not impact:
        raise InputError("--request goes with --impact (the requests to weigh together)")
    if impact and all_:
        raise InputError("--impact weighs pending requests only: drop --all")
    ws = open_workspace(resolve_home(home))
    weighed = None
    if impact:  # first: a refused set is one line, with no table before it
        from leaktrace.attribution.erasure_impact import erasure_impact_together

        weighed = erasure_impact_together(ws, request, firm=firm, taker=taker)
    rows = erasure_requests(ws, pending_only=not all_)
    if weighed is not None:
        rows = [r for r in rows if r.id in weighed.request_ids]
    else:
        rows = requests_taken_by(ws, rows, firm=firm, taker=taker)
    if json_out:
        listed = [r.as_dict() for r in rows]
        print_json(listed if weighed is None else {"requests": listed, "impact": weighed.as_dict()})
        return
    if not rows:
        said = taken_by_words(firm, taker)
        out_console.print(
            " ".join(x for x in ("no" if all_ else "no pending", "erasure requests", said) if x),
            markup=False,
        )
        return
    t = Table("id", "received", "taken by", "reason", "status", "reports", "seal")
    for r in rows:
        status = r.status
        if r.decided_at:
            status += f" {shown_time(r.decided_at)} by {r.decided_by}: {r.note}"
        # changed or forged in the database: never acted on (verify names it); none:
        # taken before requests were sealed, never erased
        seal = "FAILS" if r.seal_fails else "ok" if r.sealed else "none"
        t.add_row(
            *(
                Text(str(cell))
                for cell in (
                    r.id,
                    shown_time(r.received_at),
                    r.actor + (f" (agent of {r.taker_recipient})" if r.taker_recipient else ""),
                    r.reason,
                    status,
                    "" if r.matches is None else r.matches,
                    seal,
                )
            )
        )
    out_console.print(t)
    if weighed is not None:
        _say_together(weighed)


@report_app.command("decline-request")
@handle_errors
def report_decline_request(
    request: Annotated[int, typer.Argument(help="The erasure request's id (`report requests`).")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why it is declined (an Art. 47 exception, an unverified identity); stored "
            "in clear: no personal details.",
        ),
    ],
    home: HomeOption = None,
    json_out: JsonOption = False,
    checkpoint: CheckpointOption = False,
) -> None:
    """Decline an erasure request: nothing is erased, the phone is forgotten.

    The request records who declined it and why."""
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    _decide_request(ws, request, erase=False, note=reason, yes=True, json_out=json_out)
    if checkpoint:
        _checkpoint_after(ws)


def _say_erased(res: ErasureResult, *, yes: bool, phone: str | None) -> None:
    names = ", ".join(str(i) for i in res.erased) or "none"
    if yes:
        out_console.print(f"{len(res.erased)} report(s) erased: {names}", markup=False)
    else:
        out_console.print(
            f"{len(res.erased)} report(s) would be erased: {names}; nothing was changed "
            "(add --yes to erase them)",
            markup=False,
            soft_wrap=True,
        )
    if res.already:
        out_console.print(f"already erased: {', '.join(str(i) for i in res.already)}", markup=False)
    if phone is not None and not res.matched_by_phone:
        err_console.print("no stored report is of that phone number", markup=False)


def _json_names(value: object) -> list[str]:
    """A stored JSON list of names; [] when it is not one (an unsealed row may hold
    anything, and listing must not stop at it)."""
    try:
        names = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


@canary_app.command("hit")
@handle_errors
def canary_hit(
    contact: Annotated[str, typer.Option("--contact", help="The canary phone/email reached.")],
    channel: Annotated[str, typer.Option("--channel", help="call, sms, email, qq or wechat.")],
    at: Annotated[str, typer.Option("--at", help="When (ISO 8601).")],
    caller: Annotated[str, typer.Option("--from", help="Caller number or account.")] = "",
    knew: Annotated[
        bool,
        typer.Option(
            "--knew",
            help="The caller used the canary persona's details (recorded; scored "
            "as a plain hit, see docs/attribution.md).",
        ),
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
    checkpoint: CheckpointOption = False,
) -> None:
    """Record a hit on a canary contact point and say which release it names."""
    from leaktrace.attribution.hits import record_hit
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    hit = record_hit(ws, contact=contact, channel=channel, at=at, caller=caller, knew=knew)
    if json_out:
        print_json(hit.as_dict())
    elif hit.status == "canary":
        out_console.print(
            f"canary hit: release {hit.release_id} of recipient [bold]{hit.recipient}[/bold]"
        )
    else:
        out_console.print(f"recorded ({hit.status}): {hit.reason}")
    if checkpoint:
        _checkpoint_after(ws)


@canary_app.command("ingest")
@handle_errors
def canary_ingest(
    path: Annotated[Path, typer.Argument(help="Call/SMS records: a JSON array or JSON lines.")],
    adapter_name: Annotated[
        str,
        typer.Option("--adapter", help="The records' format: local, aliyun-pns (canary adapters)."),
    ] = "local",
    home: HomeOption = None,
    json_out: JsonOption = False,
    checkpoint: CheckpointOption = False,
) -> None:
    """Record the canary hits in a telecom provider's call/SMS records.

    The records are a file exported or saved from a push. Calls to numbers outside the
    canary pool are left aside, and a record ingested before (the provider's id) is not
    recorded again. A record that cannot be read stops the file: nothing is recorded."""
    from leaktrace.telecom import ingest
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    res = ingest(ws, adapter_name, read_records_file(path))
    if json_out:
        print_json(res.as_dict())
    else:
        _say_ingested(res)
    if checkpoint:
        _checkpoint_after(ws)


def _say_ingested(res: IngestResult) -> None:
    named: dict[str, int] = {}
    for h in res.hits:
        if h.status == "canary":
            named[h.recipient] = named.get(h.recipient, 0) + 1
    err_console.print(
        f"{res.received} record(s): {len(res.hits)} hit(s) recorded, {res.duplicates} seen "
        f"before, {len(res.ignored)} left aside (not a contact with a canary pool number)",
        soft_wrap=True,
    )
    for recipient, n in sorted(named.items()):
        out_console.print(f"canary hits naming [bold]{recipient}[/bold]: {n}")
    scams = [x for x in res.scam if x["is_scam"]]
    if scams:
        out_console.print(f"scam messages among them: {len(scams)} ({scams[0]['fraud_type']} …)")


def read_records_file(path: Path) -> Any:
    """A JSON array, or JSON lines (one record per line), in any encoding leaktrace
    detects; one line naming the file (and line) when it cannot be read."""
    from leaktrace.io.encoding import detect_file_encoding
    from leaktrace.io.jsontext import json_lines, loads_json

    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file of records")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size > 512 * 1024 * 1024:
        raise InputError(f"{path}: larger than 512 MiB; split it into smaller files")
    enc = detect_file_encoding(path)
    try:
        text = path.read_bytes().decode(enc).lstrip("\ufeff")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid {enc} text") from None
    if text.lstrip().startswith("["):
        return loads_json(text, str(path))
    return [loads_json(line, f"{path}:{n}") for n, line in json_lines(text)]


@canary_app.command("adapters")
@handle_errors
def canary_adapters(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """The telecom record formats canary ingest and the service's webhook read.

    They are the same in every workspace; --home is accepted like everywhere."""
    del home
    from leaktrace.telecom import adapter, adapter_names

    rows = [{"name": n, "description": adapter(n).description} for n in adapter_names()]
    if json_out:
        print_json(rows)
        return
    table = Table("adapter", "records")
    for r in rows:
        table.add_row(r["name"], r["description"])
    out_console.print(table)


@canary_app.command("reservations")
@handle_errors
def canary_reservations(
    free_older_than: Annotated[
        float | None,
        typer.Option(
            "--free-older-than",
            help="Free numbers reserved more than HOURS ago by releases never recorded "
            "(and any a recorded release kept).",
            metavar="HOURS",
        ),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show canary numbers held by unfinished releases; optionally free stale ones.

    Since when: platform time (UTC+8) with its offset; ``--json`` gives it as stored (UTC)."""
    from datetime import timedelta

    from leaktrace.ledger import Ledger
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    ledger = Ledger(open_workspace(resolve_home(home)))
    freed = None
    if free_older_than is not None:
        # 0 is refused: it would free the numbers of a release running right now. The
        # message said "from 0", which read as if 0 were allowed (session 20).
        if not 0 < free_older_than <= 24 * 365 * 100:  # also refuses nan and inf
            raise InputError(
                "--free-older-than takes a number of hours more than 0 and at most 876,000 "
                "(0 would free the numbers of releases still running)"
            )
        freed = ledger.free_stale_canary_reservations(timedelta(hours=free_older_than))
    open_ = ledger.canary_reservations()
    if json_out:
        print_json({"freed": freed, "reservations": open_})
        return
    if freed is not None:
        out_console.print(f"{freed} reserved numbers freed")
    if not open_:
        out_console.print("no open canary reservations")
        return
    table = Table("release", "numbers", "reserved since")
    for r in open_:
        table.add_row(r["release_id"], str(r["numbers"]), shown_time(r["since"]))
    out_console.print(table)


@app.command("attribute")
@handle_errors
def attribute_cmd(
    since: Annotated[
        str | None, typer.Option("--since", help="Only reports/hits at or after DATE.")
    ] = None,
    report: ReportOption = None,
    alpha: AlphaOption = 1e-9,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Name the recipient whose copy a scam wave came from, or say that none is identified."""
    from leaktrace.attribution.attribute import attribute
    from leaktrace.attribution.campaigns import accused_label, campaign_lines
    from leaktrace.attribution.report_html import write_report
    from leaktrace.attribution.reports import parse_datetime
    from leaktrace.io.writers import check_output_path
    from leaktrace.workspace import open_workspace

    check_alpha(alpha)
    if report:
        check_output_path(report, "--report")
    when = None
    if since is not None:
        when = parse_datetime(since if "T" in since or " " in since else since + "T00:00:00")
        if when is None:
            raise InputError("--since must be a date (YYYY-MM-DD) or ISO 8601 time")
    ws = open_workspace(resolve_home(home))
    ws.refuse_output("--report", report)
    res = attribute(ws, since=when, alpha=alpha)
    if report:
        write_report(res, report)
    if json_out:
        d = res.as_dict()
        print_json(
            {
                k: d[k]
                for k in (
                    "verdict",
                    "alpha",
                    "accused",
                    "candidates",
                    "reports",
                    "flagged",
                    "outside",
                    "explanation",
                    "campaigns",
                    "unsealed",
                    "caveats",
                )
            }
        )
        return
    out_console.print(f"[bold]{res.verdict}[/bold]  (alpha {alpha:g}, {res.tests} recipients)")
    out_console.print(res.explanation["zh"], markup=False)
    out_console.print(res.explanation["en"], markup=False)
    t = Table("recipient", "consistent", "null share (from)", "aliases", "canaries", "log10 p", "")
    exposure_only = {cav["recipient"] for cav in res.caveats}
    for c in res.candidates:
        t.add_row(
            c.recipient,
            f"{c.consistent}/{c.victims}",
            f"{c.pi:.3f} ({c.pi_from})",
            f"{c.alias_hits}/{c.alias_quoted}",
            str(c.canary_hits),
            f"{c.log10_p_corrected:.2f}",
            accused_label(c.recipient in exposure_only) if c in res.accused else "",
        )
    out_console.print(t)
    n_rep, n_hit = res.unsealed["reports"], res.unsealed["canary_hits"]
    if n_rep or n_hit:
        out_console.print(
            f"left out: {n_rep} report(s), {n_hit} canary hit(s) without a valid seal "
            "(altered in the database, written outside leaktrace, or stored before rows "
            "were sealed); each is listed below",
            markup=False,
        )
    for f in res.flagged:
        err_console.print(
            f"  report {f['report']} ({f['source']}): {f['status']} — {f['reason']}", markup=False
        )
    for line in campaign_lines(res.campaigns):
        out_console.print(line, markup=False)
    if report:
        err_console.print(f"report written to {report}")


@simulate_app.command("wave")
@handle_errors
def simulate_wave_cmd(
    source: Annotated[str, typer.Option("--source", help="A recipient, or 'unmarked'.")],
    victims: Annotated[int, typer.Option("--victims", help="Victims from the source.")],
    out: Annotated[Path, typer.Option("--out", help="JSON-lines file to write.")],
    shop: Annotated[
        Path, typer.Option("--shop", help="The shop's orders (the file that was released).")
    ] = Path("demo-out/orders.parquet"),
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    unrelated: Annotated[float, typer.Option(help="Share of unrelated scam reports.")] = 0.2,
    home: HomeOption = None,
) -> None:
    """Write a simulated victim-report wave ready for 'leaktrace report add'."""
    from leaktrace.attribution.simulate import simulate_wave
    from leaktrace.io import read_table
    from leaktrace.io.writers import check_output_path, write_text_atomic
    from leaktrace.workspace import open_workspace

    if not 0 <= unrelated < 1:
        raise InputError("--unrelated must be in [0, 1)")
    ws = open_workspace(resolve_home(home))
    if not shop.exists():
        raise InputError(f"shop file {shop} does not exist (use --shop)")
    df = read_table(shop)
    check_output_path(out, "--out", not_over=[shop])
    ws.refuse_output("--out", out)
    wave = simulate_wave(ws, df, source=source, victims=victims, seed=seed, unrelated=unrelated)
    # owner-only (the wave holds the shop's customers' phones), whole or not at all
    write_text_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in wave))
    err_console.print(f"{len(wave)} reports written to {out}")
