"""TableWriter: atomic commit, digest, no partial files, and hypothesis round trips."""

from __future__ import annotations

import hashlib
import string
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leaktrace.errors import InputError
from leaktrace.io import TableWriter, read_table, write_table
from leaktrace.io.writers import XLSX_MAX_ROWS

# Characters GBK can encode: common hanzi, full-width forms, ASCII incl. CSV specials.
HANZI = (
    "张王李赵刘陈省市区县路号栋单元室农夫山泉口罩手机壳官方旗舰店【】（）《》，。、：；“”！？·－＃"
)
ALPHABET = HANZI + string.ascii_letters + string.digits + " ,;|\"'#*-()[]\n\t" + "１２３ＡＢ　"
text = st.text(alphabet=ALPHABET, min_size=1, max_size=30).filter(lambda s: s.strip() != "")

TEXT_ROLES = ["name", "phone", "address", "product", "merchant"]


@st.composite
def frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(min_value=1, max_value=25))
    cols: dict[str, list[object]] = {
        r: draw(st.lists(st.one_of(st.none(), text), min_size=n, max_size=n)) for r in TEXT_ROLES
    }
    # Keep at least one value per row so no data row is entirely empty.
    cols["order_id"] = [str(10**15 + i) for i in range(n)]
    cols["order_time"] = draw(
        st.lists(
            st.one_of(st.none(), st.datetimes(datetime(2000, 1, 1), datetime(2037, 1, 1))),
            min_size=n,
            max_size=n,
        )
    )
    df = pl.DataFrame(
        cols, schema={**{k: pl.String for k in cols}, "order_time": pl.Datetime("us")}
    )
    return df.select(["order_id", "order_time", *TEXT_ROLES]).with_columns(
        pl.col("order_time").dt.truncate("1s")
    )


def _round_trip(tmp_path: Path, df: pl.DataFrame, name: str, **kw: object) -> pl.DataFrame:
    p = tmp_path / name
    p.unlink(missing_ok=True)
    digest = write_table(df, p, **kw)  # type: ignore[arg-type]
    assert digest == hashlib.sha256(p.read_bytes()).hexdigest()
    return read_table(p)


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("a.csv", {}),
        ("b.csv", {"bom": True}),
        ("c.csv", {"encoding": "gbk"}),
        ("d.csv", {"encoding": "gb18030"}),
        ("e.parquet", {}),
        ("f.jsonl", {}),
    ],
)
@SETTINGS
@given(df=frames())
def test_round_trip(tmp_path: Path, name: str, kw: dict[str, object], df: pl.DataFrame) -> None:
    if kw.get("encoding") in ("gbk", "gb18030"):
        # GB bytes that are also valid UTF-8 (泉 is C8 AA in GB18030, which is UTF-8 for Ȫ)
        # cannot be told apart: detection reads them as UTF-8. Real files, with Chinese
        # headers or more than a few characters, are not (tests/io/test_io_readers.py).
        encoded = df.write_csv().encode(str(kw["encoding"]))
        assume(not (_decodes_as_utf8(encoded) and not encoded.isascii()))
    assert _round_trip(tmp_path, df, name, **kw).equals(df)


def _decodes_as_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(df=frames())
def test_round_trip_xlsx(tmp_path: Path, df: pl.DataFrame) -> None:
    # XLSX stores "\r\n"/leading-trailing whitespace faithfully; calamine reads it back.
    assert _round_trip(tmp_path, df, "g.xlsx").equals(df)


def test_exception_leaves_no_file(tmp_path: Path) -> None:
    p = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), TableWriter(p) as w:
        w.write(pl.DataFrame({"a": ["x"]}))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_abort_keeps_previous_file(tmp_path: Path) -> None:
    p = tmp_path / "out.parquet"
    write_table(pl.DataFrame({"a": ["old"]}), p)
    before = p.read_bytes()
    w = TableWriter(p)
    w.write(pl.DataFrame({"a": ["new"]}))
    w.abort()
    assert p.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == ["out.parquet"]


def test_batches_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "out.csv"
    with TableWriter(p, bom=True) as w:
        w.write(pl.DataFrame({"手机": ["13812345678"]}))
        w.write(pl.DataFrame({"手机": ["13912345678"]}))
        digest = w.commit()
    raw = p.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count("手机".encode()) == 1
    assert digest == w.sha256 and w.rows == 2


def test_gbk_unencodable_is_input_error(tmp_path: Path) -> None:
    p = tmp_path / "out.csv"
    with (
        pytest.raises(InputError, match="cannot encode") as ei,
        TableWriter(p, encoding="gbk") as w,
    ):
        w.write(pl.DataFrame({"a": ["ok", "emoji 😀"]}))
    assert "😀" not in str(ei.value) and "\n" not in str(ei.value)
    assert not p.exists()


def test_xlsx_row_limit(tmp_path: Path) -> None:
    w = TableWriter(tmp_path / "big.xlsx")
    w.write(pl.DataFrame({"a": ["x"] * 10}))
    w.rows = XLSX_MAX_ROWS - 5  # pretend; avoids building a million-row frame
    with pytest.raises(InputError, match="XLSX"):
        w.write(pl.DataFrame({"a": ["x"] * 10}))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        TableWriter(tmp_path / "x.doc")


