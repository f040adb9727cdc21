"""Storage of victim reports and canary hits in the workspace's ledger database.

Two tables, ``victim_reports`` and ``canary_hits``, on their own ``MetaData`` (created with
``create_all`` on first use) so the hash-chained release tables are untouched.

What is stored, and why:

* the victim's phone only as keyed digests (under ``ws.keys.derive("customer", v)``, the
  exposure index's customer key and digest scheme) for every key version at intake time — what the
  attribution joins on — plus ONE AES-GCM-encrypted blob (key
  ``ws.keys.derive("report-pii", v)``, 96-bit random nonce, associated data = table name
  and key version) holding what the victim told us verbatim: phone, quoted values,
  transcript, police receipt. The blob is needed to re-digest the phone under key
  versions created later and to read quoted formatting; it is never printed.
* in clear: times, channel, caller number/account (the scammer's, not the victim's),
  the quoted ROLES (not values), loss, the scam detector's fraud type and stages, and
  the intake status with its reason.
* a seal on every row of both tables (an HMAC under a workspace subkey, see
  :func:`seal_report` and :func:`seal_hit`): the tables are outside the signed chain, and
  the database may be administered by people who hold no workspace key. A row without a
  valid seal is flagged and not counted by ``attribute``.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Boolean,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from leaktrace.errors import KeyFileError
from leaktrace.ledger import Ledger
from leaktrace.ledger.tables import create_tables
from leaktrace.workspace import Workspace

__all__ = [
    "CanaryHitRecord",
    "ErasureRequestRecord",
    "ReportErasureRecord",
    "ReportRecord",
    "decrypt_blob",
    "encrypt_blob",
    "engine_for",
    "hit_is_sealed",
    "load_erasures",
    "load_hits",
    "load_reports",
    "parse_seal",
    "report_facts",
    "report_is_sealed",
    "report_seal_problem",
    "seal_hit",
    "seal_holds",
    "seal_report",
]


class _Base(DeclarativeBase):
    metadata = MetaData()


class ReportRecord(_Base):
    __tablename__ = "victim_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300))  # file name and line
    reported_at: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(40))
    caller: Mapped[str] = mapped_column(String(200), index=True)
    quoted_roles: Mapped[str] = mapped_column(Text)  # JSON list of roles (no values)
    loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    has_receipt: Mapped[bool] = mapped_column(Boolean)
    fraud_type: Mapped[str] = mapped_column(String(60))
    stages: Mapped[str] = mapped_column(Text)  # JSON list of stage names
    status: Mapped[str] = mapped_column(String(30))  # ok | malformed
    reason: Mapped[str] = mapped_column(Text)
    customer: Mapped[str] = mapped_column(Text)  # JSON {version: uint64 digest}
    dedupe: Mapped[str] = mapped_column(String(64), index=True)
    key_version: Mapped[int] = mapped_column(Integer)
    blob: Mapped[str] = mapped_column(Text)  # hex(nonce || AES-GCM ciphertext)
    # "v<key version>:<hex HMAC-SHA256>" of every other column but id (see seal_report);
    # None on rows stored before reports were sealed
    seal: Mapped[str | None] = mapped_column(String(80), nullable=True)


class ReportErasureRecord(_Base):
    """A victim report erased at the person's request (PIPL Art. 47); see
    :mod:`leaktrace.attribution.erasure`. The report row keeps its id and its seal (what
    checkpoints pinned) and loses everything else that was about the person."""

    __tablename__ = "report_erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(Integer, unique=True)
    erased_at: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(200))  # who erased it (cli:user, token:name)
    # the report row's seal when it was erased ("" for a row that had none)
    report_seal: Mapped[str] = mapped_column(String(80))
    # "v<key version>:<hex HMAC-SHA256>" of this row and the erased report row's content
    seal: Mapped[str] = mapped_column(String(80))


class ErasureRequestRecord(_Base):
    """A victim's request to erase their reports, taken by customer service and decided by
    an analyst (see :mod:`leaktrace.attribution.erasure_requests`). Only the phone's keyed
    digests are kept, and only until the request is decided; the seals (what they cover:
    that module's docstring) are None on requests taken before requests were sealed."""

    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))  # who took it (token:name, cli:user)
    # the recipient the taker works for (an agent token bound to an outsourced firm); None
    # for the platform's own staff, system users, and requests taken before the column
    taker_recipient: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(String(300))  # a ticket number, never personal data
    phone_digests: Mapped[str] = mapped_column(Text)  # JSON ["v:digest", ...]; [] once decided
    # the reports it covers: those stored when it was taken (ids up to this one)
    last_report_id: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # pending | erased | declined
    decided_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decided_by: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    # hex of 32 random bytes, None once decided: with it gone, phone_commitment leads nowhere
    phone_salt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # hex SHA-256 of phone_salt and phone_digests as taken: what the seal covers of the
    # phone, kept after the decision so that the seal still holds
    phone_commitment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # "v<key version>:<hex HMAC-SHA256>" of the facts fixed when it was taken
    seal: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # the same, of the decision (None while pending)
    decision_seal: Mapped[str | None] = mapped_column(String(80), nullable=True)


