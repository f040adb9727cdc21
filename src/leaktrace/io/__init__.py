"""The data layer: read messy order files into role-named Polars batches, write safely.

Public surface: :func:`open_table`, :func:`read_table`, :func:`read_frame`,
:func:`infer_roles`, :class:`RoleMap`, :class:`TableWriter`. Readers and writers are
looked up in registries so a new format is one class and one registration.

The names are imported on first use: importing a light submodule such as
``leaktrace.io.jsontext`` (the scam checker and the config loader do) must not pull in
Polars, which is most of a ``leaktrace scam check`` command's start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leaktrace.io.columns import RoleAssignment, RoleMap, infer_roles
    from leaktrace.io.datetimes import parse_datetime
    from leaktrace.io.encoding import detect_encoding, transcode_to_utf8
    from leaktrace.io.readers import (
        Reader,
        TableSource,
        normalise_frame,
        open_table,
        read_frame,
        read_table,
        register_reader,
    )
    from leaktrace.io.writers import TableWriter, write_table

_LAZY = {
    "RoleAssignment": "leaktrace.io.columns",
    "RoleMap": "leaktrace.io.columns",
    "infer_roles": "leaktrace.io.columns",
    "parse_datetime": "leaktrace.io.datetimes",
    "detect_encoding": "leaktrace.io.encoding",
    "transcode_to_utf8": "leaktrace.io.encoding",
    "Reader": "leaktrace.io.readers",
    "TableSource": "leaktrace.io.readers",
    "normalise_frame": "leaktrace.io.readers",
    "open_table": "leaktrace.io.readers",
    "read_frame": "leaktrace.io.readers",
    "read_table": "leaktrace.io.readers",
    "register_reader": "leaktrace.io.readers",
    "TableWriter": "leaktrace.io.writers",
    "write_table": "leaktrace.io.writers",
}


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use."""
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'leaktrace.io' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Reader",
    "RoleAssignment",
    "RoleMap",
    "TableSource",
    "TableWriter",
    "detect_encoding",
    "infer_roles",
    "normalise_frame",
    "open_table",
    "parse_datetime",
    "read_frame",
    "read_table",
    "register_reader",
    "transcode_to_utf8",
    "write_table",
]
