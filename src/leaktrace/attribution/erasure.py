"""Erasing a victim's report at the person's request (PIPL Art. 47, 删除权).

A victim who reported a scam call may later ask the platform to delete what they told it.
What :func:`erase_reports` does, and why in this shape:

* **The report row keeps its id and its seal** — what checkpoints pinned — plus its intake
  time, key version and the scam detector's fraud type and stages (no person in them: the
  platform's counts of scam kinds stay right). Everything else that came from or was
  about the person is cleared in the same transaction: the encrypted part (phone, quoted
  values, transcript, police receipt), the keyed phone digests, the intake digest, the
  call time, channel, caller, quoted roles, loss, receipt flag, source (file and line) and
  the intake's reason; the status becomes ``erased``. Deleting the row instead would make
  every later ``verify`` report the checkpointed row as gone (tampering), and would leave
  the checkpoints unable to tell a lawful erasure from a hidden report.
* **A sealed erasure row** (table ``report_erasures``) records when and why, and the
  report's seal. Its seal (an HMAC under the workspace subkey ``report-erasure-seal``)
  covers it *and* the erased row's remaining content. So an administrator without the
  workspace's keys cannot wipe a report to hide evidence against a partner (the row then
  fails its own seal and is flagged as altered, as before), nor dress a wipe up as an
  erasure; and a checkpoint pins erasure rows like the other logs, so one deleted later is
  named by ``verify``.
* An erased report is not evidence any more: ``attribute`` does not load it (neither
  counted nor flagged), ``report list`` shows it as erased. A victim who reports again
  makes a new report (the intake digest that made repeats duplicates is gone).

Not touched, by design: what was derived from the report before and recorded elsewhere —
an incident's events, evidence bundles, drafted notices, a victim case and its payment
decision. Those are the platform's records of its own acts, which the law requires it to
keep (Art. 47's exception for retention periods set by law); erasing a report does not
rewrite history that others already relied on. The operator's reason is stored in clear:
it must not contain personal details (the CLI says so). On SQLite the erasure runs with
``secure_delete`` on, so the old content is overwritten in the file; PostgreSQL keeps old
row versions until ``VACUUM`` reclaims them (docs/attribution.md).
"""

from __future__ import annotations

import functools
import hmac
import json
import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from leaktrace.attribution.reports import customer_digest, normalise_phone_str
from leaktrace.attribution.store import (
    REPORT_SEALED_COLUMNS,
    ReportErasureRecord,
    ReportRecord,
    decrypt_blob,
    engine_for,
    report_facts,
    report_is_sealed,
    seal_holds,
)
from leaktrace.errors import InputError, KeyFileError
from leaktrace.lockfile import workspace_lock
from leaktrace.workspace import Workspace

__all__ = [
    "DEFAULT_REASON",
    "ERASED",
    "UNDONE",
    "ErasureResult",
    "clean_actor",
    "clean_reason",
    "copies_of",
    "dedupe_index",
    "erase_in",
    "erase_reports",
    "erased_count",
    "erased_ids",
    "erasure_holds",
    "erasure_states",
    "holds_personal_number",
    "phone_digests",
    "phone_index",
    "reports_of",
]

ERASED = "erased"
"""The status of an erased report row."""

