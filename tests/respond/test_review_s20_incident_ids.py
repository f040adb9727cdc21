"""Review of session 20: an incident id that is a phone, an ID number or a name (typed in
the service's path, the dashboard's form or a CLI argument) is refused without being
repeated, as ``_case_of`` does for case ids; a mistyped incident id is still named, so
the command line's messages stay useful."""

from __future__ import annotations

from datetime import datetime

import pytest

from conftest import run_cli
from leaktrace.errors import InputError, NotFoundError
from leaktrace.respond.incident import add_event, load_incident, open_incident
from leaktrace.workspace import Workspace

from .conftest import one_error

PERSONAL = [
    "13800138000",
    "+86 138 0013 8000",
    "138-0013-8000",
    "110101199003077777",
    "11010119900307777X",
    "王小明",
    "INC-13800138000",
    "INC-138-0013-8000",
    "INC-王小明",
    "inc-13800138000",
    "INC-138_0013_8000",  # separators the first check missed (a review)
    "INC-138+0013+8000",
]


@pytest.mark.parametrize("value", PERSONAL)
def test_personal_data_given_as_an_incident_id_is_refused_unrepeated(
    workspace: Workspace, value: str
) -> None:
    for act in (
        lambda: load_incident(workspace, value),
        lambda: add_event(workspace, value, "measure", {"text": "x"}),
    ):
        with pytest.raises(InputError) as caught:
            act()
        assert not isinstance(caught.value, NotFoundError)  # refused, not looked up
        message = caught.value.message
        assert "is not an incident id" in message, message
        for part in (value, value.removeprefix("INC-"), "0013", "王"):
            assert part not in message, message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("INC-2026", "no incident INC-2026"),
        ("INC-20261130-1a2b3c4d", "no incident INC-20261130-1a2b3c4d"),
        ("inc-20261130-1a2b3c4d", "'inc-20261130-1a2b3c4d' is not an incident id"),
        ("INC_2026", "'INC_2026' is not an incident id"),
        ("not-an-id", "the id given is not an incident id"),
    ],
)
def test_a_mistyped_incident_id_is_still_named(workspace: Workspace, value: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        load_incident(workspace, value)
    assert says in caught.value.message, caught.value.message


def test_an_incident_made_by_open_incident_still_loads(workspace: Workspace) -> None:
    inc = open_incident(workspace, "回归", datetime(2026, 1, 1))
    assert load_incident(workspace, inc.id).id == inc.id


def test_the_cli_names_a_typo_and_repeats_no_phone(workspace: Workspace) -> None:
    line = one_error(run_cli("incident", "show", "13800138000", home=workspace.home))
    assert "13800138000" not in line and "is not an incident id" in line
    line = one_error(run_cli("incident", "show", "INC-2026", home=workspace.home))
    assert "INC-2026" in line
