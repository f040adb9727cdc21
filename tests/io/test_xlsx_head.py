"""The first rows of an XLSX are read without reading the workbook whole (``--max-rows``,
the sample roles are inferred from), and are exactly the start of a whole read."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from lt_orders import make_orders

import leaktrace.io.readers as readers
from leaktrace.errors import InputError
from leaktrace.io import open_table, read_table

ROWS = 1200
"""More than the sample roles are inferred from (1000 rows): that sample is a head too."""


@pytest.fixture(autouse=True)
def cut_small_sheets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut even these small sheets (a sheet under 2 MB of XML is otherwise read whole)."""
    monkeypatch.setattr(readers, "_XLSX_CUT_FROM", 0, raising=False)


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return make_orders(ROWS, seed=7)


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory, orders: pl.DataFrame) -> Path:
    p = tmp_path_factory.mktemp("xlsx") / "leak.xlsx"
    orders.write_excel(p)
    return p


@pytest.fixture(scope="module")
def headerless(tmp_path_factory: pytest.TempPathFactory, orders: pl.DataFrame) -> Path:
    p = tmp_path_factory.mktemp("xlsx") / "noheader.xlsx"
    orders.write_excel(p, include_header=False)
    return p


@pytest.fixture(scope="module")
def whole_reads() -> dict[Path, pl.DataFrame]:
    """``read_table`` of each workbook, read once for all the heads compared with it."""
    return {}


def _rewrite_sheet(src: Path, dst: Path, edit: Any) -> None:
    """``src`` with its first sheet's XML passed through ``edit``."""
    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


@pytest.mark.parametrize("which", ["workbook", "headerless"])
@pytest.mark.parametrize("n", [1, 60, 999, 1000, ROWS - 1, ROWS, ROWS + 1, 5000])
def test_read_head_is_the_start_of_read(
    request: pytest.FixtureRequest, whole_reads: dict[Path, pl.DataFrame], which: str, n: int
) -> None:
    """Exactly the first ``n`` rows of a whole read; ``truncated`` iff the file holds more."""
    p: Path = request.getfixturevalue(which)
    if p not in whole_reads:
        whole_reads[p] = read_table(p)
    whole = whole_reads[p]
    assert whole.height == ROWS
    with open_table(p, batch_rows=n + 1) as src:
        head, more = src.read_head(n)
    assert head.equals(whole.head(n))
    assert more is (n < ROWS)


