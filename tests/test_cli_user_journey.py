"""Session 13's CLI audit: a new analyst following the README, then bad input on every
command that takes a file or an argument.

Every test here pinned a bug found (and fixed) in session 13: it asserts what the README
promises (a user error is one line naming what and where, exit code 2, no traceback,
nothing half-written).
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.ledger.chain import canonical_json, sign
from leaktrace.release import release
from leaktrace.workspace import Workspace

UNWRITABLE = Path("/proc")
"""A folder that exists but in which nobody, root included, can create a file: the one
output of several that cannot be written, while the others can."""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m leaktrace ARGS`` for commands without a workspace."""
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args], capture_output=True, text=True, timeout=120
    )


def _user_error(r: subprocess.CompletedProcess[str], needle: str = "") -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = r.stderr
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert needle in err, err


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, shop_parquet: Path) -> Workspace:
    """The README's workspace: zto released as CSV, a 20-row leak of it re-typed."""
    root = tmp_path_factory.mktemp("audit13")
    workspace = make_workspace(root / "ws")
    release(shop_parquet, recipient="zto", workspace=workspace, out=root / "zto.csv")
    pl.read_csv(root / "zto.csv", infer_schema_length=0).sample(20, seed=1).select(
        ["name", "phone", "address", "product"]
    ).write_csv(root / "leak.csv")
    return workspace


@pytest.fixture(scope="module")
def bundle(ws: Workspace) -> dict[str, object]:
    out = ws.home.parent / "evidence.json"
    r = run_cli("trace", str(ws.home.parent / "leak.csv"), "--bundle", str(out), home=ws.home)
    assert r.returncode == 0, r.stderr
    loaded: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return loaded


# --- half-written outputs ------------------------------------------------------------


def test_trace_report_is_not_left_when_the_bundle_cannot_be_written(
    ws: Workspace, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    r = run_cli(
        "trace",
        str(ws.home.parent / "leak.csv"),
        "--report",
        str(report),
        "--bundle",
        str(UNWRITABLE / "evidence.json"),
        home=ws.home,
    )
    _user_error(r, "evidence.json")
    assert not report.exists()  # the code says "both or neither"


def test_exposed_list_is_not_left_when_the_notice_cannot_be_written(
    ws: Workspace, shop_parquet: Path, tmp_path: Path
) -> None:
    out = tmp_path / "exposed.csv"
    r = run_cli(
        "exposed",
        str(shop_parquet),
        "--to",
        "zto",
        "--out",
        str(out),
        "--notice",
        str(UNWRITABLE / "notice.txt"),
        "--measures",
        "已停止向该快递公司提供数据",
        home=ws.home,
    )
    _user_error(r, "notice.txt")
    # a file of names, phones and addresses that the failed command never reported
    assert not out.exists()


# --- verify-evidence on a signed but malformed bundle ---------------------------------


def _resign(ws: Workspace, body: dict[str, object]) -> dict[str, object]:
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    return {"body": body, "signature": sign(ws.keys.signing_key(), digest)}


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b.update(alpha=0), id="alpha-zero"),
        pytest.param(lambda b: b.pop("chain_proof"), id="no-chain-proof"),
        pytest.param(lambda b: b.update(chain_proof=[1]), id="chain-proof-not-objects"),
        pytest.param(lambda b: b.update(candidates=None), id="candidates-null"),
    ],
)
def test_verify_evidence_signed_malformed_bundle_is_one_line(
    ws: Workspace, bundle: dict[str, object], tmp_path: Path, damage: object
) -> None:
    body = copy.deepcopy(bundle["body"])
    assert isinstance(body, dict)
    damage(body)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_resign(ws, body)), encoding="utf-8")
    pub = str(ws.home / "keys" / "signing.pub")
    _user_error(_cli("verify-evidence", str(path), "--public-key", pub))


# --- JSON lines holding U+2028 (valid JSON; Python's json.dumps writes it raw) --------


def _with_line_separator(obj: dict[str, str]) -> str:
    line = json.dumps(obj, ensure_ascii=False)
    assert "\u2028" in line
    return line + "\n"