class CanaryHitRecord(_Base):
    __tablename__ = "canary_hits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    caller: Mapped[str] = mapped_column(String(200), index=True)
    contact: Mapped[str] = mapped_column(String(200), index=True)
    knew: Mapped[bool] = mapped_column(Boolean)  # the caller used the canary's details
    status: Mapped[str] = mapped_column(String(30))  # canary | pool | not_canary
    recipient: Mapped[str] = mapped_column(String(200))
    release_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    # "v<key version>:<hex HMAC-SHA256>" of the row's facts (see seal_hit); None on rows
    # recorded before hits were sealed
    seal: Mapped[str | None] = mapped_column(String(80), nullable=True)


_ENGINES: dict[str, Engine] = {}


def _hit_facts(at: str, channel: str, caller: str, contact: str, knew: bool) -> bytes:
    return json.dumps([at, channel, caller, contact, bool(knew)], ensure_ascii=False).encode()


def seal_hit(ws: Workspace, at: str, channel: str, caller: str, contact: str, knew: bool) -> str:
    """The seal of a hit row: an HMAC of what the operator recorded (time, channel, caller,
    contact, knew) under a workspace subkey.

    Why: the hit table is outside the signed chain, and a hit on a real canary contact
    named a partner; with the seal, a row written by anyone without the workspace's keys
    (a database administrator, a copied database) is not counted.
    """
    v = ws.keys.current_version
    return f"v{v}:{_hit_mac(ws, v, _hit_facts(at, channel, caller, contact, knew))}"


def _hit_mac(ws: Workspace, version: int, facts: bytes) -> str:
    return hmac.new(ws.keys.derive("hit-seal", version), facts, "sha256").hexdigest()


def parse_seal(seal: object) -> tuple[int, str] | None:
    """The key version and hex MAC of a stored seal (``v<key version>:<hex>``); None when
    the value is not one (any type, if written by hand)."""
    if not isinstance(seal, str):
        return None
    version, _, mac = seal.partition(":")
    if not version.startswith("v") or not version[1:].isdigit() or len(version) > 12:
        return None
    return int(version[1:]), mac


def seal_holds(ws: Workspace, seal: object, purpose: str, facts: Callable[[], bytes]) -> bool:
    """Whether ``seal`` is the HMAC of ``facts()`` under the workspace subkey ``purpose``
    of the key version it names. A key version this workspace does not have, or facts of
    a type leaktrace never writes (``facts`` raises TypeError/ValueError), do not hold."""
    parsed = parse_seal(seal)
    if parsed is None:
        return False
    version, mac = parsed
    try:
        expected = hmac.new(ws.keys.derive(purpose, version), facts(), "sha256").hexdigest()
    except (KeyFileError, TypeError, ValueError):
        return False
    return hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace"))


def hit_is_sealed(ws: Workspace, rec: CanaryHitRecord) -> bool:
    """Whether ``rec`` carries a valid seal (see :func:`seal_hit`)."""
    return seal_holds(
        ws,
        rec.seal,
        "hit-seal",
        lambda: _hit_facts(rec.at, rec.channel, rec.caller, rec.contact, rec.knew),
    )


REPORT_SEALED_COLUMNS = (
    "received_at",
    "source",
    "reported_at",
    "channel",
    "caller",
    "quoted_roles",
    "loss",
    "has_receipt",
    "fraud_type",
    "stages",
    "status",
    "reason",
    "customer",
    "dedupe",
    "key_version",
    "blob",
)
"""The columns a report's seal covers, in the order they are encoded: all but ``id`` and
the seal. Spelled out rather than read from the table, so that adding a column later does
not silently change the encoding (and break every earlier seal); a test holds the two
together."""


