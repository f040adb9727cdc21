"""Review of session 19 (case review/withdraw, outputs outside the workspace, messages,
exposure-only caveats): failing tests for the defects found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace, run_cli
from leaktrace.attribution.attribute import AttributionResult, Candidate
from leaktrace.attribution.erasure_impact import _change, _warnings
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.respond.cases import open_case, review_case
from leaktrace.respond.incident import open_incident, record_evidence
from leaktrace.trace import trace
from leaktrace.trace.bundle import build_bundle, write_bundle
from leaktrace.workspace import open_workspace

LEAK_COLS = ["name", "phone", "address", "order_time", "product"]


# --- 1. an approval after a key rotation pays one loss twice ------------------------------


def test_approving_after_a_key_rotation_still_needs_another_loss(
    tmp_path: Path, shop: pl.DataFrame
) -> None:
    """Order O was advanced in INC1 (key v1). After a rotation, a case for O in INC2 is
    decided 'review' *because* of that advance (open_case compares under every version).
    Approving it must then need ``another_loss`` like any second advance for one loss;
    ``_another_advance`` compares the order digests only under the same key version, so
    the approval goes through and the same loss gets a second advance."""
    ws = make_workspace(tmp_path / "ws")
    copy = tmp_path / "zto.parquet"
    release(shop, recipient="zto", workspace=ws, out=copy)
    leak = pl.read_parquet(copy).sample(25, seed=51).select(LEAK_COLS)
    bundle = tmp_path / "evidence.json"
    write_bundle(build_bundle(ws, trace(leak, workspace=ws)), bundle)
    found = datetime.now(UTC) - timedelta(hours=2)
    inc1 = open_incident(ws, "中通面单泄露", found).id
    record_evidence(ws, inc1, bundle)
    inc2 = open_incident(ws, "中通面单泄露（二）", found).id
    record_evidence(ws, inc2, bundle)
    row = shop.filter(pl.col("courier") == "中通快递").row(7, named=True)
    order, phone = str(row["order_id"]), str(row["phone"])

    first = open_case(
        ws,
        inc1,
        order_id=order,
        phone=phone,
        occurred=datetime.now(UTC),
        loss=3000.0,
        police_receipt="ROT-00000001",
    )
    assert (first.decision, first.advance) == ("advance", 3000.0)

    ws.keys.rotate()
    ws = open_workspace(ws.home)
    second = open_case(
        ws,
        inc2,
        order_id=order,
        phone=phone,
        occurred=datetime.now(UTC),
        loss=3000.0,
        police_receipt="ROT-00000002",
    )
    assert second.decision == "review", second.reasons
    assert "already has an advance" in second.reasons[0]

    # the same loss, advanced once already: an approval without another_loss is refused
    with pytest.raises(InputError, match="already has an advance"):
        review_case(ws, inc2, second.case_id, "approved", "回拨核实")


# --- 3. a phone typed into --channel comes back in the error -----------------------------


def test_canary_hit_channel_error_does_not_echo_a_phone(tmp_path: Path) -> None:
    """``check_channel`` quotes the value given: a phone typed into --channel (options
    swapped) is printed back on stderr. Personal data never appear in errors."""
    home = tmp_path / "ws"
    make_workspace(home)
    typed = "13912345678"
    done = run_cli(
        "canary", "hit", "--contact", "13800138000", "--channel", typed,
        "--at", "2024-06-01T10:00:00", home=home,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--channel" in done.stderr
    assert typed not in done.stderr + done.stdout


# --- 2. an output aimed at a ledger database kept outside the workspace ------------------


def test_refuse_output_guards_a_sqlite_ledger_outside_the_workspace(tmp_path: Path) -> None:
    """``database_url = sqlite:////abs/path`` keeps the ledger outside the workspace
    folder; ``trace --report /abs/path`` (or release --out) then replaces the ledger, the
    very thing refuse_output exists to prevent."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "ledger.db"
    ws = make_workspace(tmp_path / "ws", database_url=f"sqlite:///{db}")
    assert db.exists()
    with pytest.raises(InputError, match=r"ledger|workspace"):
        ws.refuse_output("--report", db)


# --- 5. an erasure that leaves the verdict on exposure alone, hidden by a campaign -----


def _result(
    accused: list[Candidate], caveats: list[dict[str, object]], campaigns: list[dict[str, object]]
) -> AttributionResult:
    return AttributionResult(
        verdict="source identified",
        alpha=1e-9,
        accused=accused,
        candidates=accused,
        tests=8,
        families=("exposure", "aliases", "formatting", "canaries"),
        reports={},
        flagged=[],
        outside={},
        explanation={"zh": "", "en": ""},
        campaigns=campaigns,
        caveats=caveats,
    )


def test_erasure_that_leaves_the_verdict_on_exposure_alone_is_said_despite_a_campaign_caveat() -> (
    None
):
    """Before: the verdict names zto on its order aliases (no caveat); one early campaign
    flag for zto rests on exposure alone. After erasing the alias-quoting reports, the
    verdict itself rests on exposure alone and cs-firm held every victim. ``_caveats``
    merges the verdict's caveat with any campaign flag's, so ``exposure_only_before`` is
    already True and the warning never says that the verdict now rests on exposure alone
    (nor who else held the victims)."""
    cav = {
        "recipient": "zto",
        "rests_on": "exposure",
        "families": ["aliases", "exposure"],
        "consistent": 40,
        "log10_p_without_exposure": 0.0,
        "also_held_by": [{"recipient": "cs-firm", "victims": 40}],
        "top_holders": [{"recipient": "cs-firm", "victims": 40}],
    }
    camp = {"attributed": "zto", "caveat": {**cav, "consistent": 6}}
    strong = Candidate(
        "zto", log10_p_family={"exposure": -12.0, "aliases": -40.0}, log10_p_corrected=-48.0
    )
    weak = Candidate("zto", log10_p_family={"exposure": -12.0}, log10_p_corrected=-11.0)
    before = _result([strong], [], [camp])
    after = _result([weak], [cav], [camp])
    change = _change(before, after)
    text = " ".join(_warnings([3, 4], 5, change, {}))
    assert "zto" in text and "exposure alone" in text, text
    assert "cs-firm" in text, text
