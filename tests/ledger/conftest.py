"""A throwaway PostgreSQL server for the ledger's PostgreSQL tests.

The server is real (``initdb`` + ``pg_ctl`` from the machine's PostgreSQL, which
``.ci/run`` installs when it is missing), runs on a free loopback port with its data in a
temporary folder, and is stopped when the session ends. PostgreSQL refuses to run as
root, so under root it runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import make_workspace
from leaktrace.ledger.ledger import close_engines
from leaktrace.workspace import Workspace


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    root = tempfile.mkdtemp(prefix="leaktrace-pg-")
    data = Path(root) / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "leaktrace", "--auth=trust", "-E", "UTF8"],
        **run,  # type: ignore[call-overload]
    )
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", f"{root}/log", "start"],
        **run,  # type: ignore[call-overload]
    )
    try:
        yield f"postgresql+psycopg://leaktrace@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "stop"], **run)  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_workspace(postgres_url: str, home: Path) -> Iterator[Workspace]:
    """A workspace at ``home`` whose ledger is a fresh database on the test server, dropped
    (with the engines this process holds for it) when the block ends."""
    from leaktrace.attribution import store

    name = "lt_" + uuid.uuid4().hex[:12]
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield make_workspace(home, database_url=url)
    finally:
        store._ENGINES.pop(url, None)
        close_engines(url)
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()
