"""Apply a policy's ``fields`` table to a frame: select, mask, order — one ``select``."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import polars as pl

from leaktrace.errors import MissingColumnError, PolicyError
from leaktrace.masking.base import MaskContext, MaskingOperator, parse_spec
from leaktrace.masking.numbers import TEXT_ROLES, mask_numbers, number_params
from leaktrace.masking.registry import OPERATORS

__all__ = ["apply_policy_fields", "build_operator", "check_spec"]

_CHECK_CTX = MaskContext(digest_key=b"\0" * 32, recipient="")


def build_operator(spec: str, ctx: MaskContext) -> MaskingOperator:
    """Instantiate the operator a field spec names; PolicyError if unknown or bad argument."""
    parsed = parse_spec(spec)
    try:
        cls = OPERATORS[parsed.name]
    except KeyError:
        # a typo (mask_nam) is the usual cause; an operator of a plugin not installed here
        # the other
        near = difflib.get_close_matches(parsed.name, sorted(OPERATORS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise PolicyError(
            f"unknown masking operator {parsed.name!r}{hint}; known: {', '.join(sorted(OPERATORS))}"
        ) from None
    return cls(parsed.arg, ctx)


def check_spec(spec: str) -> None:
    """Validate name *and* argument of a spec without data or keys (for config checks)."""
    build_operator(spec, _CHECK_CTX)


def apply_policy_fields(
    df: pl.DataFrame, fields: Mapping[str, str], ctx: MaskContext
) -> pl.DataFrame:
    """Return only what the recipient may see, masked, in the order of ``fields``.

    * a role not in ``fields`` is not sent; ``drop`` is not sent either;
    * a listed role missing from ``df`` raises :class:`MissingColumnError` naming the role,
      unless its spec ends with ``?`` (optional), in which case it is skipped;
    * an unknown operator or bad argument raises :class:`PolicyError` (checked for every
      field before any column is looked at); so does an operator on an unsuitable dtype;
    * a text kept whole (name, address, product, e-mail) has the phone and ID numbers typed
      into it masked as the policy masks those fields (:mod:`leaktrace.masking.numbers`).

    Columns of ``df`` are role-named (the readers map headers to roles).
    """
    plan: list[tuple[str, MaskingOperator, bool]] = []
    for role, spec in fields.items():
        try:
            op = build_operator(spec, ctx)
        except PolicyError as exc:
            raise PolicyError(f"field {role!r}: {exc.message}") from None
        plan.append((role, op, parse_spec(spec).optional))

    exprs: list[pl.Expr] = []
    schema = df.schema
    numbers = number_params(fields)
    for role, op, optional in plan:
        if op.name == "drop":
            continue
        if role not in schema:
            if optional:
                continue
            raise MissingColumnError(
                f"the policy needs column {role!r}, which the input does not have"
                " (mark it optional with a trailing '?' if it may be absent)"
            )
        try:
            op.validate(schema[role])
        except PolicyError as exc:
            raise PolicyError(f"field {role!r}: {exc.message}") from None
        expr = op.expr(pl.col(role))
        if numbers is not None and op.name == "keep" and role in TEXT_ROLES:
            expr = expr.cast(pl.String).map_batches(
                lambda s, p=numbers: mask_numbers(s, p),  # type: ignore[misc]
                return_dtype=pl.String,
                is_elementwise=True,
            )
        exprs.append(expr.alias(role))
    return df.select(exprs)
