"""Leaked files too large to trace whole: ``max_rows`` and the memory guard."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaktrace.errors import EvidenceError, InputError
from leaktrace.io import open_table, read_table
from leaktrace.ledger import Ledger
from leaktrace.ledger.chain import sign
from leaktrace.release import release
from leaktrace.trace import estimated_rows, memory_needed, trace
from leaktrace.trace.bundle import _digest, build_bundle, verify_bundle
from leaktrace.workspace import Workspace

COLS = ["name", "phone", "address", "order_time", "product"]


@pytest.fixture
def zto_copy(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> Path:
    """One recipient's released copy, as delivered (CSV); another recipient's copy is in
    the ledger too, so naming the right one means something."""
    release(shop, recipient="cs-firm", workspace=workspace, out=tmp_path / "cs.parquet")
    out = tmp_path / "zto.csv"
    release(shop, recipient="zto", workspace=workspace, out=out)
    return out


def _cli(
    *args: str, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leaktrace", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_max_rows_traces_the_first_rows_and_digests_the_whole_file(
    workspace: Workspace, zto_copy: Path, fmt: str
) -> None:
    leak = zto_copy
    if fmt == "parquet":
        leak = zto_copy.with_suffix(".parquet")
        pl.read_csv(zto_copy, infer_schema=False).write_parquet(leak)
    whole = read_table(leak)
    assert whole.height > 60
    res = trace(leak, workspace=workspace, max_rows=60)
    assert [c.recipient for c in res.accused] == ["zto"]
    assert res.rows_read == 60 and res.truncated
    assert res.as_dict()["truncated"] is True
    assert res.evidence_sha256 == hashlib.sha256(leak.read_bytes()).hexdigest()
    # exactly the first 60 rows were traced: the same figures as a trace of those rows alone
    first = trace(whole.head(60), workspace=workspace)
    assert [(c.recipient, c.rows, c.log10_p_corrected) for c in res.candidates] == [
        (c.recipient, c.rows, c.log10_p_corrected) for c in first.candidates
    ]
    # a max_rows that covers the whole file is no truncation
    all_rows = trace(leak, workspace=workspace, max_rows=whole.height)
    assert all_rows.rows_read == whole.height and not all_rows.truncated


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(1, 40), batch_rows=st.integers(1, 12))
def test_read_head_is_the_start_of_read(tmp_path: Path, n: int, batch_rows: int) -> None:
    """Whatever the batch size, including ``n`` at a batch boundary (where one more batch
    must be looked at) and ``n`` past the end."""
    f = tmp_path / "rows.csv"
    if not f.exists():
        pl.DataFrame(
            {"phone": [f"1380000{i:04d}" for i in range(25)], "name": ["张*"] * 25}
        ).write_csv(f)
    with open_table(f, batch_rows=batch_rows) as src:
        whole = src.read()
    with open_table(f, batch_rows=batch_rows) as src:
        head, more = src.read_head(n)
    assert head.equals(whole.head(n))
    assert more == (whole.height > n)


def test_cli_refuses_a_file_too_large_for_the_memory(
    workspace: Workspace, zto_copy: Path, tmp_path: Path
) -> None:
    ledger_rows = sum(e.rows for e in Ledger(workspace).entries())
    rows = estimated_rows(zto_copy, "csv")
    assert rows is not None and rows > 100
    limit = memory_needed(rows // 2, ledger_rows)  # room for about half the file
    report, bundle = tmp_path / "r.html", tmp_path / "b.json"
    r = _cli(
        "trace",
        str(zto_copy),
        "--report",
        str(report),
        "--bundle",
        str(bundle),
        home=workspace.home,
        env={"LEAKTRACE_MEMORY_LIMIT": str(limit)},
    )
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert str(zto_copy) in lines[0] and "of CSV" in lines[0]
    m = re.search(r"--max-rows (\d+)$", lines[0])
    assert m, lines[0]
    suggested = int(m.group(1))
    assert 0 < suggested < rows and memory_needed(suggested, ledger_rows) <= limit
    assert r.stdout == "" and not report.exists() and not bundle.exists()


def test_cli_a_limit_below_any_trace_is_one_line(workspace: Workspace, zto_copy: Path) -> None:
    r = _cli("trace", str(zto_copy), home=workspace.home, env={"LEAKTRACE_MEMORY_LIMIT": "1000"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and str(zto_copy) in lines[0] and "1.0 KB are available" in lines[0]


def test_cli_max_rows_runs_under_a_tiny_memory_limit(
    workspace: Workspace, zto_copy: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    r = _cli(
        "trace",
        str(zto_copy),
        "--max-rows",
        "40",
        "--json",
        "--report",
        str(report),
        home=workspace.home,
        env={"LEAKTRACE_MEMORY_LIMIT": "1000"},
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["rows"]["read"] == 40 and d["truncated"] is True
    assert [a["recipient"] for a in d["accused"]] == ["zto"]
    assert "Rows read 40 (the first 40 of a larger file" in report.read_text(encoding="utf-8")
    text = _cli("trace", str(zto_copy), "--max-rows", "40", home=workspace.home)
    assert text.returncode == 0, text.stderr
    assert "rows read 40 (the first 40 of a larger file)" in text.stdout


@pytest.mark.parametrize("value", ["0", "-3"])
def test_cli_max_rows_must_be_positive(workspace: Workspace, zto_copy: Path, value: str) -> None:
    r = _cli("trace", str(zto_copy), "--max-rows", value, home=workspace.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "--max-rows must be a positive number" in lines[0]


@pytest.mark.parametrize("value", [0, -1, True, 2.5])
def test_api_max_rows_must_be_positive(workspace: Workspace, zto_copy: Path, value: object) -> None:
    with pytest.raises(InputError, match="max_rows must be a positive number"):
        trace(zto_copy, workspace=workspace, max_rows=value)  # type: ignore[arg-type]


def test_bundle_of_a_truncated_trace_verifies(workspace: Workspace, zto_copy: Path) -> None:
    res = trace(zto_copy, workspace=workspace, max_rows=60)
    bundle = build_bundle(workspace, res)
    assert bundle["body"]["truncated"] is True and bundle["body"]["rows"]["read"] == 60
    pk = workspace.keys.public_key()
    checked = verify_bundle(json.loads(json.dumps(bundle)), pk)
    assert checked["accused"] == ["zto"]
    assert checked["truncated"] is True and checked["rows_read"] == 60
    assert checked["evidence_sha256"] == hashlib.sha256(zto_copy.read_bytes()).hexdigest()
    # a bundle made before the flag existed traced every row: it verifies, untruncated
    old = json.loads(json.dumps(bundle["body"]))
    del old["truncated"]
    resigned = {"body": old, "signature": sign(workspace.keys.signing_key(), _digest(old))}
    assert verify_bundle(resigned, pk)["truncated"] is False
    odd = json.loads(json.dumps(bundle["body"]))
    odd["truncated"] = "yes"
    resigned = {"body": odd, "signature": sign(workspace.keys.signing_key(), _digest(odd))}
    with pytest.raises(EvidenceError, match="truncated flag"):
        verify_bundle(resigned, pk)


def test_the_join_is_counted_before_a_file_is_refused(
    workspace: Workspace, zto_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quick bound assumes the most keys shared per row; a ledger whose copies share
    few must not be refused on it. With the bound made huge, a limit between what the
    sampled join needs and the bound lets the trace run; below the sampled need, it is
    refused."""
    import leaktrace.trace as trace_module
    from leaktrace.trace import join_matches_per_row

    ledger_rows = sum(e.rows for e in Ledger(workspace).entries())
    rows = estimated_rows(zto_copy, "csv")
    assert rows is not None
    with open_table(zto_copy) as src:
        sample, _ = src.read_head(2000)
    matches = join_matches_per_row(workspace, sample)
    assert matches >= 1  # every row meets at least its own order
    monkeypatch.setattr(trace_module, "_ROW_BYTES_PER_LEDGER_ROW", 1e6)
    sampled = memory_needed(rows, ledger_rows, matches)
    assert memory_needed(rows, ledger_rows) > 100 * sampled
    monkeypatch.setenv("LEAKTRACE_MEMORY_LIMIT", str(int(sampled * 1.05)))
    res = trace(zto_copy, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["zto"]
    between = (memory_needed(0, ledger_rows) + sampled) // 2  # room for about half the rows
    monkeypatch.setenv("LEAKTRACE_MEMORY_LIMIT", str(between))
    with pytest.raises(InputError, match="--max-rows"):
        trace(zto_copy, workspace=workspace)


def test_the_guard_reads_no_index_of_a_ledger_that_does_not_verify(
    workspace: Workspace, zto_copy: Path
) -> None:
    """The guard samples the exposure index; a broken one must be named by verify (one
    line), not crash a DuckDB read."""
    index = next((workspace.home / "index").iterdir())
    index.write_bytes(b"not parquet")
    limit = {"LEAKTRACE_MEMORY_LIMIT": str(memory_needed(10, 10**6))}
    r = _cli("trace", str(zto_copy), home=workspace.home, env=limit)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "does not verify" in r.stderr


def test_a_broken_xlsx_is_one_line(workspace: Workspace, zto_copy: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    pl.read_csv(zto_copy, infer_schema=False).write_excel(good)
    bad = tmp_path / "bad.xlsx"
    raw = bytearray(good.read_bytes())
    at = raw.find(b"xl/worksheets/sheet1.xml")
    for i in range(at + 200, at + 260):  # inside the sheet's deflate stream
        raw[i] ^= 0x5A
    bad.write_bytes(bytes(raw))
    r = _cli("trace", str(bad), home=workspace.home)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_one_long_first_row_does_not_hide_the_file_size(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    with f.open("w") as fh:
        fh.write("name,phone\n" + "x" * 2_000_000 + ",1\n")
        fh.writelines(f"n{i},{i}\n" for i in range(300_000))
    rows = estimated_rows(f, "csv")
    assert rows is not None and rows >= 300_000


def test_a_sampled_gbk_leak_is_transcoded_once_and_read_whole(
    workspace: Workspace, zto_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard samples the same opened file the trace then reads: a GBK leak used to be
    transcoded to a temporary UTF-8 copy twice, and the sample must not eat its rows."""
    import leaktrace.io.readers as readers

    calls: list[Path] = []
    real = readers.transcode_to_utf8

    def counting(*args: object, **kwargs: object) -> Path:
        calls.append(Path(str(args[0])))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(readers, "transcode_to_utf8", counting)
    whole = pl.read_csv(zto_copy, infer_schema=False)
    leak = tmp_path / "leak-gbk.csv"
    leak.write_bytes(whole.write_csv().encode("gb18030"))
    ledger_rows = sum(e.rows for e in Ledger(workspace).entries())
    # the quick bound fits twice, not four times over: the join is sampled
    monkeypatch.setenv("LEAKTRACE_MEMORY_LIMIT", str(memory_needed(whole.height, ledger_rows) * 2))
    res = trace(leak, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["zto"] and res.rows_read == whole.height
    assert len(calls) == 1
