"""Appending to and verifying the ledger.

Appends are serialised by an exclusive file lock on ``ledger.lock`` and a single database
transaction, so two concurrent releases cannot fork the chain. ``verify`` walks the chain
in ``seq`` order and reports the FIRST record that fails (hash, link, signature or index
file digest): after that point nothing can be trusted, and the tracer refuses to accuse
on a ledger that does not verify.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import (
    Engine,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.orm import Session

from leaktrace.errors import CanaryConflictError, ConfigError, LedgerIntegrityError
from leaktrace.io.checksum import file_sha256
from leaktrace.keys import load_public_key
from leaktrace.ledger.chain import (
    GENESIS,
    canary_digest,
    canary_digest_v1,
    record_hash,
    sign,
    verify_signature,
)
from leaktrace.ledger.checkpoint import (
    Checkpoint,
    checkpoint_held,
    make_checkpoint,
    verify_checkpoints,
)
from leaktrace.ledger.models import Base, CanaryReservation, CanaryToken, ReleaseRecord
from leaktrace.lockfile import workspace_lock
from leaktrace.pool_walk import RandomWalk, take_from_pool

if TYPE_CHECKING:
    from leaktrace.workspace import Workspace

_TOKEN_TABLE = cast(Table, CanaryToken.__table__)
_RESERVATION_TABLE = cast(Table, CanaryReservation.__table__)
_UNUSED_TOKEN_INDEXES = (
    "ix_canary_tokens_release_id",
    "ix_canary_tokens_recipient",
    "ix_canary_tokens_anchor",
    "ix_canary_tokens_contact",
)
"""Indexes earlier versions created on the token table; dropped on first write."""

__all__ = [
    "PUBLIC_KEY_ENV",
    "Ledger",
    "ReleaseEntry",
    "VerifyResult",
    "close_engines",
    "engine_for",
    "file_sha256",
]


@dataclass(frozen=True)
class ReleaseEntry:
    """A ledger record as plain data (what callers, reports and bundles see)."""

    seq: int
    release_id: str
    created: str
    recipient: str
    policy_name: str
    policy_hash: str
    fields: list[str]
    channels: list[str]
    code: str
    alias: bool
    key_version: int
    input_sha256: str
    output_sha256: str
    output_format: str
    rows: int
    canaries: int
    canary_digest: str
    index_file: str
    index_sha256: str
    prev_hash: str
    record_hash: str
    signature: str

    def body(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in self.__dataclass_fields__
            if k not in ("record_hash", "signature")
        }

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _insert_rows(
    s: Session, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows in the session's transaction.

    Why not always ``s.execute(insert(table), dicts)``: SQLAlchemy builds the parameters of
    every row in Python (3-4 µs each, 35 ms for the 10,000 tokens of a 1M-row release, as
    much again for its reservations), on the release's critical path. On SQLite the rows go
    to the driver's ``executemany`` as tuples. Other databases keep the Core insert, which
    batches rows into multi-row statements (a driver-level executemany on PostgreSQL would
    be one round trip per row).
    """
    if s.get_bind().dialect.name != "sqlite":
        s.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
    s.connection().exec_driver_sql(sql, rows)


def _json_list(r: ReleaseRecord, column: str) -> list[str]:
    """A record's JSON list column; an unreadable one is a record altered outside leaktrace."""
    try:
        value = json.loads(getattr(r, column))
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, list):
        raise LedgerIntegrityError(
            f"record {r.seq} ({r.release_id}) was altered: its {column} are unreadable"
        )
    return [str(v) for v in value]


def _entry(r: ReleaseRecord) -> ReleaseEntry:
    return _built_entry(r, _json_list(r, "fields"), _json_list(r, "channels"))


def _entry_or_problem(r: ReleaseRecord) -> tuple[ReleaseEntry, str | None]:
    """The record as an entry, and what makes it unreadable (None: nothing). For
    ``verify``, which walks the chain in order and must name the *first* bad record: an
    unreadable column of a later record must not stop the walk before it starts."""
    try:
        return _entry(r), None
    except LedgerIntegrityError as exc:
        return _built_entry(r, [], []), exc.message


