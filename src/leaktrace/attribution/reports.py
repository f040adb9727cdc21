"""Victim reports: the typed record, intake from JSON lines / CSV / XLSX, and storage.

JSON lines (one object per report, issue 5)::

    {"victim_phone": "13812345678", "reported_at": "2024-10-03T14:20:00+08:00",
     "channel": "phone", "caller": "95013xxxx",
     "quoted": {"name": true, "order_id": "7341…", "product": "【正品保障】…", "card_last4": true},
     "transcript": "我是淘宝客服…", "loss": 5000, "police_receipt": "…"}

CSV / XLSX: one row per report with columns ``victim_phone, reported_at, channel, caller,
transcript, loss, police_receipt`` and either a ``quoted`` column holding the JSON object
or one ``quoted_<role>`` column per role (a cell of ``true``/``是``/``✓``/``1`` means "the
caller knew this kind of fact", any other non-empty text is the value as quoted).

CSV / XLSX headers may also be Chinese (手机号, 来电时间 … see :data:`HEADER_ALIASES`);
blank rows (also Excel's ``,,,`` for a cleared row) are skipped.

Every report's ``source`` is ``file:line``, the physical line where the report starts in
the file (header = line 1; a quoted CSV cell over several lines counts them all; a
workbook's row number; a JSON document's line where the report's ``{`` is), so a clerk
finds it in an editor or Excel.

Bad rows are never dropped and never stop the run: a row that cannot be parsed becomes a
report with ``status = "malformed"`` and a reason naming the problem (never the value).
A file that cannot be read as a whole (bytes not in its encoding, an unclosed quote, a
header without the phone or time column) is one error naming the file and line, and
nothing of it is stored.
Whether a report's victim is a known customer, or the call came before their order, is
decided at attribution time against the ledger as it is then (see ``attribute``).

Every stored row is sealed (``store.seal_report``); a row whose seal is missing or does
not match is loaded as ``status = "unsealed"`` and never counted (see
:func:`load_stored_reports`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from leaktrace.attribution.store import (
    ReportRecord,
    decrypt_blob,
    encrypt_blob,
    engine_for,
    report_is_sealed,
    report_seal_problem,
    seal_report,
)
from leaktrace.digest import keyed_digest_one
from leaktrace.errors import InputError, KeyFileError
from leaktrace.io.jsontext import JsonTextError, json_lines, loads_json
from leaktrace.io.workbook import workbook_error
from leaktrace.pii.text import canonical_str, fold_width_str
from leaktrace.workspace import Workspace

__all__ = [
    "CLOCK_SKEW",
    "HEADER_ALIASES",
    "QUOTE_ROLES",
    "UNTRUSTED_STATUSES",
    "IntakeResult",
    "StoredReport",
    "VictimReport",
    "add_reports",
    "customer_digest",
    "in_the_future",
    "load_stored_reports",
    "normalise_phone_str",
    "parse_datetime",
    "parse_report_file",
    "parse_report_obj",
    "shown",
]

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a report's or a canary hit's time may lie (another machine's
clock), as for an incident's discovery: later is a mistyped date, flagged or refused."""

QUOTE_ROLES: dict[str, str] = {
    "name": "name",
    "order_id": "order_id",
    "order_no": "order_id",
    "product": "product",
    "order_date": "order_time",
    "order_time": "order_time",
    "date": "order_time",
    "address": "address",
    "card_last4": "card_last4",
    "phone": "phone",
    "amount": "amount",
    "sku": "sku",
    "quantity": "quantity",
    "id_number": "id_number",
    "email": "email",
}
"""Keys of ``quoted`` → the column role they name (``order_date`` is the order time)."""

_TRUE = {"true", "1", "yes", "y", "是", "✓", "√", "t", "知道", "x"}
_FALSE = {"false", "0", "no", "n", "否", "", "none", "null"}


@dataclass
class VictimReport:
    """One report as given by the user (plaintext; lives in memory only)."""

    victim_phone: str | None
    reported_at: datetime | None
    channel: str = ""
    caller: str = ""
    quoted: dict[str, str | bool] = field(default_factory=dict)
    transcript: str | None = None
    loss: float | None = None
    police_receipt: str | None = None
    source: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def roles(self) -> list[str]:
        """Column roles the caller knew (unknown quote keys are kept but not a role)."""
        return sorted({QUOTE_ROLES[k] for k in self.quoted if k in QUOTE_ROLES})


