"""Memory-allocator settings of a leaktrace command: keep freed pages for reuse.

Why: a release frees and re-allocates buffers of the same few sizes for every 200k-row
batch (the input batch, the masked and marked columns, the Parquet pages). Polars' bundled
jemalloc returns freed pages to the kernel after half a second (``dirty_decay_ms:500``,
set by ``polars/__init__.py`` to keep long-lived notebooks small), and glibc's ``malloc``
unmaps large blocks on ``free``. Each page given back is faulted in again by the next
batch. Measured with ``bench/release_bench.py`` (these settings) against ``bench/
release_bench.py --polars-allocator`` on the 2-core benchmark machine, per 1M-row release
to ``cs``: 93,000–103,000 minor page faults and 1.68–1.70 s of CPU with Polars' defaults,
43,000–44,000 faults and 1.52–1.54 s with these (Parquet); 2.24–2.28 s against 1.90–1.93 s
of CPU for CSV (bench/README.md, session 8).

A command-line process lives for one job and exits, so holding on to the pages it freed
costs it nothing after the job: :func:`configure_process` asks both allocators to keep
them. It must run before Polars is imported (jemalloc reads its settings once, when Polars
loads); the CLI calls it first thing. A long-lived Python process that calls the library
(a notebook, a pipeline worker) keeps Polars' own settings unless it opts in the same way
— by calling this function before importing Polars, or by exporting ``_RJEM_MALLOC_CONF``.

The price is peak memory: pages are kept, so a long release's peak grows with how its
batches' buffers fragment. The 10M-row CSV release peaked at 1,684–1,720 MiB with these
settings and 1,465 MiB without (both under the 2 GB target; bench/README.md).
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
