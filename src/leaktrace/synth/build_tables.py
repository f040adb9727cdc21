"""Rebuild the shipped geography and name tables under ``synth/data/``.

Run by a developer, never at import or generation time::

    .venv/bin/python -m leaktrace.synth.build_tables

Why a build step: the phone → city mapping comes from ``phonenumbers``' geocoder, which is
only queryable one number at a time (~12 s for the 700 000 mobile 7-digit prefixes
130xxxx–199xxxx). Shipping the result as a small run-length table makes generation fast
and, just as important, *reproducible*: a ``phonenumbers``/``faker`` upgrade must not
silently change what ``generate_orders(n, seed)`` returns.

Sources:

* ``phonenumbers`` zh geocoding of China mobile prefixes → ``phone_prefixes.csv``
  (``start,length,city`` runs of consecutive prefixes in the same city).
* ``python-stdnum``'s ``cn/loc.dat`` (the administrative division codes with their
  validity years, the very table ``stdnum.cn.ric`` validates ID numbers against) →
  ``regions.json``: the current provinces/cities/districts used for addresses, and the
  region codes that were valid over the whole birth-year window used for ID numbers.
* ``faker``'s zh_CN surname frequencies and given names → ``names.json``, completed with
  a hand-written pool of modern given-name characters and rare compound surnames.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ID_BIRTH_YEARS", "build_all"]

DATA_DIR = Path(__file__).with_name("data")

#: Birth years the synthetic ID numbers use. Each ID region code is shipped with the
#: sub-window (>= 10 years) in which ``stdnum`` accepts it; the generator draws the birth
#: year inside that sub-window, so every number validates.
ID_BIRTH_YEARS = (1955, 2008)

#: The year the synthetic orders are set in: a division counts as current when valid then.
CURRENT_YEAR = 2025

_MUNICIPALITIES = {"11", "12", "31", "50"}
_CITY_ALIASES = {"襄樊": "襄阳市"}
_SKIP_COUNTY = re.compile(r"市辖区|办事处|直辖|^市区$|^郊区$|^矿区$")

Span = tuple[int | None, int | None]


def _parse_spans(value: str) -> list[tuple[Span, str]]:
    """``"[-1991]东郊区,[1992-]东丽区"`` → ``[((None, 1991), "东郊区"), ((1992, None), "东丽区")]``."""
    out: list[tuple[Span, str]] = []
    for part in value.split(","):
        if part.startswith("["):
            span, name = part[1:].split("]")
            start, end = span.split("-")
            out.append(((int(start) if start else None, int(end) if end else None), name))
        else:
            out.append(((None, None), part))
    return out


def _valid_in(span: Span, year: int) -> bool:
    return (span[0] is None or span[0] <= year) and (span[1] is None or span[1] >= year)


def _load_divisions() -> tuple[dict[str, str], dict[str, list[tuple[Span, str]]]]:
    """Return (province code → name, 6-digit code → [(span, name)]) from stdnum's loc.dat."""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text(encoding="utf-8")
    provinces: dict[str, str] = {}
    codes: dict[str, list[tuple[Span, str]]] = {}
    current_pp = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r'^(\d\d) province="([^"]+)"', line)
        if m:
            current_pp = m.group(1)
            provinces[current_pp] = m.group(2)
            continue
        m = re.match(r'^\s+(\d{4}) county="([^"]+)"', line)
        if m:
            codes[current_pp + m.group(1)] = _parse_spans(m.group(2))
    return provinces, codes


def _current_name(spans: list[tuple[Span, str]]) -> str | None:
    for span, name in spans:
        if _valid_in(span, CURRENT_YEAR):
            return name
    return None


