"""Mark-channel registry.

A channel is a plain class (see :mod:`leaktrace.channels.base`); built-in channels are
registered here exactly as a third-party one would be: ``register_channel(MyChannel)``.
Order aliases (``order_id = "alias"`` in a policy) and canary rows (``canary_rate``) are
configured separately because they are decisive, not statistical, evidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leaktrace.channels.address import AddressChannel
from leaktrace.channels.base import ERASED, MarkChannel, Symbols
from leaktrace.channels.timestamp import TimestampChannel
from leaktrace.channels.title import TitleChannel
from leaktrace.prf import prf_blocks, symbols_from_blocks, tardos_bias, tardos_symbols

__all__ = [
    "CHANNELS",
    "ERASED",
    "MarkChannel",
    "Symbols",
    "channel_symbols",
    "get_channel",
    "register_channel",
    "tardos_thresholds",
]

CHANNELS: dict[str, type[MarkChannel]] = {}


def register_channel(cls: type[MarkChannel]) -> type[MarkChannel]:
    codes = {c.code for c in CHANNELS.values() if c.name != cls.name}
    if cls.code in codes:
        raise ValueError(f"channel code {cls.code} of {cls.name!r} is already taken")
    CHANNELS[cls.name] = cls
    return cls


def get_channel(name: str) -> MarkChannel:
    return CHANNELS[name]()


def tardos_thresholds(
    ch: MarkChannel, bias_key: bytes, anchors: np.ndarray[Any, np.dtype[np.uint64]]
) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Shared (all recipients) Tardos bias thresholds of ``ch``'s positions per anchor."""
    return tardos_bias(prf_blocks(bias_key, anchors, ch.code), ch.positions)


def channel_symbols(
    ch: MarkChannel,
    mark_key: bytes,
    anchors: np.ndarray[Any, np.dtype[np.uint64]],
    *,
    code: str = "fair",
    bias_key: bytes | None = None,
) -> Symbols:
    """What a recipient's copy carries in ``ch`` for each anchor: the one definition used by
    both the release (to embed) and the tracer (to compare)."""
    blocks = prf_blocks(mark_key, anchors, ch.code)
    if code == "tardos":
        if bias_key is None:
            raise ValueError("tardos code needs the shared bias key")
        return tardos_symbols(blocks, list(ch.alphabets), tardos_thresholds(ch, bias_key, anchors))
    return symbols_from_blocks(blocks, list(ch.alphabets))


for _cls in (TimestampChannel, AddressChannel, TitleChannel):
    register_channel(_cls)
