"""``leaktrace report add`` as a customer-service clerk uses it: every flagged report is
named by the physical line where it starts in the file (header = line 1; a workbook's
row), across quoted multi-line cells, blank lines, a BOM, CRLF and GBK; the one-line
error of a file that cannot be read names a line too, and stores nothing.

Why: a clerk opens the file in an editor or Excel and looks for the line the message
names. Counted by data rows (and a multi-line cell as one line), the message pointed
at the wrong report. Driven through ``python -m leaktrace`` as the clerk runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from sqlalchemy import text

from leaktrace.attribution.store import engine_for
from leaktrace.workspace import Workspace

HEADER = "victim_phone,reported_at,channel,caller,transcript\n"
TIME = "2025-01-01T09:00:00"


def _row(n: int, at: str = TIME, transcript: str = "我是淘宝客服") -> str:
    return f"1381234{n:04d},{at},phone,95013,{transcript}\n"


def _add(ws: Workspace, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "leaktrace",
            "report",
            "add",
            str(path),
            "--home",
            str(ws.home),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _added(ws: Workspace, path: Path) -> dict[str, object]:
    r = _add(ws, path, "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out: dict[str, object] = json.loads(r.stdout)
    return out


def _listed(ws: Workspace) -> list[dict[str, Any]]:
    """``leaktrace report list --json``: the stored reports as a user lists them."""
    listed = subprocess.run(
        [sys.executable, "-m", "leaktrace", "report", "list", "--json", "--home", str(ws.home)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out: list[dict[str, Any]] = json.loads(listed.stdout)
    return out


def _sources(res: dict[str, object]) -> list[str]:
    problems = res["problems"]
    assert isinstance(problems, list)
    return [str(p["source"]) for p in problems]


def _stored(ws: Workspace) -> int:
    with engine_for(ws).connect() as c:
        return int(c.execute(text("select count(*) from victim_reports")).scalar_one())


def _user_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("error:"), r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


# --- the line a flagged report is named by ----------------------------------------------


def test_bad_time_on_the_third_data_row_is_line_4(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text(HEADER + _row(1) + _row(2) + _row(3, at="yesterday"), encoding="utf-8")
    r = _add(ws, f)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "a.csv:4: reported_at missing or not ISO 8601"


def test_a_quoted_cell_over_three_lines_is_counted_as_three(ws: Workspace, tmp_path: Path) -> None:
    """The transcript of line 2 runs to line 4, so the bad report starts on line 6."""
    f = tmp_path / "b.csv"
    f.write_text(
        HEADER + _row(1, transcript='"您好\n我是快递客服\n给您理赔"') + _row(2) + _row(3, at="x"),
        encoding="utf-8",
    )
    assert _sources(_added(ws, f)) == ["b.csv:6"]


def test_blank_lines_are_skipped_and_still_counted(ws: Workspace, tmp_path: Path) -> None:
    """An empty line, one of spaces, and one of bare delimiters (Excel writes ``,,,,`` for a
    row whose cells were cleared) are not reports; the lines after them keep their numbers."""
    f = tmp_path / "d.csv"
    f.write_text(
        "\n" + HEADER + _row(1) + "\n" + "   \n" + ",,,,\n" + _row(2) + _row(3, at="x") + "\n",
        encoding="utf-8",
    )
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (3, 1), res
    assert _sources(res) == ["d.csv:8"]


@pytest.mark.parametrize(
    ("name", "encoding", "newline", "bom"),
    [
        ("gbk.csv", "gbk", "\n", ""),
        ("excel-gbk.csv", "gbk", "\r\n", ""),
        ("bom.csv", "utf-8", "\n", "\ufeff"),
        ("excel-utf8.csv", "utf-8", "\r\n", "\ufeff"),
        ("tabs.tsv", "utf-8", "\n", ""),
    ],
)
def test_encodings_boms_and_crlf_keep_the_line(
    ws: Workspace, tmp_path: Path, name: str, encoding: str, newline: str, bom: str
) -> None:
    body = HEADER + _row(1, transcript='"您好\n理赔"') + _row(2) + _row(3, at="昨天")
    if name.endswith(".tsv"):
        body = body.replace(",", "\t")
    f = tmp_path / name
    f.write_bytes((bom + body.replace("\n", newline)).encode(encoding))
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (3, 1), res
    assert _sources(res) == [f"{name}:5"]


def test_json_lines_name_physical_lines_blank_ones_counted(ws: Workspace, tmp_path: Path) -> None:
    good = {"victim_phone": "13812340001", "reported_at": TIME}
    f = tmp_path / "g.jsonl"
    f.write_text(
        "\n"
        + json.dumps(good)
        + "\r\n\r\n"
        + json.dumps({**good, "victim_phone": "13812340002"})
        + "\n"
        + json.dumps({**good, "reported_at": "yesterday"})
        + "\n",
        encoding="utf-8",
    )
    assert _sources(_added(ws, f)) == ["g.jsonl:5"]


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_json_array_names_the_line_where_each_report_starts(
    ws: Workspace, tmp_path: Path, wrapped: bool
) -> None:
    """A pretty-printed array: not the report's index in the array (3) but its line."""
    good = {"victim_phone": "13812340001", "reported_at": TIME}
    reports = [good, {**good, "victim_phone": "13812340002"}, {**good, "reported_at": "x"}]
    doc: object = {"reports": reports} if wrapped else reports
    f = tmp_path / "h.json"
    f.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    lines = f.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines, 1) if '"x"' in line) - 2  # its "{"
    assert lines[start - 1].strip() == "{"
    assert _sources(_added(ws, f)) == [f"h.json:{start}"]


