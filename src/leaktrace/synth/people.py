"""Synthetic people: Chinese names, resident ID numbers (居民身份证号), e-mail addresses.

Names: surname drawn by its real frequency (faker's zh_CN table, plus rare compound
surnames such as 欧阳/司马 so 4-character names occur); given name of one or two
characters, either a common full given name or two characters from a gendered pool.

ID numbers: built to pass ``stdnum.cn.ric.is_valid`` *by construction* — the region code
is one that ``stdnum``'s division table accepts in the birth year (the birth year is drawn
inside the code's validity window), the date is a real date, the sequence parity matches
the gender of the name, and the mod-11 check digit is computed. Faker's zh_CN ID numbers
fail the region/year check about two times in three; a leak analyst would notice.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import polars as pl

from leaktrace.synth._data import load_json

__all__ = [
    "id_check_digits",
    "sample_emails",
    "sample_genders",
    "sample_id_numbers",
    "sample_names",
]

IntArray = npt.NDArray[np.int64]

_ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_EMAIL_DOMAINS = (
    "163.com",
    "126.com",
    "sina.com",
    "foxmail.com",
    "139.com",
    "outlook.com",
    "gmail.com",
)
_PINYIN = (
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
    "zhu", "hu", "guo", "he", "gao", "lin", "luo", "xiao", "hui", "ming", "jie", "ting", "yu",
    "hao", "xin", "yi", "jing", "wei", "fang", "min", "lei", "tao", "jun", "hong", "mei", "lan",
    "qing", "xue", "yan", "ping", "long", "feng", "bo", "tian", "yun", "xiang", "rui", "chao",
)  # fmt: skip


def sample_genders(rng: np.random.Generator, n: int) -> npt.NDArray[np.bool_]:
    """``True`` = male. Kept separate so the ID sequence parity can follow the name."""
    return rng.random(n) < 0.5


def sample_names(rng: np.random.Generator, male: npt.NDArray[np.bool_]) -> pl.Series:
    names = load_json("names.json")
    n = len(male)
    surnames = [s for s, _ in names["surnames"]]
    freq = np.array([f for _, f in names["surnames"]], dtype=np.float64)
    surname = _pool(surnames).gather(rng.choice(len(surnames), size=n, p=freq / freq.sum()))

    def given(chars: str, full: list[str], rows: int) -> pl.Series:
        pool_c = _pool(list(chars))
        two = [g for g in full if len(g) == 2]
        pool_f = _pool(two)
        one_char = rng.random(rows) < 0.15
        from_full = rng.random(rows) < 0.25
        c1 = pool_c.gather(rng.integers(0, len(chars), size=rows))
        c2 = pool_c.gather(rng.integers(0, len(chars), size=rows))
        f = pool_f.gather(rng.integers(0, len(two), size=rows))
        empty = pl.Series([""] * rows, dtype=pl.Utf8)
        two_char = pl.select(pl.when(pl.Series(from_full)).then(f).otherwise(c1 + c2)).to_series()
        return pl.select(
            pl.when(pl.Series(one_char)).then(c1 + empty).otherwise(two_char)
        ).to_series()

    male_given = given("".join(names["chars_male"]), names["given_male"], n)
    female_given = given("".join(names["chars_female"]), names["given_female"], n)
    given_name = pl.select(
        pl.when(pl.Series(male)).then(male_given).otherwise(female_given)
    ).to_series()
    return (surname + given_name).alias("name")


def id_check_digits(body17: IntArray) -> pl.Series:
    """ISO 7064 MOD 11-2 check characters for 17-digit ID bodies given as integers."""
    digits = (body17[:, None] // (10 ** np.arange(16, -1, -1, dtype=np.int64))) % 10
    check = (12 - (digits * _ID_WEIGHTS).sum(axis=1) % 11) % 11
    return _pool(list("0123456789X")).gather(check)


def sample_id_numbers(
    rng: np.random.Generator,
    provinces: npt.NDArray[np.str_],
    male: npt.NDArray[np.bool_],
    *,
    today: dt.date = dt.date(2025, 6, 1),
    home_share: float = 0.7,
) -> pl.Series:
    """18-character ID numbers, each valid under ``stdnum.cn.ric`` (region valid in birth year).

    ``provinces`` are 2-digit province codes of each row's address: with probability
    ``home_share`` the ID's region is in that province (most shoppers live where they were
    registered), otherwise anywhere. Birth years favour 1985–2000, the heart of online
    shopping, and are clipped so everyone is at least 17 on ``today``.
    """
    regions = load_json("regions.json")
    id_regions: dict[str, list[list[int | str]]] = regions["id_regions"]
    keys = sorted(id_regions)
    flat = [(pp, str(r[0]), int(r[1]), int(r[2])) for pp in keys for r in id_regions[pp]]
    code = np.array([int(f[1]) for f in flat], dtype=np.int64)
    lo = np.array([f[2] for f in flat], dtype=np.int64)
    hi = np.minimum(np.array([f[3] for f in flat], dtype=np.int64), today.year - 17)
    prov_of = np.array([f[0] for f in flat])
    starts = {pp: int(np.searchsorted(prov_of, pp, side="left")) for pp in keys}
    counts = {pp: len(id_regions[pp]) for pp in keys}

    n = len(provinces)
    pick = rng.integers(0, len(flat), size=n)
    home = rng.random(n) < home_share
    for pp in np.unique(provinces):
        rows = np.flatnonzero(home & (provinces == pp))
        if str(pp) in starts and len(rows):
            pick[rows] = starts[str(pp)] + rng.integers(0, counts[str(pp)], size=len(rows))

    y0, y1 = 1950, today.year
    years = np.arange(y0, y1 + 1)
    w = np.exp(-(((years - 1993) / 11.0) ** 2)) + 0.02
    cdf = np.concatenate([[0.0], np.cumsum(w)])
    a = cdf[lo[pick] - y0]
    b = cdf[hi[pick] - y0 + 1]
    year = y0 + np.searchsorted(cdf, a + rng.random(n) * (b - a), side="right") - 1
    year = np.clip(year, lo[pick], hi[pick])
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    ndays = (year + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - jan1
    day = jan1 + (rng.random(n) * ndays.astype(np.int64)).astype(np.int64)
    ymd = pl.Series(day).dt.strftime("%Y%m%d").cast(pl.Int64).to_numpy()

    seq = rng.integers(0, 500, size=n) * 2 + male.astype(np.int64)
    seq = np.where(seq == 0, 2, seq)
    body = code[pick] * 10**11 + ymd * 1000 + seq
    return (pl.Series(body, dtype=pl.Int64).cast(pl.Utf8) + id_check_digits(body)).alias(
        "id_number"
    )


def sample_emails(rng: np.random.Generator, n: int) -> pl.Series:
    """QQ mail dominates Chinese personal e-mail; the rest are pinyin handles on big hosts."""
    qq = pl.Series(rng.integers(10_000, 3_999_999_999, size=n), dtype=pl.Int64).cast(pl.Utf8)
    p1 = _pool(list(_PINYIN)).gather(rng.integers(0, len(_PINYIN), size=n))
    p2 = _pool(list(_PINYIN)).gather(rng.integers(0, len(_PINYIN), size=n))
    num = pl.Series(rng.integers(1970, 2010, size=n), dtype=pl.Int64).cast(pl.Utf8)
    with_num = pl.Series(rng.random(n) < 0.6)
    domain = _pool(list(_EMAIL_DOMAINS)).gather(rng.integers(0, len(_EMAIL_DOMAINS), size=n))
    handle = pl.select(pl.when(with_num).then(p1 + p2 + num).otherwise(p1 + p2)).to_series()
    is_qq = pl.Series(rng.random(n) < 0.55)
    return (
        pl.select(pl.when(is_qq).then(qq + "@qq.com").otherwise(handle + "@" + domain))
        .to_series()
        .alias("email")
    )


def _pool(values: list[str]) -> pl.Series:
    return pl.Series(values=values, dtype=pl.Utf8)
