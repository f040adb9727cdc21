"""The masking-operator interface (Presidio-anonymizer style: one small interface, a registry).

A policy field spec is ``NAME[:ARG][?]``:

* ``NAME`` — a key of :data:`leaktrace.masking.OPERATORS` (``mask_phone``);
* ``ARG`` — one operator-specific argument, documented on each operator (``mask_phone:waybill``);
* a trailing ``?`` — the field is optional: when the input has no such column the release
  goes on without it instead of failing (``amount = "keep?"``).

Every operator is a plain class: ``name`` and ``description`` class attributes, a constructor
that validates its argument (raising :class:`PolicyError` *before* any data is touched), a
``validate(dtype)`` that refuses unsuitable columns, and ``expr(col)`` that returns ONE
vectorised Polars expression. Nulls stay null. Operators are fail-closed: a value they do not
recognise is masked entirely (or withheld), never passed through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import polars as pl

from leaktrace.errors import PolicyError

__all__ = ["MaskContext", "MaskingOperator", "OperatorSpec", "parse_spec"]


@dataclass(frozen=True)
class MaskContext:
    """What keyed operators need. ``repr`` never shows the key (it may end up in a log)."""

    digest_key: bytes = field(repr=False)
    recipient: str
    alias_key: bytes | None = field(default=None, repr=False)
    key_version: int = 1


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    arg: str | None
    optional: bool


def parse_spec(spec: str) -> OperatorSpec:
    """Split ``NAME[:ARG][?]``; the ``?`` is read before the colon split."""
    s = spec.strip()
    optional = s.endswith("?")
    if optional:
        s = s[:-1].rstrip()
    name, sep, arg = s.partition(":")
    name = name.strip()
    if not name:
        raise PolicyError(f"empty masking operator in field spec {spec!r}")
    return OperatorSpec(name=name, arg=arg.strip() if sep else None, optional=optional)


class MaskingOperator:
    """Base class; subclasses set ``name``/``description`` and override ``expr``."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: dtypes the operator accepts; ``None`` = any. Checked by the default ``validate``.
    accepts: ClassVar[tuple[str, ...] | None] = ("string",)

    def __init__(self, arg: str | None, ctx: MaskContext) -> None:
        self.arg = arg
        self.ctx = ctx

    def expr(self, col: pl.Expr) -> pl.Expr:
        raise NotImplementedError

    def validate(self, dtype: pl.DataType) -> None:
        if self.accepts is None:
            return
        if _kind(dtype) not in self.accepts:
            raise PolicyError(
                f"masking operator {self.name!r} cannot be applied to a column of type {dtype}"
                f" (accepts: {', '.join(self.accepts)})"
            )

    # -- helpers for subclasses -------------------------------------------------------------
    def _no_arg(self) -> None:
        if self.arg is not None:
            raise PolicyError(f"masking operator {self.name!r} takes no argument")

    def _bad_arg(self, allowed: str) -> PolicyError:
        return PolicyError(
            f"masking operator {self.name!r}: unknown argument {self.arg!r}; allowed: {allowed}"
        )

    def __repr__(self) -> str:
        arg = "" if self.arg is None else f":{self.arg}"
        return f"<{type(self).__name__} {self.name}{arg}>"


def _kind(dtype: pl.DataType) -> str:
    if dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum):
        return "string"
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():  # floats, decimals
        return "number"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    return str(dtype)
