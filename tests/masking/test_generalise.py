from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from leaktrace.errors import PolicyError

from .conftest import run

T = dt.datetime(2024, 5, 1, 12, 34, 56)


@pytest.mark.parametrize(
    ("spec", "values", "dtype", "expected"),
    [
        ("truncate_date", [T, None], None, [dt.datetime(2024, 5, 1), None]),
        ("truncate_date:hour", [T], None, [dt.datetime(2024, 5, 1, 12)]),
        ("truncate_date:month", [T], None, [dt.datetime(2024, 5, 1)]),
        ("truncate_date", [dt.date(2024, 5, 7)], None, [dt.date(2024, 5, 7)]),
        ("truncate_date:month", [dt.date(2024, 5, 7)], None, [dt.date(2024, 5, 1)]),
        (
            "truncate_date",
            ["2024-05-01 12:34:56", None, "garbage"],
            None,
            ["2024-05-01", None, None],
        ),
        ("truncate_date:hour", ["2024-05-01 12:34:56"], None, ["2024-05-01 12:00"]),
        ("truncate_date:month", ["2024-05-01 12:34:56"], None, ["2024-05"]),
        ("round_amount", [12.5, 12.4, None], None, [13.0, 12.0, None]),
        ("round_amount:10", [123.45, 125.0], None, [120.0, 130.0]),
        ("round_amount:0.1", ["12.34", "x"], None, [12.3, None]),
        ("round_amount:5", [12, 13], pl.Int64, [10.0, 15.0]),
    ],
)
def test_table(spec: str, values: list[object], dtype: object, expected: list[object]) -> None:
    assert run(spec, values, dtype) == expected


@pytest.mark.parametrize(
    "spec", ["truncate_date:week", "round_amount:0", "round_amount:-1", "round_amount:x"]
)
def test_bad_args(spec: str) -> None:
    with pytest.raises(PolicyError):
        run(spec, [1])


def test_wrong_dtype() -> None:
    with pytest.raises(PolicyError, match="truncate_date"):
        run("truncate_date", [1.5])
