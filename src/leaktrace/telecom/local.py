"""``local``: leaktrace's own record format, for a platform's own switch or an export.

A JSON array (or, from a file, JSON lines) of objects::

    {"id": "c-1029", "at": "2026-11-29 14:20:05", "channel": "call",
     "to": "17090000123", "from": "02155550000", "text": ""}

``at`` without a zone is the platform's time (UTC+8); ``channel`` is ``call`` or ``sms``;
``text`` (optional) is the message or a transcript.
"""

from __future__ import annotations

from typing import Any

from leaktrace.telecom.records import CHANNELS, CallRecord, RecordProblem, field_text, field_time
from leaktrace.telecom.registry import TelecomAdapter, register_adapter

__all__ = ["LocalAdapter"]


@register_adapter
class LocalAdapter(TelecomAdapter):
    name = "local"
    description = "leaktrace's own format: id, at, channel (call|sms), to, from, text"

    def record(self, item: dict[str, Any]) -> CallRecord:
        channel = field_text(item, "channel").lower()
        if channel not in CHANNELS:
            raise RecordProblem(f"channel must be one of {', '.join(CHANNELS)}")
        return CallRecord(
            event_id=field_text(item, "id", limit=100),
            at=field_time(item, "at"),
            channel=channel,
            callee=field_text(item, "to"),
            caller=field_text(item, "from", required=False),
            text=field_text(item, "text", required=False, limit=5000),
        )
