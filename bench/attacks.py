"""Attack suite and benchmark for ``leaktrace trace`` (issue 4).

Builds (or reuses) a ledger of 1,000 recipients over a synthetic shop, then measures, for
each attack and number of leaked rows, how often the right recipient (or a colluder) is
accused at alpha = 1e-9, and counts every false accusation over all innocent
(trace, candidate) pairs and over traces of purely unmarked rows. Two baselines run on
the same leaked rows under the same attacks (``bench/baselines``).

    .venv/bin/python bench/attacks.py --quick            # ~5 min (make bench)
    .venv/bin/python bench/attacks.py --reuse            # full run, cached ledger
    .venv/bin/python bench/attacks.py --speed-only --reuse   # 1M-row trace timing only

Everything is seeded: the shop, the recipients, every trial's rows and alterations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import shutil
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.baselines import AKScheme, ExactIndex
from bench.baselines.exact import row_digests

from leaktrace.config import Policy, Recipient
from leaktrace.release import anchors_of, release
from leaktrace.synth import generate_orders
from leaktrace.trace import trace
from leaktrace.workspace import TEMPLATES, Workspace, init_workspace, open_workspace

ALPHA = 1e-9
# polars/duckdb thread pools do not survive fork(): workers are spawned
_MP = multiprocessing.get_context("spawn")
COLS = ["name", "phone", "address", "order_time", "product"]
EXTRA = ["amount", "quantity"]  # kept only for the AK baseline's "all numeric columns" view
ZH_HEADERS = {
    "name": "收货人",
    "phone": "联系电话",
    "address": "收货地址",
    "order_time": "下单时间",
    "product": "商品名称",
    "order_id": "订单号",
    "amount": "实付金额",
    "quantity": "数量",
}
SEED = 20240601
BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"

# --------------------------------------------------------------------------------------
# scale


@dataclass(frozen=True)
class Scale:
    name: str
    orders: int
    recipients: int
    plan: tuple[tuple[str, tuple[int, ...], int], ...]  # (attack, rows grid, trials)
    unmarked: tuple[tuple[str, int, int], ...]  # (attack, rows, traces)


SINGLE_ATTACKS = (
    "project_npa",
    "project_ntp",
    "nfkc_ws",
    "trunc_min",
    "trunc_day",
    "csv_gb18030",
    "xlsx",
    "shuffle",
    "duplicates",
    "dedup_phone",
    "alter10",
    "alter30",
    "alter50",
    "mix_other",
    "mix_unmarked",
    "collude2",
    "collude3",
    "collude5",
)


def _plan(
    grid_needed: tuple[int, ...],
    t_needed: int,
    grid: tuple[int, ...],
    t_grid: int,
    t200: int,
    alias_t: int,
    canary_grid: tuple[int, ...],
    t_canary: int,
) -> tuple[tuple[str, tuple[int, ...], int], ...]:
    out: list[tuple[str, tuple[int, ...], int]] = [
        ("intact", grid_needed, t_needed),
        ("nfkc_min", grid_needed, t_needed),
        ("alias1", (1,), alias_t),
        ("canary_np", canary_grid, t_canary),
    ]
    for a in SINGLE_ATTACKS:
        out.append((a, tuple(n for n in grid if n != 200), t_grid))
        out.append((a, (200,), t200))
    return tuple(out)


SCALES = {
    "quick": Scale(
        name="quick",
        orders=200_000,
        recipients=1000,
        plan=_plan(
            grid_needed=(1, 2, 3, 5, 10, 20),
            t_needed=5,
            grid=(20,),
            t_grid=1,
            t200=2,
            alias_t=5,
            canary_grid=(500, 5000),
            t_canary=1,
        ),
        unmarked=(("intact", 200, 3), ("nfkc_min", 200, 2), ("intact", 5000, 1)),
    ),
    "smoke": Scale(
        name="smoke",
        orders=20_000,
        recipients=120,
        plan=_plan(
            grid_needed=(1, 5),
            t_needed=2,
            grid=(5,),
            t_grid=1,
            t200=1,
            alias_t=2,
            canary_grid=(500,),
            t_canary=1,
        ),
        unmarked=(("intact", 200, 2),),
    ),
    "full": Scale(
        name="full",
        orders=1_000_000,
        recipients=1000,
        plan=(
            ("intact", (1, 2, 3, 5, 8), 30),
            ("nfkc_min", (3, 5, 8, 12, 20), 30),
            ("alias1", (1,), 30),
            ("canary_np", (500, 5000), 10),
            *((a, (20, 1000), 1) for a in SINGLE_ATTACKS),
            *((a, (200,), 15) for a in SINGLE_ATTACKS),
        ),
        unmarked=(
            ("intact", 200, 15),
            ("nfkc_min", 200, 5),
            ("alter30", 200, 5),
            ("intact", 10_000, 3),
        ),
    ),
}

# --------------------------------------------------------------------------------------
# ledger


def bench_policies() -> dict[str, Policy]:
    """Templates with full name/phone/address kept: the columns the scam files show."""

    def full(t: str, **fields: str) -> Policy:
        p = TEMPLATES[t].model_copy(deep=True)
        p.fields = {**p.fields, **fields}
        p.description = f"bench: {t} with full contact fields"
        return p

    return {
        "bench-courier": full("courier", name="keep"),
        "bench-merchant": full("merchant", name="keep", phone="keep"),
        "bench-cs": full("customer-service", name="keep", phone="keep", address="keep"),
        "bench-sms": full("sms-vendor", name="keep"),
    }


@dataclass
class RecipientSpec:
    name: str
    policy: str
    where: str | None
    group: str  # courier | merchant | everyone | hashed
    courier: str | None = None
    merchant: str | None = None
    modulus: int = 0
    residue: int = 0


def _sql_str(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def recipient_specs(shop: pl.DataFrame, n: int, seed: int) -> list[RecipientSpec]:
    rng = np.random.default_rng(seed)
    specs: list[RecipientSpec] = []
    for i, c in enumerate(sorted(shop.get_column("courier").unique().to_list())):
        specs.append(
            RecipientSpec(
                f"courier-{i:02d}",
                "bench-courier",
                f"courier = {_sql_str(c)}",
                "courier",
                courier=c,
            )
        )
    for i, m in enumerate(sorted(shop.get_column("merchant").unique().to_list())):
        specs.append(
            RecipientSpec(
                f"merchant-{i:02d}",
                "bench-merchant",
                f"merchant = {_sql_str(m)}",
                "merchant",
                merchant=m,
            )
        )
    for name in ("cs-a", "cs-b", "cs-c"):
        specs.append(RecipientSpec(name, "bench-cs", None, "everyone"))
    specs.append(RecipientSpec("sms", "bench-sms", None, "everyone"))
    kinds = ("bench-courier", "bench-cs", "bench-merchant")
    moduli = (100, 200, 250)
    i = 0
    while len(specs) < n:
        mod = moduli[i % 3]
        r = int(rng.integers(mod))
        where = f"cast(substr(order_id, 12, 3) as int) % {mod} = {r}"
        specs.append(
            RecipientSpec(f"h{i:03d}", kinds[(i // 3) % 3], where, "hashed", modulus=mod, residue=r)
        )
        i += 1
    return specs


def _audience(shop: pl.DataFrame, s: RecipientSpec) -> pl.DataFrame:
    """The spec's audience, pre-filtered with the precomputed bucket (same rows as ``where``)."""
    if s.group == "courier":
        return shop.filter(pl.col("courier") == s.courier)
    if s.group == "merchant":
        return shop.filter(pl.col("merchant") == s.merchant)
    if s.group == "hashed":
        return shop.filter(pl.col("_bucket") % s.modulus == s.residue)
    return shop


