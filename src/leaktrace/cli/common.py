"""What every CLI command shares: ``--home``, ``--json`` output and error → exit code.

Data goes to stdout, progress and messages to stderr; a :class:`LeaktraceError` becomes
one line on stderr and its ``exit_code`` (2), never a traceback.
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from leaktrace.errors import InputError, LeaktraceError, database_error_message

__all__ = [
    "AlphaOption",
    "EncodingOption",
    "HomeOption",
    "JsonOption",
    "ReportOption",
    "check_alpha",
    "err_console",
    "freeze_imports",
    "handle_errors",
    "out_console",
    "print_json",
    "resolve_home",
]

P = ParamSpec("P")
T = TypeVar("T")


def _width(stream: Any) -> int | None:
    """A terminal's own width; into a pipe or a file, wide enough that no table cell is
    cut (Rich assumes 80 columns there, and a release id came out as ``rel-2026…``,
    useless to the next command). ``COLUMNS`` still wins."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return None if tty or os.environ.get("COLUMNS") else 400


err_console = Console(stderr=True, width=_width(sys.stderr))
out_console = Console(width=_width(sys.stdout))

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Workspace folder (default: $LEAKTRACE_HOME, else ./.leaktrace).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ReportOption = Annotated[
    Path | None, typer.Option("--report", help="Write a self-contained HTML report.")
]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of a CSV/JSON input (utf-8, gbk, gb18030 …); default: detected.",
        show_default=False,
    ),
]
AlphaOption = Annotated[
    float, typer.Option(help="Bound on the probability of accusing any innocent recipient.")
]


def check_alpha(alpha: float) -> float:
    """``--alpha`` must be a probability strictly between 0 and 1 (NaN is refused too)."""
    if not 0 < alpha < 1:
        raise InputError("--alpha must be between 0 and 1")
    return alpha


def resolve_home(home: Path | None) -> Path:
    if home is not None:
        return home
    env = os.environ.get("LEAKTRACE_HOME")
    return Path(env) if env else Path(".leaktrace")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def handle_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn user errors into one stderr line and exit code 2; after a command that
    succeeded, print what opening the workspace warned about (``warning: …`` lines)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with _workspace_warnings() as warnings:
            result = _run(fn, *args, **kwargs)
        for line in warnings:
            sys.stderr.write(f"warning: {' '.join(line.split())}\n")
        return result

    return wrapper


class _Collected(logging.Handler):
    """The distinct messages logged while a command runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if line not in self.lines:
            self.lines.append(line)


@contextmanager
def _workspace_warnings() -> Iterator[list[str]]:
    """What opening the workspace warned about (a policy whose operators cannot be
    applied: :func:`leaktrace.workspace.open_workspace`), to print once the command has
    succeeded. Why after, not as logged: a release under that policy fails, and its
    error must stay the one line it prints."""
    global _collecting
    collected = _Collected()
    logger = logging.getLogger("leaktrace.workspace")
    logger.addHandler(collected)
    outer, _collecting = _collecting, collected
    try:
        yield collected.lines
    finally:
        _collecting = outer
        logger.removeHandler(collected)


_collecting: _Collected | None = None


def print_workspace_warnings_now() -> None:
    """Print the warnings collected so far, now rather than when the command ends: for a
    command that runs until it is stopped (``serve``)."""
    if _collecting is not None:
        for line in _collecting.lines:
            sys.stderr.write(f"warning: {' '.join(line.split())}\n")
        _collecting.lines.clear()


def _run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn``; a user error becomes one stderr line and exit code 2."""
    try:
        return fn(*args, **kwargs)
    except LeaktraceError as exc:
        # plain write: Rich would wrap long paths and read [brackets] in messages as markup
        _fail(exc.message, exc.exit_code)
    except OSError as exc:  # the user's files and folders: missing, a folder, no permission
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or type(exc).__name__}{where}", 2)
    except OverflowError:
        _fail("a number or date given is out of range", 2)
    except UnicodeError:  # backstop: a lone surrogate ("\ud800" in JSON) or bytes that
        # are no text, reaching a field that must be encoded (a digest, a seal, the blob)
        _fail("the input holds text that is not valid Unicode (a lone surrogate)", 2)
    except RecursionError:  # backstop: deeply nested user data (JSON) read by a path
        # that does not go through leaktrace.io.jsontext; the stack has unwound by now
        _fail("input nested too deeply to read", 2)
    except Exception as exc:
        db_error = database_error_message(exc)
        if db_error is None:
            raise
        _fail(db_error, 2)


def note_trusted_keys(ws: Any) -> None:
    """Say on stderr which master keys were just given check values on trust (a workspace
    made before them): a key replaced before then cannot be detected."""
    trusted = ws.keys.trusted_on_first_use
    if trusted:
        versions = ", ".join(f"v{v}" for v in trusted)
        sys.stderr.write(
            f"note: master key {versions} had no check value (a workspace made before "
            "them); one was made now for the key as it is: if a key file was replaced "
            "after its releases, those releases cannot be traced, and nothing here can tell\n"
        )


_POLARS_CONTEXT = "This error occurred in the following expression"
"""Polars appends this and its expression to an error raised inside an expression (an
operator's check in ``map_batches``): internals the user did not write."""


def _fail(message: str, code: int) -> NoReturn:
    message = message.split(_POLARS_CONTEXT, 1)[0]
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    raise typer.Exit(code) from None


def freeze_imports(*modules: str) -> None:
    """Import ``modules``, then move every object alive now out of the garbage collector's
    sight for the rest of the process (``gc.freeze``): for a command whose job allocates a
    lot once it has imported what it needs (``release`` calls it; ``main`` freezes what
    registering the commands imported, for every command).

    Why: a full collection walks every tracked object, and the ~110,000 of a release's
    imports (modules, classes, functions, none of them ever garbage) were walked by each
    full collection of the job and once more at exit: 0.14 s of full collections in a
    1M-row release from the command, 0.03 s once frozen, and 0.4 s less in all
    (``bench/cli_ab.py``; bench/README.md, session 18). Modules the job would import on
    first use are named here so that they are frozen too. Objects made later are
    collected as usual.
    """
    for name in modules:
        importlib.import_module(name)
    gc.freeze()
