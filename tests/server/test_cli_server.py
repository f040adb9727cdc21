"""``leaktrace token …`` and ``leaktrace serve`` as a user runs them: fresh processes."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import run_cli
from leaktrace.server.tokens import (
    TOKEN_FILE,
    Principal,
    add_token,
    authenticate,
    list_tokens,
)
from leaktrace.workspace import Workspace

from .conftest import SCAM, bearer, free_port


def _one_line_error(r: subprocess.CompletedProcess[str], needle: str = "") -> None:
    assert r.returncode == 2, (r.args, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and needle in r.stderr, r.stderr
    assert r.stdout == ""


def test_token_add_list_revoke(workspace: Workspace) -> None:
    home = workspace.home
    r = run_cli("token", "add", "alice", "--role", "analyst", home=home)
    assert r.returncode == 0, r.stderr
    [token] = r.stdout.splitlines()  # the token and nothing else on stdout
    assert token.startswith("lt_") and len(token) > 40
    assert "shown only" in r.stderr and "alice" in r.stderr and token not in r.stderr
    assert authenticate(home, token) == Principal("alice", "analyst", None)
    assert token not in (home / TOKEN_FILE).read_text(encoding="utf-8")

    r = run_cli(
        "token", "add", "zto-api", "--role", "recipient", "--recipient", "zto", "--json", home=home
    )
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert made["name"] == "zto-api" and made["recipient"] == "zto"
    partner = made["token"]
    assert authenticate(home, partner) == Principal("zto-api", "recipient", "zto")

    r = run_cli(
        "token", "add", "firm-agent", "--role", "agent", "--recipient", "cs-firm",
        "--person", "li.na", home=home,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "cs-firm" in r.stderr  # the holder works for cs-firm: said when it is made
    assert "held by li.na" in r.stderr
    agent = r.stdout.strip()
    assert authenticate(home, agent) == Principal("firm-agent", "agent", "cs-firm", "li.na")

    r = run_cli("token", "list", "--json", home=home)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [(t["name"], t["role"], t["recipient"], t["person"]) for t in listed] == [
        ("alice", "analyst", None, None),
        ("zto-api", "recipient", "zto", None),
        ("firm-agent", "agent", "cs-firm", "li.na"),
    ]
    secrets = {token, partner} | {hashlib.sha256(t.encode()).hexdigest() for t in (token, partner)}
    for t in listed:
        assert "token" not in t and "sha256" not in t
        assert not secrets & {str(v) for v in t.values()}
    assert not any(s in r.stdout for s in secrets)

    r = run_cli("token", "list", home=home)  # the table a person reads
    assert r.returncode == 0 and "alice" in r.stdout and "zto-api" in r.stdout
    assert not any(s in r.stdout for s in secrets)

    r = run_cli("token", "revoke", "alice", home=home)
    assert r.returncode == 0, r.stderr
    assert "alice" in r.stderr and "revoked" in r.stderr
    assert [t.name for t in list_tokens(home)] == ["zto-api", "firm-agent"]
    assert authenticate(home, token) is None
    assert authenticate(home, partner) is not None


def test_user_errors_are_one_line(workspace: Workspace, tmp_path: Path) -> None:
    home = workspace.home
    add_token(home, "bob", "agent", known=set())
    cases = [
        (("token", "add", "x", "--role", "admin"), home, "admin"),
        (("token", "add", "x", "--role", "recipient"), home, "--recipient"),
        (("token", "add", "x", "--role", "recipient", "--recipient", "nobody"), home, "nobody"),
        (("token", "add", "x", "--role", "agent", "--recipient", "nobody"), home, "nobody"),
        (("token", "add", "x", "--role", "analyst", "--recipient", "zto"), home, "--recipient"),
        (("token", "add", "bob", "--role", "analyst"), home, "bob"),
        (("token", "add", "x", "--role", "agent", "--person", "li na"), home, "--person"),
        (
            ("token", "add", "x", "--role", "agent", "--person", "13800138000@163.com"),
            home,
            "phone",
        ),
        (("serve", "--host", "0.0.0.0"), home, "--allow-remote"),
        (("serve", "--port", str(free_port())), tmp_path / "no-workspace", ""),
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "leaktrace", *args, "--home", str(h)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, h, _ in cases
    ]
    for (args, _, needle), p in zip(cases, procs, strict=True):
        try:
            out, err = p.communicate(timeout=60)
        finally:
            p.kill()
        _one_line_error(subprocess.CompletedProcess(args, p.returncode, out, err), needle)
    assert [t.name for t in list_tokens(home)] == ["bob"]  # nothing was added or removed


def test_serve_answers_over_http_and_stops_on_sigterm(workspace: Workspace) -> None:
    home = workspace.home
    r = run_cli("token", "add", "ana", "--role", "analyst", home=home)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "leaktrace", "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=base, timeout=30) as c:
            while True:
                assert proc.poll() is None, proc.communicate()[1]
                try:
                    if c.get("/healthz").json() == {"ok": True}:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
            resp = c.post("/api/v1/scam/check", json={"texts": [SCAM, "明天下午三点开会"]})
            assert resp.status_code == 200
            assert [x["is_scam"] for x in resp.json()["results"]] == [True, False]
            assert resp.json()["results"][0]["fraud_type"] == "冒充电商物流客服类"
            resp = c.get("/api/v1/ledger/verify", headers=bearer(token))
            assert resp.status_code == 200 and resp.json()["ok"] is True
            assert c.get("/api/v1/ledger/verify").status_code == 401
            assert "server" not in resp.headers  # --server-header off
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM), err
    assert f"http://127.0.0.1:{port}/" in err
    assert "Traceback" not in err
    assert token not in err and token not in out  # the access log holds no token


def test_localhost_needs_no_allow_remote(workspace: Workspace) -> None:
    """The refusal above is about the address, not every --host: a loopback name starts."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leaktrace",
            "serve",
            "--home",
            str(workspace.home),
            "--host",
            "localhost",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
