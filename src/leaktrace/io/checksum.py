"""SHA-256 of a file, streamed: the one digest of whole files the project records.

Used for released outputs (``TableWriter``), index files (ledger records and ``verify``),
input files and leaked evidence files. Reads 1 MiB at a time, so multi-GB files cost
constant memory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: Path) -> str:
    """Lower-case hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
