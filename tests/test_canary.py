"""Canary rows: look like the sample, keyed and deterministic, contact points from the pools."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from leaktrace.canary import Canary, CanaryKind, canary_records, generate_canaries
from leaktrace.errors import ConfigError, InputError
from leaktrace.synth import generate_orders
from leaktrace.synth.geo import geo

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return generate_orders(4000, seed=21)


@pytest.fixture(scope="module")
def pool() -> list[str]:
    # Platform-controlled numbers: real prefixes in several cities.
    g = geo()
    rng = np.random.default_rng(99)
    cities = g.sample_cities(rng, 80)
    return g.sample_phones(rng, cities).to_list()


EMAILS = [f"c{i}@canary.leaktrace.example" for i in range(40)]


def make(
    sample: pl.DataFrame, pool: list[str], release: str = "rel-1", n: int = 30
) -> pl.DataFrame:
    return generate_canaries(
        sample, n, key=KEY, release_id=release, pool_phones=pool, pool_emails=EMAILS
    )


def test_same_schema_as_sample(sample: pl.DataFrame, pool: list[str]) -> None:
    rows = make(sample, pool)
    assert rows.schema == sample.schema
    assert rows.height == 30


def test_deterministic_per_key_and_release(sample: pl.DataFrame, pool: list[str]) -> None:
    a = make(sample, pool)
    assert a.equals(make(sample, pool))
    assert a.equals(make(sample, list(reversed(pool))))  # pool order does not matter
    b = make(sample, pool, release="rel-2")
    assert not set(a["order_id"].to_list()) & set(b["order_id"].to_list())
    c = generate_canaries(
        sample, 30, key=b"other" * 8, release_id="rel-1", pool_phones=pool, pool_emails=EMAILS
    )
    assert not a.equals(c)


def test_phones_from_pool_and_city_consistent(sample: pl.DataFrame, pool: list[str]) -> None:
    rows = make(sample, pool)
    phones = rows["phone"].to_list()
    assert set(phones) <= set(pool) and len(set(phones)) == len(phones)
    g = geo()
    for c, address in zip(g.city_of_phones(phones), rows["address"].to_list(), strict=True):
        assert address.startswith(g.city_province[c] + g.city_name[c])


def test_order_ids(sample: pl.DataFrame, pool: list[str]) -> None:
    exclude = make(sample, pool, release="earlier")["order_id"]
    rows = generate_canaries(
        sample,
        30,
        key=KEY,
        release_id="earlier",  # same stream as `exclude`: every first draw collides
        pool_phones=pool,
        pool_emails=EMAILS,
        exclude_order_ids=exclude,
    )
    ids = rows["order_id"]
    assert ids.n_unique() == 30
    assert not set(ids.to_list()) & set(exclude.to_list())
    assert not set(ids.to_list()) & set(sample["order_id"].to_list())
    assert ids.str.contains(r"^[1-9]\d+$").all()
    lengths = set(sample["order_id"].str.len_chars().unique().to_list())
    assert set(ids.str.len_chars().to_list()) <= lengths


def test_rows_drawn_from_sample(sample: pl.DataFrame, pool: list[str]) -> None:
    rows = make(sample, pool, n=60)
    triples = set(sample.select("product", "sku", "quantity", "amount", "merchant").rows())
    assert set(rows.select("product", "sku", "quantity", "amount", "merchant").rows()) <= triples
    assert set(rows["courier"].to_list()) <= set(sample["courier"].to_list())
    t = rows["order_time"]
    assert t.min() >= sample["order_time"].min()  # type: ignore[operator]
    assert t.max() <= sample["order_time"].max()  # type: ignore[operator]
    assert (t.dt.microsecond() == 0).all()


@pytest.mark.parametrize("shift_days", [0, -25_000])  # and before 1970 (negative epochs)
def test_times_keep_sub_seconds_only_when_the_sample_has_them(
    sample: pl.DataFrame, pool: list[str], shift_days: int
) -> None:
    shift = pl.duration(days=shift_days)
    whole = sample.with_columns(pl.col("order_time") + shift)
    assert (make(whole, pool)["order_time"].dt.microsecond() == 0).all()
    fine = whole.with_columns(pl.col("order_time") + pl.duration(microseconds=250_000))
    assert (make(fine, pool)["order_time"].dt.microsecond() != 0).any()


def test_id_numbers_valid(sample: pl.DataFrame, pool: list[str]) -> None:
    rows = generate_canaries(
        sample.filter(pl.col("id_number").is_not_null()),  # every row has one: so must canaries
        50,
        key=KEY,
        release_id="ids",
        pool_phones=pool,
        pool_emails=[],
    )
    ids = rows["id_number"].to_list()
    assert all(x is not None and ric.is_valid(x) for x in ids)
    assert rows["email"].null_count() == 0 or rows["email"].null_count() == 50


def test_emails_only_from_pool(sample: pl.DataFrame, pool: list[str]) -> None:
    with_mail = sample.filter(pl.col("email").is_not_null())
    rows = generate_canaries(
        with_mail, 10, key=KEY, release_id="m", pool_phones=pool, pool_emails=EMAILS[:4]
    )
    mails = rows["email"].drop_nulls().to_list()
    assert len(mails) == 4 and set(mails) <= set(EMAILS[:4])  # pool ran out: rest empty


@pytest.mark.parametrize("missing", [None, ""])
def test_empty_text_counts_as_missing_for_emails_and_cards(
    sample: pl.DataFrame, pool: list[str], missing: str | None
) -> None:
    """Session 27's review: a JSON-lines or quoted-CSV export writes a missing e-mail as
    "", which counted as an e-mail, so every canary got a pool mailbox in a column no
    real row filled. Canaries now leave the cell empty as often, and as the sample
    writes it."""
    none = sample.with_columns(email=pl.lit(missing, dtype=pl.Utf8))
    half = sample.with_columns(
        email=pl.when(pl.int_range(pl.len()) % 2 == 0).then(pl.col("email").fill_null("x@qq.com")),
        card_last4=pl.when(pl.int_range(pl.len()) % 2 == 0).then("card_last4"),
    )
    if missing == "":
        half = half.with_columns(pl.col("email", "card_last4").fill_null(""))
    rows = generate_canaries(
        none, 40, key=KEY, release_id="e", pool_phones=pool, pool_emails=EMAILS
    )
    assert rows["email"].to_list() == [missing] * 40
    boxes = [f"d{i}@canary.leaktrace.example" for i in range(80)]
    rows = generate_canaries(half, 70, key=KEY, release_id="h", pool_phones=pool, pool_emails=boxes)
    for col in ("email", "card_last4"):
        filled = rows[col].drop_nulls().filter(rows[col].drop_nulls() != "")
        assert 18 < filled.len() < 52, (col, filled.len())
        empty = rows[col].filter(rows[col].is_null() | (rows[col] == ""))
        assert set(empty.to_list()) == {missing}, col


def test_subset_of_columns_and_other_dtypes(sample: pl.DataFrame, pool: list[str]) -> None:
    sub = sample.select(
        pl.col("order_id").cast(pl.UInt64), "name", "phone", "address", "product"
    ).with_columns(pl.lit("x").alias("extra"))
    rows = generate_canaries(sub, 5, key=KEY, release_id="s", pool_phones=pool, pool_emails=[])
    assert rows.schema == sub.schema
    assert rows["extra"].to_list() == ["x"] * 5


def test_address_style_follows_sample(sample: pl.DataFrame, pool: list[str]) -> None:
    # Sample without the province and with spaces (淘宝 export style).
    styled = sample.with_columns(
        pl.col("address").str.replace(r"^(.+?省)", "").str.replace(r"(市)", "$1 ")
    )
    rows = generate_canaries(
        styled, 20, key=KEY, release_id="style", pool_phones=pool, pool_emails=[]
    )
    provinces = {p for p in geo().city_province if p.endswith("省")}
    assert not any(a.startswith(tuple(provinces)) for a in rows["address"].to_list())
    assert all(" " in a for a in rows["address"].to_list())


def test_a_municipality_written_twice_in_the_sample_is_written_twice(
    sample: pl.DataFrame, pool: list[str]
) -> None:
    """Taobao's exports write 北京 北京市 朝阳区 …: canaries written 北京市 朝阳区 … were the
    only rows of their city without the repeat (session 25's review). A sample that does
    not repeat it gets canaries that do not either."""
    cities = ["北京 北京市 朝阳区", "上海 上海市 浦东新区", "浙江省 杭州市 西湖区"]
    taobao = sample.with_columns(
        pl.Series("address", [f"{cities[i % 3]} 幸福路{i}号" for i in range(sample.height)])
    )
    rows = generate_canaries(
        taobao, 60, key=KEY, release_id="twice", pool_phones=pool, pool_emails=[]
    )
    addresses = rows["address"].to_list()
    muni = [a for a in addresses if a.startswith(("北京", "上海", "天津", "重庆"))]
    assert muni and all(re.match(r"^(北京|上海|天津|重庆) \1市 ", a) for a in muni), muni
    # other provinces as the sample writes them: the province once, then a space
    assert all(re.match(r"^\S+(?:省|自治区) ", a) for a in addresses if a not in muni)
    once = taobao.with_columns(pl.col("address").str.replace(r"^(北京|上海) ", ""))
    plain = generate_canaries(
        once, 60, key=KEY, release_id="twice", pool_phones=pool, pool_emails=[]
    )["address"].to_list()
    assert not any(re.match(r"^(北京|上海|天津|重庆)\s*\1市", a) for a in plain)
    assert any(a.startswith(("北京市 ", "上海市 ")) for a in plain)


def test_pool_errors(sample: pl.DataFrame, pool: list[str]) -> None:
    with pytest.raises(ConfigError, match="phone pool"):
        generate_canaries(sample, 3, key=KEY, release_id="r", pool_phones=[], pool_emails=[])
    with pytest.raises(ConfigError, match="phone pool"):
        generate_canaries(sample, 81, key=KEY, release_id="r", pool_phones=pool, pool_emails=[])
    with pytest.raises(InputError):
        generate_canaries(
            sample.clear(), 3, key=KEY, release_id="r", pool_phones=pool, pool_emails=[]
        )
    assert (
        generate_canaries(sample, 0, key=KEY, release_id="r", pool_phones=[], pool_emails=[]).height
        == 0
    )


def test_canary_records(sample: pl.DataFrame, pool: list[str]) -> None:
    rows = generate_canaries(
        sample.filter(pl.col("email").is_not_null()),
        5,
        key=KEY,
        release_id="rec",
        pool_phones=pool,
        pool_emails=EMAILS,
    )
    records = canary_records(rows)
    phones = [r for r in records if r.kind is CanaryKind.PHONE]
    assert len(phones) == 5
    assert {r.canary_id for r in records} == set(rows["order_id"].to_list())
    first = rows.row(0, named=True)
    assert Canary(first["order_id"], CanaryKind.PHONE, first["phone"]) in records
    assert CanaryKind("email") is CanaryKind.EMAIL


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(release=st.text(min_size=1, max_size=20), n=st.integers(1, 20))
def test_property_canaries(sample: pl.DataFrame, pool: list[str], release: str, n: int) -> None:
    rows = generate_canaries(
        sample, n, key=KEY, release_id=release, pool_phones=pool, pool_emails=EMAILS
    )
    assert rows.height == n and rows.schema == sample.schema
    assert rows["order_id"].n_unique() == n
    assert set(rows["phone"].to_list()) <= set(pool)
    assert all(ric.is_valid(x) for x in rows["id_number"].drop_nulls().to_list())


def test_strict_id_check_accepts_nothing_stdnum_refuses() -> None:
    """The vectorised check behind canary ID numbers: on generated numbers and on copies
    with one digit changed, the year moved or the region swapped, everything it accepts
    stdnum accepts too (and it accepts the generator's numbers)."""
    import numpy as np

    from leaktrace.canary import _strictly_valid
    from leaktrace.synth.people import sample_id_numbers

    rng = np.random.default_rng(5)
    good = sample_id_numbers(rng, np.array(["11", "33", "44", "65"] * 250), rng.random(1000) < 0.5)
    assert _strictly_valid(good).all()
    variants = []
    for v in good.to_list()[:300]:
        i = int(rng.integers(0, 17))
        variants.append(v[:i] + str((int(v[i]) + 1) % 10) + v[i + 1 :])  # checksum broken
        variants.append(v[:6] + str(int(v[6:10]) - 60) + v[10:])  # decades before the code
        variants.append("990000" + v[6:])  # no such region
        variants.append(v[:10] + "1332" + v[14:])  # no 32 January
    ids = pl.Series(variants)
    ok = _strictly_valid(ids)
    assert all(ric.is_valid(v) for v in ids.filter(pl.Series(ok)).to_list())
    assert not ok.all()


def _cities_by_substring(addresses: pl.Series, limit: int = 5000) -> list[int]:
    """The definition: each city's index once per address containing its name, city order."""
    g = geo()
    text = addresses.drop_nulls().head(limit).str.replace_all(r"\s", "")
    found: list[int] = []
    for i, (province, city) in enumerate(zip(g.city_province, g.city_name, strict=True)):
        found += [i] * int(text.str.contains(city or province, literal=True).sum())
    return found


@settings(max_examples=30, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.lists(st.integers(0, 400), max_size=4), st.sampled_from(["", " ", "路1号"])),
        max_size=40,
    )
)
def test_cities_in_addresses_is_a_substring_count(picks: list[tuple[list[int], str]]) -> None:
    """Addresses naming several cities, one name inside another (鞍山市 in 马鞍山市), none."""
    from leaktrace.canary import _cities_in_addresses

    g = geo()
    names = [c or p for p, c in zip(g.city_province, g.city_name, strict=True)]
    names += ["马鞍山市", "鞍山", "北京"]
    values = ["".join(names[i % len(names)] for i in idx) + tail for idx, tail in picks]
    s = pl.Series([*values, None], dtype=pl.String)
    assert _cities_in_addresses(g, s).tolist() == _cities_by_substring(s)


