"""Canary rows (伪行): synthetic orders, unique per recipient and release, that look real.

One canary found in a leaked file — or one call/e-mail to a canary contact point — names
the recipient whose copy it came from (DESIGN §3). That only works if a canary cannot be
told from a real row, so every field is drawn from the *sample's own* distributions:

* product / sku / quantity / amount / merchant / courier are copied *jointly* from one
  real donor row (a 兰蔻 serum from the 兰蔻 shop at the real price × quantity);
* ``order_time`` combines a donor's date with another donor's time of day, kept inside
  the sample's time range; ``order_id`` keeps a donor's leading digits (platform/date
  structure) and its length, with fresh random trailing digits, unique and outside
  ``exclude_order_ids`` and the sample;
* ``phone`` comes from ``pool_phones`` (numbers the platform controls) and the address is
  in the city that phone's prefix geocodes to, with a real current district and a
  synthetic street, in the sample's address style (with/without province, separators);
* ``name`` from the synthetic name model; ``id_number`` (at the sample's non-null rate)
  re-drawn until it passes the check character, the birth date and stdnum's region-code
  table (the code existed in the birth year, via ``regions.json``, which is built from
  ``stdnum.cn.ric``'s own data) — all vectorised; the tests also run ``ric.is_valid``; ``email`` (at the sample's rate) from
  ``pool_emails``; ``card_last4`` random.

Decision — **no pool, no canary**: an empty or short phone pool raises
:class:`~leaktrace.errors.ConfigError` instead of falling back to synthetic numbers. A
made-up 11-digit number with a real prefix is very likely *someone's* phone: scammers who
buy the leak would call a real, uninvolved person, and a canary hit would never arrive.
For the same reason canary e-mails are only ever pool addresses; when the pool runs out
the e-mail cell is left empty (most real rows have none).

Determinism: all randomness comes from ``numpy.random.Philox`` keyed by
HMAC-SHA256(key, label ‖ release_id), so the same (key, release_id, inputs) give the same
rows, different releases give different rows, and without the key nobody can predict or
recognise them. Python's ``random`` is never used. Pools are sorted first so the result
does not depend on the order the caller lists them in.

Canary *tokens* are modelled here (:class:`Canary`, :class:`CanaryKind`), canarytokens
style; observed *hits* are a separate model elsewhere that references ``canary_id``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace import rewrite
from leaktrace.errors import ConfigError, InputError
from leaktrace.pii.idcard import id_checksum_ok
from leaktrace.synth._data import load_json
from leaktrace.synth.geo import Geo, geo
from leaktrace.synth.people import sample_genders, sample_id_numbers, sample_names

if TYPE_CHECKING:
    from leaktrace.workspace import Workspace

__all__ = [
    "RANDOM_ID_DIGITS",
    "Canary",
    "CanaryKind",
    "canary_records",
    "canary_rng",
    "generate_canaries",
    "place_canaries",
    "slotted_order",
]

IntArray = npt.NDArray[np.int64]

_RNG_LABEL = b"leaktrace/canary/v1\x00"
#: Trailing digits of a canary order id that are always fresh randomness (the tracer's
#: chance bound for a canary's order number rests on it).
RANDOM_ID_DIGITS = 12
ID_ROUNDS = 20
"""Redraws of a canary's order number (one that equals a real one or another canary's)
before it takes the 18-digit fallback's form; without a bound a batch holding every
number of its donors' length (1 … 3000) never finished."""
MIN_TRAILING_DIGITS = 6
"""A donor order number that is not all digits must end in this many digits to lend its
form to a canary (six fresh digits, with its batch's numbers excluded, keep it unique)."""
_DONOR_COLUMNS = ("product", "sku", "quantity", "amount", "merchant", "courier")
_GENERATED = frozenset(
    {"order_id", "order_time", "name", "phone", "address", "id_number", "email", "card_last4"}
)


class CanaryKind(StrEnum):
    """How a canary reports a hit: someone calls/texts the phone, or mails the address."""

    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Canary:
    """A canary token: one controlled contact point planted in one canary row.

    ``canary_id`` is the canary row's ``order_id`` (what a leaked file quotes); a row with
    both a phone and an e-mail yields two tokens with the same ``canary_id``.
    """

    canary_id: str
    kind: CanaryKind
    contact: str


def canary_records(rows: pl.DataFrame) -> list[Canary]:
    """The tokens planted in canary rows made by :func:`generate_canaries`."""
    if "order_id" not in rows.columns:
        raise InputError("canary rows have no order_id column")
    out: list[Canary] = []
    ids = rows["order_id"].cast(pl.Utf8).to_list()
    for kind in CanaryKind:
        if kind.value in rows.columns:
            for oid, contact in zip(ids, rows[kind.value].cast(pl.Utf8).to_list(), strict=True):
                if contact:
                    out.append(Canary(canary_id=str(oid), kind=kind, contact=contact))
    return out


def canary_rng(key: bytes, release_id: str) -> np.random.Generator:
    """The keyed generator for one release: Philox keyed by HMAC-SHA256(key, release_id)."""
    digest = hmac.new(key, _RNG_LABEL + release_id.encode("utf-8"), hashlib.sha256).digest()
    return np.random.Generator(np.random.Philox(key=int.from_bytes(digest[:16], "big")))


