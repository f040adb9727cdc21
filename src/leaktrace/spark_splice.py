"""Canary rows spliced into the part files a Spark job wrote.

Why a module of its own: the driver of a Spark release owes some canaries that no partition
added (only partition 0 enforces ``canary_min``; each partition rounds its share of the rate
down). They used to go out as one more file, ``part-top-up-c000.*``: every row of it a
canary, its name not Spark's, its Parquet written by pyarrow — a partner who deleted that
one file dropped them all. Here they go into the part files Spark wrote, and nothing about a
file says it was touched:

- each part holding real rows takes a share drawn in proportion to its rows;
- within a part, a canary takes a slot a real order would take, with a time that fits there
  (:func:`leaktrace.canary.place_canaries` on the part's minutes: a time-sorted part stays
  sorted). Only the canary's minute moves: its seconds carry the timestamp mark, which
  depends on its anchor alone;
- a part keeps its name and its writer: a Parquet part is written again by Spark (same
  ``created_by``, metadata and row groups), and a CSV part gets its canary lines as Spark's
  CSV writer renders them with the release's options, inserted between whole records;
- the Hadoop checksum file beside each part (``.part-….crc``) is written again, so that
  Spark and Hadoop still read the folder, and both keep the times they had.

A caller must pass a ``scratch`` folder on the same filesystem as ``folder`` (files are
renamed from it) and remove it afterwards.
"""

from __future__ import annotations

import itertools
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from leaktrace.canary import place_canaries

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pyspark.sql import DataFrameWriter, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["hadoop_crc", "record_starts", "splice_canaries"]

IntArray = npt.NDArray[np.int64]

#: Bytes per checksum in a Hadoop ``.crc`` file (``file.bytes-per-checksum``, default 512).
_CRC_CHUNK = 512
#: Bytes of a CSV part read at a time to count its records.
_COUNT_CHUNK = 64 << 20


def hadoop_crc(data: bytes) -> bytes:
    """The contents of the ``.crc`` file Hadoop's local filesystem keeps beside ``data``:
    ``crc\\0``, the chunk size, then the CRC-32 of every 512-byte chunk (big-endian).

    Why: Spark checks a part file against it when it reads the folder again; a part
    rewritten without it fails there ("Checksum error"), one left without it stands out.
    """
    sums = b"".join(
        struct.pack(">I", zlib.crc32(data[i : i + _CRC_CHUNK]))
        for i in range(0, len(data), _CRC_CHUNK)
    )
    return b"crc\x00" + struct.pack(">i", _CRC_CHUNK) + sums


