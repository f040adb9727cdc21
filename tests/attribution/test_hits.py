"""Canary hits name their token's release and recipient; pool and foreign contacts are kept."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from leaktrace.attribution.attribute import AttributionResult, attribute
from leaktrace.attribution.hits import record_hit
from leaktrace.ledger import Ledger
from leaktrace.workspace import Workspace

from .conftest import soon


def test_hit_names_release_and_recipient(ws: Workspace) -> None:
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    h = record_hit(ws, contact=tok["contact"], channel="call", at=soon())
    assert (h.status, h.recipient, h.release_id) == ("canary", "yto", tok["release_id"])
    used = {t["contact"] for t in Ledger(ws).canary_tokens()}
    spare = next(p for p in ws.config.canary_pool.phone_numbers() if p not in used)
    assert record_hit(ws, contact=spare, channel="sms", at=soon()).status == "pool"
    assert record_hit(ws, contact="13800000000", channel="call", at=soon()).status == ("not_canary")
    # one plain hit: chance |C_R|/|pool| — honest, not decisive at 1e-9
    res = attribute(ws)
    assert res.accused == []
    yto = next(c for c in res.candidates if c.recipient == "yto")
    assert yto.canary_hits == 1 and yto.canary_pool_hits == 2


def test_hit_with_persona_counts_as_a_plain_hit(ws: Workspace) -> None:
    """ "The caller knew the persona" is an operator's note about details that may be a
    masked name and a district, shared with real customers: it claims no chance of its
    own, so one such call accuses nobody, exactly as one plain call."""
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "sms")
    record_hit(ws, contact=tok["contact"], channel="call", at=soon(), knew=True)
    knew = attribute(ws)
    assert knew.accused == []
    sms = next(c for c in knew.candidates if c.recipient == "sms")
    assert sms.canary_hits == 1
    plain = next(c for c in _plain_twin(ws).candidates if c.recipient == "sms")
    assert sms.log10_p_family["canaries"] == plain.log10_p_family["canaries"]


def _plain_twin(ws: Workspace) -> AttributionResult:
    """The same hits recorded again without ``knew``."""
    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from leaktrace.attribution.hits import stored_hits
    from leaktrace.attribution.store import CanaryHitRecord, engine_for

    hits = stored_hits(ws)
    with Session(engine_for(ws)) as s, s.begin():
        s.execute(delete(CanaryHitRecord))
    for h in hits:
        record_hit(ws, contact=h.contact, channel=h.channel, at=h.at.isoformat())
    return attribute(ws)


def _duplicate_contact(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> dict[str, str]:
    """An old ledger in which one pool contact was issued to yto AND to sms."""
    real = Ledger.canary_tokens
    tokens = real(Ledger(ws))
    tok = next(t for t in tokens if t["recipient"] == "yto")
    other = next(t for t in tokens if t["recipient"] == "sms")
    dup = dict(other, contact=tok["contact"])

    def fake(self: Ledger) -> list[dict[str, str]]:
        return [*real(self), dup]

    real_of = Ledger.canary_tokens_of

    def fake_of(self: Ledger, contacts: Sequence[str]) -> list[dict[str, str]]:
        return [*real_of(self, contacts), *([dup] if dup["contact"] in contacts else [])]

    monkeypatch.setattr(Ledger, "canary_tokens", fake)
    monkeypatch.setattr(Ledger, "canary_tokens_of", fake_of)
    return tok


def test_contact_of_several_releases_names_nobody(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = _duplicate_contact(monkeypatch, ws)
    h = record_hit(ws, contact=tok["contact"], channel="call", at=soon(), knew=True)
    assert (h.status, h.recipient, h.release_id) == ("ambiguous", "", "")
    assert "several releases" in h.reason
    res = attribute(ws)
    assert res.accused == []
    assert all(c.canary_hits == 0 for c in res.candidates)
    assert any("several releases" in f["reason"] for f in res.flagged)
    assert "several releases" in res.explanation["en"]


def test_stored_hit_is_re_resolved_when_its_contact_is_shared(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    h = record_hit(ws, contact=tok["contact"], channel="call", at=soon(), knew=True)
    assert h.status == "canary"
    _duplicate_contact(monkeypatch, ws)
    res = attribute(ws)
    assert res.accused == []
    assert any(f["status"] == "ambiguous canary hit" for f in res.flagged)


def test_a_contact_outside_the_pool_is_kept_masked(ws: Workspace) -> None:
    """It names no release and is usually someone's own number: only its masked form is
    stored and shown (secrets audit: a customer's phone was stored in clear)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from leaktrace.attribution.store import CanaryHitRecord, engine_for

    # the channel is folded to its stored form ("call\nsms" was stored as "call sms" until
    # session 19 closed the set of channels)
    h = record_hit(ws, contact="18656063285", channel="\tCALL\n", at=soon())
    assert (h.status, h.contact, h.channel) == ("not_canary", "186****3285", "call")
    with Session(engine_for(ws)) as s:
        stored = s.scalars(select(CanaryHitRecord.contact)).all()
    assert "18656063285" not in stored and "186****3285" in stored


def test_stored_hit_rows_are_not_trusted(ws: Workspace) -> None:
    """The hit table is outside the signed chain: a hit is resolved again from its contact
    against the signed canary tokens. An audit redirected stored hits to another partner,
    and inserted 'canary' hits on contacts no release holds: attribute accused whom the
    rows named."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from leaktrace.attribution.hits import stored_hits
    from leaktrace.attribution.store import CanaryHitRecord, engine_for

    tokens = Ledger(ws).canary_tokens()
    yto = next(t for t in tokens if t["recipient"] == "yto")
    sms = next(t for t in tokens if t["recipient"] == "sms")
    record_hit(ws, contact=yto["contact"], channel="call", at=soon())
    fake = record_hit(ws, contact="19999999999", channel="call", at=soon())
    with Session(engine_for(ws)) as s, s.begin():
        s.execute(update(CanaryHitRecord).values(
            status="canary", recipient="sms", release_id=sms["release_id"]
        ))  # fmt: skip
    hits = {h.id: h for h in stored_hits(ws)}
    assert (hits[fake.id].status, hits[fake.id].recipient) == ("not_canary", "")
    real = next(h for h in hits.values() if h.id != fake.id)
    assert (real.status, real.recipient, real.release_id) == ("canary", "yto", yto["release_id"])
    sms_candidate = next(c for c in attribute(ws).candidates if c.recipient == "sms")
    assert sms_candidate.canary_hits == 0


def test_hit_rows_written_without_the_workspace_keys_are_not_counted(ws: Workspace) -> None:
    """A hit on a real canary contact, inserted by someone who can write the database but
    has no workspace keys (or altered after recording), carries no valid seal: it is
    flagged and not counted (ledger audit: inserted hits accused whom they named)."""
    from sqlalchemy import insert, update
    from sqlalchemy.orm import Session

    from leaktrace.attribution.hits import stored_hits
    from leaktrace.attribution.store import CanaryHitRecord, engine_for

    sms = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "sms")
    genuine = record_hit(ws, contact=sms["contact"], channel="call", at=soon())
    with Session(engine_for(ws)) as s, s.begin():
        for i in range(4):
            s.execute(insert(CanaryHitRecord).values(
                at=f"2030-01-0{i + 2}T10:00:00+00:00", channel="call", caller="", contact=sms["contact"],
                knew=False, status="canary", recipient="sms", release_id=sms["release_id"], reason="",
            ))  # fmt: skip
    hits = stored_hits(ws)
    assert [h.status for h in hits].count("unsealed") == 4
    assert next(h for h in hits if h.id == genuine.id).status == "canary"
    res = attribute(ws)
    assert next(c for c in res.candidates if c.recipient == "sms").canary_hits == 1
    assert sum(f["status"] == "unsealed canary hit" for f in res.flagged) == 4
    with Session(engine_for(ws)) as s, s.begin():  # altering a sealed row breaks its seal
        s.execute(update(CanaryHitRecord).where(CanaryHitRecord.id == genuine.id).values(
            at="2030-02-01T10:00:00+00:00"
        ))  # fmt: skip
    assert next(h for h in stored_hits(ws) if h.id == genuine.id).status == "unsealed"


def test_a_database_from_before_sealed_hits_gets_the_column(ws: Workspace) -> None:
    import sqlite3

    from leaktrace.attribution import store

    record_hit(ws, contact="19999999999", channel="call", at=soon())
    con = sqlite3.connect(ws.home / "ledger.db")
    con.execute("ALTER TABLE canary_hits DROP COLUMN seal")
    con.commit()
    con.close()
    store._ENGINES.clear()
    hits = __import__("leaktrace.attribution.hits", fromlist=["x"]).stored_hits(ws)
    assert [h.status for h in hits] == ["unsealed"]
    assert record_hit(ws, contact="19999999998", channel="call", at=soon(10)).status == "not_canary"


def test_an_altered_hit_time_is_flagged_not_fatal(ws: Workspace) -> None:
    """A hit row whose time was rewritten into something that is no time at all (or moved
    before ``--since``) is one flagged, uncounted row — in no campaign, whatever ``since``
    says — not an error for the whole run."""
    import sqlite3
    from contextlib import closing
    from datetime import UTC, datetime

    from leaktrace.attribution.reports import add_reports, parse_report_obj

    report = {"victim_phone": "13900000000", "reported_at": soon(), "caller": "021-1"}
    add_reports(ws, [parse_report_obj(report, "r:1")])  # a campaign of caller 021-1
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    bad = record_hit(ws, contact=tok["contact"], channel="call", at=soon(), caller="021-1")
    moved = record_hit(ws, contact=tok["contact"], channel="call", at=soon(10), caller="021-1")
    with closing(sqlite3.connect(ws.home / "ledger.db")) as con:
        con.execute("update canary_hits set at = 'not a time' where id = ?", (bad.id,))
        con.execute("update canary_hits set at = '2001-01-01' where id = ?", (moved.id,))
        con.commit()
    for res in (attribute(ws), attribute(ws, since=datetime(2099, 1, 1, tzinfo=UTC))):
        hits = sorted(f["report"] for f in res.flagged if str(f["report"]).startswith("canary"))
        assert hits == [f"canary hit {bad.id}", f"canary hit {moved.id}"]
        assert res.unsealed == {"reports": 0, "canary_hits": 2}
        assert "2 canary hit(s) without a valid seal" in res.explanation["en"]
        assert all(c.canary_hits == 0 for c in res.candidates)
        assert not any(e["event"] == "canary hit" for c in res.campaigns for e in c["timeline"])
    assert [c["callers"] for c in attribute(ws).campaigns] == [["0211"]]


def test_a_contact_counts_once_however_often_it_is_recorded(ws: Workspace) -> None:
    """Repeat calls to one canary number are not independent draws, and a hit row copied
    in the database keeps a valid seal (the seal cannot cover the row id): four records of
    one call used to accuse the courier at 1e-9, and a copied row counted again."""
    import sqlite3

    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    for hour in range(10, 14):
        record_hit(ws, contact=tok["contact"], channel="call", at=soon(hour - 10))
    with sqlite3.connect(ws.home / "ledger.db") as con:
        cols = "at, channel, caller, contact, knew, status, recipient, release_id, reason, seal"
        for _ in range(6):
            con.execute(f"insert into canary_hits ({cols}) select {cols} from canary_hits limit 1")
    res = attribute(ws)
    assert res.accused == []
    yto = next(c for c in res.candidates if c.recipient == "yto")
    assert (yto.canary_hits, yto.canary_pool_hits) == (1, 1)


def test_an_unsealed_hit_prints_no_terminal_escapes(ws: Workspace) -> None:
    import sqlite3

    from leaktrace.attribution.hits import stored_hits

    record_hit(ws, contact="19999999999", channel="call", at=soon())
    with sqlite3.connect(ws.home / "ledger.db") as con:
        con.execute(
            "update canary_hits set channel = char(27) || ']0;pwned' || char(7), seal = null"
        )
    [h] = stored_hits(ws)
    assert h.status == "unsealed" and h.channel.isprintable() and "\x1b" not in h.channel


def test_a_hit_dated_in_the_future_is_refused(ws: Workspace) -> None:
    """A mistyped year is no call anybody received (`canary hit --at 2027-…` was kept)."""
    from leaktrace.attribution.hits import stored_hits
    from leaktrace.errors import InputError

    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    # echoed as typed (platform time), not as the UTC instant of the day before
    with pytest.raises(InputError, match=r"--at 2099-01-01 00:00:00\+08:00 is in the future"):
        record_hit(ws, contact=tok["contact"], channel="call", at="2099-01-01T00:00")
    assert stored_hits(ws) == []
    assert record_hit(ws, contact=tok["contact"], channel="call", at=soon(60)).status == "canary"


def test_a_canary_number_that_is_a_real_customers_phone_accuses_nobody(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """A pool typed wrong: it holds yto's customers' real phones, so zto's canaries carry
    them. A yto leak then brings scam calls to those customers, that is to zto's canary
    numbers: before, every call was a hit for zto, which was accused. Now a pool number
    that a release carries as a real customer's phone names no recipient."""
    from leaktrace.release import release
    from leaktrace.workspace import add_recipient, init_workspace

    yto_phones = (
        shop.filter(pl.col("courier") == "圆通速递").get_column("phone").unique().sort().to_list()
    )
    ws = init_workspace(tmp_path / "ws", canary_phones=yto_phones)
    add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    add_recipient(ws, "yto", template="courier", where="courier = '圆通速递'")
    release(shop, recipient="yto", workspace=ws)
    release(shop, recipient="zto", workspace=ws)
    called = [t["contact"] for t in Ledger(ws).canary_tokens() if t["recipient"] == "zto"]
    assert len(called) >= 5 and set(called) <= set(yto_phones)
    for i, contact in enumerate(called):  # the yto leak's scammers call them all
        h = record_hit(ws, contact=contact, channel="call", at=soon(i % 100))
        assert (h.status, h.recipient) == ("customer", "")  # as recorded, too
    res = attribute(ws)
    assert res.accused == []
    zto = next(c for c in res.candidates if c.recipient == "zto")
    assert zto.canary_hits == 0 and zto.canary_pool_hits == len(called)
    assert sum(f["status"] == "customer canary hit" for f in res.flagged) == len(called)
