"""Memory-allocator settings of a leaktrace command: keep freed pages for reuse.

Why: a release frees and re-allocates buffers of the same few sizes for every 200k-row
batch (the input batch, the masked and marked columns, the Parquet pages). Polars' bundled
jemalloc returns freed pages to the kernel after half a second (``dirty_decay_ms:500``,
set by ``polars/__init__.py`` to keep long-lived notebooks small), and glibc's ``malloc``
unmaps large blocks on ``free``. Each page given back is faulted in again by the next
batch: a 1M-row Parquet release took about 120,000 minor page faults against 11,000 for a
plain Polars read+write of the same file, some 0.2 s of kernel time on a 1.6-CPU-second
job (``bench/release_bench.py --allocator both`` prints the difference).

A command-line process lives for one job and exits, so holding on to the pages it freed
costs nothing: :func:`configure_process` asks both allocators to keep them. It must run
before Polars is imported (jemalloc reads its settings once, when Polars loads); the CLI
calls it first thing. A long-lived Python process that calls the library (a notebook, a
pipeline worker) keeps Polars' own settings unless it opts in the same way — by calling
this function before importing Polars, or by exporting ``_RJEM_MALLOC_CONF`` — trading the
memory it keeps after a release for the speed.

What it does not change: peak memory. Pages are reused, not added; the 10M-row release's
peak is measured with these settings in ``bench/release_bench.py``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["JEMALLOC_CONF", "configure_process"]

JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
"""Never purge freed pages. Polars appends ``_RJEM_MALLOC_CONF`` after its own defaults,
so these win over its 500/1000 ms."""

_JEMALLOC_ENV = "_RJEM_MALLOC_CONF"
# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
_TRIM_THRESHOLD = 1024 * 1024 * 1024


def configure_process() -> bool:
    """Keep freed pages in this process; True if Polars' allocator was configured.

    Idempotent, and a no-op for what it cannot reach: jemalloc is left alone when Polars is
    already imported or the user set ``_RJEM_MALLOC_CONF`` (their choice wins); glibc
    settings are skipped where the C library is not glibc.
    """
    configured = False
    if "polars" not in sys.modules and _JEMALLOC_ENV not in os.environ:
        os.environ[_JEMALLOC_ENV] = JEMALLOC_CONF
        configured = True
    _keep_glibc_heap()
    return configured


def _keep_glibc_heap() -> None:
    """Serve blocks up to 32 MB from the heap and never trim it: numpy, the C kernels and
    Python's own objects then reuse the pages of the batch before."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
