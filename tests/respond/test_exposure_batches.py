"""``exposed`` reads the order table in batches and keeps only the rows that can be exposed
(session 18): its answer must be the whole table's, for every input, and a table that
breaks far into the file must still be one error with nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from conftest import make_workspace
from leaktrace.digest import keyed_digests
from leaktrace.io import read_frame, read_table, write_table
from leaktrace.io.readers import TableSource
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.respond import exposure
from leaktrace.respond.exposure import Exposure, exposed, order_spellings
from leaktrace.workspace import Workspace, open_workspace

INCIDENTS: list[dict[str, Any]] = [
    {"recipients": ["zto"]},
    {"recipients": ["zto", "cs-firm", "sms"]},
    {"recipients": ["sms"]},
    {"release_ids": "the oldest and the newest"},
]


class Released:
    """A workspace whose ledger holds releases of ``base`` (the first 600 orders of the
    shop): zto twice, cs-firm a slice, zto again with one order number carried for two
    people, and — after a key rotation — sms another slice; ``canaries``: order numbers
    of canary rows the copies carried (no one's order)."""

    def __init__(self, ws: Workspace, base: pl.DataFrame, canaries: list[str]) -> None:
        self.ws, self.base, self.canaries = ws, base, canaries


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Released:
    root = tmp_path_factory.mktemp("exposure-batches")
    ws = make_workspace(root / "ws")
    base = shop.head(600)
    zto = base.filter(pl.col("courier") == "中通快递")
    twin = zto.head(1).with_columns(
        pl.lit("张三").alias("name"), pl.lit("13900000000").alias("phone")
    )
    copies = []
    for i, (table, who) in enumerate(
        [
            (base, "zto"),
            (base, "zto"),
            (base.slice(0, 300), "cs-firm"),
            (pl.concat([base, twin]), "zto"),
        ]
    ):
        copies.append(root / f"r{i}.parquet")
        release(table, recipient=who, workspace=ws, out=copies[-1])
    ws.keys.rotate()
    ws = open_workspace(ws.home)
    copies.append(root / "sms.parquet")
    release(base.slice(100, 150), recipient="sms", workspace=ws, out=copies[-1])
    mine = set(base.get_column("order_id"))
    canaries = sorted(
        {o for p in copies for o in pl.read_parquet(p).get_column("order_id") if o not in mine}
    )
    assert canaries  # every release slots canary rows in
    return Released(ws, base, canaries)


def _incident(r: Released, i: int) -> dict[str, Any]:
    if "release_ids" in INCIDENTS[i]:
        entries = Ledger(r.ws).entries()
        return {"release_ids": [entries[0].release_id, entries[-1].release_id]}
    return INCIDENTS[i]


def every_spelling(df: pl.DataFrame, anchor_key: bytes) -> pl.DataFrame:
    """(row, anchor) of every distinct spelling of every row's order number, each row
    spelled three times (``_keyed_rows`` before session 18 spelled only some again)."""
    spellings = order_spellings(df.get_column("order_id"))
    parts = []
    for i, ids in enumerate(spellings):
        new = ids.is_not_null()
        for earlier in spellings[:i]:
            new = new & (ids != earlier).fill_null(True)
        part = pl.DataFrame({"row": df.get_column("row"), "id": ids}).filter(new)
        digests = keyed_digests({"a": (part.get_column("id"), anchor_key)}).get_column("a")
        parts.append(pl.DataFrame({"row": part.get_column("row"), "anchor": digests}))
    return pl.concat(parts)


def whole_table(ws: Workspace, table: pl.DataFrame, **incident: Any) -> Exposure:
    """The answer as ``exposed`` gave it before session 18: the whole (role-named) table
    held, every row's spellings digested, no row left out before the settling."""
    chosen = exposure._chosen(ws, incident.get("recipients"), incident.get("release_ids"), None)
    df = table.filter(pl.col("order_id").is_not_null())
    rows = df.with_row_index("row")
    keyed = {
        v: every_spelling(rows, ws.keys.derive("anchor", v))
        for v in {e.key_version for e in chosen}
    }
    return exposure._resolve(ws, df, keyed, chosen)


def _same(got: Exposure, want: Exposure) -> None:
    assert_frame_equal(got.rows, want.rows)
    assert got.unmatched == want.unmatched
    assert [e.release_id for e in got.releases] == [e.release_id for e in want.releases]


def platform_table(r: Released, shop: pl.DataFrame) -> pl.DataFrame:
    """The platform's table as it may come: some released orders gone, numbers listed
    twice (another person; no phone; two people neither of whom has the released phone),
    numbers retyped (full-width, "….0"), a canary's number, rows with no number, orders
    never released, shuffled."""
    base = r.base
    zto = base.filter(pl.col("courier") == "中通快递")
    moved = zto.slice(20, 2)  # the released person's phone is not in the table any more
    undecided = [
        moved.with_columns(pl.lit("13600000000").alias("phone")),
        moved.with_columns(pl.lit("13500000000").alias("phone")),
    ]
    impostors = zto.slice(3, 4).with_columns(
        pl.lit("李四").alias("name"), pl.lit("13700000000").alias("phone")
    )
    no_phone = zto.slice(10, 3).with_columns(pl.lit(None, dtype=pl.Utf8).alias("phone"))
    wide = base.slice(200, 20).with_columns(
        pl.col("order_id").str.replace_all("1", "１").str.replace_all("7", "７")
    )
    floats = base.slice(220, 20).with_columns(pl.col("order_id") + ".0")
    canary = base.slice(0, 2).with_columns(pl.Series("order_id", r.canaries[:2]))
    nameless = base.slice(250, 5).with_columns(pl.lit(None, dtype=pl.Utf8).alias("order_id"))
    kept = base.slice(0, 200).vstack(base.slice(255, 330))  # 240-254 and 585-599 gone
    kept = kept.filter(~pl.col("order_id").is_in(moved.get_column("order_id").implode()))
    never = shop.slice(1000, 400)  # orders no release carried
    parts = [kept, impostors, no_phone, *undecided, wide, floats, canary, nameless, never]
    return pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=7)