def test_cities_in_addresses_on_orders() -> None:
    from leaktrace.canary import _cities_in_addresses

    addresses = generate_orders(6000, 3).get_column("address")
    got = _cities_in_addresses(geo(), addresses)
    assert got.tolist() == _cities_by_substring(addresses) and len(got) >= 5000


def test_a_short_province_in_the_sample_is_written_short(
    sample: pl.DataFrame, pool: list[str]
) -> None:
    """Exports that write 浙江 杭州市 西湖区 … got canaries that started 浙江省 or with no
    province (浙江 is not 浙江省 to the style check): the only rows of the copy written so
    (session 26). A sample with full names keeps getting full names."""
    short = sample.with_columns(
        pl.col("address")
        .str.replace(r"^(.+?)(?:省|壮族自治区|回族自治区|维吾尔自治区|自治区)", "$1 ")
        .str.replace(r"(市)", "$1 ")
    )
    rows = generate_canaries(
        short, 40, key=KEY, release_id="short", pool_phones=pool, pool_emails=[]
    )
    addresses = rows["address"].to_list()
    provinces = sorted({p for p in geo().city_province if not p.endswith("市")}, key=len)
    assert not any(a.startswith(tuple(provinces)) for a in addresses)
    outside = [a for a in addresses if not a.startswith(("北京", "上海", "天津", "重庆"))]
    short_names = {p.removesuffix("省") for p in provinces} | {
        "广西",
        "宁夏",
        "新疆",
        "西藏",
        "内蒙古",
    }
    assert outside and all(a.split(" ")[0] in short_names for a in outside), outside
    full = generate_canaries(
        sample, 40, key=KEY, release_id="short", pool_phones=pool, pool_emails=[]
    )
    assert any(a.startswith(tuple(provinces)) for a in full["address"].to_list())


