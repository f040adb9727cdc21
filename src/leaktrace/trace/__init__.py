"""Trace leaked data to the recipient copy it came from (see :mod:`.engine`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from leaktrace.callable_module import make_callable
from leaktrace.trace.engine import DEFAULT_ALPHA, CandidateResult, TraceResult, trace_frame
from leaktrace.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CandidateResult", "TraceResult", "trace"]


def trace(
    data: pl.DataFrame | pd.DataFrame | str | Path,
    *,
    home: str | Path | None = None,
    workspace: Workspace | None = None,
    alpha: float = DEFAULT_ALPHA,
    encoding: str | None = None,
) -> TraceResult:
    """Trace a leaked file (any supported format, any headers; a CSV's encoding is
    detected unless ``encoding`` names it) or frame.

    Returns every recipient whose corrected p-value is ≤ ``alpha`` in ``accused`` (empty,
    with verdict "no recipient identified", when the data carries no marks), and all
    candidates considered. Raises :class:`LedgerIntegrityError` if the ledger does not
    verify: leaktrace never accuses on a ledger that fails ``verify``.
    """
    from leaktrace.errors import InputError
    from leaktrace.io import read_frame, read_table
    from leaktrace.io.checksum import file_sha256
    from leaktrace.trace.engine import frame_digest

    ws = workspace or open_workspace(
        Path(home) if home else Path(os.environ.get("LEAKTRACE_HOME", ".leaktrace"))
    )
    if isinstance(data, (str, Path)):
        path = Path(data)
        df = read_table(path, encoding=encoding)
        digest = file_sha256(path)
    else:
        if encoding is not None:
            raise InputError("an encoding applies to a leaked file, not to a data frame")
        df = read_frame(data)
        digest = frame_digest(data)
    return trace_frame(
        ws, df, alpha=alpha, evidence_sha256=digest, columns={c: c for c in df.columns}
    )


make_callable(__name__, trace)
