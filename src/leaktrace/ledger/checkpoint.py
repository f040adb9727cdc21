"""Signed checkpoints: what the operators' logs held, pinned so that a deletion shows.

Victim reports, canary hits, incident events, report erasures and erasure requests are
sealed row by row (an HMAC under a workspace subkey), which stops a database administrator
without the keys from making up or altering a row. A seal cannot show a row that is *gone*: a deleted report is as if it
never came in, and an incident whose events were all deleted is not listed. A checkpoint
closes that gap the way transparency logs do (a signed tree head):

* it records, for each covered log, the sealed rows no checkpoint pinned before (their
  ids as runs of consecutive ids, how many, and a SHA-256 over their ids and seals), and
  the head of the release chain (its last record's seq and hash);
* checkpoints form their own hash chain, each Ed25519-signed with the workspace's signing
  key, in the table ``checkpoints``;
* ``verify`` looks every pinned row up as it is now, so a pinned row deleted, moved to
  another id, stripped of its seal or given another's seal names the checkpoint and the
  log; a release chain shorter than a checkpoint's head is named too (a chain cut at its
  end otherwise still links). A row that appears later, whatever its id, is not an
  alarm: it is pinned by the next checkpoint (a forged one fails its seal anyway);
* the latest checkpoint's seq and hash are also written to ``<home>/checkpoint-head``:
  someone who can write only the database (a shared server's administrator) cannot remove
  the newest checkpoints unseen. Whoever can write the workspace can; against them, keep
  the hash elsewhere and run ``verify --expect-head``.

What a checkpoint does not cover: rows added after it (until the next one; run
``leaktrace checkpoint`` after each intake, or daily) and rows without a seal (made before
seals existed; they never count, and deleting them is allowed, before or after re-adding
them sealed). A covered table without its seal column (a database from before that log
was sealed, until a command adds it) holds no sealed row: nothing to pin, no alarm — and
a checkpoint that pinned rows there finds them gone.

Why ids and seals, not every column: the seal already covers the row's facts (a row
altered but keeping its seal fails its seal), and the id is what orders the log. A covered
row that a legitimate operation deletes does not exist: leaktrace never deletes a sealed
row, and the one it rewrites — a victim report erased at the person's request — keeps its
id and seal (:mod:`leaktrace.attribution.erasure`; its erasure row is a log of its own).

Only what never changes once written is pinned. An erasure request is decided after it
was taken (:mod:`leaktrace.attribution.erasure_requests`): its taking seal never changes
(log ``erasure_requests``), and its decision seal, written once when it is decided, is a
second log over the same table (``erasure_decisions``: a row counts there once it has
one). Deciding a pinned request is therefore no alarm, while a pinned decision undone —
the decision seal cleared, even with the row put back as it was pending — is named.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Text,
    and_,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leaktrace.errors import ConfigError
from leaktrace.ledger.chain import GENESIS, canonical_json, sign, verify_signature
from leaktrace.ledger.tables import create_tables
from leaktrace.lockfile import workspace_lock

if TYPE_CHECKING:
    from leaktrace.workspace import Workspace

__all__ = [
    "COVERED_LOGS",
    "HEAD_FILE",
    "Checkpoint",
    "CheckpointCheck",
    "CheckpointRecord",
    "CoveredLog",
    "checkpoint_hash",
    "checkpoint_held",
    "checkpoints",
    "make_checkpoint",
    "verify_checkpoints",
]

HEAD_FILE = "checkpoint-head"
"""In the workspace: ``<seq> <hash>`` of the latest checkpoint made from it."""


@dataclass(frozen=True)
class CoveredLog:
    """A table of sealed rows a checkpoint pins: its name and the columns digested (the
    first is its integer id, the last its seal: a row is in the log once that is set).
    Named here rather than imported from the modules that own the tables, so that the
    ledger does not depend on them and a checkpoint can be checked whether or not they
    were ever used (a missing table has no rows). ``name``: the log's key in a
    checkpoint's state, when one table holds two logs (default: the table's name)."""

    table: str
    columns: tuple[str, ...]
    name: str = ""

    @property
    def key(self) -> str:
        return self.name or self.table

    @property
    def seal(self) -> str:
        return self.columns[-1]


COVERED_LOGS: tuple[CoveredLog, ...] = (
    CoveredLog("victim_reports", ("id", "seal")),
    CoveredLog("canary_hits", ("id", "seal")),
    CoveredLog("incident_events", ("id", "incident_id", "seq", "event_hash", "seal")),
    CoveredLog("report_erasures", ("id", "report_id", "seal")),
    CoveredLog("erasure_requests", ("id", "seal")),
    CoveredLog("erasure_requests", ("id", "decision_seal"), name="erasure_decisions"),
)
"""The logs a checkpoint covers; a new sealed log is one more entry. A checkpoint made
before a log was covered has no entry for it: it pinned none of its rows (its state is
signed, so the entry cannot have been taken out since)."""

_NOTHING_PINNED: dict[str, Any] = {
    "rows": 0,
    "runs": [],
    "digest": hashlib.sha256(b"[]").hexdigest(),
}


def _entry(state: dict[str, Any], log: CoveredLog) -> Any:
    """What a checkpoint's state pinned in ``log`` (nothing, for a log covered later)."""
    logs = state["logs"]
    if not isinstance(logs, dict):
        raise TypeError("logs is not an object")
    return logs.get(log.key, _NOTHING_PINNED)