def _opening(address: str) -> str:
    """An address's opening style: 直辖市 form or province form, and the separator."""
    a = address.lstrip()
    sep = next((c for c in (" ", "\u3000", "\t") if c in a), "")
    if re.match(r"^(北京|天津|上海|重庆)\s*(北京|天津|上海|重庆)市", a):
        form = "muni-twice"
    elif a[:2] in ("北京", "天津", "上海", "重庆"):
        form = "muni-once" if a[2:3] == "市" else "muni-short"
    elif re.match(r"^\S+?(省|自治区)", a) and not re.match(
        r"^\S+?市", a.split(sep)[0] if sep else a[:4]
    ):
        form = "full"
    elif re.match(r"^\S{2,3}?(市|州|地区|盟)", a):
        form = "none"
    else:
        form = "short"
    return f"{form}/{sep!r}"


def _restyle(df: pl.DataFrame, *, full: bool, sep: str, muni: str) -> pl.DataFrame:
    """The synthetic shop's addresses (浙江省杭州市西湖区…) written as an export writes them."""
    g = geo()
    provinces = sorted({p for p in g.city_province if not p.endswith("市")}, key=len, reverse=True)
    out = []
    for a in df["address"].to_list():
        m = re.match(r"^(北京|天津|上海|重庆)市", a)
        if m:
            head = {
                "once": m.group(0),
                "twice": f"{m.group(1)}{sep}{m.group(0)}",
                "short": m.group(1),
            }
            out.append(head[muni] + sep + a[m.end() :])
            continue
        p = next(p for p in provinces if a.startswith(p))
        stem = re.sub("(省|自治区)$", "", p)
        short = stem if len(stem) <= 3 else stem[:2]
        rest = re.sub(r"^(\S+?(?:市|州|地区|盟))", rf"\1{sep}", a[len(p) :], count=1)
        out.append((p if full else short) + sep + rest)
    return df.with_columns(pl.Series("address", out, dtype=pl.String))


