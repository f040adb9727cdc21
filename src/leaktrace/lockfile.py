"""The workspace's one lock, ``<home>/ledger.lock``: whatever changes shared state takes it.

Ledger appends, a signing key's protection, the API token file and incident events all
serialise on the same file, so none of them needs to know about the others. An exclusive
``flock``: it holds between processes on one machine and is released when the process
dies. Not re-entrant: code that holds it must not take it again.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["workspace_lock"]


@contextmanager
def workspace_lock(home: Path) -> Iterator[None]:
    with (home / "ledger.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
