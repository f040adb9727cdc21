"""Audit of the Python API (``leaktrace.release`` / ``leaktrace.trace``) as a pipeline uses it:
pandas and Polars frames of every common dtype. Each test pins one bug found (and fixed) in
session 13."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

import leaktrace
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.workspace import Workspace


def test_pandas_repeated_column_name_is_released_like_a_file(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    pdf = shop.head(200).to_pandas()
    pdf["备注"] = "加急"
    pdf = pd.concat([pdf, pdf[["备注"]]], axis=1)  # two 备注 columns, as after a concat
    res = release(pdf, recipient="cs-firm", workspace=workspace)
    assert res.frame is not None and res.frame.height == 200 + res.canaries


def test_pandas_object_phone_mixing_int_and_str(workspace: Workspace, shop: pl.DataFrame) -> None:
    pdf = shop.head(200).to_pandas()
    phones = pdf["phone"].astype(object)
    phones.iloc[::2] = [int(p) for p in phones.iloc[::2]]  # some cells numbers, some text
    pdf["phone"] = phones
    res = release(pdf, recipient="cs-firm", workspace=workspace)
    assert res.frame is not None
    assert res.frame.get_column("phone").str.contains(r"^1\d\d\*{4}\d{4}$").all()


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(lambda n: pd.to_timedelta(np.arange(n), unit="h"), id="timedelta"),
        pytest.param(lambda n: [uuid.UUID(int=i + 1) for i in range(n)], id="uuid"),
    ],
)
def test_unused_column_of_uncastable_dtype_does_not_stop_release(
    workspace: Workspace, shop: pl.DataFrame, extra: object
) -> None:
    pdf = shop.head(200).to_pandas()
    pdf["发货时长"] = extra(len(pdf))  # type: ignore[operator]
    res = release(pdf, recipient="cs-firm", workspace=workspace)
    assert res.frame is not None and res.frame.height == 200 + res.canaries


def test_pandas_float_phone_column_is_released_as_digits(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    pdf = shop.head(300).to_pandas()
    real = pdf["phone"].tolist()
    phones = pdf["phone"].astype("float64")
    phones.iloc[-1] = np.nan  # one missing phone: pandas keeps the column as float64
    pdf["phone"] = phones
    cs = release(pdf, recipient="cs-firm", workspace=workspace).frame
    assert cs is not None
    masked = set(cs.get_column("phone").drop_nulls().to_list())
    assert f"{real[0][:3]}****{real[0][-4:]}" in masked
    zto = release(pdf, recipient="zto", workspace=workspace).frame
    assert zto is not None
    assert not zto.get_column("phone").str.ends_with(".0").any()


def test_trace_pandas_leak_with_float_phone_column(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    copy = release(shop, recipient="sms", workspace=workspace).frame
    assert copy is not None
    leak = copy.sample(40, seed=7).select("name", "phone", "product").to_pandas()
    phones = leak["phone"].astype("float64")
    phones.iloc[0] = np.nan
    leak["phone"] = phones
    result = leaktrace.trace(leak, workspace=workspace)
    assert [c.recipient for c in result.accused] == ["sms"]


def test_unreadable_text_times_are_counted_for_frames(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    df = shop.head(200).with_columns(pl.lit("待定").alias("order_time"))
    res = release(df, recipient="cs-firm", workspace=workspace)
    assert res.frame is not None and res.frame.get_column("order_time").null_count() > 0
    assert res.unreadable_times == 200
    assert res.first_unreadable_time_row == 1


@pytest.mark.parametrize("role", ["address", "name"])
def test_canaries_follow_an_empty_column(
    workspace: Workspace, shop: pl.DataFrame, role: str
) -> None:
    df = shop.head(600).with_columns(pl.lit(None, dtype=pl.String).alias(role))
    res = release(df, recipient="zto", workspace=workspace)
    assert res.frame is not None and res.canaries >= 3
    assert res.frame.get_column(role).null_count() == res.frame.height


def test_trace_leaked_csv_with_float_phones(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A leaked CSV that pandas saved with a missing phone: every phone reads
    ``13800138000.0`` as text, and is still the phone the recipient received."""
    copy = release(shop, recipient="sms", workspace=workspace).frame
    assert copy is not None
    leak = copy.sample(40, seed=3).select("name", "phone", "product").to_pandas()
    phones = leak["phone"].astype("float64")
    phones.iloc[0] = np.nan
    leak["phone"] = phones
    path = tmp_path / "leak.csv"
    leak.to_csv(path, index=False)
    assert "\n" in path.read_text() and ".0," in path.read_text()
    result = leaktrace.trace(path, workspace=workspace)
    assert [c.recipient for c in result.accused] == ["sms"]