def _listed_quote_keys(quoted: dict[str, str | bool]) -> list[str]:
    """The quote keys a report list may show: the known ones, and ``other`` for the rest.

    Why not every key: a key is whatever the reporting tool wrote, and one was a phone
    number ("13800001111": true), which the stored list then showed in plain text.
    """
    known = {k for k in quoted if k in QUOTE_ROLES}
    return sorted(known | ({"other"} if len(known) < len(quoted) else set()))


def normalise_phone_str(value: str) -> str | None:
    """The release pipeline's phone normal form for one value (11 digits), else None.

    A whole number written as a float (``18308433657.0``, as pandas writes a phone column
    with a gap in it) is read as the number, as a release reads it: such reports were
    stored as malformed and their victims lost to the attribution.

    A mobile behind the trunk prefix 0 (``017090000001``, ``+86 (0)170…``: how fixed-line
    switches write a call to a mobile of another area) and a ``tel:`` URI are the mobile:
    such call records to canary numbers were dropped as "not a pool number" (session 25's
    review)."""
    s = canonical_str(value).replace("-", "").replace("(", "").replace(")", "")
    if s[:4].lower() == "tel:":
        s = s[4:]
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    for cc in ("+86", "0086", "+0086"):
        if s.startswith(cc):
            s = s[len(cc) :]
    if len(s) == 13 and s.startswith("861"):
        s = s[2:]
    if len(s) == 12 and s.startswith("01"):
        s = s[1:]
    return s if s.isdigit() and len(s) == 11 and s.startswith("1") else None


def customer_digest(ws: Workspace, phone: str, version: int) -> int:
    return keyed_digest_one(phone, ws.keys.derive("customer", version))


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 (naive = UTC+8, the platform's local time) → aware UTC; else None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        v = value.strip().replace("Z", "+00:00").replace("/", "-")
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        from datetime import timedelta, timezone

        dt = dt.replace(tzinfo=timezone(timedelta(hours=8)))
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01 in UTC+8, 9999-12-31 west of UTC: no such UTC time
        return None


_SHEET_TIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T)(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d*)?[eE][+-]?\d+")


def _report_time(value: Any) -> datetime | None:
    """:func:`parse_datetime`, and the time as Excel writes it back into a CSV it saved
    (``2030/1/1 9:00``, unpadded; ``2030年1月1日 9:00``), naive = UTC+8 as there."""
    at = parse_datetime(value)
    if at is not None or not isinstance(value, str):
        return at
    m = _SHEET_TIME.fullmatch(fold_width_str(value).strip())
    if m is None:
        return None
    y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
    try:
        naive = datetime(y, mo, d, h, mi, sec)
    except ValueError:  # month 13, 30 February, 25 o'clock …
        return None
    return parse_datetime(naive)


def _quote_value(v: Any) -> str | bool | None:
    if isinstance(v, bool):
        return v if v else None
    if v is None:
        return None
    if isinstance(v, int | float):
        if isinstance(v, float) and math.isnan(v):
            return None
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
    s = str(v).strip()
    if s.lower() in _FALSE:
        return None
    if s.lower() in _TRUE:
        return True
    return s


def _text(value: object, name: str, problems: list[str]) -> str:
    """``value`` as text that every database and digest takes: a NUL (PostgreSQL refuses
    it, and refused the whole file) and a lone surrogate (JSON can spell one; it cannot be
    encoded for a digest or a seal) are dropped, and the report says so."""
    raw = str(value)
    clean = raw.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if clean != raw:
        problems.append(f"{name} held characters that are no text (NUL, lone surrogate); dropped")
    return clean


