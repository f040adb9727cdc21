"""SQLAlchemy models of the ledger.

A :class:`ReleaseRecord` is one copy of data that left the platform. Its ``record_hash``
covers every other column (canonical sorted-key JSON, see :mod:`leaktrace.ledger.chain`)
including ``prev_hash``, and ``signature`` is Ed25519 over ``record_hash``: altering,
inserting, reordering or deleting a record before the last breaks the chain at that
point. Deleting records from the end leaves a chain that links; ``verify`` sees it only
through an index file no record names, or against a head kept elsewhere
(``verify --expect-head``).

:class:`CanaryToken` rows are the token side of canaries (canarytokens style: tokens vs
hits). They are derivable from the release and not part of the hash chain themselves; the
release record carries their digest so they cannot be altered undetected.

:class:`CanaryReservation` rows hold the canary numbers of releases still running, so that
concurrent releases draw disjoint numbers; a release's reservations become its tokens when
it is recorded and are dropped when it fails.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "CanaryReservation", "CanaryToken", "ReleaseRecord"]


class Base(DeclarativeBase):
    pass


class ReleaseRecord(Base):
    __tablename__ = "releases"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(200), index=True)
    policy_name: Mapped[str] = mapped_column(String(200))
    policy_hash: Mapped[str] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)  # JSON list of roles sent
    channels: Mapped[str] = mapped_column(Text)  # JSON list of channel names
    code: Mapped[str] = mapped_column(String(16), default="fair")  # fair | tardos
    alias: Mapped[bool] = mapped_column(Integer)
    key_version: Mapped[int] = mapped_column(Integer)
    input_sha256: Mapped[str] = mapped_column(String(64))
    output_sha256: Mapped[str] = mapped_column(String(64))
    output_format: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(BigInteger)
    canaries: Mapped[int] = mapped_column(Integer)
    canary_digest: Mapped[str] = mapped_column(String(64))
    index_file: Mapped[str] = mapped_column(String(300))
    index_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(128))


class CanaryToken(Base):
    __tablename__ = "canary_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(200))
    anchor: Mapped[str] = mapped_column(String(20))  # keyed digest of the order id
    kind: Mapped[str] = mapped_column(String(16))  # phone | email
    contact: Mapped[str] = mapped_column(String(200))  # platform-owned contact point

    # One release per contact point: a call to a canary number must name exactly one copy.
    # This is the table's only index. Readers take every token (a trace) or look contacts
    # up (``contact IN (...) AND contact <> ''``, which this partial index serves); each
    # further index cost every release one B-tree insert per token, and with four more
    # (release_id, recipient, anchor, contact: none of them queried) recording the 10,000
    # tokens of a 1M-row release took 0.36 s instead of 0.17 s on a 680,000-token ledger.
    __table_args__ = (
        Index(
            "ux_canary_contact",
            "contact",
            unique=True,
            sqlite_where=text("contact <> ''"),
            postgresql_where=text("contact <> ''"),
        ),
    )


class CanaryReservation(Base):
    """A canary contact point taken by a release that is still running (not chained)."""

    __tablename__ = "canary_reservations"

    contact: Mapped[str] = mapped_column(String(200), primary_key=True)
    release_id: Mapped[str] = mapped_column(String(64), index=True)
    created: Mapped[str] = mapped_column(String(40))