_W: dict[str, Any] = {}


def _release_init(home: str, shop_path: str) -> None:
    _W["ws"] = open_workspace(Path(home))
    _W["shop"] = pl.read_parquet(shop_path)
    _W["copies"] = Path(home).parent / "copies"


def _release_one(spec: RecipientSpec) -> tuple[str, int, int, float]:
    ws: Workspace = _W["ws"]
    shop: pl.DataFrame = _W["shop"]
    t0 = time.perf_counter()
    data = _audience(shop, spec).drop(["_bucket", "_anchor"])
    res = release(data, recipient=spec.name, workspace=ws)
    assert res.frame is not None
    idx = pl.read_parquet(ws.home / res.entry.index_file, columns=["anchor", "is_canary"])
    frame = res.frame.with_columns(
        idx.get_column("anchor").alias("_anchor"), idx.get_column("is_canary").alias("_canary")
    )
    frame.write_parquet(_W["copies"] / f"{spec.name}.parquet")
    return spec.name, res.rows, res.canaries, time.perf_counter() - t0


def build_ledger(root: Path, scale: Scale, *, reuse: bool, workers: int) -> dict[str, Any]:
    manifest_path = root / "manifest.json"
    if reuse and manifest_path.exists():
        man: dict[str, Any] = json.loads(manifest_path.read_text())
        if man.get("scale") == scale.name and man.get("complete"):
            print(f"reusing ledger at {root} ({man['released_rows']:,} released rows)")
            return man
    if root.exists():
        shutil.rmtree(root)
    (root / "copies").mkdir(parents=True)
    t0 = time.perf_counter()
    shop = generate_orders(scale.orders, seed=SEED)
    home = root / "ws"
    ws = init_workspace(home, canary_phones=["17090000000-17090299999"])
    ws.config.policies.update(bench_policies())
    specs = recipient_specs(shop, scale.recipients, SEED)
    for s in specs:
        ws.config.recipients[s.name] = Recipient(
            display_name=s.name,
            kind="other",
            policy=s.policy,
            where=s.where,
        )
    ws.save()
    v = ws.keys.current_version
    shop = shop.with_columns(
        pl.col("order_id").str.slice(11, 3).cast(pl.Int32).alias("_bucket"),
        pl.Series("_anchor", anchors_of(shop.get_column("order_id"), ws.keys.derive("anchor", v))),
    )
    shop_path = root / "shop.parquet"
    shop.write_parquet(shop_path)
    # biggest first so the two workers finish together
    sizes = {s.name: _audience(shop, s).height for s in specs}
    order = sorted(specs, key=lambda s: -sizes[s.name])
    print(f"releasing {scale.orders:,} orders to {len(specs)} recipients with {workers} workers…")
    stats: dict[str, tuple[int, int, float]] = {}
    with ProcessPoolExecutor(
        workers, mp_context=_MP, initializer=_release_init, initargs=(str(home), str(shop_path))
    ) as ex:
        for i, (name, rows, can, secs) in enumerate(ex.map(_release_one, order, chunksize=4)):
            stats[name] = (rows, can, secs)
            if (i + 1) % 100 == 0:
                print(f"  {i + 1} releases, {time.perf_counter() - t0:.0f} s")
    # exact-match baseline index (whole released rows)
    parts = []
    for s in specs:
        copy = pl.read_parquet(root / "copies" / f"{s.name}.parquet")
        h = row_digests(copy)
        if h is not None:
            parts.append(pl.DataFrame({"h": h, "recipient": [s.name] * copy.height}))
    pl.concat(parts).write_parquet(root / "exact.parquet")
    man = {
        "scale": scale.name,
        "orders": scale.orders,
        "seed": SEED,
        "recipients": [asdict(s) for s in specs],
        "rows": {k: v[0] for k, v in stats.items()},
        "canaries": {k: v[1] for k, v in stats.items()},
        "released_rows": sum(v[0] for v in stats.values()),
        "build_seconds": round(time.perf_counter() - t0, 1),
        "complete": True,
    }
    manifest_path.write_text(json.dumps(man, ensure_ascii=False, indent=1))
    print(
        f"ledger built: {len(specs)} recipients, {man['released_rows']:,} released rows, "
        f"{man['build_seconds']} s"
    )
    return man


