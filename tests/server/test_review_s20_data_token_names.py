"""A revoked token's name is never given again (session 20, M4).

Who opened a case is stored as ``token:<name>`` and the service decides who may withdraw
it by that name: after ``token revoke wang``, ``token add wang`` gave another person the
old holder's cases. The revoked name stays in the token file (name, role, when; no
digest) and ``token add`` refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from leaktrace.errors import InputError
from leaktrace.server.tokens import (
    TOKEN_FILE,
    Principal,
    add_token,
    authenticate,
    list_revoked,
    list_tokens,
    revoke_token,
)
from leaktrace.workspace import Workspace


def test_a_revoked_name_is_refused_and_kept_without_secrets(workspace: Workspace) -> None:
    home, known = workspace.home, set(workspace.config.recipients)
    old = add_token(home, "wang", "agent", known=known)
    other = add_token(home, "li", "analyst", known=known)
    revoke_token(home, "wang")

    with pytest.raises(InputError, match="'wang' belonged to a token revoked on") as info:
        add_token(home, "wang", "agent", known=known)
    assert "pick another name" in info.value.message and "\n" not in info.value.message
    with pytest.raises(InputError, match="'wang' belonged to a token revoked"):
        add_token(home, "wang", "analyst", known=known)  # whatever the role
    with pytest.raises(InputError, match="already revoked"):
        revoke_token(home, "wang")

    # the revoked token still cannot authenticate; the file stays readable by the server
    assert authenticate(home, old) is None
    assert authenticate(home, other) == Principal("li", "analyst", None)
    assert [t.name for t in list_tokens(home)] == ["li"]
    [gone] = list_revoked(home)
    assert (gone.name, gone.role) == ("wang", "agent") and gone.revoked

    stored = json.loads((home / TOKEN_FILE).read_text(encoding="utf-8"))
    assert [set(r) for r in stored["revoked"]] == [{"name", "role", "revoked"}]
    text = (home / TOKEN_FILE).read_text(encoding="utf-8")
    assert old not in text and old[3:] not in text
    assert add_token(home, "wang-2", "agent", known=known) != old  # a new name is fine


def test_a_token_file_without_revoked_names_is_still_read(workspace: Workspace) -> None:
    """A file written before names were kept: its tokens authenticate, nothing is revoked,
    and the first revocation adds the list."""
    home, known = workspace.home, set(workspace.config.recipients)
    token = add_token(home, "zhao", "analyst", known=known)
    path = home / TOKEN_FILE
    stored = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({"tokens": stored["tokens"]}), encoding="utf-8")
    assert authenticate(home, token) == Principal("zhao", "analyst", None)
    assert list_revoked(home) == []
    revoke_token(home, "zhao")
    assert authenticate(home, token) is None
    assert [r.name for r in list_revoked(home)] == ["zhao"]


def test_cli_token_add_of_a_revoked_name_is_one_line_error(workspace: Workspace) -> None:
    home: Path = workspace.home
    first = run_cli("token", "add", "wang", "--role", "agent", home=home)
    assert first.returncode == 0, first.stderr
    old = first.stdout.strip()
    assert run_cli("token", "revoke", "wang", home=home).returncode == 0

    again = run_cli("token", "add", "wang", "--role", "agent", home=home)
    assert again.returncode == 2, again.stdout + again.stderr
    assert again.stdout == ""  # no token printed
    [line] = again.stderr.strip().splitlines()
    assert "'wang' belonged to a token revoked on" in line and "pick another name" in line
    assert authenticate(home, old) is None
    assert list_tokens(home) == []
