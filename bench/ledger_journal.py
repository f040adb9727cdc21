"""SQLite journal modes for a release's canary writes (session 13).

On a copy of a workspace's ledger (SQLite), times what a 1M-row release writes for its
canaries: 10,000 unused pool numbers reserved in three transactions, then 10,000 tokens
recorded and the reservations deleted in one, under the default rollback journal and
under WAL (synchronous FULL and NORMAL). Three rounds each, fresh numbers every round.

    .venv/bin/python bench/ledger_journal.py /tmp/s13/rb2/ws/ledger.db

The ledger given is only copied, never written. Result and conclusion: bench/README.md
("What was measured and tried in session 13").
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path


def one_mode(ledger: Path, journal: str, synchronous: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ledger.db"
        shutil.copy(ledger, db)
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA cache_size = -65536")  # as leaktrace's engine sets it
        con.execute(f"PRAGMA journal_mode = {journal}")
        con.execute(f"PRAGMA synchronous = {synchronous}")
        used = {r[0] for r in con.execute("SELECT contact FROM canary_tokens")}
        used |= {r[0] for r in con.execute("SELECT contact FROM canary_reservations")}
        rng = random.Random(13)
        for n in range(rounds):
            fresh = {f"1709{rng.randrange(10**7):07d}" for _ in range(12_000)} - used
            nums = sorted(fresh)[:10_000]
            used |= set(nums)
            rid = f"rel-journal-bench-{n}"
            t0 = time.perf_counter()
            for part in range(3):
                con.execute("BEGIN IMMEDIATE")
                con.executemany(
                    "INSERT INTO canary_reservations(contact, release_id, created) VALUES (?,?,?)",
                    [(c, rid, "bench") for c in nums[part::3]],
                )
                con.execute("COMMIT")
            t1 = time.perf_counter()
            con.execute("BEGIN IMMEDIATE")
            con.executemany(
                "INSERT INTO canary_tokens(release_id, recipient, anchor, kind, contact) "
                "VALUES (?,?,?,?,?)",
                [(rid, "cs", f"{i:016x}", "phone", c) for i, c in enumerate(nums)],
            )
            con.execute("DELETE FROM canary_reservations WHERE release_id = ?", (rid,))
            con.execute("COMMIT")
            t2 = time.perf_counter()
            print(f"| {journal} | {synchronous} | {n + 1} | {t1 - t0:.3f} | {t2 - t1:.3f} |")
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ledger", type=Path, help="a workspace's ledger.db (copied, not written)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("| journal | synchronous | round | reserve (3 commits), s | record + free, s |")
    print("| --- | --- | --- | --- | --- |")
    for journal, synchronous in (("delete", "full"), ("wal", "full"), ("wal", "normal")):
        one_mode(args.ledger, journal, synchronous, args.rounds)


if __name__ == "__main__":
    main()