# --------------------------------------------------------------------------------------
# attacks (each takes role-named rows and a seeded rng; returns a frame or a file path)


def _nfkc_ws(s: str | None) -> str | None:
    return None if s is None else "".join(unicodedata.normalize("NFKC", s).split())


def nfkc_ws(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        [
            pl.col(c).map_elements(_nfkc_ws, return_dtype=pl.Utf8)
            for c in df.columns
            if df.schema[c] == pl.Utf8
        ]
    )


def truncate(df: pl.DataFrame, every: str) -> pl.DataFrame:
    if "order_time" not in df.columns:
        return df
    if every == "1d":
        return df.with_columns(pl.col("order_time").dt.date())
    return df.with_columns(pl.col("order_time").dt.truncate(every))


_CJK_POOL = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞"
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _retype(s: str, rng: np.random.Generator) -> str:
    if not s:
        return s
    i = int(rng.integers(len(s)))
    ch = s[i]
    if ch.isdigit():
        repl = str((int(unicodedata.digit(ch, 0)) + 1 + int(rng.integers(9))) % 10)
    elif ch.isascii() and ch.isalpha():
        repl = _LETTERS[int(rng.integers(len(_LETTERS)))]
    elif "\u4e00" <= ch <= "\u9fff":
        repl = _CJK_POOL[int(rng.integers(len(_CJK_POOL)))]
    else:
        repl = ch  # punctuation/space: the retyper leaves it (a no-op alteration)
    return s[:i] + repl + s[i + 1 :]


def alter(df: pl.DataFrame, frac: float, rng: np.random.Generator) -> pl.DataFrame:
    """Retype one character in ``frac`` of the cells of every leaked column."""
    cols = {}
    for c in df.columns:
        if c in EXTRA:
            cols[c] = df.get_column(c)
            continue
        s = df.get_column(c)
        vals = (
            s.dt.strftime("%Y-%m-%d %H:%M:%S").to_list()
            if isinstance(s.dtype, pl.Datetime)
            else s.cast(pl.Utf8).to_list()
        )
        hit = rng.random(len(vals)) < frac
        cols[c] = pl.Series(
            c,
            [_retype(v, rng) if h and v is not None else v for v, h in zip(vals, hit, strict=True)],
            dtype=pl.Utf8,
        )
    return pl.DataFrame(cols)


def _zh(df: pl.DataFrame) -> pl.DataFrame:
    return df.rename({c: ZH_HEADERS.get(c, c) for c in df.columns})


def to_csv_gb18030(df: pl.DataFrame, path: Path) -> Path:
    out = _zh(df)
    if "下单时间" in out.columns:
        out = out.with_columns(pl.col("下单时间").dt.strftime("%Y/%m/%d %H:%M:%S"))
    path.write_bytes(out.write_csv().encode("gb18030"))
    return path


def to_xlsx(df: pl.DataFrame, path: Path) -> Path:
    _zh(df).write_excel(path, autofit=False)
    return path