DEFAULT_REASON = "个人信息主体请求删除 (PIPL Art. 47)"
_REASON_LIMIT = 300


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure request found: ``erased`` (ids cleared now, or that would be without
    ``apply``), ``already`` (ids erased before), whether it was applied."""

    erased: list[int]
    already: list[int]
    applied: bool
    matched_by_phone: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "erased": self.erased,
            "already_erased": self.already,
            "applied": self.applied,
            "matched_by_phone": self.matched_by_phone,
        }


def _wipe(rec: ReportRecord) -> None:
    """Clear every column about the person (see the module docstring); id, seal, received_at,
    key_version, fraud_type and stages stay — as the types leaktrace writes: a value of
    another type (a row written by hand) is cleared too, so that the erasure can be sealed."""
    rec.received_at = rec.received_at if isinstance(rec.received_at, str) else ""
    rec.fraud_type = rec.fraud_type if isinstance(rec.fraud_type, str) else ""
    rec.stages = rec.stages if isinstance(rec.stages, str) else "[]"
    kv = rec.key_version
    rec.key_version = kv if isinstance(kv, int) and not isinstance(kv, bool) else 0
    rec.source = ""
    rec.reported_at = None
    rec.channel = ""
    rec.caller = ""
    rec.quoted_roles = "[]"
    rec.loss = None
    rec.has_receipt = False
    rec.status = ERASED
    rec.reason = ""
    rec.customer = "{}"
    rec.dedupe = ""
    rec.blob = ""


def _facts(er: ReportErasureRecord, rec: ReportRecord) -> bytes:
    row = json.loads(report_facts(rec))
    return json.dumps(
        ["report_erasures", er.report_id, er.erased_at, er.reason, er.actor, er.report_seal, row],
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


_SEAL_PURPOSE = "report-erasure-seal"


def _mac(ws: Workspace, version: int, facts: bytes) -> str:
    return hmac.new(ws.keys.derive(_SEAL_PURPOSE, version), facts, "sha256").hexdigest()


def erasure_holds(ws: Workspace, er: ReportErasureRecord, rec: ReportRecord) -> bool:
    """Whether ``er`` is a valid erasure of ``rec`` as ``rec`` is now: its seal holds over
    both, it names the row's id and the row still carries the seal it had when erased."""
    if er.report_id != rec.id or (rec.seal if isinstance(rec.seal, str) else "") != er.report_seal:
        return False
    return seal_holds(ws, er.seal, _SEAL_PURPOSE, lambda: _facts(er, rec))


def _wiped_copy(rec: ReportRecord) -> ReportRecord:
    """``rec`` as an erasure leaves it (``rec`` itself unchanged)."""
    copy = ReportRecord(**{c: getattr(rec, c) for c in (*REPORT_SEALED_COLUMNS, "id", "seal")})
    _wipe(copy)
    return copy


UNDONE = "erasure_undone"
"""The status of a report row that was erased and is no longer wiped (a table restored from
a copy made before the erasure, a value written into the wiped row): flagged, never
counted; erasing it again wipes it under the same erasure record."""


def erasure_states(
    ws: Workspace, reports: Iterable[ReportRecord], erasures: dict[int, ReportErasureRecord]
) -> dict[int, str]:
    """``ERASED`` for the ids among ``reports`` that a valid erasure names, ``UNDONE`` for
    those a valid erasure names but whose row is no longer wiped (the erasure's seal holds
    over the row as the erasure left it, and the row carries the seal it had then). An
    erasure row that holds neither way (made or changed without the keys) is ignored: the
    report is what its own seal says."""
    out: dict[int, str] = {}
    for r in reports:
        er = erasures.get(r.id)
        if er is None:
            continue
        if erasure_holds(ws, er, r):
            out[r.id] = ERASED
        elif erasure_holds(ws, er, _wiped_copy(r)):
            out[r.id] = UNDONE
    return out


def erased_ids(
    ws: Workspace, reports: Iterable[ReportRecord], erasures: dict[int, ReportErasureRecord]
) -> set[int]:
    """The ids among ``reports`` that a valid erasure names (and whose row is wiped)."""
    return {i for i, state in erasure_states(ws, reports, erasures).items() if state == ERASED}


