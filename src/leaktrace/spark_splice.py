"""Canary rows spliced into the part files a Spark job wrote.

Why a module of its own: the driver of a Spark release owes some canaries that no partition
added (only partition 0 enforces ``canary_min``; each partition rounds its share of the rate
down). They used to go out as one more file, ``part-top-up-c000.*``: every row of it a
canary, its name not Spark's, its Parquet written by pyarrow — a partner who deleted that
one file dropped them all. Here they go into the part files of the partition their donors
came from (the caller draws them from that partition's own rows, so dates, places and
products look like its rows), and a file keeps what a reader of the folder sees:

- within a partition, a file takes a share by its rows, never past Spark's
  ``maxRecordsPerFile`` when another file of the partition has room;
- within a file, a canary takes a slot a real order would take, with a time that fits there
  (:func:`leaktrace.canary.place_canaries`): on the file's minutes when the timestamp
  channel is on (its seconds are marks, in no order within a minute; the caller's
  ``remark`` embeds the canary's own mark second again), on its full times otherwise;
- a file keeps its name and its writer: a Parquet part is written again by Spark (same
  ``created_by``, metadata and row groups), and a CSV part gets its canary lines as Spark's
  CSV writer renders them with the release's options, inserted between whole records;
- the Hadoop checksum file beside it (``.part-….crc``), when there is one, is written again
  with the chunk size its header gives, so Spark still reads the folder; file and checksum
  keep their access and modification times.

What a rewrite cannot hide: a new inode and change time (``ls -c``) on the storage itself.

A caller must pass a ``scratch`` folder on the same filesystem as the parts (files are
renamed from it), made 0700, and remove it afterwards.
"""

from __future__ import annotations

import itertools
import os
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from leaktrace.canary import place_canaries, slotted_order

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrameWriter, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["PartFile", "hadoop_crc", "part_files", "record_starts", "shares", "splice_canaries"]

IntArray = npt.NDArray[np.int64]

#: Bytes per checksum in a Hadoop ``.crc`` file when none says otherwise.
_CRC_CHUNK = 512
#: Bytes of a CSV part read at a time to count its records.
_COUNT_CHUNK = 64 << 20
_PART_NAME = re.compile(r"^part-(\d+)-")


@dataclass(frozen=True, slots=True)
class PartFile:
    """One data file of a Spark output: its path, the task partition that wrote it (the
    number in ``part-00003-…``) and its rows."""

    path: Path
    partition: int
    rows: int


def part_files(folder: Path, format: Literal["parquet", "csv"]) -> list[PartFile]:
    """The data files Spark wrote into ``folder``, with their partition and rows."""
    suffix = ".parquet" if format == "parquet" else ".csv"
    out = []
    for p in sorted(folder.iterdir()):
        m = _PART_NAME.match(p.name)
        if m and p.name.endswith(suffix):
            out.append(PartFile(p, int(m.group(1)), _rows_in(p, format)))
    return out


def hadoop_crc(data: bytes, chunk: int = _CRC_CHUNK) -> bytes:
    """The contents of the ``.crc`` file Hadoop's local filesystem keeps beside ``data``:
    ``crc\\0``, the chunk size, then the CRC-32 of every chunk (big-endian).

    Why: Spark checks a part file against it when it reads the folder again; a part
    rewritten without it fails there ("Checksum error").
    """
    sums = b"".join(
        struct.pack(">I", zlib.crc32(data[i : i + chunk])) for i in range(0, len(data), chunk)
    )
    return b"crc\x00" + struct.pack(">i", chunk) + sums


