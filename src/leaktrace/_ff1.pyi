"""Type stub of the C extension ``leaktrace._ff1`` (source: ``_ff1.c``)."""

from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

def crypt_arrow(
    data: Buffer | npt.NDArray[Any],
    offsets: Buffer | npt.NDArray[Any],  # int64, len(valid) + 1 entries
    valid: Buffer | npt.NDArray[Any],  # one byte per row, non-zero = valid
    key: Buffer,
    tweak: Buffer,
    radix: int,
    minlen: int,
    maxlen: int,
    decrypt: bool,
    *,
    wide: bool = True,
) -> bytearray | None:
    """FF1 of every valid Arrow string row of length <= maxlen, in a copy of ``data``.

    Row i is ``data[offsets[i]:offsets[i + 1]]``; other bytes are copied unchanged. Returns
    None when such a row is shorter than ``minlen`` or has a character outside the radix
    alphabet. ``radix**(maxlen - maxlen // 2)`` must be below ``2**64``. ``wide=False``
    keeps to the 128-bit AES-NI code even where VAES/AVX-512 is available. Raises
    RuntimeError where :func:`has_aesni` is False.
    """

def has_aesni() -> bool:
    """Whether the AES-NI kernel is compiled in and supported by this CPU."""

def has_vaes() -> bool:
    """Whether the rounds run with VAES and AVX-512 (unless ``wide=False``)."""
