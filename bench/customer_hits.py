"""What the customer check of canary hits costs as the ledger grows (session 15).

``leaktrace.attribution.hits.customers_among`` tells which pool numbers some release also
carries as a real customer's phone (such a hit names nobody: docs/attribution.md, a hit's
``customer`` status). ``canary hit`` asks it for one number, ``canary ingest`` per file and
the telecom push per payload. Without a cache an exact answer reads the ``customer``
column of every exposure index file, so the cost grows with the ledger.

The workspace: a canary pool of 3M numbers that also lists 50 real customers' phones (a
pool typed wrong); ``--tables`` synthetic shops of ``--rows`` orders are released in turn,
alternately to a customer-service firm and a courier (real releases, real index files),
``--releases`` times. After each release count in ``--at`` it times, in this process (the
index files in the page cache, as on a server), median of ``--runs``, interleaved:

* floor (Polars), floor (DuckDB): read every index file's ``customer`` column once (a
  ``bit_xor`` of it) — the least an exact answer without a cache reads;
* 1 hit: ``customers_among`` for one number (one of the 50 customers' phones);
* push: ``customers_among`` for ``--push`` numbers (a third issued canary numbers, the 50
  customers' phones, the rest pool numbers never issued); the table gives how many of
  them are customers: the 50, and pool numbers some shop's customers also have (the
  synthetic phones use the 170 prefix too);
* with ``--old-rev REV``: both calls with ``attribution/hits.py`` as it was at REV (the
  rest of the package as it is now), checked to give the same set.

    .venv/bin/python bench/customer_hits.py --rows 1000000 --releases 100 --at 1,25,50,100 \
        --old-rev b7b896c --out /tmp/customer-hits
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import polars as pl
from release_bench import machine
from revision import module_at

from leaktrace.attribution.hits import customers_among
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

POOL = ["17090000000-17090999999", "17091000000-17091999999", "17092000000-17092999999"]


def _old_module(rev: str, out: Path) -> ModuleType:
    return module_at(rev, "src/leaktrace/attribution/hits.py", "old_hits", out)


def _contacts(ws: Workspace, wrong: list[str], n: int) -> list[str]:
    """``n`` pool numbers: a third issued, the customers' phones, the rest never issued."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        issued = [
            r[0]
            for r in con.execute(
                "select contact from canary_tokens where contact <> '' limit ?", [n // 3]
            )
        ]
        taken = {r[0] for r in con.execute("select contact from canary_tokens")}
    never = (f"1709{i:07d}" for i in range(2_999_999, 0, -1))
    rest = n - len(issued) - len(wrong)
    return issued + wrong + [c for c in never if c not in taken][:rest]


def _floor_polars(files: Sequence[str]) -> Any:
    return pl.scan_parquet(list(files), glob=False).select(pl.col("customer").bitwise_xor())


def _floor_duckdb(files: Sequence[str]) -> Any:
    con = duckdb.connect()
    try:
        return con.execute(
            "select bit_xor(customer) from read_parquet(?)", [list(files)]
        ).fetchall()
    finally:
        con.close()


def _medians(cases: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(runs):  # interleaved: a slow moment of the machine hits every case
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _row(ws: Workspace, n: int, wrong: list[str], old: ModuleType | None, args: Any) -> str:
    """One line of the table: every case timed on the ledger as it is after ``n`` releases."""
    entries = Ledger(ws).entries()
    files = [str(ws.home / e.index_file) for e in entries]
    one, push = [wrong[3]], _contacts(ws, wrong, args.push)
    got = customers_among(ws, push)  # the 50, and pool numbers the shops use (170…)
    assert set(wrong) <= got
    cases: dict[str, Callable[[], Any]] = {
        "floor_pl": lambda: _floor_polars(files).collect(),
        "floor_duck": lambda: _floor_duckdb(files),
        "one": lambda: customers_among(ws, one),
        "push": lambda: customers_among(ws, push),
    }
    if old is not None:
        assert old.customers_among(ws, push) == got
        cases["old_one"] = lambda: old.customers_among(ws, one)
        cases["old_push"] = lambda: old.customers_among(ws, push)
    m = _medians(cases, args.runs)
    row = (
        f"| {n} | {sum(e.rows for e in entries):,} | {len(got)} | {m['floor_pl']:.3f} | "
        f"{m['floor_duck']:.3f} | {m['one']:.3f} | {m['push']:.3f} |"
    )
    if old is not None:
        row += f" {m['old_one']:.3f} | {m['old_push']:.3f} |"
    return f"{row} {m['one'] / m['floor_pl']:.2f}x | {m['push'] / m['floor_pl']:.2f}x |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="orders per release")
    ap.add_argument("--releases", type=int, default=100)
    ap.add_argument("--tables", type=int, default=4, help="different shops, released in turn")
    ap.add_argument("--at", default="1,25,50,100", help="release counts to time at")
    ap.add_argument("--push", type=int, default=1000, help="numbers in one push")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per case (median)")
    ap.add_argument("--old-rev", help="git revision whose attribution/hits.py to time too")
    ap.add_argument("--out", type=Path, default=Path("/tmp/leaktrace-customer-hits"))
    ap.add_argument("--keep", action="store_true", help="keep the workspace (GBs) afterwards")
    args = ap.parse_args()
    at = sorted({int(x) for x in args.at.split(",") if int(x) <= args.releases})

    print(machine())
    args.out.mkdir(parents=True, exist_ok=True)
    old = _old_module(args.old_rev, args.out) if args.old_rev else None
    shops = []
    for s in range(args.tables):
        p = args.out / f"orders_{args.rows}_{s}.parquet"
        if not p.exists():
            generate_orders(args.rows, seed=100 + s).write_parquet(p)
        shops.append(p)
    first = pl.read_parquet(shops[0], columns=["phone"]).get_column("phone")
    wrong = first.unique().sort().head(50).to_list()  # real customers' phones in the pool
    home = args.out / "ws"
    shutil.rmtree(home, ignore_errors=True)
    ws = init_workspace(home, canary_phones=[*POOL, *wrong])
    add_recipient(ws, "cs", template="customer-service")
    add_recipient(ws, "courier", template="courier")
    print(
        f"rows per release={args.rows:,} shops={args.tables} push={args.push:,} "
        f"runs={args.runs} old-rev={args.old_rev}\n"
    )
    head = "| releases | index rows | push: customers | floor Polars s | floor DuckDB s | 1 hit s | push s |"
    line = "| --- | --- | --- | --- | --- | --- | --- |"
    if old is not None:
        head += f" 1 hit at {args.old_rev} s | push at {args.old_rev} s |"
        line += " --- | --- |"
    print(head + " 1 hit / floor | push / floor |")
    print(line + " --- | --- |")
    try:
        for i in range(1, args.releases + 1):
            release(
                shops[(i - 1) % args.tables],
                recipient=("cs", "courier")[i % 2],
                workspace=ws,
                out=args.out / "copy.parquet",
            )
            if i not in at:
                continue
            print(_row(ws, i, wrong, old, args), flush=True)
        print(f"\nload(1m) at the end: {os.getloadavg()[0]:.2f}")
    finally:
        (args.out / "copy.parquet").unlink(missing_ok=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