@pytest.mark.parametrize(
    ("shares", "sep", "muni"),
    [
        ((0.5,), " ", "once"),  # half 浙江省 杭州市, half 浙江 杭州市
        ((0.0,), "\u3000", "once"),  # short, ideographic spaces
        ((0.0,), "\t", "short"),  # short, tabs, 北京 朝阳区
        ((1.0,), "", "short"),  # 浙江省杭州市 beside 北京朝阳区
    ],
)
def test_canaries_open_their_addresses_as_the_copy_s_rows_do(
    sample: pl.DataFrame, pool: list[str], shares: tuple[float], sep: str, muni: str
) -> None:
    """A vote gave every canary of a copy one style: where the copy mixed styles, wrote its
    直辖市 short or separated its parts with U+3000 or tabs, the canaries were the only rows
    of theirs, and one filter dropped them (session 26's review). Each canary now opens as
    a random real row of its province does: the styles come in about the copy's shares."""
    half = int(sample.height * shares[0])
    styled = pl.concat(
        [
            _restyle(sample.head(half), full=True, sep=sep, muni=muni),
            _restyle(sample.tail(sample.height - half), full=False, sep=sep, muni=muni),
        ]
    ).sample(fraction=1.0, shuffle=True, seed=3)
    rows = generate_canaries(
        styled, 75, key=KEY, release_id="open", pool_phones=pool, pool_emails=[]
    )
    real = pl.Series([_opening(a) for a in styled["address"].to_list()]).value_counts(
        normalize=True
    )
    share = dict(
        zip(
            real[""] if "" in real.columns else real[real.columns[0]],
            real["proportion"],
            strict=True,
        )
    )
    seen = [_opening(a) for a in rows["address"].to_list()]
    # no canary opens in a way fewer than 1 % of the real rows do
    assert all(share.get(s, 0.0) >= 0.01 for s in seen), sorted(set(seen) - set(share))
    if 0.0 < shares[0] < 1.0:
        full = sum(s.startswith("full") for s in seen) / len(seen)
        assert 0.3 < full < 0.7, full