@pytest.fixture(scope="module")
def table(released: Released, shop: pl.DataFrame) -> pl.DataFrame:
    return platform_table(released, shop)


FORMATS = {
    "parquet": ("orders.parquet", {}),
    "csv": ("orders.csv", {}),
    "gbk-csv": ("orders_gbk.csv", {"encoding": "gbk"}),
    "xlsx": ("orders.xlsx", {}),
    "jsonl": ("orders.jsonl", {}),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, table: pl.DataFrame) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("orders")
    out = {}
    for fmt, (name, enc) in FORMATS.items():
        out[fmt] = root / name
        write_table(table, out[fmt], encoding=enc.get("encoding", "utf-8"))
    return out


@pytest.mark.parametrize("batch_rows", [7, exposure.BATCH_ROWS])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_file_read_in_batches_gives_the_whole_tables_answer(
    released: Released, files: dict[str, Path], fmt: str, batch_rows: int
) -> None:
    path, encoding = files[fmt], FORMATS[fmt][1].get("encoding")
    whole = read_table(path, encoding=encoding)
    for i in range(len(INCIDENTS)):
        incident = _incident(released, i)
        want = whole_table(released.ws, whole, **incident)
        with mock.patch.object(exposure, "BATCH_ROWS", batch_rows):
            got = exposed(released.ws, path, encoding=encoding, **incident)
        _same(got, want)
        if i == 1:  # the table's cases are all there, in every format
            s = got.summary()
            assert s["ambiguous_rows"] == 4 and got.unmatched > 0
            assert set(s["by_recipient"]) == {"zto", "cs-firm", "sms"}
            listed = set(got.rows.get_column("order_id"))
            assert not listed & set(released.canaries)
            assert {"１", "７"} & set("".join(listed)) and any(o.endswith(".0") for o in listed)


def test_a_frame_in_memory_goes_the_same_way(released: Released, table: pl.DataFrame) -> None:
    for i in range(len(INCIDENTS)):
        incident = _incident(released, i)
        want = whole_table(released.ws, read_frame(table), **incident)
        with mock.patch.object(exposure, "BATCH_ROWS", 13):
            _same(exposed(released.ws, table, **incident), want)
        _same(exposed(released.ws, table.to_pandas(), **incident), want)