def parse_report_obj(obj: Any, source: str) -> VictimReport:
    """One report from a JSON-like object; problems are recorded, never raised."""
    if not isinstance(obj, dict):
        return VictimReport(None, None, source=source, problems=["not a JSON object"])
    problems: list[str] = []
    # text fields are made storable first: a bad character marks the row, not the file
    obj = {k: _text(v, str(k), problems) if isinstance(v, str) else v for k, v in obj.items()}
    raw_phone = obj.get("victim_phone", obj.get("phone"))
    phone = normalise_phone_str(str(raw_phone)) if raw_phone not in (None, "") else None
    if raw_phone in (None, ""):
        problems.append("no victim_phone")
    elif phone is None and _SCIENTIFIC.fullmatch(str(raw_phone).strip()):
        problems.append(
            "victim_phone is a number in scientific notation, as Excel saves a long number "
            "(its last digits are lost): format the column as text and save the file again"
        )
    elif phone is None:
        problems.append("victim_phone is not a mainland mobile number")
    at = _report_time(obj.get("reported_at"))
    if at is None:
        problems.append("reported_at missing or not ISO 8601")
    elif in_the_future(at):
        # a mistyped year: counted, it would make every later release "before the call"
        problems.append(_FUTURE)
    quoted: dict[str, str | bool] = {}
    q = obj.get("quoted") or {}
    if isinstance(q, str):
        try:
            q = loads_json(q, "quoted")
        except JsonTextError as exc:
            problems.append("quoted is not a JSON object" if exc.malformed else str(exc))
            q = {}
    if not isinstance(q, dict):
        problems.append("quoted is not an object")
        q = {}
    # cleaned as text fields are, whether it came as an object or as a JSON string (whose
    # escapes can spell a lone surrogate too)
    q = {
        _text(k, "quoted", problems): _text(v, "quoted", problems) if isinstance(v, str) else v
        for k, v in q.items()
    }
    for k, v in q.items():
        val = _quote_value(v)
        if val is not None:
            quoted[str(k).strip().lower()] = val
    loss: float | None = None
    if obj.get("loss") not in (None, ""):
        try:
            loss = float(str(obj["loss"]).replace(",", "").replace("元", ""))
        except ValueError:
            problems.append("loss is not a number")
        else:
            if not 0 <= loss < 1e12:  # also NaN and inf: an amount of yuan a victim lost
                problems.append("loss is not an amount (0 to 10^12 yuan)")
                loss = None
    transcript = obj.get("transcript")
    receipt = obj.get("police_receipt")
    return VictimReport(
        victim_phone=phone,
        reported_at=at,
        channel=str(obj.get("channel") or "").strip().lower()[:40],
        caller=str(obj.get("caller") or "").strip()[:200],
        quoted=quoted,
        transcript=str(transcript) if transcript not in (None, "") else None,
        loss=loss,
        police_receipt=str(receipt) if receipt not in (None, "") else None,
        source=source,
        problems=problems,
    )


def _row_obj(row: dict[str, Any]) -> dict[str, Any]:
    obj = {k.strip().lower(): v for k, v in row.items() if k}
    quoted: dict[str, Any] = {}
    if obj.get("quoted") not in (None, ""):
        try:
            parsed = loads_json(str(obj["quoted"]), "quoted")
        except JsonTextError:
            parsed = None
        if not isinstance(parsed, dict):
            return obj  # parse_report_obj records "quoted is not a JSON object"
        quoted = parsed
    for k, v in obj.items():
        if k.startswith("quoted_") and v not in (None, ""):
            quoted[k[len("quoted_") :]] = v
    obj["quoted"] = quoted
    return obj


HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        (
            "手机号",
            "手机号码",
            "手机",
            "受害人手机号",
            "受害人手机号码",
            "受害人手机",
            "受害人电话",
            "报案人手机号",
            "报案人手机号码",
            "报案人电话",
            "联系电话",
        ),
        "victim_phone",
    ),
    # the call's (the scam's) time: which releases were made before it decides who could
    # have supplied the caller. Not 报案时间/报警时间, when the victim reported it (days
    # later): a release made in between, such as the platform's own anti-fraud SMS to
    # exactly the victims, counted as held before the call and was accused at 10^-31
    # (session 24's review).
    **dict.fromkeys(("来电时间", "被骗时间", "受骗时间", "诈骗时间", "通话时间"), "reported_at"),
    **dict.fromkeys(("渠道", "诈骗渠道", "联系渠道"), "channel"),
    **dict.fromkeys(
        ("来电号码", "诈骗号码", "诈骗电话", "对方号码", "对方电话", "对方账号"), "caller"
    ),
    **dict.fromkeys(
        ("通话内容", "对话内容", "聊天记录", "诈骗话术", "话术", "案情", "案情描述", "简要案情"),
        "transcript",
    ),
    **dict.fromkeys(("损失", "损失金额", "被骗金额", "涉案金额"), "loss"),
    **dict.fromkeys(("报警回执", "报警回执号", "回执", "回执号", "受案回执"), "police_receipt"),
}
"""CSV/XLSX headers read as a report column (width and spaces ignored). Only names that
say one thing: 电话 or 时间 alone could be the caller's or the order's; 订单号 could be
the victim's own order or the one the caller quoted (a quote is ``quoted_order_id``)."""

_FILED_AT = frozenset(("报案时间", "报警时间", "报案日期", "受案时间"))
"""Headers of when a report was filed: never read as the call's time (see HEADER_ALIASES)."""

_REPORT_COLUMNS = frozenset(
    (
        "victim_phone",
        "phone",
        "reported_at",
        "channel",
        "caller",
        "quoted",
        "transcript",
        "loss",
        "police_receipt",
    )
)
_SHEET_SUFFIXES = (".xlsx", ".xls", ".xlsm")
_CSV_FIELD_LIMIT = 2**31 - 1
"""Python's csv module refuses a cell over 128 KiB by default; a chat-log transcript can be
longer (the file is read whole anyway)."""


def _column_key(header: str) -> str:
    key = header.strip().lower()
    if key in _REPORT_COLUMNS or key.startswith("quoted_"):
        return key
    return HEADER_ALIASES.get(canonical_str(header).lower(), key)


def _header_keys(cells: Sequence[object], name: str, line: int) -> list[str]:
    """The report column each header cell names; InputError when the phone or time column
    is missing (every row would be a malformed report) or two cells name one column.

    Only header cells that name a report column are ever quoted: a file without a header
    has a report in its first line."""
    keys: list[str] = []
    given: dict[str, str] = {}
    for cell in cells:
        raw = "" if cell is None else str(cell)
        key = _column_key(raw)
        if key in _REPORT_COLUMNS or key.startswith("quoted_"):
            field_ = "victim_phone" if key == "phone" else key  # phone is read as it
            if field_ in given:
                raise InputError(
                    f"{name}: line {line}: columns {given[field_]!r} and {raw.strip()!r} "
                    f"both give {field_}; keep one"
                )
            given[field_] = raw.strip()
        keys.append(key)
    missing = [c for c in ("victim_phone", "reported_at") if c not in given]
    filed = [str(c).strip() for c in cells if canonical_str(str(c or "")).strip() in _FILED_AT]
    if "reported_at" in missing and filed:
        raise InputError(
            f"{name}: line {line}: {filed[0]} is when the victim reported, not when the call "
            "came; add the call's time as 来电时间 (or 被骗时间, reported_at): which releases "
            "were made before the call decides who could have supplied the caller"
        )
    if missing:
        raise InputError(
            f"{name}: line {line}: the header has no {' and no '.join(missing)} column; "
            "a report file's header names victim_phone (or 手机号) and the call's time, "
            "reported_at (or 来电时间), see docs/attribution.md"
        )
    return keys


def _blank(cells: Sequence[object]) -> bool:
    return all(c is None or not str(c).strip() for c in cells)


