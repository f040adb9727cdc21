"""Release: one recipient's traceable copy of order data.

The pipeline, per batch of rows (so memory stays bounded and the same kernel can run
inside PySpark ``mapInArrow``):

1. filter rows with the recipient's ``where`` expression;
2. add this batch's share of canary rows (synthetic orders with platform-owned contact
   points) at keyed positions, so nothing distinguishes them from real rows;
3. compute each row's *anchor* — a keyed digest of the real order id — and the customer
   digest (keyed digest of the full phone) for the exposure index;
4. keep and mask the policy's fields; replace the order id with its FF1 alias if the
   policy says ``alias``;
5. embed every enabled mark channel's keyed symbols (PRF of recipient key, anchor,
   channel) in the masked values;
6. write the batch to the output and its index rows (keyed digests only) to the index.

Only when the output and the index are complete are they renamed into place and the
ledger record appended; any failure removes both temporaries, so a failed release leaves
neither a file nor a record.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy.exc import SQLAlchemyError

from leaktrace import rewrite
from leaktrace.callable_module import make_callable
from leaktrace.canary import canary_rng, generate_canaries, place_canaries, slotted_order
from leaktrace.channels import channel_symbols, get_channel
from leaktrace.config import Policy
from leaktrace.digest import keyed_digest, keyed_digests
from leaktrace.errors import (
    CanaryConflictError,
    ConfigError,
    InputError,
    KeyFileError,
    MissingColumnError,
    PolicyError,
)
from leaktrace.fpe import FF1
from leaktrace.identity import IDENTITY_KEYS, identity_digests
from leaktrace.io.checksum import file_sha256, file_sha256_in_background
from leaktrace.io.readers import UnreadableTimes
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.ledger.chain import canary_digest
from leaktrace.masking import MaskContext, apply_policy_fields
from leaktrace.masking.alias import alias_tweak
from leaktrace.masking.base import parse_spec
from leaktrace.pool_walk import RandomWalk, take_from_pool
from leaktrace.roles import ROLE_NAMES
from leaktrace.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    import pandas as pd

    from leaktrace.io.readers import TableSource

__all__ = ["ReleasePlan", "ReleaseResult", "check_where", "release"]

BATCH_ROWS = 200_000
RESERVE_AHEAD = 2
"""Batches' worth of canary numbers a batch reserves beyond its own (see ``_BatchKernel``)."""


def _sql_reason(exc: Exception) -> str:
    """The parser's own first line ("Unterminated string literal", "unsupported function
    'foo'"), without Polars' prefixes; the class name where it says nothing useful."""
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"^sql parser error:\s*", "", first)
    first = re.sub(r"\s+at Line: \d+, Column: \d+$", "", first)
    if not first or first.startswith("unable to parse"):
        return "not a valid SQL condition (e.g. courier = '中通快递')"
    return first[:160]


def check_where(where: str) -> pl.Expr:
    """Parse a ``where`` filter (SQL boolean over role names) or raise PolicyError.

    The filter is also run once on a one-row frame typed as a release reads its input
    (every role text, ``order_time`` a datetime), so ``amount > 100`` is refused when the
    recipient is added — with the cast it needs — instead of failing every release.
    """
    try:
        expr = pl.sql_expr(where)
        names = expr.meta.root_names()
    except Exception as exc:  # polars raises several error types for bad SQL
        raise PolicyError(f"invalid where expression {where!r}: {_sql_reason(exc)}") from None
    if any(n.startswith("_POLARS") for n in names):  # Polars' own name for a subquery
        raise PolicyError(
            f"where expression {where!r}: subqueries are not supported; compare a role "
            "with values, e.g. courier IN ('中通快递', '圆通速递')"
        )
    unknown = sorted(set(names) - ROLE_NAMES)
    if unknown:
        raise PolicyError(
            f"where expression {where!r} names {', '.join(unknown)}, which is not a column "
            f"role (roles: {', '.join(sorted(ROLE_NAMES))})"
        )
    probe = pl.DataFrame(
        {
            n: pl.Series([None], dtype=pl.Datetime("us") if n == "order_time" else pl.String)
            for n in names
        }
    )
    try:
        probe.filter(expr)
    except Exception as exc:
        raise PolicyError(
            f"where expression {where!r} cannot run on the input's columns, which are text "
            f"(order_time a datetime): {type(exc).__name__}; write numbers and times as "
            "cast(amount as double) > 100, order_time >= timestamp '2024-06-01'"
        ) from None
    return expr


