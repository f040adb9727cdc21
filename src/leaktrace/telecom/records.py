"""One call or text message to a number, as a telecom adapter hands it to leaktrace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leaktrace.attribution.reports import parse_datetime

__all__ = ["CHANNELS", "CallRecord", "RecordProblem", "field_text", "field_time"]

CHANNELS = ("call", "sms")


@dataclass(frozen=True)
class CallRecord:
    """A call or an SMS that reached ``callee``.

    ``event_id`` is the provider's own id of the record: providers push again what was not
    acknowledged (Alibaba Cloud after 1, 5 and 10 minutes), so the same record can arrive
    twice, and only this id tells. ``at`` is aware (UTC). ``text`` is the SMS body or a
    call's transcript when the provider gives one (checked by the scam detector, never
    stored)."""

    event_id: str
    at: datetime
    channel: str
    callee: str
    caller: str
    text: str = ""


class RecordProblem(ValueError):
    """A record the adapter cannot read; the message names the field, never its value
    when it could be a phone number."""


def field_text(obj: dict[str, Any], name: str, *, required: bool = True, limit: int = 200) -> str:
    value = obj.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RecordProblem(f"{name} is missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordProblem(f"{name} must be text")
    raw = str(value)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
        raise RecordProblem(f"{name} is not valid Unicode") from None
    if any((c < " " and c not in "\t\n\r") or c == "\x7f" for c in raw):
        # NUL and other control characters: no provider writes them, and PostgreSQL
        # refuses NUL in text
        raise RecordProblem(f"{name} holds a control character")
    text = " ".join(raw.split())
    if len(text) > limit:
        raise RecordProblem(f"{name} is longer than {limit} characters")
    return text


def field_time(obj: dict[str, Any], name: str) -> datetime:
    """A date/time field (ISO 8601 or ``YYYY-MM-DD HH:MM:SS``; no zone = UTC+8)."""
    when = parse_datetime(obj.get(name))
    if when is None:
        raise RecordProblem(f"{name} is missing or not a date/time")
    return when