def shuffled(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    cols = list(df.columns)
    perm = [cols[i] for i in rng.permutation(len(cols))]
    out = df.select(perm).sample(fraction=1.0, shuffle=True, seed=int(rng.integers(2**31)))
    return out.rename({c: f"col{i}" for i, c in enumerate(out.columns)})


def apply_attack(
    attack: str, df: pl.DataFrame, rng: np.random.Generator, tmp: Path
) -> pl.DataFrame | Path:
    """The attacker's transformation of already-sampled leaked rows."""
    if attack in (
        "intact",
        "mix_other",
        "mix_unmarked",
        "alias1",
        "canary_np",
    ) or attack.startswith("collude"):
        return df
    if attack == "project_npa":
        return df.select([c for c in ("address", "name", "phone") if c in df.columns])
    if attack == "project_ntp":
        return df.select([c for c in ("phone", "name", "product", "order_time") if c in df.columns])
    if attack == "nfkc_ws":
        return nfkc_ws(df)
    if attack == "trunc_min":
        return truncate(df, "1m")
    if attack == "trunc_day":
        return truncate(df, "1d")
    if attack == "nfkc_min":
        return truncate(nfkc_ws(df), "1m")
    if attack == "csv_gb18030":
        return to_csv_gb18030(df, tmp / "leak.csv")
    if attack == "xlsx":
        return to_xlsx(df, tmp / "leak.xlsx")
    if attack == "shuffle":
        return shuffled(df, rng)
    if attack == "duplicates":
        reps = rng.integers(1, 4, size=df.height)
        return df.select(pl.all().gather(np.repeat(np.arange(df.height), reps))).sample(
            fraction=1.0, shuffle=True, seed=int(rng.integers(2**31))
        )
    if attack == "dedup_phone":
        return df.unique(subset=["phone"], keep="first", maintain_order=True)
    if attack.startswith("alter"):
        return alter(df, int(attack[5:]) / 100, rng)
    raise ValueError(f"unknown attack {attack!r}")


# --------------------------------------------------------------------------------------
# trials


@dataclass
class Task:
    attack: str
    rows: int
    trial: int
    seed: int
    unmarked: bool = False


@dataclass
class Outcome:
    attack: str
    rows: int
    trial: int
    unmarked: bool
    contributors: list[str]
    accused: list[str]
    candidates: int
    detected: bool
    all_detected: bool
    false_accused: list[str]
    innocent_pairs: int
    flagged: list[str]
    """Accused recipients with contradicting evidence (leaktrace.trace.consistency)."""
    rows_read: int
    rows_identified: int
    target_log10: float
    seconds: float
    ak: dict[str, Any] = field(default_factory=dict)
    ak_full: dict[str, Any] = field(default_factory=dict)
    exact: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""


_C: dict[str, Any] = {}


def _trial_init(root: str) -> None:
    r = Path(root)
    man = json.loads((r / "manifest.json").read_text())
    _C["root"] = r
    _C["man"] = man
    _C["ws"] = open_workspace(r / "ws")
    _C["shop"] = pl.read_parquet(r / "shop.parquet").drop("_bucket")
    _C["copies"] = {}
    _C["names"] = [s["name"] for s in man["recipients"]]
    _C["specs"] = {s["name"]: s for s in man["recipients"]}
    _C["ak"] = AKScheme(secret=b"bench-ak-secret-" + str(SEED).encode())
    _C["exact"] = ExactIndex.load(str(r / "exact.parquet"))


def _copy(name: str) -> pl.DataFrame:
    cache: dict[str, pl.DataFrame] = _C["copies"]
    if name not in cache:
        if len(cache) > 48:
            cache.pop(next(iter(cache)))
        cache[name] = pl.read_parquet(_C["root"] / "copies" / f"{name}.parquet")
    return cache[name]


def _real_rows(name: str) -> int:
    man = _C["man"]
    return int(man["rows"][name]) - int(man["canaries"][name])


def _full_recipients(min_rows: int) -> list[str]:
    return [
        n
        for n in _C["names"]
        if _C["specs"][n]["policy"] != "bench-sms" and _real_rows(n) >= min_rows
    ]


def _pick_rows(
    name: str, n: int, rng: np.random.Generator, *, canaries: bool = False
) -> pl.DataFrame:
    c = _copy(name)
    if not canaries:
        c = c.filter(~pl.col("_canary"))
    idx = rng.choice(c.height, size=min(n, c.height), replace=False)
    picked: pl.DataFrame = c[np.sort(idx).tolist()]
    return picked


def _shop_rows(anchors: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"_anchor": anchors}).join(
        _C["shop"], on="_anchor", how="left", maintain_order="left"
    )


@dataclass
class Part:
    source: str  # recipient name or "" for unmarked shop rows
    anchors: pl.Series
    lt: pl.DataFrame  # leaktrace copy rows (or shop rows when unmarked)
    merge_seed: int = 0  # collusion: the cell choices, shared by every system


