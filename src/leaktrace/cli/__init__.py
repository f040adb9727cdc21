"""The ``leaktrace`` command line: a thin shell over the library.

Each area lives in its own module and registers a Typer sub-app or commands here.
"""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="leaktrace",
    help="Traceable releases of customer data, scam detection, leak tracing and response.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from leaktrace.cli import attribution, data, release, scam, spark, trace, workspace  # noqa: F401


def main() -> None:
    """The console entry point. Allocator settings first: they only take effect before
    Polars is imported (see :mod:`leaktrace.allocation`)."""
    from leaktrace.allocation import configure_process

    configure_process()
    _register()
    app()