def _csv_rows(path: Path, name: str) -> list[tuple[int, list[str]]]:
    """(line where the row starts, cells) of every row of a CSV/TSV, blank ones included.

    Read with Python's csv module, which says where each row ends, not Polars (which does
    not): a quoted cell over several lines, and blank lines, would shift every later
    number. The encoding and delimiter are detected as for every other input."""
    from leaktrace.io.readers import CsvReader

    reader = CsvReader(path, batch_rows=1)
    try:
        data = reader.utf8_path.read_bytes()
    finally:
        reader.close()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:  # past the sample the encoding was detected from
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{name}: line {line}: bytes that are not valid {reader.encoding} (the encoding "
            "of the file's start); save the whole file in one encoding"
        ) from None
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=reader.delimiter, strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in rows:
            out.append((start, cells))
            start = rows.line_num + 1
    except csv.Error as exc:  # its message names no cell text, but is no help to a clerk
        if "unexpected end of data" in str(exc):
            raise InputError(
                f"{name}: line {start}: a quoted cell in the row starting on this line is "
                "never closed"
            ) from None
        if "expected after" in str(exc):
            raise InputError(
                f"{name}: line {rows.line_num}: text after a quoted cell's closing quote (a \" "
                'inside a quoted cell is written "")'
            ) from None
        raise InputError(f"{name}: line {rows.line_num}: cannot parse as CSV") from None
    return out


def _sheet_rows(path: Path) -> list[tuple[int, list[object]]]:
    """(row number, cells) of the first sheet's rows, empty ones included (Polars drops
    them by default, and every later row number was one off)."""
    with path.open("rb") as fh:
        if not fh.read(1):
            raise InputError(f"{path}: file is empty")
    try:
        df = pl.read_excel(
            path,
            engine="calamine",
            sheet_id=1,
            has_header=False,
            read_options={"dtypes": "string"},
            drop_empty_rows=False,
        )
    except Exception as exc:  # fastexcel/calamine raise their own hierarchy
        raise InputError(workbook_error(path, exc)) from None
    return [(n, list(row)) for n, row in enumerate(df.iter_rows(), start=1)]


def _table_reports(path: Path, name: str) -> list[VictimReport]:
    """Reports of a CSV/TSV or workbook: the first non-blank row is the header."""
    rows: Sequence[tuple[int, Sequence[object]]] = (
        _sheet_rows(path) if path.suffix.lower() in _SHEET_SUFFIXES else _csv_rows(path, name)
    )
    keys: list[str] | None = None
    out: list[VictimReport] = []
    for line, cells in rows:
        if _blank(cells):
            continue
        if keys is None:
            keys = _header_keys(cells, name, line)
            continue
        row = {k: v for k, v in zip(keys, cells, strict=False) if k}  # short rows: missing
        out.append(parse_report_obj(_row_obj(row), f"{name}:{line}"))
    return out


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_item_lines(text: str, key: str | None, n_items: int) -> list[int] | None:
    """The line where each report of a JSON document starts (its ``{``): the items of the
    top-level array, or of the array under ``key`` of the top-level object. None if they
    cannot be found (the reports are then named by their place in the array). The text
    has parsed already: this only walks it again to find where each item begins."""
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        m = _JSON_SPACE.match(text, i)
        return m.end() if m else i

    def walk(i: int, members: bool) -> list[tuple[object, int]]:
        """(key or None, offset) of each value of the array or object opening at ``i``."""
        found: list[tuple[object, int]] = []
        close = "}" if members else "]"
        i = skip(i + 1)
        while text[i] != close:
            name: object = None
            if members:
                name, i = decoder.raw_decode(text, i)
                i = skip(skip(i) + 1)  # past the ":"
            found.append((name, i))
            i = skip(decoder.raw_decode(text, i)[1])
            if text[i] == ",":
                i = skip(i + 1)
        return found

    try:
        start = skip(0)
        if key is not None:  # {"reports": [...]}; of a key given twice, the last one counts
            start = [i for name, i in walk(start, True) if name == key][-1]
        offsets = [i for _, i in walk(start, False)]
    except (ValueError, IndexError, RecursionError):
        return None
    if len(offsets) != n_items:
        return None
    lines, line, last = [], 1, 0
    for offset in offsets:
        line += text.count("\n", last, offset)
        last = offset
        lines.append(line)
    return lines


def _decoded(path: Path) -> str:
    """A JSON report file's text, in its detected encoding (UTF-8, or GBK/GB18030 as some
    Chinese tools write it). Why not ``errors="replace"``: a phone or order number turned
    into replacement characters would silently drop a report from attribution."""
    from leaktrace.io.encoding import detect_file_encoding

    encoding = detect_file_encoding(path)
    try:
        return path.read_bytes().decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name}: bytes at offset {exc.start} are not valid {encoding}"
        ) from None


