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

Bad rows are never dropped and never stop the run: a row that cannot be parsed becomes a
report with ``status = "malformed"`` and a reason naming the problem (never the value).
Whether a report's victim is a known customer, or the call came before their order, is
decided at attribution time against the ledger as it is then (see ``attribute``).

Every stored row is sealed (``store.seal_report``); a row whose seal is missing or does
not match is loaded as ``status = "unsealed"`` and never counted (see
:func:`load_stored_reports`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from leaktrace.pii.text import canonical_str
from leaktrace.workspace import Workspace

__all__ = [
    "QUOTE_ROLES",
    "UNTRUSTED_STATUSES",
    "IntakeResult",
    "StoredReport",
    "VictimReport",
    "add_reports",
    "customer_digest",
    "load_stored_reports",
    "normalise_phone_str",
    "parse_datetime",
    "parse_report_file",
    "parse_report_obj",
    "shown",
]

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
    """The release pipeline's phone normal form for one value (11 digits), else None."""
    s = canonical_str(value).replace("-", "").replace("(", "").replace(")", "")
    for cc in ("+86", "0086", "+0086"):
        if s.startswith(cc):
            s = s[len(cc) :]
    if len(s) == 13 and s.startswith("861"):
        s = s[2:]
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
    elif phone is None:
        problems.append("victim_phone is not a mainland mobile number")
    at = parse_datetime(obj.get("reported_at"))
    if at is None:
        problems.append("reported_at missing or not ISO 8601")
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


def _json_document(text: str, name: str) -> list[Any] | None:
    """The reports of a ``.json`` file read whole; None when it is not one JSON document
    (JSON lines in a ``.json`` file), an error when an array does not parse."""
    try:
        doc = loads_json(text, name)
    except JsonTextError as exc:
        if not exc.malformed:
            raise
        if text.lstrip().startswith("["):
            raise InputError(f"{name} is not valid JSON") from None
        return None
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(doc) == 1 and len(lists) == 1:  # {"reports": [...]}
            return lists[0]
        return [doc]
    return [doc]  # a lone string or number: one malformed report, as a JSON line would be


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
            items = _json_document(text, name)
            if items is not None:
                return [parse_report_obj(o, f"{name}:{i + 1}") for i, o in enumerate(items)]
        for i, line in json_lines(text):
            try:
                obj = loads_json(line, f"{name}:{i}")
            except JsonTextError as exc:  # recorded like any bad row, never stops the run
                out.append(VictimReport(None, None, source=f"{name}:{i}", problems=[exc.reason]))
                continue
            out.append(parse_report_obj(obj, f"{name}:{i}"))
        return out
    if suffix in (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".xlsm"):
        from leaktrace.io.readers import reader_for

        reader = reader_for(path)(path, batch_rows=50_000)
        try:
            frames = list(reader.batches(has_header=True))
        finally:
            reader.close()
        df = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        for i, row in enumerate(df.iter_rows(named=True), start=2):
            out.append(parse_report_obj(_row_obj(row), f"{name}:{i}"))
        return out
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
            if r.problems:
                mal += 1
                problems.append((r.source, "; ".join(r.problems)))
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
                status="malformed" if r.problems else "ok",
                reason="; ".join(r.problems),
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


def _key_versions(ws: Workspace) -> list[int]:
    return list(range(1, ws.keys.current_version + 1))


UNTRUSTED_STATUSES = frozenset({"unsealed", "unreadable", "duplicate_row"})
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
    cannot be trusted to leave them out.
    """
    from leaktrace.attribution.store import load_reports

    out = []
    first_of: dict[str, int] = {}
    for rec in load_reports(ws):
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
                status=rec.status,
                reason=rec.reason,
            )
        )
    return out
