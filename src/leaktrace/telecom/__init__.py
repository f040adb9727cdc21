"""Canary hits from telecom operators: the call and SMS records of the canary numbers.

``ingest(ws, "aliyun-pns", payload)`` records each contact with a canary pool number once
(see :mod:`leaktrace.telecom.ingest`). Adapters are a registry
(:mod:`leaktrace.telecom.registry`): ``local`` (leaktrace's own format, for a platform's
own switch or an exported file) and ``aliyun-pns`` (Alibaba Cloud Phone Number Protection
call reports) ship; another provider is one module and one ``@register_adapter``.
"""

from __future__ import annotations

from leaktrace.telecom import aliyun_pns, local
from leaktrace.telecom.ingest import IngestResult, ingest
from leaktrace.telecom.records import CallRecord
from leaktrace.telecom.registry import TelecomAdapter, adapter, adapter_names, register_adapter

__all__ = [
    "CallRecord",
    "IngestResult",
    "TelecomAdapter",
    "adapter",
    "adapter_names",
    "aliyun_pns",
    "ingest",
    "local",
    "register_adapter",
]
