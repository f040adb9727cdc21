"""Release time as the ledger grows (issue 2: a release must not slow down with history).

Why: every release records its canary tokens (1 % of its rows) and reserves their numbers
against every token recorded before, so the ledger's size is part of a release's cost.
Session 5 found releases slowing from 1.35 s to 1.75 s over 70 releases of 1M rows (four
token indexes nothing queried; a reservation query SQLAlchemy rebuilt for every 900
numbers). This script makes that visible: it releases the same 1M-row Parquet file again
and again into one fresh workspace (canary pool of 1M numbers, as ``release_bench.py``)
and prints, at chosen points, the release time and the time of its two ledger steps.

    .venv/bin/python bench/ledger_growth.py --rows 1000000 --releases 60 --out /tmp/lg

``--src DIR`` runs another checkout's package (``DIR/src``) against the same input, to
compare commits in one sitting.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--releases", type=int, default=60)
    ap.add_argument("--report", default="1,10,20,30,40,50,60", help="release numbers to print")
    ap.add_argument("--out", type=Path, default=Path("/tmp/leaktrace-ledger-growth"))
    ap.add_argument("--src", type=Path, help="a checkout whose src/ to run instead")
    args = ap.parse_args()
    if args.src:
        sys.path.insert(0, str(args.src / "src"))
    sys.path.insert(0, str(Path(__file__).parent))
    from release_bench import make_workspace, write_inputs

    import leaktrace.ledger.ledger as ledger_module
    from leaktrace.release import release

    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

        return run

    cls = ledger_module.Ledger
    cls.reserve_canary_contacts = timed("reserve", cls.reserve_canary_contacts)  # type: ignore[method-assign]
    cls.append = timed("append", cls.append)  # type: ignore[method-assign]

    args.out.mkdir(parents=True, exist_ok=True)
    pq_path, _ = write_inputs(args.rows, args.out)
    home = args.out / "ws"
    shutil.rmtree(home, ignore_errors=True)
    ws = make_workspace(home)
    report = {int(x) for x in args.report.split(",")}
    print(f"package: {ledger_module.__file__}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}\n")
    print("| release | tokens before | release s | reserve s | record s |")
    print("|---|---|---|---|---|")
    tokens = 0
    for i in range(1, args.releases + 1):
        spent.clear()
        t0 = time.perf_counter()
        res = release(pq_path, recipient="cs", workspace=ws, out=args.out / "rel.parquet")
        wall = time.perf_counter() - t0
        if i in report:
            print(
                f"| {i} | {tokens:,} | {wall:.2f} | {spent.get('reserve', 0):.2f} | "
                f"{spent.get('append', 0):.2f} |",
                flush=True,
            )
        tokens += res.canaries
        (home / res.entry.index_file).unlink()  # keep the disk flat; the ledger keeps growing


if __name__ == "__main__":
    main()