def _built_entry(r: ReleaseRecord, fields: list[str], channels: list[str]) -> ReleaseEntry:
    return ReleaseEntry(
        seq=r.seq,
        release_id=r.release_id,
        created=r.created,
        recipient=r.recipient,
        policy_name=r.policy_name,
        policy_hash=r.policy_hash,
        fields=fields,
        channels=channels,
        code=r.code,
        alias=bool(r.alias),
        key_version=r.key_version,
        input_sha256=r.input_sha256,
        output_sha256=r.output_sha256,
        output_format=r.output_format,
        rows=r.rows,
        canaries=r.canaries,
        canary_digest=r.canary_digest,
        index_file=r.index_file,
        index_sha256=r.index_sha256,
        prev_hash=r.prev_hash,
        record_hash=r.record_hash,
        signature=r.signature,
    )


@dataclass
class VerifyResult:
    ok: bool
    records: int
    first_bad: int | None = None
    problem: str | None = None
    problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    """The last record's seq and hash (GENESIS for an empty ledger) when the ledger
    verifies: written down outside the workspace, they let a later ``verify
    --expect-head`` show that the ledger was not rolled back past them."""
    head_hash: str = ""
    checkpoints: int = 0
    """How many signed checkpoints (see :mod:`leaktrace.ledger.checkpoint`) were checked,
    and the latest one's hash: kept elsewhere, it vouches for the release head and the
    operators' logs it pinned (``verify --expect-head`` takes it too)."""
    checkpoint_hash: str = ""
    unpinned: int = 0
    """Operators' log rows (victim reports, canary hits, incident events, erasures,
    erasure requests and decisions) recorded since the last checkpoint: not yet pinned, so
    their deletion would not show. Before the first checkpoint, every sealed row (in
    :meth:`as_dict`, ``awaiting_first_checkpoint``; ``unpinned`` is then None, as it
    always was)."""

    def as_dict(self) -> dict[str, Any]:
        """What ``leaktrace verify --json`` prints (and the service answers): the head
        only when the ledger verifies, since a head of records that fail vouches for
        nothing. ``awaiting_first_checkpoint``: while no checkpoint exists, how many sealed
        rows of the operators' logs none protects yet (None once one exists: ``unpinned``
        then counts those recorded since)."""
        return {
            "ok": self.ok,
            "records": self.records,
            "first_bad": self.first_bad,
            "problem": self.problem,
            "head_seq": self.head_seq if self.ok else None,
            "head_hash": self.head_hash if self.ok else None,
            "checkpoints": self.checkpoints if self.ok else None,
            "checkpoint_hash": (self.checkpoint_hash or None) if self.ok else None,
            "unpinned": self.unpinned if self.ok and self.checkpoints else None,
            "awaiting_first_checkpoint": (
                self.unpinned if self.ok and not self.checkpoints else None
            ),
        }


ORPHAN_GRACE = timedelta(minutes=10)
"""How old an index file without a record must be to count as left by deleted records."""


PUBLIC_KEY_ENV = "LEAKTRACE_PUBLIC_KEY"
"""Path of the workspace's public key as kept outside it (see :meth:`Ledger.verify`)."""

_IN_CHUNK = 900
"""Candidates per ``IN (...)`` query on databases other than SQLite and PostgreSQL (under
SQLite's old limit of 999 bound parameters)."""
_CANDIDATES = 50_000
"""Most pool numbers checked in one round of a reservation."""
_CANDIDATE_ARRAYS: dict[str, tuple[str, Callable[[list[str]], object]]] = {
    "sqlite": ("SELECT value FROM json_each(:c)", json.dumps),
    "postgresql": ("SELECT unnest(CAST(:c AS text[]))", list),
}
"""Per database: a subquery listing the strings of one parameter, and how to pass them."""


