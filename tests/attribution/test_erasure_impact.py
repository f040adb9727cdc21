"""What erasing a pending erasure request does to the evidence, shown to the analyst before
they decide; and whether the agent who took it works for a partner the evidence names.

The workspace is the attribution tests' (two couriers, a merchant, a customer-service firm
and an SMS vendor); each test stores its own wave and queues its own requests."""

from __future__ import annotations

import json
import re
from typing import Any

import polars as pl
import pytest
from sqlalchemy import text

from conftest import run_cli
from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.erasure_impact import ErasureImpact, erasure_impact
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    erasure_requests,
    request_erasure,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.attribution.store import engine_for
from leaktrace.errors import InputError
from leaktrace.workspace import Workspace

from .conftest import clear, store_wave


def _ids_of(ws: Workspace, phone: str) -> set[int]:
    return {r.id for r in load_stored_reports(ws) if r.phone == phone}


def _one_alias_wave(ws: Workspace, shop: pl.DataFrame) -> tuple[str, str]:
    """Twelve victims of cs-firm's copy; only one quotes an order number (cs-firm's alias
    of their order), the others only their name (the firm sees every customer, so exposure
    says nothing). That one quote names cs-firm. Returns the decisive victim's phone and
    another victim's. (A simulated quote may carry a typo: the first alias quote that names
    cs-firm on its own is kept.)"""
    wave = simulate_wave(ws, shop, source="cs-firm", victims=12, seed=1, unrelated=0.0)
    quotes = {str(w["victim_phone"]): w["quoted"].get("order_id") for w in wave}
    for w in wave:
        w["quoted"] = {"name": True}
    for phone, alias in quotes.items():
        if alias is None:
            continue
        for w in wave:
            w["quoted"] = {"order_id": alias} if w["victim_phone"] == phone else {"name": True}
        clear(ws)
        store_wave(ws, wave)
        if [c.recipient for c in attribute(ws).accused] == ["cs-firm"]:
            other = next(p for p in quotes if p != phone)
            return phone, other
    raise AssertionError("no quoted alias of the simulated wave names cs-firm")


def _partner(impact: ErasureImpact, recipient: str) -> Any:
    return next(p for p in impact.partners if p.recipient == recipient)


