"""One clock for the times people read in the respond commands.

Every time shown to a person (the exposed list, ``incident show``, ``case show``, the
drafts, the service's incident page) is platform time, UTC+8, written with its offset;
``--json``, the API and the stored rows keep the instants as stored (UTC). The instants
here are fixed: the release is recorded at 17:30 UTC and the incident's events at 18:05:09
UTC, so their platform times fall on the next day and a display left in UTC cannot pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess

import httpx
import polars as pl
import pytest

import leaktrace.ledger.ledger as ledger_module
import leaktrace.respond.incident as incident_module
from conftest import make_workspace, run_cli
from leaktrace.attribution.reports import parse_datetime
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.respond import exposed
from leaktrace.respond.cases import open_case, record_payment
from leaktrace.respond.incident import add_event, load_incident, open_incident, record_evidence
from leaktrace.respond.regulator import notice_draft, regulator_report
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]

RELEASED = "2024-06-01T17:30:00+00:00"
RELEASED_SHOWN = "2024-06-02 01:30:00+08:00"
RECORDED = "2024-06-01T18:05:09+00:00"
RECORDED_SHOWN = "2024-06-02 02:05:09+08:00"
DISCOVERED = datetime(2024, 6, 1, 16, 45, tzinfo=UTC)
DISCOVERED_SHOWN = "2024-06-02 00:45:00+08:00"
OCCURRED = "2024-06-01T23:10:00+00:00"  # after the release: an advance, so it can be paid
OCCURRED_SHOWN = "2024-06-02 07:10:00+08:00"
STORED_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
"""A stored instant as the ledger writes it: shown to a person, it is 8 hours off."""


class _FixedClock(datetime):
    """``datetime`` whose ``now`` is the release's fixed instant (for the ledger)."""

    @classmethod
    def now(cls, tz: object = None) -> _FixedClock:  # type: ignore[override]
        fixed = datetime.fromisoformat(RELEASED)
        return cls.fromtimestamp(fixed.timestamp(), tz)  # type: ignore[arg-type]


