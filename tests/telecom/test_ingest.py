"""Canary hits from telecom records: adapters, once-per-record, pool-only, the CLI and the
provider's push over HTTP."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_workspace, run_cli
from leaktrace.attribution.hits import stored_hits
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.telecom import CallRecord, adapter, adapter_names, ingest
from leaktrace.workspace import Workspace

from .conftest import Service, local_record, pns_record, tokens_of, unissued

CN = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    home = tmp_path_factory.mktemp("tel") / "ws"
    ws = make_workspace(home)
    release(shop, recipient="zto", workspace=ws)
    release(shop, recipient="cs-firm", workspace=ws)
    return home


def test_both_adapters_are_registered() -> None:
    assert {"local", "aliyun-pns"} <= set(adapter_names())
    with pytest.raises(InputError, match=r"unknown telecom adapter 'nope'.*aliyun-pns"):
        adapter("nope")


def test_a_canary_call_names_its_recipient_once_however_often_it_is_pushed(
    ws: Workspace,
) -> None:
    tok = tokens_of(ws)
    outside = "13912345678"  # some customer's own number: not in the pool
    payload = [
        local_record("c-1", tok["zto"]),
        local_record(
            "c-2", tok["cs-firm"], channel="sms", text="【快递】您的包裹丢失，点击链接理赔"
        ),
        local_record("c-3", outside),
        local_record("c-4", unissued(ws)[0]),
    ]
    res = ingest(ws, "local", payload)
    assert res.received == 4 and res.duplicates == 0
    by = {h.contact: h for h in res.hits}
    assert by[tok["zto"]].recipient == "zto" and by[tok["zto"]].status == "canary"
    assert by[tok["cs-firm"]].channel == "sms" and by[tok["cs-firm"]].recipient == "cs-firm"
    assert [h.status for h in res.hits if h.contact not in tok.values()] == ["pool"]
    assert len(res.ignored) == 1 and outside not in json.dumps(res.as_dict())
    assert res.scam and res.scam[0]["record"] == "c-2"
    # the provider pushes again (no answer reached it): nothing new is recorded
    again = ingest(ws, "local", payload)
    assert (len(again.hits), again.duplicates) == (0, 3)
    stored = stored_hits(ws)
    assert len(stored) == 3
    assert {h.recipient for h in stored if h.status == "canary"} == {"zto", "cs-firm"}
    # the stored time is the record's (Beijing time → UTC)
    assert by[tok["zto"]].at == datetime(2026, 11, 28, 6, 20, 5, tzinfo=UTC)
    # an outside number is neither stored nor quoted
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        dumped = "\n".join(str(r) for r in con.execute("select * from canary_hits"))
    assert outside not in dumped and outside[-4:] not in dumped


def test_aliyun_pns_reports(ws: Workspace) -> None:
    tok = tokens_of(ws)
    payload = [
        pns_record("a1", tok["zto"]),  # someone called the canary number
        pns_record("a2", tok["zto"], call_type=0),  # the platform's own line calling out
        pns_record("a3", tok["cs-firm"], call_type=4),  # a blocked call: still dialled
        pns_record("a4", tok["cs-firm"], sms_number=70, call_type="1"),  # an SMS
    ]
    res = ingest(ws, "aliyun-pns", payload)
    assert [(h.recipient, h.channel, h.caller) for h in res.hits] == [
        ("zto", "call", "15200001504"),
        ("cs-firm", "call", "15200001504"),
        ("cs-firm", "sms", "15200001504"),
    ]
    assert res.ignored == ["record 2: not a call or message to the number"]
    assert adapter("aliyun-pns").ack(3) == {"code": 0, "msg": "接收成功", "recorded": 3}


@pytest.mark.parametrize(
    ("name", "item", "says"),
    [
        ("local", {"id": "x", "at": "2026-11-28", "channel": "fax", "to": "1"}, "channel"),
        ("local", {"id": "x", "at": "yesterday", "channel": "call", "to": "1"}, "at is missing"),
        ("local", {"at": "2026-11-28", "channel": "call", "to": "1"}, "id is missing"),
        ("local", {"id": "x", "at": "2026-11-28", "channel": "call"}, "to is missing"),
        ("local", {"id": ["x"], "at": "2026-11-28", "channel": "call", "to": "1"}, "id must"),
        ("aliyun-pns", {"call_id": "x", "secret_no": "1", "call_time": "2026-11-28"}, "call_type"),
        ("aliyun-pns", pns_record("x", "1", call_type=7), "call_type is not one"),
        ("aliyun-pns", pns_record("x", "1", call_time="later"), "call_time"),
        ("aliyun-pns", "not an object", "not a JSON object"),
    ],
)
def test_an_unreadable_record_stops_the_file_and_is_named(
    ws: Workspace, name: str, item: Any, says: str
) -> None:
    tok = tokens_of(ws)
    good = local_record("ok", tok["zto"]) if name == "local" else pns_record("ok", tok["zto"])
    with pytest.raises(InputError, match=f"record 2: .*{says}"):
        ingest(ws, name, [good, item])
    assert stored_hits(ws) == []  # nothing recorded
    # a push records the readable one and lists the other
    res = ingest(ws, name, [good, item], all_or_nothing=False)
    assert len(res.hits) == 1 and len(res.problems) == 1 and "record 2" in res.problems[0]


def test_a_payload_that_is_not_an_array_is_refused(ws: Workspace) -> None:
    for name in ("local", "aliyun-pns"):
        with pytest.raises(InputError, match="JSON array"):
            ingest(ws, name, {"records": []}, all_or_nothing=False)


def test_racing_pushes_of_the_same_records_record_each_once(ws: Workspace) -> None:
    tok = tokens_of(ws)
    payload = [local_record(f"r{i}", tok["zto"] if i % 2 else tok["cs-firm"]) for i in range(20)]
    errors: list[BaseException] = []

    def push() -> None:
        try:
            ingest(ws, "local", payload, all_or_nothing=False)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(stored_hits(ws)) == 20


@settings(max_examples=60, deadline=None)
@given(
    event_id=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")), min_size=1, max_size=40
    ),
    minutes=st.integers(0, 60 * 24 * 365 * 5),
    sms=st.booleans(),
    caller=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
)
def test_property_each_adapter_reads_back_what_its_format_says(
    event_id: str, minutes: int, sms: bool, caller: str
) -> None:
    """Property: a record written in a provider's format reads back as the same call
    (id, time to the second in UTC, channel, callee, caller)."""
    when = datetime(2021, 1, 1, tzinfo=CN) + timedelta(minutes=minutes, seconds=7)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    callee = "17090000123"
    expected = CallRecord(
        " ".join(event_id.split()), when.astimezone(UTC), "sms" if sms else "call", callee, caller
    )
    local = {"id": event_id, "at": stamp, "channel": expected.channel, "to": callee, "from": caller}
    pns = pns_record(event_id, callee, call_time=stamp, peer_no=caller)
    if sms:
        pns["sms_number"] = 12
    for name, item in (("local", local), ("aliyun-pns", pns)):
        records, ignored, problems = adapter(name).read([item])
        if not expected.event_id:
            assert problems
            continue
        assert (records, ignored, problems) == ([expected], [], [])


# --------------------------------------------------------------------------- CLI


def test_cli_ingest_adapters_and_bad_files(ws: Workspace, tmp_path: Path) -> None:
    tok = tokens_of(ws)
    f = tmp_path / "cdr.jsonl"
    rows = [local_record("c-1", tok["zto"]), local_record("c-2", "13912345678")]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "gbk")
    r = run_cli("canary", "ingest", str(f), home=ws.home)
    assert r.returncode == 0, r.stderr
    assert "canary hits naming zto: 1" in r.stdout
    assert "2 record(s): 1 hit(s) recorded, 0 seen before, 1 left aside" in r.stderr
    r = run_cli("canary", "ingest", str(f), "--json", home=ws.home)
    out = json.loads(r.stdout)
    assert (out["recorded"], out["duplicates"]) == (0, 1)
    pns = tmp_path / "push.json"
    pns.write_text(json.dumps([pns_record("p-1", tok["cs-firm"])]))
    r = run_cli("canary", "ingest", str(pns), "--adapter", "aliyun-pns", "--json", home=ws.home)
    assert json.loads(r.stdout)["hits"][0]["recipient"] == "cs-firm"
    r = run_cli("canary", "adapters", "--json", home=ws.home)
    assert {a["name"] for a in json.loads(r.stdout)} >= {"local", "aliyun-pns"}
    # bad input: one line, exit 2, nothing recorded
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(local_record("c-9", tok["zto"])) + "\n{not json\n")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    for args, says in (
        ((str(bad),), "bad.jsonl:2"),
        ((str(empty),), "empty"),
        ((str(tmp_path / "none.json"),), "no such file"),
        ((str(pns), "--adapter", "nope"), "unknown telecom adapter"),
        ((str(pns),), "record 1: channel is missing"),  # a PNS file read as local
    ):
        r = run_cli("canary", "ingest", *args, home=ws.home)
        assert r.returncode == 2, (args, r.stderr)
        assert says in r.stderr and "Traceback" not in r.stderr
    assert len(stored_hits(ws)) == 2


# --------------------------------------------------------------------------- HTTP


def test_a_provider_pushes_call_reports_over_http(
    service: Service,
) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    push = [
        pns_record("h-1", tok["zto"]),
        pns_record("h-2", tok["zto"], call_type=0),
        {"call_id": "h-3"},
    ]
    auth = {"Authorization": f"Bearer {tokens['telecom']}"}
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/api/v1/telecom/aliyun-pns", json=push, headers=auth)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["code"] == 0 and d["recorded"] == 1 and d["ignored"] == 1
        assert d["problems"] == ["record 3: call_type is missing or not a number"]
        assert "zto" not in r.text  # which partner a canary names is not the provider's
        r = c.post("/api/v1/telecom/aliyun-pns", json=push, headers=auth)
        assert r.json()["recorded"] == 0 and r.json()["duplicates"] == 1
        # who may push: telecom and analyst tokens; nobody else
        assert c.post("/api/v1/telecom/aliyun-pns", json=push).status_code == 401
        for role in ("agent", "recipient"):
            h = {"Authorization": f"Bearer {tokens[role]}"}
            assert c.post("/api/v1/telecom/aliyun-pns", json=push, headers=h).status_code == 403
        # a telecom token can do nothing else
        assert c.get("/api/v1/releases", headers=auth).status_code == 403
        r = c.post("/api/v1/telecom/nope", json=push, headers=auth)
        assert r.status_code == 400 and "unknown telecom adapter" in r.json()["error"]
        r = c.post("/api/v1/telecom/local", json={"x": 1}, headers=auth)
        assert r.status_code == 400 and "JSON array" in r.json()["error"]
        r = c.post(
            "/api/v1/telecom/local",
            content=b"{not json",
            headers={**auth, "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 422) and list(r.json()) == ["error"]
    assert [h.recipient for h in stored_hits(ws)] == ["zto"]


def test_the_indexed_lookup_agrees_with_reading_every_token(ws: Workspace) -> None:
    """A batch looks its numbers up through the contact index; it must name exactly what
    reading every token names, for issued, unissued and outside numbers alike."""
    from leaktrace.attribution.hits import contact_key, contact_owners
    from leaktrace.ledger import Ledger

    every = contact_owners(ws)
    issued = [t["contact"] for t in Ledger(ws).canary_tokens() if t["contact"]]
    asked = [*issued[::7], unissued(ws)[0], "13912345678", " 170-9000-0123 ", "+86 " + issued[0]]
    for c in asked:
        k = contact_key(c)
        assert contact_owners(ws, [c]).get(k, []) == every.get(k, []), c
    batch = contact_owners(ws, asked)
    assert {contact_key(c): batch.get(contact_key(c), []) for c in asked} == {
        contact_key(c): every.get(contact_key(c), []) for c in asked
    }


def test_a_record_dated_in_the_future_is_a_problem_not_a_hit(ws: Workspace) -> None:
    """A provider's wrong clock or a mistyped year is no call that happened: the file is
    refused, a push records the others and lists it."""
    tok = tokens_of(ws)
    later = (datetime.now(CN) + timedelta(days=400)).strftime("%Y-%m-%d %H:%M:%S")
    payload = [local_record("ok", tok["zto"]), local_record("late", tok["zto"], at=later)]
    with pytest.raises(InputError, match=r"late: dated .* in the future"):
        ingest(ws, "local", payload)
    assert stored_hits(ws) == []
    res = ingest(ws, "local", payload, all_or_nothing=False)
    assert len(res.hits) == 1 and len(res.problems) == 1 and "in the future" in res.problems[0]


@pytest.mark.parametrize("written", ["0{n}", "+86 (0){n}", "tel:+86{n}", "TEL:{n}", "0086-0{n}"])
def test_a_canary_number_behind_a_trunk_prefix_or_in_a_uri_is_the_number(
    ws: Workspace, written: str
) -> None:
    """Fixed-line switches write a call to another area's mobile as 0 + the mobile, and
    some systems a ``tel:`` URI: such a call to a canary number was ignored as "not a
    canary pool number" (session 25's review)."""
    number = tokens_of(ws)["zto"]
    res = ingest(ws, "local", [local_record(f"trunk-{written}", written.format(n=number))])
    assert [(h.contact, h.recipient, h.status) for h in res.hits] == [(number, "zto", "canary")]
    # a 12-digit number that is not 0 + a mobile is still no number of the pool
    other = ingest(ws, "local", [local_record(f"not-{written}", "02" + number[1:])])
    assert other.hits == [] and len(other.ignored) == 1
