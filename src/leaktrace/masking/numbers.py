"""Mobile and ID numbers a shopper typed into a text field, masked as the policy masks
the number's own field.

Why: shoppers write a second phone into the address (``…3号楼402 电话13812345678``), a
name field holds ``张三13812345678``, a mailbox is ``13812345678@163.com``. A policy that
keeps such a text whole for a recipient whose phones it masks (the merchant template:
``address = "keep"``, ``phone = "mask_phone"``) sent that phone in full (session 25's
list). So every text a policy keeps (name, address, product, e-mail) has the numbers
typed in it masked as the recipient's ``phone`` / ``id_number`` fields are: the same
digits starred under ``mask_phone`` / ``mask_id`` (with their mode), every digit starred
when the field is not sent or sent in any other form (a digest, dropped), nothing when it
is kept whole (a courier that gets the phone anyway).

What counts as a number is what the release's input check refuses in content-placed text
(``leaktrace.io.columns._EMBEDDED_NUMBER``): a whole mobile (3-4-4) or 18-digit ID number
(6-4-4-4), as people type them — up to four separators (spaces of any kind, hyphens,
dots: :data:`leaktrace.pii.text.NUMBER_SEPARATORS`) only at those points, an optional
``+86`` / ``0086`` / ``86`` (a mobile also a trunk ``0``), ASCII or full-width digits, not
inside a longer run of digits (an order number, a waybill). Landlines and 15-digit IDs are
not found.

The rewrite is native (``_rewrite.c`` ``OP_MASK_NUMBERS``, one pass, most values copied
after a byte scan); :data:`NUMBER` with :func:`mask_numbers_reference` is the definition,
which the tests compare with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from leaktrace.masking.base import parse_spec
from leaktrace.masking.phone import _MODES
from leaktrace.pii.text import NUMBER_SEPARATORS, number_separator_run
from leaktrace.rewrite import native_mask

__all__ = [
    "NUMBER",
    "TEXT_ROLES",
    "mask_numbers",
    "mask_numbers_reference",
    "number_params",
]

TEXT_ROLES = frozenset({"name", "address", "product", "email"})
"""Roles whose kept text a shopper may type a number into."""

_D = "[0-9\uff10-\uff19]"
_S = number_separator_run()
_MOBILE = rf"[1\uff11][3-9\uff13-\uff19]{_D}{_S}{_D}{{4}}{_S}{_D}{{4}}"
NUMBER = re.compile(
    rf"(?<!{_D})(?:(?:(?:[+\uff0b]|[0\uff10]{{2}})?[8\uff18][6\uff16]{_S})?"
    rf"(?:(?P<mobile>{_MOBILE})(?!{_D})"
    rf"|(?P<id>[1-9\uff11-\uff19]{_D}{{5}}{_S}(?:[1\uff11][9\uff19]|[2\uff12][0\uff10]){_D}{{2}}"
    rf"{_S}{_D}{{4}}{_S}{_D}{{3}}[0-9\uff10-\uff19Xx\uff38\uff58])(?!{_D}))"
    rf"|[0\uff10](?P<trunk>{_MOBILE})(?!{_D}))"
)
"""A mobile or ID number inside a text (module docstring); the prefix (+86, 0086, 86, or a
trunk 0 before a mobile) is not masked."""

_SEPARATORS = frozenset(NUMBER_SEPARATORS)

Params = tuple[bool, int, int, bool, int, int]
"""(mask phones?, digits kept at the head, at the tail, then the same for ID numbers)."""

_PHONE_MODES: dict[str | None, tuple[int, int]] = {None: _MODES["keep4"]}
_PHONE_MODES.update(_MODES)
"""``mask_phone``'s modes, its default (no argument) included."""


def number_params(fields: Mapping[str, str]) -> Params | None:
    """How a policy's ``fields`` mask numbers in its kept texts; None when it keeps both
    phones and ID numbers whole (nothing to mask)."""

    def rule(role: str, kept: dict[str | None, tuple[int, int]], op: str) -> tuple[bool, int, int]:
        spec = parse_spec(fields.get(role, "drop"))
        if spec.name == "keep":
            return False, 0, 0
        if spec.name == op and spec.arg in kept:
            return (True, *kept[spec.arg])
        return True, 0, 0  # not sent, or sent as a digest: no digit of it either

    phone = rule("phone", _PHONE_MODES, "mask_phone")
    ident = rule("id_number", {None: (6, 4), "last4": (0, 4)}, "mask_id")
    if not phone[0] and not ident[0]:
        return None
    return (*phone, *ident)


def _star(text: str, head: int, tail: int, total: int) -> str:
    out, d = [], 0
    for ch in text:
        if ch in _SEPARATORS:
            out.append(ch)
            continue
        out.append("*" if head <= d < total - tail else ch)
        d += 1
    return "".join(out)


def _mask_one(value: str, params: Params) -> str:
    on_p, head_p, tail_p, on_i, head_i, tail_i = params

    def repl(m: re.Match[str]) -> str:
        whole, start = m.group(0), m.start()
        mobile = "mobile" if m.group("mobile") is not None else "trunk"
        if m.group(mobile) is not None:
            if not on_p:
                return whole
            cut = m.start(mobile) - start
            return whole[:cut] + _star(m.group(mobile), head_p, tail_p, 11)
        if not on_i:
            return whole
        cut = m.start("id") - start
        return whole[:cut] + _star(m.group("id"), head_i, tail_i, 18)

    return NUMBER.sub(repl, value)


def mask_numbers_reference(values: pl.Series, params: Params) -> pl.Series:
    """The definition, one value at a time (the tests' reference; the path without the C
    extension)."""
    out = [None if v is None else _mask_one(v, params) for v in values.to_list()]
    return pl.Series(values.name, out, dtype=pl.String)


def mask_numbers(values: pl.Series, params: Params) -> pl.Series:
    """``values`` (text) with the numbers typed in them masked by ``params``."""
    raw = bytes(int(p) for p in params)
    return native_mask(
        values.cast(pl.String), "OP_MASK_NUMBERS", raw, lambda v: mask_numbers_reference(v, params)
    )