def generate_canaries(
    sample: pl.DataFrame,
    n: int,
    *,
    key: bytes,
    release_id: str,
    pool_phones: list[str],
    pool_emails: list[str],
    exclude_order_ids: pl.Series | None = None,
    cities_from_sample: bool = False,
) -> pl.DataFrame:
    """``n`` canary rows with exactly ``sample``'s columns and dtypes (see module docstring).

    ``cities_from_sample``: take each canary's city from the sample's addresses instead of
    its phone's prefix — for a recipient whose ``where`` filter selects rows by address,
    whose canaries must pass the same filter to look like its other rows.

    Raises :class:`ConfigError` when ``sample`` has a phone column and ``pool_phones``
    holds fewer than ``n`` distinct numbers, :class:`InputError` on an empty sample.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return sample.clear()
    if sample.height == 0:
        raise InputError("cannot shape canary rows on an empty sample")
    if not key:
        raise ConfigError("canary key is empty")
    rng = canary_rng(key, release_id)
    g = geo()
    cols = set(sample.columns)
    donor = rng.integers(0, sample.height, size=n)
    out: dict[str, pl.Series] = {}

    # Contact points first: the phone decides the city.
    phones: list[str] | None = None
    if "phone" in cols:
        pool = sorted({p.strip() for p in pool_phones if p and p.strip()})
        if len(pool) < n:
            raise ConfigError(
                f"canary phone pool has {len(pool)} distinct numbers, {n} canaries need "
                "one each; add platform-controlled numbers to the pool"
            )
        phones = [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]
        out["phone"] = pl.Series("phone", phones, dtype=pl.Utf8)

    cities = _canary_cities(rng, g, sample, None if cities_from_sample else phones, n)
    male = sample_genders(rng, n)

    if "order_id" in cols:
        out["order_id"] = _order_ids(rng, sample["order_id"], donor, exclude_order_ids)
    if "order_time" in cols:
        out["order_time"] = _order_times(rng, sample["order_time"], donor)
    if "name" in cols:
        out["name"] = _missing_as_in(rng, sample["name"], sample_names(rng, male))
    if "address" in cols:
        prefix, after, sep, after_district, around = _address_openings(
            rng, sample["address"], g, cities
        )
        address = g.sample_addresses(rng, cities, openings=(prefix, after, sep, after_district))
        if around is not None and any(a != ("", "") for a in around):
            lead, trail = zip(*around, strict=True)
            address = pl.select(
                pl.concat_str(pl.Series(lead), pl.lit(address), pl.Series(trail))
            ).to_series()
        out["address"] = _missing_as_in(rng, sample["address"], address.alias("address"))
    if "id_number" in cols:
        out["id_number"] = _id_numbers(rng, g, sample["id_number"], cities, male)
    if "email" in cols:
        out["email"] = _emails(rng, sample["email"], pool_emails, n)
    if "card_last4" in cols:
        share, blank = _filled(sample["card_last4"])
        digits = pl.Series(rng.integers(0, 10_000, size=n), dtype=pl.Int64)
        card = digits.cast(pl.Utf8).str.zfill(4)
        keep = pl.Series(rng.random(n) < share)
        out["card_last4"] = pl.select(pl.when(keep).then(card).otherwise(blank)).to_series()

    donors = sample[donor.tolist()]
    frame: dict[str, pl.Series] = {}
    for name, dtype in sample.schema.items():
        if name in out:
            frame[name] = out[name].alias(name).cast(dtype)
        else:  # product/sku/quantity/amount/merchant/courier and any other column
            frame[name] = donors[name]
    return pl.DataFrame(frame, schema=sample.schema)


# -- per-field helpers ---------------------------------------------------------------------


def _filled(sample: pl.Series) -> tuple[float, pl.Expr]:
    """The share of ``sample``'s cells that hold a value (neither null nor ``""``), and an
    empty cell as the sample writes one (null if it has nulls, else ``""``).

    Why ``""`` too: a JSON-lines or quoted-CSV export writes a missing e-mail as ``""``;
    counted as present, every canary got a pool mailbox in a column no real row filled
    (session 27's review)."""
    nulls = sample.null_count()
    empty = int((sample.cast(pl.Utf8).str.len_bytes() == 0).sum())
    share = 1.0 - (nulls + empty) / max(sample.len(), 1)
    blank = pl.lit(None, dtype=pl.Utf8) if nulls or not empty else pl.lit("")
    return share, blank


def _missing_as_in(rng: np.random.Generator, sample: pl.Series, values: pl.Series) -> pl.Series:
    """``values`` with cells left empty at the rate ``sample``'s are (null or ``""``).

    Why: a copy of digital goods has no addresses; canaries that all had one would be the
    only rows with an address. Missing cells are null if the sample has nulls, else empty
    text, as the sample spells them. A complete sample leaves ``values`` (and the
    generator's state) as they are.
    """
    missing = sample.null_count() + int((sample.cast(pl.Utf8).str.len_bytes() == 0).sum())
    if missing == 0:
        return values
    share = missing / sample.len()
    empty = pl.Series(rng.random(values.len()) < share)
    blank = pl.lit(None, dtype=pl.Utf8) if sample.null_count() else pl.lit("")
    return (
        pl.select(pl.when(empty).then(blank).otherwise(pl.lit(values)))
        .to_series()
        .alias(values.name)
    )


def _canary_cities(
    rng: np.random.Generator, g: Geo, sample: pl.DataFrame, phones: list[str] | None, n: int
) -> IntArray:
    """The phone's prefix city; else a city seen in the sample's addresses; else synthetic."""
    cities = g.city_of_phones(phones) if phones is not None else np.full(n, -1, dtype=np.int64)
    missing = np.flatnonzero(cities < 0)
    if len(missing) == 0:
        return cities
    seen = _cities_in_addresses(g, sample["address"]) if "address" in sample.columns else None
    if seen is not None and len(seen):
        cities[missing] = seen[rng.integers(0, len(seen), size=len(missing))]
    else:
        cities[missing] = g.sample_cities(rng, len(missing))
    return cities


def _cities_in_addresses(g: Geo, addresses: pl.Series, limit: int = 5000) -> IntArray:
    """City indices found in (up to ``limit`` of) the sample's addresses: each city's index
    once per address that names it (its city name, or its province for a municipality),
    in city order.

    One Aho-Corasick pass finds every name in every address (overlapping, so 鞍山市 is
    found inside 马鞍山市 as a substring test would); a ``str.contains`` per city was 340
    passes over the sample, a third of a release's canary time when pool numbers have no
    known prefix city.
    """
    text = addresses.drop_nulls().head(limit).str.replace_all(r"\s", "")
    needles = [
        city or province for province, city in zip(g.city_province, g.city_name, strict=True)
    ]
    hits = (
        text.str.extract_many(list(dict.fromkeys(needles)), overlapping=True)
        .list.unique()
        .explode()
        .drop_nulls()
        .value_counts(name="hits")
    )
    count = dict(zip(hits.to_series(0).to_list(), hits.get_column("hits").to_list(), strict=True))
    per_city = np.array([count.get(n, 0) for n in needles], dtype=np.int64)
    return np.repeat(np.arange(len(needles), dtype=np.int64), per_city)


_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")


def _province_kind(province: str) -> str:
    """``"municipality"`` (直辖市), ``"region"`` (自治区, 特别行政区) or ``"province"`` (省)."""
    if province.removesuffix("市") in _MUNICIPALITIES:
        return "municipality"
    return "region" if province.endswith(("自治区", "特别行政区")) else "province"


def _short_province(province: str) -> str:
    """浙江省 → 浙江, 广西壮族自治区 → 广西, 内蒙古自治区 → 内蒙古: as exports shorten them."""
    stem = re.sub(r"(?:省|自治区|特别行政区)$", "", province)
    if stem == province:
        return province
    return stem if len(stem) <= 3 else stem[:2]


_OPENING_SEP = r"[\s\-/,，、·_~－—]*"
"""What separates an address's administrative parts: whitespace or the punctuation exports
put there (浙江省-杭州市-西湖区, 浙江省/杭州市), copied as the donor row writes it."""


@functools.cache
def _opening_patterns() -> tuple[str, str, str, str, dict[str, str], dict[str, str]]:
    """Regexes of an address's opening — a 直辖市 in any of its forms; a province in full
    or short form, then its city; a city; what is no province although it starts like one
    — and maps from a province's or a city's name to the province. Each may start with
    中国, kept as part of the opening."""
    g = geo()
    full = sorted({p for p in g.city_province if _province_kind(p) != "municipality"})
    token_province = {p: p for p in full}
    for p in full:
        stem = re.sub(r"(?:省|自治区|特别行政区)$", "", p)
        for short in (stem, _short_province(p)):
            token_province.setdefault(short, p)
    tokens = "|".join(sorted(token_province, key=lambda t: (-len(t), t)))
    city_province = {c: p for c, p in zip(g.city_name, g.city_province, strict=True) if c}
    cities = "|".join(sorted(city_province, key=lambda c: (-len(c), c)))
    districts = "|".join(sorted(set(g.district_name), key=lambda d: (-len(d), d)))
    munis = "|".join(
        rf"{m}市\s*{m}市|{m}\s*{m}市|{m}市\s*市辖区|{m}\s*市辖区|{m}市|{m}" for m in _MUNICIPALITIES
    )
    china = r"(?:中国\s*)?"
    sep = _OPENING_SEP
    # names by their suffix, not the table: the separators after them are what is read,
    # and captures over the table's 2,800 districts cost 0.09 s per 20,000 addresses
    inner = r"[^\s\-/,，、·_~－—0-9]"
    district = rf"(?:({inner}{{1,8}}?(?:区|县|旗|市))({sep}))?"
    city = rf"{inner}{{1,10}}?(?:市|自治州|地区|盟)"
    return (
        rf"^\s*({china}(?:{munis}))({sep}){district}",
        rf"^\s*({china}(?:{tokens}))({sep})(?:({city})({sep}){district})?",
        # 吉林市 is the city, not the province 吉林 and then 市; 海南区 (乌海), 河北区 (天津)
        # and 海南藏族自治州 (青海) start like provinces
        rf"^\s*(?:{china}(?:{tokens})\s*市|{cities}|{districts})",
        rf"^\s*({china}(?:{cities}))({sep}){district}",
        token_province,
        city_province,
    )


def _spread_step(n: int, limit: int) -> int:
    """The step that takes at most about ``limit`` of ``n`` rows at even steps through all
    of them: the first rows of a batch are one stretch of its time (and of an export's
    history), not a sample of it (a copy half in one style, then half in another, gave its
    canaries the first half's style four times in five; session 26's review)."""
    return -(-n // limit) if n > limit else 1


def _groups(text: pl.Series, pattern: str, names: list[str]) -> pl.DataFrame:
    """The capture groups of ``pattern`` in ``text``, one column each, named ``names``."""
    groups: pl.DataFrame = (
        text.str.extract_groups(pattern).struct.rename_fields(names).struct.unnest()
    )
    return groups


def _openings(addresses: pl.Series) -> pl.DataFrame:
    """How (up to :data:`OPENING_ROWS` of) the sample's addresses open, one row each:
    ``lead`` and ``trail`` (the whitespace before and after the address), ``province`` (null
    when no name the table knows opens it), ``token`` (what is written before the city: a
    province, full or short, or a 直辖市 in any of its forms; "" when the city comes
    first; 中国 before any of them is part of it), ``token_sep`` (the separator after the
    token: :data:`_OPENING_SEP`), ``sep`` (the separator after the city, or after a 直辖市,
    which has none) and ``district_sep`` (after the district, when a name ending in
    区/县/旗/市 follows; else ``sep``)."""
    muni_re, prov_re, not_prov_re, city_re, token_province, city_province = _opening_patterns()
    text = addresses.cast(pl.String)
    text = text.filter(text.str.len_bytes() > 0)  # null and "" alike
    text = text.gather_every(_spread_step(text.len(), OPENING_ROWS))
    both = pl.concat(
        [
            _groups(text, muni_re, ["m", "m_sep", "m_d", "m_dsep"]),
            _groups(text, prov_re, ["p", "p_sep", "p_city", "p_city_sep", "p_d", "p_dsep"]),
            _groups(text, city_re, ["c", "c_sep", "c_d", "c_dsep"]),
            text.str.contains(not_prov_re).alias("not_prov").to_frame(),
            text.str.extract(r"^(\s*)").alias("lead").to_frame(),
            text.str.extract(r"\S(\s*)$").fill_null("").alias("trail").to_frame(),
        ],
        how="horizontal",
    )
    muni = pl.col("m").is_not_null()
    prov = pl.col("p").is_not_null() & ~pl.col("not_prov")
    bare = r"^中国\s*"
    return both.select(
        "lead",
        "trail",
        province=pl.when(muni)
        .then(pl.col("m").str.replace(bare, "").str.slice(0, 2) + "市")
        .when(prov)
        .then(
            pl.col("p")
            .str.replace(bare, "")
            .replace_strict(token_province, default=None, return_dtype=pl.String)
        )
        .otherwise(
            pl.col("c")
            .str.replace(bare, "")
            .replace_strict(city_province, default=None, return_dtype=pl.String)
        ),
        token=pl.when(muni)
        .then(pl.col("m"))
        .when(prov)
        .then(pl.col("p"))
        .otherwise(pl.col("c").str.extract(r"^(中国\s*)").fill_null("")),
        token_sep=pl.when(muni)
        .then(pl.col("m_sep"))
        .when(prov)
        .then(pl.col("p_sep"))
        .otherwise(pl.lit(""))
        .fill_null(""),
        sep=pl.when(muni)
        .then(pl.col("m_sep"))
        .when(prov)
        .then(
            pl.when(pl.col("p_city").is_null())
            .then(pl.col("p_sep"))
            .otherwise(pl.col("p_city_sep"))
        )
        .otherwise(pl.col("c_sep"))
        .fill_null(""),
        # after the district, where a name ending in 区/县/旗/市 follows; else as after the city
        district_sep=pl.when(muni)
        .then(pl.when(pl.col("m_d").is_null()).then(pl.col("m_sep")).otherwise(pl.col("m_dsep")))
        .when(prov)
        .then(
            pl.when(pl.col("p_d").is_not_null())
            .then(pl.col("p_dsep"))
            .when(pl.col("p_city").is_null())
            .then(pl.col("p_sep"))
            .otherwise(pl.col("p_city_sep"))
        )
        .otherwise(
            pl.when(pl.col("c_d").is_null()).then(pl.col("c_sep")).otherwise(pl.col("c_dsep"))
        )
        .fill_null(""),
    )


OPENING_ROWS = 10_000
"""Rows of a batch whose openings canaries copy: a province with few rows in a large batch
still has a few dozen donors, so that one row's quirk (a double space) is not copied by
an eighth of its canaries (session 26's second review, with 5,000)."""


def _written_as(token: str, donor: str | None, province: str) -> str:
    """:func:`_written_form` after what ``token`` starts with (中国 and a space)."""
    lead = re.match(r"中国\s*", token)
    if lead is None or donor == province:
        return _written_form(token, donor, province)
    return lead.group(0) + _written_form(token[lead.end() :], donor, province)


def _written_form(token: str, donor: str | None, province: str) -> str:
    """``token``, written before the city of an address in ``donor`` (None: unknown), as
    the same form would be for ``province``: none, full or short; a 直辖市 once, twice or
    short. A 直辖市 is always named (it has no city to name it)."""
    if donor == province:
        return token
    muni = _province_kind(province) == "municipality"
    donor_muni = donor is not None and _province_kind(donor) == "municipality"
    if muni:
        # 北京 北京市 → 上海 上海市, 北京 → 上海, 北京市 → 上海市
        return token.replace(donor[:2], province[:2]) if donor_muni and donor else province
    if donor_muni or token.endswith(("省", "自治区", "特别行政区")):
        return province
    return _short_province(province) if token else ""


def _address_openings(
    rng: np.random.Generator, addresses: pl.Series, g: Geo, cities: IntArray
) -> tuple[list[str], list[str], list[str], list[str], list[tuple[str, str]] | None]:
    """For each canary, what its address writes before its city, after that and between its
    other parts, and the whitespace around it (None: none): the form of a random real row
    of the canary's province (else of the same kind, 省, 自治区 or 直辖市; else any row).

    Why a donor row per canary: one style per copy, decided by a vote, left the canaries
    the only rows of their style wherever a copy mixes styles (half 浙江省 杭州市, half
    浙江 杭州市: dropping one style dropped nine canaries in ten and half the real rows),
    where its 直辖市 or 自治区 are written otherwise than its provinces (北京 朝阳区 beside
    浙江 杭州市, 广西壮族自治区 beside 浙江), and for separators other than a space (U+3000, a
    tab; session 26's review). A donor of the canary's own province carries that
    province's mix of styles over to its canaries. Not its time: a copy whose export
    format changed halfway has canaries dated after the change in the format before it
    (the second review; a canary's time is fitted to its slot only later, in the release)."""
    provinces = [g.city_province[c] for c in cities.tolist()]
    opening = _openings(addresses)
    if opening.height == 0:
        return provinces, [""] * len(provinces), [""] * len(provinces), [""] * len(provinces), None
    tokens = opening.get_column("token").to_list()
    leads = opening.get_column("lead").to_list()
    trails = opening.get_column("trail").to_list()
    token_seps = opening.get_column("token_sep").to_list()
    seps = opening.get_column("sep").to_list()
    district_seps = opening.get_column("district_sep").to_list()
    of = opening.get_column("province").to_list()
    by_province: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for i, p in enumerate(of):
        if p is not None:
            by_province.setdefault(p, []).append(i)
            by_kind.setdefault(_province_kind(p), []).append(i)
    every = list(range(len(tokens)))
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(provinces):
        groups.setdefault(p, []).append(i)
    prefix, after, sep = [""] * len(provinces), [""] * len(provinces), [""] * len(provinces)
    after_district = [""] * len(provinces)
    around = [("", "")] * len(provinces)
    for p, rows in sorted(groups.items()):
        donors = by_province.get(p) or by_kind.get(_province_kind(p)) or every
        picks = rng.integers(0, len(donors), size=len(rows))
        for row, pick in zip(rows, picks.tolist(), strict=True):
            d = donors[pick]
            prefix[row] = _written_as(tokens[d], of[d], p)
            after[row], sep[row] = token_seps[d], seps[d]
            after_district[row] = district_seps[d]
            around[row] = (leads[d], trails[d])
    return prefix, after, sep, after_district, around


def _order_ids(
    rng: np.random.Generator,
    sample_ids: pl.Series,
    donor: IntArray,
    exclude: pl.Series | None,
) -> pl.Series:
    """Donor's length and leading characters, fresh random tail; unique, never excluded.

    Vectorised (a batch of 200,000 ids costs milliseconds): draw every tail at once, then
    redraw only the rare rows that hit a real order number or each other.
    """
    fallback = "1" + "0" * 17
    ids = sample_ids.cast(pl.Utf8)
    templates = ids.gather(donor).fill_null(fallback)
    # a donor's trailing digits are drawn afresh (the last 12 at most), whatever comes
    # before them: SO71258797381713 gives SO71 + 12 fresh digits. An order number that
    # ends in fewer than 6 digits, or that the tracer reads as digits only once spaces and
    # full-width forms are folded (20241130 000123, ２０２４…: the tracer would count
    # 12 fresh digits where 6 are), gets the numeric fallback.
    trailing = _trailing_digits(templates)
    digits_only = templates.str.contains(r"^[0-9]+$")
    folds_to_digits = rewrite.canonical_text(templates).str.contains(r"^[0-9]+$").fill_null(False)
    templates = (
        pl.select(
            pl.when(digits_only | ((trailing >= MIN_TRAILING_DIGITS) & ~folds_to_digits))
            .then(templates)
            .otherwise(pl.lit(fallback))
        )
        .to_series()
        .alias("t")
    )
    lens = templates.str.len_chars().cast(pl.Int64).to_numpy().copy()  # writable
    keep = lens - np.minimum(
        _trailing_digits(templates).cast(pl.Int64).to_numpy(), RANDOM_ID_DIGITS
    )
    heads = pl.select(templates.str.slice(0, pl.Series(keep))).to_series()
    fallback_keep = len(fallback) - RANDOM_ID_DIGITS
    # Real ids a candidate must not equal. Probed with the (few) candidates rather than
    # hashed whole: a hash set of every id of a 200k-row batch, built once per batch, was
    # the costliest step of canary synthesis.
    banned = [ids] if exclude is None else [ids, exclude.cast(pl.Utf8)]
    out = pl.Series("order_id", [None] * len(templates), dtype=pl.Utf8)
    todo = np.arange(len(templates))
    rounds = 0
    while todo.size:
        rounds += 1
        if rounds > ID_ROUNDS:
            # the donors' lengths have no free numbers left (a shop numbered 1, 2, 3 … whose
            # batch holds every 3-digit one): the rest get the fallback's 18 digits
            lens[todo], keep[todo] = len(fallback), fallback_keep
            heads = heads.scatter(todo, fallback[:fallback_keep])
        digits = rng.integers(0, 10, size=(todo.size, RANDOM_ID_DIGITS), dtype=np.uint8)
        # an id never starts with 0: only rows whose head is empty can start with the tail
        no_head = keep[todo] == 0
        digits[no_head, 0] = rng.integers(1, 10, size=int(no_head.sum()), dtype=np.uint8)
        tails = pl.Series((digits + ord("0")).view(f"S{RANDOM_ID_DIGITS}").ravel()).cast(pl.Utf8)
        cand = heads.gather(todo) + tails.str.slice(0, pl.Series(lens[todo] - keep[todo]))
        out = out.scatter(todo, cand)
        settled = out.gather(np.setdiff1d(np.arange(len(out)), todo))
        wanted = cand.implode()
        real_hits = pl.concat([b.filter(b.is_in(wanted)) for b in banned])
        bad = (
            cand.is_in(real_hits.implode()) | cand.is_duplicated() | cand.is_in(settled.implode())
        ).to_numpy()
        todo = todo[bad]
    return out


def _trailing_digits(ids: pl.Series) -> pl.Series:
    """How many digits each of ``ids`` ends in."""
    return ids.str.len_chars() - ids.str.replace(r"[0-9]+$", "").str.len_chars()


def _order_times(rng: np.random.Generator, times: pl.Series, donor: IntArray) -> pl.Series:
    """Date of one donor + time of day of another, clipped to the sample's range."""
    if not isinstance(times.dtype, pl.Datetime):
        return times.gather(donor)
    valid = times.drop_nulls()
    if valid.len() == 0:
        return times.gather(donor)
    other = rng.integers(0, valid.len(), size=len(donor))
    day_src = times.gather(donor).fill_null(valid[0])
    tod_src = valid.gather(other)
    day = day_src.dt.truncate("1d")
    tod = tod_src - tod_src.dt.truncate("1d")
    lo, hi = valid.min(), valid.max()
    # A canary's sub-second part is its time-of-day donor's: where every real time has
    # whole seconds, so has every canary (tested), with no check over the batch's times.
    combined = (day + tod).clip(lo, hi)  # type: ignore[arg-type]
    if times.null_count():  # empty where the date's donor is: canaries lack times as often
        combined = combined.zip_with(times.gather(donor).is_not_null(), times.gather(donor))
    return combined.alias("order_time")


def _shares_by_time_of_day(
    rng: np.random.Generator,
    present: IntArray,
    lo: IntArray,
    span: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    *,
    grid: int,
    day: int,
    descending: bool,
) -> npt.NDArray[np.float64]:
    """Where between its neighbours each canary's time falls: a share, 0..1, of its span
    ``(x_low, x_high)`` (grid cells above ``lo``; :func:`times_in_place`), counted up from
    ``x_low``, or down from ``x_high`` in a descending sort, and drawn so the time it gives
    follows the real times' (``present``) time of day.

    Why not uniform in the gap: in a sparse copy (a filter keeping one order in 250) the
    gaps between neighbours span hours, often the night, and a uniform draw put canaries
    between 00:00 and 07:00 up to three times as often as real orders (22 % against 7 % in
    session 21's review), a rule a partner could strip them by. Sampling importance
    resampling: ``_TOD_CANDIDATES`` uniform candidates per canary, one kept with
    probability proportional to the real times' density (ten-minute bins) at the time it
    would be given — read at the grid point and in the sort's direction, as placed (read
    elsewhere, a descending sort or an hourly grid kept the bias). Each bin gets 1 % of an
    even share on top, so no time of day is impossible yet a copy of a few hundred rows
    keeps its shape. In a gap of minutes the density is flat: the uniform draw again.
    """
    k = len(lo)
    bins = 144
    width = max(day // bins, 1)
    counts = np.bincount((present % day) // width, minlength=bins)[:bins].astype(np.float64)
    density = counts + 0.01 * len(present) / bins + 1e-9
    u = rng.random((k, _TOD_CANDIDATES))
    at = lo[:, None] + _cells(u, span, descending) * grid
    weight = density[np.minimum((at % day) // width, bins - 1)]
    cum = weight.cumsum(axis=1)
    pick = (cum < rng.random(k)[:, None] * cum[:, -1:]).sum(axis=1)
    share: npt.NDArray[np.float64] = u[np.arange(k), np.minimum(pick, _TOD_CANDIDATES - 1)]
    return share


def _cells(
    share: npt.NDArray[np.float64],
    span: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    descending: bool,
) -> IntArray:
    """Whole grid cells above ``lo`` of the point ``share`` of the way through ``span``
    (from its low end, or its high end in a descending sort); ``share`` is per canary or
    per canary and candidate (then ``span``'s arrays are broadcast)."""
    x_low, x_high = span
    if share.ndim == 2:
        x_low, x_high = x_low[:, None], x_high[:, None]
    width = x_high - x_low
    x = x_high - share * width if descending else x_low + share * width
    cells: IntArray = np.clip(np.floor(x), 0, np.floor(np.maximum(x_high, 0))).astype(np.int64)
    return cells


_TOD_CANDIDATES = 32
"""Candidates per canary time in :func:`_shares_by_time_of_day`."""

SORTED_SHARE = 0.9
"""A batch whose consecutive order times run one way this often (or more) is taken as
sorted by time, and its canaries get times that fit where they stand."""

GRID_SHARE = 0.999
"""Real times on a grid (the minute, 15 minutes …) this often make it the canaries' grid:
one stray time to the second among a year of times to the minute moved 81 % of canaries
off the minute (the fourth review)."""


_PER_MS = {"ns": 10**6, "us": 1000, "ms": 1}
"""Units of a Datetime column per millisecond, by its time unit."""


def _grid(present: IntArray, steps: IntArray, time_unit: str) -> int:
    """The grid the real times (``present``, physical, in ``time_unit``; ``steps`` their
    differences) keep to, in their units: the coarsest of day, hour, minute, second,
    millisecond and microsecond that ``GRID_SHARE`` of them fall on, or their common
    spacing when that is coarser (every 15 minutes, on the half hour)."""
    per_us = {"ns": 1000, "us": 1, "ms": 1}[time_unit]
    per_ms = _PER_MS[time_unit]
    units = (86_400_000 * per_ms, 3_600_000 * per_ms, 60_000 * per_ms, 1000 * per_ms)
    # a grid is ruled out by a sample when more of the sample misses it than may miss it
    # in all (a pass of int64 remainders over a 200,000-row batch costs a millisecond or
    # more); otherwise the full count decides, as before
    sample = present[:: max(1, present.size // 4096)]
    may_miss = (1 - GRID_SHARE) * present.size
    grid = next(
        (
            g
            for g in (*units, per_ms, per_us)
            if np.count_nonzero(sample % g) <= may_miss and np.mean(present % g == 0) >= GRID_SHARE
        ),
        1,
    )
    # a coarser lattice the times keep to, offset or not (every 15 minutes; on the hour
    # in a zone half an hour off): its spacing, from real times, so canaries stay on it.
    # Any two lattice points are a multiple of it apart; a stray time off the lattice
    # spoils the gcd of the chunks of steps it is in, not the most common one.
    apart = np.abs(steps)
    apart = apart[apart > 0]
    if apart.size:
        chunks = np.gcd.reduce(np.resize(apart, (-(-apart.size // 64), 64)), axis=1)
        values, counts = np.unique(chunks, return_counts=True)
        spacing = int(values[np.argmax(counts)])
        if spacing > grid and spacing % grid == 0 and np.mean(apart % spacing == 0) >= GRID_SHARE:
            grid = spacing
    return int(grid)


SLOT_WINDOW = 10
"""Gaps on each side of a gap that give the local order rate :func:`slot_weights` measures
its length against."""

SLOT_ROUNDS = 100
"""Rounds of candidates :func:`slots_in_place` draws at most (one or two are the rule)."""

SLOT_CAP = 8.0
"""Expected orders in a gap above which its weight falls off (exponentially): a gap of
more than eight times the local spacing is a hole far more often than chance (a Poisson
gap is that long one time in 3,000), and no real order is in a hole."""


class _SlotWeights:
    """The weights of :func:`slot_weights`, worked out only at the slots asked for.

    Why not for every slot: a batch of 200,000 rows holds 2,000 canaries, and the weights
    of all its gaps took 50-60 ms of CPU per batch (a quarter of a second per 1M-row
    release); :func:`slots_in_place` draws candidate slots uniformly and keeps each with
    probability weight / ``SLOT_CAP``, which needs the weights of about 4.5 candidates per
    canary. A window's total length is read from its two ends (the warped times are
    monotone in a sorted batch; the few steps against the sort count less).
    """

    def __init__(self, times: pl.Series, phys: pl.Series, t: IntArray, steps: IntArray) -> None:
        unit = cast(pl.Datetime, times.dtype).time_unit or "us"
        self.n = times.len()
        self.day = 86_400_000 * _PER_MS[unit]
        self.grid = _grid(t, steps, unit)
        """The times' grid (:func:`_grid`), which :func:`times_in_place` takes too."""
        self.descending = bool(np.mean(steps >= 0) < np.mean(steps <= 0))
        self.t = t
        self.origin = (int(t.min()) // self.day) * self.day  # day-aligned, small for float64
        # each timed row's run of equal times: its first row and its length
        rows = np.arange(t.size)
        new_run = np.concatenate([[True], steps != 0])
        self.first: IntArray = np.maximum.accumulate(np.where(new_run, rows, 0))
        run_end = np.concatenate([steps != 0, [True]])
        self.size: IntArray = (
            np.minimum.accumulate(np.where(run_end, rows, t.size)[::-1])[::-1] - self.first + 1
        )
        self.steps = steps
        self.timed_rows = (
            np.flatnonzero(phys.is_not_null().to_numpy()) if phys.null_count() else None
        )
        """The batch rows that have a time (None: every row has one)."""
        # the time of day as the real orders' share of a day: ten-minute bins of the spread
        # times of up to 32,768 rows, 1 % of an even share on top (no time impossible)
        sample = self._spread(np.arange(0, t.size, max(1, t.size // 32_768)))
        bins = 144
        self.width = self.day / bins
        counts = np.bincount(self._bin(sample), minlength=bins).astype(np.float64)
        density = counts + 0.01 * sample.size / bins + 1e-9
        self.cdf = np.concatenate([[0.0], np.cumsum(density) / density.sum()])

    def offset(self, i: IntArray) -> npt.NDArray[np.float64]:
        """Where in its grid cell timed row ``i`` (an index into ``t``) is taken to lie,
        0..1: each run of equal times spread over its cell, its ``m`` rows at ``1/(m+1) …
        m/(m+1)`` of it in the direction of the sort."""
        within: npt.NDArray[np.float64] = (i - self.first[i] + 1.0) / (self.size[i] + 1.0)
        return 1.0 - within if self.descending else within

    def _spread(self, i: IntArray) -> npt.NDArray[np.float64]:
        """The times of timed rows ``i``, spread (:meth:`offset`), from ``origin``."""
        spread: npt.NDArray[np.float64] = (self.t[i] - self.origin).astype(np.float64)
        return spread + self.offset(i) * self.grid

    def _bin(self, v: npt.NDArray[np.float64]) -> IntArray:
        """Ten-minute bin of the day of spread times ``v``."""
        days = np.floor(v / self.day)
        b: IntArray = np.minimum(((v - days * self.day) / self.width).astype(np.int64), 143)
        return b

    def _warped(self, i: IntArray) -> npt.NDArray[np.float64]:
        """Timed rows ``i``'s spread times in days, each day measured by its share of orders."""
        v = self._spread(i)
        days: npt.NDArray[np.float64] = np.floor(v / self.day)
        at = (v - days * self.day) / self.width  # in bins since midnight
        b = np.minimum(at.astype(np.int64), 143)
        out: npt.NDArray[np.float64] = (
            days + self.cdf[b] + (at - b) * (self.cdf[b + 1] - self.cdf[b])
        )
        return out

    def at(self, slots: IntArray) -> npt.NDArray[np.float64]:
        """The weights of ``slots`` (0 … n): a slot between two timed rows (with ``r``
        rows without a time between them, ``r + 1`` slots share their gap) weighs the
        gap's expected orders over ``r + 1``; a slot before the first or after the last
        row, when that row has a time, nothing (a canary there could only take its one
        neighbour's time, which a real row there rarely shares); a slot among the rows
        without a time at either end, 1.0."""
        timed_rows = self.timed_rows
        weights = np.ones(slots.size)
        # g: the last timed row before the slot (an index into t); the gap is g … g + 1
        g = slots - 1 if timed_rows is None else np.searchsorted(timed_rows, slots) - 1
        inner = (g >= 0) & (g < self.t.size - 1)
        share = np.ones(slots.size)  # r + 1: the slots sharing the gap
        if timed_rows is not None:
            share[inner] = timed_rows[g[inner] + 1] - timed_rows[g[inner]]
        ends = ((slots == 0) | (slots == self.n)) & ~inner
        if timed_rows is None:
            weights[ends] = 0.0
        else:
            # among the rows without a time at either end: as a slot among the timed rows
            # weighs on average (their gaps' weight shared with the scattered empty rows);
            # at the block's edge, or at a timed end row, nothing (a canary there could
            # only copy its one timed neighbour's time)
            first, last_row = int(timed_rows[0]), int(timed_rows[-1])
            inside = last_row - first + 1
            weights[~inner] = (timed_rows.size - 1) / inside if inside > 1 else 1.0
            weights[~inner & ((slots == first) | (slots == last_row + 1))] = 0.0
        g = g[inner]
        if not g.size:
            return weights
        last = self.t.size - 1  # gaps are 0 … last - 1
        lo, hi = np.maximum(g - SLOT_WINDOW, 0), np.minimum(g + SLOT_WINDOW + 1, last)
        w = self._warped(np.concatenate([g, g + 1, lo, hi]))
        gap, length = (
            np.abs(w[g.size : 2 * g.size] - w[: g.size]),
            np.abs(w[3 * g.size :] - w[2 * g.size : 3 * g.size]),
        )
        # against the gaps around it, itself left out: a long gap raised its own window's
        # mean and was pushed under the cap (canaries 10 % among the 15 % longest spans)
        others = length - gap
        expected = np.divide(gap * (hi - lo - 1), others, out=np.ones(g.size), where=others > 0)
        over = np.maximum(expected - SLOT_CAP, 0.0)
        capped = np.where(over > 0, SLOT_CAP * np.exp(-over), expected)
        weights[inner] = capped / share[inner]
        return weights


def _slot_weighing(times: pl.Series) -> _SlotWeights | None:
    """The weighing of a batch's slots, or None where every slot weighs 1.0 and a canary
    keeps its drawn time (not a time column, fewer than two timed rows, not sorted by
    time)."""
    if times.len() < 2 or not isinstance(times.dtype, pl.Datetime):
        return None
    phys = times.to_physical()
    t = phys.drop_nulls().to_numpy().astype(np.int64)
    steps = np.diff(t)
    if steps.size < 1 or max(np.mean(steps >= 0), np.mean(steps <= 0)) < SORTED_SHARE:
        return None
    return _SlotWeights(times, phys, t, steps)


def slot_weights(times: pl.Series) -> npt.NDArray[np.float64]:
    """How likely a canary goes into each of the ``n + 1`` slots among a batch's rows (slot
    ``s`` is before row ``s``), relative to an average gap (1.0): all 1.0 unless the batch
    is sorted by ``times`` (``SORTED_SHARE``), and then the orders a gap is expected to
    hold, which is how likely a real order falls into it.

    Why: in a time-sorted copy a real row's neighbours are two gaps apart, and a canary
    slotted into a gap chosen uniformly has its neighbours one gap apart: dropping the
    15 % of rows whose neighbours are closest removed 46 % of the canaries (session 21's
    review). A gap's expected orders are

    * its length, with each run of equal times (an hourly or to-the-minute export) spread
      evenly over its grid cell first (its rows' true times lie somewhere in the hour):
      the ``m`` rows at ``1/(m+1) … m/(m+1)`` of the cell, so each of the ``m + 1``
      places a new row of the cell could take weighs the same, and the gap between two
      runs weighs as the two places it stands for (last of one, first of the next). Raw
      lengths give the gaps inside a run no weight, and every canary sat at a run's edge
      (96-97 % against 13-25 % of real rows, the reverted ``bf4c5e7``);
    * measured in the real orders' time of day (their share of the day's orders up to that
      time: a night hour counts for less than an evening one), as
      :func:`_shares_by_time_of_day` places a time within its gap;
    * times the local rate, the gaps of ``SLOT_WINDOW`` on each side (busy days and quiet
      ones), and past ``SLOT_CAP`` times the local spacing falling off exponentially: a
      hole in the orders (a holiday, an outage) drew canaries into it, where no real
      order is.

    Slots among rows without a time (a block at one end of a sorted batch) weigh 1.0, as
    in a uniform draw; a stretch of them among timed rows shares its gap's weight; the
    batch's first and last slot weigh nothing when the row beside them has a time
    (session 22's review: a canary there took its one neighbour's time, in small batches
    7-17 % of canaries against 0.7-4 % of real rows sharing a neighbour's time).
    """
    weighing = _slot_weighing(times)
    every = np.arange(times.len() + 1)
    return np.ones(every.size) if weighing is None else weighing.at(every)


def slotted_order(n: int, slots: IntArray) -> IntArray:
    """The gather order that puts ``len(slots)`` rows appended after ``n`` real ones at
    their slots (a row at slot ``s`` goes before real row ``s``; rows sharing a slot keep
    their order): what a release and the Spark splice do with :func:`place_canaries`'
    slots."""
    return np.concatenate([np.arange(n) * 2 + 1, slots * 2]).argsort(kind="stable")


def place_canaries(
    rng: np.random.Generator, times: pl.Series, canary_times: pl.Series
) -> tuple[IntArray, pl.Series]:
    """Slots (:func:`slots_in_place`) for canaries with ``canary_times`` among a batch's
    rows with ``times``, and the canaries' times fitted there (:func:`times_in_place`):
    what a release does, the times' grid worked out once for both."""
    k = canary_times.len()
    weighing = _slot_weighing(times) if k else None
    slots = _draw_slots(rng, times.len(), k, weighing)
    if weighing is None:
        return slots, _near_times(rng, times, slots, canary_times)
    return slots, _fit_times(rng, weighing, times, slots, canary_times)


def slots_in_place(rng: np.random.Generator, times: pl.Series, k: int) -> IntArray:
    """Sorted slots for ``k`` canaries among a batch's rows (a canary at ``s`` goes before
    real row ``s``), drawn by :func:`slot_weights`: uniform unless the batch is sorted by
    ``times``, then each gap as likely as a real order falling into it (candidates drawn
    uniformly, each kept with probability weight / ``SLOT_CAP``)."""
    return _draw_slots(rng, times.len(), k, _slot_weighing(times) if k else None)


def _draw_slots(
    rng: np.random.Generator, n: int, k: int, weighing: _SlotWeights | None
) -> IntArray:
    if weighing is None:
        return np.sort(rng.integers(0, n + 1, size=k))
    kept: list[IntArray] = []
    need = k
    for _round in range(SLOT_ROUNDS):
        candidates = rng.integers(0, n + 1, size=5 * need + 16)
        keep = candidates[rng.random(candidates.size) * SLOT_CAP < weighing.at(candidates)]
        kept.append(keep[:need])
        need -= kept[-1].size
        if not need:
            break
        if keep.size < 0.01 * candidates.size:
            # weights far below their cap everywhere (orders in bursts, holes between
            # them in every window): draw from all of them at once instead
            every = weighing.at(np.arange(n + 1))
            total = float(every.sum())
            kept.append(
                rng.choice(n + 1, size=need, p=every / total)
                if total > 0
                else rng.integers(0, n + 1, size=need)
            )
            break
    else:  # cannot happen (acceptance under 1 % ends the loop above); never loop for ever
        kept.append(rng.integers(0, n + 1, size=need))
    return np.sort(np.concatenate(kept))


def times_in_place(
    rng: np.random.Generator,
    times: pl.Series,
    slots: IntArray,
    canary_times: pl.Series,
) -> pl.Series:
    """``canary_times`` moved, when the real rows' ``times`` are sorted (either way, as an
    order export usually is), to a time between the real rows each canary is slotted
    between (``slots``: sorted, a canary at ``s`` goes before real row ``s``).

    Why: canaries draw their times from the whole batch, so in a time-sorted file each one
    sat hours away from both of its neighbours while they were minutes apart. A partner
    holding only its copy found 91-98 % of them with that one rule and could strip them
    before selling the list, leaving a name-and-phone leak with no evidence. In an
    unsorted batch a drawn time is as plausible as any, and is kept.

    Several canaries in one gap keep the direction of the sort among themselves. A canary
    slotted among rows without a time has none; one between two timed rows has one. A
    canary's time is on the real times' own grid, the coarsest of day, hour, minute,
    second, millisecond and microsecond that 99.9 % of them fall on (``GRID_SHARE``: an
    export to the minute has canaries to the minute, since seconds of 47 or 53 among rows
    ending :00 gave them away, and one stray time does not undo that), or the real times'
    common spacing when that is coarser (every 15 minutes, or on the half hour), worked
    out in integers (a float rounded nanosecond times holding milliseconds to …000064).
    Between its neighbours a canary's time is a point drawn between where they are taken
    to lie within their grid cells (:meth:`_SlotWeights.offset`), then put on the grid: a
    whole grid point for each neighbour made a canary share its neighbour's time twice as
    often as a real row does (session 22's review: 55 % against 40 % in an export to the
    minute, 1.9 % against 0.9 % to the second).
    """
    weighing = _slot_weighing(times) if len(slots) else None
    if weighing is None:
        return _near_times(rng, times, slots, canary_times) if len(slots) else canary_times
    return _fit_times(rng, weighing, times, slots, canary_times)


LOCAL_SHARE = 0.05
"""A batch not sorted by time whose median step between neighbouring rows is under this
share of its time range still follows time row by row (sorted by date with the times of a
day in any order, by hour, by an id that rises with time, times with jitter)."""

NEAR_ROWS = 2
"""Rows on each side of a canary's slot whose times a canary's is drawn among in such a
batch (:func:`_near_times`)."""


def _near_times(
    rng: np.random.Generator, times: pl.Series, slots: IntArray, canary_times: pl.Series
) -> pl.Series:
    """``canary_times`` for a batch that is not sorted by time, moved among the times of
    the rows around each canary's slot when the batch still follows time row by row
    (``LOCAL_SHARE``); kept as drawn otherwise (a batch in no time order).

    Why: below ``SORTED_SHARE`` a canary kept a time drawn from the whole batch, so in an
    export sorted by date with each day's orders in any order, or one whose times jitter,
    98-100 % of canaries sat far from both neighbours, most on another date (session 22's
    second review). The ``2 * NEAR_ROWS`` times around the slot are a sample of the time
    there; a new order from the same spread falls between two of them, sorted, or beyond
    the lowest or the highest (by their mean spacing), each such place as likely as the
    next: the canary's time is a point drawn there, put on the times' grid. A canary drawn
    without a time keeps none (as often as its donors). Measured against real rows (50,000
    rows, 2,000 canaries per layout): far from both neighbours (the 5 % farthest) 3-5 %
    sorted by date or hour, 7-15 % with times jittering around their order (real 5 %);
    among the 15 % closest to a neighbour 22-26 % (real 15 %). Two rows on each side is
    the compromise: more made canaries far from their neighbours in jittered batches,
    fewer close to them.
    """
    n, k = times.len(), len(slots)
    if n < 3 or not isinstance(times.dtype, pl.Datetime):
        return canary_times
    phys = times.to_physical()
    t = phys.drop_nulls().to_numpy().astype(np.int64)
    if t.size < 3:
        return canary_times
    # the range without outliers (placeholder dates, 1900-01-01 among 2024): with them a
    # batch in no time order passed as local, and canaries beside one got years between
    p1, p99 = (int(v) for v in np.percentile(t, [1, 99]))
    margin = (p99 - p1) // 10
    if p99 <= p1:
        return canary_times
    steps = np.diff(t)
    if np.median(np.abs(steps)) >= LOCAL_SHARE * (p99 - p1):
        return canary_times
    unit = times.dtype.time_unit or "us"
    grid = _grid(t, steps, unit)
    day = 86_400_000 * _PER_MS[unit]
    # the rows around each slot, as a (k, 2 * NEAR_ROWS) matrix of times sorted, empty ones
    # and outliers last; and the wall-clock time of each (a date is a local one)
    empty = np.iinfo(np.int64).max
    rows = np.clip(slots[:, None] + np.arange(-NEAR_ROWS, NEAR_ROWS)[None, :], 0, n - 1)
    values = phys.fill_null(empty).to_numpy().astype(np.int64)
    values[(values < p1 - margin) | ((values > p99 + margin) & (values != empty))] = empty
    local = times.dt.replace_time_zone(None) if times.dtype.time_zone else times
    wall = local.to_physical().fill_null(0).to_numpy().astype(np.int64)
    order = np.argsort(values[rows], axis=1, kind="stable")
    near = np.take_along_axis(values[rows], order, axis=1)
    near_wall = np.take_along_axis(wall[rows], order, axis=1)
    count = (near != empty).sum(axis=1)  # timed rows around the slot
    usable = count >= 2
    # between the r-th and the (r+1)-th of the sorted times, r uniform over the gaps
    # r from -1 (below the lowest, by their mean spacing) to count - 1 (above the highest):
    # a new draw falls outside the sample's range as often as that
    r = np.minimum((rng.random(k) * (count + 1)).astype(np.int64) - 1, count - 1)
    ix = np.arange(k)
    top = np.maximum(count - 1, 0)
    lowest, highest = near[ix, 0], near[ix, top]
    # in whole grid cells from lowest (on the grid), and not past the (wall-clock) day of
    # the lowest or the highest: in an export sorted by date a canary on another date
    # than both neighbours stood out (12 % of them)
    cells_apart = np.where(usable, (highest - lowest) // grid, 0) // np.maximum(count - 1, 1)
    into_day = np.mod(near_wall[ix, 0], day) // grid
    left_in_day = (day - 1 - np.mod(near_wall[ix, top], day)) // grid
    below = lowest - grid * np.minimum(cells_apart, into_day)
    above = highest + grid * np.maximum(0, np.minimum(cells_apart, left_in_day))
    low = np.where(r < 0, below, near[ix, np.clip(r, 0, 2 * NEAR_ROWS - 1)])
    high = np.where(r >= count - 1, above, near[ix, np.clip(r + 1, 0, 2 * NEAR_ROWS - 1)])
    high = np.where(usable, high, low)
    low = np.where(usable, low, lowest)
    # each of the two in the middle of its grid cell: their own cells half as likely as
    # one between them (a real time shares a neighbour's no more often)
    cells = np.floor(0.5 + rng.random(k) * ((high - low) // grid)).astype(np.int64)
    at = low + cells * grid
    fitted = pl.Series(at, dtype=pl.Int64).cast(times.dtype)
    keep = pl.Series(usable & canary_times.is_not_null().to_numpy())
    out = pl.select(pl.when(keep).then(fitted).otherwise(canary_times)).to_series()
    return out.alias(canary_times.name)


def _fit_times(
    rng: np.random.Generator,
    weighing: _SlotWeights,
    times: pl.Series,
    slots: IntArray,
    canary_times: pl.Series,
) -> pl.Series:
    """:func:`times_in_place` for a sorted batch, with its weighing (grid, direction,
    runs) worked out."""
    k = len(slots)
    grid, descending = weighing.grid, weighing.descending
    phys = times.to_physical()
    before = phys.fill_null(strategy="forward")  # the nearest earlier time
    after = phys.fill_null(strategy="backward")  # the nearest later one
    n = len(before)
    prev_s = before.gather(np.maximum(slots - 1, 0))
    next_s = after.gather(np.minimum(slots, n - 1))
    has_prev = (slots > 0) & prev_s.is_not_null().to_numpy()
    has_next = (slots < n) & next_s.is_not_null().to_numpy()
    prev = prev_s.fill_null(0).to_numpy().astype(np.int64)
    nxt = next_s.fill_null(0).to_numpy().astype(np.int64)
    prev = np.where(has_prev, prev, nxt)
    nxt = np.where(has_next, nxt, prev)
    known = has_prev | has_next
    lo, hi = np.minimum(prev, nxt), np.maximum(prev, nxt)  # both on the grid
    gaps = (hi - lo) // grid  # whole grid steps between them
    # the neighbours' places in their cells (indices into the timed rows): the span a
    # canary's point is drawn in runs from the lower one's place to the higher one's
    if weighing.timed_rows is None:
        p_ix, n_ix = slots - 1, slots
    else:
        counted = np.searchsorted(weighing.timed_rows, slots, side="left")
        p_ix, n_ix = counted - 1, counted
    last = weighing.t.size - 1
    p_off = weighing.offset(np.clip(p_ix, 0, last))
    n_off = weighing.offset(np.clip(n_ix, 0, last))
    prev_lower = prev <= nxt
    x_low = np.where(prev_lower, p_off, n_off)
    x_high = gaps + np.where(prev_lower, n_off, p_off)
    both = has_prev & has_next & (gaps > 0)
    span = (np.where(both, x_low, 0.0), np.where(both, x_high, 0.0))
    share = _shares_by_time_of_day(
        rng, weighing.t, lo, span, grid=grid, day=weighing.day, descending=descending
    )
    # canaries in one gap take increasing shares of it, so their order follows the sort
    # (in a descending sort, later canaries of a gap further down)
    share = share[np.lexsort((share, slots))]
    at = lo + _cells(share, span, descending) * grid
    fitted = pl.Series(at, dtype=pl.Int64).cast(times.dtype)
    # rows without a time sort into a block of their own at one end: a canary inside it
    # has none, one at the block's edge keeps its draw's emptiness, one among the timed
    # rows is empty as often as they are (empty times scattered through them; none when
    # there are none). Left as drawn, every empty canary among timed rows stood out; all
    # timed there, canaries were empty 0.4 % of the time where real rows were 5 %.
    empty = phys.is_null().to_numpy()
    lead = n if empty.all() else int(np.argmin(empty))  # empty rows at the start
    trail = n if empty.all() else int(np.argmin(empty[::-1]))  # … and at the end
    in_block = (slots < lead) | (slots > n - trail)
    edge = ((slots == lead) & (lead > 0)) | ((slots == n - trail) & (trail > 0))
    middle = ~in_block & ~edge
    mid_rows = n - lead - trail
    scattered = (int(empty.sum()) - lead - trail) / mid_rows if mid_rows > 0 else 0.0
    mid_empty = rng.random(k) < scattered if scattered > 0 else np.zeros(k, dtype=bool)
    drawn_empty = canary_times.is_null().to_numpy()
    timed = known & ((middle & ~mid_empty) | (edge & ~drawn_empty))
    inside = in_block | (middle & mid_empty)
    out = pl.select(
        pl.when(pl.Series(timed))
        .then(fitted)
        .when(pl.Series(inside))
        .then(pl.lit(None, dtype=times.dtype))
        .otherwise(canary_times)
    ).to_series()
    return out.alias(canary_times.name)


def _id_numbers(
    rng: np.random.Generator,
    g: Geo,
    sample_ids: pl.Series,
    cities: IntArray,
    male: npt.NDArray[np.bool_],
) -> pl.Series:
    """At the sample's non-null rate; every number re-drawn until it validates strictly
    (:func:`_strictly_valid`)."""
    n = len(cities)
    share = 1.0 - sample_ids.null_count() / max(sample_ids.len(), 1)
    has = rng.random(n) < share
    provinces = np.array([g.city_code[c][:2] for c in cities])
    values = pl.Series("id_number", [None] * n, dtype=pl.Utf8)
    todo = np.flatnonzero(has)
    for _ in range(100):
        if len(todo) == 0:
            break
        drawn = sample_id_numbers(rng, provinces[todo], male[todo])
        ok = _strictly_valid(drawn)
        values = values.scatter(todo[ok], drawn.filter(pl.Series(ok)))
        todo = todo[~ok]
    if len(todo):  # pragma: no cover - construction makes numbers valid
        raise RuntimeError("could not draw valid ID numbers for canaries")
    return values


@functools.cache
def _region_windows() -> pl.DataFrame:
    """(region code, first year, last year) in which stdnum's table has the code."""
    regions: dict[str, list[list[int | str]]] = load_json("regions.json")["id_regions"]
    rows = [(str(r[0]), int(r[1]), int(r[2])) for rs in regions.values() for r in rs]
    return pl.DataFrame(
        rows, schema={"region": pl.Utf8, "lo": pl.Int32, "hi": pl.Int32}, orient="row"
    )


def _strictly_valid(ids: pl.Series) -> npt.NDArray[np.bool_]:
    """Check character and birth date right, and the region code in use in the birth year.

    Why not ``stdnum.cn.ric.is_valid`` per number: at 60 µs a number it was a sixth of
    canary synthesis. The region windows come from stdnum's own table (``regions.json``,
    built by ``synth/build_tables.py``), so this accepts no number stdnum would refuse.
    """
    shape_ok = pl.select(id_checksum_ok(pl.lit(ids))).to_series().to_numpy()
    df = pl.DataFrame(
        {"region": ids.str.slice(0, 6), "year": ids.str.slice(6, 4).cast(pl.Int32, strict=False)}
    ).with_row_index("row")
    hit = (
        df.join(_region_windows(), on="region", how="inner")
        .filter(pl.col("year").is_between(pl.col("lo"), pl.col("hi")))
        .get_column("row")
        .to_numpy()
    )
    in_use = np.zeros(ids.len(), dtype=bool)
    in_use[hit] = True
    return np.asarray(shape_ok & in_use, dtype=bool)


def _emails(
    rng: np.random.Generator, sample_emails: pl.Series, pool: list[str], n: int
) -> pl.Series:
    """Pool addresses only, at the rate the sample's cells hold one; empty (as the sample
    writes an empty cell) when the pool runs out."""
    share, blank = _filled(sample_emails)
    clean = sorted({e.strip() for e in pool if e and e.strip()})
    rows = np.flatnonzero(rng.random(n) < share)[: len(clean)]
    picks: list[int] = (
        rng.choice(len(clean), size=len(rows), replace=False).tolist() if len(rows) else []
    )
    values: list[str | None] = [None] * n
    for row, pick in zip(rows.tolist(), picks, strict=True):
        values[row] = clean[pick]
    mail = pl.Series("email", values, dtype=pl.Utf8)
    return pl.select(mail.fill_null(blank)).to_series().alias("email")


def canary_release_of(ws: Workspace, recipient: str, order_id: str, key_version: int) -> str | None:
    """The release of ``recipient`` in which ``order_id`` is a canary row (伪行), or None.

    Why: ``leaktrace resolve`` maps a recipient's alias back to an order number; for a
    canary's alias that number exists nowhere in the shop's table, and an analyst searched
    for an order that never was. For the analyst's command only: the service's resolve,
    which partners call, must never tell them which of their rows are canaries.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from leaktrace.digest import keyed_digest
    from leaktrace.ledger import Ledger
    from leaktrace.ledger.models import CanaryToken

    digest = keyed_digest(pl.Series([order_id.strip()]), ws.keys.derive("anchor", key_version))
    anchor = f"{int(digest.to_numpy().astype(np.uint64)[0]):016x}"
    with Session(Ledger(ws).engine) as s:
        row = s.execute(
            select(CanaryToken.release_id)
            .where(CanaryToken.anchor == anchor, CanaryToken.recipient == recipient)
            .limit(1)
        ).first()
    return None if row is None else str(row[0])
