"""Review of session 20: ``leaktrace serve`` on a port another process holds says so in one
``error:`` line and exits 2, like its other start-up errors. It printed "leaktrace
serving on …", then uvicorn's "[Errno 98] address already in use", and exited 3."""

from __future__ import annotations

import subprocess
import sys

from leaktrace.workspace import Workspace

HOLDER = """
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()  # holds the port until the test closes stdin
"""


def test_serve_on_a_port_another_process_holds_is_one_error_line(workspace: Workspace) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "leaktrace",
                "serve",
                "--home",
                str(workspace.home),
                "--port",
                str(port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = serve.communicate(timeout=60)
        finally:
            serve.kill()
    finally:
        holder.kill()
        holder.communicate()
    assert serve.returncode == 2, (serve.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], err
    assert "serving on" not in err and "Traceback" not in err and out == ""