def _merge_cells(frames: list[pl.DataFrame], rng: np.random.Generator) -> pl.DataFrame:
    """Cell-by-cell collusion: each cell from a random colluder (same choice per system)."""
    k = len(frames)
    cols = {}
    choice = rng.integers(0, k, size=(frames[0].height, len(frames[0].columns)))
    for j, c in enumerate(frames[0].columns):
        stacked = pl.DataFrame({str(i): f.get_column(c) for i, f in enumerate(frames)})
        ch = pl.Series("ch", choice[:, j])
        expr = pl.coalesce([pl.when(pl.col("ch") == i).then(pl.col(str(i))) for i in range(k)])
        cols[c] = stacked.with_columns(ch).select(expr.alias(c)).to_series()
    return pl.DataFrame(cols)


def _collusion_sets(k: int, n: int, rng: np.random.Generator) -> tuple[list[str], pl.Series] | None:
    """k colluders whose copies share ≥ n orders: drawn among the CS firms, a courier and a
    merchant (the realistic heavy overlaps), plus random hashed recipients for k = 5."""
    names = _C["names"]
    couriers = [x for x in names if x.startswith("courier-")]
    merchants = [x for x in names if x.startswith("merchant-")]
    for _ in range(60):
        pool = ["cs-a", "cs-b", "cs-c", str(rng.choice(couriers)), str(rng.choice(merchants))]
        chosen = [pool[i] for i in rng.choice(len(pool), size=min(k, len(pool)), replace=False)]
        common: pl.Series | None = None
        for c in chosen:
            a = _copy(c).filter(~pl.col("_canary")).get_column("_anchor")
            common = a if common is None else common.filter(common.is_in(a.implode()))
        if common is not None and common.len() >= n:
            return chosen, common
    return None


def _leak_parts(task: Task, rng: np.random.Generator) -> tuple[list[Part], list[str]] | str:
    a, n = task.attack, task.rows
    if task.unmarked:
        idx = np.sort(rng.choice(_C["shop"].height, size=n, replace=False))
        s = _C["shop"][idx.tolist()]
        return [Part("", s.get_column("_anchor"), s)], []
    if a.startswith("collude"):
        k = int(a[7:])
        got = _collusion_sets(k, n, rng)
        if got is None:
            return f"no {k} colluders share {n} orders"
        colluders, common = got
        anchors = pl.Series("_anchor", rng.choice(common.to_numpy(), size=n, replace=False))
        merge_seed = int(rng.integers(2**31))
        frames = [
            pl.DataFrame({"_anchor": anchors}).join(
                _copy(c), on="_anchor", how="left", maintain_order="left"
            )
            for c in colluders
        ]
        merged = _merge_cells([f.select(COLS) for f in frames], np.random.default_rng(merge_seed))
        return [Part(",".join(colluders), anchors, merged, merge_seed)], colluders
    need = 1 if a == "alias1" else n
    pool = _full_recipients(need)
    if a == "canary_np":
        pool = [x for x in _C["names"] if _real_rows(x) >= need]
    if not pool:
        return f"no recipient has {need} rows"
    target = str(rng.choice(pool))
    rows = _pick_rows(target, n, rng, canaries=(a == "canary_np"))
    parts = [Part(target, rows.get_column("_anchor"), rows)]
    contributors = [target]
    if a == "mix_other":
        others = [x for x in _full_recipients(n) if x != target]
        for j, o in enumerate(rng.choice(others, size=2, replace=False)):
            m = n // 2 + (n % 2 if j == 0 else 0)
            if m:
                r = _pick_rows(str(o), m, rng)
                parts.append(Part(str(o), r.get_column("_anchor"), r))
                contributors.append(str(o))
    if a == "mix_unmarked":
        idx = np.sort(rng.choice(_C["shop"].height, size=4 * n, replace=False))
        s = _C["shop"][idx.tolist()]
        parts.append(Part("", s.get_column("_anchor"), s))
    return parts, contributors


def _columns_for(attack: str) -> list[str]:
    if attack == "alias1":
        return ["order_id", "name", "phone"]
    if attack == "canary_np":
        return ["name", "phone"]
    return COLS


def _system_rows(part: Part, system: str, cols: list[str]) -> pl.DataFrame:
    """The rows of one part as the given system's copy would show them."""
    if system == "lt" or part.source == "":
        base = part.lt if system == "lt" else _shop_rows(part.anchors)
        keep = cols + [c for c in EXTRA if system != "lt" and c in base.columns]
        return base.select([c for c in keep if c in base.columns])
    shop = _shop_rows(part.anchors)
    if "," in part.source:  # collusion: merge AK copies with the same cell choices
        raise AssertionError("collusion parts are built per system in run_trial")
    ak: AKScheme = _C["ak"]
    return ak.embed(shop, part.source).select(cols + EXTRA)


def _read_back(leak: pl.DataFrame | Path) -> pl.DataFrame:
    from leaktrace.io import read_frame, read_table

    return read_table(leak) if isinstance(leak, Path) else read_frame(leak)