def test_only_the_rows_that_can_be_exposed_are_held(
    released: Released, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """The sms release carried 150 orders of a 3,000-row table read 500 rows at a time:
    the rows settled (and held) are those 150, never the table. Before session 18 the
    whole table was read and settled."""
    path = tmp_path / "orders.csv"
    shop.write_csv(path)
    held: list[int] = []
    resolve = exposure._resolve

    def spy(ws: Workspace, table: pl.DataFrame, *a: Any) -> Exposure:
        held.append(table.height)
        return resolve(ws, table, *a)

    batches: list[int] = []
    iter_batches = TableSource.iter_batches

    def counted(self: TableSource, roles: Any = None) -> Iterator[pl.DataFrame]:
        for b in iter_batches(self, roles):
            batches.append(b.height)
            yield b

    with (
        mock.patch.object(exposure, "BATCH_ROWS", 500),
        mock.patch.object(exposure, "_resolve", spy),
        mock.patch.object(TableSource, "iter_batches", counted),
    ):
        got = exposed(released.ws, path, recipients=["sms"])
    assert batches == [500] * 6 and held == [150]
    assert got.rows.height == 150 and got.unmatched == 0
    _same(got, whole_table(released.ws, read_table(path), recipients=["sms"]))


_ROW_CHANGES = st.sampled_from(
    [
        *("as is", "gone", "twice", "other person", "no phone"),
        *("wide", "float", "wide float", "padded", "no number"),
    ]
)


@settings(max_examples=50, deadline=None)
@given(
    changes=st.lists(st.tuples(st.integers(0, 599), _ROW_CHANGES), max_size=40),
    unrelated=st.integers(0, 30),
    drop_phone=st.booleans(),
    incident=st.integers(0, len(INCIDENTS) - 1),
    batch_rows=st.integers(1, 700),
    seed=st.integers(0, 2**16),
)
def test_any_table_in_batches_gives_the_whole_tables_answer(
    released: Released,
    shop: pl.DataFrame,
    changes: list[tuple[int, str]],
    unrelated: int,
    drop_phone: bool,
    incident: int,
    batch_rows: int,
    seed: int,
) -> None:
    """Any mix of missing, repeated and retyped rows, in any order and any batch size."""
    base = released.base
    gone = {i for i, c in changes if c == "gone"}
    parts = [base.filter(~pl.int_range(pl.len()).is_in(sorted(gone)))]
    for i, change in changes:
        row = base.slice(i, 1)
        if change == "twice":
            parts.append(row)
        elif change == "other person":
            parts.append(row.with_columns(pl.lit("13700000000").alias("phone")))
        elif change == "no phone":
            parts.append(row.with_columns(pl.lit(None, dtype=pl.Utf8).alias("phone")))
        elif change == "wide":
            parts.append(row.with_columns(pl.col("order_id").str.replace_all("0", "０")))
        elif change == "float":
            parts.append(row.with_columns(pl.col("order_id") + ".0"))
        elif change == "wide float":
            parts.append(row.with_columns(pl.col("order_id") + "．０"))
        elif change == "padded":
            parts.append(row.with_columns((" " + pl.col("order_id") + "\u3000").alias("order_id")))
        elif change == "no number":
            parts.append(row.with_columns(pl.lit(None, dtype=pl.Utf8).alias("order_id")))
    parts.append(shop.slice(1000, unrelated))
    table = pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=seed)
    if drop_phone:
        table = table.drop("phone")
    chosen = _incident(released, incident)
    want = whole_table(released.ws, read_frame(table), **chosen)
    with mock.patch.object(exposure, "BATCH_ROWS", batch_rows):
        _same(exposed(released.ws, table, **chosen), want)


def _late_break(path: Path, shop: pl.DataFrame, rows: int) -> None:
    """A CSV whose first ``rows`` lines are the shop's orders and whose last line holds
    bytes that are not UTF-8: past the sample its encoding is detected from."""
    body = pl.concat([shop] * (rows // shop.height + 1)).head(rows).write_csv()
    bad = b"X1,\xff\xfe" + b"," * (shop.width - 2) + b"\n"
    path.write_bytes(body.encode() + bad)


def test_an_error_far_into_the_table_is_one_error_and_nothing_is_written(
    released: Released, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """The broken row ends a 20,000-row table read 500 rows at a time: it is found after
    batches were read and their rows kept (22 of them with Polars 2.1, which reads ahead).
    The command still fails with one line and exit 2, and neither list nor notice is left."""
    from typer.testing import CliRunner

    from leaktrace.cli import _register, app

    _register()
    table = tmp_path / "orders.csv"
    _late_break(table, shop, 20_000)
    read: list[int] = []
    iter_batches = TableSource.iter_batches

    def counted(self: TableSource, roles: Any = None) -> Iterator[pl.DataFrame]:
        for b in iter_batches(self, roles):
            read.append(b.height)
            yield b

    out, notice = tmp_path / "exposed.csv", tmp_path / "notice.txt"
    args = ["exposed", str(table), "--to", "zto", "--out", str(out), "--notice", str(notice)]
    args += ["--contact", "95000", "--measures", "已停止合作", "--home", str(released.ws.home)]
    with (
        mock.patch.object(exposure, "BATCH_ROWS", 500),
        mock.patch.object(TableSource, "iter_batches", counted),
    ):
        r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid UTF-8" in lines[0] and "Traceback" not in r.output
    assert len(read) >= 2  # found after batches were read and kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]


@pytest.mark.parametrize("problem", ["no order number", "junk", "wrong encoding", "late break"])
def test_bad_tables_are_one_error_from_the_cli(
    released: Released, shop: pl.DataFrame, tmp_path: Path, problem: str
) -> None:
    from conftest import run_cli

    extra: list[str] = []
    if problem == "no order number":
        table = tmp_path / "orders.csv"
        shop.drop("order_id").write_csv(table)
    elif problem == "junk":
        table = tmp_path / "orders.parquet"
        table.write_bytes(b"PAR1 this is not a parquet file at all")
    elif problem == "wrong encoding":
        table = tmp_path / "orders.csv"
        write_table(shop, table, encoding="gbk")
        extra = ["--encoding", "utf-8"]
    else:  # a 250,000-row file: past the first batch of a real run
        table = tmp_path / "orders.csv"
        _late_break(table, shop, 250_000)
    out = tmp_path / "exposed.csv"
    r = run_cli(
        "exposed", str(table), "--to", "zto", "--out", str(out), "--json", *extra,
        home=released.ws.home,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    assert not out.exists() and not r.stdout.strip()
    if problem == "no order number":
        assert "order number" in r.stderr
