"""Audit of canary hits from telecom providers (leaktrace.telecom, ``canary ingest``, the
``POST /api/v1/telecom/{adapter}`` push): once per record, privacy, what is recorded,
hostile input and roles.

Plain tests are behaviour that held under attack; ``xfail(strict=True)`` tests assert the
correct behaviour where it does not hold today (each reason starts with ``BUG:``)."""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.attribution.hits import stored_hits
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.telecom import adapter, ingest
from leaktrace.workspace import Workspace

from .conftest import (
    PHONE_NO,
    Service,
    local_record,
    pns_record,
    tokens_of,
    unissued,
)

OUTSIDE = "13912345678"  # some customer's own number: not in the canary pool
# as given, and as a masked row would hold it (a hit outside the pool is stored masked)
OUTSIDE_FORMS = (OUTSIDE, "139 1234 5678", "139-1234-5678", "1391234", "139****5678")
SCAM_TEXT = "【中通快递】您的包裹丢失，请点击链接办理理赔退款，加QQ 123456"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    home = tmp_path_factory.mktemp("telaudit") / "ws"
    ws = make_workspace(home)
    small = shop.head(400)
    release(small, recipient="zto", workspace=ws)
    release(small, recipient="cs-firm", workspace=ws)
    return home


def _dump(ws: Workspace) -> str:
    """Every row of every table of the ledger database, as text."""
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return "\n".join(
            f"{t}: {row!r}" for t in tables for row in con.execute(f'select * from "{t}"')
        )


def _receipts(ws: Workspace) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        return con.execute("select adapter, event_id from telecom_receipts").fetchall()


