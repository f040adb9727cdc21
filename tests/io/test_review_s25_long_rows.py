"""A CSV row with more fields than the header is refused for the platform's own data and
cut for a leaked file (session 25's review).

Read with Polars' ``truncate_ragged_lines``, one unquoted comma in a value (``Wang,
Xiaoming``, ``…478号,华星时代广场3单元502``) shifted the row's later values one column to
the right, and the release sent the street address as the product to customer service,
whose policy cuts addresses to the district, with exit 0 and no warning."""

from __future__ import annotations

from pathlib import Path

import pytest

import leaktrace
from conftest import run_cli
from leaktrace.errors import InputError
from leaktrace.io import open_table

HEADER = "订单号,下单时间,收货人,手机,收货地址,商品名称"


def _orders(tmp_path: Path, bad: int | None, rows: int = 50) -> Path:
    lines = [HEADER]
    for i in range(rows):
        name = "Wang, Xiaoming" if i == bad else "王小明"  # an exporter that did not quote
        lines.append(
            f"2024110{i:011d},2024-11-11 10:{i % 60:02d}:00,{name},138{i:08d},"
            "浙江省杭州市西湖区文三路478号华星时代广场3单元502,兰蔻小黑瓶精华肌底液50ml"
        )
    src = tmp_path / "orders.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return src


@pytest.fixture
def ws(tmp_path: Path) -> leaktrace.Workspace:
    w = leaktrace.init_workspace(tmp_path / "ws")
    leaktrace.add_recipient(w, "cs", template="customer-service")
    return w


# in the head the roles are read from, its last row, and far past it: the release reads only
# its columns, and a scan of some columns does not check a row's width (the final review:
# a shifted row at line 19,991 of 20,000 went out as read)
@pytest.mark.parametrize("bad", [7, 49, 4321])
def test_a_long_row_is_refused_naming_its_line(
    ws: leaktrace.Workspace, tmp_path: Path, bad: int
) -> None:
    src = _orders(tmp_path, bad, rows=5000)
    with pytest.raises(InputError, match=rf"line {bad + 2}: 7 fields where the first row has 6"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()
    r = run_cli("release", str(src), "--to", "cs", "--out", str(tmp_path / "c.csv"), home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"line {bad + 2}: 7 fields" in r.stderr and "Xiaoming" not in r.stderr


def test_quoted_commas_and_short_rows_are_read(ws: leaktrace.Workspace, tmp_path: Path) -> None:
    src = _orders(tmp_path, None)
    text = src.read_text(encoding="utf-8").replace("王小明", '"Wang, Xiaoming"', 1)
    src.write_text(text + "2024110099999999999,2024-11-11 11:00:00,李四\n", encoding="utf-8")
    res = leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert res.rows - res.canaries == 51


def test_a_leaked_file_is_read_as_found(tmp_path: Path) -> None:
    """Evidence is what was found: a trace cuts the long row instead of refusing the file."""
    src = _orders(tmp_path, 7)
    with open_table(src, cut_long_rows=True) as table:
        assert table.read().height == 50
    with pytest.raises(InputError, match="line 9"), open_table(src) as table:
        table.read()


def test_rows_that_end_in_a_stray_delimiter_are_refused_too(
    ws: leaktrace.Workspace, tmp_path: Path
) -> None:
    """Rows are counted, not judged by content: a row shifted by an unquoted comma whose
    last value was empty looks like a row ending in a stray delimiter, so both are refused.
    Accepting empty extra fields let shifted rows through (session 25's second final
    review: after one such first row, a later shifted row; a bare carriage return the
    line check reads as two rows)."""
    src = _orders(tmp_path, None, rows=300)
    lines = src.read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join([lines[0]] + [f"{x}," for x in lines[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: 7 fields where the first row has 6"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    shifted = lines[:]
    shifted[200] = shifted[200].replace("王小明", "Wang, Xiaoming", 1).replace("精华", "精\r华", 1)
    src.write_bytes(("\n".join(shifted) + "\n").encode("utf-8"))
    with pytest.raises(InputError):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()
