"""Release on PySpark: the single-machine release kernel under ``mapInArrow``.

Why a separate entry point: :func:`leaktrace.release.release` streams one machine's batches
through :class:`leaktrace.release._BatchKernel`; data that outgrows one machine is already
in Spark, so :func:`release_spark` runs the *same* kernel on every partition's Arrow
batches. A row's marks and alias depend only on (derived key, recipient, real order id), so
every real row comes out exactly as :func:`~leaktrace.release.release` would write it; only
the release id and the canary rows differ.

How one release runs::

    driver   open workspace → make_plan → map columns to roles on a 1,000-row sample
             → probe the kernel on the sample for the output schema
             → ship an _ExecutorSpec (derived subkeys only, never the master key)
    executor per partition p: Arrow batch → Polars → kernel → released Arrow batch;
             index rows → index/.tmp-<release>/part-<p>.parquet, counts and canary
             tokens → part-<p>.json (written to a temp name, then renamed: a retried
             task overwrites its own part, never half of one)
    Spark    writes the released batches to <out parent>/.<out name>.tmp-<release>/
    driver   rename temp dir → out, merge index parts → index/<release>.parquet,
             append the ledger record; on ANY failure remove the temp output, the
             temp index and anything already renamed: no ledger record, no file.

Keys. The driver derives the subkeys the kernel uses (anchor, index, customer, mark,
canary, mask-digest, alias) and ships only those, inside the closure Spark serialises.
The executor's :class:`~leaktrace.workspace.Workspace` carries a :class:`_SubkeysOnly`
key ring that refuses every master-key operation, so a future kernel change that tries
to derive a new key fails loudly on the executor instead of silently needing key files
there. Nothing here logs; the spec's ``repr`` hides every key.

Canaries. Every partition gets its own canary salt (``<release>/p<partition>``) and a
disjoint, strided slice of the unused canary phone pool (``pool[p::P]``), so contact
points never repeat across partitions. Only partition 0 enforces ``canary_min``; the
others add ``int(rate × rows)``. The total therefore follows the policy rate, with the
minimum once (it can exceed the single-machine count by at most ``canary_min``).

Digests recorded in the ledger (``output_format`` is ``parquet-dir`` / ``csv-dir``):

* ``output_sha256``: SHA-256 over the sorted hex SHA-256s of the output's data files
  (every file except ``_SUCCESS``, ``.crc`` and other ``_``/``.`` files), each followed
  by a newline — independent of Spark's part-file names, reproducible with ``sha256sum``.
* ``input_sha256``: the same construction over the input's source files
  (``DataFrame.inputFiles()``, hashed by Spark itself so it works on any Hadoop
  filesystem); for exactly one file it is that file's SHA-256, i.e. equal to what
  :func:`~leaktrace.release.release` records for the same file. A DataFrame with no
  source files (built in memory) is hashed as the kernel saw it: SHA-256 over the
  per-partition digests of the role-named Arrow batches — that one depends on the
  partitioning and is not reproducible elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from leaktrace import errors as _errors
from leaktrace.canary import canary_rng
from leaktrace.config import CanaryPool, WorkspaceConfig
from leaktrace.errors import ConfigError, InputError, KeyFileError
from leaktrace.fpe import FF1
from leaktrace.io.checksum import file_sha256
from leaktrace.io.columns import (
    RoleAssignment,
    RoleMap,
    infer_roles,
    refuse_header_contradictions,
)
from leaktrace.io.readers import normalise_frame
from leaktrace.io.writers import fsync_dir, fsync_tree, write_bytes_atomic
from leaktrace.keys import KeyRing, MasterKey
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.release import (
    ReleasePlan,
    ReleaseResult,
    _BatchKernel,
    check_where,
    embed_marks,
    index_parquet_writer,
    ledger_body,
    make_plan,
)
from leaktrace.roles import Role
from leaktrace.spark_splice import part_files, shares, splice_canaries
from leaktrace.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from pyspark import Broadcast
    from pyspark.sql import Column, DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql.types import DataType, StructType

__all__ = [
    "SparkFormat",
    "directory_sha256",
    "executor_spec",
    "no_pandas_version_warning",
    "release_spark",
]

SparkFormat = Literal["parquet", "csv"]
SAMPLE_ROWS = 1000
_CSV_DATETIME = "yyyy-MM-dd HH:mm:ss"  # the form TableWriter writes (and Chinese tools show)
_CSV_DATETIME_PY = "%Y-%m-%d %H:%M:%S"  # the same, for reading it back
_NEED_SPARK = "the Spark path needs: pip install 'leaktrace[spark]'"


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(_NEED_SPARK) from None


# --------------------------------------------------------------------------- executor side


class _SubkeysOnly(KeyRing):
    """The executor's key ring: no master key, no signing key — only the plan's subkeys.

    The plan shipped to executors already holds every derived subkey the kernel needs;
    this ring exists so that anything asking for more fails with a clear error.
    """

    def __init__(self, version: int) -> None:  # no super().__init__: reads no key files
        self.key_dir = Path("<driver only>")
        self._masters: dict[int, MasterKey] = {}
        self.current_version = version

    def __repr__(self) -> str:
        return f"_SubkeysOnly(version={self.current_version})"

    def __reduce__(self) -> tuple[object, ...]:
        # holds no master key, so (unlike KeyRing) it may travel to executors
        return (_SubkeysOnly, (self.current_version,))

    def master(self, version: int | None = None) -> MasterKey:
        raise KeyFileError(
            "Spark executors hold derived subkeys only; the master key never leaves the driver"
        )

    def signing_key(self) -> Ed25519PrivateKey:
        raise KeyFileError("Spark executors cannot sign ledger records")

    def rotate(self) -> int:
        raise KeyFileError("Spark executors cannot rotate keys")


class _Shared(Protocol):
    """A value shipped to executors once, out of the task (a ``pyspark.Broadcast``)."""

    @property
    def value(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class _ExecutorSpec:
    """What each Spark task needs, picklable and free of master-key material.

    ``plan`` is the driver's :class:`ReleasePlan` with its workspace replaced by a
    key-less stand-in and the two fields that are rebuilt per task (``where`` as SQL,
    ``alias_cipher`` from ``mask_ctx.alias_key``) cleared.
    """

    plan: ReleasePlan = field(repr=False)
    where_sql: str | None
    uses_alias: bool
    roles: tuple[str, ...]
    canary_phones: tuple[str, ...] | _Shared = field(repr=False)
    """The unused pool numbers, or (as :func:`release_spark` ships them) a Spark broadcast
    of them: inline, a large pool pushed the pickled task over PySpark's 1 MiB limit, past
    which PySpark writes the task — derived subkeys included — to a temporary file."""
    canary_emails: tuple[str, ...] = field(repr=False)
    partitions: int
    parts_dir: str
    out_schema: pa.Schema = field(repr=False)
    hash_input: bool

    def plan_for(self, partition: int) -> ReleasePlan:
        """This partition's plan: own canary salt, own pool slice, min only on partition 0."""
        if not 0 <= partition < self.partitions:
            raise InputError(
                f"Spark partition {partition} outside the planned 0..{self.partitions - 1}"
            )
        base = self.plan
        phones = self.canary_phones
        pool: tuple[str, ...] = phones if isinstance(phones, tuple) else phones.value
        cfg = WorkspaceConfig(
            canary_pool=CanaryPool.model_construct(
                phones=list(pool[partition :: self.partitions]),
                emails=list(self.canary_emails),
            )
        )
        policy = base.policy if partition == 0 else base.policy.model_copy(update={"canary_min": 0})
        alias_key = base.mask_ctx.alias_key
        return dataclasses.replace(
            base,
            ws=dataclasses.replace(base.ws, config=cfg),
            policy=policy,
            release_id=f"{base.release_id}/p{partition}",
            where=check_where(self.where_sql) if self.where_sql else None,
            alias_cipher=FF1(alias_key) if self.uses_alias and alias_key is not None else None,
        )


