"""Parse JSON text from a user's file without letting valid-but-hostile JSON crash us.

``json.loads`` raises more than :class:`json.JSONDecodeError`: an integer with more digits
than Python converts (``sys.get_int_max_str_digits()``, 4300 by default) raises a plain
:class:`ValueError`, and arrays or objects nested deeper than the interpreter's recursion
limit raise :class:`RecursionError`. Both are *valid* JSON a user (or a leaked file) can
hand us, so both are user errors: they must become one line naming the file and line, not
a traceback. Every reader of user JSON goes through :func:`loads_json` so that no call
site can forget one of the three.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from leaktrace.errors import InputError

__all__ = ["NOT_JSON", "JsonTextError", "json_lines", "loads_json"]

NOT_JSON = "not valid JSON"
"""The reason given for ordinary malformed JSON (a syntax error)."""


class JsonTextError(InputError):
    """JSON text that cannot be read: ``where`` (file, line) and ``reason`` kept apart so a
    call site can reword the message or record the reason as a per-row problem.

    ``malformed`` is True for an ordinary syntax error, False for valid JSON we refuse to
    build (a huge integer, too deep nesting)."""

    def __init__(self, where: str, reason: str, *, malformed: bool) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason
        self.malformed = malformed


def loads_json(text: str | bytes, where: str) -> Any:
    """``json.loads(text)``, with every way user text can fail turned into
    :class:`JsonTextError` (an :class:`InputError`) whose message starts with ``where``.

    The message never quotes the text: JSON from a leaked file holds personal data."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise JsonTextError(where, NOT_JSON, malformed=True) from None
    except RecursionError:
        raise JsonTextError(where, "nested too deeply to read", malformed=False) from None
    except ValueError as exc:  # int() refusing a huge number; nothing else is expected
        if "digits" in str(exc):
            limit = sys.get_int_max_str_digits()
            reason = f"a number has more than {limit} digits"
        else:
            reason = NOT_JSON
        raise JsonTextError(where, reason, malformed=False) from None


def json_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of each non-blank line of a JSON-lines text.

    Split on line feeds only (a CR before one is dropped): ``str.splitlines`` also breaks
    at U+2028, U+2029, U+0085 and form feeds, which JSON allows raw inside a string, and
    Python's ``json.dumps(ensure_ascii=False)`` writes them so (a transcript or an SMS may
    hold one): a valid record would become two broken ones.
    """
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield n, line.removesuffix("\r")
