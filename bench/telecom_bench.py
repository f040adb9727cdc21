"""What recording canary hits from a telecom provider's push costs (docs/attribution.md,
"Canary hits from the telecom operator").

A workspace with ``--orders`` orders released to a courier and a customer-service firm
(1 % canaries). ``--records`` Alibaba Cloud ``SecretReport`` records are made: a third to
issued canary numbers, a third to pool numbers never issued, a third to numbers outside
the pool (customers' own calls, left aside), each with its own ``call_id``. In the same
run, best of ``--repeat`` on a fresh copy of the workspace each time:

* **one at a time** (the baseline): ``record_hit`` per record, as an operator's script
  typing the hits in would, without receipts;
* **library**: ``leaktrace.telecom.ingest`` in batches of ``--batch`` (one token lookup
  per batch, a receipt per hit);
* **over HTTP**: the same batches POSTed to ``/api/v1/telecom/aliyun-pns`` under a real
  uvicorn on 127.0.0.1 with a ``telecom`` token;
* **pushed again**: the same batches once more over HTTP (every record a duplicate).

    .venv/bin/python bench/telecom_bench.py --orders 200000 --records 3000 --batch 100
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import make_workspace
from leaktrace.attribution.hits import record_hit, stored_hits
from leaktrace.release import release
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.synth import generate_orders
from leaktrace.telecom import ingest
from leaktrace.workspace import Workspace, open_workspace


def _records(ws: Workspace, n: int) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        issued = [
            r[0] for r in con.execute("select contact from canary_tokens where contact <> ''")
        ]
    taken = set(issued)
    unissued = [p for p in sorted(ws.config.canary_pool.phone_numbers()) if p not in taken]
    out = []
    for i in range(n):
        kind = i % 3
        secret = (
            issued[i % len(issued)]
            if kind == 0
            else unissued[i % len(unissued)]
            if kind == 1
            else f"139{i:08d}"
        )
        out.append(
            {
                "call_id": f"bench-{i}",
                "secret_no": secret,
                "peer_no": f"021{i:08d}",
                "phone_no": "17100000000",
                "call_type": 1,
                "call_time": "2026-11-28 20:11:29",
            }
        )
    return out


_COPIES = [0]


def _fresh(base: Path, root: Path, tag: str) -> Workspace:
    """A new copy under a new path each time: the database engines are cached per URL,
    and a file replaced under a cached engine is read-only to it."""
    _COPIES[0] += 1
    home = root / f"{tag}{_COPIES[0]}"
    shutil.copytree(base, home)
    return open_workspace(home)


def _best(setup: Callable[[], Any], run: Callable[[Any], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        state = setup()
        t = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load {os.getloadavg()[0]:.2f}"
    )
    root = Path(tempfile.mkdtemp(prefix="tel-bench-"))
    try:
        base = root / "base"
        ws0 = make_workspace(base)
        orders = generate_orders(args.orders, seed=1)
        for r in ("zto", "cs-firm"):
            release(orders, recipient=r, workspace=ws0)
        records = _records(ws0, args.records)
        batches = [records[i : i + args.batch] for i in range(0, len(records), args.batch)]
        in_pool = [r for r in records if not r["secret_no"].startswith("139")]
        expected = len(in_pool)

        def one_at_a_time(ws: Workspace) -> None:
            for r in in_pool:  # the baseline is told which are pool numbers
                record_hit(
                    ws,
                    contact=r["secret_no"],
                    channel="call",
                    at=r["call_time"],
                    caller=r["peer_no"],
                )

        def library(ws: Workspace) -> None:
            for b in batches:
                ingest(ws, "aliyun-pns", b, all_or_nothing=False)

        base_t = _best(lambda: _fresh(base, root, "a"), one_at_a_time, args.repeat)
        lib_t = _best(lambda: _fresh(base, root, "b"), library, args.repeat)
        check = _fresh(base, root, "b")
        library(check)
        assert len(stored_hits(check)) == expected

        http_times, again_times = [], []
        for _ in range(args.repeat):
            ws = _fresh(base, root, "c")
            token = add_token(ws.home, "bench", "telecom", known=set(ws.config.recipients))
            auth = {"Authorization": f"Bearer {token}"}
            with serving(create_app(ws.home)) as url, httpx.Client(base_url=url, timeout=120) as c:
                for rounds, sink in ((1, http_times), (2, again_times)):
                    t = time.perf_counter()
                    recorded = 0
                    for b in batches:
                        r = c.post("/api/v1/telecom/aliyun-pns", json=b, headers=auth)
                        r.raise_for_status()
                        recorded += r.json()["recorded"]
                    sink.append(time.perf_counter() - t)
                    assert recorded == (expected if rounds == 1 else 0), recorded
        http_t, again_t = min(http_times), min(again_times)
        n = len(records)
        print(
            f"{n:,} records ({expected:,} to pool numbers), batches of {args.batch}; "
            f"{args.orders:,} orders released twice"
        )
        print(
            f"one at a time (record_hit, pool records only): {base_t:.3f} s, {expected / base_t:,.0f} hits/s"
        )
        print(
            f"library ingest: {lib_t:.3f} s, {n / lib_t:,.0f} records/s ({lib_t / base_t:.2f}x the baseline)"
        )
        print(
            f"over HTTP: {http_t:.3f} s, {n / http_t:,.0f} records/s ({http_t / lib_t:.2f}x the library)"
        )
        print(f"pushed again (all duplicates): {again_t:.3f} s, {n / again_t:,.0f} records/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
