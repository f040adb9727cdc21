"""Valid-but-hostile input through the CLI as a user meets it (audit: JSON, model files,
--encoding). Like test_cli_bad_input.py: exit code 2, one stderr line without a
traceback, and nothing written — no output file, no temporary file, no ledger record.

Hostile JSON is *valid* JSON that Python refuses to build: an integer with more digits
than ``int()`` converts (ValueError) or nesting deeper than the recursion limit
(RecursionError); before the fix each crashed with a traceback and exit code 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer

from conftest import make_workspace, run_cli
from leaktrace.cli.common import handle_errors
from leaktrace.ledger import Ledger
from leaktrace.scam.model import DEFAULT_MODEL_PATH
from leaktrace.workspace import Workspace, open_workspace

HUGE = "1" + "0" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def _user_error(r: subprocess.CompletedProcess[str], needle: str = "") -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr, r.stderr


def _scam(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", "scam", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _nothing_written(ws: Workspace, folder: Path) -> None:
    assert not (folder / "out.csv").exists()
    leftovers = [p for p in folder.iterdir() if p.name.startswith(".") and "tmp" in p.name]
    assert leftovers == []
    assert Ledger(open_workspace(ws.home)).entries() == []


@pytest.fixture
def hostile(tmp_path: Path) -> dict[str, Path]:
    files = {
        "huge.jsonl": f'{{"phone": "13800138000", "text": "您好"}}\n{{"victim_phone": {HUGE}}}\n',
        "deep.json": DEEP + "\n",
        "deep.jsonl": f'{{"text": {DEEP}}}\n',
    }
    out = {}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        out[name] = tmp_path / name
    return out


def test_release_and_trace_refuse_hostile_json(
    workspace: Workspace, hostile: dict[str, Path], tmp_path: Path
) -> None:
    out = str(tmp_path / "out.csv")
    cases = [
        (("release", str(hostile["deep.json"]), "--to", "cs-firm", "--out", out),
         "deep.json: nested too deeply to read"),
        (("release", str(hostile["huge.jsonl"]), "--to", "cs-firm", "--out", out),
         "huge.jsonl: line 2: a number has more than 4300 digits"),
        (("trace", str(hostile["huge.jsonl"])), "huge.jsonl: line 2: a number"),
        (("trace", str(hostile["deep.json"])), "deep.json: nested too deeply"),
    ]  # fmt: skip
    for args, needle in cases:
        _user_error(run_cli(*args, home=workspace.home), needle)
    _nothing_written(workspace, tmp_path)


def test_report_add_hostile_json(
    workspace: Workspace, hostile: dict[str, Path], tmp_path: Path
) -> None:
    """A whole-file JSON array is refused; a hostile *line* (JSON lines) or CSV ``quoted``
    cell is a malformed report kept and named, as any bad row is (the run goes on)."""
    _user_error(
        run_cli("report", "add", str(hostile["deep.json"]), home=workspace.home),
        "deep.json: nested too deeply to read",
    )
    r = run_cli("report", "add", str(hostile["huge.jsonl"]), home=workspace.home)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "huge.jsonl:2: a number has more than 4300 digits" in r.stdout + r.stderr
    csv = tmp_path / "q.csv"
    quoted = "[" * 5000 + "]" * 5000
    csv.write_text(
        f'victim_phone,reported_at,quoted\n13800138000,2024-01-01T00:00:00,"{quoted}"\n',
        encoding="utf-8",
    )
    r = run_cli("report", "add", str(csv), home=workspace.home)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "q.csv:2: quoted: nested too deeply to read" in r.stdout + r.stderr


def test_scam_check_refuses_hostile_json(hostile: dict[str, Path]) -> None:
    _user_error(
        _scam("--file", str(hostile["huge.jsonl"]), "--column", "text"),
        "huge.jsonl: line 2: a number has more than 4300 digits",
    )
    for name in ("deep.json", "deep.jsonl"):
        _user_error(_scam("--file", str(hostile[name])), f"{name}: line 1: nested too deeply")


def test_scam_check_refuses_malformed_model_files(tmp_path: Path) -> None:
    notzip = tmp_path / "notzip.npz"
    notzip.write_bytes(b"PK\x03\x04" + b"junk" * 50)
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    nokey = tmp_path / "nokey.npz"
    np.savez_compressed(
        nokey, **{**arrays, "meta": np.array('{"format": "leaktrace-scam-linear/1"}')}
    )
    listmeta = tmp_path / "list.npz"
    np.savez_compressed(listmeta, **{**arrays, "meta": np.array("[1, 2]")})
    for model, needle in [
        (notzip, "notzip.npz: not a leaktrace scam model (BadZipFile)"),
        (nokey, "nokey.npz: model metadata has no 'classes'"),
        (listmeta, "list.npz: model metadata is not a JSON object"),
    ]:
        _user_error(_scam("您好", "--model", str(model)), needle)


@pytest.mark.parametrize("codec", ["rot13", "hex_codec", "base64"])
def test_encodings_that_are_not_text_encodings(
    workspace: Workspace, tmp_path: Path, codec: str
) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,phone\n1234567890123456,13800138000\n", encoding="utf-8")
    out = str(tmp_path / "out.csv")
    needle = f"{codec!r} is not a text encoding"
    release = ("release", str(orders), "--to", "cs-firm", "--out", out, "--encoding", codec)
    _user_error(run_cli(*release, home=workspace.home), needle)
    _user_error(run_cli("trace", str(orders), "--encoding", codec, home=workspace.home), needle)
    _nothing_written(workspace, tmp_path)


def test_handle_errors_turns_recursion_error_into_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Backstop for a deep structure that reaches code outside the JSON readers."""

    def deep(n: int) -> int:
        return deep(n + 1)

    @handle_errors
    def command() -> int:
        return deep(0)

    with pytest.raises(typer.Exit) as ei:
        command()
    assert ei.value.exit_code == 2
    assert capsys.readouterr().err == "error: input nested too deeply to read\n"


def test_characters_no_database_takes_mark_the_row_not_the_file(tmp_path: Path) -> None:
    """JSON may spell a lone surrogate ("\\ud800") or a NUL: the first cannot be encoded
    for a digest or a seal (a traceback before), PostgreSQL refuses the second (the whole
    file was rejected). Bad rows never stop a run: they are stored as malformed, with
    their reason, and the rows beside them are kept."""
    ws = make_workspace(tmp_path / "ws")
    f = tmp_path / "reports.jsonl"
    f.write_text(
        '{"phone": "13800000000", "caller": "950\\ud80013", "reported_at": "2025-01-01"}\n'
        '{"phone": "13800000001", "caller": "950\\u000013", "reported_at": "2025-01-01"}\n'
        '{"phone": "13800000002", "caller": "95013", "reported_at": "2025-01-01"}\n'
    )
    r = run_cli("report", "add", str(f), home=ws.home)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    listed = run_cli("report", "list", "--json", home=ws.home)
    rows = json.loads(listed.stdout)
    assert [row["status"] for row in rows] == ["malformed", "malformed", "ok"]
    assert all("no text" in row["reason"] for row in rows[:2])
    assert [row["caller"] for row in rows] == ["950?13", "95013", "95013"]
