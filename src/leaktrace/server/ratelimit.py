"""A per-address limit on the routes anyone may call (the scam check, the contact check,
the sign-in form): one client must not take the service's two cores from everyone else.

A token bucket per client address: ``per_minute`` requests at once, refilled at
``per_minute`` a minute. In memory, per process; the table keeps at most ``MAX_CLIENTS``
addresses (the longest idle go first), so a flood of addresses cannot grow it without
bound. Behind a reverse proxy every client has the proxy's address: limit there instead,
and turn this one off (``leaktrace serve --public-rate 0``).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["MAX_CLIENTS", "PUBLIC_PATHS", "RateLimit"]

PUBLIC_PATHS = frozenset(
    {"/api/v1/scam/check", "/api/v1/scam/verify-contact", "/check", "/verify-contact", "/login"}
)
MAX_CLIENTS = 10_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RateLimit:
    """ASGI middleware; ``per_minute`` 0 lets everything through."""

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _wait(self, client: str) -> float:
        """Seconds until ``client`` may call again (0: take a token now)."""
        now = self.clock()
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.pop(client, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / rate
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.per_minute <= 0
            or scope["type"] != "http"
            or scope["path"] not in PUBLIC_PATHS
            or (scope["method"], scope["path"]) == ("GET", "/login")  # the page, not a try
        ):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("-", 0))[0]
        wait = self._wait(str(client))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            answer = JSONResponse(
                {"error": f"too many requests from this address; try again in {seconds} s"},
                status_code=429,
                headers={"retry-after": str(seconds)},
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)
