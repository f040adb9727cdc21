"""Review of session 17: the erasure dry run's evidence impact (erasure_impact), sealed and
checkpointed erasure requests, agent tokens bound to their firm, the impact route and page.

Each test below failed before its fix, for the reason its docstring gives.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from leaktrace.attribution import erasure_impact as impact_module
from leaktrace.attribution import erasure_requests as requests_module
from leaktrace.attribution.attribute import AttributionResult, Candidate
from leaktrace.attribution.erasure_impact import erasure_impact
from leaktrace.attribution.erasure_requests import (
    DECLINED,
    ERASED,
    PENDING,
    decide_erasure_request,
    erasure_requests,
    request_erasure,
    request_seal_problems,
)
from leaktrace.attribution.reports import add_reports, load_stored_reports
from leaktrace.errors import InputError, NotFoundError
from leaktrace.release import release
from leaktrace.server.app import verify_ledger
from leaktrace.workspace import Workspace
from ledger.conftest import postgres_url, postgres_workspace  # noqa: F401  (the server fixture)
from ledger.logs import copied, report_objs, rows, sql
from served import NEVER_REPORTED, bearer, reported_workspace, served, victim


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> tuple[Path, str, str]:
    """A workspace with one release, six sealed reports, an analyst and an agent token."""
    home = tmp_path_factory.mktemp("s17") / "ws"
    analyst, agent = reported_workspace(home, shop, "firm-agent", "cs-firm")
    return home, analyst, agent


@pytest.fixture
def ws(base: tuple[Path, str, str], tmp_path: Path) -> Workspace:
    return copied(base[0], tmp_path)


# ------------------------------------------------------------------------- what holds


def test_a_bound_agent_token_gains_nothing_and_learns_nothing(
    ws: Workspace, base: tuple[Path, str, str]
) -> None:
    """Checked, holds: an agent token bound to cs-firm cannot resolve cs-firm's aliases,
    see a request's impact (API or page), list or decide requests; its request's answer
    is the same for a phone that reported and one that did not; its firm is recorded."""
    _, analyst, agent = base
    phone, _ = victim(ws)
    with served(ws.home) as api:
        url = "/api/v1/erasure-requests"
        a = api.post(url, json={"phone": phone, "reason": "工单 1"}, headers=bearer(agent))
        b = api.post(url, json={"phone": NEVER_REPORTED}, headers=bearer(agent))
        assert a.status_code == b.status_code == 200
        assert a.json().keys() == b.json().keys() == {"request_id", "status"}
        rid = a.json()["request_id"]
        for r in (
            api.post(
                "/api/v1/resolve",
                json={"alias": "123456", "recipient": "cs-firm"},
                headers=bearer(agent),
            ),
            api.get(f"{url}/{rid}/impact", headers=bearer(agent)),
            api.get(f"{url}/999999/impact", headers=bearer(agent)),
            api.get(url, headers=bearer(agent)),
            api.post(f"{url}/{rid}", json={"decision": "erase"}, headers=bearer(agent)),
        ):
            assert r.status_code == 403, r.text
        assert api.get(f"{url}/{rid}/impact").status_code == 401
        seen = api.get(f"{url}/{rid}/impact", headers=bearer(analyst))
        assert seen.status_code == 200 and seen.json()["taker_recipient"] == "cs-firm"
    with served(ws.home, agent) as page:
        for path in (
            f"/dashboard/erasure-requests/{rid}/impact",
            "/dashboard/erasure-requests/9/impact",
        ):
            r = page.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/login"
    assert [r.taker_recipient for r in erasure_requests(ws)] == ["cs-firm", "cs-firm"]


# ------------------------------------------------------- a request id beyond SQL's integers


def test_a_request_id_beyond_sql_integers_is_a_404_not_a_500(
    ws: Workspace, base: tuple[Path, str, str]
) -> None:
    """An id past 2**63 - 1 reached SQLite as a Python int it cannot bind: OverflowError,
    not a SQLAlchemy error, so the impact route, the decision route and both dashboard
    pages answered 500 "internal error" with a traceback in the server's log, where an
    unknown id is a 404."""
    _, analyst, _ = base
    for huge in (2**63, 2**64 + 1):
        # no request has so long an id: it is not repeated (a pasted ID number is as long)
        with pytest.raises(NotFoundError, match="no erasure request has that id"):
            erasure_impact(ws, huge)
        with pytest.raises(NotFoundError):
            decide_erasure_request(ws, huge, erase=False, actor="cli:ana", note="x")
    with served(ws.home) as api:
        for huge in (2**63, 2**64 + 1):
            url = f"/api/v1/erasure-requests/{huge}"
            got = [
                api.get(f"{url}/impact", headers=bearer(analyst)),
                api.post(url, json={"decision": "decline", "reason": "x"}, headers=bearer(analyst)),
            ]
            assert [r.status_code for r in got] == [404, 404], [r.text for r in got]
    with served(ws.home, analyst) as page:
        url = f"/dashboard/erasure-requests/{2**63}"
        shown = page.get(f"{url}/impact")
        assert shown.status_code == 404 and "no erasure request has that id" in shown.text
        posted = page.post(url, data={"decision": "decline", "reason": "x"})
        assert posted.status_code == 404 and "no erasure request has that id" in posted.text


# --------------------------------------------------- a request made up with a low id, no seal


@pytest.mark.parametrize("rid", [0, -7])
def test_a_request_made_up_without_a_seal_at_an_id_below_1_is_named(
    ws: Workspace, rid: int
) -> None:
    """leaktrace never writes an id below 1 (nor pins one: checkpoint._has_id), but a
    request without a seal there sat "before" the first sealed one, so it passed as taken
    before requests were sealed: listed as such to the analysts, verify silent. The docs
    say a request made up in the database is named."""
    phone, _ = victim(ws)
    sealed = request_erasure(ws, phone=phone, reason="工单 1", actor="token:cs")
    sql(
        ws,
        "insert into erasure_requests (id, received_at, actor, reason, phone_digests, "
        "last_report_id, status, decided_by, note) values (?, ?, ?, ?, ?, ?, ?, '', '')",
        (rid, "2025-01-01T00:00:00+00:00", "token:cs", "工单 9", "[]", 100, PENDING),
    )
    problems = request_seal_problems(ws)
    assert len(problems) == 1 and problems[0].startswith(f"erasure request {rid} fails its seal")
    assert verify_ledger(ws)["ok"] is False
    listed = {r.id: r for r in erasure_requests(ws)}
    assert listed[rid].seal_fails and listed[rid].matches is None
    assert listed[sealed].sealed and not listed[sealed].seal_fails
    with pytest.raises(InputError, match="fails its seal"):
        decide_erasure_request(ws, rid, erase=False, actor="cli:ana", note="x")


# ------------------------------------------------------------ the impact, on made-up results


def _result(accused: dict[str, float], others: dict[str, float]) -> AttributionResult:
    """An attribution naming ``accused`` (recipient -> log10 bound), ``others`` candidates."""
    cands = [Candidate(r, log10_p_corrected=lp) for r, lp in {**accused, **others}.items()]
    return AttributionResult(
        verdict="source identified" if accused else "no recipient identified",
        alpha=1e-9,
        accused=[c for c in cands if c.recipient in accused],
        candidates=sorted(cands, key=lambda c: c.log10_p_corrected),
        tests=len(cands),
        families=(),
        reports={},
        flagged=[],
        outside={},
        explanation={},
    )


@pytest.fixture
def scored(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[AttributionResult, AttributionResult], None]:
    """The impact's two attributions replaced by ``before`` and ``after`` (the evidence is
    still loaded and filtered as it is)."""

    def use(before: AttributionResult, after: AttributionResult) -> None:
        results = [before, after]
        monkeypatch.setattr(impact_module, "attribute_evidence", lambda *_, **__: results.pop(0))

    return use


def test_a_firm_agents_request_that_would_newly_name_another_partner_is_a_conflict(
    ws: Workspace, scored: Callable[[AttributionResult, AttributionResult], None]
) -> None:
    """The conflict looked only at the partners named now: "a firm named nowhere has no
    accusation to escape". But an agent of an outsourced firm holds its customers'
    phones and can queue requests nobody made: erasing the victims that do not fit a
    competitor raises that competitor's concentration until it is named (the impact's own
    docstring says so). The analyst got a NOTE to review the verdict, not the conflict's
    call to confirm the request with the person, the one check that catches a request
    the person never made, so the false accusation went through."""
    phone, _ = victim(ws)
    rid = request_erasure(
        ws, phone=phone, reason="工单 2", actor="token:firm-agent", taker_recipient="cs-firm"
    )
    scored(_result({}, {"zto": -5.0, "cs-firm": -1.0}), _result({"zto": -10.0}, {"cs-firm": -1.0}))
    impact = erasure_impact(ws, rid)
    assert impact.named_before == () and impact.named_after == ("zto",)
    assert impact.conflict is True
    said = [w for w in impact.warnings if w.startswith("CONFLICT OF INTEREST")]
    assert len(said) == 1 and "cs-firm" in said[0] and "zto" in said[0]
    assert "confirm the request with the person" in said[0].lower()

    # the platform's own agent: a NOTE, no conflict (as before)
    own = request_erasure(ws, phone=phone, reason="工单 3", actor="token:cs")
    scored(_result({}, {"zto": -5.0}), _result({"zto": -10.0}, {}))
    plain = erasure_impact(ws, own)
    assert plain.conflict is False
    assert [w.split(":")[0] for w in plain.warnings] == ["NOTE"]


def test_a_bound_that_underflows_is_not_shown_as_p_0(
    ws: Workspace, scored: Callable[[AttributionResult, AttributionResult], None]
) -> None:
    """A bound below 1e-320 (a large wave quoting aliases) was written "p ≤ 0" in the
    warnings: false (a p-value bound is never 0), and a weakened partner read "p ≤ 0 now,
    p ≤ 0 after", which gives the analyst nothing to weigh. The comparison itself was
    right (log10 values); only the words were wrong."""
    phone, _ = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 4", actor="token:cs")
    scored(_result({"zto": -400.0}, {}), _result({"zto": -350.0}, {}))
    impact = erasure_impact(ws, rid)
    (zto,) = impact.partners
    assert zto.still_named and zto.weakened
    (warning,) = impact.warnings
    assert "p ≤ 0 " not in warning and "p ≤ 0," not in warning, warning
    assert "1e-400" in warning and "1e-350" in warning, warning


# --------------------------------------------------------------------- on PostgreSQL


@pytest.fixture
def pg_ws(postgres_url: str, tmp_path: Path, shop: pl.DataFrame) -> Iterator[Workspace]:  # noqa: F811
    """A workspace on a fresh database of the test server: one release, six reports."""
    with postgres_workspace(postgres_url, tmp_path / "ws") as ws:
        release(shop, recipient="zto", workspace=ws)
        add_reports(ws, report_objs(ws, shop, 6, seed=3))
        yield ws


@pytest.mark.postgres
def test_two_analysts_on_two_machines_decide_a_request_once(
    pg_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deciding was serialised by the workspace's file lock only, which holds on one
    machine; servers on several machines share one PostgreSQL ledger (docs/respond.md).
    Both read the request as pending: one erased the reports, the other declined ("a
    police case needs the report") over it, so the sealed record said declined while the
    reports were gone. The request row is now read FOR UPDATE."""
    ws = pg_ws
    phone, theirs = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 5", actor="token:cs")
    # two machines: the file lock does not reach the other one
    monkeypatch.setattr(requests_module, "workspace_lock", lambda _home: contextlib.nullcontext())
    both_read = threading.Barrier(2, timeout=5)
    original = requests_module._pending

    def pending_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read.wait()  # each has read it as pending (or the other is held)
        return found

    monkeypatch.setattr(requests_module, "_pending", pending_then_wait)
    outcome: dict[str, str] = {}

    def decide(erase: bool) -> None:
        try:
            view, _ = decide_erasure_request(
                ws, rid, erase=erase, actor="cli:a" if erase else "cli:b", note="公安机关调查中"
            )
            outcome["erase" if erase else "decline"] = view.status
        except InputError as exc:
            outcome["refused"] = exc.message

    threads = [threading.Thread(target=decide, args=(e,)) for e in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "already decided" in outcome.pop("refused", ""), outcome
    (status,) = outcome.values()
    assert status in (ERASED, DECLINED)
    left = {r.id for r in load_stored_reports(ws)}
    assert left.isdisjoint(theirs) if status == ERASED else left >= theirs
    assert request_seal_problems(ws) == []


@pytest.mark.postgres
def test_an_erasure_with_a_long_note_is_recorded_on_postgres(pg_ws: Workspace) -> None:
    """An erasure's note is "N report(s) erased; <the analyst's reason>": with a reason of
    up to 300 characters (what the API allows) it passed the column's 300 and PostgreSQL
    refused the whole decision (SQLite stored it whole, past the column)."""
    ws = pg_ws
    phone, theirs = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 6", actor="token:cs")
    view, res = decide_erasure_request(ws, rid, erase=True, actor="cli:a", note="核" * 300)
    assert view.status == ERASED and res is not None and set(res.erased) == theirs
    assert len(view.note) <= 300 and view.note.startswith(f"{len(theirs)} report(s) erased; 核")
    assert request_seal_problems(ws) == []


def test_an_erasures_note_fits_its_column(ws: Workspace) -> None:
    """The same on SQLite, which does not enforce the length: the note stored is at most
    the column's 300 characters, so the decision sealed is the one PostgreSQL would keep."""
    phone, _ = victim(ws)
    rid = request_erasure(ws, phone=phone, reason="工单 7", actor="token:cs")
    decide_erasure_request(ws, rid, erase=True, actor="cli:a", note="核" * 300)
    (note,) = rows(ws, f"select note from erasure_requests where id = {rid}")[0]
    assert len(note) <= 300
    assert request_seal_problems(ws) == []
