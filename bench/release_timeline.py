"""Per-thread timeline of one release: which thread does what, and where cores sit idle.

Why: on two cores a release is CPU-bound, and the wall time it loses where only one core
works (opening the input and reading the first batch before any marking starts; writing the
last batch, fsyncing and recording the ledger entry after the last marking ends) is as
visible here as it is invisible in a profile. One character per ``--step`` seconds and
thread: R read a batch, P prepare (filter, reserve canary numbers), M mark, W write output,
F finish output (fsync), A ledger append, . nothing of these.

    .venv/bin/python bench/release_timeline.py INPUT [--to cs|courier] [--step 0.02]

The input is any file ``leaktrace release`` reads (e.g. the Parquet file that
``bench/release_bench.py`` writes to ``--out``); two warm-up releases run first.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import leaktrace.io.writers as writers_module
import leaktrace.ledger.ledger as ledger_module
from leaktrace import release as release_module
from leaktrace.workspace import add_recipient, init_workspace

Event = tuple[str, str, float, float]  # thread, label, start, end


def _timed(events: list[Event], label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            events.append((threading.current_thread().name, label, t0, time.perf_counter()))

    return run


def _instrument(events: list[Event]) -> None:
    kernel = release_module._BatchKernel
    kernel.prepare = _timed(events, "P", kernel.prepare)  # type: ignore[method-assign]
    kernel.mark = _timed(events, "M", kernel.mark)  # type: ignore[method-assign]
    writer = writers_module.TableWriter
    writer.write = _timed(events, "W", writer.write)  # type: ignore[method-assign]
    writer.finish = _timed(events, "F", writer.finish)  # type: ignore[method-assign]
    ledger = ledger_module.Ledger
    ledger.append = _timed(events, "A", ledger.append)  # type: ignore[method-assign]
    frames_from = release_module._frames_from

    def timed_frames(*args: Any, **kwargs: Any) -> Any:
        batches, *rest = frames_from(*args, **kwargs)

        def read() -> Iterator[Any]:
            while True:
                t0 = time.perf_counter()
                batch = next(batches, None)
                events.append((threading.current_thread().name, "R", t0, time.perf_counter()))
                if batch is None:
                    return
                yield batch

        return (read(), *rest)

    release_module._frames_from = timed_frames  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("--to", default="cs", choices=["cs", "courier"])
    ap.add_argument("--step", type=float, default=0.02)
    args = ap.parse_args()

    events: list[Event] = []
    _instrument(events)
    home = Path(tempfile.mkdtemp(prefix="release-timeline-"))
    try:
        # as bench/release_bench.py: a 1M-number canary pool, template recipients
        ws = init_workspace(home / "ws", canary_phones=["17090000000-17090999999"])
        add_recipient(ws, "cs", template="customer-service")
        add_recipient(ws, "courier", template="courier")
        out = home / f"out{args.input.suffix}"
        for _ in range(2):
            release_module.release(args.input, recipient=args.to, workspace=ws, out=out)
        events.clear()
        t0 = time.perf_counter()
        release_module.release(args.input, recipient=args.to, workspace=ws, out=out)
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print(f"release {args.to} of {args.input.name}: {total:.2f} s, one column = {args.step} s")
    names = sorted({e[0] for e in events}, key=lambda n: (n != "MainThread", n))
    for name in names:
        cells = []
        for i in range(int(total / args.step) + 1):
            lo, hi = t0 + i * args.step, t0 + (i + 1) * args.step
            mine = [label for n, label, s, e in events if n == name and s < hi and e > lo]
            cells.append(mine[-1] if mine else ".")
        print(f"{name[:18]:18s} {''.join(cells)}")


if __name__ == "__main__":
    main()