def test_a_request_of_one_victim_of_a_wave_weakens_the_evidence(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    wave = simulate_wave(ws, attr_shop, source="zto", victims=12, seed=1)
    store_wave(ws, wave)
    quoted_alias = next(w for w in wave if "order_id" in w["quoted"])  # one of zto's victims
    phone = str(quoted_alias["victim_phone"])
    rid = request_erasure(ws, phone=phone, reason="工单 71", actor="token:cs-agent")

    impact = erasure_impact(ws, rid)

    assert impact.request_id == rid
    assert impact.matched_reports == len(_ids_of(ws, phone)) >= 1
    assert "zto" in impact.named_before and "zto" in impact.named_after
    zto = _partner(impact, "zto")
    assert zto.still_named and zto.weakened
    assert zto.log10_p_after > zto.log10_p_before
    assert zto.p_before <= impact.alpha
    assert not impact.conflict and impact.taker_recipient is None
    assert any("weakens" in w and "zto" in w for w in impact.warnings)
    assert not any("removes" in w for w in impact.warnings)
    # it only weighed: every report is still stored, the request still pending
    assert _ids_of(ws, phone) and [r.status for r in erasure_requests(ws)] == ["pending"]


def test_erasing_the_decisive_victim_leaves_the_partner_unnamed(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    decisive, _ = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(ws, phone=decisive, reason="工单 72", actor="token:cs-agent")

    impact = erasure_impact(ws, rid)

    assert impact.matched_reports == 1
    assert impact.named_before == ("cs-firm",) and impact.named_after == ()
    firm = _partner(impact, "cs-firm")
    assert not firm.still_named and firm.weakened and firm.accused_before
    assert firm.p_before <= impact.alpha < firm.p_after
    assert any("removes" in w and "cs-firm" in w for w in impact.warnings)


def test_a_request_of_no_reporting_phone_changes_nothing(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    _one_alias_wave(ws, attr_shop)
    rid = request_erasure(ws, phone="13700000001", reason=None, actor="token:cs-agent")
    impact = erasure_impact(ws, rid)
    assert impact.matched_reports == 0
    assert impact.named_before == impact.named_after == ("cs-firm",)
    assert not _partner(impact, "cs-firm").weakened
    assert impact.warnings == ()


@pytest.mark.parametrize(("firm", "conflict"), [("cs-firm", True), ("zto", False), (None, False)])
def test_a_request_taken_by_an_agent_of_the_named_partner_is_a_conflict(
    impact_ws: Workspace, attr_shop: pl.DataFrame, firm: str | None, conflict: bool
) -> None:
    ws = impact_ws
    decisive, _ = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(
        ws, phone=decisive, reason="工单 73", actor="token:firm-agent", taker_recipient=firm
    )
    assert [r.taker_recipient for r in erasure_requests(ws)] == [firm]
    impact = erasure_impact(ws, rid)
    assert impact.taker_recipient == firm
    assert impact.conflict is conflict
    said = [w for w in impact.warnings if "conflict of interest" in w.lower()]
    assert bool(said) is conflict
    if conflict:
        assert "cs-firm" in said[0]


def test_an_agent_of_a_partner_that_is_not_named_is_no_conflict(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    """A conflict is about the partners the evidence names now; a firm named nowhere
    has no accusation to escape (its agents' requests are ordinary ones)."""
    ws = impact_ws
    _, other = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(
        ws, phone=other, reason=None, actor="token:sms-agent", taker_recipient="sms"
    )
    impact = erasure_impact(ws, rid)
    assert impact.matched_reports == 1 and not impact.conflict


def test_the_impact_tells_no_phone_and_no_digest(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    decisive, _ = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(
        ws, phone=decisive, reason="工单 74", actor="token:a", taker_recipient="cs-firm"
    )
    with engine_for(ws).connect() as c:
        digests = json.loads(
            c.execute(
                text(f"select phone_digests from erasure_requests where id = {rid}")
            ).scalar_one()
        )
    impact = erasure_impact(ws, rid)
    shown = json.dumps(impact.as_dict(), ensure_ascii=False) + "\n".join(impact.warnings)
    assert decisive not in shown and decisive[-8:] not in shown
    assert not any(d.split(":", 1)[1] in shown for d in digests)
    assert not re.search(r"1[3-9]\d{9}", shown)
    got = impact.as_dict()
    assert got["conflict"] is True and got["matched_reports"] == 1
    assert got["partners"][0]["recipient"] == "cs-firm"
    json.dumps(got, allow_nan=False)  # plain JSON


def test_a_decided_or_unknown_request_has_no_impact(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    decisive, _ = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(ws, phone=decisive, reason=None, actor="token:cs-agent")
    decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="公安机关调查中")
    with pytest.raises(InputError, match=f"erasure request {rid} was already decided") as err:
        erasure_impact(ws, rid)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no erasure request has id 4242"):
        erasure_impact(ws, 4242)


def test_listing_the_requests_does_not_run_the_attribution(
    impact_ws: Workspace, attr_shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list is shown on every dashboard load and may hold 200 requests per taker."""
    import importlib

    attribute_module = importlib.import_module("leaktrace.attribution.attribute")
    impact_module = importlib.import_module("leaktrace.attribution.erasure_impact")
    evidence_module = importlib.import_module("leaktrace.attribution.evidence")

    ws = impact_ws
    decisive, _ = _one_alias_wave(ws, attr_shop)
    rid = request_erasure(ws, phone=decisive, reason=None, actor="token:cs-agent")

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the listing ran the attribution")

    for module, name in (
        (attribute_module, "attribute_evidence"),
        (attribute_module, "build_evidence"),
        (evidence_module, "build_evidence"),
        (impact_module, "attribute_evidence"),
        (impact_module, "build_evidence"),
    ):
        monkeypatch.setattr(module, name, refuse)
    assert [(r.id, r.matches) for r in erasure_requests(ws)] == [(rid, 1)]
    with pytest.raises(AssertionError, match="ran the attribution"):
        erasure_impact(ws, rid)  # the guard is real: the impact does run it


def test_the_dry_run_of_erase_request_shows_the_impact(
    impact_ws: Workspace, attr_shop: pl.DataFrame
) -> None:
    ws = impact_ws
    decisive, other = _one_alias_wave(ws, attr_shop)
    by_firm = request_erasure(
        ws, phone=decisive, reason="工单 75", actor="token:firm", taker_recipient="cs-firm"
    )
    plain = request_erasure(ws, phone=other, reason="工单 76", actor="token:cs-agent")

    dry = run_cli("report", "erase", "--request", str(by_firm), home=ws.home)
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    assert "would be erased" in out
    assert re.search(r"WARNING: .*removes the evidence .*cs-firm", out), out
    assert re.search(r"CONFLICT OF INTEREST: .*cs-firm", out), out
    assert decisive not in out + dry.stderr

    calm = run_cli("report", "erase", "--request", str(plain), home=ws.home)
    assert calm.returncode == 0, calm.stderr
    assert "WARNING" not in calm.stdout and "CONFLICT" not in calm.stdout
    assert "cs-firm" in calm.stdout  # the named partner, and that it stays named
    listed = run_cli("report", "requests", "--json", home=ws.home)
    assert [r["taker_recipient"] for r in json.loads(listed.stdout)] == ["cs-firm", None]

    as_json = run_cli("report", "erase", "--request", str(by_firm), "--json", home=ws.home)
    assert as_json.returncode == 0, as_json.stderr
    got = json.loads(as_json.stdout)
    assert got["impact"]["conflict"] is True and got["impact"]["named_after"] == []
    assert got["erasure"]["applied"] is False and got["request"]["status"] == "pending"
    assert [r.status for r in erasure_requests(ws)] == ["pending", "pending"]  # nothing decided
