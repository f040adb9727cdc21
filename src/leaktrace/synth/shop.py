"""``generate_orders``: a year of a synthetic Chinese e-commerce shop's orders.

The demo data every other part of leaktrace is exercised on (release, marks, tracing,
the dashboard), so it has to look like the real exports the founding article describes:
the fields the scammers quoted (name, order number, product, purchase date, address, last
four card digits) with realistic distributions and cross-field consistency — phone prefix
↔ address province/city, merchant ↔ product, product × quantity ↔ amount, valid ID
numbers. A mark channel or a canary that only works on uniform random strings would not
survive contact with real data.

Speed: everything is vectorised (numpy ``Generator(PCG64)`` choices over pools, string
assembly in Polars); 1 M rows take a few seconds. Reproducibility: one ``SeedSequence``
per call, spawned into one independent stream per column, so the rows depend only on
``(n, seed)`` and the shipped tables — not on library versions of faker or phonenumbers.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace.synth.catalogue import catalogue, pool
from leaktrace.synth.geo import geo
from leaktrace.synth.people import sample_emails, sample_genders, sample_id_numbers, sample_names

__all__ = ["DEFAULT_START", "ORDER_SCHEMA", "generate_order_ids", "generate_orders"]

IntArray = npt.NDArray[np.int64]

#: First day of the synthetic year (covers 618, 国庆黄金周, 双11, 双12, 春节, 五一).
DEFAULT_START = dt.date(2024, 6, 1)

ORDER_SCHEMA: dict[str, pl.DataType] = {
    "order_id": pl.Utf8(),
    "order_time": pl.Datetime("us"),
    "name": pl.Utf8(),
    "phone": pl.Utf8(),
    "address": pl.Utf8(),
    "product": pl.Utf8(),
    "sku": pl.Utf8(),
    "quantity": pl.Int32(),
    "amount": pl.Float64(),
    "card_last4": pl.Utf8(),
    "id_number": pl.Utf8(),
    "courier": pl.Utf8(),
    "merchant": pl.Utf8(),
    "email": pl.Utf8(),
}
"""Column → dtype of :func:`generate_orders` (the canonical role names of :mod:`leaktrace.roles`).

``amount`` is Float64 yuan rounded to the fen: every file format round-trips it, which
Decimal does not (CSV/XLSX readers infer floats anyway)."""

_ID_SHARE = 0.15
_EMAIL_SHARE = 0.08
_ORDER_ID_LENGTHS = (16, 17, 18, 19)
_ORDER_ID_LENGTH_P = (0.08, 0.12, 0.35, 0.45)

# Share of the day's orders by hour (0–23): evening peak, night trough, lunch bump.
_HOUR_W = np.array(
    [2.6, 1.5, 0.8, 0.5, 0.4, 0.5, 1.0, 2.0, 3.2, 4.2, 4.8, 5.0,
     5.3, 4.9, 4.6, 4.5, 4.5, 4.6, 4.9, 5.6, 6.8, 7.8, 7.6, 5.2]
)  # fmt: skip
_WEEKDAY_W = np.array([0.97, 0.95, 0.96, 0.98, 1.02, 1.08, 1.10])  # Mon..Sun


def _day_weights(start: dt.date, days: int) -> npt.NDArray[np.float64]:
    """Relative order volume per day: weekly rhythm plus the shopping festivals.

    Festivals are keyed by month/day so any ``start`` gets them; Spring Festival moves
    with the lunar calendar and is approximated by late January to early February.
    """
    w = np.ones(days)
    for i in range(days):
        d = start + dt.timedelta(days=i)
        f = _WEEKDAY_W[d.weekday()]
        md = (d.month, d.day)
        if (6, 1) <= md <= (6, 18):
            f *= 1.3 + (1.6 if md == (6, 18) else 0.0)  # 618
        if (10, 1) <= md <= (10, 7):
            f *= 1.7  # 国庆黄金周
        if (10, 24) <= md <= (11, 11):
            f *= 1.35 + (3.5 if md == (11, 11) else 0.0)  # 双11 pre-sale and the day
        if md == (12, 12):
            f *= 2.0
        if (1, 22) <= md <= (2, 8):
            f *= 0.55  # 春节: couriers stop, orders drop
        if (5, 1) <= md <= (5, 5):
            f *= 1.35  # 五一
        if md == (3, 8):
            f *= 1.6  # 女神节
        w[i] = f
    out: npt.NDArray[np.float64] = w / w.sum()
    return out


def _order_times(rng: np.random.Generator, n: int, start: dt.date) -> pl.Series:
    days = (dt.date(start.year + 1, start.month, start.day) - start).days
    day = rng.choice(days, size=n, p=_day_weights(start, days))
    hour = rng.choice(24, size=n, p=_HOUR_W / _HOUR_W.sum())
    second_of_hour = rng.integers(0, 3600, size=n)
    epoch0 = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    secs = epoch0 + day * 86_400 + hour * 3600 + second_of_hour
    return pl.from_epoch(pl.Series("order_time", secs, dtype=pl.Int64), time_unit="s")


def generate_order_ids(
    rng: np.random.Generator,
    lengths: npt.NDArray[np.int64],
    *,
    exclude: set[str] | None = None,
) -> pl.Series:
    """Unique numeric order ids of the given digit lengths (1–19), none in ``exclude``.

    Uniform over each length's range; duplicates (rare) are redrawn until none remain.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.min() < 1 or lengths.max() > 19):
        raise ValueError("order id lengths must be 1..19 digits")
    for length, count in zip(*np.unique(lengths, return_counts=True), strict=True):
        if count > 9 * 10 ** (int(length) - 1) // 2:
            raise ValueError(f"too many {length}-digit order ids requested")
    low = (10 ** (lengths - 1).astype(np.uint64)).astype(np.uint64)
    high = np.where(lengths >= 19, np.uint64(10**19), (10 ** lengths.astype(np.uint64))).astype(
        np.uint64
    )
    values = rng.integers(low, high, dtype=np.uint64)
    banned = {int(x) for x in exclude if x.isdigit()} if exclude else set()
    while True:
        _, first = np.unique(values, return_index=True)
        bad = np.ones(len(values), dtype=np.bool_)
        bad[first] = False
        if banned:
            bad |= np.fromiter(
                (int(v) in banned for v in values), dtype=np.bool_, count=len(values)
            )
        if not bad.any():
            break
        values[bad] = rng.integers(low[bad], high[bad], dtype=np.uint64)
    return pl.Series("order_id", values, dtype=pl.UInt64).cast(pl.Utf8)