def test_parquet_in_several_batches(tmp_path: Path) -> None:
    """A release streams batches into one Parquet file; the schema of the first wins."""
    import polars as pl

    from leaktrace.io.writers import TableWriter

    p = tmp_path / "multi.parquet"
    with TableWriter(p, "parquet") as w:
        for i in range(3):
            w.write(pl.DataFrame({"a": [i, i + 1], "b": ["张三", None]}))
    back = pl.read_parquet(p)
    assert back.height == 6 and back.columns == ["a", "b"]


def test_parquet_dictionary_only_for_repetitive_columns(tmp_path: Path) -> None:
    """Near-unique columns are written plain, repetitive ones with a dictionary, judged on
    the first batch; both read back unchanged, as plain strings."""
    import pyarrow.parquet as pq

    n = 4000
    first = pl.DataFrame(
        {
            "order_id": [str(10**17 + 7 * i) for i in range(n)],
            "courier": [["中通快递", "顺丰速运", "韵达快递"][i % 3] for i in range(n)],
        }
    )
    # a later batch where the order ids repeat does not change the decision
    later = pl.DataFrame({"order_id": ["1"] * n, "courier": [str(i) for i in range(n)]})
    p = tmp_path / "dict.parquet"
    with TableWriter(p, "parquet") as w:
        w.write(first)
        w.write(later)
    meta = pq.ParquetFile(p).metadata
    for rg in range(meta.num_row_groups):
        chunks = {meta.schema.column(i).name: meta.row_group(rg).column(i) for i in range(2)}
        assert chunks["order_id"].dictionary_page_offset is None
        assert chunks["courier"].dictionary_page_offset is not None
    assert pl.read_parquet(p).equals(pl.concat([first, later]))
    # written from Polars' string views, read back by pyarrow as plain Parquet strings
    import pyarrow as pa

    assert pq.read_schema(p).field("order_id").type == pa.string()


def test_parquet_statistics_for_times_and_numbers_only(tmp_path: Path) -> None:
    """Row-group min/max are written for times and numbers (what range filters use), not
    for text; the values read back unchanged either way."""
    import pyarrow.parquet as pq

    df = pl.DataFrame(
        {
            "order_id": ["1234567890123456", "2234567890123456"],
            "order_time": [datetime(2024, 6, 1, 8), datetime(2024, 6, 2, 9)],
            "name": ["张*", "李**"],
            "quantity": [1, 3],
        }
    )
    p = tmp_path / "stats.parquet"
    write_table(df, p)
    rg = pq.ParquetFile(p).metadata.row_group(0)
    stats = {rg.column(i).path_in_schema: rg.column(i).statistics for i in range(df.width)}
    assert stats["order_id"] is None and stats["name"] is None
    times = stats["order_time"]
    assert times is not None and times.has_min_max
    assert (times.min, times.max) == (datetime(2024, 6, 1, 8), datetime(2024, 6, 2, 9))
    quantity = stats["quantity"]
    assert quantity is not None and (quantity.min, quantity.max) == (1, 3)
    assert pl.read_parquet(p).equals(df)


def test_parquet_nested_categorical_and_enum_columns(tmp_path: Path) -> None:
    """Any Polars frame can be written: lists and structs (which Polars cannot count for a
    dictionary), categoricals and enums (written as plain strings), in several batches."""
    frame = pl.DataFrame(
        {
            "items": [[1, 2], [3], []],
            "courier": pl.Series(["中通快递", "顺丰速运", "中通快递"], dtype=pl.Categorical),
            "level": pl.Series(["省", "市", "区"], dtype=pl.Enum(["省", "市", "区"])),
            "meta": [{"x": 1}, {"x": 2}, {"x": None}],
            "amount": [1.5, None, 3.0],
        }
    )
    p = tmp_path / "mixed.parquet"
    with TableWriter(p, "parquet") as w:
        w.write(frame)
        w.write(frame)
    back = pl.read_parquet(p)
    expected = pl.concat([frame, frame]).with_columns(pl.col("courier", "level").cast(pl.String))
    assert back.equals(expected)


def test_csv_refuses_nested_columns_by_name(tmp_path: Path) -> None:
    frame = pl.DataFrame({"items": [[1, 2], [3]], "name": ["张三", "李四"]})
    with pytest.raises(InputError, match="nested column\\(s\\) items"):
        write_table(frame, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_write_together_leaves_nothing_when_one_output_cannot_be_written(tmp_path: Path) -> None:
    """Several outputs of one command: all of them or none (an old file stays as it was)."""
    from leaktrace.io.writers import TableWriter, write_together

    old = tmp_path / "notice.txt"
    old.write_text("earlier notice", encoding="utf-8")
    table = tmp_path / "list.csv"
    with TableWriter(table) as writer:
        writer.write(pl.DataFrame({"a": ["1"]}))
        writer.finish()
        with pytest.raises(InputError, match="missing"):
            write_together(
                [(old, b"new notice"), (tmp_path / "missing" / "b.json", b"{}")],
                finished=[writer],
            )
    assert not table.exists()
    assert old.read_text(encoding="utf-8") == "earlier notice"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notice.txt"]
    write_together([(old, b"new notice")])
    assert old.read_bytes() == b"new notice"
