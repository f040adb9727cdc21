"""``aliyun-pns``: Alibaba Cloud Phone Number Protection (号码隐私保护) call reports.

The ``SecretReport`` message of its HTTP batch push (help.aliyun.com, "HTTP批量推送模式"):
a JSON array of call records with, among others, ``call_id``, ``secret_no`` (the privacy
number X: here a canary number), ``peer_no`` (the other party), ``phone_no`` (the A number
X is bound to), ``call_type`` (0: A called out through X; 1: someone called A through X;
4: a call that was blocked) and ``call_time`` (``YYYY-MM-DD HH:MM:SS``, Beijing time). An
SMS record carries ``sms_number`` (the message's length); the message-queue version of
the same report (developer.aliyun.com/ask/218794) also has ``call_type`` 2 (an SMS sent
by A through X) and 3 (an SMS received). The provider pushes again what was not answered
with HTTP 200 and a numeric ``code`` (after 1, 5 and 10 minutes).

What counts as a contact with the canary number: ``call_type`` 1 and 4 (someone dialled
X; a blocked call was still dialled) and 3 (someone texted X). ``call_type`` 0 and 2 are
the platform's own line calling or texting out and are left aside. The caller is
``peer_no``.
"""

from __future__ import annotations

from typing import Any

from leaktrace.telecom.records import CallRecord, RecordProblem, field_text, field_time
from leaktrace.telecom.registry import TelecomAdapter, register_adapter

__all__ = ["AliyunPnsAdapter"]

_INBOUND_CALLS = {1, 4}
_INBOUND_SMS = 3
_OUTBOUND = {0, 2}


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
        if call_type in _OUTBOUND:
            return None
        if call_type not in (*_INBOUND_CALLS, _INBOUND_SMS):
            # the value is not quoted: a shifted record can put a phone number here
            raise RecordProblem("call_type is not one the provider documents (0 to 4)")
        sms = item.get("sms_number")
        if isinstance(sms, bool) or not (sms is None or isinstance(sms, int | str)):
            raise RecordProblem("sms_number must be a number")
        is_sms = call_type == _INBOUND_SMS or (
            sms is not None and str(sms).strip() not in ("", "0")
        )
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