def record_starts(data: bytes) -> IntArray:
    """Byte offsets where each CSV record of ``data`` starts (RFC 4180: a newline inside
    quotes belongs to its field; ``""`` inside quotes leaves the quoting as it was).

    Vectorised: the parity of the quotes seen so far says whether a newline ends a record.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    if not b.size:
        return np.zeros(0, dtype=np.int64)
    ends, _ = _record_ends(b, 0)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends + 1])
    return starts[starts < b.size]


def _record_ends(b: npt.NDArray[np.uint8], inside: int) -> tuple[IntArray, int]:
    """The newlines of ``b`` outside quotes, ``inside`` saying whether ``b`` starts inside
    quotes (a chunk of a file); and whether it ends inside them."""
    parity = np.bitwise_xor.accumulate((b == ord('"')).view(np.uint8)) ^ inside
    ends = np.flatnonzero((b == ord("\n")) & (parity == 0)).astype(np.int64)
    return ends, int(parity[-1])


def splice_canaries(
    spark: SparkSession,
    files: list[PartFile],
    canaries: pl.DataFrame,
    *,
    format: Literal["parquet", "csv"],
    spark_schema: StructType,
    out_schema: pa.Schema,
    csv_options: Callable[[DataFrameWriter], DataFrameWriter],
    remark: Callable[[pl.DataFrame, IntArray], pl.DataFrame],
    minutes_only: bool,
    rng: np.random.Generator,
    scratch: Path,
    time_format: str,
) -> pl.DataFrame:
    """Splice the released ``canaries`` (the output's columns) into ``files`` (one
    partition's, at least one with rows); return them as placed, in the order given.

    ``remark(rows, i)`` gives rows ``i`` of ``canaries`` with their fitted times marked
    again (the timestamp channel's keyed second; rows returned as they are without it);
    ``minutes_only`` says the files' seconds are such marks, so times are fitted on their
    minutes. ``csv_options`` applies the release's CSV writer options (header aside), so
    that a canary line is rendered exactly as Spark renders a real one; ``time_format`` is
    the Python form of the CSV's datetime format, to read the files' times back.
    """
    k = canaries.height
    if not k:
        return canaries
    # a file of one record past Spark's maxRecordsPerFile is one Spark never writes: only
    # files with room, unless the partition has none left
    sizes = np.array([f.rows for f in files], dtype=np.int64)
    cap = _records_cap(spark)
    room = np.maximum(cap - sizes, 0) if cap else np.full(sizes.size, k, dtype=np.int64)
    share = shares(rng, sizes, k, room, overflow=True)
    order = rng.permutation(k)
    taken = 0
    plans: list[tuple[PartFile, IntArray, pl.DataFrame]] = []
    for part, m in zip(files, share.tolist(), strict=True):
        if not m:
            continue
        which = order[taken : taken + m]
        taken += m
        slots, fitted = _slots(
            rng, part, canaries[which.tolist()], format, minutes_only, time_format
        )
        plans.append((part, slots, remark(fitted, which)))
    placed = pl.concat([rows for _, _, rows in plans])
    if format == "csv":
        lines = _rendered_lines(spark, placed, spark_schema, csv_options, scratch)
        at = 0
        for part, slots, rows in plans:
            _splice_csv(part.path, slots, lines[at : at + rows.height], scratch)
            at += rows.height
    else:
        for i, (part, slots, rows) in enumerate(plans):
            _splice_parquet(spark, part, slots, rows, spark_schema, out_schema, scratch / f"p{i}")
    back = np.empty(k, dtype=np.int64)
    back[order] = np.arange(k)
    return placed[back.tolist()]


def _records_cap(spark: SparkSession) -> int:
    """Spark's ``maxRecordsPerFile`` (0: none)."""
    try:
        return max(int(spark.conf.get("spark.sql.files.maxRecordsPerFile") or 0), 0)
    except (ValueError, TypeError):
        return 0


def shares(
    rng: np.random.Generator, weights: IntArray, k: int, room: IntArray, *, overflow: bool
) -> IntArray:
    """How many of ``k`` items each slot takes: in proportion to ``weights``, none past its
    ``room`` while another has some; past it (in proportion to ``weights``) only with
    ``overflow``, else fewer than ``k`` in all."""
    if not weights.sum():
        raise RuntimeError("no rows to share canaries among")
    share = np.zeros(weights.size, dtype=np.int64)
    weight = weights * (room > 0)
    while (left := k - int(share.sum())) and (weight := weight * (share < room)).sum():
        drawn = rng.multinomial(left, weight / weight.sum())
        share += np.minimum(drawn, room - share)
    if overflow and (left := k - int(share.sum())):
        share += rng.multinomial(left, weights / weights.sum())
    return share


def _rows_in(part: Path, format: str) -> int:
    if format == "parquet":
        return int(pq.ParquetFile(part).metadata.num_rows)
    # record ends, counted a chunk at a time (the parity of the quotes carries over): the
    # driver reads every CSV part once, but never holds one that receives no canary
    ends, inside, last = 0, 0, b"\n"
    with part.open("rb") as f:
        while chunk := f.read(_COUNT_CHUNK):
            found, inside = _record_ends(np.frombuffer(chunk, dtype=np.uint8), inside)
            ends, last = ends + int(found.size), chunk[-1:]
    records = ends + (last != b"\n")  # a last record without its newline
    return max(records - 1, 0)  # the header is a record


def _slots(
    rng: np.random.Generator,
    part: PartFile,
    rows: pl.DataFrame,
    format: str,
    minutes_only: bool,
    time_format: str,
) -> tuple[IntArray, pl.DataFrame]:
    """Where ``rows`` go among the file's real rows (a row at slot ``s`` goes before real
    row ``s``), and ``rows`` with their times fitted there (not yet marked)."""
    n = part.rows
    if "order_time" not in rows.columns or not isinstance(rows.schema["order_time"], pl.Datetime):
        return np.sort(rng.integers(0, n + 1, size=rows.height)), rows
    if format == "parquet":
        got = pl.from_arrow(pq.read_table(part.path, columns=["order_time"]))
        assert isinstance(got, pl.DataFrame)
        times = got.get_column("order_time")
    else:
        times = (
            pl.read_csv(part.path, columns=["order_time"], infer_schema=False)
            .get_column("order_time")
            .str.to_datetime(time_format, strict=False)
        )
    if times.len() != n:
        raise RuntimeError(f"{part.path.name}: {times.len()} times read for {n} rows")
    mine = rows.get_column("order_time")
    if minutes_only:
        times, mine = times.dt.truncate("1m"), mine.dt.truncate("1m")
    slots, fitted = place_canaries(rng, times.cast(mine.dtype), mine)
    return slots, rows.with_columns(fitted.cast(mine.dtype).alias("order_time"))


def _rendered_lines(
    spark: SparkSession,
    rows: pl.DataFrame,
    spark_schema: StructType,
    csv_options: Callable[[DataFrameWriter], DataFrameWriter],
    scratch: Path,
) -> list[bytes]:
    """Each row as one CSV record, rendered by Spark's CSV writer (no header)."""
    dest = scratch / "render"
    frame = spark.createDataFrame(rows.to_arrow(), schema=spark_schema).coalesce(1)
    csv_options(
        frame.write.mode("error").option("header", False).option("maxRecordsPerFile", 0)
    ).csv(str(dest))
    (written,) = [p for p in dest.iterdir() if p.name.startswith("part-")]
    data = written.read_bytes()
    starts = record_starts(data)
    if starts.size != rows.height:
        raise RuntimeError(f"Spark rendered {starts.size} CSV records for {rows.height} rows")
    return [data[a:b] for a, b in itertools.pairwise([*starts.tolist(), len(data)])]


def _splice_csv(part: Path, slots: IntArray, lines: list[bytes], scratch: Path) -> None:
    data = part.read_bytes()
    if not data.endswith(b"\n"):
        data += b"\n"
    starts = [*record_starts(data).tolist(), len(data)]  # starts[0] is the header
    pieces: list[bytes] = []
    prev = 0
    for s, line in zip(slots.tolist(), lines, strict=True):
        at = starts[1 + s]
        pieces += [data[prev:at], line if line.endswith(b"\n") else line + b"\n"]
        prev = at
    pieces.append(data[prev:])
    _replace(part, b"".join(pieces), scratch)


def _splice_parquet(
    spark: SparkSession,
    part: PartFile,
    slots: IntArray,
    rows: pl.DataFrame,
    spark_schema: StructType,
    out_schema: pa.Schema,
    dest: Path,
) -> None:
    """The file with ``rows`` at ``slots``, written again by Spark (one file, the release's
    options) and renamed over the original."""
    real = pq.read_table(part.path).replace_schema_metadata(None)
    extra = rows.to_arrow().select(out_schema.names).cast(real.schema)
    n, k = real.num_rows, extra.num_rows
    order = slotted_order(n, slots)
    table = pa.concat_tables([real, extra]).take(pa.array(order))
    frame = spark.createDataFrame(table, schema=spark_schema).coalesce(1)
    (
        frame.write.mode("error")
        .option("compression", "zstd")
        .option("maxRecordsPerFile", 0)
        .parquet(str(dest))
    )
    (written,) = [p for p in dest.iterdir() if p.name.startswith("part-")]
    if pq.ParquetFile(written).metadata.num_rows != n + k:
        raise RuntimeError(f"{part.path.name}: Spark wrote the spliced part with a wrong row count")
    _replace(part.path, written, dest)


def _replace(part: Path, new: bytes | Path, scratch: Path) -> None:
    """``new`` (bytes, or a file on ``part``'s filesystem) renamed over ``part``, its
    checksum file (if it has one) written again, both with the times they had (a part
    younger than its siblings would say which one was touched)."""
    before = part.stat()
    crc = part.parent / f".{part.name}.crc"
    crc_before = crc.stat() if crc.exists() else None
    chunk = _CRC_CHUNK
    if crc_before is not None:
        head = crc.read_bytes()[:8]
        if head[:4] == b"crc\x00" and len(head) == 8:
            chunk = struct.unpack(">i", head[4:])[0] or _CRC_CHUNK
    if isinstance(new, bytes):
        tmp = scratch / part.name
        tmp.write_bytes(new)
        new = tmp
    os.replace(new, part)
    os.utime(part, ns=(before.st_atime_ns, before.st_mtime_ns))
    if crc_before is not None:
        crc.write_bytes(hadoop_crc(part.read_bytes(), chunk))
        os.utime(crc, ns=(crc_before.st_atime_ns, crc_before.st_mtime_ns))
