"""The synthetic shop: schema, reproducibility, cross-field consistency, speed."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder
from stdnum.cn import ric

from leaktrace.roles import ROLE_NAMES
from leaktrace.synth import ORDER_SCHEMA, generate_orders
from leaktrace.synth.catalogue import catalogue
from leaktrace.synth.geo import geo
from leaktrace.synth.people import id_check_digits, sample_genders, sample_id_numbers
from leaktrace.synth.shop import generate_order_ids


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return generate_orders(20_000, seed=5)


def _geocode(phone: str) -> str:
    return str(geocoder.description_for_number(phonenumbers.parse("+86" + phone), "zh"))


def test_schema_and_roles(orders: pl.DataFrame) -> None:
    assert dict(orders.schema) == ORDER_SCHEMA
    assert set(orders.columns) == ROLE_NAMES
    assert orders.height == 20_000
    assert orders["order_time"].is_sorted()


def test_zero_rows() -> None:
    empty = generate_orders(0, seed=1)
    assert empty.height == 0 and dict(empty.schema) == ORDER_SCHEMA


def test_reproducible_per_seed() -> None:
    a, b = generate_orders(2000, seed=3), generate_orders(2000, seed=3)
    assert a.equals(b)
    assert not a.equals(generate_orders(2000, seed=4))


def test_order_ids(orders: pl.DataFrame) -> None:
    ids = orders["order_id"]
    assert ids.n_unique() == orders.height
    assert ids.str.contains(r"^[1-9]\d{15,18}$").all()


def test_field_formats(orders: pl.DataFrame) -> None:
    assert orders["phone"].str.contains(r"^1[3-9]\d{9}$").all()
    assert orders["card_last4"].str.contains(r"^\d{4}$").all()
    assert orders["name"].str.len_chars().is_between(2, 4).all()
    assert (orders["name"].str.len_chars() == 4).any()
    assert orders["address"].str.contains(r"\d+(室|号)?$").all()
    times = orders["order_time"]
    assert (times.dt.microsecond() == 0).all()
    assert (times.max() - times.min()).days >= 360  # type: ignore[operator,union-attr]
    share_id = 1 - orders["id_number"].null_count() / orders.height
    share_mail = 1 - orders["email"].null_count() / orders.height
    assert 0.12 < share_id < 0.18 and 0.03 < share_mail < 0.15


def test_id_numbers_valid(orders: pl.DataFrame) -> None:
    ids = orders["id_number"].drop_nulls().head(600).to_list()
    assert len(ids) == 600
    assert all(ric.is_valid(x) for x in ids)


def test_id_check_digit_matches_stdnum() -> None:
    body = np.array([11010519491231002, 44030419900101123], dtype=np.int64)
    checks = id_check_digits(body).to_list()
    for b, c in zip(body, checks, strict=True):
        assert ric.calc_check_digit(f"{b}0") == c


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), province=st.sampled_from(["11", "33", "44", "65", "54"]))
def test_id_numbers_valid_property(seed: int, province: str) -> None:
    rng = np.random.default_rng(seed)
    male = sample_genders(rng, 40)
    ids = sample_id_numbers(rng, np.array([province] * 40), male).to_list()
    assert all(ric.is_valid(x) for x in ids)
    # sequence parity follows the gender of the name
    assert all((int(x[16]) % 2 == 1) == bool(m) for x, m in zip(ids, male, strict=True))


def test_phone_prefix_matches_address(orders: pl.DataFrame) -> None:
    rows = orders.sample(400, seed=1).select("phone", "address").rows()
    for phone, address in rows:
        place = _geocode(phone)
        assert place and place != "中国"
        # the geocoder says e.g. 浙江省杭州市 / 内蒙古包头市 / 北京市; the address starts with
        # the same province (allowing the geocoder's short 内蒙古/广西 forms).
        assert address[:2] == place[:2], (phone, place, address)


def test_phone_city_matches_address_city(orders: pl.DataFrame) -> None:
    g = geo()
    sample = orders.sample(500, seed=2)
    cities = g.city_of_phones(sample["phone"].to_list())
    assert (cities >= 0).all()
    for c, address in zip(cities, sample["address"].to_list(), strict=True):
        assert address.startswith(g.city_province[c] + g.city_name[c])


def test_amount_is_price_times_quantity(orders: pl.DataFrame) -> None:
    cat = catalogue()
    price = dict(zip(cat.sku, cat.price.tolist(), strict=True))
    title = dict(zip(cat.sku, cat.title, strict=True))
    for sku, product, qty, amount in orders.select("sku", "product", "quantity", "amount").rows():
        assert title[sku] == product
        assert amount == pytest.approx(round(price[sku] * qty, 2))


def test_merchant_sells_the_product(orders: pl.DataFrame) -> None:
    cat = catalogue()
    allowed = {
        (cat.merchant[m], cat.title[i]) for m, items in enumerate(cat.merchant_items) for i in items
    }
    pairs = set(orders.select("merchant", "product").unique().rows())
    assert pairs <= allowed


def test_courier_and_merchant_shares(orders: pl.DataFrame) -> None:
    share = orders["courier"].value_counts(normalize=True, sort=True)
    top_name, top_share = share.row(0)
    assert top_name == "中通快递" and 0.18 < top_share < 0.27
    assert orders["courier"].n_unique() >= 8
    merchants = orders["merchant"].value_counts(sort=True)
    assert 40 <= merchants.height <= 60
    assert merchants["count"][0] > 5 * merchants["count"][20]  # Zipf-like


def test_seasonality(orders: pl.DataFrame) -> None:
    per_day = orders.group_by(pl.col("order_time").dt.date().alias("d")).len()
    top = per_day.sort("len", descending=True)["d"].head(3).to_list()
    assert any((d.month, d.day) == (11, 11) for d in top)
    hours = orders["order_time"].dt.hour().value_counts().sort("order_time")["count"].to_list()
    assert hours[21] > 5 * hours[4]


def test_order_ids_avoid_exclusions() -> None:
    rng = np.random.default_rng(0)
    lengths = np.full(100, 2, dtype=np.int64)  # only 90 two-digit numbers exist
    with pytest.raises(ValueError, match="too many"):
        generate_order_ids(rng, lengths[:100])  # pigeonhole: would never terminate
    banned = {str(i) for i in range(100, 400)}
    ids = generate_order_ids(rng, np.full(300, 3, dtype=np.int64), exclude=banned)
    assert ids.n_unique() == 300 and not set(ids.to_list()) & banned
    assert ids.str.len_chars().eq(3).all()


@pytest.mark.timeout(60)
def test_speed_100k() -> None:
    generate_orders(1000, seed=0)  # warm the table caches
    started = time.perf_counter()
    frame = generate_orders(100_000, seed=9)
    assert time.perf_counter() - started < 5.0
    assert frame.height == 100_000


def test_cli_demo_data(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from leaktrace.cli import _register, app

    _register()  # every command, as `leaktrace` has them (one alone would become the app)

    out = tmp_path / "orders.parquet"
    result = CliRunner().invoke(
        app, ["demo-data", "--orders", "500", "--seed", "2", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(out).equals(generate_orders(500, seed=2))
    csv = tmp_path / "o.data"
    result = CliRunner().invoke(
        app, ["demo-data", "-n", "20", "--out", str(csv), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert pl.read_csv(csv, infer_schema=False).height == 20
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
