"""Where a release's canary time goes, measured inside a release (session 26).

Wraps the kernel's calls (``_BatchKernel.prepare`` — which reserves the batch's canary
numbers —, ``_with_canaries``, ``mark``, and the generation and placement of canaries they
call) to sum their thread CPU and wall time, then runs a few releases of one recipient
after a warm-up. Thread CPU of a call counts the calling thread only: Polars' own worker
threads, the tokens recorded and the page faults show in the process's CPU, printed
beside it.

    .venv/bin/python bench/canary_split.py --recipient cs
    .venv/bin/python bench/canary_split.py --recipient cs-no-canaries

The input and workspace are release_bench.py's (``--out``: its folder, with
``orders_1000000.parquet`` made by a release_bench run).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import release_bench as rb  # sets the CLI's allocator settings before Polars loads

import leaktrace.release as release_module
from leaktrace.workspace import open_workspace

STATS: dict[str, list[float]] = {}


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            s = STATS.setdefault(name, [0, 0.0, 0.0])
            s[0] += 1
            s[1] += time.thread_time() - cpu
            s[2] += time.perf_counter() - wall

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipient", default="cs", help="cs, courier or cs-no-canaries")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("/tmp/s15/rb"))
    args = ap.parse_args()
    kernel = release_module._BatchKernel
    for name in ("prepare", "_with_canaries", "mark"):
        setattr(kernel, name, timed(name, getattr(kernel, name)))
    for name in ("generate_canaries", "place_canaries"):
        setattr(release_module, name, timed(name, getattr(release_module, name)))
    home = args.out / "canary_split_ws"
    if not home.exists():
        rb.add_no_canary_recipient(rb.make_workspace(home))
    ws = open_workspace(home)
    src = args.out / "orders_1000000.parquet"
    out = args.out / "canary_split.parquet"
    release_module.release(src, recipient=args.recipient, workspace=ws, out=out)  # warm-up
    for _ in range(args.runs):
        STATS.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        release_module.release(src, recipient=args.recipient, workspace=ws, out=out)
        calls = ", ".join(
            f"{k} {int(v[0])}x: thread CPU {v[1]:.2f} s, wall {v[2]:.2f} s"
            for k, v in STATS.items()
        )
        print(
            f"{args.recipient}: wall {time.perf_counter() - wall:.2f} s, "
            f"process CPU {time.process_time() - cpu:.2f} s; {calls}",
            flush=True,
        )


if __name__ == "__main__":
    main()
