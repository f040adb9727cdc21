"""Who a leak exposed: the platform's own orders that went out in an incident's releases."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.errors import InputError, LedgerIntegrityError
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.respond import exposed
from leaktrace.workspace import Workspace, open_workspace


@pytest.fixture
def released(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> Workspace:
    for r in ("zto", "cs-firm"):
        release(shop, recipient=r, workspace=workspace, out=tmp_path / f"{r}.parquet")
    return workspace


def test_a_couriers_incident_exposes_exactly_its_shipments(
    released: Workspace, shop: pl.DataFrame
) -> None:
    ex = exposed(released, shop, recipients=["zto"])
    want = set(shop.filter(pl.col("courier") == "中通快递").get_column("order_id"))
    assert set(ex.rows.get_column("order_id")) == want  # no canary, no other courier's order
    assert ex.unmatched == 0
    [entry] = [e for e in Ledger(released).entries() if e.recipient == "zto"]
    assert set(ex.rows.get_column("fields_exposed").unique()) == {";".join(sorted(entry.fields))}
    s = ex.summary()
    assert s["orders"] == len(want) and s["by_recipient"] == {"zto": len(want)}
    assert "手机号" in s["fields_zh"] and "收货地址" in s["fields_zh"]
    notice = ex.notice_zh("95000", "已停止合作")
    assert "手机号" in notice and "95000" in notice and "已停止合作" in notice


def test_orders_in_two_releases_name_both_and_a_short_table_is_said(
    released: Workspace, shop: pl.DataFrame
) -> None:
    ex = exposed(released, shop, recipients=["zto", "cs-firm"])
    assert ex.rows.height == shop.height  # cs-firm got every order
    both = ex.rows.filter(pl.col("courier") == "中通快递").get_column("exposed_to").unique()
    assert sorted(both[0].split(";")) == ["cs-firm", "zto"] and both.len() == 1
    part = exposed(released, shop.head(100), recipients=["cs-firm"])
    assert part.rows.height == 100 and part.unmatched == shop.height - 100


def test_each_key_version_finds_its_own_releases(
    released: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    released.keys.rotate()
    ws = open_workspace(released.home)
    release(shop.head(50), recipient="sms", workspace=ws, out=tmp_path / "sms.parquet")
    ex = exposed(ws, shop, recipients=["sms", "zto"])
    assert ex.rows.filter(pl.col("exposed_to").str.contains("sms")).height == 50
    assert {e.key_version for e in ex.releases} == {1, 2}


def test_no_list_from_a_ledger_that_does_not_verify(
    released: Workspace, shop: pl.DataFrame
) -> None:
    with sqlite3.connect(released.home / "ledger.db") as con:
        con.execute("update releases set rows = rows + 1 where seq = 1")
    with pytest.raises(LedgerIntegrityError):
        exposed(released, shop, recipients=["zto"])


def test_an_incident_must_be_named(released: Workspace, shop: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="name the recipient"):
        exposed(released, shop)
    with pytest.raises(InputError, match="no release"):
        exposed(released, shop, recipients=["sms"])
    with pytest.raises(InputError, match="order number"):
        exposed(released, shop.drop("order_id"), recipients=["zto"])


def test_cli_writes_the_list_and_notice_for_its_owner_only(
    released: Workspace, shop_parquet: Path, tmp_path: Path
) -> None:
    out, notice = tmp_path / "exposed.csv", tmp_path / "notice.txt"
    args = ["exposed", str(shop_parquet), "--to", "zto", "--out", str(out)]
    r = run_cli(*args, "--notice", str(notice), "--contact", "95000", home=released.home)
    assert r.returncode == 2 and "--measures" in r.stderr and not out.exists()  # no default claim
    notice_args = ["--notice", str(notice), "--contact", "95000", "--measures", "已停止合作。"]
    r = run_cli(*args, *notice_args, "--json", home=released.home)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["orders"] == pl.read_csv(out, infer_schema=False).height > 0
    assert out.stat().st_mode & 0o777 == 0o600 and notice.stat().st_mode & 0o777 == 0o600
    text = notice.read_text(encoding="utf-8")
    assert "95000" in text and "已停止合作。" in text and "。。" not in text and "中通快递" in text
    for bad in (
        ["--to", "nobody"],
        [],
        ["--to", "zto", "--since", "yesterday"],
        ["--to", "zto", "--release", "rel-nope"],
    ):
        target = tmp_path / "again.csv"
        r = run_cli("exposed", str(shop_parquet), *bad, "--out", str(target), home=released.home)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and not target.exists()


def test_cli_never_writes_into_the_workspace_nor_an_incomplete_list_unasked(
    released: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """An output named inside the workspace would overwrite its ledger or an index (a
    review replaced ledger.db with a notice); a table missing released orders would give
    a list that looks complete."""
    table = tmp_path / "orders.parquet"
    shop.write_parquet(table)
    ledger_db = (released.home / "ledger.db").read_bytes()
    for target in (released.home / "ledger.db", released.home / "index" / "x.parquet"):
        r = run_cli("exposed", str(table), "--to", "zto", "--out", str(target), home=released.home)
        assert r.returncode == 2 and "inside the workspace" in r.stderr, r.stderr
    assert (released.home / "ledger.db").read_bytes() == ledger_db
    short = tmp_path / "short.parquet"
    shop.head(100).write_parquet(short)
    out = tmp_path / "exposed.csv"
    r = run_cli("exposed", str(short), "--to", "cs-firm", "--out", str(out), home=released.home)
    assert r.returncode == 2 and "match no order" in r.stderr and not out.exists()
    args = ("exposed", str(short), "--to", "cs-firm", "--out", str(out), "--allow-incomplete")
    r = run_cli(*args, home=released.home)
    assert r.returncode == 0 and "incomplete" in r.stderr and out.exists()


def test_a_repeated_order_number_lists_only_the_released_person(
    released: Workspace, shop: pl.DataFrame
) -> None:
    zto = shop.filter(pl.col("courier") == "中通快递")
    impostors = zto.head(5).with_columns(
        pl.lit("张三").alias("name"), pl.lit("13900000000").alias("phone")
    )
    ex = exposed(released, pl.concat([shop, impostors]), recipients=["zto"])
    assert ex.rows.height == zto.height and "张三" not in ex.rows.get_column("name").to_list()
    assert not ex.rows.get_column("ambiguous").any()
    no_phone = pl.concat([shop, impostors]).drop("phone")
    ex2 = exposed(released, no_phone, recipients=["zto"])
    assert ex2.rows.height == zto.height + 5  # nothing tells them apart: all listed, marked
    assert ex2.rows.get_column("ambiguous").sum() == 10


def test_orders_retyped_since_the_release_are_still_found(
    released: Workspace, shop: pl.DataFrame
) -> None:
    """Full-width digits (an Excel export) and numbers read as floats ("…123.0")."""
    want = shop.filter(pl.col("courier") == "中通快递").height
    wide = shop.with_columns(
        pl.col("order_id").str.replace_all("1", "１").str.replace_all("2", "２")
    )
    assert exposed(released, wide, recipients=["zto"]).rows.height == want
    floats = shop.with_columns((pl.col("order_id") + ".0").alias("order_id"))
    ex = exposed(released, floats, recipients=["zto"])
    assert ex.rows.height == want and ex.unmatched == 0


def test_people_are_counted_by_normalised_phone_and_naive_times_are_local(
    released: Workspace, shop: pl.DataFrame
) -> None:
    zto = shop.filter(pl.col("courier") == "中通快递")
    first = zto.get_column("phone")[0]
    spelled = zto.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(f"+86 {first[:3]}-{first[3:7]}-{first[7:]}"))
        .otherwise(pl.col("phone"))
        .alias("phone")
    )
    same = spelled.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit(first))
        .otherwise(pl.col("phone"))
        .alias("phone")
    )
    ex = exposed(released, spelled, recipients=["zto"])
    # row 1's phone is row 0's, spelled "+86 138-…": one person, not two
    assert ex.summary()["people"] == same.get_column("phone").n_unique()
    from datetime import datetime

    later = exposed(released, shop, recipients=["zto"], since=datetime(2000, 1, 1))
    assert later.rows.height == zto.height  # a naive time is taken as UTC+8, not a TypeError


def test_an_order_number_the_release_carried_for_two_people_lists_both(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A review released one order number on the rows of two people: the second was
    dropped from the list, silently (unmatched 0, ambiguous 0)."""
    zto = shop.filter(pl.col("courier") == "中通快递")
    twin = zto.head(1).with_columns(
        pl.lit("张三").alias("name"), pl.lit("13900000000").alias("phone")
    )
    table = pl.concat([shop, twin])
    release(table, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    ex = exposed(workspace, table, recipients=["zto"])
    assert ex.rows.height == zto.height + 1 and ex.unmatched == 0
    assert "张三" in ex.rows.get_column("name").to_list()
    assert not ex.rows.get_column("ambiguous").any()


def test_many_releases_are_named_oldest_first(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """Eleven releases of the same orders: each row names all of them in the order they
    were made (the combination is built from release numbers, and 10 sorts after 9),
    its recipients in order of first exposure, and the union of the fields sent."""
    head = shop.head(40)
    for i in range(11):
        who = "cs-firm" if i % 3 else "zto"
        release(head, recipient=who, workspace=workspace, out=tmp_path / f"r{i}.parquet")
    entries = Ledger(workspace).entries()
    ex = exposed(workspace, shop, recipients=["zto", "cs-firm"])
    assert ex.rows.height == 40 and ex.unmatched == 0
    assert [e.release_id for e in ex.releases] == [e.release_id for e in entries]
    for row in ex.rows.iter_rows(named=True):
        went = [e for e in entries if e.recipient == "cs-firm" or row["courier"] == "中通快递"]
        assert row["exposed_in"] == ";".join(e.release_id for e in went)
        assert row["exposed_to"] == ";".join(dict.fromkeys(e.recipient for e in went))
        assert row["fields_exposed"] == ";".join(sorted({f for e in went for f in e.fields}))
        assert row["first_exposed_at"] == went[0].created
        assert row["ambiguous"] is False
    assert ex.rows.get_column("order_id").to_list() == head.get_column("order_id").to_list()


def test_a_released_person_the_table_no_longer_has_is_counted(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """One order number released for two people; the platform's table lists only one of
    them now. The other is not in the table: counted in unmatched, so `incident exposed`
    says the list is short instead of passing it as complete."""
    zto = shop.filter(pl.col("courier") == "中通快递")
    twin = zto.head(1).with_columns(
        pl.lit("张三").alias("name"), pl.lit("13900000000").alias("phone")
    )
    release(
        pl.concat([shop, twin]), recipient="zto", workspace=workspace, out=tmp_path / "z.parquet"
    )
    ex = exposed(workspace, shop, recipients=["zto"])  # 张三's row is gone from the table
    assert ex.rows.height == zto.height and ex.unmatched == 1
    assert not ex.rows.get_column("ambiguous").any()


def test_the_written_list_holds_only_what_notifying_needs(
    released: Workspace, shop: pl.DataFrame
) -> None:
    """The list goes to whoever sends the notices: which order, whose, the number to send
    to, where it went, and of the rest only the columns a chosen release sent (session
    25's review: ID numbers, card digits and e-mails no release sent were copied into
    it from the order table)."""
    [zto] = [e for e in Ledger(released).entries() if e.recipient == "zto"]
    [cs] = [e for e in Ledger(released).entries() if e.recipient == "cs-firm"]
    assert "id_number" in shop.columns and "id_number" not in set(zto.fields) | set(cs.fields)
    assert "card_last4" in shop.columns and "card_last4" not in zto.fields
    extra = {"exposed_in", "exposed_to", "fields_exposed", "first_exposed_at", "ambiguous"}
    for chosen, fields in (
        (["zto"], set(zto.fields)),
        (["zto", "cs-firm"], {*zto.fields, *cs.fields}),
    ):
        listed = exposed(released, shop, recipients=chosen).for_people()
        own = set(listed.columns) - extra
        assert own == ({"order_id", "order_time", "name", "phone"} | fields) & set(shop.columns)
        assert not ({"id_number", "card_last4", "email"} - fields) & set(listed.columns)
    # on each row only what its own releases sent: a zto order's card digits (cs-firm got
    # them for every order) are listed, another courier's order's are not sent to zto …
    both = exposed(released, shop, recipients=["zto", "cs-firm"]).for_people()
    only_zto = {f for f in zto.fields if f not in cs.fields}
    for c in ({*cs.fields} - {*zto.fields} - {"order_id", "order_time", "name", "phone"}) & set(
        both.columns
    ):
        # every order went to cs-firm, so every row carries what cs-firm was sent
        assert both.get_column(c).null_count() == shop.get_column(c).null_count(), c
    zto_only = exposed(released, shop, recipients=["zto"]).for_people()
    for c in only_zto & set(zto_only.columns):
        assert zto_only.get_column(c).null_count() == 0 or c in ("email",), c
    # a courier gets no amount, customer service does: the amount is listed only then
    assert "amount" not in exposed(released, shop, recipients=["zto"]).for_people().columns
    assert ("amount" in cs.fields) == (
        "amount" in exposed(released, shop, recipients=["cs-firm"]).for_people().columns
    )


def test_each_row_lists_only_what_its_own_releases_sent(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A customer whose order went to the courier alone does not carry the card digits
    customer service was sent for other orders (the third review: the union of every
    chosen release's fields was kept on every row)."""
    release(shop, recipient="zto", workspace=workspace, out=tmp_path / "zto.parquet")
    some = shop.filter(pl.col("courier") == "中通快递").head(40)
    release(some, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    [zto] = [e for e in Ledger(workspace).entries() if e.recipient == "zto"]
    [cs] = [e for e in Ledger(workspace).entries() if e.recipient == "cs-firm"]
    extra = (set(cs.fields) - set(zto.fields)) & set(shop.columns)
    assert "card_last4" in extra
    listed = exposed(workspace, shop, recipients=["zto", "cs-firm"]).for_people()
    to_cs = listed.get_column("exposed_to").str.contains("cs-firm")
    assert to_cs.sum() == 40
    for c in extra:
        assert listed.filter(~to_cs).get_column(c).null_count() == int((~to_cs).sum()), c
        want = some.get_column(c).drop_nulls().len()
        assert listed.filter(to_cs).get_column(c).drop_nulls().len() == want, c
