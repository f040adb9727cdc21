"""The operator registry: name → class. Built-ins are registered exactly like plugins."""

from __future__ import annotations

from leaktrace.masking.base import MaskingOperator

__all__ = ["OPERATORS", "OperatorRegistry", "register_operator"]


class OperatorRegistry(dict[str, type[MaskingOperator]]):
    """A dict whose ``in`` also accepts an optional marker: ``"keep?" in OPERATORS``.

    ``config.check`` tests ``op.split(":", 1)[0] in OPERATORS``; for an argument-less optional
    spec such as ``"keep?"`` that head is ``"keep?"``, so membership strips one trailing ``?``.
    Indexing stays exact.
    """

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and key.endswith("?"):
            key = key[:-1].rstrip()
        return super().__contains__(key)


OPERATORS: OperatorRegistry = OperatorRegistry()


def register_operator(cls: type[MaskingOperator]) -> type[MaskingOperator]:
    """Register (or replace) an operator class under ``cls.name``; usable as a decorator."""
    if not getattr(cls, "name", "") or ":" in cls.name or cls.name.endswith("?"):
        raise ValueError(f"invalid masking operator name {getattr(cls, 'name', None)!r}")
    OPERATORS[cls.name] = cls
    return cls
