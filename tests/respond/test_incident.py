"""Incidents: a sealed, hash-chained event log per incident, and the evidence it accepts."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_workspace
from leaktrace.errors import EvidenceError, InputError, LedgerIntegrityError
from leaktrace.release import release
from leaktrace.respond import exposed
from leaktrace.respond.incident import (
    add_event,
    clean_text,
    incident_ids,
    load_incident,
    open_incident,
    record_evidence,
    record_exposure,
)
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import Workspace, open_workspace

from .conftest import release_copies

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]
UTC8 = timezone(timedelta(hours=8))


@dataclass
class Env:
    ws: Workspace
    dir: Path
    bundle: Path
    leak_from: str


@dataclass
class Other:
    """A second workspace whose zto was released under two key versions."""

    ws: Workspace
    bundle: Path
    alpha: float


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Env:
    root = tmp_path_factory.mktemp("incident")
    ws = make_workspace(root / "ws")
    copies = release_copies(ws, shop, root)
    # cs-firm received every order too: only the marks can tell whose copy this is
    leak = copies["zto"].sample(25, seed=21).select(LEAK_COLS)
    bundle = root / "evidence.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    return Env(ws, root, bundle, "zto")


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Other:
    root = tmp_path_factory.mktemp("other")
    ws = make_workspace(root / "ws")
    small = shop.head(800)
    release(small, recipient="zto", workspace=ws, out=root / "zto-v1.parquet")
    ws.keys.rotate()
    ws = open_workspace(ws.home)
    release(small, recipient="zto", workspace=ws, out=root / "zto-v2.parquet")
    leak = pl.read_parquet(root / "zto-v1.parquet").sample(20, seed=22).select(LEAK_COLS)
    result = trace(leak, workspace=ws)
    bundle = root / "evidence.json"
    write_bundle(build_bundle(ws, result), bundle)
    return Other(ws, bundle, result.alpha)


def _open(ws: Workspace, title: str = "快递面单泄露") -> str:
    return open_incident(ws, title, datetime.now(UTC) - timedelta(hours=3), "用户反映").id


def _count(ws: Workspace, incident_id: str) -> int:
    with sqlite3.connect(ws.home / "ledger.db") as con:
        (n,) = con.execute(
            "select count(*) from incident_events where incident_id = ?", (incident_id,)
        ).fetchone()
    return int(n)


@contextmanager
def _db(ws: Workspace) -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(ws.home / "ledger.db")
    try:
        with con:
            yield con
    finally:
        con.close()


def _rewrite_bundle(src: Path, dst: Path, change: Callable[[Any], object]) -> Path:
    data = json.loads(src.read_text(encoding="utf-8"))
    change(data["body"])
    dst.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return dst


# --- opening, events, round trip -------------------------------------------------------


def test_open_then_events_round_trip(env: Env) -> None:
    discovered = datetime(2024, 6, 1, 2, 30, tzinfo=UTC)
    inc = open_incident(env.ws, "  快递面单\n泄露  ", discovered, "用户 反映\t被诈骗")
    assert re.fullmatch(r"INC-\d{8}-[0-9a-f]{8}", inc.id)
    assert inc.title == "快递面单 泄露" and inc.status == "open" and inc.accused == []
    [opened] = inc.events
    assert (opened.seq, opened.kind) == (1, "opened")
    assert datetime.fromisoformat(opened.body["discovered_at"]) == discovered
    assert opened.body["summary"] == "用户 反映 被诈骗"
    add_event(env.ws, inc.id, "measure", {"text": "已停止向该快递公司提供数据"})
    add_event(env.ws, inc.id, "notified", {"people": 12, "channel": "短信"})
    again = load_incident(env.ws, inc.id)
    assert [(e.seq, e.kind) for e in again.events] == [
        (1, "opened"),
        (2, "measure"),
        (3, "notified"),
    ]
    assert again.events[1].body == {"text": "已停止向该快递公司提供数据"}
    assert again.events[2].body == {"people": 12, "channel": "短信"}
    assert again.head_hash == again.events[-1].event_hash != inc.head_hash
    assert len({e.event_hash for e in again.events}) == 3
    assert _count(env.ws, inc.id) == 3
    assert inc.id in incident_ids(env.ws)
    d = again.as_dict()
    assert [e["seq"] for e in d["events"]] == [1, 2, 3] and d["title"] == "快递面单 泄露"


def test_accused_comes_from_the_recorded_evidence(env: Env, shop: pl.DataFrame) -> None:
    iid = _open(env.ws)
    assert load_incident(env.ws, iid).accused == []
    ev = record_evidence(env.ws, iid, env.bundle)
    inc = load_incident(env.ws, iid)
    assert inc.accused == [env.leak_from]  # the copy the leak was cut from, nobody else
    assert ev.body["accused"] == [env.leak_from]
    assert ev.body["bundle_sha256"] == hashlib.sha256(env.bundle.read_bytes()).hexdigest()
    assert ev.body["rows_read"] == 25 and ev.body["file"] == env.bundle.name
    assert ev.body["log10_p"][env.leak_from] <= math.log10(ev.body["alpha"])
    # the exposure built on the accused: the orders the courier filter selects
    where = env.ws.config.recipients[env.leak_from].where
    want = pl.SQLContext(orders=shop).execute(f"SELECT * FROM orders WHERE {where}", eager=True)
    ex = exposed(env.ws, shop, recipients=inc.accused)
    record_exposure(env.ws, iid, ex.summary(), "0" * 64)
    x = load_incident(env.ws, iid).latest("exposure")
    assert x is not None
    assert x.body["orders"] == want.get_column("order_id").n_unique()
    assert x.body["people"] == want.get_column("phone").n_unique()
    assert x.body["by_recipient"] == {env.leak_from: want.height}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.update(verdict="no recipient identified"), id="verdict"),
        pytest.param(lambda b: b["rows"].update(read=b["rows"]["read"] + 1), id="rows-read"),
        pytest.param(
            lambda b: b["candidates"][0]["classes"][0].update(
                matched=b["candidates"][0]["classes"][0]["matched"] + 1
            ),
            id="a-count",
        ),
        pytest.param(lambda b: b.update(accused=["yto"]), id="accused"),
    ],
)
def test_a_bundle_altered_after_signing_is_refused_and_nothing_recorded(
    env: Env, change: Callable[[Any], object], tmp_path: Path
) -> None:
    iid = _open(env.ws)
    bad = _rewrite_bundle(env.bundle, tmp_path / "altered.json", change)
    assert bad.read_bytes() != env.bundle.read_bytes()
    with pytest.raises(EvidenceError):
        record_evidence(env.ws, iid, bad)
    assert _count(env.ws, iid) == 1
    assert load_incident(env.ws, iid).accused == []


def test_a_bundle_signed_by_another_workspace_is_refused(env: Env, other: Other) -> None:
    iid = _open(env.ws)
    with pytest.raises(EvidenceError, match="public key"):
        record_evidence(env.ws, iid, other.bundle)
    assert _count(env.ws, iid) == 1


def test_a_missing_bundle_records_nothing(env: Env, tmp_path: Path) -> None:
    iid = _open(env.ws)
    with pytest.raises((InputError, FileNotFoundError)):  # the CLI says either in one line
        record_evidence(env.ws, iid, tmp_path / "nope.json")
    assert _count(env.ws, iid) == 1


def test_the_recorded_p_value_is_the_accusing_one_after_a_key_rotation(other: Other) -> None:
    from leaktrace.respond.regulator import regulator_report

    iid = _open(other.ws)
    ev = record_evidence(other.ws, iid, other.bundle)
    assert ev.body["accused"] == ["zto"]
    # accused means the corrected p is at most alpha
    assert ev.body["log10_p"]["zto"] <= math.log10(other.alpha)
    text = regulator_report(other.ws, load_incident(other.ws, iid)).text
    assert "zto 为 10^0.0" not in text and "zto 为 10^-0.0" not in text


# --- tampering in the database ----------------------------------------------------------


def _incident_with_events(ws: Workspace) -> str:
    iid = _open(ws)
    add_event(ws, iid, "measure", {"text": "已停止合作"})
    add_event(ws, iid, "measure", {"text": "已报警"})
    add_event(ws, iid, "notified", {"people": 3, "channel": "短信"})
    assert _count(ws, iid) == 4
    return iid


def _names(iid: str, seq: int) -> str:
    return re.escape(f"incident {iid} event {seq}") + r"\b"


def test_an_altered_body_is_detected(env: Env) -> None:
    iid = _incident_with_events(env.ws)
    with _db(env.ws) as con:
        con.execute(
            "update incident_events set body = ? where incident_id = ? and seq = 2",
            (json.dumps({"text": "已整改完毕"}, ensure_ascii=False), iid),
        )
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 2)):
        load_incident(env.ws, iid)
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 2)):
        add_event(env.ws, iid, "measure", {"text": "再加一条"})  # no append to a broken chain
    assert _count(env.ws, iid) == 4


def test_an_altered_body_with_its_hash_recomputed_fails_the_seal(env: Env) -> None:
    """The administrator can recompute the SHA-256 of an event (the format is public) but
    not the HMAC, which needs the workspace's keys."""
    from leaktrace.respond.incident import _canonical

    iid = _incident_with_events(env.ws)
    with _db(env.ws) as con:
        at, prev = con.execute(
            "select at, prev_hash from incident_events where incident_id = ? and seq = 3",
            (iid,),
        ).fetchone()
        body = json.dumps({"text": "已整改完毕"}, ensure_ascii=False)
        new_hash = hashlib.sha256(_canonical(iid, 3, at, "measure", body, prev)).hexdigest()
        con.execute(
            "update incident_events set body = ?, event_hash = ? where incident_id = ? and seq = 3",
            (body, new_hash, iid),
        )
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 3)):
        load_incident(env.ws, iid)


