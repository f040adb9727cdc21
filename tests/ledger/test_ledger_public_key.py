"""``verify(public_key=...)``: a public key kept outside the workspace shows a swapped key pair.

Whoever can write the workspace can put a key pair of their own in ``keys/``, rewrite the
ledger and re-sign it (records and key check values): plain ``verify`` checks with the
workspace's own ``signing.pub`` and is fooled. Checked against the public key as it was
written down elsewhere, it is not.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from leaktrace.errors import KeyFileError
from leaktrace.keys import load_public_key, write_secret_file
from leaktrace.ledger import Ledger
from leaktrace.ledger.chain import GENESIS, record_hash, sign
from leaktrace.release import release
from leaktrace.workspace import Workspace, open_workspace


def swap_key_pair_and_resign(home: Path, rows: int) -> None:
    """What a writer of the workspace can do: a new Ed25519 pair in ``keys/``, every
    record's ``rows`` set to ``rows``, the chain re-hashed and re-signed the way
    :meth:`Ledger.append` signs, and the key check values re-signed too."""
    keys = home / "keys"
    new = Ed25519PrivateKey.generate()
    (keys / "signing.key").unlink()
    write_secret_file(
        keys / "signing.key",
        new.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    (keys / "signing.pub").write_bytes(
        new.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    ws = open_workspace(home)
    for check in sorted(keys.glob("master.v*.check")):
        ws.keys.write_check(int(check.name.split(".")[1][1:]))
    prev = GENESIS
    with sqlite3.connect(home / "ledger.db") as con:
        for e in Ledger(ws).entries():
            body = {**e.body(), "rows": rows, "prev_hash": prev}
            h = record_hash(body)
            con.execute(
                "update releases set rows = ?, prev_hash = ?, record_hash = ?, signature = ? "
                "where seq = ?",
                (rows, prev, h, sign(new, h), e.seq),
            )
            prev = h


@pytest.fixture
def kept_key(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> Path:
    """Two releases, and the workspace's public key copied outside it (as an operator
    keeps it: a ticket, a mail, another machine)."""
    release(shop, recipient="zto", workspace=workspace)
    release(shop, recipient="cs-firm", workspace=workspace)
    kept = tmp_path / "kept" / "signing.pub"
    kept.parent.mkdir()
    shutil.copy(workspace.home / "keys" / "signing.pub", kept)
    return kept


def test_verify_with_the_workspace_public_key_passes(workspace: Workspace, kept_key: Path) -> None:
    ledger = Ledger(workspace)
    for given in (kept_key, str(kept_key), load_public_key(kept_key)):
        res = ledger.verify(public_key=given)
        assert res.ok and res.records == 2, res.problem


def test_a_swapped_key_pair_fools_plain_verify_but_not_a_kept_public_key(
    workspace: Workspace, kept_key: Path
) -> None:
    swap_key_pair_and_resign(workspace.home, rows=1)
    ledger = Ledger(open_workspace(workspace.home))
    assert [e.rows for e in ledger.entries()] == [1, 1]  # the history was rewritten
    assert ledger.verify().ok  # and the workspace's own key vouches for it
    for given in (kept_key, load_public_key(kept_key)):
        res = ledger.verify(public_key=given)
        assert not res.ok
        assert res.problem is not None and "keys/signing.pub differs" in res.problem
    res = ledger.verify(public_key=kept_key)
    assert res.problem is not None and str(kept_key) in res.problem


def test_an_unreadable_public_key_is_named(workspace: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "nope.pub"
    with pytest.raises(KeyFileError, match=r"nope\.pub"):
        Ledger(workspace).verify(public_key=bad)
    bad.write_text("not a key")
    with pytest.raises(KeyFileError, match=r"nope\.pub"):
        Ledger(workspace).verify(public_key=bad)


def test_the_kept_key_in_the_environment_guards_every_command_that_verifies(
    workspace: Workspace, kept_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$LEAKTRACE_PUBLIC_KEY`` makes ``require_valid`` (what trace and attribute run
    first) check against the kept key, so a swapped pair stops them too."""
    from leaktrace.errors import LedgerIntegrityError
    from leaktrace.ledger.ledger import PUBLIC_KEY_ENV

    monkeypatch.setenv(PUBLIC_KEY_ENV, str(kept_key))
    Ledger(workspace).require_valid()  # the right key: passes
    swap_key_pair_and_resign(workspace.home, rows=1)
    ws = open_workspace(workspace.home)
    monkeypatch.delenv(PUBLIC_KEY_ENV)
    assert Ledger(ws).verify().ok  # fooled without it
    monkeypatch.setenv(PUBLIC_KEY_ENV, str(kept_key))
    res = Ledger(ws).verify()
    assert not res.ok and "$LEAKTRACE_PUBLIC_KEY" in (res.problem or "")
    with pytest.raises(LedgerIntegrityError, match=r"signing\.pub differs"):
        Ledger(ws).require_valid()