def report_facts(rec: ReportRecord) -> bytes:
    """The canonical encoding a report seal is computed over.

    JSON keeps each value's type (``"95013"`` and ``95013`` differ), so a value the
    database returns with another type than leaktrace wrote fails the seal rather than
    reaching code that expects a string. ``loss`` is written as a float and compared as
    one, whatever numeric type a driver returns for it.
    """
    values: list[object] = [getattr(rec, c) for c in REPORT_SEALED_COLUMNS]
    loss: object = rec.loss
    if isinstance(loss, int) and not isinstance(loss, bool):
        values[REPORT_SEALED_COLUMNS.index("loss")] = float(loss)
    return json.dumps(
        ["victim_reports", *values], ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()


def _report_mac(ws: Workspace, version: int, facts: bytes) -> str:
    return hmac.new(ws.keys.derive("report-seal", version), facts, "sha256").hexdigest()


def seal_report(ws: Workspace, rec: ReportRecord) -> str:
    """The seal of a report row: an HMAC of every stored column but ``id`` (the blob
    included) under a workspace subkey (``report-seal``, per key version).

    Why: the report table is outside the signed chain, and its clear columns (status,
    call time, quoted roles, dedupe and customer digests) decide whether and how a
    report counts against a partner. A database administrator without the workspace's
    keys could change them unseen; with the seal, such a row is not counted. The blob is
    covered so that it is bound to its row: a blob copied into another row, or a row's
    clear fields put beside another blob, fail the seal.
    """
    v = ws.keys.current_version
    return f"v{v}:{_report_mac(ws, v, report_facts(rec))}"


def report_seal_problem(ws: Workspace, rec: ReportRecord) -> str | None:
    """Why ``rec`` carries no valid seal (see :func:`seal_report`), in words; None when
    it does. The words never show the seal or a key."""
    if rec.seal is None:
        return (
            "the row has no seal (stored before reports were sealed, or written outside leaktrace)"
        )
    altered = (
        "the row's seal does not match its content (altered in the database after it was "
        "stored, or written outside leaktrace)"
    )
    parsed = parse_seal(rec.seal)
    if parsed is None:
        return "the row's seal is not a leaktrace seal (written outside leaktrace)"
    version, mac = parsed
    try:
        expected = _report_mac(ws, version, report_facts(rec))
    except KeyFileError:
        return f"the row is sealed under key version {version}, which this workspace does not have"
    except (TypeError, ValueError):  # a value of a type leaktrace never writes (or NaN)
        return altered
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        return altered
    return None


def report_is_sealed(ws: Workspace, rec: ReportRecord) -> bool:
    """Whether ``rec`` carries a valid seal (see :func:`seal_report`)."""
    return report_seal_problem(ws, rec) is None


_ADDED_COLUMNS: dict[str, dict[str, str]] = {
    "canary_hits": {"seal": "VARCHAR(80)"},
    "victim_reports": {"seal": "VARCHAR(80)"},
    "erasure_requests": {
        "taker_recipient": "VARCHAR(200)",
        "phone_salt": "VARCHAR(64)",
        "phone_commitment": "VARCHAR(64)",
        "seal": "VARCHAR(80)",
        "decision_seal": "VARCHAR(80)",
    },
}
"""Columns added to existing tables since they were first made: table → name → SQL type."""


def _add_missing_columns(eng: Engine) -> None:
    """Columns added to the attribution tables since a database was made (create_all
    makes missing tables only). Rows that predate a seal column get NULL, i.e. unsealed:
    nothing can vouch for what they held before the seal existed; erasure requests taken
    before ``taker_recipient`` get NULL, i.e. taken by no partner's agent, and those taken
    before requests were sealed get no seal (listed as unsealed, never erased)."""
    insp = inspect(eng)
    for table, columns in _ADDED_COLUMNS.items():
        have = {c["name"] for c in insp.get_columns(table)}
        for name, sql_type in columns.items():
            if name not in have:
                with eng.begin() as con:
                    con.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}"))


def engine_for(ws: Workspace) -> Engine:
    """The ledger database engine with the attribution tables created."""
    url = ws.database_url
    eng = _ENGINES.get(url)
    if eng is None:
        eng = Ledger(ws).engine
        create_tables(_Base.metadata, eng)
        _add_missing_columns(eng)
        _ENGINES[url] = eng
    return eng


def _aad(version: int) -> bytes:
    return f"victim_reports|v{version}".encode()


def encrypt_blob(ws: Workspace, obj: dict[str, Any]) -> tuple[str, int]:
    v = ws.keys.current_version
    key = ws.keys.derive("report-pii", v)
    nonce = os.urandom(12)
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True).encode()
    return (nonce + AESGCM(key).encrypt(nonce, data, _aad(v))).hex(), v


def decrypt_blob(ws: Workspace, blob: str, version: int) -> dict[str, Any]:
    raw = bytes.fromhex(blob)
    key = ws.keys.derive("report-pii", version)
    try:
        data = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(version))
    except InvalidTag:
        raise KeyFileError(
            "a stored victim report cannot be decrypted with this workspace's keys"
        ) from None
    out: dict[str, Any] = json.loads(data)
    return out


def load_reports(ws: Workspace) -> list[ReportRecord]:
    with Session(engine_for(ws)) as s:
        rows = list(s.scalars(select(ReportRecord).order_by(ReportRecord.id)))
        s.expunge_all()
    return rows


def load_erasures(ws: Workspace) -> dict[int, ReportErasureRecord]:
    """Erasure rows by the id of the report they name (checked by
    :func:`leaktrace.attribution.erasure.erasure_holds`, not here)."""
    with Session(engine_for(ws)) as s:
        rows = {r.report_id: r for r in s.scalars(select(ReportErasureRecord))}
        s.expunge_all()
    return rows


def load_hits(ws: Workspace) -> list[CanaryHitRecord]:
    with Session(engine_for(ws)) as s:
        rows = list(s.scalars(select(CanaryHitRecord).order_by(CanaryHitRecord.id)))
        s.expunge_all()
    return rows