def _identity_roles(roles: Sequence[str]) -> RoleMap:
    return RoleMap(
        assignments={Role(r): RoleAssignment(Role(r), r, "override") for r in roles},
        columns=list(roles),
    )


def _release_partition(
    spec: _ExecutorSpec, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` function: run the kernel on one partition's Arrow batches.

    Index rows and the partition's counts/canary tokens go to side files in the
    workspace (written under temporary names and renamed at the end, so a retried task
    replaces its part whole and a failed one leaves none).
    """
    from pyspark import TaskContext

    ctx = TaskContext.get()
    p = ctx.partitionId() if ctx is not None else 0
    plan = spec.plan_for(p)
    kernel = _BatchKernel(plan)
    kernel.rows_context = f"Spark partition {p}, "
    roles = _identity_roles(spec.roles)
    parts = Path(spec.parts_dir)
    index_part = parts / f"part-{p:05d}.parquet"
    fd, tmp_name = tempfile.mkstemp(prefix=f".part-{p:05d}.", suffix=".tmp", dir=parts)
    os.close(fd)
    tmp_index = Path(tmp_name)
    writer: pq.ParquetWriter | None = None
    h_in = hashlib.sha256()
    donors = _DonorSample(canary_rng(plan.canary_key, f"{plan.release_id}/spare-donors"))
    try:
        for rb in batches:
            if spec.hash_input:
                h_in.update(rb.serialize())
            frame = pl.from_arrow(rb)
            assert isinstance(frame, pl.DataFrame)
            frame = normalise_frame(frame, roles)
            seen = kernel.rows
            released, index = kernel(frame)
            if kernel.rows > seen:  # some rows passed the filter (the kernel checked it)
                donors.add(frame if plan.where is None else frame.filter(plan.where))
            if writer is None:
                writer = index_parquet_writer(tmp_index, index.schema)
            writer.write_table(index)
            out = released.to_arrow().select(spec.out_schema.names).cast(spec.out_schema)
            yield from out.to_batches()
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp_index, index_part)
        spare_tokens = _spare_canaries(spec, plan, kernel, donors.rows, parts, p)
        summary = {
            "partition": p,
            "rows": kernel.rows,
            # the canaries kept: a where filter naming the phone drops those no redraw passes
            "canaries": len(kernel.canary_tokens),
            "canary_tokens": kernel.canary_tokens,
            "spare_tokens": spare_tokens,
            "index": index_part.name if kernel.batch_no else None,
            "input_sha256": h_in.hexdigest() if spec.hash_input else None,
        }
        write_bytes_atomic(
            parts / f"part-{p:05d}.json", json.dumps(summary, ensure_ascii=False).encode()
        )
    finally:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        tmp_index.unlink(missing_ok=True)


def _spare_canaries(
    spec: _ExecutorSpec,
    plan: ReleasePlan,
    kernel: _BatchKernel,
    donors: pl.DataFrame | None,
    parts: Path,
    p: int,
) -> list[dict[str, str]]:
    """Canary rows this partition sets aside for the driver's top-up (released form, with
    their index rows, in ``spare-NNNNN.parquet`` / ``spare-index-NNNNN.parquet``); returns
    their tokens.

    Why here: the driver owes canaries no partition added (only partition 0 enforces
    ``canary_min``; each partition rounds its share of the rate down) and splices them into
    the partitions' files. Drawn from a uniform sample of the partition's own rows that
    pass the filter (:class:`_DonorSample`), a spare looks like its file's rows in data
    partitioned by date or province; drawn on the driver from other rows, it was the one
    row of its file from another week or province (session 23's review). ``canary_min + 2`` per partition cover what the driver
    can owe one. Spares hold no real row (canaries are synthetic), and the ones the driver
    does not take were never sent: their numbers stay free. A pool slice too short for
    them, or a filter spares cannot pass, leaves fewer or none.
    """
    # as many as the partition's pool slice still holds, up to canary_min + 2: a kernel
    # asking for more than the slice has draws none
    pool = plan.ws.config.canary_pool.phone_numbers()
    want = min(
        spec.plan.policy.canary_min + _SPARES_OVER_MIN, len(pool) - len(kernel.used_contacts)
    )
    if donors is None or want <= 0:
        return []
    spare_plan = dataclasses.replace(
        plan,
        release_id=f"{plan.release_id}/spare",
        policy=plan.policy.model_copy(update={"canary_rate": 0.0, "canary_min": want}),
    )
    spare = _BatchKernel(spare_plan, used_canary_contacts=kernel.used_contacts)
    try:
        released, index = spare(donors)
    except ConfigError:  # the pool slice is short: no spares, the release goes on
        return []
    is_canary = index.column("is_canary").to_numpy(zero_copy_only=False)
    if not is_canary.any():
        return []
    rows = released.filter(pl.Series(is_canary)).to_arrow()
    _write_parquet_atomic(
        rows.select(spec.out_schema.names).cast(spec.out_schema), parts / f"spare-{p:05d}.parquet"
    )
    _write_parquet_atomic(index.filter(pa.array(is_canary)), parts / f"spare-index-{p:05d}.parquet")
    return spare.canary_tokens


class _DonorSample:
    """A uniform sample of up to ``_TOP_UP_DONORS`` of a partition's rows that pass the
    filter, kept as its batches go by (each row a keyed random key, the smallest kept).

    Why not the first rows: with Spark's 10,000-row Arrow batches and a selective filter,
    the first batch's passing rows can be a handful from one corner of the partition (a
    few provinces of a table clustered by address), and the spares drawn from them were
    spliced all over its files (session 23's second review)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._keys = np.zeros(0)
        self.rows: pl.DataFrame | None = None

    def add(self, rows: pl.DataFrame) -> None:
        if not rows.height:
            return
        keys = np.concatenate([self._keys, self._rng.random(rows.height)])
        both = rows if self.rows is None else pl.concat([self.rows, rows], how="vertical_relaxed")
        if both.height > _TOP_UP_DONORS:
            keep = np.sort(np.argpartition(keys, _TOP_UP_DONORS)[:_TOP_UP_DONORS])
            both, keys = both[keep.tolist()], keys[keep]
        self.rows, self._keys = both, keys


def _write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """A side file under a temporary name, renamed at the end (a retried task replaces it
    whole)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# --------------------------------------------------------------------------- driver side


def _quote(col: str) -> str:
    return "`" + col.replace("`", "``") + "`"


def _spark_text(col: Column, dtype: DataType) -> Column:
    """A column as the text a file of it would hold.

    Spark writes a double as ``1.3800138E10``: a phone or an order number stored as a
    float (pandas keeps an integer column with a missing value as float64, and Parquet
    files written from it keep the type) would be masked, digested and marked as that
    text. A whole float below 10^16 is written as its digits, as the file path does.
    NaN (a float column's missing value) and ±inf become null, as on the file path
    (:func:`leaktrace.io.readers._text_expr`): Spark writes them ``NaN`` and
    ``Infinity``, which were released as phones and keyed exposure rows.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    if isinstance(dtype, DoubleType | FloatType):
        # Spark SQL takes NaN = NaN as true and NaN as above every number, and under ANSI
        # mode (Spark 4's default) floor(±inf) fails the job with ARITHMETIC_OVERFLOW: the
        # test of a missing value comes first, and CASE WHEN stops at it
        missing = F.isnan(col) | (F.abs(col) == F.lit(float("inf")))
        whole = (col == F.floor(col)) & (F.abs(col) < F.lit(1e16))
        return (
            F.when(missing, F.lit(None).cast("string"))
            .when(whole, col.cast("long").cast("string"))
            .otherwise(col.cast("string"))
        )
    return col.cast("string")


def _role_columns(sdf: DataFrame, overrides: dict[str, str] | None) -> DataFrame:
    """``sdf`` reduced to its role columns, renamed to role names (Role order).

    Roles come from :func:`leaktrace.io.infer_roles` on a 1,000-row sample (headers
    first, then content), exactly as a file given to ``release()`` is read; columns that
    already carry role names map to themselves. Non-temporal columns become strings
    (marks live in the text as written); a zoned ``timestamp`` becomes
    ``timestamp_ntz`` in the session time zone, so the wall-clock seconds the timestamp
    channel marks are the ones the recipient will see.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    temporal = (DateType, TimestampType, TimestampNTZType)
    as_text = sdf.select(
        [
            F.col(_quote(f.name))
            if isinstance(f.dataType, temporal)
            else _spark_text(F.col(_quote(f.name)), f.dataType).alias(f.name)
            for f in sdf.schema.fields
        ]
    )
    sample = pl.from_arrow(as_text.limit(SAMPLE_ROWS).toArrow())
    assert isinstance(sample, pl.DataFrame)
    roles = infer_roles(sample, overrides, source="Spark DataFrame")
    if len(roles) == 0:
        raise InputError("Spark DataFrame: no usable columns (no column matched any role)")
    refuse_header_contradictions(sample, roles, None, "Spark DataFrame")  # names as phones …
    exprs = []
    for role in roles:
        src = roles.assignments[role].column
        col = F.col(_quote(src))
        if isinstance(sdf.schema[src].dataType, TimestampType):
            col = col.cast(TimestampNTZType())
        elif not isinstance(sdf.schema[src].dataType, temporal):
            col = _spark_text(col, sdf.schema[src].dataType)
        exprs.append(col.alias(role.value))
    return sdf.select(exprs)


def _probe_schema(plan: ReleasePlan, sample: pl.DataFrame) -> pa.Schema:
    """The released Arrow schema: the kernel run on the sample with canaries off."""
    quiet = dataclasses.replace(
        plan, policy=plan.policy.model_copy(update={"canary_rate": 0.0, "canary_min": 0})
    )
    released, _ = _BatchKernel(quiet)(sample)
    fields = []
    for f in released.to_arrow().schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us")
        fields.append(pa.field(f.name, t, nullable=True))
    return pa.schema(fields)


def _digest_of_digests(hexes: Sequence[str]) -> str:
    """One file: its digest. Several: SHA-256 over sorted hex digests, one per line."""
    if len(hexes) == 1:
        return hexes[0]
    return hashlib.sha256("".join(f"{h}\n" for h in sorted(hexes)).encode()).hexdigest()


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(("_", ".")) and not p.name.endswith(".crc")
    )