def test_a_deleted_middle_event_is_detected(env: Env) -> None:
    iid = _incident_with_events(env.ws)
    with _db(env.ws) as con:
        con.execute("delete from incident_events where incident_id = ? and seq = 2", (iid,))
    # the event after the gap is the first one that no longer links
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 3)):
        load_incident(env.ws, iid)


def test_a_deleted_middle_event_renumbered_is_detected(env: Env) -> None:
    iid = _incident_with_events(env.ws)
    with _db(env.ws) as con:
        con.execute("delete from incident_events where incident_id = ? and seq = 2", (iid,))
        con.execute(
            "update incident_events set seq = seq - 1 where incident_id = ? and seq > 2", (iid,)
        )
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 2)):
        load_incident(env.ws, iid)


def _forge(iid: str, seq: int, prev: str, body: dict[str, object]) -> tuple[object, ...]:
    """A forged row, hash right and sealed with a key that is not this workspace's."""
    from leaktrace.respond.incident import _canonical

    at = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    facts = _canonical(iid, seq, at, "measure", text, prev)
    h = hashlib.sha256(facts).hexdigest()
    seal = "v1:" + hmac.new(b"not the workspace key", facts, "sha256").hexdigest()
    return (iid, seq, at, "measure", text, prev, h, seal)


