"""Trace leaked data to the recipient copy it came from (see :mod:`.engine`)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from leaktrace.callable_module import make_callable
from leaktrace.memory_budget import available_memory
from leaktrace.trace.encoding_hint import encoding_hint
from leaktrace.trace.engine import DEFAULT_ALPHA, CandidateResult, TraceResult, trace_frame
from leaktrace.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    import pandas as pd

    from leaktrace.io.readers import TableSource

__all__ = ["CandidateResult", "TraceResult", "trace"]


# What a whole trace needs beyond the process it starts in, measured as peak RSS of
# `leaktrace trace` (docs/trace.md, "Large leaked files"), rounded up. Most of it is the
# identity join against the exposure index (DuckDB): a masked name + district address is
# shared by many released orders, so a leaked row can meet many index rows. How many
# depends on the ledger's policies, not only its size: the quick bound below assumes a
# ledger of customer-service copies (the worst measured); unless it fits with a wide margin,
# the matches of a sample of the file's first rows are counted (``_SAMPLE_ROWS``) and each
# costs ``_MATCH_BYTES``; that estimate decides. The fixed part grows with the ledger: DuckDB holds a copy of the
# exposure index.
_BASE_BYTES = 128 << 20
_BASE_BYTES_PER_LEDGER_ROW = 200
_ROW_BYTES = 3000
_ROW_BYTES_PER_LEDGER_ROW = 0.0032
_MATCH_BYTES = 128
_SAMPLE_ROWS = 2000
_QUICK_MARGIN = 4
"""The quick bound must fit this many times over for the join not to be counted: on a
small ledger a row's own matches (four keys, each copy of its order) can cost more than
the bound's share per ledger row."""

_SAMPLE_BYTES = 1 << 20
_FORMAT_NAMES = {"csv": "CSV", "jsonl": "JSON lines", "json": "JSON", "parquet": "Parquet"}
_XLSX_DIMENSION = re.compile(rb'<dimension ref="(?:[A-Z]+[0-9]+:)?[A-Z]+([0-9]+)"')


def trace(
    data: pl.DataFrame | pd.DataFrame | str | Path,
    *,
    home: str | Path | None = None,
    workspace: Workspace | None = None,
    alpha: float = DEFAULT_ALPHA,
    encoding: str | None = None,
    max_rows: int | None = None,
) -> TraceResult:
    """Trace a leaked file (any supported format, any headers; a CSV's encoding is
    detected unless ``encoding`` names it) or frame.

    Returns every recipient whose corrected p-value is ≤ ``alpha`` in ``accused`` (empty,
    with verdict "no recipient identified", when the data carries no marks), and all
    candidates considered. Raises :class:`LedgerIntegrityError` if the ledger does not
    verify: leaktrace never accuses on a ledger that fails ``verify``.

    ``max_rows`` traces only the first rows, for a file too large to trace whole: they are
    chosen without looking at any mark, so the p-values stay exact for them, and only they
    are read (CSV, JSON lines and Parquet are streamed). ``evidence_sha256`` still
    identifies the whole file; ``truncated`` says whether it held more rows. Without
    ``max_rows`` a file whose trace would not fit in the available memory is refused with
    an :class:`InputError` that suggests a ``max_rows`` that fits (``LEAKTRACE_MEMORY_LIMIT``
    = bytes replaces the available figure).

    An ``encoding`` the file does not look like, but that decodes it (latin1 decodes
    anything), adds a one-line hint to ``warnings`` naming the encoding the file looks
    like; no figure or verdict changes (:mod:`leaktrace.trace.encoding_hint`).
    """
    from leaktrace.errors import InputError
    from leaktrace.io import open_table, read_frame
    from leaktrace.io.checksum import file_sha256_in_background
    from leaktrace.trace.engine import frame_digest

    if max_rows is not None and (
        isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1
    ):
        raise InputError(f"max_rows must be a positive number of rows, got {max_rows!r}")
    if max_rows is not None:
        max_rows = min(max_rows, 2**62)  # more than any file holds; Polars takes no more
    ws = workspace or open_workspace(
        Path(home) if home else Path(os.environ.get("LEAKTRACE_HOME", ".leaktrace"))
    )
    truncated = False
    if isinstance(data, (str, Path)):
        path = Path(data)
        batch_rows = 200_000 if max_rows is None else min(200_000, max_rows + 1)
        try:
            # a leaked file is evidence as found: a long row is cut, not refused
            with open_table(
                path, encoding=encoding, batch_rows=batch_rows, cut_long_rows=True
            ) as src:
                if max_rows is None:  # one opening: a GBK file is transcoded once, not twice
                    _check_memory(ws, path, src)
                # the digest identifies the evidence: always the whole file, hashed meanwhile
                digest = file_sha256_in_background(path)
                if max_rows is None:
                    df = src.read()
                else:
                    df, truncated = src.read_head(max_rows)
            result = trace_frame(ws, df, alpha=alpha, columns={c: c for c in df.columns})
        except InputError as exc:
            # the engine sees a frame: name the file, as a release's errors do
            if exc.message.startswith("the leaked file "):
                exc.message = f"{path}{exc.message.removeprefix('the leaked file')}"
            # "no usable columns" of a file whose Chinese headers the encoding garbled
            if encoding is not None:
                hint = encoding_hint(path, encoding, identified=None)
                if hint is not None:
                    exc.message = f"{exc.message}; {hint}"
            raise
        result.evidence_sha256 = digest.result()
        if encoding is not None:  # a wrong one that still decodes: say so, change nothing
            hint = encoding_hint(path, encoding, identified=result.rows_identified)
            if hint is not None:
                result.warnings.append(hint)
    else:
        if encoding is not None:
            raise InputError("an encoding applies to a leaked file, not to a data frame")
        df = read_frame(data)
        if max_rows is not None and df.height > max_rows:
            df, truncated = df.head(max_rows), True
        result = trace_frame(
            ws,
            df,
            alpha=alpha,
            evidence_sha256=frame_digest(data),
            columns={c: c for c in df.columns},
        )
    result.truncated = truncated
    return result