# Separators between the digit groups of a number: whitespace, dashes (also ‐ U+2010 and
# − U+2212), brackets, plus, dots, underscores, middle dots, commas.
_SEP_CHARS = r"\s\-—–‐−()（）+./_·・,，、"
_SEP = rf"[{_SEP_CHARS}]*"
_MOBILE = re.compile(
    # a mobile (perhaps after its country code, +86 / 0086 / 86), its digits perhaps split
    # by spaces, dashes, dots …, not glued to a digit before or after it, nor to the date
    # and T of a timestamp (rel-20260516T193033-30499a90 is a release id)
    rf"(?<![0-9])(?<![0-9][Tt])(?:(?:00)?86{_SEP})?1{_SEP}[3-9](?:{_SEP}[0-9]){{9}}(?![0-9])"
)
# ``| ; ~ *`` (and 丨 U+4E28, 〜 U+301C; the full-width forms fold to them) split a number
# only in a run that uses one of them alone, singly, between groups holding a number's
# digit count (138|0013|8000): they separate the items of lists (1.2.3;4.5.6,
# 10.0.0.1;10.0.0.2, 10*8312;6*6657) far more often, and a mask (6222********1234) is no
# separator at all. Such a run has them replaced by a dash before the search.
# A run is a whole token (not the 16 of 2026-05-16, nor the 453 of 453.77), its
# separator perhaps between spaces (138 | 0013 | 8000); possessive, so a long run of
# digits is read once (16,000 digits took 6 s when every start backtracked).
_WEAK_RUN = re.compile(
    r"(?<![0-9])(?<![0-9][-—–‐−./:_·・])[0-9]++[ \t]?([|;~*丨〜])[ \t]?[0-9]++"
    r"(?:[ \t]?\1[ \t]?[0-9]++)*+(?:[ \t]?\1?[ \t]?[Xx](?![0-9A-Za-z]))?+"
    r"(?![-—–‐−./:_·・][0-9])"
)
# a dotted quad (192.168.10.101): an address, never a number's digit groups, whose 11
# digits read as a mobile (43 % of 192.168.x.y); its dots are cut before the search
_IPV4 = re.compile(
    r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?![0-9]|\.[0-9])"
)
_NUMBER_LENGTHS = frozenset({11, 13, 15, 16, 17, 18, 19})
"""Digits of a mobile (11; 13 with its country code 86, 15 with 0086), a first-generation
ID number or an American Express card (15), another card (16-19) or an ID number (18)."""
# A run of digits split by separators (138 0013 8000, 6222-0212-…), perhaps ending in an
# ID number's X; a number is looked for in every stretch of its pieces (工单 20231129
# 6222…: the card starts at a piece of its own).
_DIGIT_RUN = re.compile(rf"[0-9]+(?:[{_SEP_CHARS}]+[0-9]+)*(?:[{_SEP_CHARS}]*[Xx](?![0-9A-Za-z]))?")
_PIECE = re.compile(r"[0-9]+")
# Words that say the number after them is a card (退款到卡, 卡号, 银行卡, 银联, 账户 …),
# looked for in the characters just before it; and labels that say it is an order number
# (订单 …, 订单号：a、b, order no. …), right before it or before a list it ends.
_CARD_WORDS = (
    "卡", "card", "银联", "账号", "帐号", "账户", "帐户", "visa", "万事达", "运通", "amex",
    "american express",
)  # fmt: skip
_CARD_WORD_REACH = 16
# order numbers, and waybill and tracking numbers (运单, 物流单号, 快递单号, tracking no.):
# 15-digit waybills are common, and a bare one was taken for an Amex card 1 time in 400
_ORDER_LABEL = re.compile(
    r"(?:订单号?|单号|运单|物流号?|快递号?"
    r"|(?<![a-z])(?:order(?:s| ids?| no| numbers?)?|(?:tracking|waybill)(?:s| no| numbers?)?))$"
)
_ORDER_LABEL_LONGEST = 16
_LIST_RUN = re.compile(rf"[{_SEP_CHARS}|;~丨〜:：#＃0-9]+")


def _list_starts(lowered: str) -> list[int]:
    """For each position ``p`` of ``lowered``, where the run of list characters (digits,
    separators, ``:``, ``#``) that ends at ``p`` begins (``p`` when none does): one pass,
    so a text of many numbers costs no more than its length."""
    starts = list(range(len(lowered) + 1))
    for run in _LIST_RUN.finditer(lowered):
        for p in range(run.start() + 1, run.end() + 1):
            starts[p] = run.start()
    return starts


def _order_label_before(lowered: str, start: int, list_starts: list[int]) -> bool:
    """Whether an order label (``_ORDER_LABEL``) ends right before ``start``: the number
    there, or the list of numbers it ends, is labelled as order numbers.

    The list is followed back to its start, however long (``list_starts``): a window of
    200 characters lost the label of a list of twenty order numbers, and the twelfth of
    them, card-shaped, was refused as a card. Walking back from every number instead
    cost time quadratic in the text: 15 s for a 16,000-character request path, which
    the access log checks before anything else."""
    i = list_starts[start]
    return _ORDER_LABEL.search(lowered[max(0, i - _ORDER_LABEL_LONGEST) : i]) is not None


