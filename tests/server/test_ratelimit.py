"""The per-address limit on the routes anyone may call."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.server import create_app
from leaktrace.server.ratelimit import MAX_CLIENTS, RateLimit

from .conftest import SCAM, Site, bearer, serving


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _nothing(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    return None


@settings(max_examples=200, deadline=None)
@given(
    per_minute=st.integers(1, 30),
    gaps=st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=120),
)
def test_no_window_admits_more_than_the_burst_and_the_refill(
    per_minute: int, gaps: list[float]
) -> None:
    """A token bucket's promise: in any span of T seconds at most per_minute (the burst)
    plus per_minute * T / 60 (the refill) requests get through."""
    clock = Clock()
    limit = RateLimit(_nothing, per_minute, clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if limit._wait("10.0.0.1") == 0:
            admitted.append(clock.now)
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            span = admitted[j] - start
            assert j - i + 1 <= per_minute + per_minute * span / 60 + 1e-9


def test_a_client_waits_exactly_as_long_as_its_refill_takes() -> None:
    clock = Clock()
    limit = RateLimit(_nothing, 6, clock)  # a token every 10 s
    assert [limit._wait("a") for _ in range(6)] == [0.0] * 6
    assert limit._wait("a") == 10.0
    assert limit._wait("b") == 0.0  # another address has its own bucket
    clock.now = 10.0
    assert limit._wait("a") == 0.0 and limit._wait("a") > 0


def test_the_table_of_clients_is_bounded() -> None:
    clock = Clock()
    limit = RateLimit(_nothing, 1, clock)
    for i in range(MAX_CLIENTS + 50):
        limit._wait(f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
    assert len(limit._buckets) == MAX_CLIENTS
    assert "10.0.0.0" not in limit._buckets  # the longest idle went first


def test_off_lets_everything_through() -> None:
    calls = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1

    limit = RateLimit(app, 0)
    scope = {"type": "http", "path": "/api/v1/scam/check", "method": "POST"}
    for _ in range(50):
        asyncio.run(limit(scope, None, None))  # type: ignore[arg-type]
    assert calls == 50


def test_over_http_the_fourth_check_waits_and_others_do_not(site: Site) -> None:
    with serving(create_app(site.home, public_rate=3)) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(3):
                assert c.post("/api/v1/scam/check", json={"texts": [SCAM]}).status_code == 200
            r = c.post("/api/v1/scam/check", json={"texts": [SCAM]})
            assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
            assert list(r.json()) == ["error"] and "too many requests" in r.json()["error"]
            assert c.post("/check", data={"text": SCAM}).status_code == 429  # the page too
            # a signed-in analyst's work is not public and is not limited
            assert c.get("/api/v1/releases", headers=bearer(site.analyst)).status_code == 200
            assert c.get("/login").status_code == 200  # the sign-in page itself
        # another address has a bucket of its own
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=url, timeout=30, transport=other) as c2:
            assert c2.post("/api/v1/scam/check", json={"texts": [SCAM]}).status_code == 200


def test_serve_refuses_a_negative_rate(site: Site) -> None:
    from conftest import run_cli

    r = run_cli("serve", "--public-rate", "-1", home=site.home)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: --public-rate must be 0 (off) or more, got -1"
    ]