def _sqlite_cache(dbapi_conn: Any, _record: Any) -> None:
    """64 MB of page cache per connection instead of SQLite's 2 MB: recording a release's
    10,000 canary tokens inserts them at random places of the contact index, and on a
    ledger of 700,000 tokens recording took 0.19 s with the default cache and 0.16 s with
    this one. Memory is taken only as pages are read."""
    dbapi_conn.execute("PRAGMA cache_size = -65536")


_ENGINES: dict[tuple[int, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


SUPPORTED_DATABASES = {"sqlite": "sqlite:///ledger.db", "postgresql": "postgresql+psycopg://"}
"""The database kinds the ledger is made and tested for, with an example URL of each."""


def _engine_error(url: str, exc: Exception, setting: str) -> ConfigError:
    """Why no engine could be made for ``url``, naming ``setting`` (the option or config
    key the URL came from) and the URL's scheme, never the URL itself: it may hold a
    password. Why: "cannot open ledger database (ModuleNotFoundError)" said neither that
    ``mysql://`` is no kind the ledger runs on, nor which setting to change."""
    kinds = " or ".join(SUPPORTED_DATABASES.values())
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return ConfigError(f"{setting} is not a database URL (e.g. {kinds}user@host/db)")
    scheme, backend = parsed.drivername, parsed.get_backend_name()
    if backend not in SUPPORTED_DATABASES:
        missing = ", and its driver is not installed" if isinstance(exc, ImportError) else ""
        return ConfigError(
            f"{setting}: database kind {scheme!r} is not supported{missing} (the ledger "
            f"runs on SQLite or PostgreSQL: {kinds}user@host/db)"
        )
    if isinstance(exc, ImportError):
        return ConfigError(
            f"{setting}: the driver for {scheme!r} is not installed (PostgreSQL: pip "
            "install 'leaktrace[postgres]' and use postgresql+psycopg://user@host/db)"
        )
    return ConfigError(f"{setting}: cannot open a {scheme!r} database ({type(exc).__name__})")


def engine_for(url: str, setting: str = "database_url in leaktrace.toml") -> Engine:
    """An engine for a ledger database URL: for a database server, the process's one
    engine (and connection pool) for that URL; for SQLite, a new one. ``setting``: where
    the URL came from, for the error when it is unusable.

    Why shared for servers: a release, a trace or a server request makes several
    :class:`Ledger` objects, and an engine each left connections to the server open until
    garbage collection. Keyed by process id too, so a forked worker never uses its
    parent's connections. SQLite engines are not kept: a connection is a file handle,
    cheap to open, and a kept one would outlive a workspace deleted and made again at the
    same path.
    """
    key = (os.getpid(), url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            return engine
        try:
            engine = create_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise _engine_error(url, exc, setting) from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_cache)
        else:
            _ENGINES[key] = engine
        return engine


def close_engines(url: str | None = None) -> None:
    """Close the pooled connections of one ledger URL (or of all): before a database is
    dropped or moved, or at the end of a long-lived process."""
    with _ENGINES_LOCK:
        for key in [k for k in _ENGINES if url is None or k[1] == url]:
            _ENGINES.pop(key).dispose()


def _require_sqlite_file(url: str) -> None:
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return  # engine_for reports a malformed URL
    db = parsed.database
    if parsed.get_backend_name() == "sqlite" and db and db != ":memory:" and not Path(db).exists():
        raise LedgerIntegrityError(
            f"the ledger database {db} is missing; restore it from a backup (an empty new "
            "one would silently forget every release)"
        )


def _token_problem(e: ReleaseEntry, tokens: list[dict[str, str]]) -> str | None:
    """Whether a release's canary tokens are exactly those its signed record describes.

    The tokens are what a canary hit is looked up in: one altered, added, removed or moved
    to another release would make a call to a canary number name the wrong recipient."""
    where = f"record {e.seq} ({e.release_id})"
    if len(tokens) != e.canaries:
        return f"{where}: {len(tokens)} canary tokens in the ledger, the record says {e.canaries}"
    if any(t["recipient"] != e.recipient for t in tokens):
        return f"{where}: a canary token names another recipient than the record"
    if e.canary_digest not in (canary_digest(tokens), canary_digest_v1(tokens)):
        return f"{where}: its canary tokens were altered (digest does not match the record)"
    return None


class Ledger:
    def __init__(
        self, ws: Workspace, engine: Engine | None = None, *, create: bool = False
    ) -> None:
        """``create``: the workspace is being made, so a missing SQLite file is expected.
        Otherwise a missing one is an error: SQLite would silently start an empty ledger."""
        self.ws = ws
        self._schema_ready = False
        if engine is None and not create:
            _require_sqlite_file(ws.database_url)
        setting = "--database-url" if create else f"database_url in {ws.config_path}"
        self.engine = engine or engine_for(ws.database_url, setting)

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with workspace_lock(self.ws.home):
            yield

    def append(
        self,
        body: dict[str, Any],
        canary_tokens: list[dict[str, str]] | None = None,
    ) -> ReleaseEntry:
        """Append one release (``body`` without seq/prev_hash/created) atomically, and free
        every pool number reserved for it, in the same transaction.

        Why every one, whatever its canary count: a release whose canaries all fail its
        recipient's ``where`` filter records 0 canaries, yet reserved numbers for them; it
        freed them only when it had a canary with a contact, so they stayed taken for good
        and ``canary reservations`` listed the finished release as still running (or dead).
        """
        sk = self.ws.keys.signing_key()
        self._ensure_schema()  # the reservations table, which the append clears
        try:
            return self._append(sk, body, canary_tokens)
        except IntegrityError:
            raise CanaryConflictError(
                "a canary contact point of this release was assigned to another release "
                "meanwhile (concurrent releases); nothing was recorded — run the release again"
            ) from None

    def _append(
        self,
        sk: Ed25519PrivateKey,
        body: dict[str, Any],
        canary_tokens: list[dict[str, str]] | None,
    ) -> ReleaseEntry:
        with self._lock(), Session(self.engine) as s, s.begin():
            last = s.scalars(
                select(ReleaseRecord).order_by(ReleaseRecord.seq.desc()).limit(1)
            ).first()
            full = dict(body)
            full.setdefault("code", "fair")
            full["seq"] = (last.seq + 1) if last else 1
            full["prev_hash"] = last.record_hash if last else GENESIS
            full["created"] = datetime.now(UTC).isoformat(timespec="seconds")
            h = record_hash(full)
            rec = ReleaseRecord(
                **{
                    **full,
                    "fields": json.dumps(full["fields"], ensure_ascii=False),
                    "channels": json.dumps(full["channels"]),
                    "record_hash": h,
                    "signature": sign(sk, h),
                }
            )
            s.add(rec)
            s.flush()  # the record first: canary tokens refer to its release id
            if canary_tokens:
                rid, rcp = full["release_id"], full["recipient"]
                _insert_rows(
                    s,
                    _TOKEN_TABLE,
                    ("release_id", "recipient", "anchor", "kind", "contact"),
                    [(rid, rcp, t["anchor"], t["kind"], t["contact"]) for t in canary_tokens],
                )
            # all of them: the numbers used are now tokens, the rest were never sent
            s.execute(
                delete(CanaryReservation).where(CanaryReservation.release_id == full["release_id"])
            )
            s.flush()
            entry = _entry(rec)
        return entry

    def reserve_canary_contacts(
        self,
        release_id: str,
        pool: Sequence[str],
        k: int,
        rng: np.random.Generator,
        extra: int = 0,
    ) -> list[str]:
        """Take ``k`` pool numbers no release has used or reserved, for ``release_id``, and
        up to ``extra`` more where the pool has them (a release reserving ahead for its
        next batches: each reservation is a transaction with its own commit, and the numbers
        a release does not use are freed when it is recorded).

        Why: a canary number must name exactly one release, and with 1 % canaries two large
        releases running at once would otherwise draw overlapping random numbers almost
        surely. The choice is random among the free numbers (sequential canary numbers
        would stand out in a copy). Raises :class:`ConfigError` when the pool is short.
        Reservations of a release that crashed stay taken: a wasted number is safe, a
        reused one is not.
        """
        self._ensure_schema()
        with self._lock(), Session(self.engine) as s, s.begin():
            # Walk the pool in random order and keep the first k numbers that no release
            # used or reserved, asking the database about each chunk of candidates only:
            # O(k) work per batch, whatever the size of the pool or of the ledger.
            walk = RandomWalk(len(pool), rng)
            chosen: list[str] = []
            seen: set[str] = set()  # a pool listing a number twice still yields it once
            free = 0.5  # share of candidates found free so far (a guess until the first round)
            while len(chosen) < k + extra and not walk.exhausted:
                want = k + extra - len(chosen)
                step = min(max(int(1.25 * want / max(free, 0.02)) + 64, 256), _CANDIDATES)
                cand = take_from_pool(pool, walk.take(step))
                taken = self._taken(s, cand)
                fresh = [c for c in cand if c not in taken]
                free = max(len(fresh) / len(cand), 0.001) if cand else free
                for c in fresh:
                    if c not in seen and len(chosen) < k + extra:
                        chosen.append(c)
                        seen.add(c)
            if len(chosen) < k:
                raise ConfigError(
                    f"the canary phone pool has {len(chosen)} unused numbers, this release "
                    f"needs {k} more; add platform-controlled numbers to [canary_pool] phones"
                )
            created = datetime.now(UTC).isoformat(timespec="seconds")
            if chosen:
                _insert_rows(
                    s,
                    _RESERVATION_TABLE,
                    ("contact", "release_id", "created"),
                    [(c, release_id, created) for c in chosen],
                )
        return chosen

    @staticmethod
    def _taken(s: Session, cand: list[str]) -> set[str]:
        """Which of ``cand`` a release has used or reserved.

        One statement per table whatever the number of candidates, with the candidates as a
        single parameter (a JSON array on SQLite, an array on PostgreSQL): building an
        ``IN (...)`` of 900 bound parameters per chunk cost SQLAlchemy 2-3 µs per candidate,
        and a release on a well-used pool checks tens of thousands. The token side says
        ``contact <> ''`` so that the partial unique index on contacts serves it.
        """
        array = _CANDIDATE_ARRAYS.get(s.get_bind().dialect.name)
        if array is None:  # any other database: chunks of bound parameters
            out: set[str] = set()
            for i in range(0, len(cand), _IN_CHUNK):
                part = cand[i : i + _IN_CHUNK]
                out.update(
                    s.scalars(
                        select(CanaryToken.contact).where(
                            CanaryToken.contact.in_(part), CanaryToken.contact != ""
                        )
                    )
                )
                out.update(
                    s.scalars(
                        select(CanaryReservation.contact).where(CanaryReservation.contact.in_(part))
                    )
                )
            return out
        one, as_param = array
        sql = (
            f"SELECT contact FROM canary_tokens WHERE contact IN ({one}) AND contact <> '' "
            f"UNION ALL SELECT contact FROM canary_reservations WHERE contact IN ({one})"
        )
        # .all() fetches in one call; iterating fetched row by row (2 µs each, and on a
        # well-used pool most candidates come back taken)
        return set(s.execute(text(sql), {"c": as_param(cand)}).scalars().all())

    def taken_canary_contacts(self) -> set[str]:
        """Every pool number a release has used or is holding: recorded tokens and open
        reservations (a release drawing without reservations, on Spark, must avoid both)."""
        self._ensure_schema()
        with Session(self.engine) as s:
            used = set(s.scalars(select(CanaryToken.contact).where(CanaryToken.contact != "")))
            used.update(s.scalars(select(CanaryReservation.contact)))
        return used

    def canary_reservations(self) -> list[dict[str, Any]]:
        """Open reservations per release: ``{"release_id", "numbers", "since"}``, oldest first.

        A release that is recorded or fails frees its own; what stays here belongs to
        releases still running or to processes that died mid-release.
        """
        self._ensure_schema()
        with Session(self.engine) as s:
            rows = s.execute(
                select(
                    CanaryReservation.release_id,
                    func.count(),
                    func.min(CanaryReservation.created),
                )
                .group_by(CanaryReservation.release_id)
                .order_by(func.min(CanaryReservation.created))
            ).all()
        return [{"release_id": r, "numbers": int(n), "since": str(t)} for r, n, t in rows]

    def free_stale_canary_reservations(self, older_than: timedelta) -> int:
        """Free reservations older than ``older_than`` whose release was never recorded,
        and those of recorded releases whatever their age.

        Safe for a release that died: its output was never published, so nobody holds its
        numbers. Not safe for one still running, hence the age limit — choose it longer
        than your longest release. A recorded release's numbers are freed when it is
        recorded (:meth:`append`); any left were kept by a version that freed them only
        for a release with canaries (one whose canaries all failed its ``where`` filter
        kept them for good), and were never sent: its used numbers are its tokens. Returns
        how many numbers were freed.
        """
        if older_than <= timedelta(0):
            raise ConfigError("--free-older-than must be a positive number of hours")
        self._ensure_schema()
        cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="seconds")
        with self._lock(), Session(self.engine) as s, s.begin():
            recorded = select(ReleaseRecord.release_id)
            stale = or_(
                CanaryReservation.release_id.in_(recorded), CanaryReservation.created < cutoff
            )
            n = s.scalar(select(func.count()).select_from(CanaryReservation).where(stale))
            s.execute(delete(CanaryReservation).where(stale))
            return int(n or 0)

    def _ensure_schema(self) -> None:
        """Bring a ledger made by an older version up to the current schema; safe to repeat.

        Workspaces made before reservations existed lack the table; those made before the
        token table was slimmed carry indexes nothing queries, which cost every release a
        B-tree insert per token (see :class:`CanaryToken`). Creating a table and dropping an
        index change no record, token or hash. Checked once per :class:`Ledger` (a release
        reserves numbers batch by batch)."""
        if not self._schema_ready:
            with self._lock():
                CanaryReservation.__table__.create(self.engine, checkfirst=True)  # type: ignore[attr-defined]
                # only what is there: a migrated ledger runs no DDL at all
                try:
                    indexes = inspect(self.engine).get_indexes("canary_tokens")
                except NoSuchTableError:
                    indexes = []
                present = {i["name"] for i in indexes}
                stale = [n for n in _UNUSED_TOKEN_INDEXES if n in present]
                if stale:
                    with self.engine.begin() as conn:
                        for name in stale:
                            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            self._schema_ready = True

    def drop_canary_reservations(self, release_id: str) -> None:
        """Free the numbers reserved by a release that failed before it was recorded."""
        self._ensure_schema()
        with self._lock(), Session(self.engine) as s, s.begin():
            s.execute(delete(CanaryReservation).where(CanaryReservation.release_id == release_id))

    def entries(self, recipient: str | None = None) -> list[ReleaseEntry]:
        with Session(self.engine) as s:
            q = select(ReleaseRecord).order_by(ReleaseRecord.seq)
            if recipient:
                q = q.where(ReleaseRecord.recipient == recipient)
            return [_entry(r) for r in s.scalars(q)]

    def entry(self, release_id: str) -> ReleaseEntry | None:
        with Session(self.engine) as s:
            r = s.scalars(
                select(ReleaseRecord).where(ReleaseRecord.release_id == release_id)
            ).first()
            return _entry(r) if r else None

    def canary_tokens(self) -> list[dict[str, str]]:
        return self._token_rows()

    def canary_tokens_of(self, contacts: Sequence[str]) -> list[dict[str, str]]:
        """The tokens holding any of ``contacts`` (as stored): a batch of telecom records
        looks up its own numbers through the unique contact index instead of reading
        every token of the ledger (hundreds of thousands on a platform's)."""
        cols = ("release_id", "recipient", "anchor", "kind", "contact")
        wanted = sorted({c for c in contacts if c})
        out: list[dict[str, str]] = []
        with Session(self.engine) as s:
            for i in range(0, len(wanted), _IN_CHUNK):
                rows = s.execute(
                    select(*(getattr(CanaryToken, c) for c in cols))
                    .where(CanaryToken.contact.in_(wanted[i : i + _IN_CHUNK]))
                    .order_by(CanaryToken.id)
                )
                out += [dict(zip(cols, row, strict=True)) for row in rows]
        return out

    def _token_rows(self) -> list[dict[str, str]]:
        """Every token, in recording order. Plain rows, not ORM objects: at 1 % canaries a
        ledger holds 10,000 tokens per million rows released, and traces read them all.
        (``verify`` reads them here, not through :meth:`canary_tokens`.)"""
        cols = ("release_id", "recipient", "anchor", "kind", "contact")
        with Session(self.engine) as s:
            rows = s.execute(
                select(*(getattr(CanaryToken, c) for c in cols)).order_by(CanaryToken.id)
            )
            return [dict(zip(cols, row, strict=True)) for row in rows]

    def verify(
        self,
        *,
        check_index: bool = True,
        public_key: str | Path | Ed25519PublicKey | None = None,
    ) -> VerifyResult:
        """Check key check values, chain, signatures, index files and canary tokens.

        ``public_key``: the workspace's public key as kept outside it (a PEM file, or the
        key). Every signature is then checked against it, and a ``keys/signing.pub`` that
        differs from it fails at once: whoever can write the workspace could otherwise
        put a key pair of their own in ``keys/`` and re-sign a rewritten ledger. When it is
        not given, ``$LEAKTRACE_PUBLIC_KEY`` (a PEM path) is used if set: so the commands
        that refuse an unverified ledger (``trace``, ``attribute``) check against the kept
        key too, not only ``verify``."""
        pk = self.ws.keys.public_key()
        from_env = public_key is None and bool(os.environ.get(PUBLIC_KEY_ENV))
        if from_env:
            public_key = Path(os.environ[PUBLIC_KEY_ENV])
        if public_key is not None:
            trusted = (
                public_key
                if isinstance(public_key, Ed25519PublicKey)
                else load_public_key(Path(public_key))
            )
            if trusted != pk:
                source = "given" if trusted is public_key else f"in {public_key}"
                if from_env:
                    source += f" (${PUBLIC_KEY_ENV})"
                swapped = (
                    f"keys/signing.pub differs from the public key {source}: the workspace's "
                    "signing key pair was replaced, so its signatures prove nothing (or that "
                    "key belongs to another workspace)"
                )
                return VerifyResult(False, 0, None, swapped, [swapped])
            pk = trusted
        try:
            with Session(self.engine) as s:
                read = [
                    _entry_or_problem(r)
                    for r in s.scalars(select(ReleaseRecord).order_by(ReleaseRecord.seq))
                ]
            tokens = self._tokens_by_release()
        except SQLAlchemyError as exc:
            return VerifyResult(
                False, 0, None, f"ledger database unreadable ({type(exc).__name__})"
            )
        except LedgerIntegrityError as exc:
            return VerifyResult(False, 0, None, exc.message, [exc.message])
        entries = [e for e, _ in read]
        unreadable = {e.seq: why for e, why in read if why is not None}
        key_problem = self.ws.keys.check_problem({e.key_version for e in entries}, public_key=pk)
        if key_problem:
            return VerifyResult(False, 0, None, key_problem, [key_problem])
        known = {e.release_id for e in entries}
        stray = sorted(set(tokens) - known)
        prev = GENESIS
        for i, e in enumerate(entries, start=1):
            problem = None
            if e.seq != i:
                problem = f"record seq {e.seq} out of order (expected {i}): a record was removed or inserted"
            elif e.prev_hash != prev:
                problem = f"record {e.seq} ({e.release_id}) does not link to the previous record"
            elif e.seq in unreadable:
                problem = unreadable[e.seq]
            elif record_hash(e.body()) != e.record_hash:
                problem = f"record {e.seq} ({e.release_id}) was altered: its hash does not match"
            elif not verify_signature(pk, e.record_hash, e.signature):
                problem = f"record {e.seq} ({e.release_id}) has an invalid signature"
            elif check_index:
                p = self.ws.home / e.index_file
                if not p.exists():
                    problem = (
                        f"record {e.seq} ({e.release_id}): index file {e.index_file} is missing"
                    )
                elif file_sha256(p) != e.index_sha256:
                    problem = (
                        f"record {e.seq} ({e.release_id}): index file {e.index_file} was altered"
                    )
            if problem is None:
                problem = _token_problem(e, tokens.get(e.release_id, []))
            if problem:
                return VerifyResult(False, len(entries), e.seq, problem, [problem])
            prev = e.record_hash
        # tokens of a release recorded while this ran (read after the records) are no
        # stray: that record is in the ledger now, past the head verified here
        stray = [rid for rid in stray if self.entry(rid) is None]
        if stray:
            problem = f"canary tokens name release {stray[0]}, which is not in the ledger"
            return VerifyResult(False, len(entries), None, problem, [problem])
        if check_index:
            orphan = self._orphan_index({e.index_file for e in entries})
            if orphan:
                problem = (
                    f"index file {orphan} belongs to no record: records were removed from the "
                    "end of the ledger, or it was replaced by an older copy (or a release was "
                    "killed between writing this index and recording it: then, and only then, "
                    "delete the file)"
                )
                return VerifyResult(False, len(entries), None, problem, [problem])
        cps = verify_checkpoints(self.ws, self.engine, [e.record_hash for e in entries], pk)
        if not cps.ok:
            problem = cps.problem or "checkpoints do not verify"
            return VerifyResult(False, len(entries), None, problem, [problem])
        head = entries[-1] if entries else None
        return VerifyResult(
            True,
            len(entries),
            head_seq=head.seq if head else 0,
            head_hash=head.record_hash if head else GENESIS,
            checkpoints=cps.count,
            checkpoint_hash=cps.head_hash if cps.count else "",
            unpinned=cps.unpinned,
        )

    def holds_head(self, digest: str) -> bool:
        """Whether ``digest`` is the hash of a release record or of a checkpoint here (a
        head kept outside the workspace, for ``verify --expect-head``)."""
        if any(e.record_hash == digest for e in self.entries()):
            return True
        return checkpoint_held(self.engine, digest)

    def checkpoint(self) -> Checkpoint:
        """Sign a checkpoint of the release head and the operators' logs, after checking
        the ledger: one made over a ledger that fails would vouch for what was done to it."""
        self.require_valid()
        return make_checkpoint(self.ws, self.engine)

    def _orphan_index(self, referenced: set[str]) -> str | None:
        """An exposure index file that no record names, older than a release in progress.

        Why: the chain cannot show that its last records were deleted (what is left still
        links), but each release leaves its index file behind. A release renames its index
        into place just before appending its record, so a file younger than
        ``ORPHAN_GRACE`` may belong to a release still running and is not counted.
        """
        folder = self.ws.index_dir
        if not folder.is_dir():
            return None
        cutoff = time.time() - ORPHAN_GRACE.total_seconds()
        for p in sorted(folder.glob("*.parquet")):
            rel = f"index/{p.name}"
            if p.name.startswith(".") or rel in referenced:
                continue
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    return rel
        return None

    def _tokens_by_release(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {}
        for t in self._token_rows():
            out.setdefault(t["release_id"], []).append(t)
        return out

    def require_valid(self) -> None:
        res = self.verify()
        if not res.ok:
            raise LedgerIntegrityError(f"ledger does not verify: {res.problem}")
