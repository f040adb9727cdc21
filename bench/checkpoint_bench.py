"""What checkpoints cost: making one, and what they add to ``verify`` (which ``trace``,
``attribute`` and ``exposed`` run first).

A workspace with ``--orders`` orders released to four recipients (the baseline verify then
re-hashes their exposure index files, as on a platform's ledger), then ``--rows`` sealed rows in each covered log (victim
reports, canary hits, incident events), written straight into the database in
``--checkpoints`` equal instalments with a checkpoint after each. A checkpoint does not
check seals (that is ``attribute``'s and ``incident``'s job), so the rows carry
well-formed stand-in seals; what is timed is exactly what a checkpoint and verify read.

In the same run, best of ``--repeat``:

* ``Ledger.verify()`` on the same database with the checkpoint table dropped (the
  baseline: what verify cost before checkpoints), and with the checkpoints;
* making one more checkpoint over ``--rows`` new rows per log.

    .venv/bin/python bench/checkpoint_bench.py --orders 200000 --rows 100000 --checkpoints 10
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import make_workspace
from leaktrace.attribution.store import engine_for
from leaktrace.ledger import Ledger
from leaktrace.ledger.checkpoint import HEAD_FILE
from leaktrace.release import release
from leaktrace.respond.incident import _engine as incident_engine
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, open_workspace


def _fill(db: Path, n: int, start: int) -> None:
    """``n`` rows per covered log with ids from ``start``, sealed-looking."""

    def seal() -> str:
        return "v1:" + secrets.token_hex(32)

    reports = [
        (
            start + i,
            "2026-11-29T00:00:00+00:00",
            f"bench:{i}",
            None,
            "call",
            "",
            "[]",
            None,
            False,
            "",
            "[]",
            "ok",
            "",
            "{}",
            secrets.token_hex(8),
            1,
            "",
            seal(),
        )
        for i in range(n)
    ]
    hits = [
        (start + i, "2026-11-29T00:00:00+00:00", "call", "", "", False, "", "", "", "", seal())
        for i in range(n)
    ]
    events = [
        (start + i, "INC-bench", start + i, "", "measure", "{}", "", secrets.token_hex(32), seal())
        for i in range(n)
    ]
    with sqlite3.connect(db) as con:
        con.executemany(f"insert into victim_reports values ({','.join('?' * 18)})", reports)
        con.executemany(f"insert into canary_hits values ({','.join('?' * 11)})", hits)
        con.executemany(f"insert into incident_events values ({','.join('?' * 9)})", events)
    con.close()


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000, help="rows per log")
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--orders", type=int, default=200_000, help="orders released 4 times")
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load {os.getloadavg()[0]:.2f}"
    )
    root = Path(tempfile.mkdtemp(prefix="cp-bench-"))
    try:
        ws = make_workspace(root / "ws")
        orders = generate_orders(args.orders, seed=1)
        for r in ("zto", "yto", "cs-firm", "sms"):
            release(orders, recipient=r, workspace=ws)
        engine_for(ws)
        incident_engine(ws)
        db = ws.home / "ledger.db"
        per = args.rows // args.checkpoints
        for k in range(args.checkpoints):
            _fill(db, per, 1 + k * per)
            Ledger(ws).checkpoint()
        res = Ledger(ws).verify()
        assert res.ok and res.checkpoints == args.checkpoints, res.problem
        with_cp = _best(lambda: Ledger(ws).verify(), args.repeat)

        plain_home = root / "plain"
        shutil.copytree(ws.home, plain_home)
        with sqlite3.connect(plain_home / "ledger.db") as con:
            con.execute("drop table checkpoints")
        con.close()
        (plain_home / HEAD_FILE).unlink()
        plain: Workspace = open_workspace(plain_home)
        assert Ledger(plain).verify().ok
        without = _best(lambda: Ledger(plain).verify(), args.repeat)

        made = []
        for k in range(args.repeat):
            _fill(db, args.rows, 1 + args.rows + k * args.rows)
            t = time.perf_counter()
            Ledger(ws).checkpoint()
            made.append(time.perf_counter() - t)
        print(
            f"ledger: {args.orders:,} orders released to 4 recipients; rows per log: "
            f"{args.rows:,} in {args.checkpoints} checkpoints"
        )
        print(f"verify without checkpoints (baseline): {without * 1000:.1f} ms")
        print(
            f"verify with {args.checkpoints} checkpoints over {3 * args.rows:,} rows: "
            f"{with_cp * 1000:.1f} ms ({with_cp / without:.2f}x)"
        )
        print(
            f"one checkpoint over {args.rows:,} new rows per log (incl. verify first): "
            f"{min(made) * 1000:.1f} ms (best of {args.repeat})"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
