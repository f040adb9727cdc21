"""Session 19: error messages a fresh user's walk through the docs found unclear.

Each bad input still ends with exit code 2 and one stderr line without a traceback, and the
line now says what is wrong and where: the file, the column, the option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.release import release
from leaktrace.workspace import Workspace


def _user_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one stderr line of a user error, checked to hold every needle."""
    assert r.returncode == 2, r.stderr
    err = r.stderr
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def _leaktrace(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m leaktrace ARGS`` without ``--home`` (run_cli always adds one)."""
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


@pytest.fixture
def released(workspace: Workspace, shop_parquet: Path, tmp_path: Path) -> Workspace:
    release(shop_parquet, recipient="zto", workspace=workspace, out=tmp_path / "zto.csv")
    return workspace


def test_where_filter_on_a_column_the_input_lacks(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """It said ``cannot be applied: ColumnNotFoundError (columns are role names: …)``."""
    src = tmp_path / "orders.csv"
    shop.drop("courier").write_csv(src)
    out = tmp_path / "o.csv"
    r = run_cli("release", str(src), "--to", "zto", "--out", str(out), home=workspace.home)
    err = _user_error(r, f"{src} has no courier column", "'zto'", "courier = '中通快递'")
    assert "ColumnNotFoundError" not in err
    assert not out.exists()


def test_nothing_to_release_says_which_file_and_why(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """It said ``the input is empty or the recipient's where-filter matched nothing``."""
    header_only = tmp_path / "header.csv"
    shop.head(0).write_csv(header_only)
    r = run_cli(
        "release", str(header_only), "--to", "zto", "--out", str(tmp_path / "o.csv"),
        home=workspace.home,
    )  # fmt: skip
    err = _user_error(r, str(header_only), "no data rows")
    assert "where" not in err
    no_zto = tmp_path / "yto_only.csv"
    shop.head(500).with_columns(courier=pl.lit("圆通速递")).write_csv(no_zto)
    r = run_cli(
        "release", str(no_zto), "--to", "zto", "--out", str(tmp_path / "o.csv"),
        home=workspace.home,
    )  # fmt: skip
    _user_error(r, str(no_zto), "matched none of the 500 rows", "'zto'")
    assert not (tmp_path / "o.csv").exists()


def test_home_that_is_a_file(shop_parquet: Path) -> None:
    """It said ``Not a directory: orders.parquet/leaktrace.toml``."""
    for command in (("verify",), ("releases",)):
        err = _user_error(
            run_cli(*command, home=shop_parquet), f"{shop_parquet} is a file", "workspace folder"
        )
        assert "leaktrace.toml" not in err


def _bundle(released: Workspace, tmp_path: Path) -> Path:
    bundle = tmp_path / "evidence.json"
    r = run_cli("trace", str(tmp_path / "zto.csv"), "--bundle", str(bundle), home=released.home)
    assert r.returncode == 0, r.stderr
    return bundle


def test_a_private_key_or_other_file_given_as_public_key(
    released: Workspace, tmp_path: Path
) -> None:
    """It said ``cannot read public key …: ValueError``."""
    bundle = _bundle(released, tmp_path)
    private = released.home / "keys" / "signing.key"
    secret_lines = [
        line for line in private.read_text(encoding="ascii").splitlines() if "-----" not in line
    ]
    not_a_key = tmp_path / "zto.csv"
    base = [sys.executable, "-m", "leaktrace"]
    for cmd in (
        [*base, "verify-evidence", str(bundle)],
        [*base, "verify", "--home", str(released.home)],
    ):
        r = subprocess.run([*cmd, "--public-key", str(private)], capture_output=True, text=True)
        err = _user_error(r, f"{private} is a private key", "signing.pub")
        assert "ValueError" not in err
        assert not any(line in err for line in secret_lines)
        r = subprocess.run([*cmd, "--public-key", str(not_a_key)], capture_output=True, text=True)
        err = _user_error(r, f"{not_a_key} is not an Ed25519 public key in PEM")
        assert "ValueError" not in err


def test_init_with_an_unsupported_database_names_its_kind_not_its_password(
    tmp_path: Path,
) -> None:
    """It said ``cannot open ledger database (ModuleNotFoundError) … (PostgreSQL needs …)``."""
    home = tmp_path / "w"
    r = run_cli("init", "--database-url", "mysql://leak:hunter2pw@db.example/ledger", home=home)
    err = _user_error(r, "mysql", "not supported", "--database-url")
    assert "hunter2pw" not in err and "ModuleNotFoundError" not in err
    assert not home.exists()
    r = run_cli("init", "--database-url", "nosuchdb://leak:hunter2pw@h/x", home=home)
    err = _user_error(r, "nosuchdb", "not supported")
    assert "hunter2pw" not in err and not home.exists()


def test_init_against_an_unreachable_server_does_not_suggest_a_backup(tmp_path: Path) -> None:
    """Nothing exists yet to restore: the advice is for a workspace that has a ledger."""
    pytest.importorskip("psycopg")
    home = tmp_path / "w"
    url = "postgresql+psycopg://leak:hunter2pw@127.0.0.1:1/ledger"
    err = _user_error(run_cli("init", "--database-url", url, home=home), "--database-url")
    assert "backup" not in err and "hunter2pw" not in err
    assert not home.exists()


def test_a_file_named_xlsx_that_is_no_workbook(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """It said ``cannot read workbook (CalamineError)``."""
    fake = tmp_path / "orders.xlsx"
    shop.head(50).write_csv(fake)
    r = run_cli(
        "release", str(fake), "--to", "zto", "--out", str(tmp_path / "o.csv"),
        home=workspace.home,
    )  # fmt: skip
    err = _user_error(r, f"{fake} is not an Excel workbook", "CSV")
    assert "CalamineError" not in err
    reports = tmp_path / "reports.xlsx"
    reports.write_text("victim_phone,reported_at\n13800138000,2024-06-01\n", encoding="utf-8")
    err = _user_error(
        run_cli("report", "add", str(reports), home=workspace.home),
        f"{reports} is not an Excel workbook",
    )
    assert "CalamineError" not in err
    r = _leaktrace("scam", "check", "--file", str(reports), cwd=tmp_path)
    err = _user_error(r, f"{reports} is not an Excel workbook")
    assert "Calamine" not in err


def test_simulate_from_an_unknown_recipient(released: Workspace, tmp_path: Path) -> None:
    """It said ``recipient 'ztoo' has no release in the ledger``."""
    r = run_cli(
        "simulate", "wave", "--source", "ztoo", "--victims", "2",
        "--shop", str(tmp_path / "zto.csv"), "--out", str(tmp_path / "w.jsonl"),
        home=released.home,
    )  # fmt: skip
    _user_error(r, "unknown recipient 'ztoo'; known recipients:", "zto")
    assert not (tmp_path / "w.jsonl").exists()


def test_verify_contact_with_a_home_that_is_no_workspace(tmp_path: Path) -> None:
    """An explicit --home that is not a workspace exited 0 with verdict "unknown"."""
    nowhere = tmp_path / "nowhere"
    err = _user_error(
        run_cli("scam", "verify-contact", "13800138000", home=nowhere), "--home", str(nowhere)
    )
    assert "leaktrace init" in err
    env = {k: v for k, v in os.environ.items() if k != "LEAKTRACE_HOME"}
    r = _leaktrace("scam", "verify-contact", "13800138000", "--json", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["verdict"] == "unknown"
    reasons = out["reasons"]
    assert any("not found" in reason for reason in reasons)
    # "not found" and "none are configured" contradicted each other
    assert not any("configured" in reason for reason in reasons), reasons
    env["LEAKTRACE_HOME"] = str(nowhere)
    r = _leaktrace("scam", "verify-contact", "13800138000", cwd=tmp_path, env=env)
    _user_error(r, "LEAKTRACE_HOME", str(nowhere))


def test_canary_hit_channel_must_be_a_known_one(workspace: Workspace) -> None:
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for channel in ("", "fax", "call sms"):
        r = run_cli(
            "canary", "hit", "--contact", "17090000001", "--channel", channel, "--at", at,
            home=workspace.home,
        )  # fmt: skip
        _user_error(r, "--channel", "call, sms, email, qq, wechat")
    ok = run_cli(
        "canary", "hit", "--contact", "17090000001", "--channel", " SMS ", "--at", at, "--json",
        home=workspace.home,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["channel"] == "sms"


def test_telecom_channels_are_hit_channels() -> None:
    """A record the telecom adapters accept must be one a hit can be recorded for."""
    from leaktrace.attribution.hits import HIT_CHANNELS
    from leaktrace.telecom.records import CHANNELS

    assert set(CHANNELS) <= set(HIT_CHANNELS)


def test_report_add_counts_in_the_singular(workspace: Workspace, tmp_path: Path) -> None:
    """It said ``1 reports added``."""
    one = tmp_path / "one.jsonl"
    one.write_text(
        json.dumps(
            {"victim_phone": "13800138000", "reported_at": "2024-06-01", "transcript": "我是客服"},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    r = run_cli("report", "add", str(one), home=workspace.home)
    assert r.returncode == 0, r.stderr
    assert "1 report added" in r.stdout and "0 duplicates skipped" in r.stdout, r.stdout
    r = run_cli("report", "add", str(one), home=workspace.home)
    assert "0 reports added" in r.stdout and "1 duplicate skipped" in r.stdout, r.stdout


def test_the_releases_table_separates_thousands_of_canaries_too(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """The releases table printed canaries as 1000, rows as 101,000."""
    workspace.config.policies["customer-service"].canary_min = 1000
    workspace.save()
    src = tmp_path / "orders.parquet"
    shop.write_parquet(src)
    r = run_cli("release", str(src), "--to", "cs-firm", "--out", str(tmp_path / "o.csv"),
                home=workspace.home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "(1,000 canaries)" in r.stderr, r.stderr
    table = run_cli("releases", home=workspace.home)
    assert table.returncode == 0, table.stderr
    assert "1,000" in table.stdout and "4,000" in table.stdout, table.stdout
