"""Creating a module's own tables on first use, safely when several threads or processes
start at once.

Reports, hits, incidents, checkpoints and telecom receipts each keep their tables on their
own ``MetaData`` and create them when first used. ``create_all`` checks, then creates: two
server threads (or two commands) doing so at the same moment both see the table missing,
and the second ``CREATE TABLE`` fails with "already exists". Within a process the first
caller creates under a lock; between processes, a failed creation is checked once more,
up to a few times (each retry may meet another process creating the next table), and
only a table still missing is an error.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, MetaData
from sqlalchemy.exc import OperationalError, ProgrammingError

__all__ = ["create_tables"]

_LOCK = threading.Lock()
_DONE: set[tuple[int, str]] = set()
_ATTEMPTS = 8


def create_tables(metadata: MetaData, engine: Engine) -> None:
    key = (id(metadata), str(engine.url))
    if key in _DONE:
        return
    with _LOCK:
        if key in _DONE:
            return
        for attempt in range(_ATTEMPTS):
            try:
                metadata.create_all(engine)
                break
            except (OperationalError, ProgrammingError):
                # another process created one meanwhile: checkfirst now sees it. With
                # several tables and several processes, each retry can lose the race for
                # the next table; anything else fails every time, and the last attempt
                # raises it with the database's own message
                if attempt == _ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (attempt + 1))
        _DONE.add(key)