def test_openings_read_how_an_export_opens_its_addresses() -> None:
    """The second review: 北京市北京市 and 北京市市辖区 were read as 北京市, whitespace around
    an address and punctuation between its parts were never copied, 海南区 (乌海) and
    海南藏族自治州 (青海) were read as the province 海南."""
    from leaktrace.canary import _openings

    rows = _openings(
        pl.Series(
            [
                "北京市北京市朝阳区建国路1号",
                "北京市 市辖区 朝阳区 建国路1号",
                " 浙江省-杭州市-西湖区 文三路1号 ",
                "中国 浙江省 杭州市 西湖区 文三路1号",
                "海南区新华街1号",
                "海南藏族自治州共和县城关镇1号",
                "吉林市船营区解放路1号",
                None,
                "",
            ]
        )
    ).rows(named=True)
    assert len(rows) == 7  # empty ones are no example
    assert (rows[0]["province"], rows[0]["token"]) == ("北京市", "北京市北京市")
    assert (rows[1]["token"], rows[1]["sep"]) == ("北京市 市辖区", " ")
    zj = rows[2]
    assert (zj["lead"], zj["token"], zj["token_sep"], zj["sep"], zj["trail"]) == (
        " ",
        "浙江省",
        "-",
        "-",
        " ",
    )
    assert zj["district_sep"] == " "
    assert (rows[3]["province"], rows[3]["token"]) == ("浙江省", "中国 浙江省")
    assert rows[4]["token"] == "" and rows[4]["province"] != "海南省"
    assert (rows[5]["province"], rows[5]["token"]) == ("青海省", "")
    assert (rows[6]["province"], rows[6]["token"]) == ("吉林省", "")


def test_canaries_copy_the_municipality_form_and_what_surrounds_it(pool: list[str]) -> None:
    beijing = [p for p in pool if geo().city_province[geo().city_of_phones([p])[0]] == "北京市"]
    sample = generate_orders(600, seed=4).filter(pl.col("address").str.starts_with("北京市"))
    sample = sample.with_columns(
        (" " + pl.col("address").str.replace("^北京市", "北京市北京市") + " ").alias("address")
    )
    rows = generate_canaries(
        sample,
        min(len(beijing), 5),
        key=KEY,
        release_id="bj",
        pool_phones=beijing,
        pool_emails=[],
    )
    assert rows.height and all(
        a.startswith(" 北京市北京市") and a.endswith(" ") for a in rows["address"].to_list()
    )


def test_an_address_column_of_nulls_only_is_no_error(sample: pl.DataFrame, pool: list[str]) -> None:
    blank = sample.with_columns(pl.lit(None).alias("address"))
    rows = generate_canaries(blank, 5, key=KEY, release_id="null", pool_phones=pool, pool_emails=[])
    assert rows["address"].null_count() == 5
