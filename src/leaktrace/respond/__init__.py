"""Respond to a leak (DESIGN §2.4): who was exposed, and what to tell them.

``exposed`` and ``Exposure`` are imported on first use: a command that only shows a time
(``leaktrace.respond.times``) must not pay for Polars, pyarrow and SQLAlchemy, which the
exposure list needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leaktrace.respond.exposure import Exposure, exposed

__all__ = ["Exposure", "exposed"]


def __getattr__(name: str) -> Any:
    """Import :mod:`leaktrace.respond.exposure` when one of its names is asked for."""
    if name in __all__:
        return getattr(importlib.import_module("leaktrace.respond.exposure"), name)
    raise AttributeError(f"module 'leaktrace.respond' has no attribute {name!r}")
