"""identity_digests: the digests of identity_messages, computed without joining columns."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.digest import keyed_digests
from leaktrace.identity import IDENTITY_KEYS, identity_digests, identity_messages
from leaktrace.synth import generate_orders

KEY = bytes(range(7, 39))


def by_definition(df: pl.DataFrame) -> pl.DataFrame:
    msgs = identity_messages(df)
    return keyed_digests({k: (msgs.get_column(k), KEY) for k in IDENTITY_KEYS})


def test_identity_digests_follow_identity_messages_on_orders() -> None:
    df = generate_orders(3000, 11).with_columns(
        # empty and null parts make a key null, like a null in the joined text
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit("")).otherwise("name").alias("name"),
        pl.when(pl.int_range(pl.len()) % 11 == 0).then(None).otherwise("phone").alias("phone"),
    )
    got = identity_digests(df, KEY)
    assert got.columns == IDENTITY_KEYS
    assert got.equals(by_definition(df))
    assert got.get_column("k_phone_name").null_count() > 0


part = st.one_of(st.none(), st.just(""), st.text(max_size=30))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(part, part, part, part), min_size=1, max_size=30))
def test_identity_digests_follow_identity_messages(
    rows: list[tuple[str | None, str | None, str | None, str | None]],
) -> None:
    df = pl.DataFrame(rows, schema=["order_id", "phone", "name", "address"], orient="row")
    assert identity_digests(df, KEY).equals(by_definition(df))
    # absent roles make their keys null
    assert identity_digests(df.drop("address"), KEY).equals(by_definition(df.drop("address")))
