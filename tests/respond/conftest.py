"""What the respond tests share: one workspace's copies, released as a partner gets them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from leaktrace.release import release
from leaktrace.workspace import Workspace

RECIPIENTS = ("zto", "yto", "cs-firm")


def release_copies(
    ws: Workspace, shop: pl.DataFrame, root: Path, recipients: tuple[str, ...] = RECIPIENTS
) -> dict[str, pl.DataFrame]:
    """Release ``shop`` to each recipient (Parquet under ``root``) and read the copies back.
    cs-firm receives every order: only the marks tell its copy from a courier's."""
    copies = {}
    for r in recipients:
        p = root / f"{r}.parquet"
        release(shop, recipient=r, workspace=ws, out=p)
        copies[r] = pl.read_parquet(p)
    return copies
