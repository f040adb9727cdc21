"""Per-row text rewrites of a release, native where possible, Polars as the reference.

Why: canonical forms and the address/title marks were most of a release's cost — each a
chain of Polars string passes (seven for a canonical address) over the same short values.
The C extension ``leaktrace._rewrite`` (``_rewrite.c``) applies each chain to one row at a
time, in cache, with the GIL released, reading and writing Arrow string views (Polars' own
string layout, so a column crosses into the kernel and back without a copy). The Polars
expressions stay the definition: the tests compare both on generated text, rows the C code
does not decide (characters whose case or digit value it does not know, e.g. ``é`` or
``٣`` in an address) are recomputed with the Polars reference, and without a C compiler
everything runs on the reference.

What a caller must know: every function takes and returns a String :class:`polars.Series`
of the same length and name; nulls stay null (``canonical_phone`` also nulls junk values,
as :func:`leaktrace.pii.phone.normalise_phone` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from leaktrace.arrowtext import string_views
from leaktrace.errors import InputError
from leaktrace.pii.address import canonical_address as _address_expr
from leaktrace.pii.name import normalise_name
from leaktrace.pii.phone import normalise_phone
from leaktrace.pii.text import canonical

try:
    from leaktrace import _rewrite
except ImportError:  # pragma: no cover - no C compiler at install time
    NATIVE = False
else:
    NATIVE = True

__all__ = [
    "NATIVE",
    "canonical_address",
    "canonical_name",
    "canonical_phone",
    "canonical_text",
    "native_embed",
    "native_mask",
]

Symbols = npt.NDArray[Any]
Reference = Callable[[pl.Series, Symbols | None], pl.Series]


def _expr_reference(fn: Callable[[pl.Expr], pl.Expr]) -> Reference:
    def reference(values: pl.Series, _symbols: Symbols | None) -> pl.Series:
        return values.to_frame("v").select(fn(pl.col("v"))).to_series().alias(values.name)

    return reference


_MAX_CALL_BYTES = 1 << 28
"""Input bytes per kernel call: its output views address their data with int32 offsets
and the output may be three times the input."""


def _run(
    values: pl.Series,
    op: str,
    reference: Reference,
    symbols: Symbols | None,
    params: bytes | None = None,
) -> pl.Series:
    """``op`` of ``_rewrite`` over ``values``; rows it cannot decide go to ``reference``.

    ``symbols`` are per row (sliced with the rows), ``params`` per call (the same bytes for
    every part of a split column)."""
    if not NATIVE or values.dtype != pl.String or values.len() == 0:
        return reference(values, symbols)
    # string_view both ways: Polars' own layout, so neither direction copies the text
    sv = string_views(values.to_arrow(compat_level=pl.CompatLevel.newest()))
    # Every view starts with its value's length: summed straight from the views (a null's
    # view may hold any length, which can only overestimate and split a column needlessly).
    total = int(np.frombuffer(sv.views, dtype=np.uint32)[::4].sum(dtype=np.int64))
    if total > _MAX_CALL_BYTES:  # huge columns (a leaked file traced at once) go in parts
        if values.len() == 1:  # one value alone is too big to split: a broken file
            raise InputError(
                f"a {values.name} value of {total >> 20} MiB; values over "
                f"{_MAX_CALL_BYTES >> 20} MiB are not supported"
            )
        step = max(1, values.len() * _MAX_CALL_BYTES // (2 * total))
        parts = [
            _run(
                values.slice(i, step),
                op,
                reference,
                None if symbols is None else symbols[i : i + step],
                params,
            )
            for i in range(0, values.len(), step)
        ]
        return pl.concat(parts).alias(values.name)
    n = len(sv.array)
    if params is not None:
        sym = params
    else:
        sym = b"" if symbols is None else np.ascontiguousarray(symbols, dtype=np.int8).tobytes()
    views, data, status_raw = _rewrite.rewrite(getattr(_rewrite, op), sv.views, sv.data, sym)
    status = np.frombuffer(status_raw, dtype=np.uint8)
    same = status == _rewrite.SAME
    if same.any():
        # an op that leaves most values as they are (OP_MASK_NUMBERS) writes only the
        # others: the input is the answer, with those few put in. A null slot may hold old
        # bytes (Polars keeps them after when/then, set, scatter): it stays null, never
        # rewritten from them (the session 26 review's leak of withheld addresses)
        if sv.array.null_count:
            same |= ~sv.array.is_valid().to_numpy(zero_copy_only=False)
        changed = np.flatnonzero(~same)
        if not changed.size:
            return values
        done = pl.Series(
            values.name,
            pa.Array.from_buffers(
                pa.string_view(), n, [None, pa.py_buffer(views), pa.py_buffer(data)]
            ),
            dtype=pl.String,
        )
        return values.clone().scatter(changed, done.gather(changed))
    valid = status != _rewrite.NULLED
    if sv.array.null_count:
        valid &= sv.array.is_valid().to_numpy(zero_copy_only=False)
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    arrow = pa.Array.from_buffers(
        pa.string_view(), n, [validity, pa.py_buffer(views), pa.py_buffer(data)]
    )
    out = pl.Series(values.name, arrow, dtype=pl.String)
    redo = np.flatnonzero((status == _rewrite.FALLBACK) & valid)
    if redo.size:
        again = reference(values.gather(redo), None if symbols is None else symbols[redo])
        out = out.scatter(redo, again)
    return out


_CANONICAL = _expr_reference(canonical)
_NAME = _expr_reference(normalise_name)
_PHONE = _expr_reference(normalise_phone)
_ADDRESS = _expr_reference(_address_expr)


def canonical_text(values: pl.Series) -> pl.Series:
    """:func:`leaktrace.pii.text.canonical` (width fold, no whitespace) of each value."""
    return _run(values, "OP_CANONICAL", _CANONICAL, None)


def canonical_name(values: pl.Series) -> pl.Series:
    """:func:`leaktrace.pii.name.normalise_name` of each value."""
    return _run(values, "OP_NAME", _NAME, None)


def canonical_phone(values: pl.Series) -> pl.Series:
    """:func:`leaktrace.pii.phone.normalise_phone` of each value (junk → null)."""
    return _run(values, "OP_PHONE", _PHONE, None)


def canonical_address(values: pl.Series) -> pl.Series:
    """:func:`leaktrace.pii.address.canonical_address` of each value."""
    return _run(values, "OP_ADDRESS", _ADDRESS, None)


def native_embed(
    values: pl.Series,
    symbols: Symbols,
    op: str,
    reference: Callable[[pl.Series, Symbols], pl.Series],
) -> pl.Series:
    """A text channel's embed (``op`` ``OP_EMBED_ADDRESS`` or ``OP_EMBED_TITLE``, four
    symbols per row) natively, ``reference`` being the channel's Polars embed."""

    def ref(v: pl.Series, s: Symbols | None) -> pl.Series:
        assert s is not None
        return reference(v, s)

    return _run(values, op, ref, symbols)


def native_mask(
    values: pl.Series, op: str, params: bytes, reference: Callable[[pl.Series], pl.Series]
) -> pl.Series:
    """A masking operator's common case natively (``op`` ``OP_MASK_NAME`` or
    ``OP_MASK_PHONE`` with its ``params``, see ``_rewrite.c``); every row the kernel does
    not decide is masked by ``reference``, the operator's Polars definition."""
    return _run(values, op, lambda v, _s: reference(v), None, params)
