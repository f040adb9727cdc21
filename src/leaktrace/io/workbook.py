"""What to say when a file named like an Excel workbook cannot be read as one.

Shared by every reader of workbooks (orders, victim reports, the scam checker's texts), and
light: the scam checker imports it without Polars' readers.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["workbook_error"]

_CONTAINERS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
"""How every workbook calamine reads starts: a ZIP archive (.xlsx, .xlsm, .xlsb) or an OLE2
compound file (.xls)."""


def workbook_error(path: Path, exc: Exception) -> str:
    """The one line for ``path``, which calamine failed to read with ``exc``.

    Why the file's first bytes are looked at: "cannot read workbook (CalamineError)" was
    all a user got for a CSV renamed to .xlsx (a common way to "convert" one), and it did
    not say that the file is no workbook at all. Nothing of the file's content is quoted.
    """
    name = type(exc).__name__
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as err:
        return f"{path}: cannot read workbook ({err.strerror or name})"
    if not head:
        return f"{path}: file is empty"
    if head.startswith(_CONTAINERS):
        if "Calamine" not in name:  # calamine read it: an empty sheet (NoDataError) …
            return f"{path}: cannot read workbook ({name})"
        return (
            f"{path}: cannot read workbook ({name}); the file is damaged, or is an archive "
            "that is not an Excel workbook"
        )
    if b"\x00" not in head:
        return (
            f"{path} is not an Excel workbook: it holds plain text (a CSV file renamed to "
            f"{path.suffix}? give it its own suffix, such as .csv)"
        )
    return (
        f"{path} is not an Excel workbook (.xlsx, .xls): another kind of file renamed, "
        "or a damaged one"
    )
