"""What erasing several pending erasure requests together does to the evidence.

An agent of an outsourced customer-service firm (itself a recipient, holding its
customers' phones) may take up to 200 pending requests. Each alone may barely move the
evidence while all of them together remove what names the firm: the analyst weighs the
set before deciding any of them.

The wave is the simulator's own (``simulate_wave`` from cs-firm's copy, twelve victims,
seed 1, quotes as simulated): the victims who quoted an order number quoted cs-firm's
alias of it (the ones without a typo), and those quotes are what names the firm (it sees
every customer, so exposure says nothing). The firm's agent takes the requests of every
victim who quoted an order number, and one of a victim who did not."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass

import polars as pl
import pytest
from sqlalchemy import text

from conftest import run_cli
from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.erasure_impact import (
    CombinedImpact,
    erasure_impact,
    erasure_impact_by_firm,
    erasure_impact_together,
    pending_selection,
)
from leaktrace.attribution.erasure_requests import (
    decide_erasure_request,
    erasure_requests,
    request_erasure,
)
from leaktrace.attribution.reports import load_stored_reports
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.attribution.store import engine_for
from leaktrace.errors import InputError, NotFoundError, UnknownRecipientError
from leaktrace.workspace import Workspace

from .conftest import store_wave


@dataclass(frozen=True)
class FirmWave:
    ws: Workspace
    phones: tuple[str, ...]  # every victim's phone
    by_firm: tuple[int, ...]  # requests taken by token:firm-agent, an agent of cs-firm
    by_own: int  # taken by token:cs-agent, the platform's own staff (no firm)
    by_zto: int  # taken by token:zto-agent, an agent of zto

    @property
    def pending(self) -> list[int]:
        return sorted((*self.by_firm, self.by_own, self.by_zto))


@pytest.fixture
def firm_wave(impact_ws: Workspace, attr_shop: pl.DataFrame) -> FirmWave:
    ws = impact_ws
    wave = simulate_wave(ws, attr_shop, source="cs-firm", victims=12, seed=1, unrelated=0.0)
    store_wave(ws, wave)
    assert [c.recipient for c in attribute(ws).accused] == ["cs-firm"]
    quoters = [str(w["victim_phone"]) for w in wave if "order_id" in w["quoted"]]
    others = [str(w["victim_phone"]) for w in wave if "order_id" not in w["quoted"]]
    assert len(quoters) >= 2 and len(others) >= 3
    by_firm = tuple(
        request_erasure(
            ws,
            phone=phone,
            reason=f"工单 80{i}",
            actor="token:firm-agent",
            taker_recipient="cs-firm",
        )
        for i, phone in enumerate([*quoters, others[0]])
    )
    by_own = request_erasure(ws, phone=others[1], reason="工单 810", actor="token:cs-agent")
    by_zto = request_erasure(
        ws, phone=others[2], reason="工单 811", actor="token:zto-agent", taker_recipient="zto"
    )
    phones = tuple(str(w["victim_phone"]) for w in wave)
    return FirmWave(ws, phones, by_firm, by_own, by_zto)


def _no_phone(ws: Workspace, shown: str, phones: tuple[str, ...]) -> None:
    assert not any(p in shown or p[-8:] in shown for p in phones)
    assert not re.search(r"(?<![\d.])1[3-9]\d{9}(?!\d)", shown)


# ------------------------------------------------------------------------ the library


def test_each_request_alone_leaves_the_firm_named_together_they_do_not(
    firm_wave: FirmWave,
) -> None:
    ws = firm_wave.ws
    for rid in firm_wave.by_firm:  # each alone: still named (weakened at most)
        alone = erasure_impact(ws, rid)
        assert alone.named_before == alone.named_after == ("cs-firm",), rid
        assert not any("removes" in w for w in alone.warnings), alone.warnings

    together = erasure_impact_together(ws, firm_wave.by_firm)

    assert isinstance(together, CombinedImpact)
    assert together.request_ids == firm_wave.by_firm
    assert together.matched_reports == len(firm_wave.by_firm)  # one report per victim
    assert [r.request_id for r in together.requests] == list(firm_wave.by_firm)
    assert {(r.taker, r.taker_recipient) for r in together.requests} == {
        ("token:firm-agent", "cs-firm")
    }
    assert together.named_before == ("cs-firm",) and together.named_after == ()
    (firm,) = together.partners
    assert firm.recipient == "cs-firm" and not firm.still_named and firm.weakened
    assert firm.p_before <= together.alpha < firm.p_after
    removes = [w for w in together.warnings if w.startswith("WARNING")]
    assert len(removes) == 1 and "removes the evidence" in removes[0]
    assert "cs-firm" in removes[0] and "together" in removes[0]
    assert together.conflict is True
    assert together.conflicted_requests == firm_wave.by_firm
    (conflict,) = [w for w in together.warnings if w.startswith("CONFLICT OF INTEREST")]
    assert "agents of cs-firm" in conflict and "removes that evidence" in conflict
    # it only weighed: every report is still stored, every request still pending
    assert len(load_stored_reports(ws)) == len(firm_wave.phones)
    assert [r.id for r in erasure_requests(ws)] == firm_wave.pending


def test_one_request_weighed_together_says_what_the_single_impact_says(
    firm_wave: FirmWave,
) -> None:
    """The two share one computation: a set of one is the request itself."""
    ws = firm_wave.ws
    for rid in (firm_wave.by_firm[0], firm_wave.by_zto):
        alone, together = erasure_impact(ws, rid), erasure_impact_together(ws, [rid])
        assert together.warnings == alone.warnings
        assert together.partners == alone.partners
        assert together.conflict is alone.conflict
        assert (together.named_before, together.named_after) == (
            alone.named_before,
            alone.named_after,
        )


def test_pending_requests_are_selected_by_firm_or_by_taker(firm_wave: FirmWave) -> None:
    ws = firm_wave.ws
    assert pending_selection(ws) == firm_wave.pending
    assert pending_selection(ws, firm="cs-firm") == list(firm_wave.by_firm)
    assert pending_selection(ws, firm="zto") == [firm_wave.by_zto]
    assert pending_selection(ws, taker="token:firm-agent") == list(firm_wave.by_firm)
    assert pending_selection(ws, taker="firm-agent") == list(firm_wave.by_firm)  # a token's name
    assert pending_selection(ws, taker="token:cs-agent") == [firm_wave.by_own]

    by_firm = erasure_impact_together(ws, firm="cs-firm")
    assert by_firm.request_ids == firm_wave.by_firm and "cs-firm" in by_firm.selection
    by_taker = erasure_impact_together(ws, taker="firm-agent")
    assert by_taker.request_ids == firm_wave.by_firm and "token:firm-agent" in by_taker.selection

    everything = erasure_impact_together(ws)
    assert everything.request_ids == tuple(firm_wave.pending)
    assert everything.matched_reports == len(firm_wave.pending)
    assert everything.named_after == () and everything.conflict
    # zto's agent took one too, but zto is named neither now nor after: no conflict of its
    assert everything.conflicted_requests == firm_wave.by_firm
    assert not any("zto" in w for w in everything.warnings if w.startswith("CONFLICT"))


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"firm": "sms"}, InputError, "no pending erasure requests taken by agents of sms"),
        (
            {"taker": "token:nobody"},
            InputError,
            "no pending erasure requests taken by token:nobody",
        ),
        ({"firm": "no-such-firm"}, UnknownRecipientError, "no-such-firm"),
        ({"firm": "cs-firm", "taker": "token:firm-agent"}, InputError, "not both"),
    ],
)
def test_a_selection_that_names_nothing_is_a_clear_error(
    firm_wave: FirmWave, kwargs: dict[str, str], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=re.escape(says)) as err:
        erasure_impact_together(firm_wave.ws, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


def test_no_pending_request_is_a_clear_error(impact_ws: Workspace) -> None:
    with pytest.raises(InputError, match="no pending erasure requests") as err:
        erasure_impact_together(impact_ws)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="no pending erasure requests"):
        erasure_impact_together(impact_ws, [])
    with pytest.raises(InputError, match="no pending erasure requests"):
        erasure_impact_by_firm(impact_ws)


def test_ids_and_a_selection_together_are_refused(firm_wave: FirmWave) -> None:
    with pytest.raises(InputError, match="request ids or a selection"):
        erasure_impact_together(firm_wave.ws, [firm_wave.by_own], firm="cs-firm")


def _sql(ws: Workspace, statement: str) -> None:
    with engine_for(ws).begin() as c:
        c.execute(text(statement))


def test_a_set_with_a_request_whose_seal_fails_is_refused_naming_it(
    firm_wave: FirmWave,
) -> None:
    """As the single impact refuses it: a forged or altered request is not weighed, and
    the whole set is refused (not skipped) so that the analyst sees why."""
    ws = firm_wave.ws
    bad = firm_wave.by_firm[1]
    _sql(ws, f"update erasure_requests set reason = '工单 999' where id = {bad}")
    for call in (
        lambda: erasure_impact_together(ws),
        lambda: erasure_impact_together(ws, firm="cs-firm"),
        lambda: erasure_impact_together(ws, [firm_wave.by_own, bad]),
        lambda: erasure_impact_by_firm(ws),
    ):
        with pytest.raises(InputError, match=f"^erasure request {bad} fails its seal") as err:
            call()
        assert "\n" not in str(err.value)
    # a set without it is weighed
    assert erasure_impact_together(ws, firm="zto").request_ids == (firm_wave.by_zto,)


def test_a_set_with_an_unsealed_decided_or_unknown_request_is_refused(
    firm_wave: FirmWave,
) -> None:
    ws = firm_wave.ws
    first = firm_wave.pending[0]  # no seal on the first: taken before requests were sealed
    _sql(ws, f"update erasure_requests set seal = null where id = {first}")
    with pytest.raises(InputError, match=f"^erasure request {first} has no seal"):
        erasure_impact_together(ws)
    decide_erasure_request(ws, first, erase=False, actor="cli:ana", note="重新受理")
    with pytest.raises(InputError, match=f"erasure request {first} was already decided"):
        erasure_impact_together(ws, [first, firm_wave.by_own])
    with pytest.raises(NotFoundError, match="no erasure request has id 4242"):
        erasure_impact_together(ws, [firm_wave.by_own, 4242])
    # declined, it is no longer pending: all pending are weighed again
    assert first not in erasure_impact_together(ws).request_ids


def test_by_firm_weighs_all_pending_then_each_firm_on_one_load(
    firm_wave: FirmWave, monkeypatch: pytest.MonkeyPatch
) -> None:
    impact_module = importlib.import_module("leaktrace.attribution.erasure_impact")
    loads: list[int] = []
    scored: list[int] = []
    real_load, real_score = impact_module.load_stored_reports, impact_module.attribute_evidence

    def load(*a: object, **k: object) -> object:
        loads.append(1)
        return real_load(*a, **k)

    def score(*a: object, **k: object) -> object:
        scored.append(1)
        return real_score(*a, **k)

    monkeypatch.setattr(impact_module, "load_stored_reports", load)
    monkeypatch.setattr(impact_module, "attribute_evidence", score)

    every, by_firm = erasure_impact_by_firm(firm_wave.ws)

    assert every.request_ids == tuple(firm_wave.pending) and "all pending" in every.selection
    assert list(by_firm) == ["cs-firm", "zto"]
    assert by_firm["cs-firm"].request_ids == firm_wave.by_firm
    assert by_firm["zto"].request_ids == (firm_wave.by_zto,)
    assert "cs-firm" in by_firm["cs-firm"].selection and "zto" in by_firm["zto"].selection
    assert by_firm["cs-firm"].conflict and by_firm["cs-firm"].named_after == ()
    assert not by_firm["zto"].conflict  # zto is not named, and erasing names no one new
    assert len(loads) == 1  # the evidence is loaded once
    assert len(scored) == 1 + 3  # the attribution now, then once per set


def test_the_combined_impact_tells_no_phone_and_no_digest(firm_wave: FirmWave) -> None:
    ws = firm_wave.ws
    with engine_for(ws).connect() as c:
        digests = [
            d
            for (listed,) in c.execute(text("select phone_digests from erasure_requests"))
            for d in json.loads(listed)
        ]
    got = erasure_impact_together(ws).as_dict()
    shown = json.dumps(got, ensure_ascii=False, allow_nan=False)
    _no_phone(ws, shown, firm_wave.phones)
    assert digests and not any(d.split(":", 1)[1] in shown for d in digests)
    assert got["request_ids"] == firm_wave.pending and got["conflict"] is True
    assert got["partners"][0]["recipient"] == "cs-firm"
    assert got["requests"][0].keys() == {
        "request_id",
        "taker",
        "taker_recipient",
        "matched_reports",
    }


def test_listing_the_requests_still_does_not_run_the_attribution(
    firm_wave: FirmWave, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Selecting a set reads the list only; the attribution runs when it is weighed."""
    impact_module = importlib.import_module("leaktrace.attribution.erasure_impact")

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the selection ran the attribution")

    monkeypatch.setattr(impact_module, "attribute_evidence", refuse)
    assert pending_selection(firm_wave.ws, firm="cs-firm") == list(firm_wave.by_firm)
    with pytest.raises(AssertionError, match="ran the attribution"):
        erasure_impact_together(firm_wave.ws, firm="cs-firm")


