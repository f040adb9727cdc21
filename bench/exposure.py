"""Time and peak memory of ``leaktrace.respond.exposed`` (who a leak exposed; sessions 14, 18).

An incident names a recipient that received the same orders many times (a courier gets a
file every day). ``exposed`` matches the platform's order table against every one of those
releases' exposure indexes. This releases a synthetic shop's table ``--releases`` times to
one recipient — the whole table each time, or with ``--released-rows N`` a day's orders
each: release ``i`` carries rows ``i*N`` to ``(i+1)*N - 1``, so the exposed set is a slice
of a table much larger than it (session 18) — and runs, each in a child process of its own
(peak RSS is the child's):

* ``floor``: what any exact answer must do — read the table, digest its order numbers
  once, read each index and join it to them (no de-duplication, no per-row texts);
* ``exposed``: the library call, with the table's path, as ``leaktrace exposed`` runs it;
* ``exposed at REV`` (``--old-rev``): the same call with ``respond/exposure.py`` as it was
  at a git revision (the rest of the package as it is now), for a before/after in one run.

    .venv/bin/python bench/exposure.py --rows 1000000 --releases 8 --old-rev f8e3bce~1 \
        --out /tmp/exposure-bench
    .venv/bin/python bench/exposure.py --rows 3000000 --releases 8 --released-rows 25000 \
        --format csv --old-rev HEAD --out /tmp/exposure-bench-slice

``--format csv`` gives ``exposed`` the table as a CSV file (the floor reads the same file).

Each child runs ``--runs`` times; the median time and the largest peak are printed. The
peak is the child's ``VmHWM`` (Linux): its ``ru_maxrss`` starts at the RSS of this process
when it forked, which had released the table (session 14's figures were that floor).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
from release_bench import machine, make_workspace
from revision import file_at

from leaktrace.release import release
from leaktrace.synth import generate_orders

_CHILD = r"""
import importlib.util, json, resource, sys, time
from pathlib import Path
import polars as pl
import pyarrow.parquet as pq
from leaktrace.workspace import open_workspace
from leaktrace.ledger import Ledger
what, home, table, recipient = sys.argv[1:5]
ws = open_workspace(Path(home))
t = time.perf_counter()
if what == "floor":
    from leaktrace.digest import keyed_digests
    from leaktrace.io import read_table
    df = read_table(Path(table)).with_row_index("row")
    entries = [e for e in Ledger(ws).entries() if e.recipient == recipient]
    key = ws.keys.derive("anchor", entries[0].key_version)
    ids = df.get_column("order_id").cast(pl.Utf8).str.strip_chars()
    keyed = pl.DataFrame({"row": df.get_column("row"),
                          "anchor": keyed_digests({"a": (ids, key)}).get_column("a")})
    rows = 0
    for e in entries:
        index = pl.from_arrow(pq.read_table(ws.home / e.index_file, columns=["anchor"]))
        rows += keyed.join(index, on="anchor", how="inner").height
else:
    if what == "exposed":
        from leaktrace.respond.exposure import exposed
    else:  # a path to an older exposure.py
        spec = importlib.util.spec_from_file_location("old_exposure", what)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["old_exposure"] = mod  # its dataclass looks itself up there
        spec.loader.exec_module(mod)
        exposed = mod.exposed
    rows = exposed(ws, table, recipients=[recipient]).rows.height
seconds = time.perf_counter() - t
try:  # the child's own high-water mark: ru_maxrss carries the parent's over exec on Linux
    with open("/proc/self/status") as fh:
        peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": rows, "peak_mib": peak}))
"""


def _child(what: str, home: Path, table: Path, recipient: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(home), str(table), recipient],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{what}: exit {out.returncode}\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--releases", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--released-rows",
        type=int,
        help="release i carries only rows i*N .. (i+1)*N-1 of the table (default: all rows)",
    )
    ap.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    ap.add_argument("--old-rev", help="git revision whose respond/exposure.py to time too")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "exposure-bench")
    args = ap.parse_args()

    n = args.released_rows
    if n is not None and not 0 < n * args.releases <= args.rows:
        ap.error("--released-rows times --releases must be between 1 and --rows")
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / f"orders_{args.rows}.{args.format}"
    if not table.exists():
        generated = generate_orders(args.rows, 20240601)
        if args.format == "csv":
            generated.write_csv(table)
        else:
            generated.write_parquet(table)
        del generated
    ws = make_workspace(args.out / "ws")
    shop = (
        pl.read_csv(table, infer_schema=False) if args.format == "csv" else pl.read_parquet(table)
    )
    for i in range(args.releases):  # the courier template with no where-filter: every row
        part = shop if n is None else shop.slice(i * n, n)
        release(part, recipient="courier", workspace=ws, out=args.out / f"copy{i}.parquet")
        del part
    del shop

    cases = [("floor", "floor"), ("exposed", "exposed")]
    if args.old_rev:
        old = file_at(
            args.old_rev, "src/leaktrace/respond/exposure.py", args.out / "old_exposure.py"
        )
        cases.append((f"exposed at {args.old_rev}", str(old)))

    print(machine())
    each = f"{n:,} rows each" if n is not None else "every row each"
    print(
        f"rows={args.rows:,} ({args.format}) releases={args.releases} ({each}) runs={args.runs}\n"
    )
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in cases}
    for _ in range(args.runs):  # interleaved, so a slow moment of the machine hits all
        for name, what in cases:
            results[name].append(_child(what, ws.home, table, "courier"))
    floor = statistics.median(r["seconds"] for r in results["floor"])
    print("| what | seconds (median) | ratio to floor | peak RSS MiB (max) | rows |")
    print("| --- | --- | --- | --- | --- |")
    for name, _ in cases:
        rs = results[name]
        s = statistics.median(r["seconds"] for r in rs)
        peak = max(r["peak_mib"] for r in rs)
        print(f"| {name} | {s:.2f} | {s / floor:.2f}x | {peak:,.0f} | {int(rs[0]['rows']):,} |")


if __name__ == "__main__":
    main()
