"""Tracing leaked files end to end: the right recipient, nobody innocent, never a guess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from leaktrace.errors import EvidenceError, InputError, LedgerIntegrityError
from leaktrace.io import read_table
from leaktrace.ledger.ledger import Ledger
from leaktrace.release import release
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, recompute_log10_p, verify_bundle
from leaktrace.trace.report import render_report
from leaktrace.workspace import Workspace

COLS = ["name", "phone", "address", "order_time", "product"]


@pytest.fixture
def released(workspace: Workspace, shop: pl.DataFrame, tmp_path: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for r in ("zto", "yto", "cs-firm", "sms"):
        p = tmp_path / f"{r}.parquet"
        release(shop, recipient=r, workspace=workspace, out=p)
        out[r] = pl.read_parquet(p)
    return out


def _fold(df: pl.DataFrame) -> pl.DataFrame:
    def f(s: str | None) -> str | None:
        return None if s is None else "".join(unicodedata.normalize("NFKC", s).split())

    out = df.with_columns(
        [
            pl.col(c).map_elements(f, return_dtype=pl.Utf8)
            for c in df.columns
            if df.schema[c] == pl.Utf8
        ]
    )
    return (
        out.with_columns(pl.col("order_time").dt.truncate("1m"))
        if "order_time" in out.columns
        else out
    )


def test_five_intact_rows_name_the_courier(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    leak = released["zto"].filter(~pl.col("order_id").is_null()).sample(5, seed=1).select(COLS)
    res = trace(leak, workspace=workspace)
    assert res.verdict == "source identified"
    assert [c.recipient for c in res.accused] == ["zto"]
    assert res.accused[0].log10_p_corrected < -9


def test_normalised_and_truncated_rows_still_name_the_courier(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    leak = _fold(released["yto"].sample(20, seed=2).select(COLS))
    res = trace(leak, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["yto"]
    assert res.accused[0].evidence["timestamp"]["observed"] == 0  # truncated → erased


def test_unmarked_data_accuses_nobody(
    workspace: Workspace, released: dict[str, pl.DataFrame], shop: pl.DataFrame
) -> None:
    res = trace(shop.sample(400, seed=3).select(COLS), workspace=workspace)
    assert res.verdict == "no recipient identified"
    assert res.accused == []
    assert res.rows_identified > 0  # the rows were found; they just carry nobody's marks


def test_one_row_with_an_alias_is_decisive(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    row = released["sms"].sample(1, seed=4).select(["order_id", "name", "phone"])
    res = trace(row, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["sms"]
    assert res.accused[0].aliases == 1


def test_mixed_copies_name_both(
    workspace: Workspace, released: dict[str, pl.DataFrame], shop: pl.DataFrame
) -> None:
    leak = pl.concat(
        [
            released["zto"].sample(30, seed=5).select(COLS),
            released["cs-firm"].sample(30, seed=6).select(COLS),
            shop.sample(30, seed=7).select(COLS),
        ]
    ).sample(fraction=1.0, shuffle=True, seed=8)
    res = trace(leak, workspace=workspace)
    assert sorted(c.recipient for c in res.accused) == ["cs-firm", "zto"]


def test_never_accuses_on_a_broken_ledger(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    with sqlite3.connect(workspace.home / "ledger.db") as con:
        con.execute("update releases set rows = 7 where seq = 2")
    with pytest.raises(LedgerIntegrityError):
        trace(released["zto"].head(10).select(COLS), workspace=workspace)


def test_no_usable_columns(workspace: Workspace, released: dict[str, pl.DataFrame]) -> None:
    with pytest.raises(InputError):
        trace(pl.DataFrame({"foo": ["x", "y"]}), workspace=workspace)


def test_bundle_reverifies_and_detects_tampering(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    res = trace(released["zto"].sample(10, seed=9).select(COLS), workspace=workspace)
    bundle = build_bundle(workspace, res)
    pk = workspace.keys.public_key()
    assert verify_bundle(bundle, pk)["accused"] == ["zto"]
    forged = json.loads(json.dumps(bundle))
    forged["body"]["candidates"][1]["log10_p_value"] = -30.0
    with pytest.raises(EvidenceError):
        verify_bundle(forged, pk)
    other = json.loads(json.dumps(bundle))
    other["body"]["ledger_entries"][0]["rows"] += 1
    with pytest.raises(EvidenceError):
        verify_bundle(other, pk)


def test_bundle_that_corrects_for_too_few_tests_is_refused(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    """Even correctly signed (a bundle made by a faulty version), a Bonferroni factor
    smaller than the number of candidates listed is refused."""
    from leaktrace.ledger.chain import sign
    from leaktrace.trace.bundle import _digest

    res = trace(released["zto"].sample(10, seed=9).select(COLS), workspace=workspace)
    bundle = build_bundle(workspace, res)
    body = bundle["body"]
    body["tests"] = 1
    for c in body["candidates"]:
        c["log10_p_value"] = recompute_log10_p(c, body["rows"]["read"], 1)
    resigned = {"body": body, "signature": sign(workspace.keys.signing_key(), _digest(body))}
    with pytest.raises(EvidenceError, match="corrects for 1 tests but lists"):
        verify_bundle(resigned, workspace.keys.public_key())


def test_cli_trace_gbk_excel_like_file_with_report_and_bundle(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    leak = (
        released["zto"]
        .sample(15, seed=10)
        .select(["product", "address", "phone", "name", "order_time"])
    )
    leak = leak.rename(
        {
            "product": "商品名称",
            "address": "收货地址",
            "phone": "联系电话",
            "name": "收货人",
            "order_time": "下单时间",
        }
    )
    f = tmp_path / "黑产样本.csv"
    f.write_bytes(leak.write_csv().encode("gb18030"))
    report, bundle = tmp_path / "r.html", tmp_path / "b.json"
    cmd = [
        sys.executable,
        "-m",
        "leaktrace",
        "trace",
        str(f),
        "--json",
        "--report",
        str(report),
        "--bundle",
        str(bundle),
        "--home",
        str(workspace.home),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["verdict"] == "source identified"
    assert [a["recipient"] for a in d["accused"]] == ["zto"]
    assert set(d["rows"]) == {"read", "identified", "informative"}
    assert {
        "recipient",
        "releases",
        "p_value",
        "log10_p_value",
        "evidence",
        "aliases",
        "canaries",
    } <= set(d["accused"][0])
    html = report.read_text(encoding="utf-8")
    assert (
        "zto" in html
        and "<svg" in html
        and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    # the releases' times in platform time, as the command line shows them (it was UTC)
    assert "+08:00</td>" in html and "+00:00</td>" not in html
    v = subprocess.run(
        [
            sys.executable,
            "-m",
            "leaktrace",
            "verify-evidence",
            str(bundle),
            "--public-key",
            str(workspace.home / "keys" / "signing.pub"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert v.returncode == 0, v.stderr
    assert json.loads(v.stdout)["accused"] == ["zto"]


def test_read_back_of_released_csv_keeps_marks(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    p = tmp_path / "zto.csv"
    release(shop, recipient="zto", workspace=workspace, out=p)
    leak = read_table(p).sample(8, seed=11)
    res = trace(leak, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["zto"]


def test_legacy_xls_with_chinese_headers(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    """A leak saved by an old Excel (.xls, BIFF8 written with a GBK workbook encoding)."""
    import xlwt  # type: ignore[import-untyped]

    leak = (
        released["cs-firm"]
        .sample(12, seed=12)
        .select(["name", "phone", "address", "order_time", "product"])
    )
    wb = xlwt.Workbook(encoding="gbk")
    sheet = wb.add_sheet("客户资料")
    for j, h in enumerate(["客户姓名", "联系电话", "地址", "下单时间", "宝贝标题"]):
        sheet.write(0, j, h)
    for i, row in enumerate(leak.iter_rows(), start=1):
        for j, v in enumerate(row):
            sheet.write(i, j, str(v))
    f = tmp_path / "leak.xls"
    wb.save(str(f))
    res = trace(f, workspace=workspace)
    assert [c.recipient for c in res.accused] == ["cs-firm"]


def test_header_only_file_is_an_input_error(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    f = tmp_path / "empty.csv"
    f.write_text("收货人,手机,地址\n", encoding="utf-8")
    with pytest.raises(InputError):
        trace(f, workspace=workspace)


def test_alias_test_counts_each_leaked_number_once(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    """One order number on several rows (an order of several items, a repeated row, its
    full-width spelling) is one chance to equal an alias, not several: the leak below puts
    one of zto's aliases (a simulated chance coincidence) on four rows of another copy."""
    alias = released["zto"].get_column("order_id").drop_nulls()[0]
    row = released["cs-firm"].head(1).select(["name", "phone", "address"])
    full_width = alias.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    leak = pl.concat([row] * 4).with_columns(
        pl.Series("order_id", [alias, alias, alias, full_width])
    )
    res = trace(leak, workspace=workspace)
    zto = next(c for c in res.candidates if c.recipient == "zto")
    n, _q, k = zto.alias_counts["by_digits"][0]
    assert (n, k) == (1, 1), zto.alias_counts


