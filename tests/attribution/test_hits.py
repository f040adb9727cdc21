"""Canary hits name their token's release and recipient; pool and foreign contacts are kept."""

from __future__ import annotations

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.hits import record_hit
from leaktrace.ledger import Ledger
from leaktrace.workspace import Workspace


def test_hit_names_release_and_recipient(ws: Workspace) -> None:
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "yto")
    h = record_hit(ws, contact=tok["contact"], channel="call", at="2030-01-01T10:00:00")
    assert (h.status, h.recipient, h.release_id) == ("canary", "yto", tok["release_id"])
    used = {t["contact"] for t in Ledger(ws).canary_tokens()}
    spare = next(p for p in ws.config.canary_pool.phone_numbers() if p not in used)
    assert record_hit(ws, contact=spare, channel="sms", at="2030-01-01").status == "pool"
    assert record_hit(ws, contact="13800000000", channel="call", at="2030-01-01").status == (
        "not_canary"
    )
    # one plain hit: chance |C_R|/|pool| — honest, not decisive at 1e-9
    res = attribute(ws)
    assert res.accused == []
    yto = next(c for c in res.candidates if c.recipient == "yto")
    assert yto.canary_hits == 1 and yto.canary_pool_hits == 2


def test_hit_with_persona_is_decisive(ws: Workspace) -> None:
    tok = next(t for t in Ledger(ws).canary_tokens() if t["recipient"] == "sms")
    record_hit(ws, contact=tok["contact"], channel="call", at="2030-01-01T10:00", knew=True)
    res = attribute(ws)
    assert [c.recipient for c in res.accused] == ["sms"]