def run_trial(task: Task) -> Outcome:
    rng = np.random.default_rng(task.seed)
    got = _leak_parts(task, rng)
    names: list[str] = _C["names"]
    if isinstance(got, str):
        return Outcome(
            task.attack,
            task.rows,
            task.trial,
            task.unmarked,
            [],
            [],
            0,
            False,
            False,
            [],
            0,
            [],
            0,
            0,
            0.0,
            0.0,
            skipped=got,
        )
    parts, contributors = got
    cols = _columns_for(task.attack)
    perm_seed = int(rng.integers(2**31))
    attack_seed = int(rng.integers(2**31))
    is_collusion = task.attack.startswith("collude")

    def assemble(system: str) -> pl.DataFrame:
        frames = []
        for p in parts:
            if is_collusion and system == "ak":
                colluders = p.source.split(",")
                shop = _shop_rows(p.anchors)
                copies = [_C["ak"].embed(shop, c).select(cols + EXTRA) for c in colluders]
                frames.append(_merge_cells(copies, np.random.default_rng(p.merge_seed)))
            elif is_collusion:
                frames.append(p.lt.select(cols))
            else:
                frames.append(_system_rows(p, system, cols))
        common = [c for c in frames[0].columns if all(c in f.columns for f in frames)]
        df = pl.concat([f.select(common) for f in frames], how="vertical_relaxed")
        return df.sample(fraction=1.0, shuffle=True, seed=perm_seed)

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        attack = "intact" if task.unmarked and task.attack == "intact" else task.attack
        lt_leak = apply_attack(attack, assemble("lt"), np.random.default_rng(attack_seed), tmp)
        t0 = time.perf_counter()
        res = trace(lt_leak, workspace=_C["ws"], alpha=ALPHA)
        secs = time.perf_counter() - t0
        lt_frame = _read_back(lt_leak)
        ak_dir = tmp / "ak"
        ak_dir.mkdir()
        ak_leak = apply_attack(attack, assemble("ak"), np.random.default_rng(attack_seed), ak_dir)
        ak_frame = _read_back(ak_leak)
    accused = [c.recipient for c in res.accused]
    contrib = set(contributors)
    target = contributors[0] if contributors else ""
    target_log10 = next((c.log10_p_corrected for c in res.candidates if c.recipient == target), 0.0)
    out = Outcome(
        attack=task.attack,
        rows=task.rows,
        trial=task.trial,
        unmarked=task.unmarked,
        contributors=contributors,
        accused=accused,
        candidates=len(res.candidates),
        detected=(bool(contrib & set(accused)) if is_collusion else target in accused)
        if contributors
        else False,
        all_detected=bool(contrib) and contrib <= set(accused),
        false_accused=[x for x in accused if x not in contrib],
        innocent_pairs=len([c for c in res.candidates if c.recipient not in contrib]),
        flagged=[c.recipient for c in res.accused if c.contradictions],
        rows_read=res.rows_read,
        rows_identified=res.rows_identified,
        target_log10=max(-1e6, target_log10),
        seconds=round(secs, 3),
    )
    if task.attack in ("alias1", "canary_np"):
        return out
    ak = _C["ak"]
    for label, frame in (
        ("ak", ak_frame.select([c for c in ak_frame.columns if c not in EXTRA])),
        ("ak_full", ak_frame),
    ):
        acc, _ = ak.detect(frame, names, ALPHA)
        setattr(
            out,
            label,
            {
                "detected": bool(contrib & set(acc)) if contributors else False,
                "false": [x for x in acc if x not in contrib],
                "pairs": len([x for x in names if x not in contrib]),
            },
        )
    acc, _ = _C["exact"].detect(lt_frame, names, ALPHA)
    out.exact = {
        "detected": bool(contrib & set(acc)) if contributors else False,
        "false": [x for x in acc if x not in contrib],
        "pairs": len([x for x in names if x not in contrib]),
    }
    return out


def make_tasks(scale: Scale) -> list[Task]:
    tasks: list[Task] = []
    for ai, (attack, grid, trials) in enumerate(scale.plan):
        for n in grid:
            for t in range(trials):
                seed = int(np.random.SeedSequence([SEED, ai, n, t]).generate_state(1)[0])
                tasks.append(Task(attack, n, t, seed))
    for ui, (attack, n, traces) in enumerate(scale.unmarked):
        for t in range(traces):
            seed = int(np.random.SeedSequence([SEED, 999, ui, n, t]).generate_state(1)[0])
            tasks.append(Task(attack, n, t, seed, unmarked=True))
    return tasks


# --------------------------------------------------------------------------------------
# aggregation and reporting


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    cells: dict[tuple[str, int, bool], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        cells[(o.attack, o.rows, o.unmarked)].append(o)
    table = []
    for (attack, n, unmarked), os_ in sorted(
        cells.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])
    ):
        done = [o for o in os_ if not o.skipped]
        row: dict[str, Any] = {
            "attack": attack,
            "rows": n,
            "unmarked": unmarked,
            "trials": len(done),
            "skipped": len(os_) - len(done),
            "detected": sum(o.detected for o in done),
            "all_colluders": sum(o.all_detected for o in done),
            "false_accusations": sum(len(o.false_accused) for o in done),
            "innocent_pairs": sum(o.innocent_pairs for o in done),
            "no_recipient_verdicts": sum(not o.accused for o in done),
            "accusations": sum(len(o.accused) for o in done),
            "contradiction_flags": sum(len(o.flagged) for o in done),
            "median_trace_s": float(np.median([o.seconds for o in done])) if done else 0.0,
        }
        for b in ("ak", "ak_full", "exact"):
            bs = [getattr(o, b) for o in done if getattr(o, b)]
            row[b] = {
                "trials": len(bs),
                "detected": sum(x["detected"] for x in bs),
                "false_accusations": sum(len(x["false"]) for x in bs),
                "innocent_pairs": sum(x["pairs"] for x in bs),
            }
        table.append(row)
    fa = [
        {"attack": o.attack, "rows": o.rows, "trial": o.trial, "accused": o.false_accused}
        for o in outcomes
        if o.false_accused
    ]
    return {"cells": table, "false_accusation_events": fa}


