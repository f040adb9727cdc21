"""The ``leaktrace`` command as a user runs it, two checkouts alternating: start and one job.

Why: ``bench/release_bench.py`` times the library inside one warm process (the issue's
ratio). A user pays more: the interpreter's start, the imports, and the garbage
collector walking every object the imports made, in each full collection of the job and
once more at exit. This times whole processes — ``leaktrace --help``, a ``scam check``
and a 1M-row ``release`` to ``cs`` — for checkout A and checkout B in turn, ``--runs``
rounds, each command in a fresh process, and prints the median wall and CPU seconds
(the child's user + system time) and the seconds its full garbage collections took.

    .venv/bin/python bench/cli_ab.py --a /path/to/checkout-before --b . \\
        --input /tmp/rb/orders_1000000.parquet --runs 7

Each checkout runs through its ``src/`` folder (``PYTHONPATH``), its C extensions built
there (copy this checkout's ``.so`` files when the C sources did not change), in one
workspace made as ``release_bench.py`` makes it (a fresh canary pool).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from release_bench import machine, make_workspace

MAIN = r"""
import atexit, gc, os, sys, time
full = [0, 0.0, 0.0]  # full collections: count, seconds, start of the current one
def _watch(phase, info):
    if info["generation"] == 2:
        if phase == "start":
            full[2] = time.perf_counter()
        else:
            full[0] += 1
            full[1] += time.perf_counter() - full[2]
gc.callbacks.append(_watch)
atexit.register(lambda: open(os.environ["CLI_AB_GC"], "w").write(f"{full[0]} {full[1]}"))
from leaktrace.cli import main
sys.argv[0] = "leaktrace"
main()
"""
"""The command as its console script runs it, noting its full garbage collections (those
before the interpreter's exit: the last one, at exit, is in the wall time only)."""


def _run(checkout: Path, args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall and CPU seconds of one command, and the seconds of its full collections."""
    gc_file = Path(env["LEAKTRACE_HOME"]).parent / "gc.txt"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        env={**env, "PYTHONPATH": str(checkout / "src"), "CLI_AB_GC": str(gc_file)},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, float(gc_file.read_text().split()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, required=True, help="checkout A (e.g. the code before)")
    ap.add_argument("--b", type=Path, required=True, help="checkout B (e.g. the change)")
    ap.add_argument("--input", type=Path, required=True, help="the file to release")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    print(machine())
    print(f"command: {' '.join(sys.argv)}\n")
    home = Path(tempfile.mkdtemp(prefix="cli-ab-"))
    try:
        make_workspace(home / "ws")
        env = {**os.environ, "LEAKTRACE_HOME": str(home / "ws")}
        out = home / f"out{args.input.suffix}"
        commands = {
            "leaktrace --help": ["--help"],
            "leaktrace scam check TEXT": ["scam", "check", "您好，我是淘宝客服，您的快递丢失了"],
            f"leaktrace release {args.input.name} --to cs": [
                "release", str(args.input), "--to", "cs", "--out", str(out), "--json",
            ],
        }  # fmt: skip
        checkouts = {"A": args.a.resolve(), "B": args.b.resolve()}
        for args_ in commands.values():  # warm the page cache and both checkouts' bytecode
            for checkout in checkouts.values():
                _run(checkout, args_, env)
        times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.runs):
            for name, args_ in commands.items():
                for label, checkout in checkouts.items():
                    times.setdefault((name, label), []).append(_run(checkout, args_, env))
        print(f"A = {checkouts['A']}\nB = {checkouts['B']}\n")
        print("| command | A wall s | B wall s | A CPU s | B CPU s | A full GC s | B full GC s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name in commands:
            a, b = times[(name, "A")], times[(name, "B")]
            cells = [statistics.median(x[i] for x in runs) for i in (0, 1, 2) for runs in (a, b)]
            print(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