_INSERT = (
    "insert into incident_events (incident_id, seq, at, kind, body, prev_hash, event_hash, seal)"
    " values (?, ?, ?, ?, ?, ?, ?, ?)"
)


def test_a_forged_event_appended_is_detected(env: Env) -> None:
    iid = _incident_with_events(env.ws)
    head = load_incident(env.ws, iid).head_hash
    with _db(env.ws) as con:
        con.execute(_INSERT, _forge(iid, 5, head, {"text": "已全部告知"}))
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 5)):
        load_incident(env.ws, iid)


def test_a_forged_event_inserted_in_the_middle_is_detected(env: Env) -> None:
    iid = _incident_with_events(env.ws)
    second = load_incident(env.ws, iid).events[1].event_hash
    with _db(env.ws) as con:
        for seq in (4, 3):  # make room (unique incident, seq)
            con.execute(
                "update incident_events set seq = ? where incident_id = ? and seq = ?",
                (seq + 1, iid, seq),
            )
        con.execute(_INSERT, _forge(iid, 3, second, {"text": "已全部告知"}))
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 3)):
        load_incident(env.ws, iid)


@pytest.mark.parametrize(
    "seal",
    [
        pytest.param(lambda s: s[:-1] + ("0" if s[-1] != "0" else "1"), id="one-hex-digit"),
        pytest.param(lambda s: "v99" + s[s.index(":") :], id="unknown-key-version"),
        pytest.param(lambda s: "vx:" + s, id="garbage-version"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_a_changed_seal_is_detected(env: Env, seal: Callable[[str], str]) -> None:
    iid = _incident_with_events(env.ws)
    with _db(env.ws) as con:
        (old,) = con.execute(
            "select seal from incident_events where incident_id = ? and seq = 2", (iid,)
        ).fetchone()
        new = seal(old)
        assert new != old
        con.execute(
            "update incident_events set seal = ? where incident_id = ? and seq = 2", (new, iid)
        )
    with pytest.raises(LedgerIntegrityError, match=_names(iid, 2)):
        load_incident(env.ws, iid)


def test_another_workspaces_incident_copied_in_does_not_verify(env: Env, other: Other) -> None:
    theirs = _open(other.ws, "他方事件")
    with sqlite3.connect(other.ws.home / "ledger.db") as con:
        rows = con.execute(
            "select incident_id, seq, at, kind, body, prev_hash, event_hash, seal "
            "from incident_events where incident_id = ?",
            (theirs,),
        ).fetchall()
    con.close()
    assert len(rows) == 1
    with pytest.raises(InputError, match="no incident"):
        load_incident(env.ws, theirs)
    with _db(env.ws) as mine:
        mine.executemany(_INSERT, rows)
    with pytest.raises(LedgerIntegrityError, match=_names(theirs, 1)):
        load_incident(env.ws, theirs)


# --- what is refused --------------------------------------------------------------------


def test_a_closed_incident_refuses_new_events(env: Env) -> None:
    iid = _open(env.ws)
    add_event(env.ws, iid, "closed", {"resolution": "已结案"})
    assert load_incident(env.ws, iid).status == "closed"
    for kind, body in (
        ("measure", {"text": "补充措施"}),
        ("notified", {"people": 1, "channel": "短信"}),
        ("closed", {"resolution": "再次结案"}),
    ):
        with pytest.raises(InputError, match="closed"):
            add_event(env.ws, iid, kind, body)
    with pytest.raises(InputError, match="closed"):
        record_evidence(env.ws, iid, env.bundle)
    assert _count(env.ws, iid) == 2


def test_the_discovery_time_must_not_be_in_the_future(env: Env) -> None:
    before = set(incident_ids(env.ws))
    with pytest.raises(InputError, match="future"):
        open_incident(env.ws, "未来", datetime.now(UTC) + timedelta(hours=1))
    # naive is UTC+8: UTC now + 9 h, naive, is an hour from now
    naive_future = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=9)
    with pytest.raises(InputError, match="future"):
        open_incident(env.ws, "未来", naive_future)
    assert set(incident_ids(env.ws)) == before
    # ... and UTC now + 7 h, naive, was an hour ago
    inc = open_incident(env.ws, "刚才", datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=7))
    assert inc.status == "open"


def test_a_naive_discovery_time_is_utc_plus_8(env: Env) -> None:
    inc = open_incident(env.ws, "本地时间", datetime(2024, 6, 1, 10, 0))
    stored = load_incident(env.ws, inc.id).events[0].body["discovered_at"]
    when = datetime.fromisoformat(stored)
    assert when.utcoffset() == timedelta(hours=8)
    assert when == datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
    other_zone = open_incident(
        env.ws, "别的时区", datetime(2024, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    )
    stored = other_zone.events[0].body["discovered_at"]
    assert datetime.fromisoformat(stored) == datetime(2024, 6, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "标题\x00",
        "标题\x07响铃",
        "\x1b[31m红色",
        "零宽\u200b空格",
        "反向\u202e文字",
        "x" * 2001,
        "长" * 2001,
        "",
        "   \n\t ",
    ],
    ids=["nul", "bell", "escape", "zwsp", "rlo", "2001-ascii", "2001-cjk", "empty", "blank"],
)
def test_bad_text_is_refused(env: Env, text: str) -> None:
    before = set(incident_ids(env.ws))
    with pytest.raises(InputError):
        open_incident(env.ws, text, datetime(2024, 6, 1))
    with pytest.raises(InputError):
        clean_text(text, "the measure")
    assert set(incident_ids(env.ws)) == before
    if text.strip():  # an optional summary may be empty, never hostile or too long
        with pytest.raises(InputError):
            open_incident(env.ws, "标题", datetime(2024, 6, 1), text)
        with pytest.raises(InputError):
            clean_text(text, "the summary", required=False)


def test_text_of_exactly_2000_characters_is_accepted(env: Env) -> None:
    assert clean_text("长" * 2000, "the measure") == "长" * 2000
    inc = open_incident(env.ws, "长" * 2000, datetime(2024, 6, 1))
    assert load_incident(env.ws, inc.id).title == "长" * 2000


@pytest.mark.parametrize("bad_id", ["INC-20240601-00000000", "not-an-id", "INC-" + "f" * 40])
def test_an_unknown_id_is_an_input_error(env: Env, bad_id: str) -> None:
    with pytest.raises(InputError):
        load_incident(env.ws, bad_id)
    with pytest.raises(InputError):
        add_event(env.ws, bad_id, "measure", {"text": "x"})
    assert _count(env.ws, bad_id) == 0


def test_an_unknown_event_kind_is_refused(env: Env) -> None:
    iid = _open(env.ws)
    with pytest.raises(InputError, match="unknown"):
        add_event(env.ws, iid, "deleted", {})
    assert _count(env.ws, iid) == 1


def test_a_second_opening_of_an_id_is_refused(env: Env) -> None:
    iid = _open(env.ws)
    with pytest.raises(InputError):
        add_event(env.ws, iid, "opened", {"title": "冒名", "discovered_at": "", "summary": ""})
    assert load_incident(env.ws, iid).title == "快递面单泄露"
    assert _count(env.ws, iid) == 1


def test_two_workspaces_incidents_do_not_mix(env: Env, other: Other) -> None:
    mine = {_open(env.ws, "本方") for _ in range(3)}
    theirs = {_open(other.ws, "他方") for _ in range(3)}
    assert len(mine) == 3 and len(theirs) == 3 and not mine & theirs
    assert mine <= set(incident_ids(env.ws)) and not theirs & set(incident_ids(env.ws))
    assert theirs <= set(incident_ids(other.ws)) and not mine & set(incident_ids(other.ws))
    for iid in theirs:
        with pytest.raises(InputError):
            load_incident(env.ws, iid)
        assert load_incident(other.ws, iid).title == "他方"


# --- properties -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_clean_text_output_is_printable_single_spaced_and_stable(value: str) -> None:
    try:
        out = clean_text(value, "the text", required=False)
    except InputError:
        # refused only for a character that is neither printable nor whitespace
        assert any(not c.isprintable() and not c.isspace() for c in value)
        return
    assert all(c.isprintable() for c in out)
    assert all(c == " " or not c.isspace() for c in out)
    assert out == out.strip() and "  " not in out
    assert out.split() == value.split()  # the words are kept, in order
    assert clean_text(out, "the text", required=False) == out


_PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(_PRINTABLE, min_size=1, max_size=12), min_size=1, max_size=5))
def test_any_printable_title_round_trips(env: Env, words: list[str]) -> None:
    title = " ".join(words)
    inc = open_incident(env.ws, title, datetime(2024, 6, 1, 9, 0))
    loaded = load_incident(env.ws, inc.id)
    assert loaded.title == title
    assert loaded.events[0].body["title"] == title


def test_the_same_bundle_is_evidence_once(env: Env) -> None:
    iid = _open(env.ws)
    first = record_evidence(env.ws, iid, env.bundle)
    with pytest.raises(InputError, match=f"already evidence of {iid} \\(event {first.seq}\\)"):
        record_evidence(env.ws, iid, env.bundle)
    assert _count(env.ws, iid) == 2
    other = _open(env.ws)  # another incident may cite the same bundle
    record_evidence(env.ws, other, env.bundle)
