"""``make demo``'s web step: the service answering real HTTP on loopback.

Runs uvicorn in a thread on a free 127.0.0.1 port, then does what three kinds of users
would: a shopper checks a message (no token), an analyst uploads the leaked file, the
courier's system resolves one of its aliases, and the telecom provider pushes a call to
one of the courier's canary numbers. Returns whether every answer was right.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from rich.console import Console

from leaktrace.attribution.hits import stored_hits
from leaktrace.ledger import Ledger
from leaktrace.server.app import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace

__all__ = ["demo_service"]


def demo_service(
    ws: Workspace, leak_file: Path, courier: str, alias: str, order_id: str, console: Console
) -> bool:
    """Check a message, trace ``leak_file`` and resolve ``alias`` (``courier``'s alias of
    ``order_id``) over HTTP; True when each answer is the expected one."""
    analyst = add_token(ws.home, "demo-analyst", "analyst", known=set(ws.config.recipients))
    partner = add_token(
        ws.home, "demo-courier", "recipient", recipient=courier, known=set(ws.config.recipients)
    )
    provider = add_token(ws.home, "demo-aliyun-pns", "telecom", known=set(ws.config.recipients))
    canary = next(
        t["contact"]
        for t in Ledger(ws).canary_tokens()
        if t["recipient"] == courier and t["contact"]
    )
    call = {  # an Alibaba Cloud SecretReport: someone called the courier's canary number
        "call_id": "demo-0001",
        "secret_no": canary,
        "peer_no": "02155550000",
        "phone_no": "17100000000",
        "call_type": 1,
        "call_time": datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S"),
    }
    with serving(create_app(ws.home)) as url, httpx.Client(base_url=url, timeout=120) as http:
        msg = "您好，我是快递理赔专员，您的包裹丢失了，请加企业微信办理双倍赔偿"
        scam = http.post("/api/v1/scam/check", json={"texts": [msg]}).json()["results"][0]
        with leak_file.open("rb") as fh:
            traced = http.post(
                "/api/v1/trace",
                headers={"Authorization": f"Bearer {analyst}"},
                files={"file": (leak_file.name, fh, "text/csv")},
            ).json()
        resolved = http.post(
            "/api/v1/resolve",
            headers={"Authorization": f"Bearer {partner}"},
            json={"alias": alias, "recipient": courier},
        ).json()
        pushed = http.post(
            "/api/v1/telecom/aliyun-pns",
            headers={"Authorization": f"Bearer {provider}"},
            json=[call],
        ).json()
        page = http.get("/")
    hit = next((h for h in stored_hits(ws) if h.contact == canary), None)
    accused = [c["recipient"] for c in traced.get("accused", [])]
    console.print(
        f"{url}: scam check → {scam['fraud_type']} (scam: {scam['is_scam']}); "
        f"trace upload → {traced.get('verdict')}, accused {accused}; "
        f"{courier}'s alias {alias} → order {resolved.get('order_id')}; "
        f"telecom push → code {pushed.get('code')}, {pushed.get('recorded')} hit recorded, "
        f"naming {hit.recipient if hit else None}; page / → HTTP {page.status_code}"
    )
    return (
        bool(scam["is_scam"])
        and accused == [courier]
        and resolved.get("order_id") == order_id
        and pushed.get("recorded") == 1
        and hit is not None
        and hit.recipient == courier
        and page.status_code == 200
    )
