"""Splicing canary records into a Spark part file, without Spark: the record boundaries of
RFC 4180 CSV (quoted newlines, doubled quotes) and the Hadoop checksum file's layout. The
Spark-driven checks (Spark reads the spliced folder back) are in test_spark.py."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.spark_splice import _splice_csv, hadoop_crc, record_starts

FIELD = st.text(alphabet=st.sampled_from(list('ab,"\n 中文１\r')), max_size=6)
ROW = st.lists(FIELD, min_size=1, max_size=4)


def _render(rows: list[list[str]]) -> list[bytes]:
    out = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        out.append(buf.getvalue().encode())
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_record_starts_are_the_records_boundaries(rows: list[list[str]]) -> None:
    records = _render(rows)
    data = b"".join(records)
    expected = np.cumsum([0] + [len(r) for r in records])[:-1]
    assert record_starts(data).tolist() == expected.tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(ROW, min_size=1, max_size=10),
    st.lists(ROW, min_size=1, max_size=5),
    st.sampled_from([None, 512, 16]),
    st.data(),
)
def test_spliced_lines_land_before_the_real_record_of_their_slot(
    real: list[list[str]], extra: list[list[str]], crc_chunk: int | None, data: st.DataObject
) -> None:
    """Records spliced in at their slots, real records byte for byte; the checksum file
    written again with the chunk size its header gave, and none made where none was (a
    filesystem that keeps none, or a part alone with one, would say which was touched)."""
    import tempfile

    slots = sorted(
        data.draw(st.lists(st.integers(0, len(real)), min_size=len(extra), max_size=len(extra)))
    )
    header, body, lines = _render([["h"]])[0], _render(real), _render(extra)
    with tempfile.TemporaryDirectory() as d:
        part, scratch = Path(d) / "part-00000-x-c000.csv", Path(d) / "scratch"
        crc_path = Path(d) / f".{part.name}.crc"
        scratch.mkdir()
        part.write_bytes(header + b"".join(body))
        if crc_chunk is not None:
            crc_path.write_bytes(hadoop_crc(part.read_bytes(), crc_chunk))
        _splice_csv(part, np.array(slots, dtype=np.int64), lines, scratch)
        got = part.read_bytes()
        crc = crc_path.read_bytes() if crc_path.exists() else None
    want = [header]
    for i in range(len(real) + 1):
        want += [line for s, line in zip(slots, lines, strict=True) if s == i]
        if i < len(real):
            want.append(body[i])
    assert got == b"".join(want)
    assert crc == (None if crc_chunk is None else hadoop_crc(got, crc_chunk))


def test_hadoop_crc_layout() -> None:
    """``crc\\0``, bytes per checksum (512), one big-endian CRC-32 per chunk: the layout of
    the .crc files Spark wrote in test_spark.py, which it then reads back."""
    data = bytes(range(256)) * 5  # 1,280 bytes: three chunks, the last one short
    got = hadoop_crc(data)
    assert got[:8] == b"crc\x00" + struct.pack(">i", 512) and len(got) == 8 + 3 * 4
    assert struct.unpack(">3I", got[8:]) == tuple(
        zlib.crc32(data[i : i + 512]) for i in (0, 512, 1024)
    )
    assert hadoop_crc(b"") == b"crc\x00" + struct.pack(">i", 512)


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=12), st.integers(1, 7), st.booleans())
def test_csv_rows_counted_a_chunk_at_a_time(
    rows: list[list[str]], chunk: int, cut_last_newline: bool
) -> None:
    """The count reads a part in chunks (64 MiB in a release; a few bytes here, so that
    quotes and newlines straddle them) and leaves out the header."""
    import tempfile

    import leaktrace.spark_splice as splice

    data = b"".join(_render([["header"], *rows]))
    if cut_last_newline:
        data = data[:-1]
    saved = splice._COUNT_CHUNK
    splice._COUNT_CHUNK = chunk
    try:
        with tempfile.TemporaryDirectory() as d:
            part = Path(d) / "part-00000-x-c000.csv"
            part.write_bytes(data)
            assert splice._rows_in(part, "csv") == len(rows)
    finally:
        splice._COUNT_CHUNK = saved


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 6)), min_size=1, max_size=8),
    st.integers(0, 40),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_shares_respect_room(
    slots: list[tuple[int, int]], k: int, overflow: bool, seed: int
) -> None:
    """Canaries go only where there are rows; none past a slot's room while another has
    some (a file past maxRecordsPerFile, a partition past its spares); past it only with
    ``overflow``, else fewer in all."""
    from hypothesis import assume

    from leaktrace.spark_splice import shares

    weights = np.array([w for w, _ in slots], dtype=np.int64)
    room = np.array([r for _, r in slots], dtype=np.int64)
    assume(weights.sum() > 0)
    got = shares(np.random.default_rng(seed), weights, k, room, overflow=overflow)
    assert (got >= 0).all() and not got[weights == 0].any()
    fits = int(np.minimum(room, k)[weights > 0].sum())
    if overflow:
        assert got.sum() == k
        if fits >= k:
            assert (got <= room).all()
    else:
        assert (got <= room).all() and got.sum() == min(k, fits)
