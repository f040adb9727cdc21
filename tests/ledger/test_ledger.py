"""The ledger is append-only, hash-chained and signed: every alteration is caught."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from leaktrace.errors import LedgerIntegrityError
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import Workspace


def _release_two(ws: Workspace, shop: pl.DataFrame, tmp_path: Path) -> None:
    release(shop, recipient="zto", workspace=ws, out=tmp_path / "zto.parquet")
    release(shop, recipient="cs-firm", workspace=ws, out=tmp_path / "cs.csv")


def _db(ws: Workspace) -> sqlite3.Connection:
    return sqlite3.connect(ws.home / "ledger.db")


def test_fresh_ledger_verifies(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> None:
    _release_two(workspace, shop, tmp_path)
    res = Ledger(workspace).verify()
    assert res.ok and res.records == 2
    entries = Ledger(workspace).entries()
    assert entries[1].prev_hash == entries[0].record_hash


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        ("update releases set rows = rows + 1 where seq = 1", "record 1"),
        ("update releases set recipient = 'yto' where seq = 2", "record 2"),
        ("delete from releases where seq = 1", "seq"),
        ("update releases set signature = substr(signature, 3) || 'ab' where seq = 2", "signature"),
    ],
)
def test_any_alteration_is_named(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, sql: str, expect: str
) -> None:
    _release_two(workspace, shop, tmp_path)
    with _db(workspace) as con:
        con.execute(sql)
    res = Ledger(workspace).verify()
    assert not res.ok
    assert expect in (res.problem or "")
    with pytest.raises(LedgerIntegrityError):
        Ledger(workspace).require_valid()


def _age_index_files(ws: Workspace) -> None:
    import os
    import time

    old = time.time() - 3600  # older than a release in progress could be
    for p in (ws.home / "index").glob("*.parquet"):
        os.utime(p, (old, old))


def test_removing_the_last_record_is_caught_by_its_index_file(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """What is left of the chain still links, but the removed release's index file stays:
    an audit deleted the newest record and its tokens and verify passed (and a leak of
    that release was traced to nobody). A fresh orphan may be a release in progress."""
    _release_two(workspace, shop, tmp_path)
    last = Ledger(workspace).entries()[-1]
    with _db(workspace) as con:
        con.execute("delete from canary_tokens where release_id = ?", (last.release_id,))
        con.execute("delete from releases where seq = 2")
    assert Ledger(workspace).verify().ok  # within the grace period: maybe still running
    _age_index_files(workspace)
    res = Ledger(workspace).verify()
    assert not res.ok and f"{last.index_file} belongs to no record" in (res.problem or "")


def test_a_rolled_back_ledger_fails_against_a_head_kept_elsewhere(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Replacing the whole workspace by an older copy leaves a valid chain; the head hash
    an earlier verify printed (kept outside) shows the records that are gone."""
    import shutil

    from conftest import run_cli

    release(shop, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    backup = tmp_path / "backup"
    shutil.copytree(workspace.home, backup)
    release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.csv")
    r = run_cli("verify", "--json", home=workspace.home)
    head = json.loads(r.stdout)
    assert head["ok"] and head["head_seq"] == 2
    shutil.rmtree(workspace.home)
    shutil.copytree(backup, workspace.home)
    assert run_cli("verify", home=workspace.home).returncode == 0  # the old copy is valid
    r = run_cli("verify", "--expect-head", head["head_hash"], home=workspace.home)
    assert r.returncode == 2 and "no longer holds the record with head hash" in r.stderr
    r = run_cli("verify", "--expect-head", json.loads(
        run_cli("verify", "--json", home=workspace.home).stdout
    )["head_hash"], home=workspace.home)  # fmt: skip
    assert r.returncode == 0 and "head: record 1 " in r.stderr


def test_rehashed_record_still_fails_on_signature(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """An attacker who recomputes the hash after editing still cannot sign it."""
    from leaktrace.ledger.chain import record_hash

    _release_two(workspace, shop, tmp_path)
    e = Ledger(workspace).entries()[1]
    body = e.body()
    body["rows"] = 1
    new_hash = record_hash(body)
    with _db(workspace) as con:
        con.execute("update releases set rows = 1, record_hash = ? where seq = 2", (new_hash,))
    res = Ledger(workspace).verify()
    assert not res.ok and "signature" in (res.problem or "")


def test_altered_index_file_is_caught(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    _release_two(workspace, shop, tmp_path)
    e = Ledger(workspace).entries()[0]
    p = workspace.home / e.index_file
    idx = pl.read_parquet(p)
    idx.head(idx.height - 1).write_parquet(p)
    res = Ledger(workspace).verify()
    assert not res.ok and "index file" in (res.problem or "")


def test_ledger_holds_no_plaintext_pii(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    _release_two(workspace, shop, tmp_path)
    blob = (workspace.home / "ledger.db").read_bytes()
    index_blob = b"".join(p.read_bytes() for p in (workspace.home / "index").glob("*.parquet"))
    dump = json.dumps([e.as_dict() for e in Ledger(workspace).entries()], ensure_ascii=False)
    for row in shop.head(50).iter_rows(named=True):
        for field in ("phone", "name", "address", "order_id"):
            v = str(row[field])
            assert v.encode() not in blob
            assert v.encode() not in index_blob
            assert v not in dump


def test_key_files_are_private(workspace: Workspace) -> None:
    for name in ("master.v1.key", "signing.key"):
        mode = (workspace.home / "keys" / name).stat().st_mode & 0o777
        assert mode == 0o600


def test_canary_reservations_are_distinct_free_and_released(workspace: Workspace) -> None:
    check_reservations(Ledger(workspace))


def test_numbers_of_recorded_canaries_are_never_reserved(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    check_used_numbers_excluded(workspace, shop, tmp_path)


def check_used_numbers_excluded(ws: Workspace, shop: pl.DataFrame, tmp_path: Path) -> None:
    """A pool of the numbers recorded releases used plus 40 fresh ones yields exactly the
    fresh ones, then nothing."""
    import numpy as np

    from leaktrace.errors import ConfigError

    _release_two(ws, shop, tmp_path)
    ledger = Ledger(ws)
    used = sorted({t["contact"] for t in ledger.canary_tokens() if t["contact"]})
    assert len(used) >= 10
    fresh = [str(19990000000 + i) for i in range(40)]
    pool = used[:5] + fresh + used[5:]
    got = ledger.reserve_canary_contacts("probe", pool, 40, np.random.default_rng(7))
    assert sorted(got) == fresh
    with pytest.raises(ConfigError, match="unused numbers"):
        ledger.reserve_canary_contacts("probe2", pool, 1, np.random.default_rng(8))


def check_reservations(ledger: Ledger) -> None:
    """Reserved numbers: never used, never reserved twice, even from a pool with repeats;
    a short pool is refused; dropping a release's reservations frees them. (Shared with
    the PostgreSQL tests: the query that finds taken numbers differs by database.)"""
    import numpy as np

    from leaktrace.errors import ConfigError

    pool = [str(17090000000 + i) for i in range(1500)] * 2  # every number listed twice
    first = ledger.reserve_canary_contacts("r1", pool, 1000, np.random.default_rng(1))
    assert len(set(first)) == 1000
    second = ledger.reserve_canary_contacts("r2", pool, 500, np.random.default_rng(1))
    assert len(set(second)) == 500 and not set(first) & set(second)
    with pytest.raises(ConfigError, match="unused numbers"):
        ledger.reserve_canary_contacts("r3", pool, 1, np.random.default_rng(2))
    ledger.drop_canary_reservations("r1")
    again = ledger.reserve_canary_contacts("r3", pool, 1000, np.random.default_rng(3))
    assert set(again) == set(first)


def test_stale_reservations_of_dead_releases_can_be_freed(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A release that died keeps its numbers taken until an operator frees them by age;
    the CLI lists and frees them, and never touches a recorded release's numbers."""
    from datetime import timedelta

    import numpy as np
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from conftest import run_cli
    from leaktrace.errors import ConfigError
    from leaktrace.ledger.models import CanaryReservation

    ledger = Ledger(workspace)
    pool = [str(17090000000 + i) for i in range(100)]
    ledger.reserve_canary_contacts("dead", pool, 30, np.random.default_rng(1))
    ledger.reserve_canary_contacts("running", pool, 20, np.random.default_rng(2))
    with Session(ledger.engine) as s, s.begin():  # "dead" reserved two days ago
        s.execute(
            update(CanaryReservation)
            .where(CanaryReservation.release_id == "dead")
            .values(created="2000-01-01T00:00:00+00:00")
        )
    assert [(r["release_id"], r["numbers"]) for r in ledger.canary_reservations()] == [
        ("dead", 30),
        ("running", 20),
    ]
    with pytest.raises(ConfigError, match="positive"):
        ledger.free_stale_canary_reservations(timedelta(0))
    cli = run_cli(
        "canary", "reservations", "--free-older-than", "24", "--json", home=workspace.home
    )
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    assert out["freed"] == 30
    assert [r["release_id"] for r in out["reservations"]] == ["running"]
    # the freed numbers can be reserved again; the running release's cannot
    again = ledger.reserve_canary_contacts("next", pool, 80, np.random.default_rng(3))
    assert len(set(again)) == 80
    with pytest.raises(ConfigError, match="unused numbers"):
        ledger.reserve_canary_contacts("more", pool, 1, np.random.default_rng(4))


def test_reservations_and_tokens_are_looked_up_through_the_contact_index(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Every statement a reservation runs searches the tokens and reservations by index:
    a full scan of the token table (10,000 rows per 1M released) in every batch of every
    release is what made releases slow down as the ledger grew."""
    import numpy as np

    _release_two(workspace, shop, tmp_path)
    ledger = Ledger(workspace)
    statements: list[str] = []

    from sqlalchemy import event

    event.listen(
        ledger.engine,
        "before_cursor_execute",
        lambda conn, cur, stmt, params, ctx, many: statements.append((stmt, params)),
    )
    pool = [str(17090000000 + i) for i in range(5000)]
    assert len(ledger.reserve_canary_contacts("probe", pool, 300, np.random.default_rng(5))) == 300
    selects = [(q, p) for q, p in statements if q.lstrip().upper().startswith("SELECT")]
    assert selects
    with _db(workspace) as con:
        for q, p in selects:
            plan = " ".join(str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + q, p))
            assert "SCAN canary_tokens" not in plan and "SCAN canary_reservations" not in plan, plan


def test_unused_token_indexes_of_older_ledgers_are_dropped(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A ledger made before the token table was slimmed loses the four indexes nothing
    queries on its next write, keeps every token, and still refuses a reused contact."""
    _release_two(workspace, shop, tmp_path)
    old = {
        "ix_canary_tokens_release_id": "release_id",
        "ix_canary_tokens_recipient": "recipient",
        "ix_canary_tokens_anchor": "anchor",
        "ix_canary_tokens_contact": "contact",
    }
    with _db(workspace) as con:
        for name, col in old.items():
            con.execute(f"CREATE INDEX {name} ON canary_tokens ({col})")
        tokens = con.execute("SELECT count(*) FROM canary_tokens").fetchone()[0]
    assert tokens > 0
    release(shop, recipient="sms", workspace=workspace, out=tmp_path / "sms.parquet")
    with _db(workspace) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert not names & set(old)
        assert "ux_canary_contact" in names
        assert con.execute("SELECT count(*) FROM canary_tokens").fetchone()[0] > tokens
        contact = con.execute(
            "SELECT contact FROM canary_tokens WHERE contact <> '' LIMIT 1"
        ).fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(
                "INSERT INTO canary_tokens (release_id, recipient, anchor, kind, contact) "
                "VALUES ('x', 'x', 'x', 'phone', ?)",
                (contact,),
            )
    assert Ledger(workspace).verify().ok
    # once migrated, a ledger runs no DDL (a read-only database role never trips on it)
    import numpy as np
    from sqlalchemy import event

    ledger = Ledger(workspace)
    statements: list[str] = []
    event.listen(
        ledger.engine,
        "before_cursor_execute",
        lambda conn, cur, stmt, params, ctx, many: statements.append(stmt),
    )
    ledger.reserve_canary_contacts("p", ["19990000000"], 1, np.random.default_rng(1))
    assert statements and not [q for q in statements if "DROP INDEX" in q.upper()]


def test_reservations_on_other_databases_use_chunks_of_parameters(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The portable path (``IN (...)`` in chunks, for databases without an array
    parameter), run on SQLite with its array route switched off."""
    import leaktrace.ledger.ledger as ledger_module

    monkeypatch.setattr(ledger_module, "_CANDIDATE_ARRAYS", {})
    monkeypatch.setattr(ledger_module, "_IN_CHUNK", 7)
    check_reservations(Ledger(workspace))  # first: its pool overlaps the default canary pool
    check_used_numbers_excluded(workspace, shop, tmp_path)


@pytest.mark.parametrize(
    ("sql", "expect"),
    [
        (  # a canary number moved to another token: a call would name the wrong release
            "update canary_tokens set contact = '19999999999' where id = (select min(id) from canary_tokens)",
            "altered",
        ),
        (
            "update canary_tokens set recipient = 'yto' where id = (select min(id) from canary_tokens)",
            "another recipient",
        ),
        ("delete from canary_tokens where id = (select max(id) from canary_tokens)", "says"),
        (
            "update canary_tokens set release_id = (select release_id from releases where seq = 2)"
            " where id = (select min(id) from canary_tokens)",
            "record 1",
        ),
        (
            "insert into canary_tokens (release_id, recipient, anchor, kind, contact)"
            " values ('rel-nowhere', 'zto', '00', 'phone', '19999999998')",
            "not in the ledger",
        ),
    ],
)
def test_altered_canary_tokens_are_caught(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, sql: str, expect: str
) -> None:
    """Canary tokens are what a canary hit is looked up in, so each one must be exactly what
    the signed record describes; any change fails verify (and so every trace)."""
    _release_two(workspace, shop, tmp_path)
    assert Ledger(workspace).verify().ok
    with _db(workspace) as con:
        con.execute(sql)
    res = Ledger(workspace).verify()
    assert not res.ok
    assert expect in (res.problem or ""), res.problem
    with pytest.raises(LedgerIntegrityError):
        Ledger(workspace).require_valid()


def test_records_with_the_older_canary_digest_still_verify(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Releases recorded before the digest covered contacts (anchors only) verify as before;
    a token removed from one is still caught by the count."""
    import leaktrace.release as release_module
    from leaktrace.ledger.chain import canary_digest_v1

    monkeypatch.setattr(release_module, "canary_digest", canary_digest_v1)
    _release_two(workspace, shop, tmp_path)
    assert Ledger(workspace).verify().ok
    with _db(workspace) as con:
        con.execute("delete from canary_tokens where id = (select max(id) from canary_tokens)")
    assert not Ledger(workspace).verify().ok
