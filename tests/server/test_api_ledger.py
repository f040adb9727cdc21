"""The token-guarded API over a real uvicorn: releases, ledger checks, trace uploads, alias
resolution and victim reports, each for the roles that may use it and no other."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.release import release
from leaktrace.server import create_app
from leaktrace.server.tokens import add_token, revoke_token

from .conftest import LEAK_COLS, RECIPIENTS, SCAM, Site, bearer, serving, upload_dirs

# --------------------------------------------------------------------------- helpers


def cut_leak(site: Site, recipient: str, rows: int, seed: int, out: Path) -> Path:
    """``rows`` rows of ``recipient``'s released copy, the columns a leak usually has,
    written as a CSV a thief would pass on."""
    copy = site.copy(recipient)
    cols = [c for c in LEAK_COLS if c in copy.columns]
    copy.sample(rows, seed=seed).select(cols).write_csv(out)
    return out


def post_trace(
    c: httpx.Client, token: str | None, path: Path, name: str | None = None, **form: Any
) -> httpx.Response:
    headers = bearer(token) if token else {}
    files = {"file": (name or path.name, path.read_bytes(), "text/csv")}
    return c.post("/api/v1/trace", files=files, headers=headers, data=form)


def error_of(r: httpx.Response) -> str:
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    msg: str = body["error"]
    return msg


def unique_phone_rows(site: Site, shop: pl.DataFrame, recipient: str, n: int) -> pl.DataFrame:
    """Rows of ``recipient``'s copy whose phone is one customer's in the shop's own table,
    joined with that customer's real order number (the answer an alias must map back to)."""
    once = shop.group_by("phone").len().filter(pl.col("len") == 1).select("phone")
    real = shop.join(once, on="phone").select(["phone", pl.col("order_id").alias("real_id")])
    copy = site.copy(recipient).select(["order_id", "phone"])
    return copy.join(real, on="phone").head(n)


# --------------------------------------------------------------------------- who may call


def _request(c: httpx.Client, what: str, token: str | None, leak: Path) -> httpx.Response:
    headers = bearer(token) if token else {}
    if what == "releases":
        return c.get("/api/v1/releases", headers=headers)
    if what == "verify":
        return c.get("/api/v1/ledger/verify", headers=headers)
    if what == "trace":
        return post_trace(c, token, leak)
    if what == "resolve":
        return c.post(
            "/api/v1/resolve", json={"alias": "123456", "recipient": "zto"}, headers=headers
        )
    assert what == "reports"
    return c.post("/api/v1/reports", json=[{"victim_phone": "x"}], headers=headers)


ALLOWED = {
    "releases": {"analyst"},
    "verify": {"analyst"},
    "trace": {"analyst"},
    "resolve": {"analyst", "recipient"},
    "reports": {"analyst", "agent"},
}


@pytest.fixture(scope="module")
def small_leak(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_leak(site, "yto", 10, 1, tmp_path_factory.mktemp("leak") / "leak.csv")


@pytest.mark.parametrize("what", sorted(ALLOWED))
def test_each_route_admits_only_its_roles(
    client: httpx.Client, site: Site, small_leak: Path, what: str
) -> None:
    r = _request(client, what, None, small_leak)
    assert r.status_code == 401
    assert "token" in error_of(r)
    r = _request(client, what, "lt_not-a-real-token", small_leak)
    assert r.status_code == 401
    for role, token in (("analyst", site.analyst), ("agent", site.agent), ("recipient", site.zto)):
        r = _request(client, what, token, small_leak)
        if role in ALLOWED[what]:
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, r.text)
        else:
            assert r.status_code == 403, (role, r.text)
            article = "an" if role in ("analyst", "agent") else "a"
            assert error_of(r) == f"{article} {role} token may not do this"