class _Base(DeclarativeBase):
    metadata = MetaData()


class CheckpointRecord(_Base):
    __tablename__ = "checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(Text)  # canonical JSON: releases head and log ranges
    prev_hash: Mapped[str] = mapped_column(String(64))
    checkpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(128))


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    created: str
    state: dict[str, Any]
    prev_hash: str
    checkpoint_hash: str

    def pinned(self) -> dict[str, int]:
        """How many rows of each log this checkpoint pinned (log -> rows)."""
        return {log.key: int(_entry(self.state, log)["rows"]) for log in COVERED_LOGS}

    def pinned_text(self) -> str:
        """``6 victim reports, 1 canary hits, 2 incident events, …``: for the CLI and the
        demo."""
        return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in self.pinned().items())

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "created": self.created,
            "checkpoint_hash": self.checkpoint_hash,
            "prev_hash": self.prev_hash,
            **self.state,
        }


@dataclass(frozen=True)
class CheckpointCheck:
    ok: bool
    count: int
    head_seq: int = 0
    head_hash: str = GENESIS
    problem: str | None = None
    unpinned: int = 0
    """Rows of the covered logs recorded after the last checkpoint: present, sealed, but
    not yet protected against deletion until the next ``leaktrace checkpoint``. Before the
    first checkpoint, every sealed row of them (counted, not read: see
    :func:`_sealed_count`)."""