@dataclass
class ReleasePlan:
    """Everything derived once per release: keys, channels, fields (never printed)."""

    ws: Workspace
    recipient: str
    policy_name: str
    policy: Policy
    key_version: int
    release_id: str
    where: pl.Expr | None
    anchor_key: bytes = field(repr=False)
    index_key: bytes = field(repr=False)
    customer_key: bytes = field(repr=False)
    mark_key: bytes = field(repr=False)
    canary_key: bytes = field(repr=False)
    bias_key: bytes = field(repr=False)
    alias_cipher: FF1 | None = field(repr=False)
    alias_tweak: bytes = field(repr=False)
    mask_ctx: MaskContext = field(repr=False)

    @property
    def fields(self) -> dict[str, str]:
        return self.policy.fields

    def input_roles(self) -> list[str]:
        """The input columns (roles) a release reads: the fields it sends, the rows' own
        identity (order id, phone for the customer digest, order time for the index) and
        whatever the ``where`` filter names. Others are never parsed."""
        roles = dict.fromkeys(self.sent_roles)
        roles.update(dict.fromkeys(["order_id", "phone", "order_time"]))
        if self.where is not None:
            roles.update(dict.fromkeys(self.where.meta.root_names()))
        return list(roles)

    @property
    def sent_roles(self) -> list[str]:
        return [r for r, op in self.policy.fields.items() if parse_spec(op).name != "drop"]

    def policy_hash(self) -> str:
        body = {
            "policy": self.policy.model_dump(mode="json"),
            "where": self.ws.config.recipient(self.recipient).where,
        }
        return hashlib.sha256(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()


def ledger_body(
    plan: ReleasePlan,
    *,
    input_sha256: str,
    output_sha256: str,
    output_format: str,
    rows: int,
    canary_tokens: list[dict[str, str]],
    index_rel: str,
    index_path: Path,
    index_sha256: str | None = None,
    sent: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The ledger record of a completed release (single machine or Spark): one definition.

    ``rows`` counts real rows; the record's ``rows`` includes the canaries. The index's
    SHA-256 is read from ``index_path`` unless the caller hashed it while writing.
    ``sent``: the columns (roles) the output actually has. The record lists those fields
    and the channels of those columns only: an optional field the input lacked was not
    sent, and attribution must not count the recipient as able to quote it.
    """
    out = set(plan.sent_roles if sent is None else sent)
    return {
        "release_id": plan.release_id,
        "recipient": plan.recipient,
        "policy_name": plan.policy_name,
        "policy_hash": plan.policy_hash(),
        "fields": [r for r in plan.sent_roles if r in out],
        "channels": [c for c in plan.policy.channels if get_channel(c).role in out],
        "code": plan.policy.code,
        "alias": plan.alias_cipher is not None,
        "key_version": plan.key_version,
        "input_sha256": input_sha256,
        "output_sha256": output_sha256,
        "output_format": output_format,
        "rows": rows + len(canary_tokens),
        "canaries": len(canary_tokens),
        "canary_digest": canary_digest(canary_tokens),
        "index_file": index_rel,
        "index_sha256": index_sha256 or file_sha256(index_path),
    }


def mark_key_for(ws: Workspace, recipient: str, version: int) -> bytes:
    return ws.keys.derive(f"mark/{recipient}", version)


def bias_key_for(ws: Workspace, version: int) -> bytes:
    """The key of the Tardos code's per-position biases (policy ``code = "tardos"``).

    Shared by every recipient of a key version, so the release kernel, the wave simulator
    and the tracer must all take it from here: marks embedded with one bias and scored with
    another carry no Tardos evidence at all.
    """
    return ws.keys.derive("tardos-bias", version)


def alias_cipher_for(ws: Workspace, version: int) -> FF1:
    return FF1(ws.keys.derive("alias", version))


alias_tweak_for = alias_tweak


def make_plan(ws: Workspace, recipient: str) -> ReleasePlan:
    """Keys, policy and release id of one release. The policy is checked again here (it may
    have been edited in memory since the workspace was loaded)."""
    r = ws.config.recipient(recipient)
    # in full: loading the workspace left its operators to be checked here (session 15)
    policy = ws.config.check_release_policy(recipient)
    # a release made with a replaced key could never be traced; trusting a key without a
    # check value is left to verify, which says that it did
    key_problem = ws.keys.check_problem(trust_on_first_use=False)
    if key_problem:
        raise KeyFileError(key_problem)
    # the record is signed at the very end: a protected signing key without its passphrase
    # fails here, not after the whole input was read, marked and written
    ws.keys.signing_key()
    v = ws.keys.current_version
    uses_alias = (
        "order_id" in policy.fields and parse_spec(policy.fields["order_id"]).name == "alias"
    )
    return ReleasePlan(
        ws=ws,
        recipient=recipient,
        policy_name=r.policy,
        policy=policy,
        key_version=v,
        release_id=datetime.now(UTC).strftime("rel-%Y%m%dT%H%M%S-") + secrets.token_hex(4),
        where=check_where(r.where) if r.where else None,
        anchor_key=ws.keys.derive("anchor", v),
        index_key=ws.keys.derive("index", v),
        customer_key=ws.keys.derive("customer", v),
        mark_key=mark_key_for(ws, recipient, v),
        canary_key=ws.keys.derive("canary", v),
        bias_key=bias_key_for(ws, v),
        alias_cipher=alias_cipher_for(ws, v) if uses_alias else None,
        alias_tweak=alias_tweak_for(recipient, v),
        mask_ctx=MaskContext(
            digest_key=ws.keys.derive("mask-digest", v),
            recipient=recipient,
            alias_key=ws.keys.derive("alias", v),
            key_version=v,
        ),
    )


@dataclass
class ReleaseResult:
    release_id: str
    recipient: str
    rows: int
    canaries: int
    channels: list[str]
    output: Path | None
    output_sha256: str
    entry: ReleaseEntry
    frame: pl.DataFrame | None = None
    unreadable_times: int = 0
    """Order times in the input that were text but not a time, counted before the where
    filter; the rows of them that were released carry an empty order_time."""
    first_unreadable_time_row: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "recipient": self.recipient,
            "rows": self.rows,
            "canaries": self.canaries,
            "channels": self.channels,
            "output_sha256": self.output_sha256,
        }


FF1_MIN_DIGITS = 6
"""FF1 with radix 10 needs radix**length ≥ 1,000,000 (NIST SP 800-38G)."""
_ALIASABLE = rf"^\s*[0-9０-９]{{{FF1_MIN_DIGITS},}}\s*$"
"""What the alias operator accepts: digits of either width (it folds them), surrounding
whitespace (it strips it)."""


def _required_roles(plan: ReleasePlan) -> list[str]:
    """Roles the policy cannot release without: its non-optional, non-dropped fields and
    the order id (every released row is anchored to it)."""
    required = [
        r
        for r, op in plan.policy.fields.items()
        if not (spec := parse_spec(op)).optional and spec.name != "drop"
    ]
    return required if "order_id" in required else [*required, "order_id"]


def _check_required(plan: ReleasePlan, missing: list[str]) -> None:
    if missing:
        raise MissingColumnError(
            f"input has no column for role(s) {', '.join(missing)} required by policy "
            f"{plan.policy_name!r} (recipient {plan.recipient!r})"
        )


def _check_where_columns(plan: ReleasePlan, present: Iterable[str], what: str) -> None:
    """Refuse an input (``what``: the file, or "the input") without a column the
    recipient's ``where`` filter names, saying which column and which filter.

    Why: Polars' own error (``ColumnNotFoundError``) named neither, and listing the
    columns the release did read left the user to work out which one was missing."""
    if plan.where is None:
        return
    have = set(present)
    missing = [c for c in dict.fromkeys(plan.where.meta.root_names()) if c not in have]
    if missing:
        cols = " or ".join(missing)
        where = plan.ws.config.recipient(plan.recipient).where
        raise MissingColumnError(
            f"{what} has no {cols} column, which the where filter of recipient "
            f"{plan.recipient!r} needs: {where}"
        )


def _nothing_to_release(plan: ReleasePlan, rows_in: int, what: str) -> InputError:
    """Why a release has no rows, in the user's terms: the input (``what``) had none, or
    the recipient's ``where`` filter kept none of its ``rows_in``. Why both are told
    apart: the fix differs (another file, or another filter), and the message used to
    offer both."""
    if rows_in == 0:
        return InputError(f"no rows to release: {what} has no data rows")
    where = plan.ws.config.recipient(plan.recipient).where
    return InputError(
        f"no rows to release: the where filter of recipient {plan.recipient!r} ({where}) "
        f"matched none of the {rows_in:,} rows of {what}"
    )


def anchors_of(order_ids: pl.Series, anchor_key: bytes) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Row anchors: keyed digest of the real order id (the identity marks are bound to)."""
    if order_ids.null_count():
        raise InputError("order_id has empty values; every released row needs an order id")
    return (
        keyed_digest(order_ids.cast(pl.Utf8).str.strip_chars(), anchor_key)
        .to_numpy()
        .astype(np.uint64)
    )


def _row_digest_inputs(
    batch: pl.DataFrame, plan: ReleasePlan
) -> dict[str, tuple[pl.Series, bytes]]:
    """(values, key) of the per-row digests taken from the input: the anchor (same input as
    :func:`anchors_of`) and, when a phone column exists, the customer digest of the
    normalised phone — computed together in one :func:`keyed_digests` query."""
    order_ids = batch.get_column("order_id")
    if order_ids.null_count():
        raise InputError("order_id has empty values; every released row needs an order id")
    inputs = {"anchor": (order_ids.cast(pl.Utf8).str.strip_chars(), plan.anchor_key)}
    if "phone" in batch.columns:
        phones = rewrite.canonical_phone(batch.get_column("phone").cast(pl.Utf8))
        inputs["customer"] = (phones, plan.customer_key)
    return inputs


def embed_marks(
    df: pl.DataFrame,
    anchors: np.ndarray[Any, np.dtype[np.uint64]],
    channels: list[str],
    mark_key: bytes,
    *,
    code: str = "fair",
    bias_key: bytes | None = None,
) -> pl.DataFrame:
    """Embed each enabled channel's keyed symbols in its column (if the column is sent)."""
    cols = []
    for name in channels:
        ch = get_channel(name)
        if ch.role not in df.columns:
            continue
        sym = channel_symbols(ch, mark_key, anchors, code=code, bias_key=bias_key)
        cols.append(ch.embed(df.get_column(ch.role), sym))
    return df.with_columns(cols) if cols else df


@dataclass(frozen=True)
class PreparedBatch:
    """A filtered input batch with its canary count and the pool numbers they will use."""

    batch: pl.DataFrame
    canaries: int
    phones: list[str]
    batch_no: int
    first_row: int = 0
    """0-based input row of the batch's first row, before the where filter."""
    kept: pl.Series | None = None
    """The where filter's mask over the unfiltered batch (None: no filter)."""


class _BatchKernel:
    """The per-batch release kernel (stateful only for canary bookkeeping)."""

    def __init__(
        self,
        plan: ReleasePlan,
        used_canary_contacts: set[str] | None = None,
        reserve: Callable[[Sequence[str], int, int], list[str]] | None = None,
    ) -> None:
        """``reserve(pool, k, extra)`` takes ``k`` free canary numbers from ``pool`` for
        this release, and up to ``extra`` more for later batches (the ledger's reservations,
        so concurrent releases never share one; unused ones are freed when the release is
        recorded); without it numbers are drawn from the pool minus
        ``used_canary_contacts`` (Spark executors, which get a disjoint slice of the pool
        each)."""
        self.plan = plan
        self._reserve = reserve
        self.rows = 0
        self.canaries_emitted = 0
        self.canary_tokens: list[dict[str, str]] = []
        self._pool = plan.ws.config.canary_pool.phone_numbers()
        self._used: set[str] = set(used_canary_contacts) if used_canary_contacts else set()
        self._stock: list[str] = []  # reserved ahead, not yet given to a batch
        self.batch_no = 0
        self.rows_in = 0  # input rows seen, before the where filter (for row numbers)
        #: What the row numbers count in ("" for a whole input; a Spark partition's kernel
        #: counts its own rows and says so)
        self.rows_context = ""
        self.required = _required_roles(plan)
        self._aliased = parse_spec(plan.policy.fields.get("order_id", "keep")).name == "alias"

    @property
    def used_contacts(self) -> set[str]:
        """The pool numbers this kernel gave out or was told were taken (a copy): what
        another kernel drawing from the same pool slice must avoid."""
        return set(self._used)

    def _canary_count(self, n: int) -> int:
        p = self.plan.policy
        target = int(p.canary_rate * (self.rows + n))
        if self.canaries_emitted == 0 and n > 0:
            target = max(target, p.canary_min)
        return max(0, target - self.canaries_emitted)

    def __call__(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pa.Table]:
        """Prepare and mark one batch (the sequential form, used by Spark partitions)."""
        released, index, tokens = self.mark(self.prepare(batch))
        self.canary_tokens += tokens
        return released, index

    def prepare(self, batch: pl.DataFrame) -> PreparedBatch:
        """Filter the batch, count its canaries and take their numbers: the part that must
        run in input order (counts depend on the rows seen so far, numbers on those already
        used). Generating and inserting the canaries is left to :meth:`mark`.
        """
        plan = self.plan
        _check_required(plan, [r for r in self.required if r not in batch.columns])
        _check_where_columns(plan, batch.columns, "the input")
        keep: pl.Series | None = None
        if plan.where is not None:
            try:
                keep = batch.select(plan.where.fill_null(False)).to_series()
            except Exception as exc:
                raise PolicyError(
                    f"where expression of recipient {plan.recipient!r} cannot be applied: "
                    f"{type(exc).__name__} (columns are role names: {', '.join(batch.columns)})"
                ) from None
        first_row = self.rows_in
        self.rows_in += batch.height
        if keep is not None:
            batch = batch.filter(keep)
        if "order_id" in batch.columns and batch.get_column("order_id").null_count():
            # a null id names its row as an empty one does (null_count is the array's
            # own count: no pass over the column when there is none)
            first_bad = int(batch.get_column("order_id").is_null().arg_true()[0])
            row = first_bad if keep is None else int(keep.arg_true()[first_bad])
            raise InputError(
                f"order_id in {self.rows_context}data row {first_row + row + 1} is empty; "
                "every released row needs an order number"
            )
        n = batch.height
        k = self._canary_count(n) if n else 0
        phones: list[str] = []
        if k and "phone" in batch.columns:
            if self._reserve is not None:
                # the ledger excludes used and reserved numbers (this release's too). The
                # first two batches take only their own (each mark thread starts sooner);
                # from the third on, a reservation also covers RESERVE_AHEAD more batches:
                # one commit instead of several.
                if len(self._stock) < k:
                    ahead = RESERVE_AHEAD * k if self.batch_no >= 2 else 0
                    self._stock += self._reserve(self._pool, k - len(self._stock), ahead)
                phones, self._stock = self._stock[:k], self._stock[k:]
            else:
                phones = self._draw_unused(k)
        prepared = PreparedBatch(batch, k, phones, self.batch_no, first_row, keep)
        self.canaries_emitted += k
        self.rows += n
        self.batch_no += 1
        return prepared

    def _alias_input_error(self, prep: PreparedBatch) -> InputError | None:
        """The error for the first order number of ``prep`` the alias cannot encrypt (digits
        only, full-width ones fold, at least ``FF1_MIN_DIGITS``), naming its data row; None
        when every number is fine.

        Why only after the cipher failed: checking every batch up front cost a release 30 ms
        per 1M rows for an error that is rare, and the cipher's own message can only give
        an index into the batch (with canaries and without filtered rows).
        """
        ids = prep.batch.get_column("order_id").cast(pl.Utf8)
        bad = ~ids.str.contains(_ALIASABLE).fill_null(True)
        if not bad.any():
            return None
        first_bad = int(bad.arg_true()[0])  # in the filtered batch
        value = ids[first_bad]
        row = first_bad if prep.kept is None else int(prep.kept.arg_true()[first_bad])
        where = f"order_id in {self.rows_context}data row {prep.first_row + row + 1}"
        if value is None or not value.strip():
            return InputError(f"{where} is empty; every released row needs an order number")
        if _FLOAT_TEXT.fullmatch(value.strip()):
            # 1.3316419386051277e+18: a spreadsheet or pandas read the numbers as floats,
            # and the last digits are gone; "needs digits only" sent users looking for a
            # stray character
            return InputError(
                f"{where} is {value.strip()!r}, a float: the order numbers were read as "
                "numbers and lost their last digits; read the column as text (in pandas, "
                "dtype=str) and release again"
            )
        return InputError(
            f"{where}: recipient {self.plan.recipient!r} gets order numbers as aliases, which "
            f"need at least {FF1_MIN_DIGITS} digits and nothing else (use order_id = "
            '"keep" or "digest" in its policy for other ids)'
        )

    def _draw_unused(self, k: int) -> list[str]:
        """``k`` pool numbers this kernel has not used, in a keyed random order (the path
        without a ledger: a Spark partition, whose pool slice no other partition shares).

        The pool is walked, not listed: a partition's slice of a million-number pool is
        half a million numbers, and listing the unused ones cost every batch a pass over
        all of them.
        """
        plan = self.plan
        walk = RandomWalk(
            len(self._pool), canary_rng(plan.canary_key, f"{plan.release_id}/{self.batch_no}/pool")
        )
        phones: list[str] = []
        while len(phones) < k and not walk.exhausted:
            for number in take_from_pool(self._pool, walk.take(k - len(phones))):
                if number not in self._used:
                    self._used.add(number)  # a pool listing a number twice yields it once
                    phones.append(number)
        if len(phones) < k:
            # Reusing a number would make a call to it name the wrong release.
            raise ConfigError(
                f"the canary phone pool has {len(phones)} unused numbers, this release "
                f"needs {k}; add platform-controlled numbers to [canary_pool] phones"
            )
        return phones

    def _with_canaries(
        self, prep: PreparedBatch
    ) -> tuple[pl.DataFrame, npt.NDArray[np.bool_], list[dict[str, str]]]:
        """The batch with its canaries generated and slotted in, the canary mask, the tokens."""
        plan, batch = self.plan, prep.batch
        n = batch.height
        can = self._canaries_within_where(prep)
        k = can.height
        if not k:
            return batch.rechunk(), np.zeros(n, dtype=bool), []
        rng = np.random.Generator(
            np.random.Philox(
                key=int.from_bytes(
                    hashlib.sha256(
                        plan.canary_key
                        + plan.release_id.encode()
                        + prep.batch_no.to_bytes(4, "big")
                    ).digest()[:16],
                    "big",
                )
            )
        )
        if "order_time" in batch.columns:
            # in a time-sorted batch a canary goes where a real order would, with a time
            # that fits there (canary.place_canaries)
            slots, fitted = place_canaries(
                rng, batch.get_column("order_time"), can.get_column("order_time")
            )
            can = can.with_columns(fitted)
        else:
            slots = np.sort(rng.integers(0, n + 1, size=k))
        order = slotted_order(n, slots)
        # one contiguous frame first: gathering across the two chunks of a plain concat
        # cost three times the CPU (Polars maps every index to its chunk)
        batch = pl.concat([batch, can.cast(batch.schema)], rechunk=True).select(
            pl.all().gather(order)
        )
        is_canary = np.concatenate([np.zeros(n, dtype=bool), np.ones(k, dtype=bool)])[order]
        can_anchors = anchors_of(can.get_column("order_id"), plan.anchor_key)
        contacts = can.get_column("phone").to_list() if "phone" in can.columns else [""] * k
        tokens = [
            {"anchor": f"{a:016x}", "kind": "phone", "contact": str(c)}
            for a, c in zip(can_anchors.tolist(), contacts, strict=True)
        ]
        return batch, is_canary, tokens

    def _canaries_within_where(self, prep: PreparedBatch) -> pl.DataFrame:
        """``prep.canaries`` canary rows that pass the recipient's ``where`` filter.

        Why: a canary outside the filter (a Beijing address in a Zhejiang-only copy) is
        recognisable, and removing it removes the evidence. Donor-copied columns (courier,
        merchant) pass by construction; for the others, cities come from the filtered batch
        and rows that still fail are drawn again, ``WHERE_ATTEMPTS`` times at most. A
        filter synthetic rows cannot meet (one on the phone number, which comes from the
        canary pool) leaves fewer canaries, or none: the release's ``canaries`` says so.
        """
        plan, batch = self.plan, prep.batch

        def draw(count: int, pool: list[str], attempt: int) -> pl.DataFrame:
            salt = "" if attempt == 0 else f"/where{attempt}"
            return generate_canaries(
                batch,
                count,
                key=plan.canary_key,
                release_id=f"{plan.release_id}/{prep.batch_no}{salt}",
                pool_phones=pool,
                pool_emails=plan.ws.config.canary_pool.emails,
                cities_from_sample=plan.where is not None,
            ).select(batch.columns)  # the sample is the batch: its order ids are never reused

        can = draw(prep.canaries, prep.phones, 0)
        if plan.where is None:
            return can
        ok = can.select(plan.where.fill_null(False)).to_series()
        kept = [can.filter(ok)]
        can = can.filter(~ok)
        pool_columns = [c for c in _POOL_COLUMNS if c in batch.columns]
        if can.height and not set(pool_columns) & set(plan.where.meta.root_names()):
            kept.append(self._canaries_by_oversampling(prep, can, pool_columns, plan.where))
            can = can.clear()
        for attempt in range(1, WHERE_ATTEMPTS):
            if not can.height:
                break
            pool = can.get_column("phone").to_list() if "phone" in can.columns else []
            can = draw(can.height, pool, attempt)
            ok = can.select(plan.where.fill_null(False)).to_series()
            kept.append(can.filter(ok))
            can = can.filter(~ok)
        out = pl.concat(kept)
        # no canary order id twice (a redraw could repeat a kept one): keep the first
        return out.unique(subset=["order_id"], keep="first", maintain_order=True)

    def _canaries_by_oversampling(
        self,
        prep: PreparedBatch,
        failed: pl.DataFrame,
        pool_columns: list[str],
        where: pl.Expr,
    ) -> pl.DataFrame:
        """Replacements for ``failed`` canaries, drawn many at a time until enough pass.

        Why: a filter on digits of the order number (``… % 250 = 78``) passes one random
        canary in 250; redrawing each failed row a few times left such copies with a tenth
        of their canaries or none, too few to trace a name + phone leak. The filter names
        no pool column here, so candidates are drawn without them and the survivors get
        the failed rows' reserved numbers (and fresh pool e-mails) afterwards: no pool
        number is spent on a candidate. Each round's size follows the pass rate seen so
        far; ``OVERSAMPLE_BUDGET`` candidates per missing canary, ``OVERSAMPLE_ROUND`` per
        draw and ``OVERSAMPLE_BATCH_MAX`` per batch bound the work and the memory, and a
        batch gives up after ``OVERSAMPLE_GIVE_UP`` candidates without one passing: a
        filter synthetic rows almost never pass (real order numbers that share a segment
        random ones lack) leaves fewer canaries, as the release's ``canaries`` says,
        rather than costing minutes and gigabytes (session 21's review: 3.9 million
        candidates in one draw, 129 s and 5 GB for 1M rows).
        """
        plan, batch = self.plan, prep.batch
        sample = batch.drop(pool_columns)
        need, drawn, passed = failed.height, 0, 0
        budget = min(OVERSAMPLE_BUDGET * failed.height, OVERSAMPLE_BATCH_MAX)
        found: list[pl.DataFrame] = []
        size = min(budget, 32 * need + 64, OVERSAMPLE_ROUND)
        rounds = 0
        while need and size > 0 and (passed or drawn < OVERSAMPLE_GIVE_UP):
            rounds += 1
            cand = generate_canaries(
                sample,
                size,
                key=plan.canary_key,
                release_id=f"{plan.release_id}/{prep.batch_no}/where-many{rounds}",
                pool_phones=[],
                pool_emails=[],
                cities_from_sample=True,
            )
            good = cand.filter(cand.select(where.fill_null(False)).to_series())
            found.append(good.head(need))
            need -= min(need, good.height)
            drawn, passed = drawn + size, passed + good.height
            rate = max(passed, 1) / drawn  # one pass assumed when none was seen yet
            size = min(budget - drawn, int(need / rate * 1.5) + 64, OVERSAMPLE_ROUND)
        got = pl.concat(found) if found else sample.clear()
        columns: dict[str, pl.Series] = {}
        if "phone" in pool_columns:
            columns["phone"] = failed.get_column("phone").head(got.height)
        if "email" in pool_columns:
            columns["email"] = generate_canaries(
                batch.select("email"),
                got.height,
                key=plan.canary_key,
                release_id=f"{plan.release_id}/{prep.batch_no}/where-mail",
                pool_phones=[],
                pool_emails=plan.ws.config.canary_pool.emails,
            ).get_column("email")
        return got.with_columns(**columns).select(batch.columns)

    def mark(self, prep: PreparedBatch) -> tuple[pl.DataFrame, pa.Table, list[dict[str, str]]]:
        """Canaries, digests, masking and marks of one prepared batch: the released rows,
        their index rows and the batch's canary tokens.

        Reads only the plan and ``prep``, so :func:`release` runs it for two batches at once
        on two threads while the main thread reads the next batch and writes the previous
        one: the digest kernel, DuckDB, Polars and AES all release the GIL.
        """
        batch, is_canary, tokens = self._with_canaries(prep)
        plan = self.plan
        keyed = keyed_digests(_row_digest_inputs(batch, plan))
        anchors = keyed.get_column("anchor").to_numpy().astype(np.uint64)
        customer = (
            keyed.get_column("customer")
            if "customer" in keyed.columns
            else pl.Series("customer", [None] * batch.height, dtype=pl.UInt64)
        )
        try:
            out = apply_policy_fields(batch, plan.fields, plan.mask_ctx)
        except InputError:
            better = self._alias_input_error(prep) if self._aliased else None
            if better is None:
                raise
            raise better from None
        out = embed_marks(
            out,
            anchors,
            plan.policy.channels,
            plan.mark_key,
            code=plan.policy.code,
            bias_key=plan.bias_key,
        )
        index = (
            identity_digests(out, plan.index_key)
            .with_columns(
                pl.Series("anchor", anchors, dtype=pl.UInt64),
                customer.alias("customer"),
                pl.Series("is_canary", is_canary),
                (
                    batch.get_column("order_time").dt.date()
                    if "order_time" in batch.columns
                    and isinstance(batch.schema["order_time"], pl.Datetime)
                    else pl.Series([None] * batch.height, dtype=pl.Date)
                ).alias("order_day"),
            )
            .select(["anchor", "customer", *IDENTITY_KEYS, "is_canary", "order_day"])
        )
        return out, index.to_arrow(), tokens


def index_parquet_writer(path: Path | IO[bytes], schema: pa.Schema) -> pq.ParquetWriter:
    """The exposure-index writer. The keyed digests are random 64-bit values, so for them no
    dictionary (building and then abandoning one was 70 % of writing an index batch), no
    compression (zstd cannot shrink them: it only cost CPU) and no min/max (every row group
    spans the whole range, so a reader can never skip one); ``is_canary`` and ``order_day``
    keep all three."""
    digests = [f.name for f in schema if f.type == pa.uint64()]
    others = [f.name for f in schema if f.name not in digests]
    return pq.ParquetWriter(
        path,
        schema,
        compression={**dict.fromkeys(digests, "none"), **dict.fromkeys(others, "zstd")},
        use_dictionary=others,
        write_statistics=others,
    )


WHERE_ATTEMPTS = 8
"""Draws of a canary row before it is left out for failing a where filter on a pool column
(the phone or e-mail: every draw spends pool numbers, so they are not drawn in bulk)."""

OVERSAMPLE_BUDGET = 2000
"""Candidates drawn per missing canary, at most, for a where filter on other columns: a
filter passing one random row in 1,000 still gets its canaries; one in a million does not.
Synthesis costs about a microsecond per candidate cell, so the bound is milliseconds per
canary."""

OVERSAMPLE_ROUND = 50_000
"""Candidate rows per draw at most (about 0.15 s and some tens of MB)."""

OVERSAMPLE_GIVE_UP = 100_000
"""Candidates without a single one passing after which a batch stops drawing."""

OVERSAMPLE_BATCH_MAX = 200_000
"""Candidates per batch at most, whatever the number of missing canaries."""

_POOL_COLUMNS = ("phone", "email")
"""Canary columns whose values come from the canary pool rather than the input's rows."""

MARK_THREADS = 2
"""Batches marked at once. Two: this is what a 2-core machine gains from (measured in
bench/release_bench.py); more only raises peak memory by one batch each."""


def _marked(
    kernel: _BatchKernel, batches: Iterable[pl.DataFrame]
) -> Iterator[tuple[pl.DataFrame, pa.Table, int]]:
    """(released, index, input rows) per batch, in input order, marked on worker threads.

    At most ``MARK_THREADS + 1`` batches are in flight, so memory stays bounded however
    large the input. Canary tokens are appended to ``kernel.canary_tokens`` in input order
    as results arrive. An exception in any batch surfaces here, in order, and the caller's
    cleanup discards everything written so far.
    """
    pending: deque[tuple[Future[tuple[pl.DataFrame, pa.Table, list[dict[str, str]]]], int]]
    pending = deque()

    def collect() -> tuple[pl.DataFrame, pa.Table, int]:
        fut, height = pending.popleft()
        released, index, tokens = fut.result()
        kernel.canary_tokens += tokens
        return released, index, height

    with ThreadPoolExecutor(MARK_THREADS, thread_name_prefix="leaktrace-mark") as pool:
        try:
            for batch in batches:
                pending.append((pool.submit(kernel.mark, kernel.prepare(batch)), batch.height))
                if len(pending) > MARK_THREADS:
                    yield collect()
            while pending:
                yield collect()
        finally:
            for fut, _ in pending:
                fut.cancel()


def _frames_from(
    data: Any,
    columns: dict[str, str] | None,
    roles: list[str] | None = None,
    encoding: str | None = None,
) -> tuple[Iterator[pl.DataFrame], Future[str], TableSource | None, UnreadableTimes]:
    """(batches, input digest, the opened file or None for a frame, the count of its
    unreadable order times, complete once the batches are) for a path or an in-memory
    frame; a file is read for ``roles`` only (all roles when None) and hashed meanwhile on
    a background thread."""
    from leaktrace.io import open_table, read_frame

    if isinstance(data, (str, Path)):
        src = open_table(Path(data), columns=columns, batch_rows=BATCH_ROWS, encoding=encoding)
        try:
            src.check_headers(roles)
        except InputError:
            src.close()
            raise
        return src.iter_batches(roles), file_sha256_in_background(Path(data)), src, src.times
    if encoding is not None:
        raise InputError("an encoding applies to an input file, not to a data frame")
    times = UnreadableTimes()
    df = read_frame(
        data, columns=columns, times=times, check_headers=ROLE_NAMES if roles is None else roles
    )
    buf = io.BytesIO()
    df.write_ipc(buf)
    digest: Future[str] = Future()
    digest.set_result(hashlib.sha256(buf.getvalue()).hexdigest())
    return (
        iter([df.slice(i, BATCH_ROWS) for i in range(0, max(df.height, 1), BATCH_ROWS)]),
        digest,
        None,
        times,
    )


def release(
    data: pl.DataFrame | pd.DataFrame | str | Path,
    *,
    recipient: str,
    home: str | Path | None = None,
    workspace: Workspace | None = None,
    out: str | Path | None = None,
    format: str | None = None,
    progress: Callable[[int], None] | None = None,
    encoding: str | None = None,
) -> ReleaseResult:
    """Release ``data`` to ``recipient``: mask, mark, write, and record in the ledger.

    ``data`` is a file path (CSV/XLSX/Parquet/JSONL, encodings detected unless
    ``encoding`` names it) or a Polars or pandas frame. With ``out`` the copy is written there atomically; without it the
    released frame is returned in ``result.frame`` (pandas input gives a pandas frame via
    ``result.frame.to_pandas()``). Either way the ledger records the release.

    Releases may run concurrently against one workspace; when two draw the same canary
    number, the ledger refuses the later one and it is redone with fresh numbers (up to
    ``CANARY_RETRIES`` times), so the caller sees one release either way.
    """
    ws = workspace or open_workspace(
        Path(home) if home else Path(os.environ.get("LEAKTRACE_HOME", ".leaktrace"))
    )
    for attempt in range(CANARY_RETRIES + 1):
        try:
            return _release_once(ws, data, recipient, out, format, progress, encoding)
        except CanaryConflictError:
            if attempt == CANARY_RETRIES:
                raise
        except MissingColumnError as exc:
            if isinstance(data, (str, Path)) and not exc.message.startswith(
                (f"{data}:", f"{data} ")
            ):
                # say which file lacks the column (once: the reader may have said it)
                raise MissingColumnError(f"{data}: {exc.message}") from None
            raise
    raise AssertionError("unreachable")


CANARY_RETRIES = 3


def _release_once(
    ws: Workspace,
    data: pl.DataFrame | pd.DataFrame | str | Path,
    recipient: str,
    out: str | Path | None,
    format: str | None,
    progress: Callable[[int], None] | None,
    encoding: str | None = None,
) -> ReleaseResult:
    """One attempt of :func:`release`; leaves nothing behind when it raises."""
    from leaktrace.io.writers import HashingWriter, TableWriter, fsync_dir, start_writeback

    plan = make_plan(ws, recipient)
    policy = plan.policy
    out_path = Path(out) if out is not None else None
    # "CSV" as a format is the same as ".CSV" as a suffix: both case-insensitive
    fmt = (format or (out_path.suffix.lstrip(".") if out_path else "parquet")).lower()
    if out_path is not None:
        ws.refuse_output("--out", out_path)  # first: whatever else is wrong with it
        if out_path.is_dir():
            raise InputError(f"--out {out_path} is a directory; give a file name")
        _check_format(fmt)
        if not out_path.parent.is_dir():
            raise InputError(f"the folder of --out {out_path} does not exist")
        if (
            isinstance(data, (str, Path))
            and out_path.exists()
            and Path(data).exists()
            and out_path.samefile(data)
        ):
            raise InputError(f"--out {out_path} is the input file; write the copy elsewhere")
    if encoding is not None and isinstance(data, (str, Path)):
        _refuse_garbled(Path(data), encoding)
    ledger = Ledger(ws)
    batches, input_sha, source, times = _frames_from(
        data, policy.columns or None, plan.input_roles(), encoding
    )
    if source is not None:
        # a file none of whose columns the policy needs reads as no batches at all: say
        # which column is missing, not "no rows to release"
        source_roles = {str(r) for r in source.roles}
        _check_required(plan, [r for r in _required_roles(plan) if r not in source_roles])
        _check_where_columns(plan, source_roles, str(data))
    reserve_rng = canary_rng(plan.canary_key, plan.release_id + "/reserve")
    kernel = _BatchKernel(
        plan,
        reserve=lambda pool, k, extra: ledger.reserve_canary_contacts(
            plan.release_id, pool, k, reserve_rng, extra
        ),
    )
    index_rel = f"index/{plan.release_id}.parquet"
    index_path = ws.home / index_rel
    try:
        ws.index_dir.mkdir(mode=0o700, exist_ok=True)
        fd, tmp_index_name = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=ws.index_dir)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the exposure index in {ws.index_dir}: "
            f"{exc.strerror or type(exc).__name__}; the workspace folder must be writable"
        ) from None
    tmp_index = Path(tmp_index_name)
    # The index is hashed as it is written (no second read of ~46 MB per 1M rows at the end)
    # and fsynced before the record that names it is committed: after a power loss the
    # ledger must never point at an index that did not reach the disk.
    index_file = os.fdopen(fd, "wb")
    index_hash = hashlib.sha256()
    index_sink = cast(IO[bytes], HashingWriter(index_file, index_hash))
    index_writer: pq.ParquetWriter | None = None
    frames: list[pl.DataFrame] = []
    frame: pl.DataFrame | None = None  # the released rows, when no output file is written
    writer: TableWriter | None = None
    committed = False
    try:
        if out_path is not None:
            writer = TableWriter(out_path, _check_format(fmt))
        sent: list[str] = []
        for released, index, height in _marked(kernel, batches):
            if index_writer is None:
                index_writer = index_parquet_writer(index_sink, index.schema)
                sent = released.columns
            index_writer.write_table(index)
            if writer is not None:
                writer.write(released)
                writer.start_writeback()
            else:
                frames.append(released)
            start_writeback(index_sink)
            if progress:
                progress(height)
        if kernel.rows == 0:
            what = str(data) if isinstance(data, (str, Path)) else "the data frame"
            raise _nothing_to_release(plan, kernel.rows_in, what)
        assert index_writer is not None
        index_writer.close()
        index_writer = None
        index_file.flush()
        with ThreadPoolExecutor(1) as sync:  # the two fsyncs wait on the disk together
            index_synced = sync.submit(os.fsync, index_file.fileno())
            if writer is not None:
                output_sha = writer.finish()  # complete and fsynced, not yet visible
            else:
                frame = pl.concat(frames)
                buf = io.BytesIO()
                frame.write_ipc(buf)
                output_sha = hashlib.sha256(buf.getvalue()).hexdigest()
            index_synced.result()
        index_file.close()
        tmp_index.replace(index_path)
        fsync_dir(ws.index_dir)
        body = ledger_body(
            plan,
            input_sha256=input_sha.result(),
            output_sha256=output_sha,
            output_format=fmt if writer is not None else "frame",
            rows=kernel.rows,
            canary_tokens=kernel.canary_tokens,
            index_rel=index_rel,
            index_path=index_path,
            index_sha256=index_hash.hexdigest(),
            sent=sent,
        )
        entry = ledger.append(body, kernel.canary_tokens)
        committed = True
        if writer is not None:
            # The record names this file; if the rename fails now, the error says so and
            # the ledger holds a release that never landed (conservative: it accuses no one).
            writer.publish()
    finally:
        if index_writer is not None:
            with contextlib.suppress(Exception):  # the error being raised matters, not this
                index_writer.close()
        index_file.close()
        if not committed:
            # files first: when the ledger database itself is what failed, freeing the
            # reservations fails too, and must not leave temporary files behind
            tmp_index.unlink(missing_ok=True)
            index_path.unlink(missing_ok=True)
            if writer is not None:
                writer.abort()  # the destination, and any file already there, is untouched
            with contextlib.suppress(SQLAlchemyError):  # kept reservations are only wasted
                ledger.drop_canary_reservations(plan.release_id)
    return ReleaseResult(
        release_id=plan.release_id,
        recipient=recipient,
        rows=entry.rows,
        canaries=entry.canaries,
        channels=list(entry.channels),
        output=out_path,
        output_sha256=output_sha,
        entry=entry,
        frame=frame,
        unreadable_times=times.count,
        first_unreadable_time_row=times.first_row,
    )


