"""``leaktrace exposed``: the people a leak exposed, and a draft of their notice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command("exposed")
@handle_errors
def exposed_cmd(
    orders: Annotated[
        Path,
        typer.Argument(help="The platform's own order table the releases were made from."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="The exposed orders (CSV, XLSX, Parquet or JSON lines; mode 0600)."
        ),
    ],
    to: Annotated[
        list[str] | None, typer.Option("--to", help="A recipient of the incident (repeatable).")
    ] = None,
    release_ids: Annotated[
        list[str] | None, typer.Option("--release", help="A release of the incident (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only releases made at or after this ISO date.")
    ] = None,
    notice: Annotated[
        Path | None,
        typer.Option("--notice", help="Write a draft of the notice to the people (PIPL art. 57)."),
    ] = None,
    contact: Annotated[
        str, typer.Option("--contact", help="How people reach the platform, for the notice.")
    ] = "App 内“我的-客服”",
    measures: Annotated[
        str | None,
        typer.Option("--measures", help="Measures taken, for the notice (required with it)."),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Write the list even when released rows match no order in ORDERS.",
        ),
    ] = False,
    home: HomeOption = None,
    json_out: JsonOption = False,
    encoding: EncodingOption = None,
) -> None:
    """List the orders (and people) that went out in an incident's releases."""
    from leaktrace.attribution.reports import parse_datetime
    from leaktrace.io.writers import TableWriter, check_output_path, write_together
    from leaktrace.respond import exposed
    from leaktrace.workspace import open_workspace

    check_output_path(out, "--out", not_over=[orders])
    if notice:
        check_output_path(notice, "--notice", not_over=[orders, out])
        if not measures or not measures.strip():
            # the notice states them to every person: no default may claim what was not done
            raise InputError("--notice needs --measures: the measures the platform has taken")
        from leaktrace.respond.incident import clean_text

        clean_text(measures, "--measures")  # goes to every exposed person: no phone in it
    when = None
    if since is not None:
        when = parse_datetime(since)
        if when is None:
            raise InputError("--since must be an ISO 8601 date/time")
    ws = open_workspace(resolve_home(home))
    for option, path in (("--out", out), ("--notice", notice)):
        ws.refuse_output(option, path)
    for r in to or []:
        ws.config.recipient(r)  # an unknown name is an error naming the known ones
    ex = exposed(ws, orders, recipients=to, release_ids=release_ids, since=when, encoding=encoding)
    if ex.unmatched and not allow_incomplete:
        if ex.float_order_id is not None:
            # Excel/WPS keep a 16-19 digit order number typed as a number as a float: the
            # error blamed "leading zeros", which these numbers never have (session 21)
            raise InputError(
                f"the order numbers in {orders} {_stored_as_floats(ex.float_order_id)}, so "
                f"{ex.unmatched:,} released rows match none of them; nothing written: export "
                "the order-number column as text from the system the table came from (this "
                "copy has lost the digits; in pandas, read it with dtype=str)"
            )
        raise InputError(
            f"{ex.unmatched:,} released rows match no order in {orders} (the table lacks "
            "them, or is not the one the releases were made from); nothing written: give "
            "the table the releases were made from, or --allow-incomplete"
        )
    notice_text: list[tuple[Path, bytes]] = []
    if notice:
        partners = {
            r: (ws.config.recipients[r].display_name or r) if r in ws.config.recipients else r
            for r in {e.recipient for e in ex.releases}
        }
        text = ex.notice_zh(contact, measures or "", partners) + "\n"
        notice_text.append((notice, text.encode("utf-8")))
    with TableWriter(out) as listed:
        listed.write(ex.for_people())  # times in platform time
        listed.finish()
        # the list of people and their notice: both or neither
        write_together(notice_text, finished=[listed])
    summary = ex.summary()
    if json_out:
        print_json(summary)
        return
    out_console.print(
        f"[bold]{summary['orders']:,} orders, {summary['people']:,} people[/bold] exposed in "
        f"{len(summary['releases'])} release(s); fields: {escape(', '.join(summary['fields']))}"
    )
    t = Table("recipient", "orders exposed")
    for r, n in sorted(summary["by_recipient"].items()):
        t.add_row(escape(r), f"{n:,}")
    out_console.print(t)
    if summary["unmatched_index_rows"]:
        why = ""
        if ex.float_order_id is not None:
            why = (
                f"; its order numbers {_stored_as_floats(ex.float_order_id)}: export the "
                "order-number column as text"
            )
        err_console.print(
            escape(
                f"warning: {summary['unmatched_index_rows']:,} released rows match no order "
                f"in {orders}: the list is incomplete (--allow-incomplete){why}"
            ),
            soft_wrap=True,
        )
    if summary["ambiguous_rows"]:
        err_console.print(
            f"note: {summary['ambiguous_rows']:,} rows share an order number with another row "
            "and no phone tells which one was released: all are listed (column ambiguous)"
        )
    err_console.print(f"exposed orders written to {out}")
    if notice:
        err_console.print(f"notice draft written to {notice}")


def _stored_as_floats(example: str) -> str:
    """Why a table's order numbers match no released row, when they look like floats
    (:attr:`leaktrace.respond.exposure.Exposure.float_order_id` is ``example``)."""
    return (
        "were stored as floating-point numbers, which keep only 15 to 17 of their digits "
        f"(the table reads {example}, as a spreadsheet stores a long number)"
    )