@dataclass
class Env:
    ws: Workspace
    dir: Path
    orders: Path
    shop: pl.DataFrame
    incident: str
    case_id: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("times-shown")
    ws = make_workspace(root / "ws")
    copy = root / "zto.parquet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ledger_module, "datetime", _FixedClock)
        release(shop, recipient="zto", workspace=ws, out=copy)
    [entry] = Ledger(ws).entries()
    assert entry.created == RELEASED
    leak = pl.read_parquet(copy).sample(25, seed=41).select(LEAK_COLS)
    bundle = root / "evidence.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    orders = root / "orders.parquet"
    shop.write_parquet(orders)
    row = shop.filter(pl.col("courier") == "中通快递").row(3, named=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(incident_module, "_now", lambda: RECORDED)
        iid = open_incident(ws, "中通面单泄露", DISCOVERED, "用户反映").id
        record_evidence(ws, iid, bundle)
        ex = exposed(ws, orders, recipients=["zto"])
        from leaktrace.respond.incident import record_exposure

        record_exposure(ws, iid, ex.summary(), "0" * 64, ["zto"])
        add_event(ws, iid, "measure", {"text": "已暂停向中通快递推送订单数据"})
        case = open_case(
            ws,
            iid,
            order_id=str(row["order_id"]),
            phone=str(row["phone"]),
            occurred=OCCURRED,
            loss=800.0,
            police_receipt="A3301062024060100001",
            actor="cli:tester",
        )
        assert case.decision == "advance", case.reasons
        record_payment(ws, iid, case.case_id, "case_paid", 500.0, "转账 001", actor="cli:tester")
    assert {e.at for e in load_incident(ws, iid).events} == {RECORDED}
    yield Env(ws, root, orders, shop, iid, case.case_id)


def _ok(r: CompletedProcess[str]) -> CompletedProcess[str]:
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _flat(text: str) -> str:
    """``text`` with every run of whitespace one space (however the console wrapped it)."""
    return " ".join(text.split())


# --------------------------------------------------------------------- the exposed list


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_exposed_list_shows_release_times_in_platform_time(
    env: Env, tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"exposed.{suffix}"
    args = ("exposed", str(env.orders), "--to", "zto", "--out", str(out), "--json")
    summary = json.loads(_ok(run_cli(*args, home=env.ws.home)).stdout)
    # --json is for programs: the instant as the ledger stores it
    assert [r["created"] for r in summary["releases"]] == [RELEASED]
    listed = pl.read_csv(out, infer_schema=False) if suffix == "csv" else pl.read_parquet(out)
    assert listed.height == summary["orders"] > 0
    assert set(listed.get_column("first_exposed_at")) == {RELEASED_SHOWN}


def test_order_times_are_written_as_the_table_gave_them(env: Env, tmp_path: Path) -> None:
    """The order table's times are platform time already: the list does not shift them."""
    out = tmp_path / "exposed.csv"
    _ok(run_cli("exposed", str(env.orders), "--to", "zto", "--out", str(out), home=env.ws.home))
    listed = pl.read_csv(out, infer_schema=False)
    want = dict(
        zip(
            env.shop.get_column("order_id").cast(pl.Utf8),
            env.shop.get_column("order_time").dt.strftime("%Y-%m-%d %H:%M:%S"),
            strict=True,
        )
    )
    got = dict(zip(listed.get_column("order_id"), listed.get_column("order_time"), strict=True))
    assert got == {k: want[k] for k in got}


def test_incident_exposed_writes_the_same_list(env: Env, tmp_path: Path) -> None:
    # a separate incident: this one records an exposure of its own
    iid = open_incident(env.ws, "另一起", DISCOVERED, "用户反映").id
    out = tmp_path / "exposed.csv"
    args = ("incident", "exposed", iid, str(env.orders), "--to", "zto", "--out", str(out))
    x = json.loads(_ok(run_cli(*args, "--json", home=env.ws.home)).stdout)
    assert x["releases"][0]["created"] == RELEASED  # the recorded event: as stored
    listed = pl.read_csv(out, infer_schema=False)
    assert set(listed.get_column("first_exposed_at")) == {RELEASED_SHOWN}


def test_the_python_frame_keeps_the_stored_instant(env: Env) -> None:
    """``Exposure.rows`` is for code: the ledger's ``created``; ``for_people()`` is the
    list the commands write."""
    ex = exposed(env.ws, env.orders, recipients=["zto"])
    assert set(ex.rows.get_column("first_exposed_at")) == {RELEASED}
    people = ex.for_people()
    assert set(people.get_column("first_exposed_at")) == {RELEASED_SHOWN}
    kept = ex.rows.select(people.columns)  # for_people keeps only what notifying needs
    assert people.drop("first_exposed_at").equals(kept.drop("first_exposed_at"))
    # the shown form reads back as the same instant (--since, --occurred, Polars)
    assert parse_datetime(RELEASED_SHOWN) == datetime.fromisoformat(RELEASED)
    assert pl.Series([RELEASED_SHOWN]).str.to_datetime().dt.convert_time_zone("UTC").to_list() == [
        datetime.fromisoformat(RELEASED)
    ]


# ----------------------------------------------------------------- incident and case


def test_incident_show_prints_platform_time(env: Env) -> None:
    r = _ok(run_cli("incident", "show", env.incident, home=env.ws.home))
    lines = r.stdout.splitlines()
    events = [line.strip() for line in lines if re.match(r"\s+\d+\. ", line)]
    assert len(events) == 6
    assert all(line.split(" ", 1)[1].startswith(RECORDED_SHOWN) for line in events), events
    assert f"discovered_at={DISCOVERED_SHOWN}" in events[0]
    assert f"occurred_at={OCCURRED_SHOWN}" in _flat(r.stdout)
    assert not STORED_UTC.search(r.stdout), r.stdout


def test_incident_show_never_prints_a_cases_ciphertext(env: Env) -> None:
    """A case's police receipt and a payment's note are stored encrypted: their ciphertext
    means nothing to a reader, so the show points to ``case show``, which opens them."""
    stored = json.loads(
        _ok(run_cli("incident", "show", env.incident, "--json", home=env.ws.home)).stdout
    )
    case = next(e for e in stored["events"] if e["kind"] == "case")
    cipher = case["body"]["receipt"]
    assert re.fullmatch(r"v\d+:[0-9a-f]{56,}", cipher)
    r = _ok(run_cli("incident", "show", env.incident, home=env.ws.home))
    assert cipher not in _flat(r.stdout)
    assert "receipt=(encrypted: leaktrace case show)" in _flat(r.stdout)


def test_incident_show_json_keeps_the_stored_instants(env: Env) -> None:
    r = _ok(run_cli("incident", "show", env.incident, "--json", home=env.ws.home))
    shown = json.loads(r.stdout)
    assert {e["at"] for e in shown["events"]} == {RECORDED}
    assert shown["events"][0]["body"]["discovered_at"] == DISCOVERED.isoformat()
    case = next(e for e in shown["events"] if e["kind"] == "case")
    assert case["body"]["occurred_at"] == OCCURRED


def test_case_show_prints_platform_time(env: Env) -> None:
    r = _ok(run_cli("case", "show", env.incident, env.case_id, home=env.ws.home))
    said = _flat(r.stdout)
    assert f"scam at {OCCURRED_SHOWN};" in said
    assert f"opened {RECORDED_SHOWN} by cli:tester" in said
    assert f"event 6 {RECORDED_SHOWN}: 500.00 paid" in said
    assert not STORED_UTC.search(r.stdout), r.stdout
    d = json.loads(
        _ok(run_cli("case", "show", env.incident, env.case_id, "--json", home=env.ws.home)).stdout
    )
    assert (d["occurred_at"], d["opened_at"], d["payments"][0]["at"]) == (
        OCCURRED,
        RECORDED,
        RECORDED,
    )


def test_the_drafts_are_in_platform_time(env: Env) -> None:
    inc = load_incident(env.ws, env.incident)
    text = regulator_report(env.ws, inc, "李工").text
    assert "本报告所列时间均为北京时间（UTC+8）" in text
    assert "发现时间：2024年06月02日 00:45（UTC+8）" in text
    assert "平台于 2024年06月02日 01:30 向" in text
    assert "- 2024年06月02日 02:05：已暂停向中通快递推送订单数据" in text
    assert not STORED_UTC.search(text)
    notice = notice_draft(env.ws, inc, "95000").text
    assert "本平台自 2024年06月02日 起" in notice


# ----------------------------------------------------------------- the service's page


def test_the_incident_page_shows_platform_time_and_the_api_the_stored(env: Env) -> None:
    token = add_token(env.ws.home, "times", "analyst", known=set(env.ws.config.recipients))
    with (
        serving(create_app(env.ws.home)) as url,
        httpx.Client(base_url=url, timeout=60, follow_redirects=False) as c,
    ):
        signed_in = c.post("/login", data={"token": token})
        assert signed_in.status_code == 303
        page = c.get(f"/dashboard/incidents/{env.incident}")
        assert page.status_code == 200, page.text
        api = c.get(
            f"/api/v1/incidents/{env.incident}", headers={"authorization": f"Bearer {token}"}
        ).json()
    html = page.text
    table = html[html.index('<table id="events">') : html.index("</table>")]
    assert "recorded (UTC+8)" in table
    assert table.count(f"<td>{RECORDED_SHOWN}</td>") == 6
    assert f"discovered_at: {DISCOVERED_SHOWN}" in table
    assert f"occurred_at: {OCCURRED_SHOWN}" in table
    assert not STORED_UTC.search(table), table
    assert {e["at"] for e in api["events"]} == {RECORDED}
    assert api["events"][0]["body"]["discovered_at"] == DISCOVERED.isoformat()
