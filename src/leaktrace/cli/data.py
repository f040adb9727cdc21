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
from leaktrace.cli.common import JsonOption, err_console, handle_errors, print_json
from leaktrace.errors import InputError

__all__ = ["demo_data"]

_BATCH = 100_000


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
) -> None:
    """Generate a year of realistic synthetic orders of a Chinese online shop."""
    from leaktrace.io import TableWriter
    from leaktrace.synth import generate_orders

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