def _json_document(text: str, name: str) -> tuple[list[Any], list[int] | None] | None:
    """The reports of a ``.json`` file read whole, with the line where each starts (None:
    not found); None when it is not one JSON document (JSON lines in a ``.json`` file), an
    error when an array does not parse."""
    try:
        doc = loads_json(text, name)
    except JsonTextError as exc:
        if not exc.malformed:
            raise
        if text.lstrip().startswith("["):
            raise InputError(f"{name} is not valid JSON") from None
        return None
    if isinstance(doc, list):
        return doc, _json_item_lines(text, None, len(doc))
    first_line = text[: len(text) - len(text.lstrip(" \t\n\r"))].count("\n") + 1
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(doc) == 1 and len(lists) == 1:  # {"reports": [...]}
            return lists[0], _json_item_lines(text, next(iter(doc)), len(lists[0]))
        return [doc], [first_line]
    # a lone string or number: one malformed report, as a JSON line would be
    return [doc], [first_line]


def parse_report_file(path: Path) -> list[VictimReport]:
    """Reports from a ``.jsonl``/``.ndjson``, ``.json``, ``.csv`` or ``.xlsx``.

    A ``.json`` file is one JSON document when it parses as one — an array of reports, one
    report object (an editor's pretty-printed report), or an object holding one array of
    them — and JSON lines otherwise: read line by line, a pretty-printed object would
    become one sealed malformed report per line.
    """
    if not path.exists():
        raise InputError(f"report file {path} does not exist")
    if path.is_dir():
        raise InputError(f"report file {path} is a folder; give a file")
    suffix = path.suffix.lower()
    name = path.name
    out: list[VictimReport] = []
    if suffix in (".jsonl", ".ndjson", ".json"):
        text = _decoded(path)
        if suffix == ".json" and text.lstrip().startswith(("[", "{")):
            document = _json_document(text, name)
            if document is not None:
                items, lines = document
                return [
                    parse_report_obj(
                        o, f"{name}:{lines[i]}" if lines else f"{name}: report {i + 1}"
                    )
                    for i, o in enumerate(items)
                ]
        for i, line in json_lines(text):
            try:
                obj = loads_json(line, f"{name}:{i}")
            except JsonTextError as exc:  # recorded like any bad row, never stops the run
                out.append(VictimReport(None, None, source=f"{name}:{i}", problems=[exc.reason]))
                continue
            out.append(parse_report_obj(obj, f"{name}:{i}"))
        return out
    if suffix in (".csv", ".tsv", ".txt", *_SHEET_SUFFIXES):
        return _table_reports(path, name)
    raise InputError(f"unsupported report file type {suffix!r}: use .jsonl, .json, .csv or .xlsx")


@dataclass
class IntakeResult:
    added: int
    duplicates: int
    malformed: int
    ids: list[int]
    problems: list[tuple[str, str]]  # (source, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "ids": self.ids,
            "problems": [{"source": s, "reason": r} for s, r in self.problems],
        }


def _dedupe_keys(keys: list[bytes], r: VictimReport) -> list[str]:
    """The report's duplicate-detection digest under each of ``keys`` (every key version's
    dedupe key, current first; see :func:`add_reports`).

    A report is a duplicate if any of them is stored: a file added again after a key
    rotation must not count its victims twice. A malformed report (no parseable phone or
    time) also digests its transcript and where it came from, or every unparseable row
    would look like the same report and all but one would be dropped unseen.
    """
    parts: list[object] = [
        r.victim_phone,
        r.reported_at.isoformat() if r.reported_at else None,
        r.caller,
        sorted(r.quoted.items(), key=lambda kv: kv[0]),
    ]
    if r.problems:
        parts += [r.source, r.transcript]
    body = json.dumps(parts, ensure_ascii=False, default=str).encode()
    return [hashlib.sha256(key + body).hexdigest() for key in keys]


