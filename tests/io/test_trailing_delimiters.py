"""A CSV whose data rows (not its header) each end in a delimiter, as some shop and ERP
exports write them, is read as the same table without that empty last field; a row of
such a file that is wider, or holds a value in that field, is refused naming its line.

Before session 27 the whole file was refused at line 2 ("15 fields where the first row has
14"): every row with a field past the header was treated as shifted by an unquoted comma
(session 25's review), which a file of only such rows is not."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lt_orders import make_orders

import leaktrace
from conftest import run_cli
from leaktrace.errors import InputError
from leaktrace.io import open_table
from leaktrace.io.readers import header_of_trailing_rows
from leaktrace.ledger import Ledger


def _csv(rows: list[list[str]], sep: str = ",", trailing: bool = True) -> str:
    """``rows`` (the first the header) as CSV; data rows end in ``sep`` when ``trailing``."""
    out = []
    for i, row in enumerate(rows):
        buf = io.StringIO()
        csv.writer(buf, delimiter=sep, lineterminator="").writerow(row)
        out.append(buf.getvalue() + (sep if trailing and i else ""))
    return "\n".join(out) + "\n"


def _orders(n: int) -> list[list[str]]:
    df = make_orders(n)
    return [df.columns, *[[str(v) for v in r] for r in df.iter_rows()]]


def _read(path: Path, **kw: object) -> pl.DataFrame:
    with open_table(path, **kw) as table:  # type: ignore[arg-type]
        return table.read()


@pytest.fixture
def ws(tmp_path: Path) -> leaktrace.Workspace:
    w = leaktrace.init_workspace(tmp_path / "ws")
    leaktrace.add_recipient(w, "cs", template="customer-service")
    return w


@pytest.mark.parametrize(
    ("encoding", "sep", "bom"),
    [("utf-8", ",", False), ("utf-8", ",", True), ("gbk", ",", False), ("gb18030", "\t", False)],
)
def test_reads_as_the_same_table_without_the_delimiters(
    tmp_path: Path, encoding: str, sep: str, bom: bool
) -> None:
    rows = _orders(300)
    plain, trailing = tmp_path / "plain.csv", tmp_path / "trailing.csv"
    head = "\ufeff" if bom else ""
    plain.write_bytes((head + _csv(rows, sep, trailing=False)).encode(encoding))
    trailing.write_bytes((head + _csv(rows, sep)).encode(encoding))
    expected = _read(plain)
    assert expected.height == 300
    assert _read(trailing).equals(expected)


def test_a_release_of_such_a_file_goes_through(ws: leaktrace.Workspace, tmp_path: Path) -> None:
    src = tmp_path / "orders.csv"
    src.write_text(_csv(_orders(200)), encoding="utf-8")
    res = leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert res.rows - res.canaries == 200
    out = pl.read_csv(tmp_path / "cs.csv", infer_schema=False)
    assert not [c for c in out.columns if c.startswith(("column_", "\x00"))]


def _rows_with(line: int, fix: str, n: int = 3000) -> str:
    """A trailing-delimiter file of ``n`` rows whose ``line`` (1-based, header = 1) is
    altered: ``wide`` an unquoted comma in its address, ``value`` text in its last field,
    ``short`` no final delimiter."""
    text = _csv(_orders(n)).splitlines()
    row = text[line - 1]
    if fix == "wide":
        row = row.replace("号", "号,", 1)
    elif fix == "value":
        row += "备注"
    else:
        row = row.removesuffix(",")
    text[line - 1] = row
    return "\n".join(text) + "\n"


# in the sample the trailing delimiters are found from, and far past it (a batch)
@pytest.mark.parametrize("line", [9, 2500])
@pytest.mark.parametrize(
    ("fix", "says"),
    [("wide", "fields where the other rows have"), ("value", "a value past the header's")],
)
def test_a_wider_row_or_a_value_in_the_last_field_is_refused_naming_its_line(
    ws: leaktrace.Workspace, tmp_path: Path, line: int, fix: str, says: str
) -> None:
    src = tmp_path / "orders.csv"
    src.write_text(_rows_with(line, fix), encoding="utf-8")
    with pytest.raises(InputError, match=rf"line {line}: .*{says}"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()
    r = run_cli("release", str(src), "--to", "cs", "--out", str(tmp_path / "c.csv"), home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"line {line}: " in r.stderr and "备注" not in r.stderr
    assert not (tmp_path / "c.csv").exists()
    assert Ledger(ws).entries() == []


def test_a_row_without_the_final_delimiter_reads_as_a_short_row(tmp_path: Path) -> None:
    src, plain = tmp_path / "orders.csv", tmp_path / "plain.csv"
    src.write_text(_rows_with(40, "short", n=100), encoding="utf-8")
    plain.write_text(_csv(_orders(100), trailing=False), encoding="utf-8")
    assert _read(src).equals(_read(plain))


def test_a_leaked_file_is_read_as_found(tmp_path: Path) -> None:
    """A trace cuts what a release refuses: the wide row's last field is lost, nothing else."""
    src = tmp_path / "leak.csv"
    src.write_text(_rows_with(9, "value", n=100), encoding="utf-8")
    got = _read(src, cut_long_rows=True)
    plain = tmp_path / "plain.csv"
    plain.write_text(_csv(_orders(100), trailing=False), encoding="utf-8")
    assert got.equals(_read(plain))


