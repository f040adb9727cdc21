"""Keys: files are private, rotation adds a version, old releases still trace."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.errors import KeyFileError
from leaktrace.keys import KeyRing
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace, open_workspace

COLS = ["name", "phone", "address", "order_time", "product"]


def test_rotation_keeps_old_releases_traceable(workspace: Workspace, shop: pl.DataFrame) -> None:
    old = release(shop, recipient="cs-firm", workspace=workspace).frame
    assert workspace.keys.rotate() == 2
    ws = open_workspace(workspace.home)
    new = release(shop, recipient="cs-firm", workspace=ws).frame
    assert old is not None and new is not None
    assert (ws.home / "keys" / "master.v1.key").exists()
    r_old = trace(old.sample(8, seed=1).select(COLS), workspace=ws)
    r_new = trace(new.sample(8, seed=2).select(COLS), workspace=ws)
    assert [(c.recipient, c.key_version) for c in r_old.accused] == [("cs-firm", 1)]
    assert [(c.recipient, c.key_version) for c in r_new.accused] == [("cs-firm", 2)]


def test_derived_keys_differ_by_purpose_and_version(workspace: Workspace) -> None:
    k = workspace.keys
    assert k.derive("mark/a") != k.derive("mark/b")
    k.rotate()
    assert k.derive("mark/a", 1) != k.derive("mark/a", 2)
    assert "hidden" in repr(k.master(1)) and k.master(1)._secret.hex() not in repr(k)


def test_world_readable_key_is_refused(workspace: Workspace) -> None:
    os.chmod(workspace.home / "keys" / "master.v1.key", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyRing(workspace.home / "keys")


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_key_folder_writable_by_others_is_refused(workspace: Workspace, mode: int) -> None:
    """In such a folder another user could swap the signing key pair (secrets audit)."""
    keys = workspace.home / "keys"
    os.chmod(keys, mode)
    with pytest.raises(KeyFileError, match="chmod 700"):
        KeyRing(keys)
    os.chmod(keys, 0o750)  # readable by a group: the files inside are 0600 anyway
    ring = KeyRing(keys)
    ring.rotate()
    assert keys.stat().st_mode & 0o777 == 0o700  # rotate puts init's mode back


def test_cli_verify_names_the_first_bad_record(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    import sqlite3

    release(shop, recipient="zto", workspace=workspace)
    release(shop, recipient="yto", workspace=workspace)
    with sqlite3.connect(workspace.home / "ledger.db") as con:
        con.execute("update releases set canaries = canaries + 1 where seq = 2")
    r = run_cli("verify", home=workspace.home)
    assert r.returncode == 2
    assert "record 2" in r.stderr and "Traceback" not in r.stderr
    t = run_cli("trace", str(tmp_path / "x.csv"), home=workspace.home)
    assert t.returncode == 2


def test_master_keys_refuse_to_be_pickled(workspace: Workspace) -> None:
    import pickle

    with pytest.raises(TypeError, match="must not be pickled"):
        pickle.dumps(workspace.keys)
    with pytest.raises(TypeError):
        pickle.dumps(workspace)


def test_workspace_files_are_owner_only(workspace: Workspace) -> None:
    """The config names the canary pool and the ledger holds canary tokens and victim
    reports: anyone who reads them can strip canaries from a copy."""
    assert workspace.home.stat().st_mode & 0o077 == 0
    for name in ("leaktrace.toml", "ledger.db"):
        assert (workspace.home / name).stat().st_mode & 0o077 == 0, name


def test_new_keys_are_format_2_and_make_siphash_digest_keys(workspace: Workspace) -> None:
    from leaktrace.digest import SipKey

    raw = (workspace.home / "keys" / "master.v1.key").read_bytes()
    assert len(raw) == 36 and raw.startswith(b"LTK2")
    k = workspace.keys
    for purpose in ("anchor", "index", "customer"):
        assert isinstance(k.derive(purpose), SipKey)
    for purpose in ("mark/timestamp", "alias", "canary", "mask-digest"):
        assert not isinstance(k.derive(purpose), SipKey)


def test_format_1_keys_keep_hmac_and_trace_beside_a_rotated_format_2_key(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """A workspace made before key format 2 (a bare 32-byte master key) keeps its HMAC
    digests; rotating adds a SipHash version; releases of both trace to their source."""
    from conftest import make_workspace
    from leaktrace.digest import SipKey, keyed_digest_one
    from leaktrace.identity import canonical_columns
    from leaktrace.keys import write_secret_file

    ws = make_workspace(tmp_path / "ws")
    key_file = ws.home / "keys" / "master.v1.key"
    key_file.unlink()
    write_secret_file(key_file, os.urandom(32))  # as `leaktrace init` wrote it before
    (ws.home / "keys" / "master.v1.check").unlink()  # ... without a check value
    ws = open_workspace(ws.home)
    assert not isinstance(ws.keys.derive("index"), SipKey)
    old = release(shop, recipient="cs-firm", workspace=ws)
    assert old.frame is not None
    index = pl.read_parquet(ws.home / old.entry.index_file)
    sent = canonical_columns(old.frame.head(1).select("order_id"))["order_id"][0]
    hmac_digest = keyed_digest_one(sent, bytes(ws.keys.derive("index", 1)))
    assert index["k_order"][0] == hmac_digest  # the HMAC-SHA256 digest, as before

    assert ws.keys.rotate() == 2
    ws = open_workspace(ws.home)
    assert isinstance(ws.keys.derive("index", 2), SipKey)
    new = release(shop, recipient="cs-firm", workspace=ws)
    assert new.frame is not None
    r_old = trace(old.frame.sample(8, seed=1).select(COLS), workspace=ws)
    r_new = trace(new.frame.sample(8, seed=2).select(COLS), workspace=ws)
    assert [(c.recipient, c.key_version) for c in r_old.accused] == [("cs-firm", 1)]
    assert [(c.recipient, c.key_version) for c in r_new.accused] == [("cs-firm", 2)]


def test_a_damaged_master_key_file_is_refused(workspace: Workspace) -> None:
    key_file = workspace.home / "keys" / "master.v1.key"
    os.chmod(key_file, 0o600)
    key_file.write_bytes(b"LTK3" + bytes(32))
    with pytest.raises(KeyFileError, match="not a leaktrace master key"):
        KeyRing(workspace.home / "keys")


def test_cli_rotate_reports_version_and_format(workspace: Workspace) -> None:
    import json

    r = run_cli("keys", "rotate", "--json", home=workspace.home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"key_version": 2, "key_format": 2}
    raw = (workspace.home / "keys" / "master.v2.key").read_bytes()
    assert (
        raw.startswith(b"LTK2")
        and (workspace.home / "keys" / "master.v2.key").stat().st_mode & 0o077 == 0
    )


def test_a_replaced_or_rewritten_key_file_fails_verify(tmp_path: Path) -> None:
    """Each master key has a signed check value beside it. A key file replaced by another
    secret, or its own secret saved in the other format, would make every trace of that
    version find nothing; verify says so and names the file."""
    from conftest import make_workspace
    from leaktrace.keys import KEY_FORMAT_2, write_secret_file
    from leaktrace.ledger import Ledger

    ws = make_workspace(tmp_path / "ws")
    keys = ws.home / "keys"
    assert ws.keys.rotate() == 2
    assert sorted(p.name for p in keys.glob("*.check")) == ["master.v1.check", "master.v2.check"]
    assert Ledger(open_workspace(ws.home)).verify().ok
    good = (keys / "master.v1.key").read_bytes()
    for replacement in (good[len(KEY_FORMAT_2) :], KEY_FORMAT_2 + os.urandom(32)):
        (keys / "master.v1.key").unlink()
        write_secret_file(keys / "master.v1.key", replacement)
        res = Ledger(open_workspace(ws.home)).verify()
        assert not res.ok
        assert res.problem is not None and "master.v1.key does not match" in res.problem
        assert good.hex() not in res.problem and replacement.hex() not in res.problem
    (keys / "master.v1.key").unlink()
    write_secret_file(keys / "master.v1.key", good)
    assert Ledger(open_workspace(ws.home)).verify().ok

    check = keys / "master.v2.check"
    forged = json.loads(check.read_text())
    forged["key_format"] = 1
    check.write_text(json.dumps(forged))
    res = Ledger(open_workspace(ws.home)).verify()
    assert not res.ok and res.problem is not None and "master.v2.check" in res.problem


def test_a_workspace_without_check_values_gets_them_on_verify(tmp_path: Path) -> None:
    from conftest import make_workspace
    from leaktrace.ledger import Ledger

    ws = make_workspace(tmp_path / "ws")
    check = ws.home / "keys" / "master.v1.check"
    check.unlink()
    r = run_cli("verify", home=ws.home)
    assert r.returncode == 0 and "trace" in r.stderr and "v1 had no check value" in r.stderr
    assert check.exists()
    assert Ledger(open_workspace(ws.home)).verify().ok


def test_verify_catches_a_missing_key_or_check_file(tmp_path: Path, shop: pl.DataFrame) -> None:
    """Once a workspace has check values, deleting one must not let a replaced key through
    (it used to be re-created for whatever key was there), and a key version the ledger's
    releases were made with must be present."""
    from conftest import make_workspace
    from leaktrace.keys import KEY_FORMAT_2, write_secret_file
    from leaktrace.ledger import Ledger

    ws = make_workspace(tmp_path / "ws")
    release(shop, recipient="cs-firm", workspace=ws)
    assert ws.keys.rotate() == 2
    ws = open_workspace(ws.home)
    release(shop, recipient="cs-firm", workspace=ws)
    keys = ws.home / "keys"
    good = (keys / "master.v1.key").read_bytes()
    (keys / "master.v1.check").unlink()
    (keys / "master.v1.key").unlink()
    write_secret_file(keys / "master.v1.key", KEY_FORMAT_2 + os.urandom(32))
    res = Ledger(open_workspace(ws.home)).verify()
    assert not res.ok and res.problem is not None and "master.v1.check is missing" in res.problem
    assert not (keys / "master.v1.check").exists()
    (keys / "master.v1.key").unlink()
    write_secret_file(keys / "master.v1.key", good)
    ws.keys.write_check(1)
    assert Ledger(open_workspace(ws.home)).verify().ok
    (keys / "master.v2.key").unlink()
    (keys / "master.v2.check").unlink()
    res = Ledger(open_workspace(ws.home)).verify()
    assert not res.ok and res.problem is not None and "version 2 is not in" in res.problem


def test_a_workspace_rotated_before_check_files_vouched_for_earlier_keys(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """A workspace made before check values and rotated by session-7 code has a v2 check file
    that records nothing about v1, and no v1 check file. It must keep working: releases
    proceed (they never trust on their own), and verify trusts v1 on first use, saying so.
    Since session 8 a new check file also records the earlier keys' values, so deleting an
    earlier check file no longer lets a replaced key through (previous test)."""
    from conftest import make_workspace
    from leaktrace.keys import _check_message

    ws = make_workspace(tmp_path / "ws")
    assert ws.keys.rotate() == 2
    keys = ws.home / "keys"
    old_style = {k: v for k, v in json.loads((keys / "master.v2.check").read_text()).items()}
    assert "earlier" in old_style  # what session 8 writes
    body = {k: old_style[k] for k in ("version", "key_format", "check")}
    sig = ws.keys.signing_key().sign(_check_message(body)).hex()
    (keys / "master.v2.check").write_text(json.dumps({**body, "signature": sig}))
    (keys / "master.v1.check").unlink()
    ws = open_workspace(ws.home)
    assert release(shop, recipient="cs-firm", workspace=ws).rows > 0
    assert not (keys / "master.v1.check").exists()  # a release does not trust on its own
    r = run_cli("verify", "--json", home=ws.home)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"], r.stderr
    assert "v1 had no check value" in r.stderr and (keys / "master.v1.check").exists()


@pytest.mark.parametrize("how", ["replace-newest", "plant-newer"])
def test_a_key_without_a_check_value_newer_than_a_checked_one_is_refused(
    workspace: Workspace, shop: pl.DataFrame, how: str
) -> None:
    """The workspace made check values, so a newer version without one was added or
    replaced outside leaktrace. An audit replaced the newest key and deleted its check
    file: verify trusted it "on first use" and a leak of that version's releases was
    then traced to nobody; a planted v3 was used by the next release without a word."""
    from leaktrace.keys import write_secret_file

    keys = workspace.home / "keys"
    assert workspace.keys.rotate() == 2
    release(shop, recipient="cs-firm", workspace=open_workspace(workspace.home))
    if how == "replace-newest":
        (keys / "master.v2.key").unlink()
        (keys / "master.v2.check").unlink()
        write_secret_file(keys / "master.v2.key", b"LTK2" + os.urandom(32))
    else:
        write_secret_file(keys / "master.v3.key", b"LTK2" + os.urandom(32))
    r = run_cli("verify", home=workspace.home)
    assert r.returncode == 2 and "has no check value, though master.v1.check exists" in r.stderr
    assert not (
        keys / ("master.v2.check" if how == "replace-newest" else "master.v3.check")
    ).exists()
    with pytest.raises(KeyFileError, match="added or replaced outside leaktrace"):
        release(shop, recipient="cs-firm", workspace=open_workspace(workspace.home))


PASSPHRASE = "correct horse 电池 staple"


def test_init_with_a_passphrase_encrypts_the_signing_key(
    tmp_path: Path, shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever reads the workspace files must not get a key that re-signs the ledger; every
    signature then needs the passphrase, which no message quotes."""
    from leaktrace.errors import SigningPassphraseError
    from leaktrace.ledger import Ledger
    from leaktrace.workspace import add_recipient, init_workspace

    monkeypatch.delenv("LEAKTRACE_SIGNING_PASSPHRASE", raising=False)
    ws = init_workspace(tmp_path / "ws", signing_passphrase=PASSPHRASE)
    key_file = ws.home / "keys" / "signing.key"
    raw = key_file.read_bytes()
    assert raw.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert PASSPHRASE.encode() not in raw and ws.keys.signing_key_protected()
    add_recipient(ws, "cs-firm", template="customer-service")
    release(shop, recipient="cs-firm", workspace=ws)  # the process that made it can sign

    ring = open_workspace(ws.home).keys
    with pytest.raises(SigningPassphraseError, match="is encrypted: set LEAKTRACE_SIGNING_"):
        ring.signing_key()
    monkeypatch.setenv("LEAKTRACE_SIGNING_PASSPHRASE", "not the passphrase")
    with pytest.raises(SigningPassphraseError, match="wrong passphrase") as wrong:
        ring.signing_key()
    assert "not the passphrase" not in str(wrong.value) and PASSPHRASE not in str(wrong.value)
    with pytest.raises(SigningPassphraseError):
        ring.rotate()
    assert not (ws.home / "keys" / "master.v2.key").exists()
    monkeypatch.setenv("LEAKTRACE_SIGNING_PASSPHRASE", PASSPHRASE)
    assert ring.signing_key().public_key() == ring.public_key()
    assert ring.rotate() == 2
    monkeypatch.delenv("LEAKTRACE_SIGNING_PASSPHRASE")
    assert Ledger(open_workspace(ws.home)).verify().ok  # verifying needs no passphrase


