"""The one clock people read in the respond commands: platform time, with its offset.

leaktrace stores instants as it made them (a release's ``created`` and an incident event's
``at`` are UTC, ``2026-11-29T10:56:20+00:00``), and signed or sealed content keeps them so:
hashes and seals cover the text. What a person reads is platform time (Asia/Shanghai,
UTC+8: the zone every naive time in leaktrace means) written with its offset,
``2026-11-29 18:56:20+08:00``, so that a time copied from ``incident show`` into a
regulator report (whose times are UTC+8) is not 8 hours off. The form is RFC 3339 with a
space: ``datetime.fromisoformat``, Polars, pandas and leaktrace's own ``--since`` /
``--occurred`` read it back as the same instant. Machine outputs (``--json``, the API,
the Python frames) keep the stored text.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["ENCRYPTED_TEXT", "PLATFORM_TZ", "shown_field", "shown_time"]

PLATFORM_TZ = timezone(timedelta(hours=8))
"""Platform time (Asia/Shanghai, which has kept UTC+8 all year since 1991)."""


def shown_time(value: str | datetime) -> str:
    """``value`` (an ISO 8601 text or a datetime) as people read it:
    ``YYYY-MM-DD HH:MM:SS+08:00``. A naive time is platform time already and is not
    shifted; text that is not a time comes back as it is."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    else:
        when = value
    if when.tzinfo is None:
        when = when.replace(tzinfo=PLATFORM_TZ)
    try:
        return when.astimezone(PLATFORM_TZ).isoformat(sep=" ", timespec="seconds")
    except OverflowError:  # 9999-12-31 west of UTC: no such time in UTC+8
        return value if isinstance(value, str) else when.isoformat(sep=" ", timespec="seconds")


ENCRYPTED_TEXT = re.compile(r"v([1-9][0-9]{0,5}):((?:[0-9a-f]{2}){28,})")
"""How a case's encrypted field is stored (``leaktrace.respond.cases``: a police receipt, a
payment's note): key version and hex of nonce and ciphertext. Shown, never printed."""


def shown_field(key: str, value: object) -> object:
    """A stored field as people read it: the times an event records (``discovered_at``,
    ``occurred_at``: every field named ``…_at``) in platform time, an encrypted field
    (a case's police receipt, a payment's note) as a pointer to ``case show`` instead of
    its ciphertext, the rest as stored."""
    if isinstance(value, str) and ENCRYPTED_TEXT.fullmatch(value):
        return "(encrypted: leaktrace case show)"
    return shown_time(value) if key.endswith("_at") and isinstance(value, str) else value
