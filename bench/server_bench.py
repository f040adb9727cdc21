"""What the web service costs on top of the library (docs/server.md).

Starts ``leaktrace serve``'s application under a real uvicorn on 127.0.0.1 (the
service's own ``serving`` helper) and, in the same run, measures each request against the
library call it wraps:

* **scam check, one message**: ``--requests`` sequential POSTs over one keep-alive
  connection vs ``leaktrace.scam.check([msg])`` in-process: p50 and p99 latency, and the
  ratio of their medians;
* **scam check, a batch of 100**: messages per second, over HTTP and in-process;
* **trace upload**: a ``--leak-rows``-row leak cut from one courier's copy, uploaded to
  ``POST /api/v1/trace`` vs ``leaktrace.trace(path)`` on the same file, best of
  ``--repeat``.

Traffic goes only to loopback; every loop is bounded by its count.

    .venv/bin/python bench/server_bench.py --orders 200000 --leak-rows 20000 --requests 2000
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import make_workspace
from leaktrace.release import release
from leaktrace.scam import check
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.synth import generate_orders
from leaktrace.trace import trace

MESSAGE = "您好，我是快递理赔专员，您的包裹丢失了，请加企业微信办理双倍赔偿，需要开启屏幕共享"
BATCH = [
    MESSAGE,
    "【中通快递】您的包裹已到达驿站，请凭取件码 5-2-1043 领取。",
    "您被误开通了代理商，每月扣费500元，请到支付宝申请备用金做流水验证。",
    "亲，您的订单已发货，预计明天送达，如有问题请在App内联系在线客服。",
] * 25


def _pct(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--leak-rows", type=int, default=20_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = make_workspace(root / "ws")
        shop = generate_orders(args.orders, seed=7)
        shop_file = root / "shop.parquet"
        shop.write_parquet(shop_file)
        release(shop_file, recipient="zto", workspace=ws, out=root / "zto.csv")
        release(shop_file, recipient="cs-firm", workspace=ws, out=root / "cs.parquet")
        copy = pl.read_csv(root / "zto.csv", infer_schema=False)
        rows = min(args.leak_rows, copy.height)
        leak = root / "leak.csv"
        copy.sample(rows, seed=3).select(["name", "phone", "address", "product"]).write_csv(leak)
        leak_mb = leak.stat().st_size / 1e6
        token = add_token(ws.home, "bench", "analyst", known=set(ws.config.recipients))

        check([MESSAGE])  # load the model before timing either side
        lib = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            check([MESSAGE])
            lib.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(10):
            check(BATCH)
        lib_batch = 10 * len(BATCH) / (time.perf_counter() - t0)
        lib_trace = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            r = trace(leak, workspace=ws)
            lib_trace.append(time.perf_counter() - t0)
        lib_accused = [c.recipient for c in r.accused]

        with serving(create_app(ws.home)) as url, httpx.Client(base_url=url, timeout=600) as http:
            http.post("/api/v1/scam/check", json={"texts": [MESSAGE]}).raise_for_status()
            net = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                resp = http.post("/api/v1/scam/check", json={"texts": [MESSAGE]})
                net.append(time.perf_counter() - t0)
                resp.raise_for_status()
            t0 = time.perf_counter()
            for _ in range(10):
                http.post("/api/v1/scam/check", json={"texts": BATCH}).raise_for_status()
            net_batch = 10 * len(BATCH) / (time.perf_counter() - t0)
            net_trace = []
            for _ in range(args.repeat):
                with leak.open("rb") as fh:
                    t0 = time.perf_counter()
                    resp = http.post(
                        "/api/v1/trace",
                        headers={"Authorization": f"Bearer {token}"},
                        files={"file": ("leak.csv", fh, "text/csv")},
                    )
                    net_trace.append(time.perf_counter() - t0)
                resp.raise_for_status()
            net_accused = [c["recipient"] for c in resp.json()["accused"]]

    ms = 1000.0
    print(f"\nscam check, one message ({args.requests} sequential requests, keep-alive)")
    print("| path | p50 ms | p99 ms |")
    print("| --- | --- | --- |")
    print(
        f"| library check([msg]) | {statistics.median(lib) * ms:.2f} | {_pct(lib, 0.99) * ms:.2f} |"
    )
    print(
        f"| POST /api/v1/scam/check | {statistics.median(net) * ms:.2f} | {_pct(net, 0.99) * ms:.2f} |"
    )
    print(
        f"ratio of medians (HTTP / library): {statistics.median(net) / statistics.median(lib):.2f}x"
    )
    print(
        f"\nscam check, batches of {len(BATCH)}: library {lib_batch:,.0f} msg/s, "
        f"HTTP {net_batch:,.0f} msg/s ({lib_batch / net_batch:.2f}x slower over HTTP)"
    )
    print(f"\ntrace of a {rows:,}-row leak ({leak_mb:.1f} MB CSV), best of {args.repeat}")
    print(f"library trace(path): {min(lib_trace):.2f} s, accused {lib_accused}")
    print(f"POST /api/v1/trace:  {min(net_trace):.2f} s, accused {net_accused}")
    print(f"ratio (HTTP / library): {min(net_trace) / min(lib_trace):.2f}x")
    return 0 if lib_accused == net_accused == ["zto"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