def _luhn_ok(digits: str) -> bool:
    """The Luhn check every payment card number's last digit satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card_bin(digits: str) -> bool:
    """Whether ``digits`` (15–19 of them) start as a card of the schemes Chinese shoppers
    pay with: UnionPay 62 (16–19 digits), Visa 4, Mastercard 51–55 and 2221–2720 (16),
    American Express 34 and 37 (15)."""
    if len(digits) == 15:
        return digits[:2] in ("34", "37")
    if digits.startswith("62"):
        return True
    return len(digits) == 16 and (
        digits[0] == "4" or "51" <= digits[:2] <= "55" or "2221" <= digits[:4] <= "2720"
    )


def _id_kind(digits: str, x_follows: bool) -> str | None:
    """``"X"`` when ``digits`` then an X is an ID card number, ``"digits"`` when ``digits``
    is one, else None: 18 characters, the last perhaps X, not starting with 0, with a
    birth date (YYYYMMDD, 19xx or 20xx) where an ID number has one (the 7th to 14th); or
    a first-generation number of 15 digits (:func:`_first_generation_id`)."""
    if len(digits) == 15:
        return "digits" if _first_generation_id(digits) else None
    kind = "X" if x_follows and len(digits) == 17 else "digits"
    number = digits + "X" if kind == "X" else digits
    if len(number) != 18 or number[0] == "0":
        return None
    month, day = int(number[10:12]), int(number[12:14])
    dated = number[6:8] in ("19", "20") and 1 <= month <= 12 and 1 <= day <= 31
    return kind if dated else None


@functools.lru_cache(maxsize=8192)  # bounded: the codes come from anyone's text
def _region_known(code: str) -> bool:
    """Whether ``code`` is a county-level region code an ID number was ever issued under
    (python-stdnum's table of codes, abolished ones included: old cards keep old codes)."""
    from stdnum import numdb

    found = numdb.get("cn/loc").info(code)
    return any("county" in props for _part, props in found)


def _first_generation_id(digits: str) -> bool:
    """Whether 15 ``digits`` are a first-generation ID number (issued until 2004, still on
    old accounts and records): a region code IDs were issued under, then a birth date
    YYMMDD of the 1900s, then a 3-digit sequence. The region code, not only the date,
    because 15-digit waybill and ticket numbers are common and a date alone passes one in
    about 27 of them; with the code about one in 5,000 (0.02 % of 100,000 random ones;
    none labelled as a waybill, 运单 …)."""
    try:
        date(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    except ValueError:
        return False
    return _region_known(digits[:6])


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")
"""A decimal digit of another script (Arabic-Indic ٣, Devanagari ३ …): NFKC folds the
full-width digits, not these."""


def _ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script as its ASCII digit (١٣٨… → 138…):
    an agent's keyboard or a pasted message may carry them, and a phone in them is still a
    phone."""
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


def _grouped(pieces: list[re.Match[str]]) -> bool:
    """Whether the pieces are written as a card is: four groups of four digits, perhaps a
    fifth of one to three (6222 0212 3456 7890 123); 4-6-5 for 15 digits (Amex)."""
    sizes = [len(p.group()) for p in pieces]
    if sum(sizes) == 15:  # American Express: 3782 822463 10005 (or 3782 8224 6310 005)
        return sizes in ([4, 6, 5], [4, 4, 4, 3])
    return sizes[:4] == [4, 4, 4, 4] and (len(sizes) == 4 or (len(sizes) == 5 and sizes[4] < 4))


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
"""Case-folding that keeps every position: the card words and order labels it serves are
ASCII or Chinese, and ``"İ".lower()`` is two characters, which shifted every later index."""


def _holds_card_or_id(text: str) -> bool:
    """Whether ``text`` (digits folded) holds a bank card or an ID card number, by the
    rules :func:`holds_personal_number` gives."""
    lowered = text.translate(_ASCII_LOWER)  # str.lower() can lengthen (İ): positions must hold
    list_starts: list[int] | None = None
    for run in _DIGIT_RUN.finditer(text):
        pieces = list(_PIECE.finditer(run.group()))
        x_end = run.group()[-1] in "Xx"
        for i, first in enumerate(pieces):
            start = run.start() + first.start()
            digits = ""
            card_word: bool | None = None  # looked for once a stretch is long enough
            for j in range(i, len(pieces)):
                digits += pieces[j].group()
                if len(digits) > 19:
                    break
                if len(digits) < 15:
                    continue
                if card_word is None:
                    before = lowered[max(0, start - _CARD_WORD_REACH) : start]
                    card_word = any(w in before for w in _CARD_WORDS)
                bin_ok = _card_bin(digits)
                if _grouped(pieces[i : j + 1]) and (bin_ok or card_word or _luhn_ok(digits)):
                    return True
                id_kind = _id_kind(digits, x_end and j == len(pieces) - 1)
                if id_kind == "X":  # an order number is digits only
                    return True
                if not (bin_ok or card_word or id_kind):
                    continue
                # a bare 15-digit run is a waybill far more often than an Amex card: as a
                # card it needs a card word (or the 4-6-5 grouping above)
                luhn = _luhn_ok(digits) and (len(digits) != 15 or card_word)
                if (bin_ok and card_word) or id_kind or luhn:
                    # an order label right before it (or its list) wins over a card word
                    # further back: 客户用礼品卡支付，订单号 4498… is an order number
                    if list_starts is None:
                        list_starts = _list_starts(lowered)
                    if not _order_label_before(lowered, start, list_starts):
                        return True
    return False


def erased_count(ws: Workspace) -> int:
    """How many stored reports are erased (validly)."""
    from leaktrace.attribution.store import load_erasures, load_reports

    erasures = load_erasures(ws)
    if not erasures:
        return 0
    return len(erased_ids(ws, load_reports(ws), erasures))


_CJK_DIGITS = str.maketrans(
    {
        **dict.fromkeys("零〇○", "0"),
        **dict.fromkeys("一幺壹", "1"),
        **dict.fromkeys("二两兩贰貳", "2"),
        **dict.fromkeys("三叁參", "3"),
        **dict.fromkeys("四肆", "4"),
        **dict.fromkeys("五伍", "5"),
        **dict.fromkeys("六陆陸", "6"),
        **dict.fromkeys("七柒", "7"),
        **dict.fromkeys("八捌", "8"),
        **dict.fromkeys("九玖", "9"),
    }
)
"""Chinese numerals read digit by digit, as a phone is said and typed out (一三八零零一三八
零零零, 幺三八 on the telephone, 两 for 2, 〇 for 0, and the full forms 壹贰叁… of cheques),
each to its digit. 十, 百, 千 and 万 are left out: a number written with them is a count or
a date (二〇二六年十一月), never how a phone or an ID number is spelled."""


def holds_personal_number(text: str) -> bool:
    """Whether ``text`` holds a mobile, an ID card or a bank card number, written in
    full-width digits, in Chinese numerals digit by digit, in the digits of another script
    (Arabic-Indic ١٣٨…), or a mix (138零零13八000), its digits perhaps split by spaces,
    dashes, dots … (``6222 0212 3456 7890 123``), or by one of ``| ; ~ *`` throughout a
    run of a number's digit count (``138|0013|8000``: elsewhere they split lists, and
    ``****`` is a mask), not glued to a digit before or after it.

    Why the numerals: a reason is stored in clear and shown on the dashboard, and an agent
    who wrote the phone as 一三八零零一三八零零零 got it past a check that read only
    digits. Ordinary text is not taken for a number: a numeral counts as a digit only in
    a run that has a phone's, an ID or a card number's shape (11, 18 or 16–19 digits,
    perhaps split by spaces or dashes), which 一二三级客服 or 三八妇女节 is not.

    Bank cards, and why not every 16–19 digit run: order numbers, which analysts quote
    in incident texts and case notes all the time, are 16–19 digit strings too (uniform
    random in the synthetic shop), and refusing a text for quoting one would be a bad
    regression. The Luhn check alone passes one order number in ten. So a run of 16–19
    digits is a card when

    * it is written as a card is, in four groups of four (a fifth of 1–3 for 19 digits;
      4-6-5 for an American Express card's 15), split by spaces, dashes …, and has a
      card's issuer prefix (BIN: UnionPay 62 with 16–19 digits; Visa 4, Mastercard 51–55
      or 2221–2720 with 16; American Express 34 or 37 with 15), a valid Luhn check
      digit or a card word before it (below) — order numbers are never written so, and a
      card with a mistyped digit is still a card;
    * a card word stands in the 16 characters before it (卡 as in 退款到卡 / 卡号 / 银行卡,
      银联, 账号, 账户, card, visa, 运通, amex): the agent says it is a card, and it has a card's BIN
      or a valid Luhn check digit, and no order label (next) stands right before it (礼品卡
      支付，订单号 4498… is an order number);
    * otherwise (a bare run, 客户说 6212…): it has a card's BIN *and* a valid Luhn check
      digit, unless an order label comes right before it or before the list it ends
      (订单 …, 订单号：a、b, 运单 …, order no. …, tracking no. …); of 15 digits
      (American Express), bare is not enough: 15-digit waybills are common, and one in
      400 has the prefix and the check digit. An unlabelled order number is taken for a card
      only when it is a valid card number: about 0.3 % of the shop's order numbers
      (0.30 % of 200,000 from ``generate_orders(200_000, 1)``; none labelled as one). A
      card quoted bare with a mistyped digit, or of another scheme (JCB, the old 9558…
      cards) bare, is missed: the price of not refusing one order number in ten.

    ID card numbers, likewise: 18 characters, the last perhaps X, with a birth date
    (19xx/20xx, month 01–12, day 01–31) in the 7th to 14th; one of digits only labelled as
    an order number is not one. Without the date every 18-digit order number (a third of
    the shop's) was refused as an ID number; an ID number with a mistyped birth date is
    now missed. A first-generation ID number (15 digits, issued until 2004) is one when
    its first six digits are a region code IDs were issued under and the next six a birth
    date YYMMDD: about one random 15-digit number in 5,000 passes that.
    """
    # full-width digits fold (１３８…); a number after a ticket's digits and a space is
    # still a number (工单 20231129 13800138000). The text is also searched as written:
    # a numeral glued in front of a phone (统一13800138000) would otherwise become a
    # digit before it, and a number glued to digits is not taken for a phone.
    folded = _ascii_digits(unicodedata.normalize("NFKC", text))
    return any(
        _MOBILE.search(t) or _holds_card_or_id(t)
        for t in (_weak_runs_joined(folded), _weak_runs_joined(folded.translate(_CJK_DIGITS)))
    )


def _weak_runs_joined(text: str) -> str:
    """``text`` with the ``| ; ~ *`` of each run that spells a number with one of them
    (``_WEAK_RUN``, of a number's digit count) replaced by a dash."""

    def joined(m: re.Match[str]) -> str:
        run = m.group()
        count = sum(ch.isdigit() for ch in run) + (run[-1] in "Xx")
        if count not in _NUMBER_LENGTHS:
            return run
        return re.sub(rf"[ \t]?{re.escape(m.group(1))}[ \t]?", "-", run)

    cut = _IPV4.sub(lambda m: m.group().replace(".", "\x00"), text)
    return _WEAK_RUN.sub(joined, cut)


def clean_reason(reason: str | None) -> str:
    """The reason as stored (in clear, and pinned for good once a checkpoint covers it):
    a mobile, ID card or bank card number in it — the phone being erased, typed by an
    agent — is refused, in full-width digits, Chinese numerals, or split by spaces, dashes
    or dots too (:func:`holds_personal_number`)."""
    text = (reason or "").strip() or DEFAULT_REASON
    if any(not ch.isprintable() for ch in text):
        raise InputError("reason: control characters are not allowed")
    if len(text) > _REASON_LIMIT:  # before the number check: no work on what is refused
        raise InputError(f"reason: at most {_REASON_LIMIT} characters ({len(text)} given)")
    if holds_personal_number(text):
        raise InputError(
            "reason: it holds what looks like a phone or ID card number (or a bank card "
            "number); the reason is stored in clear, so give a ticket number, never "
            "personal details"
        )
    return text


def _digests(value: object) -> set[str]:
    """The keyed phone digests a stored ``customer`` column lists ("version:digest")."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return set()
    if not isinstance(parsed, dict):
        return set()
    return {f"{v}:{d}" for v, d in parsed.items()}


def phone_digests(ws: Workspace, phone: str) -> set[str]:
    """The keyed digests ("version:digest") of a normalised victim phone under every key
    version: what a sealed report row lists, and all an erasure request keeps of it."""
    versions = range(1, ws.keys.current_version + 1)
    return {f"{v}:{customer_digest(ws, phone, v)}" for v in versions}


def phone_index(ws: Workspace, recs: Iterable[ReportRecord]) -> dict[str, set[int]]:
    """Keyed phone digest ("version:digest") → the ids of the reports of that phone: by the
    digests a sealed row lists (every key version there was at intake), else by the phone
    in the row's encrypted part, when it opens. Built once for many look-ups (the pending
    erasure requests): each row's seal is checked once.

    Why a row's digests count only under its seal: digests written by someone without the
    keys could point a victim's lawful request at another report (wiping it unflagged), or
    away from the victim's own (leaving their data)."""
    index: dict[str, set[int]] = {}
    for rec in recs:
        listed = _digests(rec.customer)
        if not (listed and report_is_sealed(ws, rec)):
            listed = set()
            if isinstance(rec.blob, str) and rec.blob:
                try:
                    told = decrypt_blob(ws, rec.blob, rec.key_version).get("phone")
                except (KeyFileError, ValueError, TypeError):
                    told = None
                phone = normalise_phone_str(told) if isinstance(told, str) else None
                listed = phone_digests(ws, phone) if phone is not None else set()
        for d in listed:
            index.setdefault(d, set()).add(rec.id)
    return index


def reports_of(index: dict[str, set[int]], wanted: set[str]) -> set[int]:
    """The ids ``index`` (:func:`phone_index`) lists under any of the ``wanted`` digests."""
    return set().union(*(index.get(d, set()) for d in wanted))


def clean_actor(actor: str) -> str:
    """Who asked, as stored: whitespace folded, at most 200 characters, no control
    characters (refused: it is printed to operators)."""
    who = " ".join(actor.split())[:200]
    if any(not ch.isprintable() for ch in who):
        raise InputError("the actor holds control characters")
    return who


def erase_reports(
    ws: Workspace,
    *,
    ids: Sequence[int] = (),
    phone: str | None = None,
    reason: str | None = None,
    actor: str = "",
    apply: bool = False,
) -> ErasureResult:
    """Erase the reports with these ids and/or every report of this victim phone (see the
    module docstring). Without ``apply`` nothing is written: the result says what would be
    erased (the CLI's default, so that an operator sees the list before it is gone).
    ``actor``: who asked for it (a system user's or a token's name), kept with the erasure.

    Raises :class:`InputError` for an id that is not stored, a phone that is not a mainland
    mobile number, a bad reason, or a request that names nothing."""
    if not ids and phone is None:
        raise InputError("name the reports to erase: their ids, or --phone")
    wanted_phone: str | None = None
    if phone is not None:
        wanted_phone = normalise_phone_str(phone)
        if wanted_phone is None:
            raise InputError("--phone: not a mainland mobile number (11 digits starting with 1)")
    text = clean_reason(reason)
    who = clean_actor(actor)
    wanted = phone_digests(ws, wanted_phone) if wanted_phone else set()
    with workspace_lock(ws.home), Session(engine_for(ws)) as s, s.begin():
        return erase_in(s, ws, ids=ids, wanted=wanted, reason=text, actor=who, apply=apply)


@dataclass(frozen=True)
class StoredForErasure:
    """The stored reports, their erasure records and (``index``) the reports by phone
    digest, as read in one session: what the dry runs of several erasure requests share
    (indexing the phones decrypts every report, the most of a dry run's time);
    ``by_dedupe``: the reports by intake digest (:func:`copies_of`)."""

    recs: dict[int, ReportRecord]
    ers: dict[int, ReportErasureRecord]
    index: dict[str, set[int]] | None
    by_dedupe: dict[str, list[int]]


def stored_for_erasure(s: Session, ws: Workspace, *, index: bool = True) -> StoredForErasure:
    """Read :class:`StoredForErasure` in session ``s`` (``index=False``: without the phone
    index, for an erasure by report ids only)."""
    recs = {r.id: r for r in s.scalars(select(ReportRecord))}
    ers = {e.report_id: e for e in s.scalars(select(ReportErasureRecord))}
    phones = phone_index(ws, recs.values()) if index else None
    return StoredForErasure(recs, ers, phones, dedupe_index(recs))


def dedupe_index(recs: dict[int, ReportRecord]) -> dict[str, list[int]]:
    """Intake digest (``dedupe``) → the ids of the stored rows carrying it, for
    :func:`copies_of` (built once for many look-ups: the pending requests' counts)."""
    out: dict[str, list[int]] = {}
    for i, r in recs.items():
        if isinstance(r.dedupe, str) and r.dedupe:
            out.setdefault(r.dedupe, []).append(i)
    return out


def copies_of(
    ws: Workspace,
    recs: dict[int, ReportRecord],
    ids: set[int],
    by_dedupe: dict[str, list[int]] | None = None,
) -> set[int]:
    """The other stored rows holding the same report as any of ``ids`` (the same intake
    digest, ``dedupe``: a row copied whole, which attribution lists as ``duplicate_row``);
    ``by_dedupe``: :func:`dedupe_index` of ``recs``, when already built.

    Only sealed rows on both sides: the seal covers ``dedupe``, so two sealed rows with one
    digest are one report. An unsealed row's digest is whatever was written into it: one
    rewritten to another victim's (by someone without the keys) pointed the requester's
    erasure at that victim's report, wiped under a valid erasure record (review of
    session 18), as a phone digest only counts under its seal (:func:`phone_index`)."""
    digests = {
        d
        for i in ids
        if i in recs
        and isinstance(d := recs[i].dedupe, str)
        and d
        and report_is_sealed(ws, recs[i])
    }
    if not digests:
        return set()
    index = dedupe_index(recs) if by_dedupe is None else by_dedupe
    found = {i for d in digests for i in index.get(d, ())}
    return {i for i in found - ids if report_is_sealed(ws, recs[i])}


def erase_in(
    s: Session,
    ws: Workspace,
    *,
    ids: Sequence[int],
    wanted: set[str],
    reason: str,
    actor: str,
    apply: bool,
    up_to_id: int | None = None,
    stored: StoredForErasure | None = None,
) -> ErasureResult:
    """:func:`erase_reports` inside the caller's transaction (which holds the workspace
    lock), for reports ``ids`` and those of the phone whose digests are ``wanted``;
    ``reason`` and ``actor`` as checked by :func:`erase_reports`. Why separate: deciding an
    erasure request erases and records the decision in one transaction. Without ``apply``
    it only reads, from ``stored`` when given (read once for several dry runs in one
    session; an erasure reads its own, in its transaction). ``up_to_id``: match by phone
    only reports with ids up to this one (those stored when an erasure request was
    taken)."""
    if apply and stored is not None:
        raise ValueError("an erasure reads the stored reports in its own transaction")
    if apply and s.get_bind().dialect.name == "sqlite":
        # the old content of an updated row is overwritten, not left in free space
        # (Debian's SQLite does this by default; others do not)
        s.execute(sql_text("PRAGMA secure_delete = ON"))
    if stored is None or (wanted and stored.index is None):
        stored = stored_for_erasure(s, ws, index=bool(wanted))
    recs, ers = stored.recs, stored.ers
    missing = [i for i in ids if i not in recs]
    if missing:
        raise InputError(f"no stored report has id {missing[0]} (`leaktrace report list`)")
    matched = sorted(reports_of(stored.index or {}, wanted)) if wanted else []
    if up_to_id is not None:  # a request covers the reports stored when it was taken
        matched = [i for i in matched if i <= up_to_id]
    # A row copied whole in the database (the seal does not cover ``id``) is the same
    # report: a copy made after the request, under a new id, kept the phone and counted
    # again once the original was wiped.
    copies = copies_of(ws, recs, set(ids) | set(matched), stored.by_dedupe)
    # matched by phone: those reports and their copies, not the copies of ``ids``
    by_phone = set(matched) | copies_of(ws, recs, set(matched), stored.by_dedupe)
    targets = set(ids) | set(matched) | copies
    already = sorted(erased_ids(ws, (recs[i] for i in targets), ers))
    todo = sorted(targets - set(already))
    states = erasure_states(ws, (recs[i] for i in todo), ers)
    broken = [i for i in todo if i in ers and i not in states]
    if broken:
        # rewriting it would change a row a checkpoint may have pinned (verify would
        # fail for good) and lose the record of the first erasure
        raise InputError(
            f"report {broken[0]} has an erasure record that no longer matches it (changed "
            "in the database): run `leaktrace verify`; it is not erased again"
        )
    if apply:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        v = ws.keys.current_version
        for i in todo:
            rec = recs[i]
            if states.get(i) == UNDONE:  # put back after its erasure: wipe it again
                _wipe(rec)
                continue
            er = ReportErasureRecord(report_id=i, erased_at=now, reason=reason, actor=actor)
            er.report_seal = rec.seal if isinstance(rec.seal, str) else ""
            _wipe(rec)
            er.seal = f"v{v}:{_mac(ws, v, _facts(er, rec))}"
            s.add(er)
    return ErasureResult(todo, already, apply, sorted(by_phone))
