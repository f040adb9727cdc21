"""Reading texts from files: encodings, formats, the text column.

Chinese files arrive as UTF-8, UTF-8 with BOM, GBK or GB18030 (Excel "CSV" on Windows).
The encoding is detected as for order files (:mod:`leaktrace.io.encoding`); binary input
is refused with one clear line instead of being decoded into junk.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from leaktrace.errors import InputError, MissingColumnError
from leaktrace.io.encoding import detect_encoding
from leaktrace.io.jsontext import json_lines, loads_json
from leaktrace.io.workbook import workbook_error

__all__ = [
    "MAX_FILE_BYTES",
    "TEXT_COLUMN_CANDIDATES",
    "decode_bytes",
    "pick_text_column",
    "read_csv_frame",
    "read_texts",
]

#: Files larger than this are refused rather than read into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024

#: Column names tried, in order, when ``--column`` is not given.
TEXT_COLUMN_CANDIDATES: tuple[str, ...] = (
    "text",
    "content",
    "message",
    "内容",
    "文本",
    "消息",
    "短信内容",
    "聊天内容",
    "文章正文内容",
)

_SAMPLE = 256 * 1024


def decode_bytes(data: bytes, name: str) -> str:
    """Decode a file's bytes; raise :class:`InputError` for binary or undecodable data.

    The encoding is detected as for every other input (:func:`leaktrace.io.encoding.
    detect_encoding`: BOM, strict UTF-8, GB18030 when it yields mostly CJK, then
    charset-normalizer), so a message file and an order file are read the same way.
    """
    encoding = detect_encoding(data[:_SAMPLE])  # a BOM first: UTF-16 text holds NUL bytes
    if encoding is None:
        if b"\x00" in data[:_SAMPLE]:
            raise InputError(f"{name}: looks like a binary file (NUL bytes), not text")
        raise InputError(f"{name}: cannot detect the text encoding (binary file?)")
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise InputError(f"{name}: not valid {encoding} text (mixed or unknown encoding)") from None


def read_csv_frame(data: bytes, name: str) -> pl.DataFrame:
    """A CSV as a frame of strings (no type inference: ids and phone numbers stay text)."""
    text = decode_bytes(data, name)
    try:
        return pl.read_csv(io.StringIO(text), infer_schema_length=0, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: cannot parse as CSV ({first})") from None


def pick_text_column(columns: list[str], column: str | None, name: str) -> str:
    """The column to read texts from: ``column`` if given, else a known name, else the only one."""
    if column is not None:
        if column not in columns:
            raise MissingColumnError(
                f"{name}: no column {column!r}; columns are: {', '.join(columns) or '(none)'}"
            )
        return column
    for cand in TEXT_COLUMN_CANDIDATES:
        if cand in columns:
            return cand
    if len(columns) == 1:
        return columns[0]
    raise MissingColumnError(
        f"{name}: no text column found (tried {', '.join(TEXT_COLUMN_CANDIDATES)}); "
        f"use --column, columns are: {', '.join(columns) or '(none)'}"
    )


def _frame_texts(df: pl.DataFrame, column: str | None, name: str) -> list[str]:
    col = pick_text_column(df.columns, column, name)
    return [v if v is not None else "" for v in df[col].cast(pl.Utf8).to_list()]


def _jsonl_texts(text: str, column: str | None, name: str) -> list[str]:
    out: list[str] = []
    key = column or "text"
    for lineno, line in json_lines(text):
        obj = loads_json(line, f"{name}: line {lineno}")
        if isinstance(obj, str):
            out.append(obj)
        elif isinstance(obj, dict):
            if column is None and key not in obj:
                found = [c for c in TEXT_COLUMN_CANDIDATES if c in obj]
                if not found:
                    raise MissingColumnError(
                        f"{name}: line {lineno}: no text field (tried {', '.join(TEXT_COLUMN_CANDIDATES)}); use --column"
                    )
                value = obj[found[0]]
            elif key not in obj:
                raise MissingColumnError(f"{name}: line {lineno}: no field {key!r}")
            else:
                value = obj[key]
            if not isinstance(value, str):
                raise InputError(f"{name}: line {lineno}: field {key!r} is not a string")
            out.append(value)
        else:
            raise InputError(f"{name}: line {lineno}: expected a JSON string or object")
    return out


def read_texts(path: Path, column: str | None = None) -> list[str]:
    """Texts from a file, in file order; a file with no text is an :class:`InputError`.

    ``.csv``/``.tsv``: one text per row from the text column; ``.xlsx``/``.xls``: the same
    from the first sheet; ``.jsonl``/``.ndjson``/``.json``: one JSON string or object per
    line; anything else: one text per non-blank line. A file that holds no text (only a
    BOM, only blank lines, a CSV with only its header) is refused, as an empty file is:
    an empty answer would read as "nothing suspicious" in a batch run.
    """
    texts = _read_texts(path, column)
    if not texts:
        raise InputError(f"{path}: no texts in the file")
    return texts


def _read_texts(path: Path, column: str | None) -> list[str]:
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise InputError(f"{name}: file is larger than {MAX_FILE_BYTES // 2**20} MB")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xls", ".xlsm"}:
        try:
            df = pl.read_excel(path, engine="calamine", infer_schema_length=0)
        except Exception as exc:  # calamine raises its own types for corrupt workbooks
            raise InputError(workbook_error(path, exc)) from None
        return _frame_texts(df, column, name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if not data.removeprefix(b"\xef\xbb\xbf").strip():  # a BOM alone is an empty file too
        raise InputError(f"{name}: file is empty")
    if suffix in {".csv", ".tsv"}:
        if suffix == ".tsv":
            text = decode_bytes(data, name)
            try:
                df = pl.read_csv(io.StringIO(text), separator="\t", infer_schema_length=0)
            except pl.exceptions.PolarsError:
                raise InputError(f"{name}: cannot parse as TSV") from None
        else:
            df = read_csv_frame(data, name)
        return _frame_texts(df, column, name)
    text = decode_bytes(data, name)
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return _jsonl_texts(text, column, name)
    if column is not None:
        raise InputError(f"{name}: --column applies to CSV, XLSX and JSON lines files only")
    return [line for line in text.splitlines() if line.strip()]
