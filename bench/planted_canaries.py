"""Contradicting evidence (docs/trace.md): planted canary rows against clean leaks.

Each run makes a fresh workspace (fresh keys) with the test suite's four recipients and
shop (3,000 orders), releases to all four, and traces:

* **planted**: the SMS vendor's copy of ``--rows`` of zto's orders plus two of zto's canary
  rows. zto is accused on its canaries; its marks on the same orders sit at chance, and
  the trace must flag that;
* **clean**: ``--rows`` rows of each recipient's own copy, intact. An accusation there
  must carry no flag.

    .venv/bin/python bench/planted_canaries.py --runs 10 --rows 200
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import make_workspace
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace

RECIPIENTS = ("zto", "yto", "cs-firm", "sms")
COLS = ["name", "phone", "address", "order_time", "product"]


def one_run(root: Path, shop: pl.DataFrame, rows: int, seed: int) -> dict[str, object]:
    ws = make_workspace(root / "ws")
    copies = {}
    for r in RECIPIENTS:
        p = root / f"{r}.parquet"
        release(shop, recipient=r, workspace=ws, out=p)
        copies[r] = pl.read_parquet(p)
    pool = [t["contact"] for t in Ledger(ws).canary_tokens()]
    zto, sms = copies["zto"], copies["sms"]
    own = sms.join(zto.select("phone"), on="phone", how="semi")
    own = own.filter(~pl.col("phone").is_in(pool)).head(rows)
    planted = pl.concat(
        [
            own.select(["name", "phone", "product"]),
            zto.filter(pl.col("phone").is_in(pool)).head(2).select(["name", "phone", "product"]),
        ]
    )
    res = trace(planted, workspace=ws)
    z = next((c for c in res.accused if c.recipient == "zto"), None)
    flag = z.contradictions[0] if z and z.contradictions else None
    clean_accused = clean_flags = 0
    for r in RECIPIENTS:
        leak = copies[r].sample(min(rows, copies[r].height), seed=seed)
        got = trace(leak.select([c for c in COLS if c in leak.columns]), workspace=ws)
        clean_accused += len(got.accused)
        clean_flags += sum(bool(c.contradictions) for c in got.accused)
    return {
        "zto_accused": z is not None,
        "flagged": flag is not None,
        "matched": flag["matched"] if flag else None,
        "observed": flag["observed"] if flag else None,
        "chance": flag["expected_by_chance"] if flag else None,
        "half_intact": flag["expected_half_intact"] if flag else None,
        "log10": flag["log10_p_half_intact"] if flag else None,
        "clean_accused": clean_accused,
        "clean_flags": clean_flags,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rows", type=int, default=200)
    args = ap.parse_args()
    shop = generate_orders(3000, seed=11)
    print(f"command: bench/planted_canaries.py --runs {args.runs} --rows {args.rows}")
    print(
        "| run | zto accused | flagged | marks matched/observed | chance | half intact | log10 P |"
    )
    print("|---|---|---|---|---|---|---|")
    totals = {"flagged": 0, "accused": 0, "clean_accused": 0, "clean_flags": 0}
    for i in range(args.runs):
        root = Path(tempfile.mkdtemp(prefix="planted-"))
        try:
            r = one_run(root, shop, args.rows, seed=i)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        totals["accused"] += bool(r["zto_accused"])
        totals["flagged"] += bool(r["flagged"])
        totals["clean_accused"] += int(str(r["clean_accused"]))
        totals["clean_flags"] += int(str(r["clean_flags"]))
        print(
            f"| {i + 1} | {r['zto_accused']} | {r['flagged']} | {r['matched']}/{r['observed']} "
            f"| {r['chance']} | {r['half_intact']} | {r['log10']} |"
        )
    print()
    print(
        f"planted: zto accused in {totals['accused']}/{args.runs} runs, flagged in "
        f"{totals['flagged']}/{args.runs}; clean leaks: {totals['clean_flags']} flags on "
        f"{totals['clean_accused']} accusations"
    )


if __name__ == "__main__":
    main()
