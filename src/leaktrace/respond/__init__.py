"""Respond to a leak (DESIGN §2.4): who was exposed, and what to tell them."""

from __future__ import annotations

from leaktrace.respond.exposure import Exposure, exposed

__all__ = ["Exposure", "exposed"]
