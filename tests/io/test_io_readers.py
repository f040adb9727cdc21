"""Readers: every format and encoding to the same role-named frame; streaming; sniffing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from lt_orders import ROLE_OF, make_orders

from leaktrace.errors import InputError
from leaktrace.io import open_table, read_frame, read_table
from leaktrace.io.readers import registered_formats, sniff_delimiter
from leaktrace.roles import Role

ROLE_ORDER = [r.value for r in Role if r.value in ROLE_OF.values()]


@pytest.fixture
def orders() -> pl.DataFrame:
    return make_orders(120)


def _expected(orders: pl.DataFrame) -> pl.DataFrame:
    out = orders.rename(ROLE_OF).select(ROLE_ORDER)
    return out.with_columns(
        pl.col("order_time").str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
    )


def _write_csv_bytes(df: pl.DataFrame, path: Path, encoding: str, sep: str = ",") -> None:
    path.write_bytes(df.write_csv(separator=sep).encode(encoding))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, orders: pl.DataFrame, encoding: str) -> None:
    p = tmp_path / "leak.csv"
    _write_csv_bytes(orders, p, encoding)
    with open_table(p) as src:
        assert src.format == "csv"
        assert src.encoding == {"gbk": "gb18030"}.get(encoding, encoding)
        assert src.unrecognised == []
        got = src.read()
    assert got.equals(_expected(orders))


@pytest.mark.parametrize("sep", [",", "\t", ";", "|"])
def test_delimiters_headerless_shuffled(tmp_path: Path, orders: pl.DataFrame, sep: str) -> None:
    cols = list(reversed(orders.columns))
    p = tmp_path / "dump.txt"
    p.write_text(orders.select(cols).write_csv(separator=sep, include_header=False))
    with open_table(p) as src:
        assert src.has_header is False
        got = src.read()
    assert got.equals(_expected(orders))


def test_sniffer_ignores_quoted_delimiters() -> None:
    text = 'a;b;c\n"x,y,z";2;3\n"p,q";5;6\n'
    assert sniff_delimiter(text) == ";"


def _write_as(orders: pl.DataFrame, p: Path, fmt: str) -> None:
    """``orders`` in format ``fmt`` (parquet, jsonl, xlsx, json, csv = GB18030, tsv-headerless)."""
    if fmt == "csv":
        _write_csv_bytes(orders, p, "gb18030")
    elif fmt == "tsv-headerless":
        p.write_text(orders.write_csv(separator="\t", include_header=False))
    elif fmt == "parquet":
        orders.write_parquet(p)
    elif fmt == "jsonl":
        orders.write_ndjson(p)
    elif fmt == "xlsx":
        orders.write_excel(p)
    else:
        orders.write_json(p)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "xlsx", "json"])
def test_other_formats(tmp_path: Path, orders: pl.DataFrame, fmt: str) -> None:
    p = tmp_path / f"leak.{fmt}"
    _write_as(orders, p, fmt)
    with open_table(p) as src:
        assert src.format == fmt
        got = src.read()
    assert got.equals(_expected(orders))


def test_xlsx_headerless(tmp_path: Path, orders: pl.DataFrame) -> None:
    p = tmp_path / "noheader.xlsx"
    orders.write_excel(p, include_header=False)
    assert read_table(p).equals(_expected(orders))


def test_batches_are_bounded_and_ordered(tmp_path: Path) -> None:
    df = make_orders(1000, seed=5)
    p = tmp_path / "big.csv"
    _write_csv_bytes(df, p, "gbk")
    with open_table(p, batch_rows=128) as src:
        sizes = [b.height for b in src.iter_batches()]
    assert max(sizes) <= 128 and sum(sizes) == 1000
    assert read_table(p, batch_rows=128).equals(_expected(df))


def test_order_time_formats(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        "下单时间,手机\n2024-09-12 14:03:27,13812345678\n2024/9/12 14:03,13812345678\n"
        "2024年9月12日 14:03:27,13812345678\n2024-09-12,13812345678\nbad,13812345678\n"
    )
    got = read_table(p)["order_time"].to_list()
    assert got == [
        datetime(2024, 9, 12, 14, 3, 27),
        datetime(2024, 9, 12, 14, 3),
        datetime(2024, 9, 12, 14, 3, 27),
        datetime(2024, 9, 12),
        None,
    ]


def test_junk_columns_dropped_and_values_untouched(tmp_path: Path) -> None:
    p = tmp_path / "j.csv"
    p.write_text('手机,备注,收货地址\n１３８ 1234 5678,"a,b",北京市朝阳区建国路８８号【3号楼】\n')
    with open_table(p) as src:
        assert src.unrecognised == ["备注"]
        got = src.read()
    assert got.columns == ["phone", "address"]
    assert got.row(0) == ("１３８ 1234 5678", "北京市朝阳区建国路８８号【3号楼】")


def test_columns_override(tmp_path: Path) -> None:
    p = tmp_path / "o.csv"
    p.write_text("a,b\n13812345678,foo\n")
    got = read_table(p, columns={"merchant": "b"})
    assert got.columns == ["phone", "merchant"]


def test_read_frame_polars_and_pandas(orders: pl.DataFrame) -> None:
    assert read_frame(orders).equals(_expected(orders))
    pd = pytest.importorskip("pandas")
    assert read_frame(pd.DataFrame(orders.to_dict(as_series=False))).equals(_expected(orders))


def test_registry_lists_formats() -> None:
    assert set(registered_formats()) >= {"csv", "xlsx", "parquet", "jsonl", "json"}


@pytest.mark.parametrize("fmt", ["csv", "tsv-headerless", "parquet", "jsonl", "xlsx"])
def test_projected_batches_equal_the_full_read(
    tmp_path: Path, orders: pl.DataFrame, fmt: str
) -> None:
    """``iter_batches(roles)``: exactly the wanted roles that exist, in role order, the same
    values as a full read, batches bounded — whether or not the format can skip columns."""
    p = tmp_path / f"leak.{fmt.split('-')[0]}"
    _write_as(orders, p, fmt)
    wanted = ["phone", "order_id", "no_such_role", "address"]
    with open_table(p, batch_rows=50) as src:
        parts = list(src.iter_batches(wanted))
    assert [b.height for b in parts] == [50, 50, 20]
    got = pl.concat(parts)
    assert got.columns == [r for r in ROLE_ORDER if r in wanted]
    assert got.equals(_expected(orders).select(got.columns))


def test_parquet_read_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.parquet"
    pl.DataFrame({"订单号": ["1234567890123456"], "手机": ["13812345678"]}).write_parquet(p)
    data = p.read_bytes()
    src = open_table(p)
    p.write_bytes(data[:4] + b"\0" * (len(data) - 8) + data[-4:])  # pages destroyed
    with pytest.raises(InputError, match=r"bad\.parquet: cannot read Parquet"):
        list(src.iter_batches())


def test_encoding_override_reads_what_detection_cannot_decide(tmp_path: Path) -> None:
    """泉 in GB18030 is C8 AA, which is also UTF-8 (Ȫ): detection says UTF-8, the caller
    who knows better says gb18030."""
    from leaktrace.io import read_table

    p = tmp_path / "short.csv"
    p.write_bytes("order_id,merchant\n1234567890123456,泉\n".encode("gb18030"))
    assert read_table(p)["merchant"].to_list() == ["Ȫ"]
    assert read_table(p, encoding="gb18030")["merchant"].to_list() == ["泉"]
    assert read_table(p, encoding="GBK")["merchant"].to_list() == ["泉"]  # read as GB18030
    j = tmp_path / "short.jsonl"
    j.write_bytes('{"order_id": "1234567890123456", "merchant": "泉"}\n'.encode("gb18030"))
    assert read_table(j, encoding="gb18030")["merchant"].to_list() == ["泉"]


def test_encoding_override_errors(tmp_path: Path, orders: pl.DataFrame) -> None:
    from leaktrace.errors import InputError
    from leaktrace.io import read_table

    p = tmp_path / "leak.csv"
    _write_csv_bytes(orders.head(20), p, "utf-8")
    with pytest.raises(InputError, match="unknown encoding 'latin-9x'"):
        read_table(p, encoding="latin-9x")
    q = tmp_path / "leak.parquet"
    orders.head(20).write_parquet(q)
    with pytest.raises(InputError, match="applies to CSV and JSON files, not parquet"):
        read_table(q, encoding="gbk")
    # UTF-8 Chinese is not GB18030: the override is taken at its word and fails loudly
    c = tmp_path / "utf8-chinese.csv"
    c.write_text("order_id,收货人\n1234567890123456,张三\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid gb18030"):
        read_table(c, encoding="gb18030")


def test_invalid_utf8_after_the_detection_sample_is_an_error(tmp_path: Path) -> None:
    """UTF-8 is detected from the first 256 KB; a bad byte after it is a clear error (it
    used to become U+FFFD in the released copy)."""
    from leaktrace.errors import InputError
    from leaktrace.io import read_table

    rows = "".join(f"{10**15 + i},张三{i}\n" for i in range(20_000))
    p = tmp_path / "late.csv"
    p.write_bytes(("order_id,name\n" + rows).encode("utf-8") + b"9999999999999999,\xff\xfe\n")
    assert p.stat().st_size > 256 * 1024
    with pytest.raises(InputError, match="not valid UTF-8 after the first 256 KB"):
        read_table(p)
    with pytest.raises(InputError, match=r"not valid UTF-8$"):
        read_table(p, encoding="utf-8")


def test_a_phone_written_as_a_float_reads_the_same_whatever_its_neighbours(
    tmp_path: Path,
) -> None:
    """The ``.0`` of a phone a spreadsheet wrote as a float (``13800138000.00``) was
    stripped only when some phone of the same batch ended in exactly ``.0``: one customer's
    phone, digested by a release and looked up by a trace or an exposure list, depended on
    which other rows shared its batch."""
    alone = pl.DataFrame({"手机": ["13800138000.00", "13900139000"], "订单号": ["1", "2"]})
    beside = pl.DataFrame({"手机": ["13800138000.00", "13900139000.0"], "订单号": ["1", "2"]})
    for name, df in (("alone", alone), ("beside", beside)):
        path = tmp_path / f"{name}.csv"
        df.write_csv(path)
        phones = read_table(path).get_column("phone").to_list()
        assert phones == ["13800138000", "13900139000"], (name, phones)
