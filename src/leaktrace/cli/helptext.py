"""How the commands' help reads in a terminal.

Typer's rich help keeps every line break of a docstring's later paragraphs, so text
written at the source's 100 columns came out in an 80-column terminal as lines broken
mid-sentence ("…that its last" / "records were removed…"). It also shows a required
argument as ``{leaked}`` in the usage line (where a Unix user reads braces as a choice) and
gives every flag, ``--help`` included, a ``<bool>`` value it does not take. :func:`polish`
rewrites the built command tree once, before it runs: paragraphs become one line each for
the terminal to wrap, arguments read ``LEAKED`` (``[LEAKED]`` when optional), flags show no
value.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["polish", "unwrap"]


def unwrap(text: str) -> str:
    """Each paragraph of ``text`` on one line; a paragraph that holds a list (a line
    starting with ``-``, ``*`` or ``•``) or an indented block is kept as written, and so
    is Click's ``\\b`` (no rewrap) paragraph."""
    out = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines = para.split("\n")
        kept = para.startswith("\b") or any(
            ln.startswith((" ", "\t")) or ln.lstrip().startswith(("- ", "* ", "• ")) for ln in lines
        )
        out.append(para if kept else " ".join(ln.strip() for ln in lines))
    return "\n\n".join(out)


def polish(command: Any) -> None:
    """Polish ``command`` (a Click command or group, as ``typer.main.get_command`` builds
    it) and every command under it, in place."""
    if getattr(command, "help", None):
        command.help = unwrap(command.help)
    for param in getattr(command, "params", []):
        if param.metavar is not None:
            continue
        if getattr(param, "param_type_name", "") == "argument":
            param.metavar = name = str(param.name).upper()
            usage = name if param.required else f"[{name}]"
            param._usage_display_name = lambda usage=usage: usage  # Typer's usage line
        elif getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""  # a flag takes no value: show none
    if hasattr(command, "get_help_option"):
        _help_flag_takes_no_value(command)
    for sub in getattr(command, "commands", {}).values():
        polish(sub)


def _help_flag_takes_no_value(command: Any) -> None:
    """Click makes ``--help`` when the help is asked for, not in ``params``, so its
    ``<bool>`` is taken off as it is made."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
