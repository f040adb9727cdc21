"""A leaked file read in the wrong encoding given with ``--encoding`` gets a one-line hint.

A wrong encoding that still decodes (any file as latin1, some UTF-8 files as GBK) turns
every name, address and product into mojibake: nothing matches and the answer is "no
recipient identified", which looked like unmarked data. The hint names the encoding
given and the one the file looks like; the figures and the verdict stay what they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.workspace import Workspace

COLS = ["name", "phone", "address", "product"]


@pytest.fixture
def zto_copy(workspace: Workspace, shop_parquet: Path, tmp_path: Path) -> pl.DataFrame:
    out = tmp_path / "zto.csv"
    release(shop_parquet, recipient="zto", workspace=workspace, out=out)
    return pl.read_csv(out, infer_schema=False)


def _hints(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("hint:")]


def _trace_json(path: Path, home: Path, *encoding: str) -> tuple[dict[str, object], str]:
    args = ("--encoding", *encoding) if encoding else ()
    r = run_cli("trace", str(path), "--json", *args, home=home)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout), r.stderr


def test_a_gbk_leak_read_as_latin1(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    leak = tmp_path / "leak-gbk.csv"
    leak.write_bytes(zto_copy.head(30).select(COLS).write_csv().encode("gbk"))
    d, err = _trace_json(leak, workspace.home, "latin1")
    # the hint changes nothing: what latin1 gives is what it gave before
    assert d["verdict"] == "no recipient identified"
    # no row matched a released order; a canary's pool number, ASCII digits whatever
    # the encoding, may still count as informative on its own (session 20)
    rows = d["rows"]
    assert isinstance(rows, dict) and (rows["read"], rows["identified"]) == (30, 0), rows
    (hint,) = _hints(err)
    assert "latin1" in hint and "gb18030" in hint and str(leak) in hint, hint
    assert d["warnings"] == [hint.removeprefix("hint: ")]
    # text output: the same line on stderr
    r = run_cli("trace", str(leak), "--encoding", "latin1", home=workspace.home)
    assert r.returncode == 0 and _hints(r.stderr) == [hint], r.stderr
    # and the hint was right: detected, the file names the courier, without a hint
    d, err = _trace_json(leak, workspace.home)
    assert [c["recipient"] for c in d["accused"]] == ["zto"]  # type: ignore[attr-defined]
    assert _hints(err) == [] and d["warnings"] == []


def test_a_utf8_leak_read_as_gbk_where_it_decodes(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    """Rows whose UTF-8 bytes happen to be valid GB18030 too: GBK reads them without an
    error, as CJK-looking mojibake."""
    lines = [
        line
        for line in zto_copy.select(["phone", "address"]).write_csv().splitlines()[1:]
        if _decodes_as_gbk(line + "\n")
    ]
    assert len(lines) >= 10, len(lines)
    leak = tmp_path / "leak-utf8.csv"
    leak.write_text("phone,address\n" + "\n".join(lines) + "\n", encoding="utf-8")
    d, err = _trace_json(leak, workspace.home, "gbk")
    assert d["rows"]["identified"] == 0  # type: ignore[index]
    (hint,) = _hints(err)
    assert "gbk" in hint and "utf-8" in hint, hint
    d, err = _trace_json(leak, workspace.home)
    assert d["rows"]["identified"] > 0 and _hints(err) == []  # type: ignore[index,operator]


def _decodes_as_gbk(text: str) -> bool:
    try:
        text.encode("utf-8").decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize(
    ("codec", "given"), [("gbk", "gbk"), ("gbk", "GB18030"), ("utf-8", "utf-8")]
)
def test_no_hint_when_the_encoding_given_is_right(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path, codec: str, given: str
) -> None:
    leak = tmp_path / "leak.csv"
    leak.write_bytes(zto_copy.head(30).select(COLS).write_csv().encode(codec))
    d, err = _trace_json(leak, workspace.home, given)
    assert [c["recipient"] for c in d["accused"]] == ["zto"]  # type: ignore[attr-defined]
    assert _hints(err) == [] and d["warnings"] == []


def _gb18030_valid_as_utf8() -> list[str]:
    """Hanzi whose GB18030 bytes are a two-byte UTF-8 character (泉 is C8 AA, Ȫ)."""
    out = []
    for cp in range(0x4E00, 0x9FA6):
        b = chr(cp).encode("gb18030")
        if len(b) == 2 and 0xC2 <= b[0] <= 0xDF and 0x80 <= b[1] <= 0xBF:
            out.append(chr(cp))
    return out


def test_no_hint_for_a_gb18030_file_that_is_valid_utf8(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    """The case ``--encoding`` is there for: detection reads such a file as UTF-8, the
    user names GB18030. Unmarked data gives no match, and that is no reason for a hint."""
    chars = _gb18030_valid_as_utf8()
    assert "泉" in chars
    rows = [
        f"{chars[i % len(chars)]}{chars[(7 * i) % len(chars)]},1380013{i:04d},"
        f"{''.join(chars[(i + k) % len(chars)] for k in range(8))}"
        for i in range(40)
    ]
    text = "name,phone,address\n" + "\n".join(rows) + "\n"
    leak = tmp_path / "short-gb.csv"
    leak.write_bytes(text.encode("gb18030"))
    leak.read_bytes().decode("utf-8")  # valid UTF-8 too: detection cannot tell
    res = trace(leak, workspace=workspace, encoding="gb18030")
    assert res.verdict == "no recipient identified" and res.rows_identified == 0
    assert res.warnings == []
    assert res.summary()["warnings"] == []


def test_the_python_api_carries_the_hint(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    leak = tmp_path / "leak-utf8.csv"
    leak.write_text(zto_copy.head(30).select(COLS).write_csv(), encoding="utf-8")
    res = trace(leak, workspace=workspace, encoding="latin-1")
    assert res.verdict == "no recipient identified"
    (hint,) = res.warnings
    assert "latin-1" in hint and "utf-8" in hint
    assert res.summary()["warnings"] == [hint]
    # a file detected, not named, gets none (there is no encoding given to blame)
    assert trace(leak, workspace=workspace).warnings == []


def test_an_error_of_a_garbled_reading_carries_the_hint(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    """Chinese headers read as latin1 name no role: the one error line says why."""
    leak = tmp_path / "cn-headers.csv"
    cn = (
        zto_copy.head(30)
        .select(["name", "address"])
        .rename({"name": "收货人", "address": "收货地址"})
    )
    leak.write_bytes(cn.write_csv().encode("gbk"))
    r = run_cli("trace", str(leak), "--encoding", "latin1", home=workspace.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and "no usable columns" in line, line
    assert "latin1" in line and "--encoding gb18030" in line, line
    # detected, the headers are read and the rows traced
    d, err = _trace_json(leak, workspace.home)
    assert d["rows"]["identified"] == 30 and _hints(err) == []  # type: ignore[index]


def test_the_report_shows_the_hint(
    workspace: Workspace, zto_copy: pl.DataFrame, tmp_path: Path
) -> None:
    from leaktrace.trace.report import render_report

    leak = tmp_path / "leak.csv"
    leak.write_bytes(zto_copy.head(30).select(COLS).write_csv().encode("gbk"))
    res = trace(leak, workspace=workspace, encoding="latin1")
    page = render_report(res)
    assert 'id="input-hint"' in page and "--encoding gb18030" in page
    assert 'id="input-hint"' not in render_report(trace(leak, workspace=workspace))
