"""Timestamp spellings found in Chinese exports all parse, seconds intact."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from leaktrace.io import read_table
from leaktrace.io.datetimes import parse_datetime

T = datetime(2024, 9, 12, 14, 3, 27)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("2024-09-12 14:03:27", T),
        (" 2024-09-12 14:03:27 ", T),
        ("2024/9/12 14:03", datetime(2024, 9, 12, 14, 3)),
        ("2024年9月12日 14:03:27", T),
        ("2024年09月12日", datetime(2024, 9, 12)),
        ("2024.09.12", datetime(2024, 9, 12)),
        ("2024.9.12 14:03:27.5", datetime(2024, 9, 12, 14, 3, 27, 500000)),
        ("2024-09-12T14:03:27Z", T),
        ("2024-09-12T14:03:27+08:00", T),
        ("20240912140327", T),
        ("２０２４－０９－１２　１４：０３：２７", T),
        ("junk", None),
        ("", None),
        (None, None),
    ],
)
def test_formats(raw: str | None, want: datetime | None) -> None:
    df = pl.DataFrame({"v": [raw, "2024-09-12 14:03:27"]}, schema={"v": pl.String})
    got = df.select(parse_datetime(pl.col("v"))).to_series().to_list()
    assert got == [want, T]


def test_header_only_csv_gives_empty_role_frame(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("订单号,下单时间,手机\n")
    got = read_table(p)
    assert got.columns == ["order_id", "order_time", "phone"] and got.height == 0