def checkpoint_hash(seq: int, created: str, state: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of the checkpoint (re-computable in any language)."""
    body = {"seq": seq, "created": created, "state": state, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class _Unreadable(Exception):
    """The driver could not read a covered table (a column dropped, a table replaced)."""


def _sealed_rows(conn: Connection, log: CoveredLog) -> list[tuple[Any, ...]]:
    """Every row of ``log`` that carries a seal, in id order, as leaktrace wrote it: a
    positive integer id, then text or integers. A row of any other shape (written outside
    leaktrace: a BLOB seal, a text id) is never pinned, and a pinned row turned into one
    no longer matches its digest (see :func:`_plain`)."""
    t = table(log.table, *(column(c) for c in log.columns))
    seal = t.c[log.seal]
    q = select(*t.c).where(and_(seal.is_not(None), seal != "")).order_by(t.c.id)
    # the driver's own cursor: verify reads every pinned row, and SQLAlchemy's Row objects
    # cost about 2 µs each (0.7 s of 0.9 s over 300,000 rows, bench/checkpoint_bench.py)
    sql = str(q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        raw = cur.fetchall()
    except Exception as exc:  # the driver's own error classes (sqlite3, psycopg)
        raise _Unreadable(f"table {log.table} is unreadable ({type(exc).__name__})") from None
    finally:
        cur.close()
    return [tuple(r) for r in raw]


def _sealed_count(conn: Connection, log: CoveredLog) -> int:
    """How many rows of ``log`` carry a seal: what a first checkpoint would pin (it also
    leaves out a row of a shape leaktrace never writes). Before any checkpoint ``verify``
    says how many rows nothing protects yet; a count, because there is nothing to compare
    them with, and reading every row of a large log only to count it would cost verify
    the time a checkpoint's check takes."""
    t = table(log.table, column(log.seal))
    seal = t.c[log.seal]
    q = select(func.count()).select_from(t).where(and_(seal.is_not(None), seal != ""))
    return int(conn.execute(q).scalar() or 0)


def _plain(value: Any) -> Any:
    """A value as the digest sees it: text and integers as they are; anything else (bytes,
    floats, NULL in a text column) as a tagged form no value leaktrace writes can equal."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    return {type(value).__name__: repr(value)}


_PLAIN_TYPES = frozenset({str, int})


def _has_id(row: tuple[Any, ...]) -> bool:
    """A positive integer id (what a pinned row is looked up by)."""
    return type(row[0]) is int and row[0] > 0


def _pinnable(row: tuple[Any, ...]) -> bool:
    """A row of the shape leaktrace writes: a positive integer id, then text or integers
    (``map(type, …)`` and a set test: no Python loop per cell)."""
    return _has_id(row) and _PLAIN_TYPES.issuperset(map(type, row))


def _runs(ids: list[int]) -> list[list[int]]:
    """Ascending ids as ``[first, last]`` runs of consecutive ids (a log's ids mostly
    follow one another, so a checkpoint of 100,000 rows holds a handful of pairs)."""
    out: list[list[int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _parse_runs(value: Any) -> list[int] | None:
    """The ids of stored runs, or None when they are not ascending, disjoint runs."""
    if not isinstance(value, list):
        return None
    ids: list[int] = []
    last = 0
    for run in value:
        if (
            not isinstance(run, list)
            or len(run) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in run)
            or not last < run[0] <= run[1]
        ):
            return None
        ids.extend(range(run[0], run[1] + 1))
        last = run[1]
    return ids


def _range_digest(rows: list[tuple[Any, ...]]) -> str:
    """SHA-256 of the rows' canonical JSON. A value JSON cannot hold (a BLOB written into
    the table) is digested in a tagged form (:func:`_plain`), which differs from any value
    leaktrace writes: the pinned rows then no longer match, and nothing raises."""
    try:
        data = canonical_json(rows)
    except (TypeError, ValueError):
        data = canonical_json([[_plain(v) for v in r] for r in rows])
    return hashlib.sha256(data).hexdigest()


def _present(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _missing_columns(conn: Connection, log: CoveredLog) -> list[str]:
    have = {c["name"] for c in inspect(conn).get_columns(log.table)}
    return [c for c in log.columns if c not in have]


@dataclass(frozen=True)
class _Stored:
    """A checkpoint row as stored; ``checkpoint`` is None when its state cannot be read."""

    seq: int
    checkpoint_hash: str
    signature: str
    checkpoint: Checkpoint | None


def _load(conn: Connection) -> list[_Stored]:
    t = CheckpointRecord.__table__
    out: list[_Stored] = []
    for r in conn.execute(select(t).order_by(t.c.seq)).mappings():
        cp: Checkpoint | None
        try:
            state = json.loads(r["state"])
            if not isinstance(state, dict):
                raise ValueError("state is not an object")
            cp = Checkpoint(r["seq"], r["created"], state, r["prev_hash"], r["checkpoint_hash"])
        except (ValueError, TypeError):
            cp = None
        out.append(_Stored(r["seq"], r["checkpoint_hash"], r["signature"], cp))
    return out


def checkpoints(engine: Engine) -> list[Checkpoint]:
    """Every readable checkpoint, oldest first, as stored (``verify`` checks them)."""
    with engine.connect() as conn:
        if CheckpointRecord.__tablename__ not in _present(conn):
            return []
        loaded = _load(conn)
    return [rec.checkpoint for rec in loaded if rec.checkpoint is not None]


def checkpoint_held(engine: Engine, digest: str) -> bool:
    with engine.connect() as conn:
        if CheckpointRecord.__tablename__ not in _present(conn):
            return False
        t = CheckpointRecord.__table__
        q = select(func.count()).select_from(t).where(t.c.checkpoint_hash == digest)
        return bool(conn.execute(q).scalar())


def make_checkpoint(ws: Workspace, engine: Engine) -> Checkpoint:
    """Pin the logs' sealed rows that no checkpoint pinned yet, and the release head.

    The caller checks the ledger first (``Ledger.checkpoint`` does): a checkpoint of a
    tampered ledger would vouch for the tampering. What is pinned is the set of rows
    present now, by id; a row committed later with a lower id (a PostgreSQL insert still
    in flight, or an id SQLite reuses after the last rows were deleted) is simply pinned
    by the next checkpoint, never taken for tampering. Taken under the workspace lock."""
    sk = ws.keys.signing_key()
    create_tables(_Base.metadata, engine)
    with workspace_lock(ws.home), engine.begin() as conn:
        present = _present(conn)
        for log in COVERED_LOGS:
            if log.table in present and (missing := _missing_columns(conn, log)):
                raise ConfigError(
                    f"table {log.table} has no column {missing[0]} (a database from "
                    "before seals): run `leaktrace report list` once, which adds it"
                )
        loaded = _load(conn)
        if any(rec.checkpoint is None for rec in loaded):
            raise ConfigError("a stored checkpoint is unreadable; run `leaktrace verify`")
        last = loaded[-1].checkpoint if loaded else None
        head = conn.execute(
            text("SELECT seq, record_hash FROM releases ORDER BY seq DESC LIMIT 1")
        ).first()
        logs: dict[str, Any] = {}
        for log in COVERED_LOGS:
            pinned: set[int] = set()
            for rec in loaded:
                assert rec.checkpoint is not None
                pinned.update(_parse_runs(_entry(rec.checkpoint.state, log)["runs"]) or [])
            try:
                found = _sealed_rows(conn, log) if log.table in present else []
            except _Unreadable as exc:
                raise ConfigError(f"no checkpoint made: {exc}") from None
            rows = [r for r in found if _pinnable(r) and r[0] not in pinned]
            logs[log.key] = {
                "rows": len(rows),
                "runs": _runs([int(r[0]) for r in rows]),
                "digest": _range_digest(rows),
            }
        state = {
            "releases": {
                "seq": int(head[0]) if head else 0,
                "head": str(head[1]) if head else GENESIS,
            },
            "logs": logs,
        }
        seq = (last.seq + 1) if last else 1
        prev = last.checkpoint_hash if last else GENESIS
        created = datetime.now(UTC).isoformat(timespec="seconds")
        h = checkpoint_hash(seq, created, state, prev)
        conn.execute(
            insert(CheckpointRecord).values(
                seq=seq,
                created=created,
                state=canonical_json(state).decode(),
                prev_hash=prev,
                checkpoint_hash=h,
                signature=sign(sk, h),
            )
        )
        # still under the lock: two checkpoints at once must leave the newer one named
        _write_head(ws.home, seq, h)
    return Checkpoint(seq, created, state, prev, h)


def _write_head(home: Path, seq: int, digest: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{HEAD_FILE}.", dir=home)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(f"{seq} {digest}\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, home / HEAD_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_head(home: Path) -> tuple[int, str] | str | None:
    """The head file's seq and hash; None when there is none; a problem when unreadable."""
    p = home / HEAD_FILE
    if not p.exists():
        return None
    try:
        seq_s, digest = p.read_text(encoding="ascii").split()
        return int(seq_s), digest.lower()
    except (OSError, ValueError, UnicodeDecodeError):
        return f"{HEAD_FILE} in the workspace is unreadable"