def test_only_a_bearer_token_in_the_authorization_header_counts(
    client: httpx.Client, site: Site
) -> None:
    for header in (f"Basic {site.analyst}", site.analyst, f"Bearer{site.analyst}", "Bearer"):
        r = client.get("/api/v1/releases", headers={"authorization": header})
        assert r.status_code == 401, header
    r = client.get("/api/v1/releases", headers={"authorization": f"bearer  {site.analyst}"})
    assert r.status_code == 200


def test_a_revoked_token_stops_working_without_a_restart(client: httpx.Client, site: Site) -> None:
    token = add_token(site.home, "short-lived", "analyst", known=set())
    assert client.get("/api/v1/releases", headers=bearer(token)).status_code == 200
    revoke_token(site.home, "short-lived")
    r = client.get("/api/v1/releases", headers=bearer(token))
    assert r.status_code == 401
    assert client.get("/api/v1/releases", headers=bearer(site.analyst)).status_code == 200


@pytest.fixture
def broken_tokens(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A server whose api-tokens.json was damaged after it started."""
    ws = make_workspace(tmp_path / "ws")
    add_token(ws.home, "ana", "analyst", known=set())
    (ws.home / "api-tokens.json").write_text('{"tokens": [{"name": "ana"', encoding="utf-8")
    with serving(create_app(ws.home)) as url:
        yield url, ws.home


def test_a_broken_token_file_admits_nobody_and_names_no_server_path(
    broken_tokens: tuple[str, Path],
) -> None:
    url, home = broken_tokens
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/api/v1/releases", headers=bearer("lt_" + "x" * 43))
        assert r.status_code not in (200, 403)
        msg = error_of(r)
        assert "token file" in msg
        assert str(home) not in msg and str(home.parent) not in msg
        assert '"name"' not in msg  # nothing of the file's content
        # the scam check needs no token and goes on working
        assert c.post("/api/v1/scam/check", json={"texts": [SCAM]}).status_code == 200


def test_a_broken_token_file_is_the_servers_fault(broken_tokens: tuple[str, Path]) -> None:
    url, _ = broken_tokens
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.get("/api/v1/releases", headers=bearer("lt_" + "x" * 43))
    assert r.status_code == 503


# --------------------------------------------------------------------------- ledger


def test_releases_lists_what_was_released(client: httpx.Client, site: Site) -> None:
    r = client.get("/api/v1/releases", headers=bearer(site.analyst))
    assert r.status_code == 200
    entries = r.json()
    assert [e["recipient"] for e in entries] == list(RECIPIENTS)
    for e in entries:
        assert e["rows"] == site.copy(e["recipient"]).height
    r = client.get("/api/v1/releases", params={"recipient": "sms"}, headers=bearer(site.analyst))
    assert [e["recipient"] for e in r.json()] == ["sms"]


def test_releases_of_an_unknown_recipient_is_404(client: httpx.Client, site: Site) -> None:
    r = client.get("/api/v1/releases", params={"recipient": "zt0"}, headers=bearer(site.analyst))
    assert r.status_code == 404
    msg = error_of(r)
    assert "zt0" in msg and "zto" in msg  # names the one asked for and the nearest known


def test_verify_says_ok_and_counts_the_records(client: httpx.Client, site: Site) -> None:
    r = client.get("/api/v1/ledger/verify", headers=bearer(site.analyst))
    assert r.status_code == 200
    d = r.json()
    assert d["ok"] is True and d["problem"] is None and d["first_bad"] is None
    assert d["records"] == len(RECIPIENTS) == d["head_seq"]
    assert len(d["head_hash"]) == 64


@pytest.fixture
def tampered(tmp_path: Path, shop: pl.DataFrame) -> Iterator[tuple[str, str, Path]]:
    """A workspace whose first release record was edited in the database afterwards."""
    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "zto.csv"
    release(shop.head(400), recipient="zto", workspace=ws, out=out)
    release(shop.head(400), recipient="sms", workspace=ws)
    token = add_token(ws.home, "ana", "analyst", known=set())
    leak = tmp_path / "leak.csv"
    pl.read_csv(out, infer_schema=False).head(20).write_csv(leak)
    with sqlite3.connect(ws.home / "ledger.db") as con:
        con.execute("update releases set rows = rows + 1 where seq = 1")
    with serving(create_app(ws.home)) as url:
        yield url, token, leak


def test_a_tampered_ledger_does_not_verify_and_accuses_nobody(
    tampered: tuple[str, str, Path],
) -> None:
    url, token, leak = tampered
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.get("/api/v1/ledger/verify", headers=bearer(token))
        assert r.status_code == 200
        d = r.json()
        assert d["ok"] is False and d["first_bad"] == 1 and d["problem"]
        assert d["head_hash"] is None
        r = post_trace(c, token, leak)
        assert r.status_code == 409
        assert "accused" not in r.text
        error_of(r)


def test_verify_names_a_checkpointed_report_deleted(tmp_path: Path, shop: pl.DataFrame) -> None:
    """The service's verify (API and dashboard) checks the checkpoints too: a victim
    report deleted in the database after a checkpoint is named, and trace refuses."""
    from leaktrace.attribution.reports import add_reports, parse_report_obj
    from leaktrace.ledger import Ledger

    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "zto.csv"
    release(shop.head(400), recipient="zto", workspace=ws, out=out)
    row = pl.read_csv(out, infer_schema=False).row(0, named=True)
    report = {"victim_phone": "13800138000", "reported_at": "2026-11-01T10:00:00+08:00"}
    add_reports(ws, [parse_report_obj({**report, "channel": "call"}, "t:1")])
    cp = Ledger(ws).checkpoint()
    token = add_token(ws.home, "ana", "analyst", known=set())
    leak = tmp_path / "leak.csv"
    pl.DataFrame([row]).write_csv(leak)
    with serving(create_app(ws.home)) as url, httpx.Client(base_url=url, timeout=60) as c:
        d = c.get("/api/v1/ledger/verify", headers=bearer(token)).json()
        assert d["ok"] is True
        assert (d["checkpoints"], d["checkpoint_hash"]) == (1, cp.checkpoint_hash)
        with sqlite3.connect(ws.home / "ledger.db") as con:
            con.execute("delete from victim_reports")
        d = c.get("/api/v1/ledger/verify", headers=bearer(token)).json()
        assert d["ok"] is False and "victim_reports" in d["problem"]
        assert d["checkpoint_hash"] is None
        assert post_trace(c, token, leak).status_code == 409


# --------------------------------------------------------------------------- trace


@pytest.mark.parametrize(("recipient", "seed"), [("zto", 1), ("yto", 2), ("cs-firm", 3)])
def test_a_leak_cut_from_a_copy_accuses_its_recipient(
    client: httpx.Client, site: Site, tmp_path: Path, recipient: str, seed: int
) -> None:
    leak = cut_leak(site, recipient, 25, seed, tmp_path / "从网上买的.csv")
    r = post_trace(client, site.analyst, leak)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["verdict"] == "source identified"
    assert [a["recipient"] for a in d["accused"]] == [recipient]
    assert d["file"] == "从网上买的.csv"
    assert d["rows"]["read"] == 25
    assert d["accused"][0]["p_value"] <= d["alpha"]
    assert {"verdict", "alpha", "rows", "truncated", "accused", "candidates", "warnings"} <= set(d)


def test_a_single_aliased_row_of_the_sms_copy_is_decisive(
    client: httpx.Client, site: Site, tmp_path: Path
) -> None:
    leak = tmp_path / "one.csv"
    site.copy("sms").sample(1, seed=9).select(["order_id", "phone"]).write_csv(leak)
    r = post_trace(client, site.analyst, leak)
    assert r.status_code == 200
    assert [a["recipient"] for a in r.json()["accused"]] == ["sms"]


def test_the_platforms_own_rows_accuse_nobody(
    client: httpx.Client, site: Site, shop: pl.DataFrame, tmp_path: Path
) -> None:
    leak = tmp_path / "own.csv"
    shop.sample(200, seed=4).select(LEAK_COLS).write_csv(leak)
    r = post_trace(client, site.analyst, leak)
    assert r.status_code == 200
    d = r.json()
    assert d["accused"] == [] and d["verdict"] != "source identified"
    assert d["rows"]["identified"] > 0  # found, but carrying nobody's marks


def test_trace_options(client: httpx.Client, site: Site, tmp_path: Path) -> None:
    leak = cut_leak(site, "zto", 40, 5, tmp_path / "leak.csv")
    r = post_trace(client, site.analyst, leak, max_rows="10")
    assert r.status_code == 200
    d = r.json()
    assert d["rows"]["read"] == 10 and d["truncated"] is True
    r = post_trace(client, site.analyst, leak, alpha="0.001")
    assert r.status_code == 200 and r.json()["alpha"] == 0.001
    for bad in ({"alpha": "0"}, {"alpha": "1.5"}, {"alpha": "lots"}, {"max_rows": "0"}):
        r = post_trace(client, site.analyst, leak, **bad)
        assert r.status_code == 400, bad
        error_of(r)


def test_trace_without_a_file_is_400(client: httpx.Client, site: Site) -> None:
    r = client.post("/api/v1/trace", data={"alpha": "0.01"}, headers=bearer(site.analyst))
    assert r.status_code == 400
    assert "file" in error_of(r)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("客户名单.xlsx", b"this is no workbook" * 20),
        ("dump.parquet", b"PAR1" + b"\x00garbage" * 30),
        ("leak.csv", bytes(range(256)) * 4),
        ("rows.jsonl", b'{"phone": "138\n'),
        ("stuff.csv", b"foo,bar\n1,2\n3,4\n"),
        ("empty.csv", b""),
    ],
    ids=["xlsx", "parquet", "binary-csv", "bad-jsonl", "no-usable-columns", "empty"],
)
def test_an_unreadable_upload_is_400_naming_the_file_not_the_server_path(
    client: httpx.Client, site: Site, private_tmp: Path, name: str, body: bytes
) -> None:
    r = client.post("/api/v1/trace", files={"file": (name, body)}, headers=bearer(site.analyst))
    assert r.status_code == 400
    msg = error_of(r)
    if body and name != "stuff.csv":
        assert name in msg  # the reader's complaint names the file the analyst sent
    assert "leaktrace-upload-" not in msg and "upload." not in msg
    assert str(site.home) not in msg and str(private_tmp) not in msg
    assert upload_dirs() == set()


@pytest.fixture
def spied_trace(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record, from inside the trace, where the upload was put and how it was kept."""
    import leaktrace.trace as trace_module

    real = trace_module.trace
    seen: list[dict[str, Any]] = []

    def spy(path: Path, **kw: Any) -> Any:
        p = Path(path)
        seen.append(
            {
                "path": p,
                "folder_mode": stat.S_IMODE(p.parent.stat().st_mode),
                "file_mode": stat.S_IMODE(p.stat().st_mode),
                "bytes": p.read_bytes(),
            }
        )
        return real(path, **kw)

    monkeypatch.setattr(trace_module, "trace", spy)
    return seen


@pytest.mark.parametrize("outcome", ["traced", "unreadable"])
def test_the_uploaded_file_is_private_and_gone_after_the_trace(
    client: httpx.Client,
    site: Site,
    tmp_path: Path,
    spied_trace: list[dict[str, Any]],
    private_tmp: Path,
    outcome: str,
) -> None:
    if outcome == "traced":
        leak = cut_leak(site, "zto", 15, 6, tmp_path / "leak.csv")
    else:
        leak = tmp_path / "leak.xlsx"
        leak.write_bytes(b"not a workbook at all" * 10)
    r = post_trace(client, site.analyst, leak, name=f"../../evil name{leak.suffix}")
    assert r.status_code == (200 if outcome == "traced" else 400), r.text
    [seen] = spied_trace
    folder = seen["path"].parent
    assert folder.parent == private_tmp
    assert folder.name.startswith("leaktrace-upload-")
    assert seen["folder_mode"] == 0o700 and seen["file_mode"] == 0o600
    assert seen["bytes"] == leak.read_bytes()
    assert "evil" not in seen["path"].name  # the client's name does not reach the disk
    assert seen["path"].suffix == leak.suffix
    assert not folder.exists()
    assert upload_dirs() == set()


@pytest.fixture(scope="module")
def small_limit_url(site: Site) -> Iterator[str]:
    with serving(create_app(site.home, max_upload_bytes=64 << 10)) as url:
        yield url


def test_an_upload_over_the_limit_is_413(
    small_limit_url: str, site: Site, tmp_path: Path, shop: pl.DataFrame, private_tmp: Path
) -> None:
    big = tmp_path / "big.csv"
    shop.select(LEAK_COLS).write_csv(big)
    assert big.stat().st_size > 64 << 10
    small = cut_leak(site, "yto", 20, 7, tmp_path / "small.csv")
    assert small.stat().st_size < 60 << 10
    with httpx.Client(base_url=small_limit_url, timeout=60) as c:
        r = post_trace(c, site.analyst, big)
        assert r.status_code == 413
        assert "65,536" in error_of(r)
        assert upload_dirs() == set()
        # a file under the limit is traced as usual by the same server
        r = post_trace(c, site.analyst, small)
        assert r.status_code == 200
        assert [a["recipient"] for a in r.json()["accused"]] == ["yto"]
        # the JSON routes keep their own limit (JSON_LIMIT), not the upload limit: six texts
        # of 20,000 characters (each at most what a check reads) are 360 KB of UTF-8
        r = c.post("/api/v1/scam/check", json={"texts": ["骗" * 20_000] * 6})
        assert r.status_code == 200 and len(r.json()["results"]) == 6


def test_one_trace_at_a_time_a_second_gets_503(
    client: httpx.Client,
    base_url: str,
    site: Site,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import leaktrace.server.app as app_module
    import leaktrace.trace as trace_module

    monkeypatch.setattr(app_module, "TRACE_WAIT_SECONDS", 0.5)
    real = trace_module.trace
    inside, go_on = threading.Event(), threading.Event()

    def slow(path: Path, **kw: Any) -> Any:
        inside.set()
        assert go_on.wait(30)
        return real(path, **kw)

    monkeypatch.setattr(trace_module, "trace", slow)
    leak = cut_leak(site, "zto", 20, 8, tmp_path / "leak.csv")
    first: dict[str, httpx.Response] = {}

    def run_first() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as c:
            first["r"] = post_trace(c, site.analyst, leak)

    t = threading.Thread(target=run_first)
    t.start()
    try:
        assert inside.wait(30)
        r = post_trace(client, site.analyst, leak)
        assert r.status_code == 503
        assert "another trace" in error_of(r)
    finally:
        go_on.set()
        t.join(60)
    assert first["r"].status_code == 200
    assert [a["recipient"] for a in first["r"].json()["accused"]] == ["zto"]
    r = post_trace(client, site.analyst, leak)  # the slot is free again
    assert r.status_code == 200


# --------------------------------------------------------------------------- resolve


def _resolve(c: httpx.Client, token: str, alias: str, recipient: str) -> httpx.Response:
    return c.post(
        "/api/v1/resolve", json={"alias": alias, "recipient": recipient}, headers=bearer(token)
    )


def test_a_recipient_resolves_its_own_aliases_to_the_real_order(
    client: httpx.Client, site: Site, shop: pl.DataFrame
) -> None:
    rows = unique_phone_rows(site, shop, "zto", 5)
    assert rows.height == 5
    for alias, real_id in rows.select(["order_id", "real_id"]).iter_rows():
        assert alias != real_id
        r = _resolve(client, site.zto, alias, "zto")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "alias": alias,
            "recipient": "zto",
            "order_id": real_id,
            "key_version": 1,
        }


def test_a_recipient_cannot_resolve_another_recipients_alias(
    client: httpx.Client, site: Site, shop: pl.DataFrame
) -> None:
    [(alias, real_id)] = (
        unique_phone_rows(site, shop, "sms", 1).select(["order_id", "real_id"]).iter_rows()
    )
    r = _resolve(client, site.zto, alias, "sms")
    assert r.status_code == 403
    assert real_id not in r.text
    # claiming the alias as its own does not work either: it is not an alias zto was given
    r = _resolve(client, site.zto, alias, "zto")
    assert r.status_code == 400
    assert real_id not in r.text
    # sms itself and an analyst get the order
    for token in (site.sms, site.analyst):
        r = _resolve(client, token, alias, "sms")
        assert r.status_code == 200 and r.json()["order_id"] == real_id


def test_resolve_errors(client: httpx.Client, site: Site) -> None:
    alias = site.copy("zto").get_column("order_id")[0]
    r = _resolve(client, site.analyst, alias, "nobody")
    assert r.status_code == 404 and "nobody" in error_of(r)
    r = _resolve(client, site.analyst, "12ab", "zto")
    assert r.status_code == 400 and "digits" in error_of(r)
    r = _resolve(client, site.analyst, "1" * 18, "zto")
    assert r.status_code == 400
    r = _resolve(client, site.analyst, "1" * 65, "zto")
    assert r.status_code == 400
    r = client.post("/api/v1/resolve", json={"alias": alias}, headers=bearer(site.analyst))
    assert r.status_code == 400 and "recipient" in error_of(r)
    r = _resolve(client, site.agent, alias, "zto")
    assert r.status_code == 403


# --------------------------------------------------------------------------- reports


def test_an_agent_records_reports_and_a_bad_one_is_kept_flagged(
    client: httpx.Client, site: Site
) -> None:
    good = [
        {
            "victim_phone": "13912340001",
            "reported_at": "2025-03-01T10:00:00",
            "caller": "021-5550001",
            "transcript": SCAM,
        },
        {"victim_phone": "13912340002", "reported_at": "2025-03-01T11:00:00"},
    ]
    bad = {"victim_phone": "12", "reported_at": "last tuesday"}
    r = client.post("/api/v1/reports", json=[*good, bad], headers=bearer(site.agent))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["added"] == 3 and d["malformed"] == 1 and d["duplicates"] == 0
    [problem] = d["problems"]
    assert problem["source"] == "report 3"
    assert "victim_phone" in problem["reason"] and "reported_at" in problem["reason"]
    stored = {s.id: s for s in load_stored_reports(site.ws)}
    mine = [stored[i] for i in d["ids"]]
    assert [s.phone for s in mine] == ["13912340001", "13912340002", None]
    assert [s.status for s in mine] == ["ok", "ok", "malformed"]
    assert mine[0].fraud_type == "冒充电商物流客服类"  # the transcript went through the check
    # sent again (by an analyst this time): nothing is counted twice
    r = client.post("/api/v1/reports", json=[*good, bad], headers=bearer(site.analyst))
    assert r.status_code == 200
    assert r.json()["added"] == 0 and r.json()["duplicates"] == 3


def test_reports_limits_and_roles(client: httpx.Client, site: Site) -> None:
    one = {"victim_phone": "13912340009", "reported_at": "2025-03-02T10:00:00"}
    r = client.post("/api/v1/reports", json=[one], headers=bearer(site.zto))
    assert r.status_code == 403
    r = client.post("/api/v1/reports", json=[one], headers={})
    assert r.status_code == 401
    r = client.post("/api/v1/reports", json=[one] * 1001, headers=bearer(site.agent))
    assert r.status_code == 400 and "1,000" in error_of(r)
    r = client.post("/api/v1/reports", json=[], headers=bearer(site.agent))
    assert r.status_code == 400
    r = client.post("/api/v1/reports", json=one, headers=bearer(site.agent))
    assert r.status_code == 400
    assert site.ws.home.exists()
    phones = {s.phone for s in load_stored_reports(site.ws)}
    assert "13912340009" not in phones  # none of the refused requests stored anything