def memory_needed(rows: int, ledger_rows: int, matches_per_row: float | None = None) -> int:
    """Bytes a trace of ``rows`` leaked rows against ``ledger_rows`` released rows needs
    beyond the process it starts in (an upper estimate from measurements).

    ``matches_per_row``: index rows a leaked row meets in the identity join, as counted on
    a sample (:func:`join_matches_per_row`); without it, the bound for a ledger of
    customer-service copies, whose masked names and districts share the most keys."""
    if matches_per_row is None:
        per_row = _ROW_BYTES + _ROW_BYTES_PER_LEDGER_ROW * ledger_rows
    else:
        per_row = _ROW_BYTES + _MATCH_BYTES * matches_per_row
    return int(_BASE_BYTES + _BASE_BYTES_PER_LEDGER_ROW * ledger_rows + per_row * rows)


def join_matches_per_row(ws: Workspace, sample: pl.DataFrame) -> float:
    """Index rows the identity join finds per leaked row, counted on ``sample`` (the first
    rows of the file) against every exposure index of the ledger.

    Why count rather than assume: the join's size depends on how many released orders
    share a key with a leaked row, which the ledger's policies decide (a masked name and a
    district are shared by thousands of orders, a whole name and address by one). The
    assumed worst case refused, on this project's machine, a 1M-row trace that needed
    5 GB. One scan of the index's digest columns answers it."""
    import duckdb

    from leaktrace.identity import IDENTITY_KEYS, identity_digests
    from leaktrace.ledger import Ledger

    if sample.height == 0:
        return 0.0
    by_version: dict[int, list[str]] = {}
    for e in Ledger(ws).entries():
        by_version.setdefault(e.key_version, []).append(str(ws.home / e.index_file))
    total = 0
    for version, files in by_version.items():
        keys = identity_digests(sample, ws.keys.derive("index", version))
        con = duckdb.connect()
        try:  # the ledger verified, so its index files read; a DuckDB error is a bug
            con.register("sample", keys.to_arrow())
            for k in IDENTITY_KEYS:
                row = con.execute(
                    f"select count(*) from read_parquet(?) i join sample s on i.{k} = s.{k}",
                    [files],
                ).fetchone()
                total += int(row[0]) if row else 0
        finally:
            con.close()
    return total / sample.height


