"""Alternating release timings of two checkouts: is a change faster, slower or the same?

Why: a whole 1M-row release varies by about ±10 % from run to run on the 2-core machine,
more than most single changes move it. Timing the two versions in turn, several rounds,
each in its own fresh workspace and process, lets the same machine state hit both. Both
run with this checkout's allocator settings (``leaktrace.allocation``, as the CLI).

    .venv/bin/python bench/release_ab.py --a /path/to/checkout-before --b . \\
        --input /tmp/rb/orders_1000000.parquet --rounds 3 --runs 3

Each checkout is used through its ``src/`` folder (its C extensions must be built there:
copy the ``.so`` files of this checkout when the C sources did not change). Per round and
version, one process makes a fresh workspace (as ``release_bench.py``), releases once to
warm up, then ``--runs`` times per recipient, and prints the median wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import importlib.util, resource, statistics, sys, time
from pathlib import Path
# Both versions run with THIS checkout's allocator settings (the CLI's), loaded by path so
# that an older checkout without leaktrace/allocation.py is timed under the same settings.
spec = importlib.util.spec_from_file_location("_allocation", sys.argv[6])
allocation = importlib.util.module_from_spec(spec); spec.loader.exec_module(allocation)
allocation.configure_process()
sys.path.insert(0, sys.argv[1] + "/src")
sys.path.insert(0, sys.argv[2])
import leaktrace
assert leaktrace.__file__.startswith(sys.argv[1]), leaktrace.__file__
from release_bench import RECIPIENTS, make_workspace
from leaktrace.release import release
home, src, runs = Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ws = make_workspace(home)
out = home.parent / ("out" + Path(src).suffix)
release(src, recipient="cs", workspace=ws, out=out)
for rec in RECIPIENTS:
    walls, cpus = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
        release(src, recipient=rec, workspace=ws, out=out)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        walls.append(time.perf_counter() - t0)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    print(f"{rec} {statistics.median(walls):.3f} {statistics.median(cpus):.3f}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, required=True, help="checkout A (e.g. the code before)")
    ap.add_argument("--b", type=Path, required=True, help="checkout B (e.g. the change)")
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    bench_dir = str(Path(__file__).resolve().parent)
    allocation = str(Path(bench_dir).parent / "src" / "leaktrace" / "allocation.py")
    print("| round | checkout | recipient | median wall s | median CPU s |")
    print("|---|---|---|---|---|")
    for rnd in range(1, args.rounds + 1):
        for label, tree in (("A", args.a), ("B", args.b)):
            tmp = Path(tempfile.mkdtemp(prefix="leaktrace-ab-"))
            try:
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(tree.resolve()), bench_dir,
                     str(tmp / "ws"), str(args.input), str(args.runs), allocation],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if done.returncode != 0:
                sys.exit(
                    f"release_ab: checkout {label} ({tree}) failed: {done.stderr.strip()[-300:]}"
                )
            for line in done.stdout.split("\n"):
                if line.strip():
                    rec, wall, cpu = line.split()
                    print(f"| {rnd} | {label} | {rec} | {wall} | {cpu} |", flush=True)


if __name__ == "__main__":
    main()
