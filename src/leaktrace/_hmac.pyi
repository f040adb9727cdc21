"""Type stub of the C extension ``leaktrace._hmac`` (source: ``_hmac.c``)."""

from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

def sha256_midstate(block: Buffer, /, *, portable: bool = False) -> bytes:
    """SHA-256 chaining value (32 bytes, big-endian words) after one 64-byte block."""

def hmac_sha256_u64(
    data: Buffer,
    offsets: Buffer | npt.NDArray[Any],  # int32 or int64
    inner_state: Buffer,
    outer_state: Buffer,
    threads: int = 2,
    *,
    portable: bool = False,
    min_rows_per_thread: int = 4096,
) -> bytes:
    """First 8 bytes of HMAC-SHA256 of each Arrow string row, as native uint64 (n * 8 bytes).

    Row i is ``data[offsets[i]:offsets[i + 1]]`` (int32 or int64 offsets, as in Arrow).
    """

def hmac_sha256_u64_views(
    columns: tuple[tuple[Buffer | bytes, tuple[Buffer, ...]], ...],
    sep: Buffer,
    inner_state: Buffer,
    outer_state: Buffer,
    threads: int = 2,
    *,
    portable: bool = False,
    min_rows_per_thread: int = 4096,
) -> bytes:
    """As :func:`hmac_sha256_u64` over one or two Arrow string_view columns, each given as
    ``(views, data_buffers)``; two are joined by ``sep`` (row i: ``a[i] + sep + b[i]``)."""

def siphash24_u64_views(
    columns: tuple[tuple[Buffer | bytes, tuple[Buffer, ...]], ...],
    sep: Buffer,
    key: Buffer,
    threads: int = 2,
    *,
    min_rows_per_thread: int = 4096,
) -> bytes:
    """As :func:`hmac_sha256_u64_views` with SipHash-2-4 under the 16-byte ``key``: n
    native uint64 digests."""

def has_sha_ni() -> bool:
    """Whether SHA-NI is compiled in and supported by this CPU."""