def generate_orders(n: int, seed: int, *, start: dt.date = DEFAULT_START) -> pl.DataFrame:
    """``n`` synthetic orders over the year from ``start``, reproducible per ``seed``.

    Columns and dtypes are :data:`ORDER_SCHEMA`; rows are sorted by ``order_time``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    streams = [
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(12)
    ]
    r_id, r_time, r_geo, r_name, r_item, r_qty, r_card, r_idno, r_courier, r_mail, r_len, _ = (
        streams
    )
    g, cat = geo(), catalogue()

    lengths = r_len.choice(_ORDER_ID_LENGTHS, size=n, p=_ORDER_ID_LENGTH_P).astype(np.int64)
    order_id = generate_order_ids(r_id, lengths)

    cities = g.sample_cities(r_geo, n)
    phone = g.sample_phones(r_geo, cities)
    address = g.sample_addresses(r_geo, cities)

    male = sample_genders(r_name, n)
    name = sample_names(r_name, male)

    merchant, item = cat.sample_items(r_item, n)
    qty = cat.sample_quantities(r_qty, item)
    amount = np.round(cat.price[item] * qty, 2)
    courier = cat.sample_couriers(r_courier, merchant)

    has_id = r_idno.random(n) < _ID_SHARE
    id_rows = np.flatnonzero(has_id)
    provinces = np.array([code[:2] for code in g.city_code])[cities[id_rows]]
    ids = sample_id_numbers(r_idno, provinces, male[id_rows])
    id_full = pl.Series("id_number", [None] * n, dtype=pl.Utf8).scatter(id_rows, ids)

    has_mail = r_mail.random(n) < _EMAIL_SHARE
    mail_rows = np.flatnonzero(has_mail)
    email = pl.Series("email", [None] * n, dtype=pl.Utf8).scatter(
        mail_rows, sample_emails(r_mail, len(mail_rows))
    )

    card = pl.Series(r_card.integers(0, 10_000, size=n), dtype=pl.Int64).cast(pl.Utf8).str.zfill(4)

    frame = pl.DataFrame(
        {
            "order_id": order_id,
            "order_time": _order_times(r_time, n, start),
            "name": name,
            "phone": phone,
            "address": address,
            "product": pool(cat.title).gather(item),
            "sku": pool(cat.sku).gather(item),
            "quantity": pl.Series(qty, dtype=pl.Int32),
            "amount": pl.Series(amount, dtype=pl.Float64),
            "card_last4": card,
            "id_number": id_full,
            "courier": pool(cat.courier).gather(courier),
            "merchant": pool(cat.merchant).gather(merchant),
            "email": email,
        },
        schema=ORDER_SCHEMA,
    )
    return frame.sort("order_time", maintain_order=True)