# ------------------------------------------------------------------------------- CLI


def test_report_requests_impact_weighs_a_firms_requests_together(firm_wave: FirmWave) -> None:
    ws = firm_wave.ws
    got = run_cli("report", "requests", "--impact", "--firm", "cs-firm", home=ws.home)
    assert got.returncode == 0, got.stderr
    out = got.stdout
    print(out)  # docs/attribution.md shows it (pytest -s)
    for rid in firm_wave.by_firm:
        assert re.search(rf"^│? *{rid} ", out, re.M), out  # the table lists the set
    assert str(firm_wave.by_own) not in re.findall(r"^│? *(\d+) ", out, re.M)
    assert "nothing was changed" in out
    assert re.search(r"WARNING: erasing requests .* together .*removes the evidence .*cs-firm", out)
    assert re.search(r"CONFLICT OF INTEREST: requests .* agents of cs-firm", out), out
    _no_phone(ws, out + got.stderr, firm_wave.phones)

    as_json = run_cli(
        "report", "requests", "--impact", "--taker", "firm-agent", "--json", home=ws.home
    )
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert [r["id"] for r in body["requests"]] == list(firm_wave.by_firm)
    assert body["impact"]["request_ids"] == list(firm_wave.by_firm)
    assert body["impact"]["named_after"] == [] and body["impact"]["conflict"] is True

    listed = run_cli("report", "requests", "--firm", "zto", "--json", home=ws.home)
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [firm_wave.by_zto]
    # a dry run: nothing was decided
    assert [r.id for r in erasure_requests(ws)] == firm_wave.pending


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--impact", "--all"), "--impact weighs pending requests only"),
        (("--impact", "--firm", "sms"), "no pending erasure requests taken by agents of sms"),
        (("--firm", "no-such-firm"), "no-such-firm"),
        (("--firm", "cs-firm", "--taker", "firm-agent"), "not both"),
        (("--request", "5"), "--request goes with --impact"),
    ],
)
def test_report_requests_bad_selection_is_one_line_and_exit_2(
    firm_wave: FirmWave, args: tuple[str, ...], says: str
) -> None:
    got = run_cli("report", "requests", *args, home=firm_wave.ws.home)
    assert got.returncode == 2, (got.stdout, got.stderr)
    assert says in got.stderr and len(got.stderr.strip().splitlines()) == 1, got.stderr