def directory_sha256(folder: str | Path) -> str:
    """``output_sha256`` of a Spark output folder (see the module docstring)."""
    folder = Path(folder)
    files = _data_files(folder)
    if not files:
        raise InputError(f"{folder}: no data files")
    return hashlib.sha256(
        "".join(f"{h}\n" for h in sorted(file_sha256(f) for f in files)).encode()
    ).hexdigest()


def _input_files_sha256(spark: SparkSession, files: list[str]) -> str:
    """Hash the source files on the executors (works on any Hadoop filesystem)."""
    from pyspark.sql import functions as F

    rows = (
        spark.read.format("binaryFile")
        .load(files)
        .select(F.sha2(F.col("content"), 256).alias("h"))
        .collect()
    )
    return _digest_of_digests([str(r["h"]) for r in rows])


_ERROR_RE = re.compile(r"leaktrace\.errors\.(\w+): ([^\n]*)")


def _reraise_user_error(exc: BaseException) -> None:
    """A LeaktraceError raised in a task reaches the driver as text: raise it again.

    Its message is safe to show (error messages never carry cell values or keys);
    any other task failure is a bug or an infrastructure fault and propagates as is.
    """
    m = _ERROR_RE.search(str(exc))
    if m:
        cls = getattr(_errors, m.group(1), None)
        if isinstance(cls, type) and issubclass(cls, _errors.LeaktraceError):
            raise cls(f"in a Spark task: {m.group(2).strip()}") from None


