"""Session 27's review of CSV rows with a field too many.

* A last row shifted by an unquoted comma, whose last value was empty, in a file without a
  final line break, was released shifted: Polars drops a last empty field at the very end
  of a file, so the row read as one of the header's width (its address fragment went out
  as the product to a partner whose policy cuts addresses to the district). Such a file
  is now read from a copy with the line break added.
* A file whose every data row has one empty field more than the header is refused as
  before (it may be an export ending rows in a delimiter, or every row shifted: a
  one-row file shifted so was read as the former and released shifted by a draft that
  accepted such files); the message now says both.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leaktrace
from conftest import run_cli
from leaktrace.errors import InputError
from leaktrace.io import open_table

HEADER = "订单号,下单时间,收货人,手机,收货地址,商品名称"


def _row(i: int, address: str = "浙江省杭州市西湖区文三路1号华星时代广场3单元502") -> str:
    return f"2024110{i:011d},2024-11-11 10:{i % 60:02d}:00,王小明,138{i:08d},{address},口罩"


SHIFTED_EMPTY = (
    "2024110099999999999,2024-11-11 11:00:00,李四,13800000002,"
    "浙江省杭州市西湖区文三路2号,华星时代广场3单元502,"
)
"""An address with an unquoted comma and an empty product: 7 fields, the last empty."""


@pytest.fixture
def ws(tmp_path: Path) -> leaktrace.Workspace:
    w = leaktrace.init_workspace(tmp_path / "ws")
    leaktrace.add_recipient(w, "cs", template="customer-service")
    return w


@pytest.mark.parametrize("rows", [1, 40, 3000])
@pytest.mark.parametrize("newline", ["", "\n", "\r\n"])
def test_a_shifted_last_row_is_refused_with_or_without_a_final_line_break(
    ws: leaktrace.Workspace, tmp_path: Path, rows: int, newline: str
) -> None:
    src = tmp_path / "orders.csv"
    eol = newline or "\n"
    lines = [HEADER, *(_row(i) for i in range(rows)), SHIFTED_EMPTY]
    src.write_bytes((eol.join(lines) + newline).encode("utf-8"))
    last = rows + 2
    with pytest.raises(InputError, match=rf"line {last}: 7 fields where the first row has 6"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()
    r = run_cli("release", str(src), "--to", "cs", "--out", str(tmp_path / "c.csv"), home=ws.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"line {last}: 7 fields" in r.stderr and "华星" not in r.stderr
    # a leaked file is read as found: the row is cut, not refused
    with open_table(src, cut_long_rows=True) as table:
        assert table.read().height == rows + 1


@pytest.mark.parametrize(
    ("header", "last"),
    [
        # the last record spans two lines (a quoted line break in its name)
        (HEADER, SHIFTED_EMPTY.replace("李四", '"李\n四"')),
        # a stray quote (an inch mark) on the last line
        (HEADER + ",备注", SHIFTED_EMPTY + '戴尔27"显示器,'),
        # the header spans two lines
        (HEADER.replace("收货人", '"收货\n人"'), SHIFTED_EMPTY),
    ],
)
def test_a_shifted_last_row_is_refused_whatever_its_last_line_holds(
    ws: leaktrace.Workspace, tmp_path: Path, header: str, last: str
) -> None:
    """The second review: a check of the last line alone passed these; the file is now
    read as if it ended in a line break, which is how Polars refuses them."""
    src = tmp_path / "orders.csv"
    src.write_text("\n".join([header, _row(0), _row(1), last]), encoding="utf-8")
    with pytest.raises(InputError, match=r"fields where the first row has"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert not (tmp_path / "cs.csv").exists()


def test_rows_that_all_end_in_an_empty_field_are_refused_saying_what_they_may_be(
    ws: leaktrace.Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "orders.csv"
    for body in ([SHIFTED_EMPTY], [f"{_row(i)}," for i in range(200)]):
        src.write_text("\n".join([HEADER, *body]) + "\n", encoding="utf-8")
        with pytest.raises(InputError, match="every data row has that one field more") as err:
            leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
        assert "line 2: 7 fields where the first row has 6" in str(err.value)
    # one row of another width: the usual message, naming the first long row
    src.write_text("\n".join([HEADER, _row(0), SHIFTED_EMPTY, f"{_row(2)},"]) + "\n", "utf-8")
    with pytest.raises(InputError, match=r"line 3: 7 fields .*\(a delimiter inside a value"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")


def test_a_last_line_without_a_line_break_is_read_when_it_fits(tmp_path: Path) -> None:
    """No false refusals: a last row of the header's width, a quoted comma, a quoted value
    spanning lines, a short last row."""
    ends = [
        _row(7),
        _row(7, '"浙江省杭州市西湖区文三路1号,华星时代广场3单元502"'),
        _row(7, '"浙江省杭州市\n西湖区文三路1号"'),
        "2024110099999999999,2024-11-11 11:00:00,李四",
    ]
    for end in ends:
        src = tmp_path / "orders.csv"
        src.write_text("\n".join([HEADER, _row(0), end]), encoding="utf-8")
        with open_table(src) as table:
            assert table.read().height == 2


_cell = st.text(alphabet=st.sampled_from(list('张王李浙江省杭州市0123456789ab ,"-号')), max_size=10)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.lists(st.lists(_cell, min_size=3, max_size=3), min_size=1, max_size=20),
    sep=st.sampled_from([",", "\t", ";"]),
)
def test_property_a_final_line_break_changes_nothing(
    tmp_path: Path, body: list[list[str]], sep: str
) -> None:
    """Any properly quoted table reads the same with and without a final line break."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(
        [["收货人", "收货地址", "备注"], *body]
    )
    text = buf.getvalue()
    ended, open_end = tmp_path / "a.csv", tmp_path / "b.csv"
    ended.write_text(text, encoding="utf-8")
    open_end.write_text(text.removesuffix("\n"), encoding="utf-8")
    try:
        with open_table(ended) as table:
            expected = pl.concat(list(table.iter_raw_batches()))
    except InputError:
        return
    with open_table(open_end) as table:
        assert pl.concat(list(table.iter_raw_batches())).equals(expected)


@pytest.mark.parametrize("lead", ["\n", "\r\n  \r\n", "\ufeff\n"])
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_blank_lines_before_the_header_are_skipped(
    ws: leaktrace.Workspace, tmp_path: Path, lead: str, encoding: str
) -> None:
    """A file opening with an empty line was refused ("line 2: 6 fields where the first
    row has 0"): asked whether its first row is a header, Polars read the empty line as
    that row. The lines are skipped; a shifted row is still named by its line in the file."""
    if encoding == "gbk" and lead.startswith("\ufeff"):
        return
    body = [HEADER, *(_row(i) for i in range(30))]
    src, plain = tmp_path / "orders.csv", tmp_path / "plain.csv"
    src.write_bytes((lead + "\n".join(body) + "\n").encode(encoding))
    plain.write_bytes(("\n".join(body) + "\n").encode(encoding))
    with open_table(src) as a, open_table(plain) as b:
        assert a.has_header and a.read().equals(b.read())
    res = leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs.csv")
    assert res.rows - res.canaries == 30
    body[20] = body[20].replace("1号", "1号,", 1)
    src.write_bytes((lead + "\n".join(body) + "\n").encode(encoding))
    line = lead.count("\n") + 21
    with pytest.raises(InputError, match=rf"line {line}: 7 fields where the first row has 6"):
        leaktrace.release(src, recipient="cs", workspace=ws, out=tmp_path / "cs2.csv")
