"""Run the service on loopback in a background thread, for as long as a block lasts.

For ``make demo``, the benchmark and the tests: a real uvicorn on 127.0.0.1 and a port the
system picks, so two runs never collide and nothing listens beyond this machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

__all__ = ["serving"]


@contextlib.contextmanager
def serving(app: FastAPI, *, start_timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. The process's logging is
    left alone (``log_config=None``): a caller's own handlers, pytest's capture included,
    keep working."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        log_config=None,
        ws="none",
        proxy_headers=False,  # as leaktrace serve: the peer address is the client's
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="leaktrace-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start within {start_timeout:g} s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            raise RuntimeError("the server did not stop within 15 s")