def rows_needed(
    cells: list[dict[str, Any]], attack: str, key: str = "lt", level: float = 0.99
) -> str:
    pts = sorted(
        (c for c in cells if c["attack"] == attack and not c["unmarked"] and c["trials"]),
        key=lambda c: c["rows"],
    )
    for c in pts:
        det = c["detected"] if key == "lt" else c[key]["detected"]
        tr = c["trials"] if key == "lt" else c[key]["trials"]
        if tr and det / tr >= level:
            return f"{c['rows']} ({det}/{tr})"
    if not pts:
        return "n/a"
    last = pts[-1]
    det = last["detected"] if key == "lt" else last[key]["detected"]
    tr = last["trials"] if key == "lt" else last[key]["trials"]
    return f"> {last['rows']} ({det}/{tr} at {last['rows']})"


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    cells = summary["cells"]
    lines = [f"## Run: `{meta['command']}`", ""]
    lines.append(
        f"Scale {meta['scale']}: {meta['orders']:,} orders, {meta['recipients']} recipients, "
        f"{meta['released_rows']:,} released rows (ledger build {meta['build_seconds']} s); "
        f"run {meta['seconds']:.0f} s."
    )
    lines += ["", "### Rows needed for ≥ 99 % detection (alpha = 1e-9)", ""]
    lines.append(
        "| scenario | leaktrace | AK (same columns) | AK (+amount, quantity) | exact match |"
    )
    lines.append("|---|---|---|---|---|")
    for a, label in (
        ("intact", "intact name, phone, address, time, product"),
        ("nfkc_min", "NFKC + whitespace removal + minute truncation"),
        ("alias1", "one row with an order alias"),
        ("canary_np", "name + phone only (canaries)"),
    ):
        lt = rows_needed(cells, a)
        bl = (
            [rows_needed(cells, a, k) for k in ("ak", "ak_full", "exact")]
            if a in ("intact", "nfkc_min")
            else ["—"] * 3
        )
        lines.append(f"| {label} | {lt} | {' | '.join(bl)} |")
    lines += ["", "### Detection per attack (detected/trials)", ""]
    attacks = [a for a, _, _ in SCALES[meta["scale"]].plan]
    grid = sorted({c["rows"] for c in cells if not c["unmarked"]})
    lines.append("| attack | " + " | ".join(str(n) for n in grid) + " |")
    lines.append("|---|" + "---|" * len(grid))
    for a in dict.fromkeys(attacks):
        by = {c["rows"]: c for c in cells if c["attack"] == a and not c["unmarked"]}
        row = [
            f"{by[n]['detected']}/{by[n]['trials']}" if n in by and by[n]["trials"] else ""
            for n in grid
        ]
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    lines += ["", "### At 200 leaked rows: leaktrace vs baselines (detected/trials)", ""]
    lines.append("| attack | leaktrace | all colluders | AK | AK +amount,qty | exact match |")
    lines.append("|---|---|---|---|---|---|")
    for c in cells:
        if c["rows"] == 200 and not c["unmarked"]:
            lines.append(
                f"| {c['attack']} | {c['detected']}/{c['trials']} | "
                + (
                    f"{c['all_colluders']}/{c['trials']}"
                    if c["attack"].startswith("collude")
                    else "—"
                )
                + f" | {c['ak']['detected']}/{c['ak']['trials']} | {c['ak_full']['detected']}/{c['ak_full']['trials']}"
                f" | {c['exact']['detected']}/{c['exact']['trials']} |"
            )
    marked = [c for c in cells if not c["unmarked"]]
    unm = [c for c in cells if c["unmarked"]]
    lines += ["", "### False accusations", ""]
    lines.append(
        f"- leaktrace, traces of marked leaks: **{sum(c['false_accusations'] for c in marked)}** false "
        f"accusations over {sum(c['innocent_pairs'] for c in marked):,} innocent (trace, candidate) "
        f"pairs in {sum(c['trials'] for c in marked):,} traces."
    )
    lines.append(
        f"- leaktrace, traces of purely unmarked rows: **{sum(c['false_accusations'] for c in unm)}** "
        f"accusations in {sum(c['trials'] for c in unm)} traces "
        f'({sum(c["no_recipient_verdicts"] for c in unm)} said "no recipient identified"), '
        f"{sum(c['innocent_pairs'] for c in unm):,} innocent pairs: "
        + ", ".join(
            f"{c['attack']}×{c['rows']} rows: {c['no_recipient_verdicts']}/{c['trials']}"
            for c in unm
        )
        + "."
    )
    for b in ("ak", "ak_full", "exact"):
        lines.append(
            f"- baseline {b}: {sum(c[b]['false_accusations'] for c in cells)} false accusations over "
            f"{sum(c[b]['innocent_pairs'] for c in cells):,} innocent pairs."
        )
    lines.append(
        f"- contradicting-evidence flags (`leaktrace.trace.consistency`) on accusations of "
        f"marked leaks: {sum(c.get('contradiction_flags', 0) for c in marked)} of "
        f"{sum(c.get('accusations', 0) for c in marked):,}: "
        + (
            ", ".join(
                f"{c['attack']}×{c['rows']}: {c['contradiction_flags']}/{c['accusations']}"
                for c in marked
                if c.get("contradiction_flags")
            )
            or "none"
        )
        + "."
    )
    if summary["false_accusation_events"]:
        lines.append(
            f"- events: {json.dumps(summary['false_accusation_events'], ensure_ascii=False)}"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# speed


def speed_test(root: Path, leaked_rows: int) -> dict[str, Any]:
    """Trace ``leaked_rows`` rows (CS firm A's copy, intact) against the whole ledger."""
    ws = open_workspace(root / "ws")
    copy = pl.read_parquet(root / "copies" / "cs-a.parquet")
    leak = copy.head(leaked_rows).select(COLS)
    t0 = time.perf_counter()
    res = trace(leak, workspace=ws, alpha=ALPHA)
    secs = time.perf_counter() - t0
    return {
        "leaked_rows": leak.height,
        "seconds": round(secs, 1),
        "accused": [c.recipient for c in res.accused],
        "rows_identified": res.rows_identified,
    }


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "python": platform.python_version()}


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~5-minute run (make bench)")
    ap.add_argument("--scale", choices=sorted(SCALES), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--reuse", action="store_true", help="reuse the cached ledger in --ledger-dir")
    ap.add_argument("--ledger-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="directory for JSON results")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-rows", type=int, default=1_000_000)
    ap.add_argument("--only", default="", help="comma-separated attacks to run (default all)")
    ap.add_argument("--trials-scale", type=float, default=1.0, help="multiply trial counts")
    args = ap.parse_args(list(argv) if argv is not None else None)
    scale = SCALES[args.scale or ("quick" if args.quick else "full")]
    root = args.ledger_dir or (OUT_DIR / f"ledger-{scale.name}")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    man = build_ledger(root, scale, reuse=args.reuse, workers=args.workers)
    command = "python bench/attacks.py " + " ".join(sys.argv[1:] if argv is None else list(argv))
    meta = {
        "command": command.strip(),
        "scale": scale.name,
        "orders": man["orders"],
        "recipients": len(man["recipients"]),
        "released_rows": man["released_rows"],
        "build_seconds": man["build_seconds"],
        "machine": machine(),
    }
    results: dict[str, Any] = {"meta": meta}
    if not args.speed_only:
        if args.trials_scale != 1.0:
            scale = Scale(
                scale.name,
                scale.orders,
                scale.recipients,
                tuple((a, g, max(1, round(t * args.trials_scale))) for a, g, t in scale.plan),
                tuple((a, n, max(1, round(t * args.trials_scale))) for a, n, t in scale.unmarked),
            )
        tasks = make_tasks(scale)
        if args.only:
            keep = set(args.only.split(","))
            tasks = [t for t in tasks if t.attack in keep]
        print(f"{len(tasks)} traces…")
        outcomes: list[Outcome] = []
        t1 = time.perf_counter()
        with ProcessPoolExecutor(
            args.workers, mp_context=_MP, initializer=_trial_init, initargs=(str(root),)
        ) as ex:
            for i, o in enumerate(ex.map(run_trial, tasks, chunksize=2)):
                outcomes.append(o)
                if o.false_accused:
                    print(
                        f"  FALSE ACCUSATION {o.attack} rows={o.rows} trial={o.trial}: {o.false_accused}"
                    )
                if (i + 1) % 100 == 0:
                    print(f"  {i + 1}/{len(tasks)} traces, {time.perf_counter() - t1:.0f} s")
        summary = summarise(outcomes)
        meta["seconds"] = time.perf_counter() - t0
        results["summary"] = summary
        results["outcomes"] = [asdict(o) for o in outcomes]
        md = render(summary, meta)
        print(md)
        (args.out / f"attacks-{scale.name}.md").write_text(md, encoding="utf-8")
    if not args.no_speed and (args.speed_only or not args.quick):
        sp = speed_test(root, args.speed_rows)
        print(f"speed: {sp}")
        results["speed"] = sp
    meta["seconds"] = time.perf_counter() - t0
    out_json = args.out / f"attacks-{scale.name}{'-speed' if args.speed_only else ''}.json"
    out_json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(f"results: {out_json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
