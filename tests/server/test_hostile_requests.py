"""Audit of the web service (session 13): each test drives the real HTTP API and pins a
bug found (and fixed) in that session.

One module workspace (a zto release, an incident naming zto, tokens) is served in-process
for the API tests; one ``leaktrace serve`` process, as a user starts it, for the test of the
public rate limit.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.config import OfficialContacts
from leaktrace.release import release
from leaktrace.respond.incident import PLATFORM_TZ, open_incident, record_evidence
from leaktrace.server import create_app
from leaktrace.server.tokens import add_token
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle

from .conftest import LEAK_COLS, OFFICIAL_DOMAIN, OFFICIAL_PHONE, bearer, free_port, serving


@dataclass(frozen=True)
class Audit:
    home: Path
    url: str
    analyst: str
    agent: str
    incident: str
    zto_orders: pl.DataFrame  # the platform's orders shipped by 中通快递 (zto's copies)


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Iterator[Audit]:
    root = tmp_path_factory.mktemp("audit-s13")
    ws = make_workspace(root / "ws")
    ws.config.official_contacts = OfficialContacts(
        phones=[OFFICIAL_PHONE], domains=[OFFICIAL_DOMAIN], accounts=[]
    )
    ws.save()
    copy = root / "zto.csv"
    release(shop, recipient="zto", workspace=ws, out=copy)
    leak = root / "leak.csv"
    pl.read_csv(copy, infer_schema=False).head(30).select(LEAK_COLS).write_csv(leak)
    bundle = root / "bundle.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    inc = open_incident(
        ws, "快递渠道泄露", datetime.now(PLATFORM_TZ) - timedelta(hours=1), "用户反映"
    )
    record_evidence(ws, inc.id, bundle)
    known = set(ws.config.recipients)
    analyst = add_token(ws.home, "audit-ana", "analyst", known=known)
    agent = add_token(ws.home, "audit-agent", "agent", known=known)
    with serving(create_app(ws.home)) as url:
        yield Audit(
            home=ws.home,
            url=url,
            analyst=analyst,
            agent=agent,
            incident=inc.id,
            zto_orders=shop.filter(pl.col("courier") == "中通快递"),
        )


@pytest.fixture
def api(audit: Audit) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=audit.url, timeout=30) as c:
        yield c


# --- victim reports ---------------------------------------------------------------------


def test_a_lone_surrogate_inside_a_quoted_json_string_is_flagged_not_a_500(
    api: httpx.Client, audit: Audit
) -> None:
    # "quoted" may be a JSON object written as a string (a CSV cell); the text fields are
    # cleaned of lone surrogates, but the string's own decoded content is not, and the
    # duplicate digest then fails to encode it
    raw = (
        r'[{"victim_phone": "13812345670", "reported_at": "2026-11-01T10:00:00+08:00",'
        r' "quoted": "{\"name\": \"\\ud800\"}"}]'
    )
    r = api.post(
        "/api/v1/reports",
        content=raw.encode(),
        headers={**bearer(audit.agent), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text  # the report kept and flagged, as for other fields
    assert r.json()["added"] == 1


# --- victims' cases ---------------------------------------------------------------------


def test_a_loss_that_rounds_to_zero_yuan_is_refused(api: httpx.Client, audit: Audit) -> None:
    row = audit.zto_orders.row(40, named=True)
    body = {
        "order_id": str(row["order_id"]),
        "phone": str(row["phone"]),
        "occurred": datetime.now(PLATFORM_TZ).isoformat(timespec="seconds"),
        "loss": 0.004,
        "police_receipt": "A330106001",
    }
    r = api.post(
        f"/api/v1/incidents/{audit.incident}/cases", headers=bearer(audit.agent), json=body
    )
    # the API answers "advance": 0.0, "loss": 0.0 and tells the victim the platform will
    # advance 0.00 yuan; the order then has its one case, and a payment of it can never
    # be recorded (record_payment wants at least 0.01)
    assert r.status_code == 400, r.text
    assert "loss" in r.json()["error"]


# --- the analysts' incident page -------------------------------------------------------------


def test_the_incident_page_of_a_malformed_id_is_not_a_verification_failure(
    api: httpx.Client, audit: Audit
) -> None:
    # docs/server.md: 409 is "a ledger or an incident record that does not verify"; the
    # API answers the same request with 400
    assert api.get("/api/v1/incidents/foo", headers=bearer(audit.analyst)).status_code == 400
    r = api.get("/dashboard/incidents/foo", headers={"cookie": f"leaktrace_token={audit.analyst}"})
    assert r.status_code in (400, 404), r.status_code


# --- the access log ----------------------------------------------------------------------


def test_the_access_log_is_one_line_per_request_whatever_the_path(
    api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "/x%0AINFO:%20%20%20%20%2010.9.9.9%20%22GET%20/dashboard%22%20200"
    with caplog.at_level(logging.INFO, logger="leaktrace.access"):
        assert api.get(forged).status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "leaktrace.access"]
    assert lines, "no access log line"
    assert not any("\n" in line or "\r" in line for line in lines), lines


# --- the public contact check ------------------------------------------------------------


def test_a_look_alike_url_on_a_chinese_domain_is_not_official(api: httpx.Client) -> None:
    # the same host in punycode is a domain, "not_official" and flagged as a look-alike
    puny = api.get("/api/v1/scam/verify-contact", params={"q": "https://leakshop.cn.xn--fiqs8s/"})
    assert puny.json()["kind"] == "domain" and puny.json()["verdict"] == "not_official"
    r = api.get("/api/v1/scam/verify-contact", params={"q": "https://leakshop.cn.中国/pay"})
    assert r.status_code == 200
    assert r.json()["kind"] == "domain", r.json()
    assert r.json()["verdict"] == "not_official", r.json()


# --- the public rate limit of `leaktrace serve` -----------------------------------------


@pytest.fixture(scope="module")
def served(audit: Audit) -> Iterator[str]:
    """``leaktrace serve --public-rate 3`` on the module workspace, as a user starts it."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leaktrace",
            "serve",
            "--home",
            str(audit.home),
            "--port",
            str(port),
            "--public-rate",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=base, timeout=10) as c:
            while True:
                assert proc.poll() is None, "leaktrace serve exited"
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "leaktrace serve did not come up"
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_forwarded_for_header_does_not_reset_the_public_rate_limit(served: str) -> None:
    # docs/server.md: the public routes take --public-rate requests a minute per client
    # address ("behind a reverse proxy every client has the proxy's address"); uvicorn's
    # proxy headers are on, so any caller on loopback (or behind a proxy that passes the
    # header on) gets a fresh bucket per header value, and the access log records the
    # address it chose
    with httpx.Client(base_url=served, timeout=10) as c:
        codes = [
            c.get(
                "/api/v1/scam/verify-contact",
                params={"q": OFFICIAL_PHONE},
                headers={"x-forwarded-for": f"10.0.0.{i}"},
            ).status_code
            for i in range(1, 6)
        ]
    assert codes[:3] == [200, 200, 200]
    assert 429 in codes[3:], codes


def test_an_unknown_incident_is_not_found(api: httpx.Client, audit: Audit) -> None:
    """A well-formed id that names no incident answers 404, as an unknown recipient or
    erasure request does (it answered 400, the status of a malformed request)."""
    r = api.get("/api/v1/incidents/INC-nope", headers=bearer(audit.analyst))
    assert r.status_code == 404, r.text
    assert "no incident INC-nope" in r.json()["error"]