def _check_out(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise InputError(f"{out}: already exists; Spark output goes to a new folder")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent}: folder does not exist")


def executor_spec(
    ws: Workspace,
    plan: ReleasePlan,
    *,
    roles: Sequence[str],
    partitions: int,
    parts_dir: Path,
    out_schema: pa.Schema,
    hash_input: bool,
    used_contacts: set[str],
) -> _ExecutorSpec:
    """What the driver ships to every task: the plan minus the master key.

    The plan's workspace is replaced by one whose key ring holds nothing (the plan's
    derived subkeys are all the kernel reads); the canary pool is cut to the numbers no
    earlier release used, shuffled by the release's canary key, and sliced per partition
    later (too few left is an error: a reused number would make a call to it name the
    wrong release).

    Why shuffled: the hit and trace tests take a recipient's numbers to be a uniform draw
    from the free ones. Slicing the pool as listed (``fresh[p::P]``) gave partition p only
    numbers congruent to p modulo P, so a recipient whose rows sat in one partition (data
    partitioned by courier) had canaries all ending in one digit; a dialler sweeping that
    digit of the pool hit all of them and a tenth of the rest, and accused it at 10^-30
    (session 25's review). Slices of a keyed random permutation are a random split of the
    free numbers, and uniform draws within them are a uniform draw from the whole.
    """
    pool = ws.config.canary_pool.phone_numbers()
    listed = [p for p in pool if p not in used_contacts]
    order = canary_rng(plan.canary_key, f"{plan.release_id}/pool-split").permutation(len(listed))
    fresh = [listed[i] for i in order.tolist()]
    return _ExecutorSpec(
        plan=dataclasses.replace(
            plan,
            ws=Workspace(
                home=ws.home, config=WorkspaceConfig(), keys=_SubkeysOnly(plan.key_version)
            ),
            where=None,
            alias_cipher=None,
        ),
        where_sql=ws.config.recipient(plan.recipient).where,
        uses_alias=plan.alias_cipher is not None,
        roles=tuple(roles),
        canary_phones=tuple(fresh),
        canary_emails=tuple(ws.config.canary_pool.emails),
        partitions=partitions,
        parts_dir=str(parts_dir),
        out_schema=out_schema,
        hash_input=hash_input,
    )


