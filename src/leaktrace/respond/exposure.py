"""Who was exposed by a leak: the platform's own orders that went out in given releases.

When a trace names a recipient, the platform must notify the people whose data that
recipient received and report their number to the regulator (PIPL art. 57, Cybersecurity
Law art. 42; DESIGN §2.4). The ledger holds no personal data to list them from: a
release's exposure index stores keyed digests of the order numbers it carried (anchors),
its canary rows flagged. So the platform brings its own order table, the one it released
from; every order whose anchor is in a chosen release's index was exposed in it. Canary
rows are never anyone's data and are left out.

Why not trust the copy's own rows: the copy may be lost, altered or partly aliased; the
index was written with the copy, its digest is in the signed record, and ``verify``
checks it. The result is only as complete as the order table given: index rows that
match no order in it are counted (``unmatched``) and said, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from leaktrace.errors import InputError
from leaktrace.ledger import Ledger, ReleaseEntry
from leaktrace.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FIELD_NAMES_ZH", "Exposure", "exposed"]

FIELD_NAMES_ZH = {
    "order_id": "订单号",
    "order_time": "下单时间",
    "name": "姓名",
    "phone": "手机号",
    "address": "收货地址",
    "product": "商品信息",
    "sku": "商品编号",
    "quantity": "数量",
    "amount": "金额",
    "card_last4": "银行卡后四位",
    "id_number": "身份证号",
    "email": "电子邮箱",
    "courier": "快递公司",
    "merchant": "商家",
}
"""Roles as a notice names them in Chinese (PIPL art. 57: the categories of data)."""


@dataclass
class Exposure:
    """The exposed orders (the platform's own rows, with where each went) and what a
    notice and a regulator report need to say about them."""

    rows: pl.DataFrame
    """The order table's exposed rows plus ``exposed_in`` (release ids), ``exposed_to``
    (recipients), ``fields_exposed`` (roles sent) and ``first_exposed_at``; ``;``-joined."""
    releases: list[ReleaseEntry]
    unmatched: int
    """Real (non-canary) rows of the chosen releases whose order is not in the table."""

    def summary(self) -> dict[str, Any]:
        fields = sorted({f for e in self.releases for f in e.fields})
        people = (
            self.rows.get_column("phone").n_unique()
            if "phone" in self.rows.columns
            else self.rows.height
        )
        return {
            "orders": self.rows.height,
            "people": people,
            "people_counted_by": "phone" if "phone" in self.rows.columns else "order",
            "unmatched_index_rows": self.unmatched,
            "releases": [
                {
                    "release_id": e.release_id,
                    "recipient": e.recipient,
                    "created": e.created,
                    "fields": e.fields,
                    "rows": e.rows - e.canaries,
                }
                for e in self.releases
            ],
            "fields": fields,
            "fields_zh": [FIELD_NAMES_ZH.get(f, f) for f in fields],
            "by_recipient": {
                r: int(n)
                for r, n in self.rows.get_column("exposed_to")
                .str.split(";")
                .explode()
                .value_counts()
                .iter_rows()
            }
            if self.rows.height
            else {},
        }

    def notice_zh(self, contact: str, measures: str) -> str:
        """A draft of the notice to the people exposed, with what PIPL art. 57 asks of it:
        the categories of data, the cause and possible harm, the measures taken and what
        the person can do, and how to reach the platform. A draft: the platform's legal
        team owns the final text."""
        s = self.summary()
        when = min((e.created for e in self.releases), default="")[:10]
        return (
            f"【个人信息安全告知】尊敬的用户：经核查，自 {when} 起本平台提供给合作方的订单数据中，"
            f"您的{('、'.join(s['fields_zh'])) or '订单信息'}可能已被泄露。"
            "不法分子可能冒充电商或快递客服，以理赔、退款、取消会员等理由联系您，诱导您下载会议软件、"
            "共享屏幕或转账。"
            f"平台已采取的措施：{measures}。"
            "请您注意：平台客服不会要求您共享屏幕、提供验证码或向任何账户转账；如接到此类来电，请立即挂断，"
            f"并通过 App 内官方渠道核实。如有疑问，请联系：{contact}。"
        )


def exposed(
    ws: Workspace,
    orders: pl.DataFrame | pd.DataFrame | str | Path,
    *,
    recipients: list[str] | None = None,
    release_ids: list[str] | None = None,
    since: datetime | None = None,
    encoding: str | None = None,
) -> Exposure:
    """The orders of ``orders`` (the platform's table, any supported format) that went out
    in the chosen releases: those of ``recipients``, or with ``release_ids``, made at or
    after ``since`` (at least one of the first two is required: "everyone" is no incident).

    Raises :class:`LedgerIntegrityError` when the ledger does not verify (a list of people
    to notify must come from records that hold), :class:`InputError` when no release
    matches or the table has no order numbers.
    """
    from leaktrace.io import read_frame, read_table
    from leaktrace.release import anchors_of

    if not recipients and not release_ids:
        raise InputError("name the recipient(s) or release(s) of the incident")
    ledger = Ledger(ws)
    ledger.require_valid()
    chosen = [
        e
        for e in ledger.entries()
        if (recipients and e.recipient in recipients)
        or (release_ids and e.release_id in release_ids)
    ]
    if since is not None:
        chosen = [e for e in chosen if datetime.fromisoformat(e.created) >= since]
    if not chosen:
        raise InputError("no release in the ledger matches the recipient(s), release(s) and date")
    df = (
        read_table(Path(orders), encoding=encoding)
        if isinstance(orders, str | Path)
        else read_frame(orders)
    )
    if "order_id" not in df.columns:
        raise InputError("the order table has no order number column (订单号 / order_id)")
    df = df.filter(pl.col("order_id").is_not_null())
    parts: list[pl.DataFrame] = []
    unmatched = 0
    for version in sorted({e.key_version for e in chosen}):
        keyed = pl.DataFrame(
            {
                "row": pl.int_range(df.height, eager=True, dtype=pl.UInt32),
                "anchor": pl.Series(
                    anchors_of(df.get_column("order_id"), ws.keys.derive("anchor", version)),
                    dtype=pl.UInt64,
                ),
            }
        )
        for e in (e for e in chosen if e.key_version == version):
            index = pl.from_arrow(
                pq.read_table(ws.home / e.index_file, columns=["anchor", "is_canary"])
            )
            assert isinstance(index, pl.DataFrame)
            real = index.filter(~pl.col("is_canary")).select("anchor").unique()
            hit = keyed.join(real, on="anchor", how="semi")
            unmatched += real.height - hit.get_column("anchor").n_unique()
            parts.append(
                hit.select("row").with_columns(
                    pl.lit(e.release_id).alias("release_id"),
                    pl.lit(e.recipient).alias("recipient"),
                    pl.lit(";".join(e.fields)).alias("fields"),
                    pl.lit(e.created).alias("created"),
                )
            )
    matched = pl.concat(parts) if parts else pl.DataFrame(schema={"row": pl.UInt32})
    if not matched.height:
        return Exposure(df.clear().with_columns(*_empty_columns()), chosen, unmatched)
    per_row = (
        matched.sort("created")
        .group_by("row", maintain_order=True)
        .agg(
            pl.col("release_id").unique(maintain_order=True).str.join(";").alias("exposed_in"),
            pl.col("recipient").unique(maintain_order=True).str.join(";").alias("exposed_to"),
            pl.col("fields")
            .str.split(";")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort()
            .str.join(";")
            .alias("fields_exposed"),
            pl.col("created").first().alias("first_exposed_at"),
        )
        .sort("row")
    )
    rows = df.with_row_index("row").join(per_row, on="row", how="inner").drop("row")
    return Exposure(rows, chosen, unmatched)


def _empty_columns() -> list[pl.Expr]:
    return [
        pl.lit(None, dtype=pl.Utf8).alias(c)
        for c in ("exposed_in", "exposed_to", "fields_exposed", "first_exposed_at")
    ]
