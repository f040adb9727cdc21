"""Intake: JSON lines / CSV / XLSX; bad rows kept, flagged and explained; no plaintext PII."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.reports import add_reports, parse_report_file
from leaktrace.errors import InputError
from leaktrace.workspace import Workspace

from .conftest import soon


def _lines(path: Path, objs: list[object]) -> Path:
    path.write_text(
        "\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs)
        + "\n",
        encoding="utf-8",
    )
    return path


def test_jsonl_bad_rows_are_kept_and_flagged(
    ws: Workspace, attr_shop: pl.DataFrame, tmp_path: Path
) -> None:
    phone = attr_shop.item(0, "phone")
    late = attr_shop.filter(pl.col("order_time") > pl.datetime(2025, 5, 1)).item(0, "phone")
    f = _lines(
        tmp_path / "r.jsonl",
        [
            {
                "victim_phone": phone,
                "reported_at": soon(),
                "channel": "phone",
                "caller": "95013",
                "quoted": {"name": True, "product": "口罩"},
                "transcript": "我是淘宝客服，您的快递丢失了，我们给您三倍赔偿，请打开共享屏幕",
            },
            "{not json",
            {"victim_phone": "12345", "reported_at": soon()},
            {"victim_phone": phone, "reported_at": "yesterday"},
            {"victim_phone": "13900000000", "reported_at": soon()},
            {"victim_phone": late, "reported_at": "2024-07-01T10:00:00"},
        ],
    )
    reps = parse_report_file(f)
    assert len(reps) == 6
    res = add_reports(ws, reps)
    assert res.added == 6 and res.malformed == 3
    assert add_reports(ws, reps).duplicates == 6  # re-adding the same file adds nothing
    out = attribute(ws)
    st = {f["source"]: f["status"] for f in out.flagged}
    assert st == {
        "r.jsonl:2": "malformed",
        "r.jsonl:3": "malformed",
        "r.jsonl:4": "malformed",
        "r.jsonl:5": "unknown_customer",
        "r.jsonl:6": "before_order",
    }
    assert out.reports["ok"] == 1
    # the victim's phone is not stored in clear; stages of the transcript are
    db = sqlite3.connect(ws.home / "ledger.db")
    dump = "\n".join(db.iterdump())
    assert phone not in dump and "口罩" not in dump
    stages = db.execute("select stages from victim_reports order by id limit 1").fetchone()[0]
    assert "screen_share" in stages or "pretext" in stages or len(json.loads(stages)) > 0


def test_csv_and_xlsx(ws: Workspace, attr_shop: pl.DataFrame, tmp_path: Path) -> None:
    phones = attr_shop.get_column("phone").head(3).to_list()
    df = pl.DataFrame(
        {
            "victim_phone": [phones[0], phones[1], "bad"],
            "reported_at": ["2025-01-01T09:00:00", "2025-01-01 10:00:00", "2025-01-01"],
            "channel": ["phone", "sms", "qq"],
            "caller": ["a", "b", "c"],
            "quoted_name": ["是", "true", ""],
            "quoted_product": ["某某口罩", "", "✓"],
            "loss": ["5000", "", "x"],
        }
    )
    csv = tmp_path / "r.csv"
    df.write_csv(csv)
    xlsx = tmp_path / "r.xlsx"
    df.write_excel(xlsx)
    for f in (csv, xlsx):
        reps = parse_report_file(f)
        assert len(reps) == 3
        assert reps[0].quoted == {"name": True, "product": "某某口罩"}
        assert reps[0].loss == 5000
        assert reps[1].quoted == {"name": True}
        assert reps[2].problems  # bad phone and loss, kept
        assert reps[2].quoted == {"product": True}


def test_json_reports_in_gb18030_and_broken_bytes(tmp_path: Path) -> None:
    """A GB18030 JSON-lines file is read in its encoding (not with replacement characters,
    which would hide the product a scammer quoted); bytes that are not valid in the
    detected encoding (a UTF-8 BOM, then broken UTF-8) are an error naming the file."""
    line = {
        "victim_phone": "13912345678",
        "reported_at": soon(),
        "quoted": {"product": "农夫山泉 550ml×24瓶"},
        "transcript": "我是快递客服，您的包裹丢失了，给您理赔",
    }
    gb = tmp_path / "gb.jsonl"
    gb.write_bytes((json.dumps(line, ensure_ascii=False) + "\n").encode("gb18030"))
    (rep,) = parse_report_file(gb)
    assert rep.quoted == {"product": "农夫山泉 550ml×24瓶"}
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'\xef\xbb\xbf{"victim_phone": "139\xff\xfe\x81"}\n' * 3)
    with pytest.raises(InputError, match=r"bad\.jsonl"):
        parse_report_file(bad)


_HUGE = "1" + "0" * 5000  # valid JSON; more digits than Python's int() converts
_DEEP = "[" * 20_000 + "]" * 20_000  # valid JSON; deeper than the recursion limit


def test_hostile_json_lines_are_flagged_like_malformed_ones(tmp_path: Path) -> None:
    """A huge number or deep nesting on one line is a bad row (kept, flagged, the run goes
    on), exactly as a line that is not JSON at all — never a traceback."""
    good = {"victim_phone": "13912345678", "reported_at": soon()}
    f = _lines(
        tmp_path / "h.jsonl",
        [good, f'{{"victim_phone": {_HUGE}}}', _DEEP, '{"victim_phone": ', good],
    )
    reps = parse_report_file(f)
    assert [r.source for r in reps] == [f"h.jsonl:{i}" for i in range(1, 6)]
    assert reps[0].problems == [] and reps[4].problems == []
    assert reps[1].problems == ["a number has more than 4300 digits"]
    assert reps[2].problems == ["nested too deeply to read"]
    assert reps[3].problems == ["not valid JSON"]  # wording unchanged


@pytest.mark.parametrize(
    ("text", "fragment"),
    [(_DEEP, "nested too deeply"), (f"[{_HUGE}]", "4300 digits"), ("[{", "is not valid JSON")],
)
def test_hostile_json_array_file_is_an_input_error(
    tmp_path: Path, text: str, fragment: str
) -> None:
    f = tmp_path / "r.json"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=fragment) as ei:
        parse_report_file(f)
    assert str(ei.value).startswith("r.json") and "\n" not in str(ei.value)


def test_hostile_quoted_cell_in_csv_is_flagged(tmp_path: Path) -> None:
    """A CSV ``quoted`` cell holds JSON too: thousands of ``[`` flag that row's quoted
    column instead of crashing the intake."""
    df = pl.DataFrame(
        {
            "victim_phone": ["13912345678", "13912345679", "13912345670"],
            "reported_at": ["2025-01-01T09:00:00"] * 3,
            "quoted": [_DEEP, '{"name": true}', "{not json"],
        }
    )
    csv = tmp_path / "q.csv"
    df.write_csv(csv)
    reps = parse_report_file(csv)
    assert reps[0].problems == ["quoted: nested too deeply to read"]
    assert reps[0].victim_phone is not None and reps[0].quoted == {}
    assert reps[1].problems == [] and reps[1].quoted == {"name": True}
    assert reps[2].problems == ["quoted is not a JSON object"]  # wording unchanged


def test_unknown_quote_keys_are_listed_as_other(
    ws: Workspace, attr_shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A quote key is whatever the reporting tool wrote, once a phone number: the stored
    list keeps known keys and says ``other`` for the rest (secrets audit)."""
    f = _lines(
        tmp_path / "k.jsonl",
        [
            {
                "victim_phone": attr_shop.item(0, "phone"),
                "reported_at": soon(),
                "quoted": {"13800001111": True, "张建平": "x", "name": True},
            }
        ],
    )
    add_reports(ws, parse_report_file(f))
    db = sqlite3.connect(ws.home / "ledger.db")
    dump = "\n".join(db.iterdump())
    assert "13800001111" not in dump and "张建平" not in dump
    (listed,) = db.execute("select quoted_roles from victim_reports").fetchone()
    assert json.loads(listed) == ["name", "other"]


@pytest.mark.parametrize("loss", ["-1e308", "nan", "inf", "-5", "1e13"])
def test_a_loss_that_is_not_an_amount_is_flagged(tmp_path: Path, loss: str) -> None:
    f = _lines(tmp_path / "l.jsonl", [{"victim_phone": "13800000000", "loss": loss}])
    (rep,) = parse_report_file(f)
    assert rep.loss is None and "loss is not an amount (0 to 10^12 yuan)" in rep.problems


@pytest.mark.parametrize(
    "shape",
    ["object", "wrapped", "array", "lines"],
)
def test_a_json_file_is_read_as_one_document_when_it_is_one(tmp_path: Path, shape: str) -> None:
    """An editor's pretty-printed report is one report, not one malformed report per line;
    JSON lines in a ``.json`` file still read line by line."""
    reports = [
        {"victim_phone": "13800138000", "reported_at": "2026-11-20T10:00:00+08:00"},
        {"victim_phone": "13900139000", "reported_at": "2026-11-21T10:00:00+08:00"},
    ]
    doc: object = {
        "object": reports[0],
        "wrapped": {"reports": reports},
        "array": reports,
    }.get(shape)
    path = tmp_path / "reports.json"
    if shape == "lines":
        path.write_text("".join(json.dumps(r) + "\n" for r in reports), encoding="utf-8")
    else:
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    parsed = parse_report_file(path)
    assert len(parsed) == (1 if shape == "object" else 2)
    assert all(not r.problems for r in parsed)
    assert parsed[0].victim_phone == "13800138000"


def test_a_report_dated_in_the_future_is_flagged(ws: Workspace, tmp_path: Path) -> None:
    """A mistyped year (2035 for 2025) would make every release made since "before the
    call": flagged malformed, never counted. A clock a few minutes ahead is not."""
    f = _lines(
        tmp_path / "future.jsonl",
        [
            {"victim_phone": "13900000001", "reported_at": "2035-01-02T10:00:00+08:00"},
            {"victim_phone": "13900000002", "reported_at": soon(120)},
        ],
    )
    res = add_reports(ws, parse_report_file(f))
    assert res.malformed == 1
    assert res.problems == [("future.jsonl:1", "reported_at is in the future")]


def test_a_future_report_stored_before_the_check_is_not_counted(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports built in code go through the same check as parsed ones, and a report a
    ledger stored before intake checked dates (sealed as ok) is malformed when loaded."""
    from datetime import UTC, datetime, timedelta

    from leaktrace.attribution import VictimReport, reports
    from leaktrace.attribution.reports import load_stored_reports

    later = datetime.now(UTC) + timedelta(days=365)
    res = add_reports(ws, [VictimReport("13900000003", later, source="api:1")])
    assert res.malformed == 1 and res.problems == [("api:1", "reported_at is in the future")]
    monkeypatch.setattr(reports, "in_the_future", lambda at, now=None: False)
    add_reports(ws, [VictimReport("13900000004", later, source="api:2")])  # an older intake
    monkeypatch.undo()
    (old,) = [r for r in load_stored_reports(ws) if r.source == "api:2"]
    assert old.status == "malformed" and "in the future" in old.reason


def test_a_phone_written_as_a_float_is_the_phone(tmp_path: Path) -> None:
    """A report file a pandas script wrote (a phone column with a gap becomes float64,
    18308433657.0) had those reports stored as malformed: their victims were lost."""
    f = tmp_path / "r.csv"
    f.write_text(
        "victim_phone,reported_at,channel\n18308433657.0,2024-06-02T10:00:00+08:00,phone\n"
        "1830843365.7,2024-06-02T10:00:00+08:00,phone\n",
        encoding="utf-8",
    )
    good, bad = parse_report_file(f)
    assert (good.victim_phone, good.problems) == ("18308433657", [])
    assert bad.victim_phone is None and bad.problems
