"""``--checkpoint`` on the intake commands (``report add``, ``report erase --yes``, ``canary
hit``, ``canary ingest``): what was just recorded is pinned by a signed checkpoint in the
same command, instead of waiting for someone to remember ``leaktrace checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.workspace import Workspace
from ledger.logs import canary_contact

from .conftest import soon

ENV = "LEAKTRACE_SIGNING_PASSPHRASE"


def _pinned(ws: Workspace) -> list[dict[str, int]]:
    r = run_cli("checkpoints", "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    return [{k: v["rows"] for k, v in cp["logs"].items()} for cp in json.loads(r.stdout)]


def _reports(tmp_path: Path, phones: list[str]) -> Path:
    f = tmp_path / "reports.jsonl"
    f.write_text(
        "".join(
            json.dumps({"victim_phone": p, "reported_at": "2025-05-01T10:00:00"}) + "\n"
            for p in phones
        ),
        encoding="utf-8",
    )
    return f


def test_each_intake_command_pins_what_it_recorded(erasure_ws: Workspace, tmp_path: Path) -> None:
    ws = erasure_ws
    assert _pinned(ws) == []
    added = run_cli(
        "report", "add", str(_reports(tmp_path, ["13912340077"])), "--checkpoint", home=ws.home
    )
    assert added.returncode == 0, added.stderr
    assert "checkpoint 1:" in added.stderr and "verify --expect-head" in added.stderr
    assert _pinned(ws)[-1]["victim_reports"] == 7  # the six before and the one just added

    hit = run_cli(
        "canary", "hit", "--contact", canary_contact(ws), "--channel", "call",
        "--at", soon(), "--checkpoint", "--json", home=ws.home,
    )  # fmt: skip
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)["status"] == "canary"  # stdout stays the command's JSON
    assert _pinned(ws)[-1]["canary_hits"] == 1

    records = tmp_path / "calls.json"
    records.write_text(
        json.dumps(
            [{"id": "r1", "at": soon(1), "channel": "sms", "to": canary_contact(ws, 1),
              "from": "95000", "text": "您好"}]
        ),
        encoding="utf-8",
    )  # fmt: skip
    ingested = run_cli("canary", "ingest", str(records), "--checkpoint", home=ws.home)
    assert ingested.returncode == 0, ingested.stderr
    assert _pinned(ws)[-1]["canary_hits"] == 1

    first = min(r.id for r in load_stored_reports(ws))
    listed = run_cli("report", "erase", str(first), "--checkpoint", home=ws.home)
    assert listed.returncode == 0 and len(_pinned(ws)) == 3  # nothing erased: no checkpoint
    erased = run_cli("report", "erase", str(first), "--yes", "--checkpoint", home=ws.home)
    assert erased.returncode == 0, erased.stderr
    assert _pinned(ws)[-1]["report_erasures"] == 1
    assert run_cli("verify", home=ws.home).returncode == 0


def test_what_was_recorded_stays_when_no_checkpoint_can_be_made(
    erasure_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signing key under a passphrase that is not set: the reports are stored, the
    checkpoint is refused in one line that says both."""
    ws = erasure_ws
    monkeypatch.setenv(ENV, "a long passphrase 电池")
    assert run_cli("keys", "protect-signing-key", home=ws.home).returncode == 0
    monkeypatch.delenv(ENV)
    before = len(load_stored_reports(ws))
    r = run_cli(
        "report", "add", str(_reports(tmp_path, ["13912340088"])), "--checkpoint", home=ws.home
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "recorded, but no checkpoint was made" in r.stderr and ENV in r.stderr
    assert "1 report added" in r.stdout
    assert len(load_stored_reports(ws)) == before + 1
    assert _pinned(ws) == []
