"""Creating a module's own tables on first use, safely when several threads or processes
start at once.

Reports, hits, incidents, checkpoints and telecom receipts each keep their tables on their
own ``MetaData`` and create them when first used. ``create_all`` checks, then creates: two
server threads (or two commands) doing so at the same moment both see the table missing,
and the second ``CREATE TABLE`` fails with "already exists". Within a process the first
caller creates under a lock; between processes, a failed creation is checked once more,
and only a table still missing is an error.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import OperationalError, ProgrammingError

__all__ = ["create_tables"]

_LOCK = threading.Lock()
_DONE: set[tuple[int, str]] = set()


def create_tables(metadata: MetaData, engine: Engine) -> None:
    key = (id(metadata), str(engine.url))
    if key in _DONE:
        return
    with _LOCK:
        if key in _DONE:
            return
        try:
            metadata.create_all(engine)
        except (OperationalError, ProgrammingError):
            # another process created one meanwhile: checkfirst now sees it; anything
            # else fails again, with the database's own message
            metadata.create_all(engine)
        _DONE.add(key)
