"""The synthetic shop: realistic Chinese e-commerce orders for demos, tests and benchmarks.

``generate_orders(n, seed)`` is the entry point; the per-field models (geography, people,
catalogue) are reused by :mod:`leaktrace.canary` so canary rows and demo rows share one
notion of "realistic". Tables are shipped under ``data/`` and rebuilt by ``build_tables``.
"""

from __future__ import annotations

from leaktrace.synth.shop import ORDER_SCHEMA, generate_orders

__all__ = ["ORDER_SCHEMA", "generate_orders"]
