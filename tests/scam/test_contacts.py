from __future__ import annotations

import pytest

from leaktrace.config import OfficialContacts
from leaktrace.scam.contacts import normalise_domain, normalise_phone, verify_contact

REG = OfficialContacts(
    phones=["95188", "400-820-8820"], domains=["taobao.com"], accounts=["淘宝官方客服"]
)


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+86 138-0013-8000", "13800138000"),
        ("0086 13800138000", "13800138000"),
        ("８６１３８００１３８０００", "13800138000"),
        ("(400) 820 8820", "4008208820"),
        ("+86 95188", "95188"),
        ("95188", "95188"),
        ("hello", None),
    ],
)
def test_normalise_phone(raw: str, digits: str | None) -> None:
    assert normalise_phone(raw) == digits


@pytest.mark.parametrize(
    ("query", "verdict"),
    [
        ("９５１８８", "official"),
        ("400 820 8820", "official"),
        ("4008208821", "not_official"),
        ("13800138000", "not_official"),
        ("https://www.taobao.com/refund", "official"),
        ("help.taobao.com", "official"),
        ("taobao-refund.com", "not_official"),
        ("淘宝官方客服", "official"),
        ("淘宝理赔专员", "not_official"),
        ("", "unknown"),
    ],
)
def test_verify_contact(query: str, verdict: str) -> None:
    assert verify_contact(query, REG).verdict == verdict


def test_empty_registry_is_unknown() -> None:
    v = verify_contact("95188", OfficialContacts())
    assert v.verdict == "unknown" and v.reasons


def test_lookalike_domain_reason() -> None:
    v = verify_contact("taobao-refund.com", REG)
    assert any("look-alike" in r for r in v.reasons)
    assert normalise_domain("ＴＡＯＢＡＯ.ＣＯＭ") == "taobao.com"
