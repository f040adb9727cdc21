"""Release benchmark (issue 2, performance clause).

Times ``leaktrace.release.release`` Parquet→Parquet and CSV→CSV on the synthetic shop and,
in the same run, a plain Polars read+write of the same files, and prints the ratio. Also
measures the peak RSS of a 10M-row CSV→CSV release (and of the baseline) in child
processes, and prints a per-stage profile of the release kernel on one batch.

Why ratios: the machine is shared and its speed varies from run to run; a ratio against a
baseline measured in the same run, median of several warm runs, is what can be compared
between runs and machines.

    .venv/bin/python bench/release_bench.py --rows 1000000 --big-rows 10000000 --out /tmp/rb

``--canary-cost`` also times the cs policy with canaries switched off, to show what they
cost; it is a measurement, not a setting to use (see docs/policy.md on the canary rate).

Allocators: by default the whole benchmark process (baseline and release alike, and the
10M-row child processes) runs with the allocator settings the ``leaktrace`` command sets
for itself (:mod:`leaktrace.allocation`: freed pages are kept for reuse);
``--polars-allocator`` keeps Polars' defaults instead, which is what a Python process that
imports Polars before leaktrace gets. The tables print each case's minor page faults.

The CSV baseline reads with ``infer_schema=False`` (every column as text): the release
reader does the same, and schema inference fails on this data anyway (ID numbers ending
in ``X`` after a run of all-digit ones).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

POLARS_ALLOCATOR = "--polars-allocator" in sys.argv
if not POLARS_ALLOCATOR:  # as the CLI does, and before Polars loads (it reads them once)
    try:
        from leaktrace.allocation import configure_process
    except ImportError:  # an older checkout under release_ab.py, which set them already
        pass
    else:
        configure_process()

import numpy as np
import polars as pl

from leaktrace import digest
from leaktrace import release as release_module
from leaktrace.canary import generate_canaries
from leaktrace.channels import get_channel
from leaktrace.digest import keyed_digests
from leaktrace.identity import IDENTITY_PARTS, canonical_columns, identity_digests
from leaktrace.io import open_table
from leaktrace.io.writers import TableWriter
from leaktrace.masking import apply_policy_fields
from leaktrace.prf import prf_blocks, symbols_from_blocks
from leaktrace.release import (
    _BatchKernel,
    _row_digest_inputs,
    index_parquet_writer,
    make_plan,
    release,
)
from leaktrace.synth import generate_orders
from leaktrace.workspace import Workspace, add_recipient, init_workspace

SEED = 20240601
RECIPIENTS = {"cs": "customer-service", "courier": "courier"}


def _cpu_seconds() -> float:
    """User + system CPU of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _median_time(fn: Callable[[], object], runs: int) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds, median minor page faults) of ``runs`` warm
    runs."""
    fn()  # warm-up: page cache, imports, Polars/DuckDB thread pools
    times, cpus, faults = [], [], []
    for _ in range(runs):
        f0, c0, t0 = _minor_faults(), _cpu_seconds(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(_cpu_seconds() - c0)
        faults.append(_minor_faults() - f0)
    return statistics.median(times), statistics.median(cpus), int(statistics.median(faults))


def write_inputs(n: int, out: Path) -> tuple[Path, Path]:
    """The synthetic shop as Parquet and as CSV (datetimes as the shops export them)."""
    pq_path, csv_path = out / f"orders_{n}.parquet", out / f"orders_{n}.csv"
    if not (pq_path.exists() and csv_path.exists()):
        df = generate_orders(n, SEED)
        df.write_parquet(pq_path)
        df.write_csv(csv_path, datetime_format="%Y-%m-%d %H:%M:%S")
    return pq_path, csv_path


def make_workspace(home: Path) -> Workspace:
    """A fresh workspace with a customer-service and a courier recipient (no where-filter)."""
    shutil.rmtree(home, ignore_errors=True)
    # every timed run takes 1 % fresh canary numbers: 10,000 per 1M-row release
    ws = init_workspace(home, canary_phones=["17090000000-17090999999"])
    for name, template in RECIPIENTS.items():
        add_recipient(ws, name, template=template)
    return ws


def baseline(src: Path, dst: Path) -> None:
    """Plain Polars read + write of the same file: the yardstick of the ratio."""
    if src.suffix == ".parquet":
        pl.read_parquet(src).write_parquet(dst)
    else:
        pl.read_csv(src, infer_schema=False).write_csv(dst)


NO_CANARIES = "cs-no-canaries"
"""With ``--canary-cost``: the cs policy with canaries off, timed beside cs to show what the
canaries (generating, slotting, reserving numbers, recording tokens) cost. A measurement
only: a release without canaries has no evidence against a name-and-phone leak."""


def add_no_canary_recipient(ws: Workspace) -> None:
    policy = ws.config.policy_for("cs").model_copy(deep=True)
    policy.canary_rate, policy.canary_min = 0.0, 0
    ws.config.policies[NO_CANARIES] = policy
    add_recipient(ws, NO_CANARIES, template="customer-service")
    ws.config.recipient(NO_CANARIES).policy = NO_CANARIES
    ws.save()


def time_table(
    ws: Workspace, inputs: dict[str, Path], out: Path, runs: int, recipients: list[str]
) -> list[list[str]]:
    rows = []
    for fmt, src in inputs.items():
        base, base_cpu, base_faults = _median_time(
            lambda src=src, fmt=fmt: baseline(src, out / f"base.{fmt}"), runs
        )
        rows.append(
            [
                f"{fmt}→{fmt}",
                "polars read+write",
                f"{base:.2f}",
                f"{base_cpu:.2f}",
                f"{base_faults:,}",
                "1.00",
            ]
        )
        for rec in recipients:
            t, t_cpu, faults = _median_time(
                lambda src=src, fmt=fmt, rec=rec: release(
                    src, recipient=rec, workspace=ws, out=out / f"rel_{rec}.{fmt}"
                ),
                runs,
            )
            rows.append(
                [
                    f"{fmt}→{fmt}",
                    f"release {rec}",
                    f"{t:.2f}",
                    f"{t_cpu:.2f}",
                    f"{faults:,}",
                    f"{t / base:.2f}",
                ]
            )
    return rows


def peak_memory(ws_home: Path, csv_path: Path, out: Path) -> list[list[str]]:
    # the children run with this process's allocator settings, set before Polars loads
    setup = "" if POLARS_ALLOCATOR else "import leaktrace.allocation as a; a.configure_process();"
    rel = (
        setup + "from pathlib import Path; from leaktrace.workspace import open_workspace;"
        "from leaktrace.release import release;"
        f"release(Path({str(csv_path)!r}), recipient='cs',"
        f" workspace=open_workspace(Path({str(ws_home)!r})), out=Path({str(out / 'big_rel.csv')!r}))"
    )
    base = (
        setup + "import polars as pl;"
        f"pl.read_csv({str(csv_path)!r}, infer_schema=False)"
        f".write_csv({str(out / 'big_base.csv')!r})"
    )
    rows = []
    # Separate grandchildren so that RUSAGE_CHILDREN of each wrapper sees one process only.
    for label, code in (("release cs (CSV→CSV)", rel), ("polars read_csv+write_csv", base)):
        wrapper = (
            "import resource, subprocess, sys, time;"
            "t0 = time.perf_counter();"
            f"subprocess.run([sys.executable, '-c', {code!r}], check=True);"
            "print(time.perf_counter() - t0,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        res = subprocess.run(
            [sys.executable, "-c", wrapper], check=True, capture_output=True, text=True
        )
        secs, kib = res.stdout.split()
        rows.append([label, f"{float(secs):.1f}", f"{int(kib) / 1024:.0f}"])
    return rows


def stage_profile(ws: Workspace, src: Path, recipient: str) -> list[list[str]]:
    """Wall time of each kernel stage on the first batch (200k rows), best of 3.

    Re-runs the kernel's steps one by one (same functions, same order) so the write-up can
    say where time goes; ``kernel total`` is one real ``_BatchKernel.__call__``.
    """
    plan = dataclasses.replace(make_plan(ws, recipient), release_id="rel-bench")
    timings: dict[str, float] = {}

    def tm(name: str, fn: Callable[[], object]) -> object:
        best = float("inf")
        result: object = None
        for _ in range(3):
            t0 = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - t0)
        timings[name] = best
        return result

    source = open_table(src)
    batches = source.iter_batches(plan.input_roles())  # as a release reads: its columns only
    t0 = time.perf_counter()
    batch = next(batches)
    timings["read + parse (first batch)"] = time.perf_counter() - t0
    source.close()
    if plan.where is not None:
        tm("filter", lambda: batch.filter(plan.where))
    k = _BatchKernel(plan)._canary_count(batch.height)
    reserved = plan.ws.config.canary_pool.phone_numbers()[:k]  # outside the timing
    tm(
        f"canaries ({k} rows generated)",
        lambda: generate_canaries(
            batch,
            k,
            key=plan.canary_key,
            release_id=f"{plan.release_id}/0",
            # a release hands the generator exactly the k numbers it reserved
            pool_phones=reserved,
            pool_emails=plan.ws.config.canary_pool.emails,
            exclude_order_ids=batch.get_column("order_id"),
        ),
    )
    keyed = tm("anchor + customer digests", lambda: keyed_digests(_row_digest_inputs(batch, plan)))
    assert isinstance(keyed, pl.DataFrame)
    anchors = keyed.get_column("anchor").to_numpy().astype(np.uint64)
    for role, spec in plan.fields.items():
        if role in batch.columns and spec.rstrip("?") not in ("keep", "drop"):
            label = "alias FF1" if spec == "alias" else f"mask {role} ({spec})"
            tm(label, lambda r=role, s=spec: apply_policy_fields(batch, {r: s}, plan.mask_ctx))
    out = tm("masking (all fields)", lambda: apply_policy_fields(batch, plan.fields, plan.mask_ctx))
    assert isinstance(out, pl.DataFrame)
    for name in plan.policy.channels:
        ch = get_channel(name)
        if ch.role not in out.columns:
            continue
        sym = symbols_from_blocks(prf_blocks(plan.mark_key, anchors, ch.code), list(ch.alphabets))
        tm(f"embed {name} (+PRF)", lambda ch=ch, sym=sym: ch.embed(out.get_column(ch.role), sym))
    tm("identity canonical forms", lambda: canonical_columns(out))
    tm("identity keys (forms + 4 digests)", lambda: identity_digests(out, plan.index_key))
    released, index = _BatchKernel(plan)(batch)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "release_bench_stage"
    tmp.mkdir(exist_ok=True)

    def write_output(suffix: str) -> None:  # as a release writes it (hashed, fsynced)
        with TableWriter(tmp / f"o.{suffix}") as writer:
            writer.write(released)

    tm("write output batch (parquet)", lambda: write_output("parquet"))
    tm("write output batch (csv)", lambda: write_output("csv"))

    def write_index() -> None:
        writer = index_parquet_writer(tmp / "i.parquet", index.schema)
        writer.write_table(index)
        writer.close()

    tm("write index batch (parquet)", write_index)
    # as in a release: the ledger hands over k reserved numbers (here: the pool's first k)
    tm(
        "kernel total (one __call__)",
        lambda: _BatchKernel(plan, reserve=lambda pool, k, extra: pool[:k])(batch),
    )
    shutil.rmtree(tmp, ignore_errors=True)
    scale = 1_000_000 / batch.height
    return [[k, f"{v * 1000:.0f}", f"{v * scale:.2f}"] for k, v in timings.items()]


def digest_floor(src: Path) -> list[list[str]]:
    """CPU floor of the digests a release must compute: anchor, customer and four identity
    keys per row, on one thread, best of 3 — the part of a release no pipelining can hide.
    Both schemes: SipHash-2-4 (key format 2, what a release computes now) and HMAC-SHA256
    (format-1 keys, what it computed before)."""
    df = pl.read_parquet(src)
    canon = canonical_columns(df)
    # as a release digests them: two single columns, four identity keys joined in the kernel
    cols = [
        [df["order_id"].cast(pl.String)],
        [df["phone"]],
        *[[canon.get_column(c) for c in parts] for parts in IDENTITY_PARTS.values()],
    ]
    rows = []
    n = df.height * len(cols)
    schemes = {
        "SipHash-2-4": digest.SipKey(bytes(range(32))),
        "HMAC-SHA256": digest._native_states(bytes(range(32))),
    }
    for name, states in schemes.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for c in cols:
                digest._views_u64(c, states, sep=b"\x1f", threads=1)
            best = min(best, time.perf_counter() - t0)
        rows.append([f"{name}: {len(cols)} keyed digests x {df.height:,} rows", f"{best:.3f}"])
        rows.append([f"{name}: per digest (ns)", f"{best / n * 1e9:.0f}"])
    return rows


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    print()


def machine() -> str:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    return (
        f"nproc={os.cpu_count()} cpu={cpu!r} ram={mem_kib / 2**20:.1f} GiB "
        f"python={platform.python_version()} polars={pl.__version__} "
        f"load(1m)={os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-rows", type=int, default=10_000_000)
    ap.add_argument("--skip-big", action="store_true", help="skip the 10M-row memory run")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per case (median)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/leaktrace-release-bench"))
    ap.add_argument(
        "--mark-threads", type=int, help="batches marked at once (leaktrace.release.MARK_THREADS)"
    )
    ap.add_argument("--batch-rows", type=int, help="rows per batch (leaktrace.release.BATCH_ROWS)")
    ap.add_argument("--only-times", action="store_true", help="the 1M-row table only")
    ap.add_argument(
        "--polars-allocator",
        action="store_true",
        help="keep Polars' allocator defaults instead of the leaktrace CLI's settings",
    )
    ap.add_argument(
        "--canary-cost", action="store_true", help=f"also time cs with canaries off ({NO_CANARIES})"
    )
    args = ap.parse_args()
    if args.mark_threads:
        release_module.MARK_THREADS = args.mark_threads
    if args.batch_rows:
        release_module.BATCH_ROWS = args.batch_rows
    args.out.mkdir(parents=True, exist_ok=True)
    print(machine())
    print(f"command: {' '.join(sys.argv)}")
    print(f"MARK_THREADS={release_module.MARK_THREADS} BATCH_ROWS={release_module.BATCH_ROWS}")
    allocator = (
        "Polars' defaults" if POLARS_ALLOCATOR else "the leaktrace CLI's (leaktrace.allocation)"
    )
    print(f"allocator settings: {allocator}\n")

    pq_path, csv_path = write_inputs(args.rows, args.out)
    ws = make_workspace(args.out / "ws")
    recipients = list(RECIPIENTS)
    if args.canary_cost:
        add_no_canary_recipient(ws)
        recipients.append(NO_CANARIES)
    print(f"## {args.rows:,} rows, median of {args.runs} warm runs\n")
    _print_table(
        ["case", "what", "seconds", "CPU seconds", "minor page faults", "ratio"],
        time_table(ws, {"parquet": pq_path, "csv": csv_path}, args.out, args.runs, recipients),
    )
    if args.only_times:
        return
    print("## floor: the six keyed digests of every row, one thread\n")
    _print_table(["what", "seconds"], digest_floor(pq_path))
    for rec in RECIPIENTS:
        print(f"## stage profile, recipient {rec}, first batch of the Parquet input\n")
        _print_table(["stage", "ms / batch", "s per 1M rows"], stage_profile(ws, pq_path, rec))
    print("## stage profile, recipient cs, first batch of the CSV input\n")
    _print_table(["stage", "ms / batch", "s per 1M rows"], stage_profile(ws, csv_path, "cs"))

    if not args.skip_big:
        _big_pq, big_csv = write_inputs(args.big_rows, args.out)
        print(f"## peak memory, {args.big_rows:,}-row CSV→CSV (child processes)\n")
        _print_table(
            ["process", "seconds", "peak RSS MiB"],
            peak_memory(args.out / "ws", big_csv, args.out),
        )


if __name__ == "__main__":
    main()
