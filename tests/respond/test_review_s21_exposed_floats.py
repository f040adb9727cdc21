"""``leaktrace exposed`` with an order table whose order numbers were stored as floats.

Session 21's walk: a table exported from Excel or WPS holds the 16–19 digit order numbers
as floating-point numbers (6.25412345678912E+17, or 625412345678912000: the last digits
gone), so no released row matches, and the error blamed "leading zeros" — which this
shop's order numbers never have. The error now says what happened when the table shows
it, and otherwise makes no claim about leading zeros.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.release import release
from leaktrace.respond.exposure import exposed
from leaktrace.workspace import Workspace

from .conftest import ok, one_error

ORDERS = 300


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Workspace:
    root = tmp_path_factory.mktemp("s21-floats")
    ws = make_workspace(root / "ws")
    # cs-firm receives every order: every row of the table was released
    release(shop.head(ORDERS), recipient="cs-firm", workspace=ws, out=root / "cs.parquet")
    return ws


def _excel(order_id: str) -> int:
    """The order number as a spreadsheet keeps it: its first 15 significant digits."""
    return round(int(order_id), 15 - len(order_id))


RENDERINGS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    # pandas / Polars wrote a float64 column: 1.1621109123681298e+17, 5276192771718883.0
    "float64 column": lambda t: t.with_columns(pl.col("order_id").cast(pl.Float64)),
    # Excel / WPS saved the sheet as CSV: 1.16211091236813E+17
    "spreadsheet, exponent": lambda t: t.with_columns(
        pl.Series("order_id", [f"{float(_excel(v)):.14E}" for v in t.get_column("order_id")])
    ),
    # the same cells shown as digits (a wide column): 116211091236813000
    "spreadsheet, digits": lambda t: t.with_columns(
        pl.Series("order_id", [str(_excel(v)) for v in t.get_column("order_id")])
    ),
    # a float column made integers again (int(x) in pandas): 116211091236812992
    "float made integer": lambda t: t.with_columns(
        pl.Series("order_id", [str(int(float(v))) for v in t.get_column("order_id")])
    ),
}


def _values(path: Path) -> set[str]:
    from leaktrace.io import read_table

    return {v for v in read_table(path).get_column("order_id").to_list() if v}


def _says_floats(line: str, path: Path, ws: Workspace) -> None:
    unmatched = exposed(ws, path, recipients=["cs-firm"]).unmatched
    assert unmatched > 0
    assert "leading zeros" not in line and "retyped" not in line, line
    assert "floating-point" in line and "export the order-number column as text" in line, line
    assert f"{unmatched:,} released rows" in line, line
    # it shows one of the table's own order numbers as the table reads it
    assert any(v in line for v in _values(path)), line


@pytest.mark.parametrize("rendering", list(RENDERINGS))
def test_a_csv_of_float_order_numbers_is_said_to_be_floats(
    ws: Workspace, shop: pl.DataFrame, tmp_path: Path, rendering: str
) -> None:
    table = tmp_path / "orders.csv"
    RENDERINGS[rendering](shop.head(ORDERS)).write_csv(table)
    out = tmp_path / "exposed.csv"
    for extra in ([], ["--json"]):
        r = run_cli(
            "exposed", str(table), "--to", "cs-firm", "--out", str(out), *extra, home=ws.home
        )
        _says_floats(one_error(r), table, ws)
        assert not out.exists() and not r.stdout.strip()


def test_an_xlsx_of_number_cells_is_said_to_be_floats(
    ws: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Number cells of a workbook: a double each, with the spreadsheet's 15 digits."""
    table = tmp_path / "orders.xlsx"
    numbers = [float(_excel(v)) for v in shop.head(ORDERS).get_column("order_id")]
    shop.head(ORDERS).with_columns(pl.Series("order_id", numbers)).write_excel(table, autofit=False)
    out = tmp_path / "exposed.csv"
    r = run_cli("exposed", str(table), "--to", "cs-firm", "--out", str(out), home=ws.home)
    _says_floats(one_error(r), table, ws)
    assert not out.exists()


def test_allow_incomplete_warns_of_the_floats_too(
    ws: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    table = tmp_path / "orders.csv"
    RENDERINGS["spreadsheet, exponent"](shop.head(ORDERS)).write_csv(table)
    out = tmp_path / "exposed.csv"
    args = ("exposed", str(table), "--to", "cs-firm", "--out", str(out), "--allow-incomplete")
    r = ok(run_cli(*args, home=ws.home))
    warning = next(line for line in r.stderr.splitlines() if line.startswith("warning:"))
    assert "incomplete" in warning and "floating-point" in warning, r.stderr
    assert "export the order-number column as text" in warning, r.stderr


def test_a_short_table_of_text_numbers_makes_no_claim_about_how_they_were_typed(
    ws: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Released orders missing from a table of good order numbers: neither floats nor
    leading zeros are the cause, and the message names neither."""
    table = tmp_path / "orders.csv"
    shop.head(100).write_csv(table)
    out = tmp_path / "exposed.csv"
    line = one_error(
        run_cli("exposed", str(table), "--to", "cs-firm", "--out", str(out), home=ws.home)
    )
    assert f"{ORDERS - 100} released rows match no order in {table}" in line, line
    assert "leading zeros" not in line and "retyped" not in line, line
    assert "floating" not in line and "--allow-incomplete" in line, line
    assert not out.exists()


def test_the_float_check_accuses_no_column_of_real_order_numbers() -> None:
    """Real 16–19 digit numbers: some end in zeros and some are exact doubles by chance,
    which alone says nothing; the renderings of the same numbers are recognised."""
    from leaktrace.respond.exposure import float_rendering

    rng = random.Random(21)
    shop = pl.Series([str(rng.randrange(10**15, 10**19)) for _ in range(1000)])
    below_2_53 = pl.Series([str(rng.randrange(10**15, 2**53)) for _ in range(1000)])
    ending_in_0 = [str(rng.randrange(10**14, 9 * 10**14)) + "0" for _ in range(2)]
    for ids in (
        shop,
        below_2_53,
        pl.Series(ending_in_0),  # two 16-digit numbers ending in 0: a 1 in 100 chance
        pl.Series([str(2**60)]),  # one number that is exactly a double
        pl.Series([f"{v}.0" for v in below_2_53]),  # floats, but exact: nothing was lost
        pl.Series(["20240601123456789012", "A123", "", None], dtype=pl.Utf8),
        pl.Series([], dtype=pl.Utf8),
    ):
        assert float_rendering(ids) is None, ids.head(5).to_list()
    excel = pl.Series([str(_excel(v)) for v in shop])
    assert float_rendering(excel) == excel[0]
    assert float_rendering(pl.Series([str(_excel(v)) for v in below_2_53])) is not None
    assert float_rendering(pl.Series([f"{_excel(v)}.0" for v in shop])) is not None
    made_int = pl.Series([str(int(float(v))) for v in shop])
    assert float_rendering(made_int) is not None
    assert float_rendering(pl.Series(["6.25412345678912E+17", None])) == "6.25412345678912E+17"
    assert float_rendering(shop.cast(pl.Float64)) is not None  # a float column itself