def verify_checkpoints(
    ws: Workspace, engine: Engine, release_heads: list[str], pk: Ed25519PublicKey
) -> CheckpointCheck:
    """Check the checkpoint chain and re-compute every checkpoint's ranges from the rows.

    ``release_heads``: the record hashes of the (already verified) release chain, in seq
    order. One pass over each covered table, whatever the number of checkpoints."""
    # the head file before the table: a checkpoint made while this runs is then in the
    # table (newer than the file), never missing from it
    kept = _read_head(ws.home)
    try:
        with engine.connect() as conn:
            present = _present(conn)
            loaded = _load(conn) if CheckpointRecord.__tablename__ in present else []
            # read only when a checkpoint exists; a table without a log's columns (a
            # database from before that log was sealed, until the first command that adds
            # them) holds no sealed row of it: rows a checkpoint pinned there are gone
            rows_by_log: dict[str, dict[int, tuple[Any, ...]]] = {
                log.key: (
                    {r[0]: r for r in _sealed_rows(conn, log) if _has_id(r)}
                    if loaded and log.table in present and not _missing_columns(conn, log)
                    else {}
                )
                for log in COVERED_LOGS
            }
            # no checkpoint yet: every sealed row is unprotected, and verify says how many
            waiting = (
                0
                if loaded
                else sum(
                    _sealed_count(conn, log)
                    for log in COVERED_LOGS
                    if log.table in present and not _missing_columns(conn, log)
                )
            )
    except SQLAlchemyError as exc:
        return CheckpointCheck(False, 0, problem=f"checkpoints unreadable ({type(exc).__name__})")
    except _Unreadable as exc:
        return CheckpointCheck(False, 0, problem=f"checkpoints cannot be checked: {exc}")
    prev = GENESIS
    pinned: dict[str, set[int]] = {log.key: set() for log in COVERED_LOGS}
    for i, rec in enumerate(loaded, start=1):
        cp, name = rec.checkpoint, f"checkpoint {rec.seq}"
        if rec.seq != i:
            return _bad(len(loaded), f"{name} out of order (expected {i}): one was removed")
        if cp is None:
            return _bad(len(loaded), f"{name} is unreadable (its state is not JSON)")
        if cp.prev_hash != prev:
            return _bad(len(loaded), f"{name} does not link to the checkpoint before it")
        try:
            recomputed = checkpoint_hash(cp.seq, cp.created, cp.state, cp.prev_hash)
            rel_seq = int(cp.state["releases"]["seq"])
            rel_head = str(cp.state["releases"]["head"])
            ranges = {log.key: _entry(cp.state, log) for log in COVERED_LOGS}
        except (KeyError, TypeError, ValueError):
            return _bad(len(loaded), f"{name} is unreadable (a field is missing)")
        if recomputed != cp.checkpoint_hash:
            return _bad(len(loaded), f"{name} was altered: its hash does not match")
        if not verify_signature(pk, cp.checkpoint_hash, rec.signature):
            return _bad(len(loaded), f"{name} has an invalid signature")
        if not _holds_release(engine, release_heads, rel_seq, rel_head):
            return _bad(
                len(loaded),
                f"{name} pins release record {rel_seq}, which the ledger no longer holds: "
                "records were removed from its end, or it was replaced by an older copy",
            )
        for log in COVERED_LOGS:
            problem = _check_pinned(name, log, ranges[log.key], pinned[log.key], rows_by_log)
            if problem:
                return _bad(len(loaded), problem)
        prev = cp.checkpoint_hash
    head_seq, head_hash = (len(loaded), prev)
    if isinstance(kept, str):
        return _bad(len(loaded), kept)
    if kept is not None:
        k_seq, k_hash = kept
        held = loaded[k_seq - 1].checkpoint_hash if 0 < k_seq <= len(loaded) else None
        if held != k_hash:
            return _bad(
                len(loaded),
                f"the database no longer holds checkpoint {k_seq} ({k_hash[:16]}…) that "
                f"{HEAD_FILE} names: checkpoints were removed, or the database was replaced "
                "by an older copy",
            )
    unpinned = sum(len(rows_by_log[t].keys() - pinned[t]) for t in rows_by_log) + waiting
    return CheckpointCheck(True, len(loaded), head_seq, head_hash, unpinned=unpinned)