def test_report_requests_impact_refuses_a_request_whose_seal_fails(firm_wave: FirmWave) -> None:
    ws = firm_wave.ws
    bad = firm_wave.by_own
    _sql(ws, f"update erasure_requests set reason = '工单 999' where id = {bad}")
    got = run_cli("report", "requests", "--impact", home=ws.home)
    assert got.returncode == 2
    assert got.stderr.strip().splitlines() == [got.stderr.strip()]
    assert f"erasure request {bad} fails its seal" in got.stderr
    named = run_cli(
        "report",
        "requests",
        "--impact",
        "--request",
        str(firm_wave.by_firm[0]),
        "--request",
        str(firm_wave.by_zto),
        "--json",
        home=ws.home,
    )
    assert named.returncode == 0, named.stderr
    body = json.loads(named.stdout)
    assert body["impact"]["request_ids"] == [firm_wave.by_firm[0], firm_wave.by_zto]


def test_a_set_reads_and_indexes_the_stored_reports_once(
    firm_wave: FirmWave, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request of a set was looked up alone, reading and decrypting every stored
    report once per request (200 requests over 2,000 reports took 21 s against 5 s for
    one). The set's lookups now share one read, and each finds what its own dry run
    finds."""
    requests_module = importlib.import_module("leaktrace.attribution.erasure_requests")
    erasure_module = importlib.import_module("leaktrace.attribution.erasure")
    alone = {rid: requests_module.pending_request(firm_wave.ws, rid) for rid in firm_wave.pending}
    indexed: list[int] = []
    real_index = erasure_module.phone_index

    def index(*a: object, **k: object) -> object:
        indexed.append(1)
        return real_index(*a, **k)

    monkeypatch.setattr(erasure_module, "phone_index", index)
    together = requests_module.pending_requests(firm_wave.ws, firm_wave.pending)
    assert len(indexed) == 1
    assert {view.id: (view, matched) for view, matched in together} == alone
    indexed.clear()
    erasure_impact_together(firm_wave.ws, firm=None)
    assert len(indexed) == 1
