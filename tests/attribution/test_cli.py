"""End to end through ``python -m leaktrace``: simulate, add, list, canary hit, attribute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from leaktrace.ledger import Ledger
from leaktrace.workspace import Workspace

from .conftest import shop_file, soon


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_end_to_end(ws: Workspace, tmp_path: Path) -> None:
    h = ["--home", str(ws.home)]
    wave = tmp_path / "w.jsonl"
    r = _run(
        "simulate",
        "wave",
        *h,
        "--source",
        "zto",
        "--victims",
        "10",
        "--seed",
        "3",
        "--shop",
        str(shop_file(ws)),
        "--out",
        str(wave),
    )
    assert r.returncode == 0, r.stderr
    assert wave.stat().st_mode & 0o777 == 0o600  # it holds the shop's customers' phones
    r = _run("report", "add", str(wave), *h, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added"] >= 10
    r = _run("report", "list", *h, "--json")
    rows = json.loads(r.stdout)
    assert len(rows) >= 10
    phones = {json.loads(line)["victim_phone"] for line in wave.read_text().splitlines()}
    assert not any(p in r.stdout for p in phones)  # listing shows no victim phone
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "zto")
    r = _run(
        "canary",
        "hit",
        *h,
        "--contact",
        tok["contact"],
        "--channel",
        "call",
        "--at",
        soon(),
        "--from",
        "021-1234",
        "--json",
    )
    assert r.returncode == 0 and json.loads(r.stdout)["recipient"] == "zto"
    report = tmp_path / "a.html"
    r = _run("attribute", *h, "--json", "--report", str(report))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "source identified"
    assert [a["recipient"] for a in d["accused"]] == ["zto"]
    assert {"en", "zh"} <= set(d["explanation"])
    assert "<script" not in report.read_text()
    assert not any(p in r.stdout for p in phones)
    r = _run("attribute", *h, "--since", "not-a-date")
    assert r.returncode == 2 and r.stderr.startswith("error:")
    r = _run("report", "add", str(tmp_path / "missing.jsonl"), *h)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
