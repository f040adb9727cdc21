"""Where a release's canary cost goes (issue 2's speed clause; session 13).

The 1 % canaries made the 1M-row Parquet cs release 0.3 s slower than the same policy with
canaries off (``release_bench.py --canary-cost``). This splits that figure, on the same
synthetic shop and workspace shape as ``release_bench.py``, in one run:

* ``cs`` and ``cs-no-canaries`` releases, interleaved, median of ``--runs``;
* ``cs`` with the ledger's number reservation replaced by a list of numbers known to be
  free (no reservation rows, no look-up of taken numbers): what reserving costs at most;
* ``cs`` under other GIL switch intervals (``sys.setswitchinterval``): whether the mark
  threads wait on each other for the interpreter;
* the ledger's part on the main thread (session 18): reserving numbers and the final
  record with the canaries' tokens, wall and thread CPU, with canaries on and off (for a
  whole release, ``release`` is process CPU);
* per 200,000-row batch, on one thread: the kernel's canary step (generate, slot in, token
  list) with canaries on and off, and the generation alone, and the whole mark of the
  batch (process CPU: Polars' own threads included).

    .venv/bin/python bench/canary_cost.py --rows 1000000 --runs 5 --out /tmp/cc

The numbers and what they mean are in bench/README.md ("Where the canary cost goes").
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from release_bench import (
    NO_CANARIES,
    add_no_canary_recipient,
    machine,
    make_workspace,
    write_inputs,
)

from leaktrace.io import open_table
from leaktrace.ledger.ledger import Ledger
from leaktrace.release import _BatchKernel, make_plan, release
from leaktrace.workspace import Workspace


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def _row(name: str, samples: list[tuple[float, float]]) -> str:
    wall = statistics.median(w for w, _ in samples)
    cpu = statistics.median(c for _, c in samples)
    return f"| {name} | {wall:.3f} | {cpu:.3f} | {', '.join(f'{w:.2f}' for w, _ in samples)} |"


def releases(ws: Workspace, src: Path, out: Path, runs: int, intervals: list[float]) -> None:
    """Whole releases: canaries on/off, reservation free, GIL switch intervals."""
    real_reserve = Ledger.reserve_canary_contacts
    pool = ws.config.canary_pool.phone_numbers()

    def pre_reserved() -> None:
        # numbers no release has used or holds, taken outside the timing; a release then
        # gets them without a reservation transaction (append still records its tokens)
        taken = Ledger(ws).taken_canary_contacts()
        free = [p for p in reversed(pool) if p not in taken][:40_000]

        def hand_out(
            self: Ledger, release_id: str, pool: object, k: int, rng: object, extra: int = 0
        ) -> list[str]:
            del self, release_id, pool, rng
            out = free[: k + extra]
            del free[: k + extra]
            return out

        Ledger.reserve_canary_contacts = hand_out  # type: ignore[assignment,method-assign]

    def one(rec: str) -> None:
        release(src, recipient=rec, workspace=ws, out=out / f"cc_{rec}{src.suffix}")

    one("cs")  # warm
    cases: dict[str, list[tuple[float, float]]] = {}
    default = sys.getswitchinterval()
    for _ in range(runs):
        cases.setdefault("cs", []).append(_timed(lambda: one("cs")))
        cases.setdefault(NO_CANARIES, []).append(_timed(lambda: one(NO_CANARIES)))
        pre_reserved()
        try:
            cases.setdefault("cs, numbers handed out (no reservation)", []).append(
                _timed(lambda: one("cs"))
            )
        finally:
            Ledger.reserve_canary_contacts = real_reserve  # type: ignore[method-assign]
        for interval in intervals:
            sys.setswitchinterval(interval)
            try:
                cases.setdefault(f"cs, switch interval {interval * 1000:g} ms", []).append(
                    _timed(lambda: one("cs"))
                )
            finally:
                sys.setswitchinterval(default)
    print(f"## {src.name}: whole releases, interleaved, median of {runs}\n")
    print("| case | seconds | CPU seconds | all runs (s) |\n| --- | --- | --- | --- |")
    for name, samples in cases.items():
        print(_row(name, samples))
    print()


def ledger_steps(ws: Workspace, src: Path, out: Path, runs: int) -> None:
    """The ledger's part of a release, on the main thread (which also reads and writes):
    reserving canary numbers (in ``prepare``, batch by batch) and the final record with
    its tokens, after the last batch is written, when no other thread works."""
    timed: dict[str, list[tuple[float, float]]] = {}

    def wrap(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = timed.setdefault(name, [(0.0, 0.0)])
                spent[-1] = (
                    spent[-1][0] + time.perf_counter() - t,
                    spent[-1][1] + time.thread_time() - c,
                )

        return run

    real = {"reserve_canary_contacts": Ledger.reserve_canary_contacts, "append": Ledger.append}
    rows: dict[str, dict[str, list[tuple[float, float]]]] = {}
    try:
        for name, fn in real.items():
            setattr(Ledger, name, wrap(name, fn))
        for _ in range(runs):
            for rec in ("cs", NO_CANARIES):
                timed.clear()
                for name in real:
                    timed[name] = [(0.0, 0.0)]
                whole = _timed(
                    lambda r=rec: release(
                        src, recipient=r, workspace=ws, out=out / f"cl{src.suffix}"
                    )
                )
                got = rows.setdefault(rec, {})
                got.setdefault("release", []).append(whole)
                for name in real:
                    got.setdefault(name, []).append(timed[name][0])
    finally:
        for name, fn in real.items():
            setattr(Ledger, name, fn)
    print(f"## {src.name}: the ledger on the main thread, per release, median of {runs}\n")
    print("| recipient | step | seconds | thread CPU seconds |\n| --- | --- | --- | --- |")
    for rec, steps in rows.items():
        for name, samples in steps.items():
            wall = statistics.median(w for w, _ in samples)
            cpu = statistics.median(c for _, c in samples)
            print(f"| {rec} | {name} | {wall:.3f} | {cpu:.3f} |")
    print()


def batch_steps(ws: Workspace, src: Path) -> None:
    """The kernel's canary step on the first batch, one thread, best of 15."""
    print(f"## {src.name}: canary step per batch (first batch, one thread, best of 15)\n")
    print("| recipient | step | ms | process CPU ms |\n| --- | --- | --- | --- |")
    for rec in ("cs", NO_CANARIES):
        plan = dataclasses.replace(make_plan(ws, rec), release_id="rel-canary-cost")
        source = open_table(src)
        batch = next(source.iter_batches(plan.input_roles()))
        source.close()
        kernel = _BatchKernel(plan, reserve=lambda pool, k, extra: list(pool[:k]))
        prep = kernel.prepare(batch)
        steps: dict[str, Callable[[], object]] = {
            f"generate, slot in, tokens ({prep.canaries} canaries in {batch.height:,} rows)": (
                lambda k=kernel, p=prep: k._with_canaries(p)
            ),
            "generate only": lambda k=kernel, p=prep: k._canaries_within_where(p),
            "the whole mark (canaries, digests, masks, marks, index)": (
                lambda k=kernel, p=prep: k.mark(p)
            ),
        }
        for name, fn in steps.items():
            samples = [_timed(fn) for _ in range(15)]
            best, cpu = min(w for w, _ in samples), min(c for _, c in samples)
            print(f"| {rec} | {name} | {best * 1000:.1f} | {cpu * 1000:.1f} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--intervals", default="0.001,0.0002", help="GIL switch intervals (s)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/leaktrace-canary-cost"))
    ap.add_argument("--csv", action="store_true", help="also the CSV input")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(machine())
    print(f"command: {' '.join(sys.argv)}\n")
    pq_path, csv_path = write_inputs(args.rows, args.out)
    ws = make_workspace(args.out / "ws")
    add_no_canary_recipient(ws)
    intervals = [float(x) for x in args.intervals.split(",") if x]
    for src in [pq_path, *([csv_path] if args.csv else [])]:
        releases(ws, src, args.out, args.runs, intervals)
        ledger_steps(ws, src, args.out, args.runs)
        batch_steps(ws, src)


if __name__ == "__main__":
    main()