_LEDGER_FILLS = {"seq", "prev_hash", "created", "record_hash", "signature"}


def _check_body(body: dict[str, object]) -> None:
    """Refuse to append a body that is out of step with the ledger's record fields.

    The body below duplicates ``release()``'s; if the ledger grows a field and only
    ``release()`` learns it, this fails before anything is recorded (a hash computed
    over a different field set would not verify later).
    """
    expected = set(ReleaseEntry.__dataclass_fields__) - _LEDGER_FILLS
    if set(body) != expected:
        raise RuntimeError(
            "leaktrace.spark ledger body is out of step with the ledger record "
            f"(missing {sorted(expected - set(body))}, extra {sorted(set(body) - expected)})"
        )


@contextlib.contextmanager
def no_pandas_version_warning() -> Iterator[None]:
    """PySpark warns about the pandas version on Arrow paths; this module uses no pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        yield


def release_spark(
    sdf: DataFrame,
    *,
    recipient: str,
    home: Path | str | None = None,
    workspace: Workspace | None = None,
    out: Path | str,
    format: SparkFormat = "parquet",
) -> ReleaseResult:
    """Release a Spark DataFrame to ``recipient``: the release kernel on every partition.

    ``sdf``'s columns may carry any headers: roles are inferred as for a file (policy
    ``columns`` overrides apply), so role-named columns simply map to themselves. ``out``
    is a NEW folder of Parquet or CSV-with-header part files, on a filesystem the driver
    can rename in and the executors can write to; the workspace ``home`` must be
    writable by the executors too (index parts), but its key files are read by the
    driver only. Nothing is recorded unless the whole job succeeded. See docs/spark.md.
    """
    _require_pyspark()
    if format not in ("parquet", "csv"):
        raise InputError(f"unknown Spark output format {format!r}; use parquet or csv")
    ws = workspace or open_workspace(
        Path(home) if home else Path(os.environ.get("LEAKTRACE_HOME", ".leaktrace"))
    )
    out_path = Path(out).absolute()
    _check_out(out_path)
    ws.refuse_output("--out", out_path)
    plan = make_plan(ws, recipient)
    ledger = Ledger(ws)
    with no_pandas_version_warning():
        return _run(sdf, ws, plan, ledger, out_path, format)


def _run(
    sdf: DataFrame,
    ws: Workspace,
    plan: ReleasePlan,
    ledger: Ledger,
    out_path: Path,
    format: SparkFormat,
) -> ReleaseResult:
    from pyspark.sql.pandas.types import from_arrow_schema

    policy = plan.policy
    roles_df = _role_columns(sdf, policy.columns or None)
    role_names = tuple(roles_df.columns)
    sample = pl.from_arrow(roles_df.limit(SAMPLE_ROWS).toArrow())
    assert isinstance(sample, pl.DataFrame)
    sample = normalise_frame(sample, _identity_roles(role_names))
    out_schema = _probe_schema(plan, sample)
    spark_schema = from_arrow_schema(out_schema, prefer_timestamp_ntz=True)
    input_files = list(sdf.inputFiles())
    partitions = max(roles_df.rdd.getNumPartitions(), 1)

    ws.index_dir.mkdir(mode=0o700, exist_ok=True)
    parts_dir = ws.index_dir / f".tmp-{plan.release_id}"
    tmp_out = out_path.parent / f".{out_path.name}.tmp-{plan.release_id}"
    index_rel = f"index/{plan.release_id}.parquet"
    index_path = ws.home / index_rel
    tmp_index = ws.index_dir / f".tmp-{plan.release_id}.parquet"
    committed = False
    pool: Broadcast[tuple[str, ...]] | None = None
    try:
        parts_dir.mkdir()
        spec = executor_spec(
            ws,
            plan,
            roles=role_names,
            partitions=partitions,
            parts_dir=parts_dir,
            out_schema=out_schema,
            hash_input=not input_files,
            used_contacts=ledger.taken_canary_contacts(),
        )
        assert isinstance(spec.canary_phones, tuple)
        pool = roles_df.sparkSession.sparkContext.broadcast(spec.canary_phones)
        spec = dataclasses.replace(spec, canary_phones=pool)
        released = roles_df.mapInArrow(partial(_release_partition, spec), spark_schema)
        writer = released.write.mode("error")
        try:
            if format == "csv":
                _csv_options(writer.option("header", True)).csv(str(tmp_out))
            else:
                writer.option("compression", "zstd").parquet(str(tmp_out))
        except Exception as exc:
            _reraise_user_error(exc)
            raise
        summaries = [json.loads(p.read_text()) for p in sorted(parts_dir.glob("part-*.json"))]
        rows = sum(int(s["rows"]) for s in summaries)
        canaries = sum(int(s["canaries"]) for s in summaries)
        if rows == 0:
            raise InputError(
                "no rows to release: the input is empty or the recipient's where-filter matched nothing"
            )
        tokens: list[dict[str, str]] = [t for s in summaries for t in s["canary_tokens"]]
        if canaries != len(tokens):
            raise RuntimeError("Spark partitions reported canaries without canary tokens")
        index_parts = [s["index"] for s in summaries if s["index"]]
        # what one machine would add: rate x real rows (``rows`` counts real rows only;
        # rounded once, not per partition) and at least canary_min
        owed = max(policy.canary_min, int(policy.canary_rate * rows)) - canaries
        if owed > 0:
            extra = _top_up_canaries(
                plan, roles_df.sparkSession, summaries, owed, (out_schema, spark_schema),
                tmp_out, parts_dir, format,
            )  # fmt: skip
            if extra:
                tokens += extra
                canaries += len(extra)
                index_parts.append(_TOP_UP_INDEX)
        _merge_index(parts_dir, index_parts, tmp_index)
        input_sha = (
            _input_files_sha256(sdf.sparkSession, input_files)
            if input_files
            else _digest_of_digests([str(s["input_sha256"]) for s in summaries])
        )
        fsync_tree(tmp_out)
        fsync_tree(tmp_index)
        # the digest is of the files' contents, so it is the same before the rename; the
        # copy becomes visible only after its record is committed (below), as on one
        # machine: a folder published first could be picked up with canary numbers that a
        # concurrent release then recorded as its own
        output_sha = directory_sha256(tmp_out)
        tmp_index.replace(index_path)
        fsync_dir(index_path.parent)
        body = ledger_body(
            plan,
            input_sha256=input_sha,
            output_sha256=output_sha,
            output_format=f"{format}-dir",
            rows=rows,
            canary_tokens=tokens,
            index_rel=index_rel,
            index_path=index_path,
            sent=out_schema.names,
        )
        _check_body(body)
        entry = ledger.append(body, tokens)
        committed = True
        # The record names this folder; if the rename fails now, the error says so and the
        # ledger holds a release that never landed (conservative: it accuses no one).
        os.replace(tmp_out, out_path)
        fsync_dir(out_path.parent)
    finally:
        if pool is not None:
            with contextlib.suppress(Exception):  # the error being raised matters, not this
                pool.destroy()
        shutil.rmtree(parts_dir, ignore_errors=True)
        shutil.rmtree(tmp_out, ignore_errors=True)
        tmp_index.unlink(missing_ok=True)
        if not committed:
            index_path.unlink(missing_ok=True)
    return ReleaseResult(
        release_id=plan.release_id,
        recipient=plan.recipient,
        rows=entry.rows,
        canaries=entry.canaries,
        channels=list(entry.channels),
        output=out_path,
        output_sha256=output_sha,
        entry=entry,
    )


_TOP_UP_INDEX = "part-top-up.parquet"
_TOP_UP_DONORS = 20 * SAMPLE_ROWS
_SPARES_OVER_MIN = 2  # spares per partition beyond canary_min (see _spare_canaries)


def _top_up_canaries(
    plan: ReleasePlan,
    spark: SparkSession,
    summaries: list[dict[str, Any]],
    missing: int,
    schemas: tuple[pa.Schema, StructType],
    out_dir: Path,
    parts_dir: Path,
    format: SparkFormat,
) -> list[dict[str, str]]:
    """Canary rows a release still owes its policy (``canary_min``, and the rate over all
    its rows), taken from the partitions' spares (:func:`_spare_canaries`) and spliced into
    their own partition's files (:mod:`leaktrace.spark_splice`); their index rows become
    one more index part. Returns their tokens.

    Why: only partition 0 enforces the minimum (partitions cannot count each other's), each
    partition rounds its own share of the rate down, and when the ``where`` filter leaves
    partition 0 empty — data partitioned by courier, say — a release had fewer canaries
    than its policy promises. The owed canaries are shared among the partitions by their
    released rows, no partition past its spares. With no spares (a short pool, a filter
    spares cannot pass) the release keeps the canaries it has, as its count says.
    """
    out_schema, spark_schema = schemas
    files = part_files(out_dir, format)
    rows = {f.partition: 0 for f in files}
    for f in files:
        rows[f.partition] += f.rows
    spares = {int(s["partition"]): s.get("spare_tokens") or [] for s in summaries}
    partitions = [q for q in sorted(rows) if rows[q] and spares.get(q)]
    if not partitions:
        return []
    rng = canary_rng(plan.canary_key, f"{plan.release_id}/top-up")
    drawn = shares(
        rng,
        np.array([rows[q] for q in partitions], dtype=np.int64),
        missing,
        np.array([len(spares[q]) for q in partitions], dtype=np.int64),
        overflow=False,
    )
    minutes_only = "timestamp" in plan.policy.channels
    tokens: list[dict[str, str]] = []
    index_parts: list[pa.Table] = []
    scratch = out_dir.with_name(f"{out_dir.name}.splice")
    try:
        scratch.mkdir(mode=0o700)
        for q, m in zip(partitions, drawn.tolist(), strict=True):
            if not m:
                continue
            spare_rows = pl.from_arrow(pq.read_table(parts_dir / f"spare-{q:05d}.parquet"))
            assert isinstance(spare_rows, pl.DataFrame)
            index = pq.read_table(parts_dir / f"spare-index-{q:05d}.parquet").slice(0, m)
            anchors = index.column("anchor").to_numpy().astype(np.uint64)
            (scratch / f"s{q}").mkdir(mode=0o700)
            placed = splice_canaries(
                spark,
                [f for f in files if f.partition == q],
                spare_rows.head(m),
                format=format,
                spark_schema=spark_schema,
                out_schema=out_schema,
                csv_options=_csv_options,
                remark=partial(_mark_times, plan, anchors),
                minutes_only=minutes_only,
                rng=rng,
                scratch=scratch / f"s{q}",
                time_format=_CSV_DATETIME_PY,
            )
            if "order_time" in placed.columns and isinstance(
                placed.schema["order_time"], pl.Datetime
            ):
                # a canary's day as it went out: its time was fitted among its file's rows
                day = placed.get_column("order_time").dt.date().to_arrow()
                index = index.set_column(
                    index.schema.get_field_index("order_day"), "order_day", day
                )
            index_parts.append(index)
            taken = {f"{a:016x}" for a in anchors.tolist()}
            tokens += [t for t in spares[q] if t["anchor"] in taken]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if len(tokens) != sum(t.num_rows for t in index_parts):
        raise RuntimeError("Spark spares: tokens and index rows do not match")
    if index_parts:
        pq.write_table(pa.concat_tables(index_parts), parts_dir / _TOP_UP_INDEX)
    return tokens


def _mark_times(
    plan: ReleasePlan,
    anchors: npt.NDArray[np.uint64],
    rows: pl.DataFrame,
    which: npt.NDArray[np.int64],
) -> pl.DataFrame:
    """``rows`` (canaries ``which`` of a top-up, their times just fitted) with the
    timestamp channel's keyed second embedded again, as the kernel embedded it."""
    channels = [c for c in plan.policy.channels if c == "timestamp"]
    return embed_marks(
        rows,
        anchors[which],
        channels,
        plan.mark_key,
        code=plan.policy.code,
        bias_key=plan.bias_key,
    )


def _csv_options(writer: DataFrameWriter) -> DataFrameWriter:
    """The release's CSV options but the header: RFC 4180 quoting ("" inside quotes) and
    values kept as they are, as the single-machine release writes them. Spark's defaults
    (\\" escapes, trimmed spaces) made part files that leaktrace's own reader could not
    trace."""
    return (
        writer.option("timestampNTZFormat", _CSV_DATETIME)
        .option("escape", '"')
        .option("ignoreLeadingWhiteSpace", False)
        .option("ignoreTrailingWhiteSpace", False)
    )


def _merge_index(parts_dir: Path, names: list[str], dest: Path) -> None:
    """Concatenate the partitions' index parts (partition order) into one Parquet file."""
    writer: pq.ParquetWriter | None = None
    try:
        for name in sorted(names):
            table = pq.read_table(parts_dir / name)
            if writer is None:
                writer = pq.ParquetWriter(dest, table.schema, compression="zstd")
            writer.write_table(table.cast(writer.schema))
        if writer is None:
            raise InputError("no index rows were produced")
    finally:
        if writer is not None:
            writer.close()