def _auth(tokens: dict[str, str], role: str = "telecom") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _push(
    c: httpx.Client, tokens: dict[str, str], body: Any, name: str = "aliyun-pns"
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return c.post(
        f"/api/v1/telecom/{name}",
        content=raw,
        headers={**_auth(tokens), "Content-Type": "application/json"},
    )


# --------------------------------------------------------------------------- 1. once per record


def test_ids_equal_after_parsing_are_one_record_and_different_ids_stay_apart(
    ws: Workspace,
) -> None:
    tok = tokens_of(ws)
    zto = tok["zto"]
    # the same provider record, spelt differently (type, outer and inner whitespace)
    res = ingest(
        ws,
        "aliyun-pns",
        [
            pns_record(123, zto),
            pns_record("123", zto),
            pns_record(" 123\t", zto),
            pns_record("a b", zto),
        ],
    )
    assert (len(res.hits), res.duplicates) == (2, 2)
    again = ingest(
        ws,
        "aliyun-pns",
        [pns_record("a  b", zto), pns_record("a\u3000b", zto), pns_record(123, zto)],
    )
    assert (len(again.hits), again.duplicates) == (0, 3)
    # genuinely different ids are different calls
    other = ingest(
        ws,
        "aliyun-pns",
        [
            pns_record("0123", zto),
            pns_record("1234", zto),
            pns_record("A B", zto),
            pns_record("ab", zto),
        ],
    )
    assert (len(other.hits), other.duplicates) == (4, 0)
    # the same id from another provider (adapter) is another record
    loc = ingest(ws, "local", [local_record("123", zto)])
    assert (len(loc.hits), loc.duplicates) == (1, 0)
    assert len(stored_hits(ws)) == 7
    assert sorted(_receipts(ws)) == sorted(
        [
            ("aliyun-pns", "123"),
            ("aliyun-pns", "a b"),
            ("aliyun-pns", "0123"),
            ("aliyun-pns", "1234"),
            ("aliyun-pns", "A B"),
            ("aliyun-pns", "ab"),
            ("local", "123"),
        ]
    )


def test_a_record_repeated_within_one_payload_is_recorded_once(ws: Workspace) -> None:
    tok = tokens_of(ws)
    rec = local_record("dup", tok["zto"])
    res = ingest(ws, "local", [rec, rec, rec, local_record("dup", tok["cs-firm"])])
    assert (len(res.hits), res.duplicates, res.received) == (1, 3, 4)
    assert res.hits[0].recipient == "zto"  # the first copy is the one kept
    assert len(stored_hits(ws)) == 1


_RACER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from leaktrace.telecom import ingest
    from leaktrace.workspace import open_workspace
    home, start, payload = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
    ws = open_workspace(Path(home))
    time.sleep(max(0.0, start - time.time()))
    res = ingest(ws, "aliyun-pns", payload, all_or_nothing=False)
    print(json.dumps([len(res.hits), res.duplicates]))
    """
)


def test_racing_pushes_from_separate_processes_record_each_once(ws: Workspace) -> None:
    tok = tokens_of(ws)
    pool = unissued(ws, 30)
    records = [pns_record(f"p{i}" if i % 3 else i, pool[i]) for i in range(30)]
    records += [pns_record(f"z{i}", tok["zto"]) for i in range(10)]
    start = time.time() + 4.0
    procs = []
    for k in range(4):
        # each process sends the records in another order, some ids spelt otherwise
        mine = records[k * 7 :] + records[: k * 7]
        if k % 2:
            mine = [r | {"call_id": f" {r['call_id']} "} for r in mine]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _RACER, str(ws.home), str(start), json.dumps(mine)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    counts = [json.loads(o[0]) for o in outs]
    assert sum(c[0] for c in counts) == 40
    assert all(c[0] + c[1] == 40 for c in counts)
    assert len(stored_hits(ws)) == 40 and len(_receipts(ws)) == 40


def test_racing_http_pushes_record_each_once(service: Service) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    payload = [pns_record(f"h{i}", tok["zto"] if i % 2 else tok["cs-firm"]) for i in range(30)]
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def push() -> None:
        try:
            with httpx.Client(base_url=url, timeout=60) as c:
                r = _push(c, tokens, payload)
                assert r.status_code == 200, r.text
                answers.append(r.json())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(a["recorded"] for a in answers) == 30
    assert all(a["recorded"] + a["duplicates"] == 30 for a in answers)
    assert len(stored_hits(ws)) == 30


def test_a_push_that_fails_midway_records_nothing_and_a_retry_records_each_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_mod = importlib.import_module("leaktrace.telecom.ingest")  # the package's
    # ``ingest`` attribute is the function

    tok = tokens_of(ws)
    payload = [local_record(f"m{i}", tok["zto"]) for i in range(6)]
    real = ingest_mod.hit_row
    calls = {"n": 0}

    def failing(*a: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("connection lost")
        return real(*a, **kw)

    monkeypatch.setattr(ingest_mod, "hit_row", failing)
    with pytest.raises(RuntimeError):
        ingest(ws, "local", payload, all_or_nothing=False)
    assert stored_hits(ws) == [] and _receipts(ws) == []  # no receipt without its hit
    monkeypatch.setattr(ingest_mod, "hit_row", real)
    res = ingest(ws, "local", payload, all_or_nothing=False)
    assert (len(res.hits), res.duplicates) == (6, 0)
    assert len(stored_hits(ws)) == 6


def test_a_racing_push_failing_midway_keeps_what_it_committed_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback (one transaction per record, after a unique violation) fails on its
    third record: the two committed are seen as duplicates when the push comes again."""
    ingest_mod = importlib.import_module("leaktrace.telecom.ingest")  # the package's
    # ``ingest`` attribute is the function
    from sqlalchemy.exc import IntegrityError

    tok = tokens_of(ws)
    payload = [local_record(f"f{i}", tok["cs-firm"]) for i in range(6)]
    real = ingest_mod._record_all
    calls = {"n": 0}

    def flaky(*a: Any, racing: bool = False) -> Any:
        if not racing:
            raise IntegrityError("INSERT", {}, Exception("raced"))
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("connection lost")
        return real(*a, racing=racing)

    monkeypatch.setattr(ingest_mod, "_record_all", flaky)
    with pytest.raises(RuntimeError):
        ingest(ws, "local", payload, all_or_nothing=False)
    assert len(stored_hits(ws)) == 2 and len(_receipts(ws)) == 2
    monkeypatch.setattr(ingest_mod, "_record_all", real)
    res = ingest(ws, "local", payload, all_or_nothing=False)
    assert (len(res.hits), res.duplicates) == (4, 2)
    assert len(stored_hits(ws)) == 6


def test_a_failure_after_the_commit_is_retried_without_double_hits(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leaktrace.scam as scam

    tok = tokens_of(ws)
    payload = [
        local_record("s1", tok["zto"], channel="sms", text=SCAM_TEXT),
        local_record("s2", tok["zto"]),
    ]

    def broken(texts: Any) -> Any:
        raise RuntimeError("scam model failed")

    monkeypatch.setattr(scam, "check", broken)
    with pytest.raises(RuntimeError):
        ingest(ws, "local", payload, all_or_nothing=False)
    monkeypatch.undo()
    res = ingest(ws, "local", payload, all_or_nothing=False)
    assert (len(res.hits), res.duplicates) == (0, 2)
    assert len(stored_hits(ws)) == 2


# --------------------------------------------------------------------------- 2. privacy


def test_an_outside_number_is_never_stored_or_quoted(
    service: Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    caplog.set_level(logging.DEBUG)
    push = [
        pns_record("o-1", OUTSIDE),
        pns_record("o-2", "+86 139-1234-5678", sms_number=1),
        pns_record("o-3", OUTSIDE, call_type=4),
        pns_record("o-4", tok["zto"]),
        {"call_id": "o-5", "secret_no": OUTSIDE, "call_type": 9},  # a problem
        {"call_id": "o-6", "secret_no": OUTSIDE, "call_type": 1},  # no call_time
    ]
    with httpx.Client(base_url=url, timeout=60) as c:
        r = _push(c, tokens, push)
        r2 = _push(c, tokens, push)
        r3 = _push(c, tokens, [local_record("o-7", OUTSIDE, text=SCAM_TEXT)], name="local")
    assert r.status_code == 200 and r2.status_code == 200 and r3.status_code == 200
    d = r.json()
    assert (d["recorded"], d["ignored"], len(d["problems"])) == (1, 3, 2)
    f = tmp_path / "cdr.jsonl"
    f.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in push[:4]), "utf-8")
    plain = run_cli("canary", "ingest", str(f), "--adapter", "aliyun-pns", home=ws.home)
    as_json = run_cli("canary", "ingest", str(f), "--adapter", "aliyun-pns", "--json", home=ws.home)
    assert plain.returncode == 0 and as_json.returncode == 0, plain.stderr + as_json.stderr
    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    assert any(rec.name == "leaktrace.access" for rec in caplog.records)
    where = {
        "database": _dump(ws),
        "http": r.text + r2.text + r3.text,
        "cli": plain.stdout + plain.stderr + as_json.stdout + as_json.stderr,
        "log": logs,
    }
    for place, text in where.items():
        for form in (*OUTSIDE_FORMS, PHONE_NO):
            assert form not in text, (place, form)


def test_the_providers_answer_never_names_a_recipient(service: Service) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        releases = [r[0] for r in con.execute("select distinct release_id from canary_tokens")]
    pool = unissued(ws)[0]
    with httpx.Client(base_url=url, timeout=60) as c:
        issued = _push(c, tokens, [pns_record("n-1", tok["zto"])])
        to_pool = _push(c, tokens, [pns_record("n-2", pool)])
        analyst = c.post(
            "/api/v1/telecom/local",
            json=[local_record("n-3", tok["cs-firm"])],
            headers=_auth(tokens, "analyst"),
        )
    # a canary number and a never-issued pool number get the same answer: counts only
    assert (
        issued.json()
        == to_pool.json()
        == {
            "code": 0,
            "msg": "接收成功",
            "recorded": 1,
            "received": 1,
            "duplicates": 0,
            "ignored": 0,
            "problems": [],
            "problems_total": 0,
        }
    )
    assert analyst.json() == {
        "ok": True,
        "recorded": 1,
        "received": 1,
        "duplicates": 0,
        "ignored": 0,
        "problems": [],
        "problems_total": 0,
    }
    for r in (issued, to_pool, analyst):
        for secret in (*ws.config.recipients, "中通", "外包客服", *releases, "canary", "pool"):
            assert secret not in r.text, secret


def test_a_message_to_an_outside_number_is_not_scanned_or_reported(
    ws: Workspace, tmp_path: Path
) -> None:
    res = ingest(ws, "local", [local_record("c-9", OUTSIDE, channel="sms", text=SCAM_TEXT)])
    assert not res.hits and len(res.ignored) == 1
    assert res.scam == []
    f = tmp_path / "outside.jsonl"
    f.write_text(json.dumps(local_record("c-8", OUTSIDE, channel="sms", text=SCAM_TEXT)) + "\n")
    r = run_cli("canary", "ingest", str(f), home=ws.home)
    assert r.returncode == 0 and "scam" not in r.stdout


def test_a_problem_never_quotes_a_number_from_the_record(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    url, _ws, tokens = service
    caplog.set_level(logging.INFO)
    shifted = pns_record("x-1", "北京", call_type=OUTSIDE, peer_no="")
    with httpx.Client(base_url=url, timeout=60) as c:
        r = _push(c, tokens, [shifted])
    assert r.status_code == 200 and len(r.json()["problems"]) == 1
    logs = "\n".join(rec.getMessage() for rec in caplog.records)
    assert OUTSIDE not in r.text and OUTSIDE not in logs


# --------------------------------------------------------------------------- 3. what is recorded


def test_times_without_a_zone_are_beijing_time_and_zones_are_kept(ws: Workspace) -> None:
    tok = tokens_of(ws)
    z = tok["zto"]
    res = ingest(
        ws,
        "local",
        [
            local_record("t1", z, at="2026-11-28 00:30:00"),  # Beijing: the 27th in UTC
            local_record("t2", z, at="2026-11-28T00:30:00Z"),
            local_record("t3", z, at="2026-11-28T00:30:00+09:00"),
            local_record("t4", z, at="2026/11/28 08:00:00"),
        ],
    )
    pns = ingest(
        ws,
        "aliyun-pns",
        [
            pns_record("t5", z, call_time="2026-01-01 07:59:59"),
            pns_record("t6", z, call_time="2026-11-28"),
        ],
    )
    got = {h.id: h.at for h in stored_hits(ws)}
    want = [
        datetime(2026, 11, 27, 16, 30, tzinfo=UTC),
        datetime(2026, 11, 28, 0, 30, tzinfo=UTC),
        datetime(2026, 11, 27, 15, 30, tzinfo=UTC),
        datetime(2026, 11, 28, 0, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 27, 16, 0, tzinfo=UTC),
    ]
    assert [got[h.id] for h in [*res.hits, *pns.hits]] == want
    assert [h.at for h in [*res.hits, *pns.hits]] == want
    # times that are no time, or no time in UTC, are problems
    _, _, problems = adapter("local").read(
        [
            local_record("b1", z, at="2026-02-30 10:00:00"),
            local_record("b2", z, at="0001-01-01 07:00:00"),
            local_record("b3", z, at=1764311405),
            local_record("b4", z, at="yesterday"),
        ]
    )
    assert [p.split(":")[0] for p in problems] == ["record 1", "record 2", "record 3", "record 4"]
    assert all("at is missing or not a date/time" in p for p in problems)


def test_aliyun_call_types_sms_and_caller(ws: Workspace) -> None:
    tok = tokens_of(ws)
    z = tok["zto"]
    payload = [
        pns_record("k0", z, call_type=0),  # the platform's own line calling out: left aside
        pns_record("k0s", z, call_type="0"),
        pns_record("k1", z, call_type=1),
        pns_record("k1s", z, call_type=" 1 "),
        pns_record("k4", z, call_type=4),
        pns_record("k2", z, call_type=2),
        pns_record("k3", z, call_type=3),
        pns_record("k5", z, call_type=5),
        pns_record("km", z, call_type=-1),
        pns_record("kb", z, call_type=True),
        pns_record("kf", z, call_type=1.0),
        pns_record("kn", z, call_type=None),
    ]
    records, ignored, problems = adapter("aliyun-pns").read(payload)
    # 3 is an SMS received by X, 2 one sent by A through X (the message-queue version of
    # the report documents both)
    assert [r.event_id for r in records] == ["k1", "k1s", "k4", "k3"]
    assert [r.channel for r in records] == ["call", "call", "call", "sms"]
    assert ignored == [f"record {i}: not a call or message to the number" for i in (1, 2, 6)]
    assert [p.split(":")[0] for p in problems] == [f"record {i}" for i in range(8, 13)]
    assert {r.caller for r in records} == {"15200001504"}  # peer_no, never phone_no
    sms = [
        pns_record("m1", z, sms_number=70),
        pns_record("m2", z, sms_number="1"),
        pns_record("m3", z, sms_number=0),
        pns_record("m4", z, sms_number="0"),
        pns_record("m5", z, sms_number=""),
        pns_record("m6", z, sms_number=None),
        pns_record("m7", z),
    ]
    res = ingest(ws, "aliyun-pns", sms)
    assert [h.channel for h in res.hits] == ["sms", "sms", "call", "call", "call", "call", "call"]
    assert all(h.caller == "15200001504" and h.recipient == "zto" for h in res.hits)


def test_a_boolean_sms_number_is_not_an_sms(ws: Workspace) -> None:
    tok = tokens_of(ws)
    records, _ignored, problems = adapter("aliyun-pns").read(
        [pns_record("b1", tok["zto"], sms_number=False)]
    )
    assert problems or [r.channel for r in records] == ["call"]


def test_each_hit_names_the_right_recipient_whatever_the_number_spelling(ws: Workspace) -> None:
    tok = tokens_of(ws)
    z, cs = tok["zto"], tok["cs-firm"]
    pool = unissued(ws)[0]
    spelt = [
        f"+86 {z[:3]} {z[3:7]} {z[7:]}",
        f"0086-{z}",
        f"86{z}",
        "".join(chr(ord(ch) + 0xFEE0) for ch in cs),  # full-width digits
        f" {cs} ",
        pool,
        z + "0",  # 12 digits: another number
    ]
    res = ingest(ws, "aliyun-pns", [pns_record(f"r{i}", n) for i, n in enumerate(spelt)])
    assert [(h.contact, h.status, h.recipient) for h in res.hits] == [
        (z, "canary", "zto"),
        (z, "canary", "zto"),
        (z, "canary", "zto"),
        (cs, "canary", "cs-firm"),
        (cs, "canary", "cs-firm"),
        (pool, "pool", ""),
    ]
    assert len(res.ignored) == 1
    # read back from the sealed table, resolved again against the ledger
    stored = stored_hits(ws)
    assert [(h.status, h.recipient) for h in stored] == [(h.status, h.recipient) for h in res.hits]
    assert all(h.release_id for h in stored if h.status == "canary")


# --------------------------------------------------------------------------- 4. hostile input: HTTP


def test_hostile_pushes_get_one_line_4xx_never_500(service: Service) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    big = json.dumps([pns_record(f"b{i}", tok["zto"]) for i in range(9000)]).encode()
    assert len(big) > 1 << 20

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    cases: list[tuple[bytes, int, str]] = [
        (big, 413, "larger than the limit"),
        (b"[" * 300_000 + b"]" * 300_000, 400, "malformed request"),
        (b'[{"call_id": "\xff\xfe"}]', 400, "malformed request"),
        (b"\xff\xfe\x00", 400, "malformed request"),
        (b'[{"call_id": ' + b"1" * 5000 + b"}]", 400, "malformed request"),
        (b"{not json", 400, "malformed request"),
        (b"", 400, "malformed request"),
        (b"null", 400, ""),
        (b'"records"', 400, "JSON array"),
        (b"5", 400, "JSON array"),
        (b"true", 400, "JSON array"),
        (b"NaN", 400, "JSON array"),
        (b'{"records": []}', 400, "JSON array"),
    ]
    with httpx.Client(base_url=url, timeout=120) as c:
        for body, status, says in cases:
            r = _push(c, tokens, body)
            assert r.status_code == status, (body[:40], r.text)
            assert list(r.json()) == ["error"] and says in r.json()["error"], body[:40]
            assert "\n" not in r.json()["error"]
        r = c.post(
            "/api/v1/telecom/aliyun-pns",
            content=chunks(),
            headers={**_auth(tokens), "Content-Type": "application/json"},
        )
        assert r.status_code == 413 and "error" in r.json()
        r = _push(c, tokens, b"[]")
        assert r.status_code == 200 and r.json()["received"] == 0
    assert stored_hits(ws) == []


def test_a_push_records_readable_records_and_lists_every_bad_one(service: Service) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    z = tok["zto"]
    bad = [
        pns_record(["x"], z),
        pns_record({"a": 1}, z),
        pns_record(True, z),
        pns_record(1.5, z),
        pns_record(float("nan"), z),
        pns_record("x" * 101, z),
        pns_record("q1", "1" * 300),
        pns_record("q2", z, peer_no=[1]),
        pns_record("q3", z, peer_no="1" * 201),
        pns_record("q4", z, call_time=5),
        pns_record("q5", z, call_time=["2026-11-28 20:11:29"]),
        pns_record("q6", z, call_type=[1]),
        pns_record("q7", z, call_type=float("inf")),
        "not an object",
        [],
        None,
        1,
    ]
    good = [pns_record("📞-1", z), pns_record("𠀀-2", tok["cs-firm"], sms_number=3)]
    payload = [good[0], *bad, good[1]]
    body = json.dumps(payload, ensure_ascii=False).encode()  # NaN/Infinity as JS spells them
    with httpx.Client(base_url=url, timeout=60) as c:
        r = _push(c, tokens, body)
        assert r.status_code == 200, r.text
        d = r.json()
        assert (d["recorded"], d["received"], d["code"]) == (2, len(payload), 0)
        assert [p.split(":")[0] for p in d["problems"]] == [
            f"record {i}" for i in range(2, len(bad) + 2)
        ]
        assert all("\n" not in p and len(p) < 120 for p in d["problems"])
        r = _push(c, tokens, body)
        assert (r.json()["recorded"], r.json()["duplicates"]) == (0, 2)
        long_text = local_record("L", z, text="诈" * 5001)
        r = _push(c, tokens, [long_text, local_record("L2", z, text="😀" * 5000)], name="local")
        assert r.status_code == 200
        assert r.json()["recorded"] == 1
        assert r.json()["problems"] == ["record 1: text is longer than 5000 characters"]
    assert sorted(h.channel for h in stored_hits(ws)) == ["call", "call", "sms"]


@pytest.mark.parametrize("field", ["call_id", "peer_no"])
def test_a_lone_surrogate_in_one_record_does_not_lose_the_push(
    service: Service, field: str
) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    bad = pns_record("s-2", tok["zto"]) | {field: "15200001504\ud800"}
    body = json.dumps([pns_record("s-1", tok["zto"]), bad]).encode()  # ASCII: "\\ud800" escape
    with httpx.Client(base_url=url, timeout=60) as c:
        r = _push(c, tokens, body)
    assert r.status_code < 500, r.text
    assert r.status_code == 200 and r.json()["recorded"] == 1
    assert len(r.json()["problems"]) == 1
    assert len(stored_hits(ws)) == 1


def test_a_nul_in_a_record_is_not_stored_raw(ws: Workspace) -> None:
    tok = tokens_of(ws)
    res = ingest(
        ws,
        "local",
        [
            local_record("n\x00-1", tok["zto"]),
            local_record("n-2", tok["zto"], **{"from": "1520000\x001504"}),
        ],
        all_or_nothing=False,
    )
    assert res.hits or res.problems
    assert "\\x00" not in _dump(ws)


# --------------------------------------------------------------------------- 4. hostile input: CLI


def _write(path: Path, rows: list[dict[str, Any]], encoding: str, *, array: bool) -> Path:
    if array:
        text = json.dumps(rows, ensure_ascii=False, indent=1)
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def test_cli_reads_gbk_utf16_bom_and_blank_lines(ws: Workspace, tmp_path: Path) -> None:
    tok = tokens_of(ws)
    z = tok["zto"]
    files = [
        _write(
            tmp_path / "gbk.json",
            [local_record("g1", z, channel="sms", text=SCAM_TEXT, **{"from": "中通客服"})],
            "gbk",
            array=True,
        ),
        _write(
            tmp_path / "u16.jsonl",
            [local_record("u1", z, channel="sms", text=SCAM_TEXT)],
            "utf-16",
            array=False,
        ),
        _write(tmp_path / "u8sig.json", [local_record("s1", z)], "utf-8-sig", array=True),
    ]
    crlf = tmp_path / "blank.jsonl"
    crlf.write_bytes(
        b"\xef\xbb\xbf\r\n\r\n"
        + json.dumps(local_record("j1", z)).encode()
        + b"\r\n   \r\n\t\n"
        + json.dumps(local_record("j2", z)).encode()
        + b"\r\n\r\n"
    )
    files.append(crlf)
    for f in files:
        r = run_cli("canary", "ingest", str(f), "--json", home=ws.home)
        assert r.returncode == 0, (f.name, r.stderr)
        out = json.loads(r.stdout)
        assert out["recorded"] >= 1 and not out["problems"], f.name
        for s in out["scam"]:
            assert s["is_scam"] and s["fraud_type"], f.name  # the text was read, not mojibake
    callers = {h.caller for h in stored_hits(ws)}
    assert "中通客服" in callers
    assert len(stored_hits(ws)) == 5


def test_cli_bad_files_give_one_line_exit_2_and_record_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    tok = tokens_of(ws)
    good = json.dumps(local_record("ok-1", tok["zto"]))
    cases: dict[str, tuple[bytes, str]] = {
        "bad-record.jsonl": (
            (good + "\n" + json.dumps(local_record(["x"], tok["zto"])) + "\n").encode(),
            "record 2: id must be text",
        ),
        "surrogate.jsonl": (
            (
                good + "\n" + json.dumps(local_record("s", tok["zto"], **{"from": "\ud800"})) + "\n"
            ).encode(),
            "not valid Unicode",
        ),
        "deep.json": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        "deep.jsonl": ((good + "\n").encode() + b"[" * 100_000 + b"]" * 100_000, "deep.jsonl:2"),
        "huge-int.jsonl": (
            (good + '\n{"id": ' + "1" * 5000 + "}\n").encode(),
            "more than 4300 digits",
        ),
        "nan-id.jsonl": (
            (good + '\n{"id": NaN, "at": "2026-11-28", "channel": "call", "to": "1"}\n').encode(),
            "record 2: id must be text",
        ),
        "array-of-scalars.json": (b"[1, 2]", "record 1: not a JSON object"),
        "truncated.json": (b'[{"id": "x"', "not valid JSON"),
        "binary.bin": (bytes(range(256)) * 4, "not a text file"),
        "empty.json": (b"   \n", "empty"),
        "too-long.jsonl": (
            (good + "\n" + json.dumps(local_record("y" * 101, tok["zto"])) + "\n").encode(),
            "record 2: id is longer than 100 characters",
        ),
    }
    for name, (content, says) in cases.items():
        f = tmp_path / name
        f.write_bytes(content)
        r = run_cli("canary", "ingest", str(f), home=ws.home)
        assert r.returncode == 2, (name, r.stderr)
        assert says in r.stderr, (name, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, name
        assert tok["zto"] not in r.stderr  # no record's content in the message
    assert stored_hits(ws) == []
    with pytest.raises(InputError):
        ingest(ws, "local", [local_record("ok-1", tok["zto"]), local_record("ok-2", "")])
    assert stored_hits(ws) == []


def test_cli_json_output_failure_does_not_follow_a_commit(ws: Workspace, tmp_path: Path) -> None:
    tok = tokens_of(ws)
    f = tmp_path / "mixed.jsonl"
    f.write_text(
        json.dumps(local_record("good", tok["zto"]))
        + "\n"
        + json.dumps(local_record("x\ud800", OUTSIDE))
        + "\n"
    )
    r = run_cli("canary", "ingest", str(f), "--json", home=ws.home)
    recorded = len(stored_hits(ws))
    # either the file is refused and nothing is recorded, or it is recorded and said so
    assert (r.returncode, recorded) in ((2, 0), (0, 1)), (r.returncode, recorded, r.stderr)


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x85"])
def test_cli_json_lines_with_a_unicode_line_separator_inside_a_text(
    ws: Workspace, tmp_path: Path, sep: str
) -> None:
    tok = tokens_of(ws)
    f = _write(
        tmp_path / "sep.jsonl",
        [
            local_record("ls-1", tok["zto"], channel="sms", text=f"第一行{sep}第二行"),
            local_record("ls-2", tok["zto"]),
        ],
        "utf-8",
        array=False,
    )
    r = run_cli("canary", "ingest", str(f), "--json", home=ws.home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recorded"] == 2


# --------------------------------------------------------------------------- 5. roles


def test_only_telecom_and_analyst_tokens_push(service: Service) -> None:
    url, ws, tokens = service
    tok = tokens_of(ws)
    with httpx.Client(base_url=url, timeout=60) as c:
        for i, role in enumerate(("telecom", "analyst")):
            r = c.post(
                "/api/v1/telecom/local",
                json=[local_record(f"w{i}", tok["zto"])],
                headers=_auth(tokens, role),
            )
            assert r.status_code == 200 and r.json()["recorded"] == 1, role
        for role in ("agent", "recipient"):
            r = c.post(
                "/api/v1/telecom/local",
                json=[local_record("w9", tok["zto"])],
                headers=_auth(tokens, role),
            )
            assert r.status_code == 403 and list(r.json()) == ["error"], role
        for headers in (
            {},
            {"Authorization": "Bearer lt_forged"},
            {"Authorization": f"Basic {tokens['telecom']}"},
            {"Cookie": f"leaktrace_token={tokens['telecom']}"},  # the API takes no cookie
        ):
            r = c.post(
                "/api/v1/telecom/local", json=[local_record("w9", tok["zto"])], headers=headers
            )
            assert r.status_code == 401, headers
    assert len(stored_hits(ws)) == 2


def test_a_telecom_token_can_call_nothing_else(service: Service) -> None:
    url, _ws, tokens = service
    auth = _auth(tokens)
    cookie = {"leaktrace_token": tokens["telecom"]}
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as c:
        api = [
            c.get("/api/v1/releases", headers=auth),
            c.get("/api/v1/releases?recipient=zto", headers=auth),
            c.get("/api/v1/ledger/verify", headers=auth),
            c.post(
                "/api/v1/trace",
                headers=auth,
                files={"file": ("leak.csv", b"phone\n13912345678\n", "text/csv")},
            ),
            c.post("/api/v1/resolve", headers=auth, json={"alias": "A1", "recipient": "zto"}),
            c.post("/api/v1/reports", headers=auth, json=[{"victim_phone": OUTSIDE}]),
            c.get("/api/v1/incidents", headers=auth),
            c.get("/api/v1/incidents/inc-1", headers=auth),
            c.post(
                "/api/v1/incidents/inc-1/cases",
                headers=auth,
                json={
                    "order_id": "o1",
                    "phone": OUTSIDE,
                    "occurred": "2026-11-28",
                    "loss": 1.0,
                    "police_receipt": "r1",
                },
            ),
        ]
        for r in api:
            assert r.status_code == 403, (r.request.url, r.text)
            assert r.json() == {"error": "a telecom token may not do this"}
        login = c.post("/login", data={"token": tokens["telecom"]})
        assert login.status_code == 401 and "leaktrace_token" not in login.headers.get(
            "set-cookie", ""
        )
        c.cookies.update(cookie)
        pages = [
            c.get("/dashboard"),
            c.get("/cases"),
            c.post("/cases", data={"incident": "inc-1"}),
            c.post("/dashboard/verify"),
            c.get("/dashboard/incidents/inc-1"),
            c.post("/dashboard/trace", files={"file": ("leak.csv", b"phone\n1\n", "text/csv")}),
        ]
        for r in pages:
            assert r.status_code == 303 and r.headers["location"] == "/login", r.request.url
