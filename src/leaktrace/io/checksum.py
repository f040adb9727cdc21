"""SHA-256 of a file, streamed: the one digest of whole files the project records.

Used for released outputs (``TableWriter``), index files (ledger records and ``verify``),
input files and leaked evidence files. Reads 1 MiB at a time, so multi-GB files cost
constant memory.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future
from pathlib import Path

__all__ = ["file_sha256", "file_sha256_in_background"]


def file_sha256(path: Path) -> str:
    """Lower-case hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256_in_background(path: Path) -> Future[str]:
    """:func:`file_sha256` on a background thread; ``.result()`` gives it (or raises).

    Why: a release records its input's digest, and hashing a multi-GB input before the
    first batch is a serial pause; hashlib releases the GIL, so the digest is computed while
    the batches are marked. The thread is a daemon: an abandoned release does not wait.
    """
    fut: Future[str] = Future()

    def run() -> None:
        try:
            fut.set_result(file_sha256(path))
        except BaseException as exc:  # handed to whoever asks for the result
            fut.set_exception(exc)

    threading.Thread(target=run, name="leaktrace-sha256", daemon=True).start()
    return fut