def test_canary_id_that_is_also_a_real_order_is_no_canary_evidence(
    workspace: Workspace, shop: pl.DataFrame, tmp_path: Path
) -> None:
    """A canary's order id is random in its last 12 digits and checked against its own
    batch only, so it can equal a real order in another recipient's copy. A leak of that
    copy then matches the canary by order number; it must not count against the canary's
    recipient (here zto is innocent: every leaked row comes from cs-firm's copy)."""
    for pname in ("courier", "customer-service"):
        workspace.config.policies[pname].fields["order_id"] = "keep"
    workspace.save()
    zto_path = tmp_path / "zto.parquet"
    release(shop, recipient="zto", workspace=workspace, out=zto_path)
    zto = pl.read_parquet(zto_path)
    canary_id = zto.filter(~pl.col("order_id").is_in(shop["order_id"].implode()))["order_id"][0]
    others = shop.filter(pl.col("courier") != "中通快递")
    others = others.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(canary_id))
        .otherwise(pl.col("order_id"))
        .alias("order_id")
    )
    cs_path = tmp_path / "cs.parquet"
    release(others, recipient="cs-firm", workspace=workspace, out=cs_path)
    cs = pl.read_parquet(cs_path)
    leak = pl.concat(
        [
            cs.filter(pl.col("order_id") == canary_id),
            cs.filter(pl.col("order_id") != canary_id).head(30),
        ]
    )
    res = trace(leak, workspace=workspace)
    candidate = next(c for c in res.candidates if c.recipient == "zto")
    assert candidate.canaries == 0
    assert "zto" not in [c.recipient for c in res.accused]


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0, float("nan"), -1e-9])
def test_api_refuses_an_alpha_that_is_not_a_probability(
    workspace: Workspace, released: dict[str, pl.DataFrame], alpha: float
) -> None:
    """With alpha ≥ 1 every corrected p passes: the API would accuse everyone."""
    from leaktrace.attribution.attribute import attribute

    leak = released["zto"].head(3).select(["product"])
    with pytest.raises(InputError, match="alpha must be between 0 and 1"):
        trace(leak, workspace=workspace, alpha=alpha)
    with pytest.raises(InputError, match="alpha must be between 0 and 1"):
        attribute(workspace, alpha=alpha)


