"""An incident's texts hold no phone or ID card number (a user's walk: `incident measure
$ID "已联系用户 13800138000 核实"` was sealed for good and copied into every exposed
person's notice and the regulator draft)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import make_workspace, run_cli
from leaktrace.errors import InputError
from leaktrace.respond.incident import clean_text, load_incident, open_incident

PHONES = ["已联系用户 13800138000 核实", "回拨 138-0013-8000", "用户 一三八零零一三八零零零"]


@pytest.mark.parametrize("text", [*PHONES, "身份证 11010119900307777X"])
def test_a_personal_number_is_refused_in_any_spelling(text: str) -> None:
    with pytest.raises(InputError, match="phone or ID card number"):
        clean_text(text, "the measure")
    assert clean_text(text, "the note", personal_ok=True)  # encrypted before it is stored


@pytest.mark.parametrize(
    "text", ["已下线接口并轮换密钥", "工单 20261130-0042", "三八妇女节活动", "客服热线 95188"]
)
def test_ordinary_text_passes(text: str) -> None:
    assert clean_text(text, "the measure") == text


def test_the_commands_refuse_it_and_record_nothing(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws")
    with pytest.raises(InputError, match="phone or ID card number"):
        open_incident(ws, "用户 13800138000 来电", datetime.now(UTC) - timedelta(hours=1), "x")
    inc = open_incident(ws, "快递面单泄露", datetime.now(UTC) - timedelta(hours=1), "cli")
    n = len(load_incident(ws, inc.id).events)
    r = run_cli("incident", "measure", inc.id, PHONES[0], home=ws.home)
    assert r.returncode == 2 and "phone or ID card number" in r.stderr
    assert "13800138000" not in r.stderr and "Traceback" not in r.stderr
    assert len(load_incident(ws, inc.id).events) == n
    r = run_cli("incident", "measure", inc.id, "已下线接口并轮换密钥", home=ws.home)
    assert r.returncode == 0, r.stderr
