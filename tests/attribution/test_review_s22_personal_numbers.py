"""Personal numbers the check missed until session 22.

Session 21's note listed what :func:`holds_personal_number` let through into reasons,
incident texts and case notes (stored in clear, sealed for good): phones and cards written
with the separators ``| ; ~ *``, digits of other scripts (Arabic-Indic ٠١٢…, Devanagari …),
first-generation 15-digit ID numbers (issued until 2004, still on old accounts) and
American Express cards (15 digits, 34/37). An order number labelled as one is still never
refused, and the generated shop's order numbers are refused no more often than before.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn  # type: ignore[import-untyped]

from leaktrace.attribution.erasure import clean_reason, holds_personal_number
from leaktrace.errors import InputError
from leaktrace.respond.incident import clean_text
from leaktrace.synth.shop import generate_orders

_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_EXTENDED_ARABIC = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")

PERSONAL = [
    "回拨 138|0013|8000",
    "回拨 138;0013;8000",
    "回拨 138~0013~8000",
    "回拨 138*0013*8000",
    "回拨 138｜0013｜8000",  # full-width bar
    "回拨 138；0013；8000",  # full-width semicolon
    "卡号 6222|0212|3456|7890|128",
    "回拨 " + "13800138000".translate(_ARABIC_INDIC),
    "回拨 " + "13800138000".translate(_EXTENDED_ARABIC),
    "回拨 " + "13800138000".translate(_DEVANAGARI),
    "卡号 " + "6212262201023557228".translate(_ARABIC_INDIC),
    "身份证 " + "11010119900307451X".translate(_ARABIC_INDIC),
    "老身份证 110101900307123",  # 15 digits: region 110101, born 1990-03-07
    "身份证 110101 900307 123",
    "客户身份证号为 320102850101001，请核实",
    "Amex 378282246310005",  # a valid American Express number
    "退款到卡 3782 822463 10005",  # grouped as Amex cards are (4-6-5)
    "卡号 371449635398431",
    "客户说 3714 496353 98431 是他的",  # bare, grouped as an Amex card is
    # the review of the first version: other bars, waves and dashes
    "回拨 138丨0013丨8000",  # 丨 U+4E28, typed as a bar in Chinese text
    "回拨 138〜0013〜8000",  # 〜 U+301C
    "回拨 138‐0013‐8000",  # ‐ U+2010
    "回拨 138−0013−8000",  # − U+2212
    "回拨 138・0013・8000",  # ・ U+30FB
    "回拨 86|138|0013|8000",
    "身份证 110101|19900307|451X",
    "回拨 一三八|零零一三|八零零零",  # numerals, then the bar
]

ORDINARY = [
    "订单 110101900307123 已退款",  # labelled as an order: never an ID number
    "运单号 378282246310005",  # labelled (单号): not a card
    "订单号：371449635398431、378282246310005",
    "工单 2026|1129|0001",
    "评分 4;5;3",
    "尺码 38~42",
    "数量 3*12",
    "100000000000000",  # 15 digits, no known region code, no date
    "990101900307123",  # region 990101 does not exist
    "110101901307123",  # month 13
    "金额 " + "1234".translate(_ARABIC_INDIC) + " 元",
    "378282246310006",  # Amex prefix, Luhn wrong, bare
    "客户说 371449635398431 是他的",  # bare 15 digits: a waybill far more often than Amex
    "客户反映 379584924337211 未送达",
    "运单 379584924337211",
    "物流号 379584924337211",
    "tracking no. 379584924337211",
    # the review of the first version (each refused by it): masks, and lists of items
    "退款至银行卡6222********1234，2026-11-30到账",
    "退款到卡 6222 **** **** 1234 2026-11-30 已到账",
    "信用卡 4111 **** **** 1111 2026/11/30",
    "6222 **** **** 1234;6228 **** **** 5678",
    "161****1900;146****6849",
    "192.168.1.10;10.0.0.1;172.16.0.1",
    "1|2|3|4|5|6|7|8|9|10|11|12|13|14|15",
    "版本 5.15.0;6.7.0;13.8.0",
    "10*8312;6*6657",
    "工单 20231129;20231130;20231201",
    "见 rel-20260516T193033-30499a90 的记录",  # a release id, not a mobile
    "订单号：6212262201023557228;4111111111111111",  # a list of orders, split by ;
]


@pytest.mark.parametrize("text", PERSONAL)
def test_it_is_refused(text: str) -> None:
    assert holds_personal_number(text)
    with pytest.raises(InputError, match="phone or ID card number"):
        clean_text(text, "the measure")
    with pytest.raises(InputError, match="phone or ID card number"):
        clean_reason(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_kept(text: str) -> None:
    assert not holds_personal_number(text)
    assert clean_reason(text) == text


@settings(max_examples=200, deadline=None)
@given(
    body=st.text("0123456789", min_size=12, max_size=12),
    prefix=st.sampled_from(["34", "37"]),
    sep=st.sampled_from(["", " ", "-", "|", ";", "~", "*"]),
    before=st.sampled_from(["", "客户说 ", "卡号 ", "退款到卡", "Amex ", "美国运通 "]),
)
def test_a_valid_amex_number_is_refused_grouped_or_after_a_card_word(
    body: str, prefix: str, sep: str, before: str
) -> None:
    digits = prefix + body
    digits += str(luhn.calc_check_digit(digits))
    written = sep.join([digits[:4], digits[4:10], digits[10:]]) if sep else digits
    bare = before in ("", "客户说 ") and not sep
    assert holds_personal_number(before + written + "。") != bare


@settings(max_examples=200, deadline=None)
@given(
    digits=st.text("0123456789", min_size=11, max_size=11).map(lambda d: "13" + d[2:]),
    table=st.sampled_from([_ARABIC_INDIC, _EXTENDED_ARABIC, _DEVANAGARI]),
    sep=st.sampled_from(["", "|", ";", "~", "*"]),
)
def test_a_mobile_in_any_digits_with_any_separator_is_refused(
    digits: str, table: dict[int, str], sep: str
) -> None:
    written = sep.join([digits[:3], digits[3:7], digits[7:]]).translate(table)
    assert holds_personal_number("请回拨" + written)


def test_labelled_order_numbers_are_never_refused_and_bare_ones_rarely() -> None:
    ids = generate_orders(20_000, 3).get_column("order_id").to_list()
    assert not any(holds_personal_number(f"订单 {i} 已退款") for i in ids)
    refused = sum(holds_personal_number(i) for i in ids)
    # session 21: 0.30 % (a bare order number that happens to be a valid card number)
    assert refused / len(ids) < 0.006


# ---- the second review ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "回拨 138 | 0013 | 8000",
        "回拨 138 ; 0013 ; 8000",
        "回拨 138| 0013| 8000",
        "身份证 110101 | 19900307 | 123X",
        "卡号 6222 | 0212 | 3456 | 7890 | 128",
        "回拨 一三八 | 零零一三 | 八零零零",
        "3782 8224 6310 005",  # Amex grouped 4-4-4-3
    ],
)
def test_bars_with_spaces_and_amex_in_fours_are_refused(text: str) -> None:
    assert holds_personal_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-16;15234;2026-05-18;已发货",  # a date's 16 is no digit group of a number
        "2026-05-16|15234|2026-05-18",
        "143|20260219|85021|453.77",
        "内网主机 192.168.10.101 被植入木马",  # an IPv4 address read as a mobile
        "来源 172.16.130.101、192.168.13.101",
    ],
)
def test_dates_decimals_and_addresses_are_not_joined_into_numbers(text: str) -> None:
    assert not holds_personal_number(text)


def test_a_long_run_of_digits_is_read_once() -> None:
    """``_WEAK_RUN`` was tried from every digit and backtracked: 16,000 digits took
    4-6 s (0.002 s before the session)."""
    import time

    t0 = time.process_time()
    assert not holds_personal_number("5" * 16_000)
    assert time.process_time() - t0 < 0.5
    with pytest.raises(InputError, match="at most 300 characters"):
        clean_reason("5" * 16_000)  # the length first: no work on what is refused
