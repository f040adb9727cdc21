"""The mark-channel interface.

A channel hides keyed symbols in harmless details of ONE column role and reads them back.
Its contract, which the tracer's statistics rely on:

* ``embed(values, symbols)`` rewrites each value so that ``read`` returns the symbol at
  every position the value supports; it changes nothing a recipient needs (each channel
  says exactly what it may change in ``may_change``).
* ``read(values)`` looks ONLY at the evidence: it returns, per row and position, the
  observed symbol or ``ERASED`` (-1) when the value cannot tell (feature absent,
  normalised away, mixed). It must never look at what any recipient's copy should be —
  deciding erasures with a candidate's expected value in view would bias the count
  towards that candidate (DESIGN §4, trap 1).
* Positions are independent PRF outputs, so under "R did not leak" each readable position
  matches R's symbol with probability at most ``prf.match_probability(k)``.

Adding a channel = one module with one class + ``register_channel`` in
``channels/__init__.py``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["ERASED", "MarkChannel", "Symbols", "erase_constant_positions"]

ERASED = -1
Symbols = npt.NDArray[np.int16]


class MarkChannel:
    name: ClassVar[str]
    role: ClassVar[str]
    code: ClassVar[int]
    alphabets: ClassVar[tuple[int, ...]]
    may_change: ClassVar[str]
    #: Masking operators of ``role`` whose output this channel can mark. The policy check
    #: refuses any other: a channel writing into a digest or a truncated time would break
    #: the mask (full-width digits in a hex digest, 01:00:37 for an hour) without a mark
    #: that reads back.
    compatible_operators: ClassVar[frozenset[str]] = frozenset({"keep"})

    def embed(self, values: pl.Series, symbols: Symbols) -> pl.Series:
        raise NotImplementedError

    def read(self, values: pl.Series) -> Symbols:
        raise NotImplementedError

    @property
    def positions(self) -> int:
        return len(self.alphabets)


MIN_ROWS_FOR_CONSTANT = 6


def erase_constant_positions(symbols: Symbols, alphabets: tuple[int, ...]) -> Symbols:
    """Erase a whole position when the evidence shows the same symbol in every row.

    Marked data has a constant binary position in ``n`` rows with probability 2^(1-n); a
    constant column is what a normalisation attack (NFKC, whitespace stripping) leaves,
    and counting it would only add noise. The decision uses the evidence alone, so it is
    independent of every candidate's key and keeps the null distribution exact.
    """
    out = symbols.copy()
    for j, k in enumerate(alphabets):
        col = out[:, j]
        readable = col != ERASED
        if k == 2 and readable.sum() >= MIN_ROWS_FOR_CONSTANT:
            vals = col[readable]
            if (vals == vals[0]).all():
                col[readable] = ERASED
    return out
