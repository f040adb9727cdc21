"""Review of session 19: the selection caveat (an accusation that rests on exposure alone
names the recipients that held its victims).

Each test below fails on 71c42bd for the reason its docstring gives, except those marked
"Checked, holds" (kept as regression guards).

Placed under tests/attribution/ because it needs that directory's fixtures (``ws``,
``attr_shop``) and the filtered-copy wave of ``test_selection_caveat``.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import polars as pl
import pytest

from leaktrace.attribution.attribute import attribute
from leaktrace.attribution.report_html import render_report
from leaktrace.attribution.simulate import simulate_wave
from leaktrace.workspace import Workspace

from .conftest import store_wave
from .test_selection_caveat import _filtered_courier_wave

# the package re-exports the function ``attribute`` under the module's name
attribute_module = importlib.import_module("leaktrace.attribution.attribute")
campaigns_module = importlib.import_module("leaktrace.attribution.campaigns")


def _filtered_wave_in_noise(ws: Workspace, shop: pl.DataFrame) -> None:
    """The courier's copy filtered to the merchant's buyers (one caller, 60 victims), among
    50 unrelated reports (random customers, one caller each), every victim quoting only the
    name. The unrelated reports dilute the overall verdict below alpha (nobody accused), but
    the one-caller campaign is flagged to the merchant by exposure alone."""
    wave = _filtered_courier_wave(ws, shop)
    noise = simulate_wave(ws, shop, source="unmarked", victims=50, seed=9, unrelated=0, callers=50)
    for w in noise:
        w["quoted"] = {"name": True}
    store_wave(ws, wave + noise)


# ------------------------------------------------------------------ what the user sees


def test_attribute_json_carries_the_caveats(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """docs/attribution.md (Limits, session 19) says the caveat is "`caveats` in
    `attribute --json`", but ``attribute_cmd`` prints a whitelist of ``as_dict()``'s keys
    (src/leaktrace/cli/attribution.py, the tuple after ``if json_out``) that was not
    extended: the verdict's caveat is dropped from the JSON, so a consumer of
    ``attribute --json`` gets ``accused: [merch]`` with nothing saying it could be a
    filtered copy of zto's (only the prose explanation says so)."""
    from typer.testing import CliRunner

    from leaktrace.cli import _register, app

    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    _register()
    r = CliRunner().invoke(app, ["attribute", "--home", str(ws.home), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [a["recipient"] for a in d["accused"]] == ["merch"]
    assert "caveats" in d, sorted(d)
    (cav,) = d["caveats"]
    assert {h["recipient"] for h in cav["also_held_by"]} >= {"zto", "cs-firm", "sms"}


def _campaign_blocks(html: str) -> list[str]:
    body = html[html.index("<h2>Campaigns</h2>") :]
    return [b for b in re.split(r"(?=<h3>)", body) if b.startswith("<h3>")]


def test_html_report_shows_a_campaign_flags_caveat(ws: Workspace, attr_shop: pl.DataFrame) -> None:
    """The HTML report (``attribute --report``, the page an analyst forwards) shows a
    flagged campaign as "campaign 1: 60 reports, callers … — merch" and nothing else:
    ``render_report`` never reads ``camp['caveat']``. When the overall verdict accuses
    nobody (the filtered wave diluted by unrelated reports) the explanation has no caveat
    sentence either, so the page names the merchant as the campaign's source with no word
    that it rests on exposure alone and that zto, cs-firm and sms held every victim — the
    reading the commit exists to prevent. (``campaign_lines`` in the CLI text says it.)"""
    _filtered_wave_in_noise(ws, attr_shop)
    res = attribute(ws)
    assert res.accused == [] and res.caveats == []  # the verdict names nobody
    flagged = [c for c in res.campaigns if c["attributed"]]
    assert flagged and {c["attributed"] for c in flagged} == {"merch"}
    assert all(c["caveat"] for c in flagged)  # the data has it
    html = render_report(res)
    blocks = {int(re.match(r"<h3>campaign (\d+):", b).group(1)): b for b in _campaign_blocks(html)}  # type: ignore[union-attr]
    for camp in flagged:
        block = blocks[camp["id"]]
        held = [h["recipient"] for h in camp["caveat"]["also_held_by"]][:3]
        assert "exposure" in block and all(r in block for r in held), block[:400]


# ------------------------------------------------------------------ checked, holds


def test_the_caveat_uses_the_correction_each_accusation_got(
    ws: Workspace, attr_shop: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked, holds: ``selection_caveats`` is given the Bonferroni factor ``score`` used,
    for the verdict (recipients × ALPHA_SPLIT) and for every campaign flag (recipients ×
    split × campaigns × looks_c), and the victims it was scored on."""
    calls: list[tuple[str, Any]] = []
    real_score, real_cav = attribute_module.score, attribute_module.selection_caveats

    def spy_score(ws_: Workspace, ev: Any, idx: Any = None, **kw: Any) -> Any:
        out = real_score(ws_, ev, idx, **kw)
        calls.append(("score", (idx, kw.get("extra_tests", 1), len(ev.view.recipients), out)))
        return out

    def spy_cav(ev: Any, accused: Any, **kw: Any) -> Any:
        calls.append(("caveat", (kw.get("idx"), kw["tests"], accused)))
        return real_cav(ev, accused, **kw)

    monkeypatch.setattr(attribute_module, "score", spy_score)
    monkeypatch.setattr(attribute_module, "selection_caveats", spy_cav)
    monkeypatch.setattr(campaigns_module, "score", spy_score)
    monkeypatch.setattr(campaigns_module, "selection_caveats", spy_cav)
    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    attribute(ws)
    checked = 0
    for n, (kind, args) in enumerate(calls):
        if kind != "caveat":
            continue
        idx, tests, accused = args
        # the score call whose candidates these are
        s_idx, extra, n_rec, _cands = next(
            a for k, a in reversed(calls[:n]) if k == "score" and accused[0] in a[3]
        )
        assert tests == max(n_rec, 1) * max(extra, 1)
        assert (idx is None and s_idx is None) or list(idx) == list(s_idx)
        checked += 1
    assert checked >= 2  # the verdict and at least one campaign flag


@pytest.mark.parametrize(
    ("families", "expect"),
    [(("aliases",), 0), (("exposure",), 1), (("exposure", "aliases"), 1)],
)
def test_families_without_exposure_carry_no_caveat(
    ws: Workspace, attr_shop: pl.DataFrame, families: tuple[str, ...], expect: int
) -> None:
    """Checked, holds: with exposure not among the families nobody is accused by it and no
    caveat is made; with exposure alone (or exposure and aliases that quote nothing) the
    accusation carries one, its bound without exposure being 1."""
    store_wave(ws, _filtered_courier_wave(ws, attr_shop))
    res = attribute(ws, families=families)
    assert len(res.caveats) == expect
    assert len(res.caveats) == len(res.accused)
    for cav in res.caveats:
        assert cav["log10_p_without_exposure"] == 0.0
