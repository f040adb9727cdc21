"""A passphrase-protected signing key, through the CLI as a user meets it.

``leaktrace init --protect-signing-key`` and ``leaktrace keys protect-signing-key`` encrypt
``keys/signing.key`` with ``$LEAKTRACE_SIGNING_PASSPHRASE``; everything that signs then
needs the passphrase. Missing or wrong: exit code 2, one stderr line that does not quote
the passphrase, and nothing written (no copy, no index, no record, no reservation).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import make_workspace, run_cli
from leaktrace.workspace import Workspace, add_recipient, open_workspace

ENV = "LEAKTRACE_SIGNING_PASSPHRASE"
PASSPHRASE = "Tr0ub4dor & 3 电池 staple"
WRONG = "wrong-passphrase-4711"


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the variable itself; the subprocesses inherit ``os.environ``."""
    monkeypatch.delenv(ENV, raising=False)


def _user_error(r: subprocess.CompletedProcess[str], needle: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr, r.stderr
    assert PASSPHRASE not in r.stderr and WRONG not in r.stderr


def _assert_nothing_written(home: Path, out: Path, records: int) -> None:
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []
    index = sorted(p.name for p in (home / "index").iterdir())
    assert len(index) == records and not any(n.startswith(".") for n in index), index
    listed = run_cli("releases", "--json", home=home)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == records
    held = run_cli("canary", "reservations", "--json", home=home)
    assert held.returncode == 0 and json.loads(held.stdout)["reservations"] == []


@pytest.fixture
def protected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    home = tmp_path / "ws"
    _user_error(run_cli("init", "--protect-signing-key", home=home), ENV)
    assert not home.exists()  # refused before anything was made
    monkeypatch.setenv(ENV, PASSPHRASE)
    r = run_cli("init", "--protect-signing-key", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["signing_key_protected"] is True
    monkeypatch.delenv(ENV)
    ws = open_workspace(home)
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    return ws


def test_init_protects_the_signing_key_on_disk(protected: Workspace) -> None:
    key = protected.home / "keys" / "signing.key"
    raw = key.read_bytes()
    assert raw.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert key.stat().st_mode & 0o777 == 0o600
    assert PASSPHRASE.encode() not in raw
    assert not any(PASSPHRASE.encode() in p.read_bytes() for p in protected.home.rglob("*.*"))
    r = run_cli("verify", home=protected.home)  # verifying needs no passphrase
    assert r.returncode == 0, r.stderr


def test_a_release_needs_the_right_passphrase(
    protected: Workspace, shop_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out" / "zto.csv"
    out.parent.mkdir()
    args = ("release", str(shop_parquet), "--to", "zto", "--out", str(out))
    _user_error(run_cli(*args, home=protected.home), f"is encrypted: set {ENV}")
    _assert_nothing_written(protected.home, out, records=0)
    monkeypatch.setenv(ENV, WRONG)
    _user_error(run_cli(*args, home=protected.home), "wrong passphrase")
    _assert_nothing_written(protected.home, out, records=0)
    monkeypatch.setenv(ENV, PASSPHRASE)
    r = run_cli(*args, "--json", home=protected.home)
    assert r.returncode == 0, r.stderr
    assert out.exists() and json.loads(r.stdout)["rows"] > 0
    monkeypatch.delenv(ENV)
    v = run_cli("verify", "--json", home=protected.home)
    assert v.returncode == 0 and json.loads(v.stdout)["records"] == 1, v.stderr


def test_key_rotation_needs_the_passphrase(
    protected: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = protected.home / "keys"
    monkeypatch.setenv(ENV, WRONG)
    _user_error(run_cli("keys", "rotate", home=protected.home), "wrong passphrase")
    assert not (keys / "master.v2.key").exists() and not (keys / "master.v2.check").exists()
    monkeypatch.setenv(ENV, PASSPHRASE)
    r = run_cli("keys", "rotate", "--json", home=protected.home)
    assert r.returncode == 0 and json.loads(r.stdout)["key_version"] == 2, r.stderr
    monkeypatch.delenv(ENV)
    assert run_cli("verify", home=protected.home).returncode == 0


def test_protecting_an_existing_workspace(
    tmp_path: Path, shop_parquet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path / "ws")
    keys = ws.home / "keys"
    pub = (keys / "signing.pub").read_bytes()
    out = tmp_path / "out" / "zto.csv"
    out.parent.mkdir()
    args = ("release", str(shop_parquet), "--to", "zto", "--out", str(out))
    assert run_cli(*args, home=ws.home).returncode == 0  # unprotected: no passphrase needed
    out.unlink()

    _user_error(run_cli("keys", "protect-signing-key", home=ws.home), ENV)
    assert (keys / "signing.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    monkeypatch.setenv(ENV, PASSPHRASE)
    r = run_cli("keys", "protect-signing-key", "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["protected"] is True and PASSPHRASE not in r.stderr
    raw = (keys / "signing.key").read_bytes()
    assert raw.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (keys / "signing.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "signing.pub").read_bytes() == pub
    assert [p.name for p in keys.iterdir() if p.name.startswith(".")] == []
    _user_error(run_cli("keys", "protect-signing-key", home=ws.home), "already protected")
    assert (keys / "signing.key").read_bytes() == raw

    monkeypatch.delenv(ENV)
    _user_error(run_cli(*args, home=ws.home), "is encrypted")
    _assert_nothing_written(ws.home, out, records=1)
    monkeypatch.setenv(ENV, PASSPHRASE)
    assert run_cli(*args, home=ws.home).returncode == 0 and out.exists()
    monkeypatch.delenv(ENV)
    v = run_cli("verify", "--json", home=ws.home)  # the record made before still verifies
    assert v.returncode == 0 and json.loads(v.stdout)["records"] == 2, v.stderr


def test_verify_against_a_public_key_kept_elsewhere(tmp_path: Path, shop_parquet: Path) -> None:
    """A writer of the workspace swaps the key pair and re-signs a rewritten ledger: plain
    ``verify`` is fooled, ``verify --public-key`` with the key kept elsewhere is not."""
    from ledger.test_ledger_public_key import swap_key_pair_and_resign

    ws = make_workspace(tmp_path / "ws")
    for recipient in ("zto", "cs-firm"):
        out = tmp_path / f"{recipient}.csv"
        args = ("release", str(shop_parquet), "--to", recipient, "--out", str(out))
        assert run_cli(*args, home=ws.home).returncode == 0
    kept = tmp_path / "kept.pub"
    kept.write_bytes((ws.home / "keys" / "signing.pub").read_bytes())
    r = run_cli("verify", "--public-key", str(kept), "--json", home=ws.home)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stderr

    swap_key_pair_and_resign(ws.home, rows=1)
    listed = json.loads(run_cli("releases", "--json", home=ws.home).stdout)
    assert [e["rows"] for e in listed] == [1, 1]
    plain = run_cli("verify", home=ws.home)
    assert plain.returncode == 0, plain.stderr  # fooled
    r = run_cli("verify", "--public-key", str(kept), home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "keys/signing.pub differs from the public key" in r.stderr and "kept.pub" in r.stderr
    r = run_cli("verify", "--public-key", str(kept), "--json", home=ws.home)
    assert r.returncode == 2 and not json.loads(r.stdout)["ok"]
    assert "signing.pub differs" in json.loads(r.stdout)["problem"]
    missing = run_cli("verify", "--public-key", str(tmp_path / "nope.pub"), home=ws.home)
    assert missing.returncode == 2 and "nope.pub" in missing.stderr


def test_trace_with_a_bundle_needs_the_passphrase_before_writing_anything(
    protected: Workspace, shop_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle is signed: without the passphrase ``trace --report --bundle`` fails
    first, leaving neither file (the report alone would look like a finished trace)."""
    copy = tmp_path / "zto.csv"
    monkeypatch.setenv(ENV, PASSPHRASE)
    r = run_cli(
        "release", str(shop_parquet), "--to", "zto", "--out", str(copy), home=protected.home
    )
    assert r.returncode == 0, r.stderr
    monkeypatch.delenv(ENV)
    report, bundle = tmp_path / "r.html", tmp_path / "b.json"
    args = ("trace", str(copy), "--report", str(report), "--bundle", str(bundle))
    _user_error(run_cli(*args, home=protected.home), f"is encrypted: set {ENV}")
    assert not report.exists() and not bundle.exists()
    assert run_cli("trace", str(copy), "--report", str(report), home=protected.home).returncode == 0
    monkeypatch.setenv(ENV, PASSPHRASE)
    report.unlink()
    r = run_cli(*args, home=protected.home)
    assert r.returncode == 0 and report.exists() and bundle.exists(), r.stderr