def test_a_workbook_names_the_row_across_an_empty_row(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "s.xlsx"
    with xlsxwriter.Workbook(str(f)) as book:
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, ["victim_phone", "reported_at"])
        sheet.write_row(1, 0, ["13812340001", TIME])
        sheet.write_row(3, 0, ["13812340002", "x"])  # row 3 left empty
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (2, 1), res
    assert _sources(res) == ["s.xlsx:4"]


def test_a_long_message_stays_one_line_and_echoes_no_phone(ws: Workspace, tmp_path: Path) -> None:
    """Rich wrapped a problem line at 80 columns (the width of a pipe or a log)."""
    f = tmp_path / "a-rather-long-name-for-a-victim-report-file.csv"
    f.write_text(
        HEADER + "13812345678x,yesterday,phone,95013,您好\n" + _row(2, transcript="x" * 100),
        encoding="utf-8",
    )
    r = _add(ws, f)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"  {f.name}:2: victim_phone is not a mainland mobile number; "
        "reported_at missing or not ISO 8601"
    ]
    assert "13812345678" not in r.stdout + r.stderr


# --- a file that cannot be read: one line with the place, exit 2, nothing stored ---------


def test_an_unclosed_quote_names_its_line_and_stores_nothing(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_text(HEADER + _row(1) + _row(2, transcript='"您好') + _row(3), encoding="utf-8")
    _user_error(_add(ws, f), "q.csv", "line 3", "never closed")
    assert _stored(ws) == 0


def test_text_after_a_closing_quote_names_its_line_and_stores_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    f = tmp_path / "q.csv"
    f.write_text(HEADER + _row(1) + _row(2, transcript='"您好"理赔'), encoding="utf-8")
    _user_error(_add(ws, f), "q.csv", "line 3")
    assert "您好" not in _add(ws, f).stderr
    assert _stored(ws) == 0


def test_bytes_that_are_not_the_files_encoding_name_the_line(ws: Workspace, tmp_path: Path) -> None:
    """The encoding is detected from the first 256 KiB; a bad byte after them is named by
    its line (it was "bytes that are not valid UTF-8 after the first 256 KB")."""
    f = tmp_path / "broken.csv"
    rows = "".join(_row(n % 10_000, transcript="您好" * 20) for n in range(3000))
    f.write_bytes((HEADER + rows).encode() + b"\xff\xfe\n" + _row(1).encode())
    assert f.stat().st_size > 256 * 1024
    _user_error(_add(ws, f), "broken.csv", "line 3002")
    assert _stored(ws) == 0


# --- the audit: what a clerk hands in ---------------------------------------------------


def test_chinese_headers_are_read(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "登记表.csv"
    f.write_bytes(
        (
            "手机号,来电时间,渠道,来电号码,通话内容,损失金额,报警回执\r\n"
            "13812340001,2025-01-01 09:00:00,电话,95013,我是淘宝客服,5000,京公网安123\r\n"
        ).encode("gbk")
    )
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (1, 0), res
    (row,) = _listed(ws)
    assert (row["channel"], row["caller"], row["loss"]) == ("电话", "95013", 5000)


def test_the_time_a_report_was_filed_is_not_the_calls_time(ws: Workspace, tmp_path: Path) -> None:
    """报案时间 (when the victim reported, days after the call) was read as the call's time:
    a release made in between counted as held before the call, and the platform's own
    warning SMS to exactly the victims was accused (session 24's review). Alone it is
    refused, saying what to add; beside the call's time it is left unread."""
    alone = tmp_path / "filed.csv"
    alone.write_text("手机号,报案时间\n13812340001,2025-01-03 09:00:00\n", encoding="utf-8")
    r = _add(ws, alone)
    _user_error(r, "filed.csv", "报案时间", "来电时间")
    assert _stored(ws) == 0
    both = tmp_path / "both.csv"
    both.write_text(
        "手机号,报案时间,来电时间\n13812340001,2025-01-03 09:00:00,2025-01-01 20:15:00\n",
        encoding="utf-8",
    )
    res = _added(ws, both)
    assert (res["added"], res["malformed"]) == (1, 0), res
    (row,) = _listed(ws)
    assert row["reported_at"].startswith("2025-01-01T12:15:00")  # 20:15 UTC+8, the call


def test_a_file_without_the_phone_or_time_column_is_refused(ws: Workspace, tmp_path: Path) -> None:
    """Every row would be stored as a malformed report; the clerk is told which column is
    missing instead, and nothing is stored."""
    f = tmp_path / "cols.csv"
    f.write_text("phone_number,time\n13812340001,2025-01-01 09:00:00\n", encoding="utf-8")
    _user_error(_add(ws, f), "cols.csv", "victim_phone", "reported_at")
    assert _stored(ws) == 0


def test_a_file_without_a_header_is_refused_without_echoing_its_first_row(
    ws: Workspace, tmp_path: Path
) -> None:
    f = tmp_path / "noheader.csv"
    f.write_text(_row(1) + _row(2), encoding="utf-8")
    r = _add(ws, f)
    _user_error(r, "noheader.csv", "line 1")
    assert "13812340001" not in r.stderr and "95013" not in r.stderr
    assert _stored(ws) == 0


@pytest.mark.parametrize(
    ("first", "second"), [("victim_phone", "手机号"), ("phone", "victim_phone")]
)
def test_two_columns_for_the_phone_are_refused(
    ws: Workspace, tmp_path: Path, first: str, second: str
) -> None:
    f = tmp_path / "two.csv"
    f.write_text(
        f"{first},{second},reported_at\n13812340001,13812340002,{TIME}\n", encoding="utf-8"
    )
    _user_error(_add(ws, f), "two.csv", "line 1", first, second)
    assert _stored(ws) == 0


def test_an_excel_saved_csv(ws: Workspace, tmp_path: Path) -> None:
    """Excel on a Chinese Windows: GBK, CRLF, times re-written as ``2025/1/1 9:00``, a long
    number as ``1.38123E+10`` (lost: flagged, with what to do), cleared rows as ``,,,``."""
    f = tmp_path / "excel.csv"
    f.write_bytes(
        (
            "victim_phone,reported_at,channel,transcript\r\n"
            "13812340001,2025/1/1 9:00,电话,我是淘宝客服\r\n"
            "13812340002,2025/12/31 23:05:09,电话,快递丢失理赔\r\n"
            "1.38123E+10,2025/1/2 10:05,电话,快递丢失理赔\r\n"
            ",,,\r\n,,,\r\n"
        ).encode("gbk")
    )
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (3, 1), res
    problems = res["problems"]
    assert isinstance(problems, list)
    (p,) = problems
    assert p["source"] == "excel.csv:4"
    assert "scientific notation" in p["reason"] and "reported_at" not in p["reason"]


def test_full_width_digits_in_a_phone(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "wide.csv"
    f.write_text(
        f"victim_phone,reported_at\n１３８１２３４０００１,{TIME}\n138 1234 0002,{TIME}\n",
        encoding="utf-8",
    )
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (2, 0), res


def test_a_header_only_file_adds_nothing(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "header.csv"
    f.write_text(HEADER, encoding="utf-8")
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (0, 0), res


@pytest.mark.parametrize("kind", ["empty", "blank", "folder"])
def test_empty_file_or_folder_is_a_user_error(ws: Workspace, tmp_path: Path, kind: str) -> None:
    f = tmp_path / "r.csv"
    if kind == "folder":
        f.mkdir()
    else:
        f.write_text("" if kind == "empty" else "\n\n", encoding="utf-8")
    _user_error(_add(ws, f), "r.csv")
    assert _stored(ws) == 0


def test_a_huge_cell_is_read(ws: Workspace, tmp_path: Path) -> None:
    """A transcript longer than Python's csv field limit (128 KiB) is a report."""
    f = tmp_path / "huge.csv"
    f.write_text(HEADER + _row(1, transcript="客服" * 200_000) + _row(2, at="x"), encoding="utf-8")
    res = _added(ws, f)
    assert (res["added"], res["malformed"]) == (2, 1), res
    assert _sources(res) == ["huge.csv:3"]


def test_quoted_columns_still_read(tmp_path: Path) -> None:
    """The CSV columns of issue 5 read as before (``quoted_<role>`` and a ``quoted`` cell)."""
    from leaktrace.attribution.reports import parse_report_file

    df = pl.DataFrame(
        {
            "victim_phone": ["13812340001", "13812340002"],
            "reported_at": [TIME, TIME],
            "quoted": ['{"order_id": "7341"}', ""],
            "quoted_name": ["是", "true"],
            "loss": ["5,000", ""],
        }
    )
    f = tmp_path / "q.csv"
    df.write_csv(f)
    a, b = parse_report_file(f)
    assert a.quoted == {"order_id": "7341", "name": True} and a.loss == 5000
    assert b.quoted == {"name": True} and b.loss is None and not (a.problems or b.problems)
