"""Chinese fraud-text detection: fraud type, script stages with spans, and advice.

    >>> from leaktrace.scam import check
    >>> r = check("我是淘宝客服，您的快递丢失了，我们给您三倍赔偿，请打开共享屏幕")[0]
    >>> r.is_scam, [h.stage for h in r.stages]  # doctest: +SKIP

Public surface: :func:`check`, :class:`ScamResult`, :class:`StageHit`, the category
constants, :func:`verify_contact` and :func:`load_model`. See docs/scam.md.
"""

from __future__ import annotations

from leaktrace.scam._text import MAX_CHARS
from leaktrace.scam.categories import FRAUD_TYPES, NORMAL, RULE_ONLY_TYPES
from leaktrace.scam.contacts import ContactVerdict, verify_contact
from leaktrace.scam.detector import ScamResult, check
from leaktrace.scam.model import DEFAULT_MODEL_PATH, load_model
from leaktrace.scam.rules import STAGES, StageHit

__all__ = [
    "DEFAULT_MODEL_PATH",
    "FRAUD_TYPES",
    "MAX_CHARS",
    "NORMAL",
    "RULE_ONLY_TYPES",
    "STAGES",
    "ContactVerdict",
    "ScamResult",
    "StageHit",
    "check",
    "load_model",
    "verify_contact",
]
