"""A missing float value stays missing on release, whatever the input (session 20, M2).

A float column holds a missing value as NaN: a Polars frame or a Parquet file released its
phones as the text "NaN" (a courier that keeps phones got ``NaN`` in the phone column),
while the same data as a pandas frame gave null. ±inf is no phone either: null too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from leaktrace.io.readers import _cell_text, read_frame
from leaktrace.release import release
from leaktrace.workspace import Workspace

NAN_ROWS = (3, 40, 41)


def _float_phones(shop: pl.DataFrame) -> pl.DataFrame:
    """The shop with its phones as Float64, three of them NaN (rows a courier receives)."""
    phones = shop.get_column("phone").cast(pl.Float64).to_numpy().copy()
    phones[list(NAN_ROWS)] = np.nan
    return shop.with_columns(pl.Series("phone", phones))


def _released_phones(frame: pl.DataFrame | None) -> pl.Series:
    assert frame is not None
    return frame.get_column("phone")


def test_nan_phone_is_released_as_null_from_polars_pandas_and_parquet(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    shop = shop.head(400).with_columns(pl.lit("中通快递").alias("courier"))
    data = _float_phones(shop)
    parquet = tmp_path / "float-phones.parquet"
    data.write_parquet(parquet)
    out = tmp_path / "from-parquet.parquet"

    from_polars = _released_phones(release(data, recipient="zto", workspace=workspace).frame)
    from_pandas = _released_phones(
        release(data.to_pandas(), recipient="zto", workspace=workspace).frame
    )
    release(parquet, recipient="zto", workspace=workspace, out=out)
    from_file = pl.read_parquet(out).get_column("phone")

    for phones in (from_polars, from_pandas, from_file):
        assert not phones.str.contains("(?i)nan|inf").any(), phones.filter(
            phones.str.contains("(?i)nan|inf")
        ).to_list()
        # canaries carry phones: the nulls are exactly the three missing ones
        assert phones.null_count() == len(NAN_ROWS)
        assert phones.drop_nulls().str.contains(r"^1[3-9][0-9]{9}$").all()


def test_infinite_and_nan_floats_read_as_null() -> None:
    """±inf is no value a phone or an order has: null, like NaN (the docstring says why)."""
    frame = pl.DataFrame(
        {
            "order_id": ["100001", "100002", "100003", "100004"],
            "phone": [13800138000.0, float("nan"), float("inf"), float("-inf")],
        }
    )
    got = read_frame(frame).get_column("phone").to_list()
    assert got == ["13800138000", None, None, None]
    assert _cell_text(float("inf")) is None and _cell_text(float("nan")) is None
    assert _cell_text(13800138000.0) == "13800138000"
