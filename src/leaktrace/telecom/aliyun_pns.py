"""``aliyun-pns``: Alibaba Cloud Phone Number Protection (号码隐私保护) call reports.

The ``SecretReport`` message of its HTTP batch push (help.aliyun.com, "HTTP批量推送模式"):
a JSON array of call records with, among others, ``call_id``, ``secret_no`` (the privacy
number X: here a canary number), ``peer_no`` (the other party), ``phone_no`` (the A number
X is bound to), ``call_type`` (0: A called out through X; 1: someone called A through X;
4: a call that was blocked) and ``call_time`` (``YYYY-MM-DD HH:MM:SS``, Beijing time). An
SMS record carries ``sms_number`` (the message's length). The provider pushes again what
was not answered with HTTP 200 and a numeric ``code`` (after 1, 5 and 10 minutes).

What counts as a contact with the canary number: ``call_type`` 1 and 4 (someone dialled
or texted X; a blocked call was still dialled). ``call_type`` 0 is the platform's own line
calling out and is left aside. The caller is ``peer_no``.
"""

from __future__ import annotations

from typing import Any

from leaktrace.telecom.records import CallRecord, RecordProblem, field_text, field_time
from leaktrace.telecom.registry import TelecomAdapter, register_adapter

__all__ = ["AliyunPnsAdapter"]

_INBOUND = {1, 4}
_OUTBOUND = 0


@register_adapter
class AliyunPnsAdapter(TelecomAdapter):
    name = "aliyun-pns"
    description = "Alibaba Cloud Phone Number Protection SecretReport (HTTP batch push)"

    def record(self, item: dict[str, Any]) -> CallRecord | None:
        raw_type = item.get("call_type")
        try:
            if isinstance(raw_type, bool):
                raise ValueError
            call_type = int(str(raw_type).strip())
        except ValueError:
            raise RecordProblem("call_type is missing or not a number") from None
        if call_type == _OUTBOUND:
            return None
        if call_type not in _INBOUND:
            raise RecordProblem(f"call_type {call_type} is not one the provider documents")
        sms = item.get("sms_number")
        is_sms = isinstance(sms, int | str) and str(sms).strip() not in ("", "0")
        return CallRecord(
            event_id=field_text(item, "call_id", limit=100),
            at=field_time(item, "call_time"),
            channel="sms" if is_sms else "call",
            callee=field_text(item, "secret_no"),
            caller=field_text(item, "peer_no", required=False),
        )

    def ack(self, recorded: int) -> dict[str, Any]:
        # the provider checks only that ``code`` is a number (and the HTTP status)
        return {"code": 0, "msg": "接收成功", "recorded": recorded}
