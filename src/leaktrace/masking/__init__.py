"""Masking operators (脱敏): what each recipient sees of each field.

One operator per module, one small interface (:class:`MaskingOperator`), looked up by name in
:data:`OPERATORS`. A policy field spec is ``NAME[:ARG][?]`` (see :mod:`.base`):

=====================  =====================================================================
``keep``               unchanged
``drop``               not sent
``mask_name``          张三 → 张*, 欧阳娜娜 → 欧阳**, 阿卜杜拉·买买提 → 阿***·***
``mask_phone[:M]``     M = keep4 (default, 138****5678), waybill (138******78), last4
``mask_id[:last4]``    110105********1234 (default) or last 4 only
``mask_card``          ************1234
``generalise_address`` arg district (default), city, province
``digest[:N]``         per-recipient HMAC-SHA256 hex, N = 16..64 hex chars (default 64)
``truncate_date[:U]``  U = day (default), hour, month
``round_amount[:S]``   nearest multiple of S (default 1)
=====================  =====================================================================

``alias``               FF1 order-number alias (NIST SP 800-38G), tweak = recipient | key version
"""

from __future__ import annotations

from leaktrace.masking.address import GeneraliseAddress
from leaktrace.masking.alias import AliasOperator
from leaktrace.masking.apply import apply_policy_fields, build_operator, check_spec
from leaktrace.masking.base import MaskContext, MaskingOperator, OperatorSpec, parse_spec
from leaktrace.masking.digest import DigestOperator, recipient_digest_key
from leaktrace.masking.generalise import RoundAmount, TruncateDate
from leaktrace.masking.ids import MaskCard, MaskId
from leaktrace.masking.name import MaskName
from leaktrace.masking.phone import MaskPhone
from leaktrace.masking.registry import OPERATORS, OperatorRegistry, register_operator
from leaktrace.masking.simple import Drop, Keep

__all__ = [
    "OPERATORS",
    "MaskContext",
    "MaskingOperator",
    "OperatorRegistry",
    "OperatorSpec",
    "apply_policy_fields",
    "build_operator",
    "check_spec",
    "parse_spec",
    "recipient_digest_key",
    "register_operator",
]

for _cls in (
    Keep,
    Drop,
    MaskName,
    MaskPhone,
    MaskId,
    MaskCard,
    GeneraliseAddress,
    DigestOperator,
    TruncateDate,
    RoundAmount,
    AliasOperator,
):
    register_operator(_cls)
