"""Type stub of the C extension ``leaktrace._rewrite`` (source: ``_rewrite.c``)."""

from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

OP_CANONICAL: int
OP_NAME: int
OP_PHONE: int
OP_ADDRESS: int
OP_EMBED_ADDRESS: int
OP_EMBED_TITLE: int
OK: int
NULLED: int
FALLBACK: int

def rewrite(
    op: int, data: Buffer, offsets: Buffer | npt.NDArray[Any], symbols: Buffer, /
) -> tuple[bytes, bytes, bytes]:
    """One op over an Arrow string array: (data, int64 offsets, one status byte per row)."""