def test_report_add_jsonl_with_a_line_separator_in_a_transcript(
    ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "reports.jsonl"
    report = {
        "victim_phone": "13812345678",
        "reported_at": "2024-10-03T14:20:00+08:00",
        "channel": "phone",
        "transcript": "您好，我是淘宝客服\u2028您的订单需要理赔",
    }
    path.write_text(_with_line_separator(report), encoding="utf-8")
    r = run_cli("report", "add", str(path), "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert (res["added"], res["malformed"]) == (1, 0), res


def test_scam_check_jsonl_with_a_line_separator(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text(
        _with_line_separator({"text": "您好，我是淘宝客服\u2028请下载会议软件共享屏幕"}),
        encoding="utf-8",
    )
    r = _cli("scam", "check", "-f", str(path), "--json")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1


# --- scam check -f: empty and UTF-16 files -------------------------------------------


def test_scam_check_empty_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_bytes(b"")
    _user_error(_cli("scam", "check", "-f", str(path)), "empty")


def test_scam_check_reads_utf16_with_bom_like_every_other_input(tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_bytes("您好，我是淘宝客服，请下载会议软件共享屏幕\n".encode("utf-16"))
    r = _cli("scam", "check", "-f", str(path), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["is_scam"] is True


# --- misleading messages ---------------------------------------------------------------


def test_canary_ingest_folder_is_named_a_folder(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "cdr.json"
    folder.mkdir()
    r = run_cli("canary", "ingest", str(folder), home=ws.home)
    _user_error(r, str(folder))
    assert "no such file" not in r.stderr


def test_report_add_folder_is_named_a_folder(ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    r = run_cli("report", "add", str(folder), home=ws.home)
    _user_error(r, str(folder))
    assert "file type" not in r.stderr


def test_recipient_where_subquery_error_names_no_polars_internals(ws: Workspace) -> None:
    r = run_cli(
        "recipient", "add", "sub", "--template", "courier", "--where", "courier IN (SELECT 1)",
        home=ws.home,
    )  # fmt: skip
    _user_error(r, "where")
    assert "_POLARS" not in r.stderr


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("courier = '中通快递", "Unterminated string literal"),
        ("courier =", "not a valid SQL condition"),
        ("lower2(courier) = 'x'", "unsupported function 'lower2'"),
    ],
)
def test_recipient_where_syntax_error_says_what_is_wrong(
    ws: Workspace, where: str, says: str
) -> None:
    """The parser's reason, not only the exception's class name (SQLInterfaceError)."""
    r = run_cli("recipient", "add", "bad", "--template", "courier", "--where", where, home=ws.home)
    _user_error(r, "where")
    assert says in r.stderr and "SQLInterfaceError" not in r.stderr, r.stderr


def test_a_bundle_saved_again_with_a_bom_still_verifies(
    ws: Workspace, bundle: dict[str, object], tmp_path: Path
) -> None:
    """Windows Notepad adds a UTF-8 BOM when it saves: the signed body is unchanged."""
    path = tmp_path / "evidence.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(bundle, ensure_ascii=False).encode("utf-8"))
    r = _cli("verify-evidence", str(path), "--public-key", str(ws.home / "keys" / "signing.pub"))
    assert r.returncode == 0 and "evidence bundle OK" in r.stdout, r.stderr


def test_a_config_saved_with_a_bom_still_loads(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_workspace(home)
    config = home / "leaktrace.toml"
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    r = run_cli("recipient", "list", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert "zto" in [x["name"] for x in json.loads(r.stdout)]


def test_a_blank_where_is_no_filter(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    make_workspace(home)
    r = run_cli("recipient", "add", "all", "--template", "courier", "--where", " ", home=home)
    assert r.returncode == 0, r.stderr
    listed = json.loads(run_cli("recipient", "list", "--json", home=home).stdout)
    assert [x.get("where") for x in listed if x["name"] == "all"] == [None]


def test_init_records_the_reporting_organisation(tmp_path: Path) -> None:
    """The regulator report's 报告单位 comes from init --platform (spaces collapsed)."""
    from leaktrace.workspace import open_workspace

    r = run_cli("init", "--platform", " 某某电商  有限公司 ", home=tmp_path / "ws")
    assert r.returncode == 0, r.stderr
    assert open_workspace(tmp_path / "ws").config.workspace.platform == "某某电商 有限公司"


def test_tables_into_a_pipe_are_not_cut(ws: Workspace) -> None:
    """Into a pipe Rich assumed 80 columns and cut cells (``rel-2026…``): an analyst who
    logs ``leaktrace releases`` must be able to copy a release id from it."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    ids = [e["release_id"] for e in json.loads(run_cli("releases", "--json", home=ws.home).stdout)]
    r = subprocess.run(
        [sys.executable, "-m", "leaktrace", "releases", "--home", str(ws.home)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert r.returncode == 0 and ids, r.stderr
    assert all(i in r.stdout for i in ids) and "…" not in r.stdout, r.stdout