def _planted_leak(workspace: Workspace, released: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The SMS vendor's copy of 200 of zto's orders, with three of zto's canary rows added:
    zto's canaries accuse it while its marks on the same orders sit at chance."""
    from leaktrace.ledger import Ledger

    pool = [t["contact"] for t in Ledger(workspace).canary_tokens()]
    zto, sms = released["zto"], released["sms"]
    cols = ["name", "phone", "product"]
    rows = sms.join(zto.select("phone"), on="phone", how="semi")
    rows = rows.filter(~pl.col("phone").is_in(pool)).head(200)
    # three: name + phone canaries count on their pool numbers alone (two reach 10^-7)
    canaries = zto.filter(pl.col("phone").is_in(pool)).head(3)
    assert rows.height == 200 and canaries.height == 3
    return pl.concat([rows.select(cols), canaries.select(cols)])


def test_planted_canaries_are_flagged_as_contradicting_evidence(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    res = trace(_planted_leak(workspace, released), workspace=workspace)
    by = {c.recipient: c for c in res.accused}
    assert sorted(by) == ["sms", "zto"]  # the p-values stand: both are accused
    assert by["zto"].canaries == 3
    [flag] = by["zto"].contradictions
    assert flag["family"] == "marks"
    assert flag["matched"] < flag["expected_half_intact"] - 50
    assert by["sms"].contradictions == []  # sms's own marks all match
    html = render_report(res)
    assert 'id="contradictions"' in html and "zto" in html.split('id="contradictions"')[1]
    # a clean leak of zto's own copy raises no flag
    clean = trace(released["zto"].sample(60, seed=4).select(COLS), workspace=workspace)
    assert [(c.recipient, c.contradictions) for c in clean.accused] == [("zto", [])]
    assert 'id="contradictions"' not in render_report(clean)


def test_bundle_keeps_the_contradiction_and_refuses_one_that_hides_it(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    from leaktrace.ledger.chain import sign
    from leaktrace.trace.bundle import _digest

    res = trace(_planted_leak(workspace, released), workspace=workspace)
    bundle = build_bundle(workspace, res)
    pk = workspace.keys.public_key()
    checked = verify_bundle(json.loads(json.dumps(bundle)), pk)
    assert [f["family"] for f in checked["contradictions"]["zto v1"]] == ["marks"]
    body = json.loads(json.dumps(bundle["body"]))
    for c in body["candidates"]:
        c["contradictions"] = []
    resigned = {"body": body, "signature": sign(workspace.keys.signing_key(), _digest(body))}
    with pytest.raises(EvidenceError, match="contradicting evidence it lists"):
        verify_bundle(resigned, pk)
    # a bundle from before the check (no such key) verifies, and the flag is recomputed
    for c in body["candidates"]:
        del c["contradictions"]
    old = {"body": body, "signature": sign(workspace.keys.signing_key(), _digest(body))}
    assert "zto v1" in verify_bundle(old, pk)["contradictions"]


def test_cli_trace_prints_the_contradiction(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    f = tmp_path / "leak.csv"
    _planted_leak(workspace, released).write_csv(f)
    r = subprocess.run(
        [sys.executable, "-m", "leaktrace", "trace", str(f), "--home", str(workspace.home)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "contradicting evidence for zto" in warnings[0], r.stdout


def test_a_bundle_cannot_hide_a_contradiction_behind_stated_p_values(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    """The check works from the counts, not from the family p-values a bundle states: a
    re-signed bundle that claims zto's marks accuse (so that they would not be checked)
    and drops the flag is refused; a malformed record is an EvidenceError, not a crash."""
    from leaktrace.ledger.chain import sign
    from leaktrace.trace.bundle import _digest

    res = trace(_planted_leak(workspace, released), workspace=workspace)
    body = json.loads(json.dumps(build_bundle(workspace, res)["body"]))
    zto = next(c for c in body["candidates"] if c["recipient"] == "zto")
    zto["log10_p_by_family"]["marks"] = -50.0
    del zto["log10_p_by_family"]["tardos"]  # as in bundles made before Tardos marks
    zto["contradictions"] = []
    key, pk = workspace.keys.signing_key(), workspace.keys.public_key()
    with pytest.raises(EvidenceError, match="contradicting evidence it lists"):
        verify_bundle({"body": body, "signature": sign(key, _digest(body))}, pk)
    zto["classes"][0]["p"] = "NaN"
    with pytest.raises(EvidenceError, match="malformed"):
        verify_bundle({"body": body, "signature": sign(key, _digest(body))}, pk)


def test_planted_canaries_with_order_numbers_flag_the_aliases(
    workspace: Workspace, released: dict[str, pl.DataFrame]
) -> None:
    """With the order number leaked too, the planted canary rows carry zto's aliases of
    their own orders; the other rows carry none of zto's. The alias check counts the rows
    that are no canaries, so it is not silenced by the planted ones."""
    from leaktrace.ledger import Ledger

    pool = [t["contact"] for t in Ledger(workspace).canary_tokens()]
    zto, sms = released["zto"], released["sms"]
    cols = ["order_id", "name", "phone"]
    rows = sms.join(zto.select("phone"), on="phone", how="semi")
    rows = rows.filter(~pl.col("phone").is_in(pool)).head(200)
    leak = pl.concat(
        [rows.select(cols), zto.filter(pl.col("phone").is_in(pool)).head(2).select(cols)]
    )
    res = trace(leak, workspace=workspace)
    by = {c.recipient: c for c in res.accused}
    assert "zto" in by
    assert "aliases" in [f["family"] for f in by["zto"].contradictions]
    assert by.get("sms") is None or by["sms"].contradictions == []


def test_canary_chance_covers_short_order_numbers_in_a_dense_shop(
    workspace: Workspace, shop: pl.DataFrame
) -> None:
    """6-digit order numbers, kept as they are: a canary's number is drawn among the
    900,000 six-digit numbers minus the real ones of its batch, so its chance to equal a
    leaked number is 1/(900,000 − rows), more than (10/9)·10^-6. The bound must cover it."""
    workspace.config.policies["courier"].fields["order_id"] = "keep"
    workspace.save()
    short = shop.with_columns(
        (pl.int_range(pl.len()) * 7 + 100_000).cast(pl.Utf8).alias("order_id")
    )
    copy = release(short, recipient="zto", workspace=workspace).frame
    assert copy is not None
    canaries = copy.filter(~pl.col("order_id").is_in(short["order_id"].implode()))
    assert canaries.height >= 3 and (canaries["order_id"].str.len_chars() == 6).all()
    res = trace(canaries.head(3).select("order_id", "product"), workspace=workspace)
    zto = next(c for c in res.candidates if c.recipient == "zto")
    assert zto.canaries == 3
    entries = Ledger(workspace).entries("zto")
    per_row = 1 / (900_000 - max(e.rows for e in entries))
    assert zto.canary_q >= sum(e.canaries for e in entries) * per_row


def test_a_header_only_leak_is_named_in_the_error(
    workspace: Workspace, released: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    """``trace`` of a header-only CSV said "the leaked file has no data rows" without the
    file, where ``release`` names it (README: errors name the file)."""
    from conftest import run_cli

    f = tmp_path / "只有表头.csv"
    f.write_text("收货人,手机\n", encoding="utf-8")
    r = run_cli("trace", str(f), home=workspace.home)
    assert r.returncode == 2 and f"{f} has no data rows" in r.stderr, r.stderr