def add_reports(ws: Workspace, reports: list[VictimReport]) -> IntakeResult:
    """Store reports (transcripts through the scam detector); exact duplicates skipped."""
    from leaktrace.scam import check

    texts = [r.transcript or "" for r in reports]
    verdicts = check([t for t in texts if t]) if any(texts) else []
    it = iter(verdicts)
    versions = _key_versions(ws)
    dedupe_keys = [ws.keys.derive("report-dedupe", v) for v in reversed(versions)]
    ids: list[int] = []
    dup = mal = 0
    problems: list[tuple[str, str]] = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with Session(engine_for(ws)) as s, s.begin():
        # only sealed rows make a report a duplicate: a row altered in the database (or
        # stored before seals) is not counted, and adding the report again must restore it
        existing = {
            rec.dedupe for rec in s.scalars(select(ReportRecord)) if report_is_sealed(ws, rec)
        }
        for r, t in zip(reports, texts, strict=True):
            verdict = next(it) if t else None
            keys = _dedupe_keys(dedupe_keys, r)
            if any(k in existing for k in keys):
                dup += 1
                continue
            d = keys[0]
            existing.add(d)
            flaws = list(r.problems)
            if in_the_future(r.reported_at) and _FUTURE not in flaws:
                flaws.append(_FUTURE)  # a report built in code, not parsed from a file
            if flaws:
                mal += 1
                problems.append((r.source, "; ".join(flaws)))
            digests = (
                {str(v): str(customer_digest(ws, r.victim_phone, v)) for v in versions}
                if r.victim_phone
                else {}
            )
            blob, kv = encrypt_blob(
                ws,
                {
                    "phone": r.victim_phone,
                    "quoted": r.quoted,
                    "transcript": r.transcript,
                    "police_receipt": r.police_receipt,
                },
            )
            rec = ReportRecord(
                received_at=now,
                source=r.source[:300],
                reported_at=r.reported_at.isoformat() if r.reported_at else None,
                channel=str(r.channel),
                caller=str(r.caller),
                quoted_roles=json.dumps(_listed_quote_keys(r.quoted)),
                loss=r.loss,
                has_receipt=r.police_receipt is not None,
                fraud_type=verdict.fraud_type if verdict else "",
                stages=json.dumps(
                    sorted({h.stage for h in verdict.stages}) if verdict else [],
                    ensure_ascii=False,
                ),
                status="malformed" if flaws else "ok",
                reason="; ".join(flaws),
                customer=json.dumps(digests),
                dedupe=d,
                key_version=kv,
                blob=blob,
            )
            rec.seal = seal_report(ws, rec)
            s.add(rec)
            s.flush()
            ids.append(rec.id)
    return IntakeResult(len(ids), dup, mal, ids, problems)


_FUTURE = "reported_at is in the future"


def in_the_future(at: datetime | None, now: datetime | None = None) -> bool:
    """Later than ``now`` (default: the present; for a stored report, when it was received)
    by more than a clock's skew: a report's, a canary hit's or a telecom record's time."""
    return at is not None and at > (now or datetime.now(UTC)) + CLOCK_SKEW


def _key_versions(ws: Workspace) -> list[int]:
    return list(range(1, ws.keys.current_version + 1))


UNTRUSTED_STATUSES = frozenset({"unsealed", "unreadable", "duplicate_row", "erasure_undone"})
"""Statuses of stored rows whose content nothing vouches for (or that repeat a sealed row):
loaded only to be flagged; their clear fields are not read (see :func:`load_stored_reports`)."""


@dataclass
class StoredReport:
    """A stored report with its encrypted part opened (for attribution, in memory)."""

    id: int
    source: str
    reported_at: datetime | None
    channel: str
    caller: str
    phone: str | None
    quoted: dict[str, str | bool]
    loss: float | None
    fraud_type: str
    stages: list[str]
    status: str
    reason: str

    @property
    def roles(self) -> list[str]:
        return sorted({QUOTE_ROLES[k] for k in self.quoted if k in QUOTE_ROLES})

    @property
    def trusted(self) -> bool:
        """Whether the row's content may be used at all (its seal held and it opened)."""
        return self.status not in UNTRUSTED_STATUSES


