"""The raw buffers of an Arrow string array, for the native kernels that read them in place.

Why one helper: the digest and rewrite kernels read a string column straight from Arrow
memory, and each must handle the same cases — a chunked array, a sliced array (non-zero
offset) and the string type. :func:`string_views` gives ``string_view`` (Polars' own
layout, what a release hands the kernels); :func:`string_buffers` gives data + offsets for
``string`` (int32) and ``large_string`` (int64) arrays, other types cast once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["StringBuffers", "StringViews", "string_buffers", "string_views"]


@dataclass(frozen=True)
class StringBuffers:
    """Row ``i`` is ``data[offsets[i]:offsets[i + 1]]``; ``array`` keeps the memory alive."""

    array: pa.Array
    data: pa.Buffer | bytes
    offsets: npt.NDArray[Any]  # int32 or int64, len(array) + 1 entries


def string_buffers(arr: pa.Array | pa.ChunkedArray) -> StringBuffers:
    """Data buffer and offsets of ``arr`` (any chunking, slicing or string type)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    width: np.dtype[np.int32] | np.dtype[np.int64]
    if arr.type == pa.string():
        width = np.dtype(np.int32)
    else:
        width = np.dtype(np.int64)
        if arr.type != pa.large_string():
            arr = arr.cast(pa.large_string())
    n = len(arr)
    _, offsets_buf, data_buf = arr.buffers()
    if offsets_buf is None:  # an empty array may come without buffers
        return StringBuffers(arr, b"", np.zeros(n + 1, dtype=width))
    offsets = np.frombuffer(
        offsets_buf, dtype=width, count=n + 1, offset=arr.offset * width.itemsize
    )
    return StringBuffers(arr, b"" if data_buf is None else data_buf, offsets)


@dataclass(frozen=True)
class StringViews:
    """An Arrow ``string_view`` array's 16-byte views (this array's rows only) and its data
    buffers; ``array`` keeps the memory alive."""

    array: pa.Array
    views: pa.Buffer | bytes
    data: tuple[pa.Buffer, ...]


def string_views(arr: pa.Array | pa.ChunkedArray) -> StringViews:
    """The views of ``arr`` as ``string_view`` (Polars' own layout: ``Series.to_arrow(
    compat_level=pl.CompatLevel.newest())`` hands it over without a copy; other string
    types are cast, one copy)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.string_view():
        arr = arr.cast(pa.string_view())
    n = len(arr)
    buffers = arr.buffers()
    views = buffers[1]
    if views is None:  # an empty array may come without buffers
        return StringViews(arr, b"", ())
    data = tuple(b if b is not None else pa.py_buffer(b"") for b in buffers[2:])
    return StringViews(arr, views.slice(arr.offset * 16, n * 16), data)