def test_canary_times_missing_as_often_as_real_ones(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """Half the input lacks an order time: canaries then lack one too, about as often."""
    df = shop.head(2000).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.col("order_time")).alias("order_time")
    )
    workspace.config.policies[workspace.config.recipients["zto"].policy].canary_rate = 0.1
    workspace.save()
    res = release(df, recipient="zto", workspace=workspace)
    assert res.frame is not None and res.canaries >= 20
    real = set(df.get_column("phone").to_list())
    canaries = res.frame.filter(~pl.col("phone").is_in(list(real)))
    assert canaries.height == res.canaries
    assert 0 < canaries.get_column("order_time").null_count() < canaries.height


def test_zone_aware_order_times_are_released_in_platform_time(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """A timestamptz column (UTC) holds the same instants as Beijing wall-clock times: the
    copy shows the Beijing time, as for a naive column."""
    df = shop.head(1000)
    utc = df.with_columns(
        pl.col("order_time").dt.replace_time_zone("Asia/Shanghai").dt.convert_time_zone("UTC")
    )
    real = df.get_column("phone").to_list()
    minutes = []
    for data in (df, utc.to_pandas()):
        copy = release(data, recipient="zto", workspace=workspace).frame
        assert copy is not None
        rows = copy.filter(pl.col("phone").is_in(real)).select(
            "phone", pl.col("order_time").dt.truncate("1m")
        )
        minutes.append(rows.sort("phone", "order_time").get_column("order_time").to_list())
    assert len(minutes[0]) > 100 and minutes[0] == minutes[1]


def test_the_output_format_is_case_insensitive_as_the_suffix_is(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """``out="x.CSV"`` worked and ``format="CSV"`` was refused as an unknown format."""
    out = tmp_path / "k.csv"
    release(shop.head(200), recipient="zto", workspace=workspace, out=out, format="CSV")
    assert out.read_text(encoding="utf-8").startswith(("order_id", "\ufeff"))


def test_a_null_order_id_names_its_row_as_an_empty_one_does(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """An empty id said "data row 8 is empty", a null one "order_id has empty values" with
    no row: the same missing number, two messages."""
    frame = shop.head(50).with_columns(pl.col("order_id").cast(pl.Utf8))
    for missing in (None, ""):
        bad = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 7)
            .then(pl.lit(missing, dtype=pl.Utf8))
            .otherwise(pl.col("order_id"))
            .alias("order_id")
        )
        with pytest.raises(InputError, match=r"order_id in data row 8 is empty"):
            release(bad, recipient="cs-firm", workspace=workspace)  # order numbers aliased
    with pytest.raises(InputError, match=r"order_id in data row 8 is empty"):
        nulled = pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("order_id"))
        # and a null for a recipient that gets no order numbers (they are still digested)
        release(frame.with_columns(nulled.alias("order_id")), recipient="sms", workspace=workspace)


def test_order_ids_that_lost_digits_as_floats_are_said_to_be_floats(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """A pandas column of 19-digit order numbers read as float64 became
    '1.3316419386051277e+18', refused as if it held a stray character."""
    frame = shop.head(50).to_pandas()
    frame["order_id"] = frame["order_id"].astype("float64")
    with pytest.raises(InputError, match=r"a float: .*lost their last digits"):
        release(frame, recipient="cs-firm", workspace=workspace)
