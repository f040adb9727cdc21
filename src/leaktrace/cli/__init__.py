"""The ``leaktrace`` command line: a thin shell over the library.

Each area lives in its own module and registers a Typer sub-app or commands here.
"""

from __future__ import annotations

import gc
import signal
import sys

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
    from leaktrace.cli import (  # noqa: F401
        attribution,
        cases,
        data,
        incident,
        release,
        respond,
        scam,
        server,
        spark,
        trace,
        workspace,
    )


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """The console entry point. Allocator settings first: they only take effect before
    Polars is imported (see :mod:`leaktrace.allocation`)."""
    from leaktrace.allocation import configure_process

    configure_process()
    # SIGTERM (a job scheduler, `kill`) unwinds like Ctrl-C instead of ending the process
    # where it stands: temporary files (an output not yet renamed, a UTF-8 copy of a GBK
    # input, which holds the input's personal data) are removed on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    _register()
    # What registering imported (Typer, Rich, Click) lives as long as the process: out of
    # the collector's sight; heavy commands freeze their own imports too (freeze_imports).
    gc.freeze()
    from leaktrace.cli.helptext import polish

    command = typer.main.get_command(app)
    polish(command)
    try:
        code = command(standalone_mode=False)
    except typer.TyperException as exc:  # Click's errors (Typer vendors Click)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `leaktrace` alone: the help
            from typer import rich_utils

            rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
        else:
            # a bad option or argument: one line, like every other user error, not a box
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            message = " ".join(str(exc.format_message()).split())
            sys.stderr.write(f"error: {message}{where}\n")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