def test_an_unusable_passphrase_makes_no_workspace(tmp_path: Path) -> None:
    from leaktrace.errors import SigningPassphraseError
    from leaktrace.workspace import init_workspace

    for bad in ("", "x" * 1024):
        with pytest.raises(SigningPassphraseError, match="passphrase"):
            init_workspace(tmp_path / "ws", signing_passphrase=bad)
        assert not (tmp_path / "ws").exists()


def test_protecting_an_existing_key_keeps_the_pair(
    workspace: Workspace, shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leaktrace.errors import SigningPassphraseError
    from leaktrace.ledger import Ledger

    monkeypatch.delenv("LEAKTRACE_SIGNING_PASSPHRASE", raising=False)
    release(shop, recipient="cs-firm", workspace=workspace)
    keys = workspace.home / "keys"
    before = (keys / "signing.pub").read_bytes()
    plain = workspace.keys.signing_key()
    assert not workspace.keys.signing_key_protected()
    workspace.keys.protect_signing_key(PASSPHRASE)
    assert (keys / "signing.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    assert (keys / "signing.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "signing.pub").read_bytes() == before
    assert sorted(p.name for p in keys.iterdir() if p.name.startswith(".")) == []
    ws = open_workspace(workspace.home)
    assert Ledger(ws).verify().ok  # the earlier record still verifies
    with pytest.raises(SigningPassphraseError, match="is encrypted"):
        release(shop, recipient="cs-firm", workspace=ws)
    assert len(Ledger(ws).entries()) == 1
    monkeypatch.setenv("LEAKTRACE_SIGNING_PASSPHRASE", PASSPHRASE)
    assert ws.keys.signing_key().public_key() == plain.public_key()
    release(shop, recipient="cs-firm", workspace=ws)
    assert Ledger(ws).verify().ok and len(Ledger(ws).entries()) == 2
    with pytest.raises(SigningPassphraseError, match="already protected"):
        ws.keys.protect_signing_key("another one")


def test_a_signing_key_that_does_not_match_its_public_key_is_not_protected(
    workspace: Workspace,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from leaktrace.keys import write_secret_file

    path = workspace.home / "keys" / "signing.key"
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.unlink()
    write_secret_file(path, other)
    with pytest.raises(KeyFileError, match="does not match"):
        open_workspace(workspace.home).keys.protect_signing_key(PASSPHRASE)
    assert path.read_bytes() == other


def test_a_protected_workspace_without_a_check_value_fails_verify_until_one_is_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing check value can be a deleted one, beside a replaced key. Without the
    passphrase verify cannot sign a new one, so it says so and fails, rather than pass
    silently (a review replaced the key, deleted its check file, and verify said "key check
    values verified"); with the passphrase it writes it, on trust, and says so."""
    from leaktrace.ledger import Ledger
    from leaktrace.workspace import init_workspace

    monkeypatch.delenv("LEAKTRACE_SIGNING_PASSPHRASE", raising=False)
    home = init_workspace(tmp_path / "ws", signing_passphrase=PASSPHRASE).home
    check = home / "keys" / "master.v1.check"
    check.unlink()
    ws = open_workspace(home)
    res = Ledger(ws).verify()
    assert not res.ok and "has no check value" in (res.problem or "")
    assert "LEAKTRACE_SIGNING_PASSPHRASE" in (res.problem or "")
    assert not check.exists() and ws.keys.trusted_on_first_use == []
    monkeypatch.setenv("LEAKTRACE_SIGNING_PASSPHRASE", PASSPHRASE)
    ws = open_workspace(home)
    assert Ledger(ws).verify().ok
    assert check.exists() and ws.keys.trusted_on_first_use == [1]


@pytest.mark.parametrize("stray", ["master.vX.key", "master.v01.key", "master.v0.key"])
def test_a_stray_master_key_name_is_named_not_a_traceback(tmp_path: Path, stray: str) -> None:
    """A file in ``keys/`` that leaktrace did not write under that name (a copy, an
    attacker's, a typo) is refused by name; ``master.v01.key`` must not pass as version 1."""
    from leaktrace.workspace import init_workspace, open_workspace

    ws = init_workspace(tmp_path / "ws")
    (ws.home / "keys" / stray).write_bytes((ws.home / "keys" / "master.v1.key").read_bytes())
    with pytest.raises(KeyFileError, match=stray.replace(".", r"\.")):
        open_workspace(ws.home)