def shown(value: object, limit: int = 300) -> str:
    """A text field of an unsealed row as it may be printed: anyone who can write the
    database wrote it, so no control characters (terminal escapes) and no more than a line."""
    text = value if isinstance(value, str) else repr(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


def _left_out(rec: ReportRecord, status: str, reason: str) -> StoredReport:
    """A row that is flagged and not counted: only its id and (cleaned) source are kept,
    since nothing vouches for its other clear fields."""
    return StoredReport(
        id=rec.id,
        source=shown(rec.source),
        reported_at=None,
        channel="",
        caller="",
        phone=None,
        quoted={},
        loss=None,
        fraud_type="",
        stages=[],
        status=status,
        reason=reason,
    )


def load_stored_reports(ws: Workspace, since: datetime | None = None) -> list[StoredReport]:
    """Stored reports for attribution; every row the database holds is either counted
    evidence or a flagged, left-out row — never an error for the whole run.

    Why: the report table is outside the signed chain and may be administered by people
    without the workspace's keys. A row without a valid seal (altered in the database,
    written outside leaktrace, stored before seals) is ``unsealed``; a sealed row whose
    blob does not open is ``unreadable``; a second sealed row with the same intake digest
    (a row copied whole: the seal does not cover ``id``) is ``duplicate_row``. Unsealed
    rows are returned whatever ``since`` says, because their call time is exactly what
    cannot be trusted to leave them out. A report erased at the person's request (a valid
    erasure, :mod:`leaktrace.attribution.erasure`) is not returned at all, and one whose
    erased row is back as it was is ``erasure_undone``.
    """
    from leaktrace.attribution.erasure import ERASED, UNDONE, erasure_states
    from leaktrace.attribution.store import load_erasures, load_reports

    out = []
    first_of: dict[str, int] = {}
    stored = load_reports(ws)
    erasure = erasure_states(ws, stored, load_erasures(ws))
    for rec in stored:
        if erasure.get(rec.id) == ERASED:  # at the person's request: no longer evidence
            continue
        if erasure.get(rec.id) == UNDONE:
            out.append(
                _left_out(
                    rec,
                    UNDONE,
                    "erased at the person's request and changed since (restored from an "
                    "older copy, or altered in the database): not counted; `report erase` "
                    "wipes it again",
                )
            )
            continue
        problem = report_seal_problem(ws, rec)
        if problem is not None:
            out.append(
                _left_out(
                    rec, "unsealed", f"{problem}: not counted; add the report again to count it"
                )
            )
            continue
        first = first_of.setdefault(rec.dedupe, rec.id)
        at = datetime.fromisoformat(rec.reported_at) if rec.reported_at else None
        if since is not None and at is not None and at < since:
            continue
        if first != rec.id:
            out.append(
                _left_out(
                    rec,
                    "duplicate_row",
                    f"a copy of report {first} (the same report stored twice): counted "
                    f"once, as report {first}",
                )
            )
            continue
        try:
            blob = decrypt_blob(ws, rec.blob, rec.key_version)
            stages = list(json.loads(rec.stages))
        except (KeyFileError, ValueError):
            out.append(
                _left_out(
                    rec,
                    "unreadable",
                    "the row's encrypted part cannot be opened with this workspace's keys: "
                    "not counted",
                )
            )
            continue
        out.append(
            StoredReport(
                id=rec.id,
                source=rec.source,
                reported_at=at,
                channel=rec.channel,
                caller=rec.caller,
                phone=blob.get("phone"),
                quoted=dict(blob.get("quoted") or {}),
                loss=rec.loss,
                fraud_type=rec.fraud_type,
                stages=stages,
                **_status_as_received(rec, at),
            )
        )
    return out


def _status_as_received(rec: ReportRecord, at: datetime | None) -> dict[str, str]:
    """The stored status, except that a report dated later than it was received (by more
    than a clock's skew) is malformed, also when it was stored before intake checked
    that: it would make every release made until its date "before the call"."""
    if rec.status == "ok":
        try:
            received = datetime.fromisoformat(rec.received_at)
        except (TypeError, ValueError):
            received = None
        if received is not None and in_the_future(at, received):
            return {"status": "malformed", "reason": f"{_FUTURE} (of its receipt)"}
    return {"status": rec.status, "reason": rec.reason}