def test_a_head_never_reads_the_workbook_whole(
    workbook: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening (header sniffing, the role sample) and ``read_head`` read a cut copy of the
    workbook, never the workbook itself, and the copy holds about the rows asked for."""
    read_excel = pl.read_excel
    sources: list[Path] = []
    heights: list[int] = []

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        sources.append(Path(source))
        df = read_excel(source, *args, **kwargs)
        heights.append(df.height)
        return df

    monkeypatch.setattr(pl, "read_excel", spy)
    with open_table(workbook, batch_rows=51) as src:
        head, more = src.read_head(50)
    assert head.height == 50 and more
    assert sources and workbook not in sources
    assert all(s.stat().st_size < workbook.stat().st_size for s in sources if s.exists())
    assert max(heights) <= 1000 + 2  # the role sample, one spare row: not 1200
    assert heights[-1] <= 50 + 2  # read_head: n + 1 rows, one spare


def test_later_rows_are_never_read(workbook: Path, tmp_path: Path) -> None:
    """A cell past the first rows that calamine cannot read stops a whole read, not a head."""
    bad = tmp_path / "bad.xlsx"

    def damage(xml: bytes) -> bytes:
        out, n = re.subn(rb'(<c r="A1150"[^>]*t="s"[^>]*><v>)\d+', rb"\g<1>99999999", xml)
        assert n == 1
        return out

    _rewrite_sheet(workbook, bad, damage)
    with pytest.raises(InputError, match="cannot read workbook"):
        read_table(bad)
    with open_table(bad, batch_rows=101) as src:
        head, more = src.read_head(100)
    assert more
    assert head.equals(read_table(workbook).head(100))


def test_empty_rows_do_not_count(tmp_path: Path) -> None:
    """Gaps and formatted empty rows are dropped as in a whole read: a head of the last
    data row is not truncated even when thousands of empty formatted rows follow it."""
    p = tmp_path / "gaps.xlsx"
    orders = make_orders(60, seed=3)
    wb = xlsxwriter.Workbook(str(p))
    ws = wb.add_worksheet()
    fmt = wb.add_format({"bold": True})
    ws.write_row(0, 0, orders.columns)
    r = 1
    for i, row in enumerate(orders.iter_rows()):
        r += 2 if i % 7 == 3 else 0  # a gap of two rows now and then
        if i % 11 == 5:
            ws.set_row(r, 18, fmt)  # a formatted row with no cells
            r += 1
        ws.write_row(r, 0, row)
        r += 1
    for k in range(3000):
        ws.set_row(r + k, 18, fmt)
    wb.close()
    whole = read_table(p)
    assert whole.height == 60
    for n, truncated in [(10, True), (59, True), (60, False), (61, False)]:
        with open_table(p, batch_rows=n + 1) as src:
            head, more = src.read_head(n)
        assert head.equals(whole.head(n)), n
        assert more is truncated, n


def test_columns_that_start_late_line_up(tmp_path: Path) -> None:
    """Headerless, a column that holds nothing in the first rows (right-most: the head has
    it empty; left of all others: the workbook is read whole) is where a whole read has it."""
    orders = make_orders(1100, seed=9)
    right = tmp_path / "right.xlsx"
    late = orders.with_columns(
        pl.when(pl.int_range(pl.len()) < 500).then(None).otherwise(pl.col("邮箱")).alias("邮箱")
    )
    late.write_excel(right, include_header=False)
    left = tmp_path / "left.xlsx"
    wb = xlsxwriter.Workbook(str(left))
    ws = wb.add_worksheet()
    for i, row in enumerate(orders.iter_rows()):
        ws.write_row(i, 1, row)  # from column B
    ws.write(1050, 0, "备注")  # one cell in column A, far down
    wb.close()
    for p in (right, left):
        whole = read_table(p)
        for n in (5, 600):
            with open_table(p, batch_rows=n + 1) as src:
                head, more = src.read_head(n)
            assert more and head.equals(whole.head(n)), (p.name, n)


@pytest.mark.parametrize("chunk", [7, 64, 4096])
def test_tags_cut_by_chunk_ends(
    workbook: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """The sheet and its shared strings are read in chunks: tags a chunk cuts in two count
    once (the reader's chunk size, shrunk)."""
    monkeypatch.setattr(readers, "_XLSX_CHUNK", chunk, raising=False)
    whole = read_table(workbook)
    reader = readers.ExcelReader(workbook, batch_rows=100)
    for n in (1, 37, 250):
        assert reader.head(n, has_header=True).equals(reader._load(True).head(n))
    with open_table(workbook, batch_rows=38) as src:
        head, more = src.read_head(37)
    assert more and head.equals(whole.head(37))


def test_prefixed_inline_and_hidden_first_sheet(tmp_path: Path, orders: pl.DataFrame) -> None:
    """Namespace-prefixed XML (x:row), inline strings (no shared-string table), a hidden
    first sheet before another: the head is still the start of the whole read."""
    inline = tmp_path / "inline.xlsx"
    wb = xlsxwriter.Workbook(str(inline), {"constant_memory": True})
    first = wb.add_worksheet("hidden")
    ws = wb.add_worksheet("other")
    ws.write(0, 0, "not this sheet")
    ws.activate()
    first.hide()
    first.write_row(0, 0, orders.columns)
    for i, row in enumerate(orders.iter_rows(), start=1):
        first.write_row(i, 0, row)
    wb.close()
    prefixed = tmp_path / "prefixed.xlsx"

    def prefix(xml: bytes) -> bytes:
        decl, rest = xml.split(b"?>", 1)
        rest = rest.replace(b'xmlns="', b'xmlns:x="', 1)
        return decl + b"?>" + re.sub(rb"<(/?)([A-Za-z])", rb"<\1x:\2", rest)

    _rewrite_sheet(inline, prefixed, prefix)
    expected = read_table(inline)
    assert expected.height == ROWS
    for p in (inline, prefixed):
        assert read_table(p).equals(expected)
        with open_table(p, batch_rows=43) as src:
            head, more = src.read_head(42)
        assert more and head.equals(expected.head(42)), p.name


def test_broken_and_empty_workbooks_still_say_so(tmp_path: Path) -> None:
    """A workbook that cannot be cut is read whole, with the one-line error of a whole read;
    a header and no rows is an empty head, not truncated."""
    empty = tmp_path / "empty.xlsx"
    xlsxwriter.Workbook(str(empty)).close()
    with pytest.raises(InputError, match=r"empty\.xlsx: cannot read workbook \(NoDataError\)$"):
        open_table(empty)
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    with pytest.raises(
        InputError, match=r"junk\.xlsx: cannot read workbook \(CalamineError\); the file is damaged"
    ):
        open_table(junk)
    header = tmp_path / "header.xlsx"
    wb = xlsxwriter.Workbook(str(header))
    wb.add_worksheet().write_row(0, 0, ["订单号", "手机"])
    wb.close()
    with open_table(header) as src:
        head, more = src.read_head(10)
    assert head.height == 0 and head.columns == ["order_id", "phone"] and not more