def _holds_release(engine: Engine, heads: list[str], seq: int, digest: str) -> bool:
    """Whether the ledger holds release record ``seq`` with hash ``digest``: among the
    records verify read, or (a release and a checkpoint made while verify ran) in the
    table now. A chain cut below it has neither."""
    if seq <= len(heads):
        return seq == 0 or heads[seq - 1] == digest
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT record_hash FROM releases WHERE seq = :s"), {"s": seq}
            ).first()
    except SQLAlchemyError:
        return False
    return row is not None and row[0] == digest


def _check_pinned(
    name: str,
    log: CoveredLog,
    entry: Any,
    earlier: set[int],
    rows_by_log: dict[str, dict[int, tuple[Any, ...]]],
) -> str | None:
    """Every row one checkpoint pinned in ``log`` is still there, as it was."""
    try:
        ids = _parse_runs(entry["runs"])
        n, digest = int(entry["rows"]), str(entry["digest"])
    except (KeyError, TypeError, ValueError):
        ids = None
    if ids is None or len(ids) != n:
        return f"{name} is unreadable (what it pinned in {log.key})"
    if earlier.intersection(ids):
        return f"{name} pins {log.key} rows an earlier checkpoint pinned"
    earlier.update(ids)
    rows = rows_by_log[log.key]
    found = [rows[i] for i in ids if i in rows]
    if len(found) < n:
        return (
            f"{name}: {n - len(found)} of the {n} {log.key} rows it pinned are gone "
            "(deleted, re-numbered or stripped of their seal)"
        )
    if _range_digest(found) != digest:
        return (
            f"{name}: {log.key} rows it pinned were changed (their seals or ids swapped "
            "or rewritten)"
        )
    return None


def _bad(count: int, problem: str) -> CheckpointCheck:
    return CheckpointCheck(False, count, problem=problem)