def record_starts(data: bytes) -> IntArray:
    """Byte offsets where each CSV record of ``data`` starts (RFC 4180: a newline inside
    quotes belongs to its field; ``""`` inside quotes leaves the quoting as it was).

    Vectorised: the parity of the quotes seen so far says whether a newline ends a record.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    if not b.size:
        return np.zeros(0, dtype=np.int64)
    inside = np.bitwise_xor.accumulate((b == ord('"')).view(np.uint8))
    ends = np.flatnonzero((b == ord("\n")) & (inside == 0)).astype(np.int64)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends + 1])
    return starts[starts < b.size]


def splice_canaries(
    spark: SparkSession,
    folder: Path,
    canaries: pl.DataFrame,
    *,
    format: Literal["parquet", "csv"],
    spark_schema: StructType,
    out_schema: pa.Schema,
    csv_options: Callable[[DataFrameWriter], DataFrameWriter],
    rng: np.random.Generator,
    scratch: Path,
    time_format: str,
) -> pl.DataFrame:
    """Splice the released ``canaries`` (the output's columns) into the part files in
    ``folder``; return them as placed (``order_time`` fitted), in the order given.

    ``csv_options`` applies the release's CSV writer options (header aside), so that a
    canary line is rendered exactly as Spark renders a real one; ``time_format`` is the
    Python form of the CSV's datetime format, to read the parts' times back.
    """
    suffix = ".parquet" if format == "parquet" else ".csv"
    parts = sorted(
        p for p in folder.iterdir() if p.name.startswith("part-") and p.name.endswith(suffix)
    )
    counts = np.array([_rows_in(p, format) for p in parts], dtype=np.int64)
    k = canaries.height
    if not k:
        return canaries
    if not counts.sum():
        raise RuntimeError("a Spark output with canaries to splice holds no rows")
    share = rng.multinomial(k, counts / counts.sum())
    order = rng.permutation(k)
    placed: list[pl.DataFrame] = []
    taken = 0
    plans: list[tuple[Path, IntArray, pl.DataFrame]] = []
    for part, n, m in zip(parts, counts.tolist(), share.tolist(), strict=True):
        if not m:
            continue
        rows = canaries[order[taken : taken + m].tolist()]
        taken += m
        slots, rows = _slots(rng, part, n, rows, format, out_schema, time_format)
        plans.append((part, slots, rows))
        placed.append(rows)
    if format == "csv":
        lines = _rendered_lines(spark, pl.concat(placed), spark_schema, csv_options, scratch)
        at = 0
        for part, slots, rows in plans:
            _splice_csv(part, slots, lines[at : at + rows.height], scratch)
            at += rows.height
    else:
        for i, (part, slots, rows) in enumerate(plans):
            _splice_parquet(spark, part, slots, rows, spark_schema, out_schema, scratch / f"p{i}")
    back = np.empty(k, dtype=np.int64)
    back[order] = np.arange(k)
    return pl.concat(placed)[back.tolist()]


def _rows_in(part: Path, format: str) -> int:
    if format == "parquet":
        return int(pq.ParquetFile(part).metadata.num_rows)
    # record ends, counted a chunk at a time (the parity of the quotes carries over): the
    # driver reads every CSV part once, but never holds one that receives no canary
    ends, inside, last = 0, 0, b"\n"
    with part.open("rb") as f:
        while chunk := f.read(_COUNT_CHUNK):
            b = np.frombuffer(chunk, dtype=np.uint8)
            parity = np.bitwise_xor.accumulate((b == ord('"')).view(np.uint8)) ^ inside
            ends += int(np.count_nonzero((b == ord("\n")) & (parity == 0)))
            inside, last = int(parity[-1]), chunk[-1:]
    records = ends + (last != b"\n")  # a last record without its newline
    return max(records - 1, 0)  # the header is a record


def _slots(
    rng: np.random.Generator,
    part: Path,
    n: int,
    rows: pl.DataFrame,
    format: str,
    out_schema: pa.Schema,
    time_format: str,
) -> tuple[IntArray, pl.DataFrame]:
    """Where ``rows`` go among the part's ``n`` real rows (a row at slot ``s`` goes before
    real row ``s``), and ``rows`` with their minutes fitted there."""
    if "order_time" not in out_schema.names or not pa.types.is_timestamp(
        out_schema.field("order_time").type
    ):
        return np.sort(rng.integers(0, n + 1, size=rows.height)), rows
    if format == "parquet":
        got = pl.from_arrow(pq.read_table(part, columns=["order_time"]))
        assert isinstance(got, pl.DataFrame)
        times = got.get_column("order_time")
    else:
        times = (
            pl.read_csv(part, columns=["order_time"], infer_schema=False)
            .get_column("order_time")
            .str.to_datetime(time_format, strict=False)
        )
    if times.len() != n:
        raise RuntimeError(f"{part.name}: {times.len()} times read for {n} rows")
    mine = rows.get_column("order_time")
    # the part's minutes: its seconds are marks, in no order within a minute
    slots, fitted = place_canaries(rng, times.dt.truncate("1m"), mine.dt.truncate("1m"))
    seconds = mine - mine.dt.truncate("1m")
    when = (fitted.dt.truncate("1m").cast(mine.dtype) + seconds).alias("order_time")
    return slots, rows.with_columns(when)


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
    csv_options(frame.write.mode("error").option("header", False)).csv(str(dest))
    (written,) = [p for p in dest.iterdir() if p.name.startswith("part-")]
    data = written.read_bytes()
    starts = record_starts(data)
    if starts.size != rows.height:
        raise RuntimeError(f"Spark rendered {starts.size} CSV records for {rows.height} rows")
    bounds = [*starts.tolist(), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


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
    part: Path,
    slots: IntArray,
    rows: pl.DataFrame,
    spark_schema: StructType,
    out_schema: pa.Schema,
    dest: Path,
) -> None:
    """The part with ``rows`` at ``slots``, written again by Spark (one file, same options
    as the release) and renamed over the original, its checksum file with it."""
    real = pq.read_table(part).replace_schema_metadata(None)
    extra = rows.to_arrow().select(out_schema.names).cast(real.schema)
    n, k = real.num_rows, extra.num_rows
    order = np.concatenate([np.arange(n) * 2 + 1, slots * 2]).argsort(kind="stable")
    table = pa.concat_tables([real, extra]).take(pa.array(order))
    frame = spark.createDataFrame(table, schema=spark_schema).coalesce(1)
    frame.write.mode("error").option("compression", "zstd").parquet(str(dest))
    (written,) = [p for p in dest.iterdir() if p.name.startswith("part-")]
    if pq.ParquetFile(written).metadata.num_rows != n + k:
        raise RuntimeError(f"{part.name}: Spark wrote the spliced part with a wrong row count")
    _replace(part, written, dest)


def _replace(part: Path, new: bytes | Path, scratch: Path) -> None:
    """``new`` (bytes, or a file on ``part``'s filesystem) renamed over ``part``, its
    checksum file written again, both with the times ``part`` had (a part younger than its
    siblings would say which one was touched)."""
    before = part.stat()
    if isinstance(new, bytes):
        tmp = scratch / part.name
        tmp.write_bytes(new)
        new = tmp
    os.replace(new, part)
    crc = part.parent / f".{part.name}.crc"
    crc_before = crc.stat() if crc.exists() else before
    crc.write_bytes(hadoop_crc(part.read_bytes()))
    os.utime(part, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.utime(crc, ns=(crc_before.st_atime_ns, crc_before.st_mtime_ns))
