"""Memory-allocator settings of a leaktrace command: keep freed pages for reuse.

Why: a release frees and re-allocates buffers of the same few sizes for every 200k-row
batch (the input batch, the masked and marked columns, the Parquet pages). Polars' bundled
jemalloc returns freed pages to the kernel after half a second (``dirty_decay_ms:500``,
set by ``polars/__init__.py`` to keep long-lived notebooks small), and each page given back
is faulted in again by the next batch: a 1M-row Parquet release to ``cs`` took
93,000–103,000 minor page faults where a plain Polars read+write of the file takes a few
thousand (``bench/release_bench.py --polars-allocator``; bench/README.md, session 8).

A command-line process lives for one job and exits, so holding on to the pages it freed
costs it nothing after the job: :func:`configure_process` asks jemalloc never to purge.
It must run before Polars is imported (jemalloc reads its settings once, when Polars
loads); the CLI calls it first thing. A long-lived Python process that calls the library
(a notebook, a pipeline worker) keeps Polars' own settings unless it opts in the same way
— by calling this function before importing Polars, or by exporting ``_RJEM_MALLOC_CONF``.

The price is peak memory: pages are kept, so a long release's peak grows with how its
batches' buffers fragment (the 10M-row CSV release: figures in bench/README.md, under the
2 GB target). Keeping glibc's heap as well (no trimming, blocks up to 32 MB from the heap)
was tried: no faster at 1M rows, about 100 MiB more at 10M, so it is not done.
"""

from __future__ import annotations

import os
import sys

__all__ = ["JEMALLOC_CONF", "configure_process"]

JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
"""Never purge freed pages. Polars appends ``_RJEM_MALLOC_CONF`` after its own defaults,
so these win over its 500/1000 ms."""

_JEMALLOC_ENV = "_RJEM_MALLOC_CONF"


def configure_process() -> bool:
    """Keep freed pages in this process; True if Polars' allocator was configured.

    Idempotent, and a no-op when it cannot reach the allocator: jemalloc is left alone when
    Polars is already imported or the user set ``_RJEM_MALLOC_CONF`` (their choice wins).
    Where Polars is not built with jemalloc, the variable is simply never read.
    """
    if "polars" in sys.modules or _JEMALLOC_ENV in os.environ:
        return False
    os.environ[_JEMALLOC_ENV] = JEMALLOC_CONF
    return True
