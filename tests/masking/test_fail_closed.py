"""Audit s13 of the masking operators: masks that failed open (the partner received more
than the convention in docs/policy.md and the operators' docstrings allows), fixed in
session 13: compounds, scenic areas, numbered zones and shops taken for districts; a room
written first taken for a province; a 15-digit ID's birth-day digit under ``last4``.
"""

from __future__ import annotations

import pytest

from .conftest import run

# Sub-district place words that must never survive generalise_address: residential
# compounds (小区), shops (超市), building/unit/room words.
_BELOW_DISTRICT = ("小区", "超市", "室", "单元", "幢", "栋", "座")


@pytest.mark.parametrize(
    "value",
    [
        "杭州市阳光小区5栋2单元301室",
        "浙江省杭州市翠苑一区12幢",
    ],
)
def test_generalise_address_drops_residential_compound(value: str) -> None:
    # No district in the address: the convention falls back to the city
    # ("a level that is not present falls back to the coarser one").
    (out,) = run("generalise_address", [value])
    assert out is not None
    assert "小区" not in out and "翠苑" not in out and "阳光" not in out


@pytest.mark.parametrize("level", ["district", "city"])
def test_generalise_address_drops_supermarket(level: str) -> None:
    (out,) = run(f"generalise_address:{level}", ["上海市联华超市"])
    assert out == "上海市"


@pytest.mark.parametrize("level", ["district", "city", "province"])
def test_generalise_address_room_first(level: str) -> None:
    (out,) = run(f"generalise_address:{level}", ["三〇一室，浙江省杭州市西湖区"])
    assert out is None or not any(word in out for word in _BELOW_DISTRICT)
    assert out is None or "三〇一" not in out


def test_mask_id_last4_hides_birth_date_of_15_digit_id() -> None:
    # 15-digit ID: 110105 region, 900101 = birth date YYMMDD, 123 sequence. The module
    # hides the whole birth date ("the last 4 would include a birth-day digit").
    (out,) = run("mask_id:last4", ["110105900101123"])
    assert out.endswith("123")
    assert out[-4] == "*", out


def test_every_real_district_is_kept_or_withheld_never_more() -> None:
    """Every county-level name of the synthetic shop's table (2,807, from the current
    administrative divisions) with a street, building and room after it: the district level
    keeps exactly province + city + district, or — for the few names that hold a character
    street text starts with (肥乡区, 丰镇市) — a coarser prefix of it. Never more."""
    from leaktrace.synth.geo import geo

    g = geo()
    want: list[str] = []
    for i, city in enumerate(g.city_name):
        province = g.city_province[i]
        first, count = int(g.district_start[i]), int(g.district_count[i])
        for j in range(first, first + count):
            want.append((province if city == province else province + city) + g.district_name[j])
    got = run("generalise_address", [w + "幸福路12号3栋2单元401室" for w in want])
    assert len(want) > 2500
    assert all(o is not None and w.startswith(o) for w, o in zip(want, got, strict=True))
    kept = sum(o == w for w, o in zip(want, got, strict=True))
    assert kept >= 0.97 * len(want), kept
