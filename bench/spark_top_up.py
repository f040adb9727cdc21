"""What the Spark path's top-up costs: a whole ``release_spark`` against another checkout.

Why: since session 23 each partition sets spare canaries aside (marking up to 20,000 of its
rows once more) and the driver splices the ones it owes into Spark's part files (reading
and rewriting those files), where it used to write one more file. This times whole Spark
releases (local mode, ``local[2]``) of the same input, alternating between this checkout
and ``--other`` (a checkout of an earlier commit, its compiled extensions in place), each
in a child process of its own (one JVM each), and prints the medians and their ratio.

    .venv/bin/python bench/spark_top_up.py --other /tmp/old-checkout [--rows 200000]
        [--partitions 8] [--format parquet] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, time, tempfile
from pathlib import Path
os.environ["PYSPARK_PYTHON"] = sys.executable
from pyspark.sql import SparkSession, functions as F
from leaktrace.spark import release_spark
from leaktrace.workspace import add_recipient, init_workspace
src, fmt, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "Asia/Shanghai").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
with tempfile.TemporaryDirectory() as tmp:
    ws = init_workspace(Path(tmp) / "ws")
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    # partition 0 holds no zto row: canary_min is all top-up, as in data split by courier
    sdf = spark.read.parquet(src)
    key = F.when(F.col("courier") == "中通快递", F.substring("address", 1, 2)).otherwise("")
    sdf = sdf.repartitionByRange(parts, key).sortWithinPartitions("order_time").cache()
    sdf.count()
    t = time.perf_counter()
    res = release_spark(sdf, recipient="zto", workspace=ws, out=Path(tmp) / "out", format=fmt)
    took = time.perf_counter() - t
print(json.dumps({"seconds": took, "rows": res.rows, "canaries": res.canaries}))
spark.stop()
"""


def _run(src_dir: Path, data: Path, fmt: str, parts: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src_dir))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), fmt, str(parts)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--other", type=Path, required=True, help="checkout to compare against")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from leaktrace.synth import generate_orders

    here = Path(__file__).resolve().parent.parent / "src"
    other = args.other.resolve() / "src"
    times: dict[str, list[float]] = {"this": [], "other": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "orders.parquet"
        generate_orders(args.rows, seed=7).write_parquet(data)
        for _ in range(args.rounds):
            for name, src in (("other", other), ("this", here)):
                r = _run(src, data, args.format, args.partitions)
                times[name].append(r["seconds"])
                print(f"{name}: {r['seconds']:.2f} s, rows {r['rows']}, canaries {r['canaries']}")
    a, b = statistics.median(times["this"]), statistics.median(times["other"])
    print(
        f"\nrows={args.rows} partitions={args.partitions} format={args.format} "
        f"rounds={args.rounds}\nmedian this checkout {a:.2f} s, other {b:.2f} s, "
        f"ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
