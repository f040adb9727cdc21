"""A phone or ID number written in Chinese numerals is refused in a stored reason
(session 20, H2).

Erasure-request and report-erase reasons are stored in clear and shown on the dashboard;
a case review's reason uses the same rule. 回拨 138 0013 8000 was refused, 回拨
一三八零零一三八零零零 was stored. Ordinary Chinese text with numerals is not a number.
"""

from __future__ import annotations

import pytest

from leaktrace.attribution.erasure import clean_reason, holds_personal_number
from leaktrace.errors import InputError
from leaktrace.respond.cases import _clean_reason

PERSONAL = [
    "回拨 一三八零零一三八零零零",
    "幺三八 零零幺三 八零零零",
    "138零零13八000",
    "一三九-两两两两-三三三三",
    "客户 壹叁捌零零壹叁捌零零零 来电",
    "身份证 一一〇一〇一一九九〇〇三〇七四五一X",
    "回拨 +86 一三八 〇〇一三 八〇〇〇",
    # as before: digits, full-width digits, a numeral glued in front of a phone
    "回拨 138 0013 8000",
    "回拨１３８００１３８０００",
    "统一13800138000",
]

ORDINARY = [
    "一二三级客服",
    "三八妇女节",
    "二〇二六年十一月回访",
    "工单 2026-1129-0001",
    "第一、二、三次来电均未接通",
    "两三天内处理 一二三级客服 三八妇女节",
    "工单 20231129 一次性处理",
    "个人信息主体请求删除 (PIPL Art. 47)",
]


@pytest.mark.parametrize("reason", PERSONAL)
def test_a_number_in_chinese_numerals_is_refused(reason: str) -> None:
    assert holds_personal_number(reason)
    with pytest.raises(InputError, match="phone or ID card number"):
        clean_reason(reason)
    with pytest.raises(InputError, match="phone or ID card number"):
        _clean_reason(reason)  # a case review's reason: the same rule


@pytest.mark.parametrize("reason", ORDINARY)
def test_ordinary_text_with_numerals_is_kept(reason: str) -> None:
    assert not holds_personal_number(reason)
    assert clean_reason(reason) == reason
    assert _clean_reason(reason) == reason
