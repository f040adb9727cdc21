"""leaktrace: make customer data traceable wherever it goes."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
