"""Mark-channel registry.

A channel is a plain class (see :mod:`leaktrace.channels.base`); built-in channels are
registered here exactly as a third-party one would be: ``register_channel(MyChannel)``.
Order aliases (``order_id = "alias"`` in a policy) and canary rows (``canary_rate``) are
configured separately because they are decisive, not statistical, evidence.
"""

from __future__ import annotations

from leaktrace.channels.address import AddressChannel
from leaktrace.channels.base import ERASED, MarkChannel, Symbols
from leaktrace.channels.timestamp import TimestampChannel
from leaktrace.channels.title import TitleChannel

__all__ = ["CHANNELS", "ERASED", "MarkChannel", "Symbols", "get_channel", "register_channel"]

CHANNELS: dict[str, type[MarkChannel]] = {}


def register_channel(cls: type[MarkChannel]) -> type[MarkChannel]:
    codes = {c.code for c in CHANNELS.values() if c.name != cls.name}
    if cls.code in codes:
        raise ValueError(f"channel code {cls.code} of {cls.name!r} is already taken")
    CHANNELS[cls.name] = cls
    return cls


def get_channel(name: str) -> MarkChannel:
    return CHANNELS[name]()


for _cls in (TimestampChannel, AddressChannel, TitleChannel):
    register_channel(_cls)
