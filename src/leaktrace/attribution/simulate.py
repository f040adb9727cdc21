"""Simulated scam waves from the demo shop and the released copies.

``simulate_wave(ws, shop_df, source=R)`` picks ``victims`` customers whose orders R
received, rebuilds R's copy of those rows exactly as the release wrote it (same masks,
FF1 aliases and keyed marks, with the release's key version), and lets each victim
remember it partly and imprecisely: the name (as a bare fact), sometimes the order number
as R's copy shows it (sometimes with a wrong digit), the product (sometimes verbatim, as
an SMS showed it, sometimes only "a mask"), the order date, the address (sometimes
verbatim), card digits when R had them. ``source="unmarked"`` draws victims from the whole
shop and quotes the platform's own values (no aliases, no marks). A share ``unrelated``
of the reports are other scams: random customers, random callers, vague quotes. Calls
come 1 hour to 20 days after the source's last release. Output: JSON-lines-ready dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from leaktrace.errors import InputError
from leaktrace.masking import MaskContext, apply_policy_fields
from leaktrace.release import anchors_of, bias_key_for, embed_marks, mark_key_for
from leaktrace.workspace import Workspace

__all__ = ["simulate_wave"]

_SCRIPTS = [
    "您好，我是淘宝客服，您{date}购买的{product}检测出质量问题，我们给您三倍赔偿理赔，"
    "请下载QQ打开共享屏幕，按我说的操作支付宝备用金。",
    "我是快递理赔专员，您的快递丢失了，订单号{order}，我们赔偿您，需要您先做流水验证。",
    "您好，我们工作人员误将您开通了代理商，每月扣费500元，需要取消代理，"
    "请打开京东白条借款转到安全账户。",
]
_CHANNELS = ["phone", "phone", "phone", "phone", "sms", "qq", "wechat"]


def _typo(rng: np.random.Generator, s: str) -> str:
    if not s:
        return s
    i = int(rng.integers(0, len(s)))
    d = str((int(s[i]) + int(rng.integers(1, 10))) % 10) if s[i].isdigit() else s[i]
    return s[:i] + d + s[i + 1 :]


def _copy_of(ws: Workspace, rows: pl.DataFrame, recipient: str, version: int) -> pl.DataFrame:
    # its policy checked as a release checks it: a broken one is refused naming the
    # recipient (the workspace loads whatever operators its policies name)
    policy = ws.config.check_release_policy(recipient)
    ctx = MaskContext(
        digest_key=ws.keys.derive("mask-digest", version),
        recipient=recipient,
        alias_key=ws.keys.derive("alias", version),
        key_version=version,
    )
    anchors = anchors_of(rows.get_column("order_id"), ws.keys.derive("anchor", version))
    out = apply_policy_fields(rows, policy.fields, ctx)
    return embed_marks(
        out,
        anchors,
        policy.channels,
        mark_key_for(ws, recipient, version),
        code=policy.code,
        bias_key=bias_key_for(ws, version),
    )


def simulate_wave(
    ws: Workspace,
    shop_df: pl.DataFrame,
    source: str,
    victims: int,
    seed: int = 0,
    *,
    unrelated: float = 0.2,
    callers: int = 3,
    start: datetime | None = None,
) -> list[dict[str, Any]]:
    from leaktrace.attribution.evidence import load_view

    if victims < 0:
        raise InputError("--victims must be ≥ 0")
    rng = np.random.default_rng(seed)
    view = load_view(ws)
    if not view.entries:
        raise InputError("the ledger has no releases to simulate a wave from")
    missing = [c for c in ("order_id", "phone") if c not in shop_df.columns]
    if missing:
        raise InputError(
            f"the shop file has no {' or '.join(missing)} column: give the orders file that "
            "was released (--shop)"
        )
    shop = shop_df.filter(pl.col("phone").is_not_null() & pl.col("order_id").is_not_null())
    if source == "unmarked":
        fields = {"name", "order_id", "order_time", "product", "address", "card_last4"}
        base = max(view.created.values())
        pick = rng.choice(shop.height, size=min(victims, shop.height), replace=False)
        rows = shop[pick.tolist()]
        copy = rows
    else:
        ents = [e for e in view.entries if e.recipient == source]
        if not ents:
            # a typo (--source ztoo) gets the message every other command gives for an
            # unknown recipient, naming the known ones; only a known one "has no release"
            ws.config.recipient(source)
            raise InputError(f"recipient {source!r} has no release in the ledger")
        # the newest of its releases made from this shop table: a newer one made from
        # another table (another month's export) holds none of these orders
        for e in reversed(ents):
            anchors = anchors_of(
                shop.get_column("order_id"), ws.keys.derive("anchor", e.key_version)
            )
            held = view.rows.filter(pl.col("release_id") == e.release_id).get_column("anchor")
            pool = shop.filter(pl.Series(anchors).is_in(held.cast(pl.UInt64).implode()))
            if pool.height:
                break
        else:
            raise InputError(
                f"no shop order was released to {source!r} (in any of its {len(ents)} "
                "releases): is --shop the table its copies were made from?"
            )
        fields = set(e.fields)
        base = view.created[e.release_id]
        pick = rng.choice(pool.height, size=min(victims, pool.height), replace=False)
        rows = pool[pick.tolist()]
        copy = _copy_of(ws, rows, source, e.key_version)
    base = start or base
    span = 20 * 86400.0  # reports come in over the 20 days after the leak
    now = datetime.now(UTC)
    if start is None and base + timedelta(seconds=span) > now:
        # ... but never after now: `report add` flags a report dated in the future. The
        # wave then falls between the ledger's last release and now, in the same
        # proportions (after every release, as a wave 20 days later would be)
        base = max([base, *view.created.values()])
        span = max(0.0, (now - base).total_seconds())

    def report_time() -> datetime:
        at = base + timedelta(seconds=span * float(rng.uniform(3600 / (20 * 86400), 1.0)))
        # whole seconds (as stored), rounded up: never before the release it follows
        return at.replace(microsecond=0) + timedelta(seconds=1 if at.microsecond else 0)

    wave_callers = [
        f"0{int(rng.integers(10, 99))}-{int(rng.integers(10**7, 10**8))}" for _ in range(callers)
    ]
    out: list[dict[str, Any]] = []
    for i in range(rows.height):
        r = rows.row(i, named=True)
        c = copy.row(i, named=True)
        q: dict[str, Any] = {}
        if "name" in fields and rng.random() < 0.8:
            q["name"] = True
        if "order_id" in fields and c.get("order_id") and rng.random() < 0.35:
            num = str(c["order_id"])
            q["order_id"] = _typo(rng, num) if rng.random() < 0.15 else num
        if "product" in fields and c.get("product") and rng.random() < 0.7:
            if rng.random() < 0.45:
                q["product"] = str(c["product"])
            elif rng.random() < 0.5:
                q["product"] = str(c["product"])[:4]
            else:
                q["product"] = True
        if "order_time" in fields and r.get("order_time") is not None and rng.random() < 0.5:
            q["order_date"] = r["order_time"].strftime("%m月%d日")
        if "address" in fields and c.get("address") and rng.random() < 0.45:
            q["address"] = str(c["address"]) if rng.random() < 0.4 else True
        if "card_last4" in fields and c.get("card_last4") and rng.random() < 0.5:
            q["card_last4"] = True
        at = report_time()
        script = _SCRIPTS[int(rng.integers(0, len(_SCRIPTS)))]
        rec: dict[str, Any] = {
            "victim_phone": r["phone"],
            "reported_at": at.astimezone(UTC).isoformat(timespec="seconds"),
            "channel": _CHANNELS[int(rng.integers(0, len(_CHANNELS)))],
            "caller": wave_callers[int(rng.integers(0, len(wave_callers)))],
            "quoted": q,
            "transcript": script.format(
                date=r["order_time"].strftime("%m月%d日") if r.get("order_time") else "",
                product=str(r.get("product") or "商品")[:10],
                order=str(c.get("order_id") or ""),
            ),
        }
        if rng.random() < 0.4:
            rec["loss"] = int(rng.integers(2, 500)) * 100
        if rng.random() < 0.3:
            rec["police_receipt"] = f"JJ{int(rng.integers(10**9, 10**10))}"
        out.append(rec)
    n_unrel = round(len(out) * unrelated / (1 - unrelated)) if 0 < unrelated < 1 else 0
    if n_unrel:
        pick = rng.choice(shop.height, size=min(n_unrel, shop.height), replace=False)
        for i in pick.tolist():
            r = shop.row(i, named=True)
            q = {"name": True} if rng.random() < 0.6 else {}
            if rng.random() < 0.4:
                q["product"] = True
            at = report_time()
            out.append(
                {
                    "victim_phone": r["phone"],
                    "reported_at": at.astimezone(UTC).isoformat(timespec="seconds"),
                    "channel": _CHANNELS[int(rng.integers(0, len(_CHANNELS)))],
                    "caller": f"1{int(rng.integers(3, 10))}{int(rng.integers(10**8, 10**9))}",
                    "quoted": q,
                    "transcript": _SCRIPTS[2],
                }
            )
    out.sort(key=lambda d: str(d["reported_at"]))
    return out
