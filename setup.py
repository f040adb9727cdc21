"""Build of the optional C extension ``leaktrace._hmac``; all metadata lives in pyproject.toml.

The extension is ``optional``: without a working C compiler the install still succeeds and
:mod:`leaktrace.digest` falls back to its DuckDB implementation (slower, same digests).
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
        )
    ]
)
