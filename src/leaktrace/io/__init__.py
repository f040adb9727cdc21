"""The data layer: read messy order files into role-named Polars batches, write safely.

Public surface: :func:`open_table`, :func:`read_table`, :func:`read_frame`,
:func:`infer_roles`, :class:`RoleMap`, :class:`TableWriter`. Readers and writers are
looked up in registries so a new format is one class and one registration.
"""

from __future__ import annotations

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