def test_a_shifted_row_with_a_bare_carriage_return_is_still_refused(
    ws: leaktrace.Workspace, tmp_path: Path
) -> None:
    """Session 25's second review's row (an unquoted comma, and a bare CR the line check
    reads as a line break), in a file of trailing delimiters."""
    lines = _csv(_orders(300)).splitlines()
    lines[200] = lines[200].replace("号", "号,", 1).replace("号", "\r号", 1)
    src = tmp_path / "orders.csv"
    src.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    with pytest.raises(InputError):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()


def test_only_a_file_of_such_rows_is_read_so() -> None:
    """One or a few rows with an empty extra field are what an unquoted comma in a value
    makes: no trailing-delimiter reading for them (they are refused by their line)."""
    rows = _orders(20)
    assert header_of_trailing_rows(_csv(rows), ",") == rows[0]
    assert header_of_trailing_rows(_csv(rows, trailing=False), ",") is None
    some = _csv(rows, trailing=False).splitlines()
    some[3] += ","
    assert header_of_trailing_rows("\n".join(some) + "\n", ",") is None
    # a header ending in the delimiter too: the widths agree, nothing to do
    assert header_of_trailing_rows("a,b,\n1,2,\n", ",") is None
    # a header spanning two lines cannot be skipped by counting lines
    assert header_of_trailing_rows('"a\nx",b\n1,2,\n', ",") is None


_cell = st.text(
    alphabet=st.sampled_from(list('张王李浙江省杭州市0123456789abc ,"-号楼')), max_size=12
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.lists(st.lists(_cell, min_size=3, max_size=3), min_size=1, max_size=30),
    sep=st.sampled_from([",", "\t", ";"]),
)
def test_property_trailing_delimiters_change_nothing(
    tmp_path: Path, body: list[list[str]], sep: str
) -> None:
    """Any table written with and without trailing delimiters reads the same, raw."""
    rows = [["收货人", "收货地址", "备注"], *body]
    plain, trailing = tmp_path / "p.csv", tmp_path / "t.csv"
    plain.write_text(_csv(rows, sep, trailing=False), encoding="utf-8")
    trailing.write_text(_csv(rows, sep), encoding="utf-8")
    try:
        with open_table(plain) as table:
            expected = pl.concat(list(table.iter_raw_batches()))
    except InputError:  # what the plain file cannot be read as, the other is not tested on
        return
    with open_table(trailing) as table:
        assert table.has_header
        got = pl.concat(list(table.iter_raw_batches()))
    assert got.equals(expected)
