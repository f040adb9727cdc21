"""What ``leaktrace trace`` says of its row counts when more rows carry evidence than
match a released order.

Session 21's walk: "rows read 100, matched to released orders 0, informative 4" read as
a bug (4 of 0?). A row can match no order and still carry evidence: a canary's phone
number in a scam list of numbers.
The line now says what the third count counts, and that it is not a part of the second;
the JSON keys stay as they were.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import Workspace

POOL_FIRST, POOL_SIZE = 17090000000, 100_000  # the workspace's default canary pool


@pytest.fixture
def phone_list(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> Path:
    """96 of zto's customers' phones and 4 of zto's canary numbers, nothing else."""
    p = tmp_path / "zto.parquet"
    release(shop, recipient="zto", workspace=workspace, out=p)
    pool = {str(POOL_FIRST + i) for i in range(POOL_SIZE)}
    customers = [x for x in pl.read_parquet(p).get_column("phone").to_list() if x not in pool]
    canaries = sorted(
        t["contact"]
        for t in Ledger(workspace).canary_tokens()
        if t["kind"] == "phone" and t["recipient"] == "zto"
    )[:4]
    assert len(canaries) == 4
    leak = tmp_path / "numbers.csv"
    pl.DataFrame({"phone": customers[:96] + canaries}).write_csv(leak)
    return leak


def test_rows_with_evidence_but_no_order_are_not_read_as_a_part_of_the_matched(
    workspace: Workspace, phone_list: Path, tmp_path: Path
) -> None:
    r = run_cli("trace", str(phone_list), "--json", home=workspace.home)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert rows == {"read": 100, "identified": 0, "informative": 4}  # keys unchanged

    report = tmp_path / "report.html"
    r = run_cli("trace", str(phone_list), "--report", str(report), home=workspace.home)
    assert r.returncode == 0, r.stderr
    [line] = [x for x in r.stdout.splitlines() if x.startswith("rows read")]
    assert line.startswith("rows read 100, matched to released orders 0"), line
    assert "informative" not in line, line  # "informative 4" after "matched 0" read as a bug
    # it names what the 4 counts, and that rows matched to no order are among them
    assert re.search(r"marks, aliases or canar(y numbers|ies) 4\b", line), line
    assert "matched to no order" in line, line

    page = " ".join(report.read_text(encoding="utf-8").split())
    counts = re.search(r"Rows read 100;.*?</p>", page)
    assert counts, page[:2000]
    assert "marks, aliases or canaries 4" in counts.group(0), counts.group(0)
    assert "matched to no order" in counts.group(0), counts.group(0)
