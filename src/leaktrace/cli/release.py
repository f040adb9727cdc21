"""``leaktrace release``, ``releases``, ``verify``, ``resolve``."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leaktrace.cli import app
from leaktrace.cli.common import (
    EncodingOption,
    HomeOption,
    JsonOption,
    err_console,
    freeze_imports,
    handle_errors,
    note_trusted_keys,
    out_console,
    print_json,
    resolve_home,
)
from leaktrace.errors import InputError, LedgerIntegrityError


@app.command("release")
@handle_errors
def release_cmd(
    input: Annotated[
        Path, typer.Argument(help="CSV (UTF-8/GBK/GB18030), XLSX, Parquet or JSON lines.")
    ],
    to: Annotated[str, typer.Option("--to", help="Recipient name.")],
    out: Annotated[Path, typer.Option("--out", help="Output file.")],
    format: Annotated[
        str | None, typer.Option(help="csv|xlsx|parquet|jsonl (default: from --out suffix).")
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
    encoding: EncodingOption = None,
) -> None:
    """Release INPUT to one recipient: filter, mask, mark, add canaries, record in the ledger."""
    from leaktrace.release import release
    from leaktrace.workspace import open_workspace

    freeze_imports("pyarrow.parquet")  # the exposure index is Parquet, whatever --out is
    ws = open_workspace(resolve_home(home))
    if sys.stderr.isatty():
        with Progress(
            TextColumn("release"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as prog:
            task = prog.add_task("rows", total=None)
            res = release(
                input,
                recipient=to,
                workspace=ws,
                out=out,
                format=format,
                progress=lambda n: prog.advance(task, n),
                encoding=encoding,
            )
    else:
        res = release(input, recipient=to, workspace=ws, out=out, format=format, encoding=encoding)
    if json_out:
        print_json(res.summary())
    else:
        err_console.print(
            f"released {res.rows:,} rows ({res.canaries:,} canaries) to {res.recipient} → {out} [{res.release_id}]"
        )
    if res.unreadable_times:  # on stderr in both modes: stdout's JSON keeps its keys
        err_console.print(
            f"note: {res.unreadable_times:,} order_time value(s) of {input} are not a date "
            "and time; where their rows were released, order_time is empty (first at data "
            f"row {res.first_unreadable_time_row})",
            highlight=False,
            markup=False,
        )


@app.command("releases")
@handle_errors
def releases_cmd(
    recipient: Annotated[
        str | None, typer.Option("--recipient", help="Only this recipient.")
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List ledger records.

    Each record's time is platform time (UTC+8) with its offset, as every time a person
    reads (docs/respond.md, "Times people read"); ``--json`` gives it as stored and
    signed (UTC)."""
    from leaktrace.ledger import Ledger
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    entries = Ledger(ws).entries(recipient)
    if recipient is not None and not entries and recipient not in ws.config.recipients:
        # a typo would otherwise look like "no releases"; a removed recipient's records
        # are still listed
        ws.config.recipient(recipient)  # raises UnknownRecipientError, naming the known ones
    if json_out:
        print_json([e.as_dict() for e in entries])
        return
    t = Table("seq", "release", "created", "recipient", "rows", "canaries", "channels", "key")
    for e in entries:
        t.add_row(
            str(e.seq),
            e.release_id,
            shown_time(e.created),
            e.recipient,
            f"{e.rows:,}",
            f"{e.canaries:,}",  # as rows are: "1000" beside "101,000" read as less
            ",".join(e.channels),
            f"v{e.key_version}",
        )
    out_console.print(t)


@app.command("verify")
@handle_errors
def verify_cmd(
    home: HomeOption = None,
    json_out: JsonOption = False,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="A head or checkpoint hash an earlier verify or checkpoint printed (kept "
            "outside the workspace): fail unless the ledger still holds it.",
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The workspace's signing.pub as kept outside it: check every signature "
            "against it, and fail if keys/signing.pub differs (a replaced key pair).",
        ),
    ] = None,
) -> None:
    """Re-check the ledger: chain, signatures, index digests, checkpoints, request seals.

    The chain shows any record altered, inserted or removed from its middle; that its last
    records were removed, or the whole ledger replaced by an older copy, only a head hash
    kept elsewhere can show (--expect-head); that the signing key pair was replaced and the
    ledger re-signed, only a public key kept elsewhere can show (--public-key). An erasure
    request altered or forged in the database (its reason, taker, decision) is named.
    Rows of the operators' logs that no checkpoint pins yet are counted: since the last
    checkpoint, or, before the first, every sealed row (a note, and
    awaiting_first_checkpoint in --json)."""
    wanted = None if expect_head is None else expect_head.strip().lower()
    if wanted is not None and not re.fullmatch(r"[0-9a-f]{64}", wanted):
        raise InputError(
            "--expect-head must be a 64-hex-digit hash as verify or checkpoint printed it"
        )
    from leaktrace.attribution.erasure_requests import verify_requests
    from leaktrace.ledger import Ledger
    from leaktrace.ledger.chain import GENESIS
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    ledger = Ledger(ws)
    res = verify_requests(ws, ledger.verify(public_key=public_key))
    note_trusted_keys(ws)
    if res.ok and wanted not in (None, GENESIS) and not ledger.holds_head(wanted):
        res = dataclasses.replace(
            res,
            ok=False,
            problem=f"the ledger no longer holds the record with head hash {wanted[:16]}…: "
            "records were removed from its end, or it was replaced by an older copy",
        )
    if json_out:
        print_json(res.as_dict())
        if not res.ok:
            raise typer.Exit(LedgerIntegrityError.exit_code)
        return
    if not res.ok:
        raise LedgerIntegrityError(f"ledger does not verify: {res.problem}")
    err_console.print(
        f"ledger OK: {res.records} records, key check values, chain, signatures, index "
        "files and canary tokens verified",
        soft_wrap=True,
    )
    err_console.print(f"head: record {res.head_seq} {res.head_hash}", soft_wrap=True)
    if res.checkpoints:
        err_console.print(
            f"checkpoint: {res.checkpoints} {res.checkpoint_hash} (victim reports, canary "
            "hits, incident events, report erasures, erasure requests and their decisions "
            "it pinned are all present)",
            soft_wrap=True,
        )
        if res.unpinned:
            err_console.print(
                f"{res.unpinned} row(s) recorded since are not pinned yet: run leaktrace "
                "checkpoint to protect them",
                soft_wrap=True,
            )
    elif res.unpinned:
        # before the first checkpoint verify said nothing, though nothing protected them
        rows = f"{res.unpinned:,} sealed row" + ("" if res.unpinned == 1 else "s")
        err_console.print(
            f"note: no checkpoint yet: {rows} (victim reports, canary hits, incident "
            "events, erasures, erasure requests) could be deleted from the database "
            "unseen, as a seal cannot show a row that is gone. `leaktrace checkpoint` pins "
            "them (verify then names any deleted); keep the hash it prints outside the "
            "workspace (verify --expect-head HASH), or whoever can write the workspace can "
            "remove the checkpoint too",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )


