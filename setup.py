"""Build of the optional C extensions; all metadata lives in pyproject.toml.

``leaktrace._hmac`` computes keyed digests, ``leaktrace._rewrite`` the per-row text rewrites
of a release (canonical forms, address and title marks), ``leaktrace._ff1`` the FF1 order-number
aliases (AES-NI, chosen at run time; :mod:`leaktrace.fpe` keeps its numpy path without it).

Each extension is ``optional``: without a working C compiler the install still succeeds and
:mod:`leaktrace.digest` falls back to DuckDB, :mod:`leaktrace.rewrite` to Polars (slower,
same results).
Only the SHA-NI functions inside ``_hmac.c`` are compiled for the ``sha`` target (by function
attributes), so no ``-msha`` here: the module must import on CPUs without SHA extensions.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "leaktrace._hmac",
            sources=["src/leaktrace/_hmac.c"],
            extra_compile_args=["-O3", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        ),
        Extension(
            "leaktrace._rewrite",
            sources=["src/leaktrace/_rewrite.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "leaktrace._ff1",
            sources=["src/leaktrace/_ff1.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
    ]
)