def estimated_rows(path: Path, fmt: str) -> int | None:
    """About how many rows ``path`` holds, without reading it all (None: cannot tell).

    Parquet says so in its footer; a text file is extrapolated from its first MiB (an
    overestimate where quoted fields span lines, or JSON objects nest); an XLSX sheet
    states its extent in its ``dimension`` element (the largest sheet counts)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception:  # junk: open_table reports it
            return None
    if fmt in ("csv", "jsonl", "json"):
        size = path.stat().st_size
        mark = b"{" if fmt == "json" else b"\n"
        densest = 0.0
        with path.open("rb") as fh:
            # the start, the middle and the end: one long first row must not make a file of
            # millions of rows look like a few dozen; the densest block counts
            for offset in sorted(
                {0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}
            ):
                fh.seek(offset)
                block = fh.read(_SAMPLE_BYTES)
                if block:
                    densest = max(densest, (block.count(mark) + 1) / len(block))
        if not densest:
            return None
        return math.ceil(densest * size)
    if fmt == "xlsx":
        import zipfile

        found: list[int] = []
        try:
            with zipfile.ZipFile(path) as z:
                for name in z.namelist():
                    if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                        with z.open(name) as sheet:
                            m = _XLSX_DIMENSION.search(sheet.read(64 * 1024))
                        if m:
                            found.append(int(m.group(1)))
        except Exception:  # .xls, .xlsb, encrypted, a broken deflate stream: open_table says
            return None
        if not found or (max(found) < 2 and path.stat().st_size > _SAMPLE_BYTES):
            return None  # a dimension of one cell in a large file vouches for nothing
        return max(found)
    return None


def _check_memory(ws: Workspace, path: Path, src: TableSource) -> None:
    """Refuse, before reading more than a sample of its first rows, a file whose whole
    trace would not fit in memory: the process would otherwise be killed by the kernel (no
    message, nothing to act on) or die in DuckDB with a traceback, minutes in."""
    from leaktrace.errors import InputError
    from leaktrace.io.readers import reader_for
    from leaktrace.ledger import Ledger

    if not path.is_file():
        return  # open_table says what is wrong with it
    available = available_memory()
    if available is None:
        return
    fmt = reader_for(path).format
    rows = estimated_rows(path, fmt)
    if rows is None:
        return
    ledger_rows = sum(e.rows for e in Ledger(ws).entries())
    if _QUICK_MARGIN * memory_needed(rows, ledger_rows) <= available:
        return  # far from the limit: no need to count the join
    # the sample's join reads the exposure index: only one the ledger vouches for (a
    # broken ledger must be named by verify, not crash a DuckDB read here)
    Ledger(ws).require_valid()
    sample, _ = src.read_head(_SAMPLE_ROWS)
    matches = join_matches_per_row(ws, sample)
    needed = memory_needed(rows, ledger_rows, matches)
    if needed <= available:
        return
    size = path.stat().st_size
    what = (
        f"{path}: {_bytes(size)} of {_FORMAT_NAMES.get(fmt, fmt.upper())} (about {rows:,} rows) "
        f"needs about {_bytes(needed)} of memory to trace whole against a ledger of "
        f"{ledger_rows:,} released rows, {_bytes(available)} are available"
    )
    fits = 0
    if available > memory_needed(0, ledger_rows):
        per_row = memory_needed(1, ledger_rows, matches) - memory_needed(0, ledger_rows)
        fits = _round_down((available - memory_needed(0, ledger_rows)) // max(per_row, 1))
    if fits >= 1:
        raise InputError(f"{what}; trace a part of it with --max-rows {fits}")
    raise InputError(
        f"{what}, less than a trace of a few rows against this ledger needs "
        f"({_bytes(memory_needed(0, ledger_rows))}): free memory or use a larger machine"
    )


def _round_down(n: int) -> int:
    """``n`` to two significant digits, down (a figure to type, still within the memory)."""
    if n < 100:
        return n
    step = int(10 ** (len(str(n)) - 2))
    return n // step * step


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" or n >= 10 else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB" if n < 10 else f"{n:.0f} TB"


make_callable(__name__, trace)
