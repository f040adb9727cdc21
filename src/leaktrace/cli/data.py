"""``leaktrace demo-data``: write the synthetic shop's orders to a file.

Thin shell over :func:`leaktrace.synth.generate_orders` and the atomic
:class:`leaktrace.io.TableWriter` (a crash never leaves a half-written file).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import typer

from leaktrace.cli import app
from leaktrace.cli.common import (
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    print_json,
    resolve_home,
)
from leaktrace.errors import InputError, LeaktraceError

__all__ = ["demo_data", "refuse_workspace_output"]

_BATCH = 100_000


def refuse_workspace_output(home: Path | None, option: str, path: Path) -> None:
    """Refuse an output of a command that needs no workspace (``demo-data``, ``scam
    train``) when it would land in one: the workspace the command would use (``--home``,
    else ``$LEAKTRACE_HOME``, else ``./.leaktrace``, with its ledger kept elsewhere), or any
    folder above the output that holds a ``leaktrace.toml``.

    Why: both commands wrote wherever ``--out`` pointed, and ``demo-data --out
    ws/ledger.db`` or ``scam train --out ws/keys/master.v1.key`` exited 0 having replaced
    the ledger or the master key (every release of that key could no longer be traced).
    Every other command refuses such a path (:meth:`Workspace.refuse_output`); these two
    name no workspace, so the one they would use is checked, and a copy of a workspace
    next to it (``ws-a/``) is recognised by its config. A missing workspace is no error:
    neither command needs one. A workspace that does not open (a broken config or key
    folder) is still refused as a folder, since its files are just as worth keeping."""
    from leaktrace.workspace import CONFIG_NAME, open_workspace

    root = resolve_home(home)
    target = path.resolve()
    if (root / CONFIG_NAME).is_file():
        try:
            ws = open_workspace(root)
        except LeaktraceError:
            pass  # the folder test below still applies to it
        else:
            ws.refuse_output(option, path)
    for folder in target.parents:
        if (folder / CONFIG_NAME).is_file():
            raise InputError(
                f"{option} {path} is inside the workspace {folder}; write it elsewhere"
            )


@app.command("demo-data")
@handle_errors
def demo_data(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    orders: Annotated[
        int, typer.Option("--orders", "-n", min=0, max=1_000_000_000, help="Number of orders.")
    ] = 10_000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed (same seed, same rows).")
    ] = 0,
    format: Annotated[
        Literal["csv", "parquet", "xlsx", "jsonl"] | None,
        typer.Option("--format", help="Output format (default: from the file suffix)."),
    ] = None,
    json_: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Generate a year of realistic synthetic orders of a Chinese online shop."""
    from leaktrace.io import TableWriter
    from leaktrace.synth import generate_orders

    refuse_workspace_output(home, "--out", out)  # first: whatever else is wrong with it
    if not out.parent.exists():
        raise InputError(f"{out.parent}: folder does not exist")
    started = time.perf_counter()
    frame = generate_orders(orders, seed)
    with TableWriter(out, format) as writer:
        # CSV/JSONL stream in batches (progress is meaningful); Parquet/XLSX get one batch,
        # which keeps a single row group / sheet and one schema.
        step = _BATCH if writer.format in ("csv", "jsonl") else max(frame.height, 1)
        batches = list(frame.iter_slices(step)) if frame.height else [frame]
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(console=err_console, transient=True) as progress:
                task = progress.add_task("writing orders", total=max(frame.height, 1))
                for batch in batches:
                    writer.write(batch)
                    progress.advance(task, batch.height)
        else:
            for batch in batches:
                writer.write(batch)
        digest = writer.commit()
    elapsed = time.perf_counter() - started
    if json_:
        print_json(
            {
                "path": str(out),
                "format": writer.format,
                "rows": frame.height,
                "seed": seed,
                "sha256": digest,
                "seconds": round(elapsed, 3),
            }
        )
    else:
        err_console.print(
            f"wrote {frame.height} orders to {out} ({writer.format}, {elapsed:.1f} s)",
            highlight=False,
        )
