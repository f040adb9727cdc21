"""The synthetic shop's catalogue: branded products with specs, merchants, couriers.

``data/catalogue.json`` is hand-written: each product has a brand, a category, a title in
the style of Chinese storefronts (【官方旗舰】…, specs such as ``50ml`` / ``12GB+256GB``)
and priced variants; each merchant sells by brand or category and may ship with a fixed
courier (京东自营 → 京东物流). Merchants follow a Zipf-like share; couriers follow
approximate 2023–24 parcel market shares (中通 ≈ 22 %), *after* the merchants' fixed
couriers are accounted for, so the marginal share is what the table says.

A row's product is drawn *within* its merchant, so a 兰蔻 serum never comes from 小米官方旗舰店.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace.synth._data import load_json

__all__ = ["Catalogue", "catalogue"]

IntArray = npt.NDArray[np.int64]

#: How often a merchant with a fixed courier actually uses it.
_FIXED_COURIER_SHARE = 0.9
_QUANTITY_P = np.array([0.76, 0.15, 0.05, 0.02, 0.01, 0.01])
#: Dear items (phones, appliances, liquor) are bought one at a time, nearly always.
_DEAR_PRICE = 500.0
_DEAR_QUANTITY_P = np.array([0.94, 0.05, 0.01, 0.0, 0.0, 0.0])


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Flat arrays: one entry per product *variant* (title + spec, price, sku)."""

    title: tuple[str, ...]
    sku: tuple[str, ...]
    price: npt.NDArray[np.float64]
    merchant: tuple[str, ...]
    merchant_weight: npt.NDArray[np.float64]
    merchant_items: tuple[IntArray, ...]
    merchant_item_weight: tuple[npt.NDArray[np.float64], ...]
    merchant_courier: IntArray  # -1 = no fixed courier
    courier: tuple[str, ...]
    courier_share: npt.NDArray[np.float64]
    courier_free_share: npt.NDArray[np.float64]

    def sample_items(self, rng: np.random.Generator, n: int) -> tuple[IntArray, IntArray]:
        """(merchant index, variant index) per row."""
        merchant = rng.choice(len(self.merchant), size=n, p=self.merchant_weight).astype(np.int64)
        item = np.empty(n, dtype=np.int64)
        for m in range(len(self.merchant)):
            rows = np.flatnonzero(merchant == m)
            if len(rows):
                items, w = self.merchant_items[m], self.merchant_item_weight[m]
                item[rows] = items[rng.choice(len(items), size=len(rows), p=w)]
        return merchant, item

    def sample_quantities(self, rng: np.random.Generator, items: IntArray) -> IntArray:
        n = len(items)
        cheap = rng.choice(len(_QUANTITY_P), size=n, p=_QUANTITY_P)
        dear = rng.choice(len(_DEAR_QUANTITY_P), size=n, p=_DEAR_QUANTITY_P)
        return (np.where(self.price[items] >= _DEAR_PRICE, dear, cheap) + 1).astype(np.int64)

    def sample_couriers(self, rng: np.random.Generator, merchant: IntArray) -> IntArray:
        free = rng.choice(len(self.courier), size=len(merchant), p=self.courier_free_share)
        fixed = self.merchant_courier[merchant]
        use_fixed = (fixed >= 0) & (rng.random(len(merchant)) < _FIXED_COURIER_SHARE)
        return np.where(use_fixed, fixed, free).astype(np.int64)


def _zipf(n: int, s: float = 0.9) -> npt.NDArray[np.float64]:
    w: npt.NDArray[np.float64] = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    out: npt.NDArray[np.float64] = w / w.sum()
    return out


@cache
def catalogue() -> Catalogue:
    data = load_json("catalogue.json")
    title: list[str] = []
    sku: list[str] = []
    price: list[float] = []
    brand: list[str] = []
    category: list[str] = []
    popularity: list[float] = []
    for product in data["products"]:
        for spec, p in product["variants"]:
            full = f"{product['title']} {spec}"
            title.append(full)
            # Stable numeric SKU (JD-style 12 digits) derived from the title, not from order.
            sku.append(str(100_000_000_000 + zlib.crc32(full.encode()) % 900_000_000_000))
            price.append(float(p))
            brand.append(product["brand"])
            category.append(product["category"])
            popularity.append(float(product["popularity"]) / len(product["variants"]))
    if len(set(sku)) != len(sku):  # pragma: no cover - guards a catalogue edit
        raise ValueError("catalogue.json: SKU collision, change a title")

    couriers = tuple(c for c, _ in data["couriers"])
    share = np.array([s for _, s in data["couriers"]], dtype=np.float64)
    share /= share.sum()
    merchants = data["merchants"]
    m_weight = _zipf(len(merchants))
    items: list[IntArray] = []
    item_w: list[npt.NDArray[np.float64]] = []
    fixed: list[int] = []
    for m in merchants:
        brands, cats = set(m.get("brands", ())), set(m.get("categories", ()))
        idx = np.array(
            [i for i in range(len(title)) if brand[i] in brands or category[i] in cats],
            dtype=np.int64,
        )
        if len(idx) == 0:  # pragma: no cover - guards a catalogue edit
            raise ValueError(f"catalogue.json: merchant {m['name']} sells nothing")
        w = np.array([popularity[i] for i in idx])
        items.append(idx)
        item_w.append(w / w.sum())
        fixed.append(couriers.index(m["courier"]) if "courier" in m else -1)
    fixed_arr = np.array(fixed, dtype=np.int64)

    # Solve for the distribution of "free" courier choices so the marginal matches `share`.
    forced = np.zeros(len(couriers))
    for m, c in enumerate(fixed):
        if c >= 0:
            forced[c] += m_weight[m] * _FIXED_COURIER_SHARE
    f = forced.sum()
    free = np.clip((share - forced) / (1 - f), 0.0, None)
    return Catalogue(
        title=tuple(title),
        sku=tuple(sku),
        price=np.array(price, dtype=np.float64),
        merchant=tuple(m["name"] for m in merchants),
        merchant_weight=m_weight,
        merchant_items=tuple(items),
        merchant_item_weight=tuple(item_w),
        merchant_courier=fixed_arr,
        courier=couriers,
        courier_share=share,
        courier_free_share=free / free.sum(),
    )


def pool(values: tuple[str, ...]) -> pl.Series:
    """A Utf8 series to ``gather`` from with index arrays."""
    return pl.Series(values=list(values), dtype=pl.Utf8)