_FLOAT_TEXT = re.compile(r"[0-9](?:\.[0-9]+)?[eE][+-]?[0-9]+")


def _refuse_garbled(path: Path, encoding: str) -> None:
    """Refuse a file that ``--encoding`` reads as mojibake while the detected encoding
    reads it as Chinese (:func:`leaktrace.trace.encoding_hint.encoding_hint`).

    Why: latin1 decodes any byte, so a GBK file named latin1 was released as garbled
    names, products and addresses (the address masking found no district and blanked
    them), and the useless copy was recorded in the signed ledger as sent. A trace only
    hints, since its figures stay right; a release must not go out."""
    from leaktrace.trace.encoding_hint import encoding_hint

    hint = encoding_hint(path, encoding, identified=None)
    if hint is not None:
        raise InputError(f"{hint}; nothing was released")


def _check_format(fmt: str) -> Literal["csv", "parquet", "jsonl", "xlsx"]:
    known: dict[str, Literal["csv", "parquet", "jsonl", "xlsx"]] = {
        "csv": "csv",
        "parquet": "parquet",
        "jsonl": "jsonl",
        "xlsx": "xlsx",
    }
    if fmt in known:
        return known[fmt]
    raise InputError(f"unknown output format {fmt!r}; use csv, xlsx, parquet or jsonl")


def iter_released(
    batches: Iterable[pl.DataFrame], plan: ReleasePlan
) -> Iterator[tuple[pl.DataFrame, pa.Table]]:
    """The kernel over an iterable of batches (used by the Spark path)."""
    kernel = _BatchKernel(plan)
    for b in batches:
        yield kernel(b)


make_callable(__name__, release)