def _stem(name: str) -> str:
    for suffix in ("地区", "市", "盟", "区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _province_stem(name: str) -> str:
    return name[:3] if name.startswith(("内蒙古", "黑龙江")) else name[:2]


def _build_regions(
    provinces: dict[str, str], codes: dict[str, list[tuple[Span, str]]]
) -> dict[str, dict[str, Any]]:
    """City units (keyed by code) with their current districts.

    A *city unit* is what a phone prefix geocodes to: a prefecture (杭州市), a municipality
    (北京市, code ``110000``, no separate city part) or a province-administered county-level
    city (仙桃市).
    """
    units: dict[str, dict[str, Any]] = {}
    for code, spans in codes.items():
        name = _current_name(spans)
        if name is None:
            continue
        pp, cc, dd = code[:2], code[2:4], code[4:]
        province = provinces[pp]
        if pp in _MUNICIPALITIES:
            unit = units.setdefault(
                pp + "0000",
                {"code": pp + "0000", "province": province, "city": "", "districts": []},
            )
            if dd != "00" and not _SKIP_COUNTY.search(name):
                unit["districts"].append([name, code])
            continue
        if cc == "00":
            continue
        parent = codes.get(pp + cc + "00")
        parent_name = _current_name(parent) if parent else None
        if parent_name is None:
            continue
        if dd == "00":
            if "直辖" not in name:
                units.setdefault(
                    code, {"code": code, "province": province, "city": name, "districts": []}
                )
            continue
        if "直辖" in parent_name:
            # 省直辖县级行政区划: the county-level city stands as its own city unit.
            units[code] = {"code": code, "province": province, "city": name, "districts": []}
            continue
        if not _SKIP_COUNTY.search(name):
            unit = units.setdefault(
                pp + cc + "00",
                {
                    "code": pp + cc + "00",
                    "province": province,
                    "city": parent_name,
                    "districts": [],
                },
            )
            unit["districts"].append([name, code])
    return units


def _match_city(
    description: str,
    provinces: dict[str, str],
    units: dict[str, dict[str, Any]],
    codes: dict[str, list[tuple[Span, str]]],
) -> str | None:
    """Map a geocoder description (``浙江省杭州市``, ``内蒙古包头市``, ``天津``) to a city unit code."""
    for pp, pname in provinces.items():
        stem = _province_stem(pname)
        if not description.startswith(stem):
            continue
        rest = (
            description[len(pname) :] if description.startswith(pname) else description[len(stem) :]
        )
        rest = rest.removeprefix("省")
        if pp in _MUNICIPALITIES:
            return pp + "0000"
        if not rest:
            return None
        if _stem(rest) in _CITY_ALIASES:
            rest = _CITY_ALIASES[_stem(rest)]
        in_province = [u for c, u in units.items() if c.startswith(pp)]
        for unit in in_province:
            if unit["city"] == rest:
                return str(unit["code"])
        for unit in in_province:
            if _stem(unit["city"]) == _stem(rest):
                return str(unit["code"])
        # A former prefecture now a district/county-level city (巢湖市 → 合肥市, 莱芜 → 济南市).
        for code, spans in codes.items():
            name = _current_name(spans)
            if code.startswith(pp) and code[4:] != "00" and name and _stem(name) == _stem(rest):
                parent = code[:4] + "00"
                if parent in units:
                    return parent
        return None
    return None


def _scan_phone_prefixes() -> list[tuple[int, str]]:
    """Every valid China mobile 7-digit prefix with its zh geocoder description."""
    import phonenumbers
    from phonenumbers import geocoder

    out: list[tuple[int, str]] = []
    for prefix in range(1_300_000, 2_000_000):
        number = phonenumbers.parse(f"+86{prefix}0000")
        if not phonenumbers.is_valid_number(number):
            continue
        description = geocoder.description_for_number(number, "zh")
        if description and description != "中国":
            out.append((prefix, description))
    return out


# Modern given-name characters (by gender tendency); faker's zh_CN list alone skews old.
_MALE_CHARS = (
    "浩宇轩子梓睿俊博文泽昊然铭嘉逸航宸一辰晨明杰磊伟强鹏飞鑫涛超凯健旭阳林东斌彬坤志建国"
    "华兵峰亮成瑞翔宏海波军勇刚平辉毅晓天佳豪皓奕煜哲诚远思永锦鸿亦承钧"
)
_FEMALE_CHARS = (
    "欣怡雨涵梓萱佳琪思诗语彤婷颖馨悦雅静晓雪慧琳倩丽芳敏娜燕玲霞红梅兰英秀洁蕾莹璐瑶"
    "可诺若一心子晴妍佩玉月春丹萍菲薇蓉婉茜姝宁岚钰"
)
_COMPOUND_SURNAMES = {
    "欧阳": 0.03, "司马": 0.006, "上官": 0.006, "诸葛": 0.005, "东方": 0.004,
    "皇甫": 0.004, "令狐": 0.003, "慕容": 0.003, "夏侯": 0.003, "尉迟": 0.002,
    "公孙": 0.002, "司徒": 0.005, "端木": 0.002, "长孙": 0.002, "宇文": 0.002,
}  # fmt: skip


def _build_names() -> dict[str, Any]:
    from faker.providers.person.zh_CN import Provider

    surnames = {k: float(v) for k, v in Provider.last_names.items()}
    for k, v in _COMPOUND_SURNAMES.items():
        surnames.setdefault(k, v)
    return {
        "surnames": [[k, round(v, 4)] for k, v in surnames.items()],
        "given_male": list(Provider.first_names_male),
        "given_female": list(Provider.first_names_female),
        "chars_male": sorted(set(_MALE_CHARS)),
        "chars_female": sorted(set(_FEMALE_CHARS)),
    }


def build_all(data_dir: Path = DATA_DIR) -> None:
    provinces, codes = _load_divisions()
    units = _build_regions(provinces, codes)

    prefixes = _scan_phone_prefixes()
    cache: dict[str, str | None] = {}
    unmatched: collections.Counter[str] = collections.Counter()
    runs: list[list[int | str]] = []
    prefix_count: collections.Counter[str] = collections.Counter()
    for prefix, description in prefixes:
        if description not in cache:
            cache[description] = _match_city(description, provinces, units, codes)
        city = cache[description]
        if city is None:
            unmatched[description] += 1
            continue
        prefix_count[city] += 1
        last = runs[-1] if runs else None
        if last is not None and last[2] == city and int(last[0]) + int(last[1]) == prefix:
            last[1] = int(last[1]) + 1
        else:
            runs.append([prefix, 1, city])
    if unmatched:
        print("unmatched geocoder descriptions:", dict(unmatched))

    with (data_dir / "phone_prefixes.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["start", "length", "city"])
        writer.writerows(runs)

    lo, hi = ID_BIRTH_YEARS
    id_regions: dict[str, list[list[int | str]]] = collections.defaultdict(list)
    for code, spans in sorted(codes.items()):
        if code[4:] == "00":
            continue
        best: tuple[int, int] | None = None
        for span, name in spans:
            if _SKIP_COUNTY.search(name):
                continue
            start = max(lo, span[0] if span[0] is not None else lo)
            end = min(hi, span[1] if span[1] is not None else hi)
            if end - start >= 10 and (best is None or end - start > best[1] - best[0]):
                best = (start, end)
        if best is not None:
            id_regions[code[:2]].append([code, best[0], best[1]])
    cities = [
        {**u, "phone_prefixes": prefix_count[c]}
        for c, u in sorted(units.items())
        if prefix_count[c] > 0
    ]
    regions = {
        "source": "python-stdnum cn/loc.dat; city weights = phonenumbers prefix counts",
        "current_year": CURRENT_YEAR,
        "id_birth_years": list(ID_BIRTH_YEARS),
        "cities": cities,
        "id_regions": dict(id_regions),
    }
    (data_dir / "regions.json").write_text(
        json.dumps(regions, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    (data_dir / "names.json").write_text(
        json.dumps(_build_names(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    print(
        f"{len(runs)} prefix runs, {len(cities)} cities, "
        f"{sum(map(len, id_regions.values()))} ID region codes"
    )


if __name__ == "__main__":
    build_all()