@app.command("checkpoint")
@handle_errors
def checkpoint_cmd(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Sign a checkpoint of the release head and the operators' logs.

    A checkpoint pins the victim reports, canary hits, incident events, report erasures,
    erasure requests and their decisions recorded so far: from then on verify names any of
    them deleted (their seals alone cannot show a row
    that is gone). Run it after each intake, or daily, and keep the hash it prints
    outside the workspace (verify --expect-head takes it)."""
    from leaktrace.attribution.store import engine_for
    from leaktrace.ledger import Ledger
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    engine_for(ws)  # a database from before seals gets their columns first
    cp = Ledger(ws).checkpoint()
    if json_out:
        print_json(cp.as_dict())
        return
    new = cp.pinned_text()
    err_console.print(
        f"checkpoint {cp.seq}: release record {cp.state['releases']['seq']}; sealed rows "
        f"pinned since the checkpoint before: {new}",
        soft_wrap=True,
    )
    out_console.print(cp.checkpoint_hash)


@app.command("checkpoints")
@handle_errors
def checkpoints_cmd(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List the signed checkpoints, each with the hash to keep elsewhere.

    For each: when, the release record it pinned, how many rows of each log. The ledger is
    verified first: a list of checkpoints that do not verify would vouch for nothing. Times
    are platform time (UTC+8) with their offset; ``--json`` gives them as stored and
    signed (UTC)."""
    from leaktrace.ledger import Ledger
    from leaktrace.ledger.checkpoint import checkpoints
    from leaktrace.respond.times import shown_time
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    ledger = Ledger(ws)
    ledger.require_valid()
    found = checkpoints(ledger.engine)
    if json_out:
        print_json([cp.as_dict() for cp in found])
        return
    if not found:
        err_console.print("no checkpoint yet (leaktrace checkpoint makes one)")
        return
    t = Table(
        "seq",
        "created",
        "release",
        "reports",
        "hits",
        "incident events",
        "erasures",
        "requests",
        "decisions",
    )
    t.add_column("hash", overflow="fold")  # in full: it is what is kept elsewhere
    for cp in found:
        pinned = cp.pinned()
        t.add_row(
            str(cp.seq),
            shown_time(cp.created),
            str(cp.state["releases"]["seq"]),
            str(pinned["victim_reports"]),
            str(pinned["canary_hits"]),
            str(pinned["incident_events"]),
            str(pinned["report_erasures"]),
            str(pinned["erasure_requests"]),
            str(pinned["erasure_decisions"]),
            cp.checkpoint_hash,
        )
    out_console.print(t)
    out_console.print(f"latest: {found[-1].checkpoint_hash}", soft_wrap=True)


@app.command("resolve")
@handle_errors
def resolve_cmd(
    alias: Annotated[str, typer.Argument(help="An order-number alias as the recipient quoted it.")],
    from_: Annotated[str, typer.Option("--from", help="The recipient whose alias it is.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Map a recipient's order-number alias back to the platform's order number."""
    from leaktrace.alias import resolve_alias
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    from leaktrace.canary import canary_release_of

    order_id, version = resolve_alias(ws, alias, from_)
    canary = canary_release_of(ws, from_, order_id, version)
    if json_out:
        print_json(
            {
                "alias": alias,
                "recipient": from_,
                "order_id": order_id,
                "key_version": version,
                "canary_of": canary,
            }
        )
    else:
        out_console.print(order_id)
        if canary is not None:
            err_console.print(
                f"note: {order_id} is a canary row (伪行) of {canary}: no such order exists "
                "in the shop's table",
                markup=False,
            )
