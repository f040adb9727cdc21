"""The API token store: tokens are shown once, stored only as SHA-256, and name a role."""

from __future__ import annotations

import hashlib
import json
import stat
import threading
from pathlib import Path

import pytest

from leaktrace.errors import ConfigError, InputError
from leaktrace.server.tokens import (
    TOKEN_FILE,
    Principal,
    add_token,
    authenticate,
    list_tokens,
    revoke_token,
)
from leaktrace.workspace import Workspace


def _known(ws: Workspace) -> set[str]:
    return set(ws.config.recipients)


def test_add_list_revoke(workspace: Workspace) -> None:
    home, known = workspace.home, _known(workspace)
    assert list_tokens(home) == []
    a = add_token(home, "alice", "analyst", known=known)
    b = add_token(home, "bob_cs", "agent", known=known)
    c = add_token(home, "zto-api", "recipient", recipient="zto", known=known)
    assert len({a, b, c}) == 3
    listed = list_tokens(home)
    assert [(t.name, t.role, t.recipient) for t in listed] == [
        ("alice", "analyst", None),
        ("bob_cs", "agent", None),
        ("zto-api", "recipient", "zto"),
    ]
    # what is stored is the token's SHA-256, nothing else derived from it
    assert [t.sha256 for t in listed] == [hashlib.sha256(x.encode()).hexdigest() for x in (a, b, c)]
    revoke_token(home, "bob_cs")
    assert [t.name for t in list_tokens(home)] == ["alice", "zto-api"]
    assert authenticate(home, b) is None
    assert authenticate(home, a) == Principal("alice", "analyst", None)
    with pytest.raises(InputError, match="bob_cs"):
        revoke_token(home, "bob_cs")  # already gone
    # the name stays reserved (what its holder did is recorded under it): the holder's
    # new token takes a new name
    with pytest.raises(InputError, match="bob_cs"):
        add_token(home, "bob_cs", "agent", known=known)
    b2 = add_token(home, "bob_cs-2", "agent", known=known)
    assert b2 != b
    assert authenticate(home, b) is None
    assert authenticate(home, b2) == Principal("bob_cs-2", "agent", None)


def test_token_file_is_private_and_never_holds_a_token(workspace: Workspace) -> None:
    home, known = workspace.home, _known(workspace)
    tokens = [
        add_token(home, "alice", "analyst", known=known),
        add_token(home, "sms-api", "recipient", recipient="sms", known=known),
    ]
    path = home / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    for t in tokens:
        assert t not in text
        assert t[3:] not in text  # not even without its prefix
    json.loads(text)  # a well-formed file
    revoke_token(home, "alice")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens[0] not in path.read_text(encoding="utf-8")


def test_authenticate_names_the_holder_and_nothing_else(
    workspace: Workspace, tmp_path: Path
) -> None:
    home, known = workspace.home, _known(workspace)
    analyst = add_token(home, "alice", "analyst", known=known)
    agent = add_token(home, "bob", "agent", known=known)
    partner = add_token(home, "yto-api", "recipient", recipient="yto", known=known)
    assert authenticate(home, analyst) == Principal("alice", "analyst", None)
    assert authenticate(home, agent) == Principal("bob", "agent", None)
    assert authenticate(home, partner) == Principal("yto-api", "recipient", "yto")
    flipped = analyst[:-1] + ("A" if analyst[-1] != "A" else "B")
    for wrong in (flipped, analyst[3:], "lt_", "", analyst + "x", analyst.upper(), "x" * 500):
        assert authenticate(home, wrong) is None, wrong
    # a token of another workspace means nothing here
    from conftest import make_workspace

    other = make_workspace(tmp_path / "other")
    stranger = add_token(other.home, "alice", "analyst", known=_known(other))
    assert authenticate(home, stranger) is None
    assert authenticate(other.home, analyst) is None


def test_no_token_file_means_nobody(workspace: Workspace) -> None:
    assert authenticate(workspace.home, "lt_" + "a" * 43) is None
    assert not (workspace.home / TOKEN_FILE).exists()


def test_duplicate_names_are_refused(workspace: Workspace) -> None:
    home, known = workspace.home, _known(workspace)
    first = add_token(home, "alice", "analyst", known=known)
    with pytest.raises(InputError, match="alice"):
        add_token(home, "alice", "agent", known=known)
    [only] = list_tokens(home)
    assert only.role == "analyst"
    assert authenticate(home, first) == Principal("alice", "analyst", None)


@pytest.mark.parametrize(
    ("role", "recipient", "match"),
    [
        ("admin", None, "role"),
        ("Analyst", None, "role"),
        ("", None, "role"),
        ("recipient", None, "--recipient"),
        ("recipient", "nobody", "nobody"),
        ("recipient", "ZTO", "ZTO"),
        ("analyst", "zto", "--recipient"),
        ("telecom", "sms", "--recipient"),
        ("agent", "nobody", "nobody"),
        ("agent", "ZTO", "ZTO"),
    ],
)
def test_bad_role_or_recipient_is_an_input_error(
    workspace: Workspace, role: str, recipient: str | None, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        add_token(workspace.home, "x", role, recipient=recipient, known=_known(workspace))
    assert list_tokens(workspace.home) == []  # nothing half-made


def test_an_agent_token_may_name_the_firm_its_holder_works_for(workspace: Workspace) -> None:
    """An outsourced customer-service firm is itself a recipient: its agents' erasure
    requests are then marked as taken by that firm (docs/attribution.md)."""
    home, known = workspace.home, _known(workspace)
    bound = add_token(home, "firm-agent", "agent", recipient="cs-firm", known=known)
    free = add_token(home, "own-agent", "agent", known=known)
    assert authenticate(home, bound) == Principal("firm-agent", "agent", "cs-firm")
    assert authenticate(home, free) == Principal("own-agent", "agent", None)
    assert [(t.role, t.recipient) for t in list_tokens(home)] == [
        ("agent", "cs-firm"),
        ("agent", None),
    ]


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a/b", "../x", "a\nb", "x" * 65, "-_-", "a;b", "ａｌｉｃｅ", "\u0430lice", "王五"],
)
def test_bad_names_are_refused(workspace: Workspace, name: str) -> None:
    with pytest.raises(InputError):
        add_token(workspace.home, name, "analyst", known=_known(workspace))
    assert list_tokens(workspace.home) == []


@pytest.mark.parametrize("person", ["ａｌｉｃｅ", "\u0430lice", "al ice", "ｗａｎｇ.ｗｕ"])
def test_a_person_written_in_lookalike_letters_is_refused(
    workspace: Workspace, person: str
) -> None:
    """One person, one spelling: full-width or Cyrillic letters would make a second person
    the four-eyes rule tells apart from the first (session 25's review)."""
    with pytest.raises(InputError, match="--person is a login name"):
        add_token(workspace.home, "x", "agent", known=_known(workspace), person=person)
    add_token(workspace.home, "wang", "agent", known=_known(workspace), person="王五")
    add_token(workspace.home, "li", "agent", known=_known(workspace), person="li.na@shop.cn")
    assert [t.person for t in list_tokens(workspace.home)] == ["王五", "li.na@shop.cn"]


def test_no_token_outside_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        add_token(tmp_path / "missing", "alice", "analyst", known=set())
    assert not (tmp_path / "missing").exists()


def test_two_writers_at_once_keep_every_token(workspace: Workspace) -> None:
    home, known = workspace.home, _known(workspace)
    made: dict[str, str] = {}
    errors: list[BaseException] = []

    def add_many(prefix: str) -> None:
        try:
            for i in range(15):
                made[f"{prefix}{i}"] = add_token(home, f"{prefix}{i}", "agent", known=known)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add_many, args=(p,)) for p in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(t.name for t in list_tokens(home)) == sorted(made)
    for name, token in made.items():
        assert authenticate(home, token) == Principal(name, "agent", None)


MARKER = "SECRET-CONTENT-7f3a"


@pytest.mark.parametrize(
    "body",
    [
        f'{{"tokens": [{{"name": "{MARKER}"'.encode(),  # cut short
        f'{{"tokens": [{{"name": "{MARKER}", "role": "root", "created": "x", "sha256": "y"}}]}}'.encode(),
        f'{{"tokens": {{"{MARKER}": 1}}}}'.encode(),
        f'{{"tokens": ["{MARKER}"]}}'.encode(),
        f'{{"{MARKER}": []}}'.encode(),
        f'["{MARKER}"]'.encode(),
        b"\xff\xfe" + MARKER.encode("utf-16-le"),
        MARKER.encode(),
        b"",
    ],
    ids=[
        "truncated",
        "unknown-role",
        "tokens-not-a-list",
        "token-not-an-object",
        "no-tokens-key",
        "top-level-list",
        "not-utf8",
        "not-json",
        "empty",
    ],
)
def test_a_broken_token_file_is_a_config_error_naming_the_file_only(
    workspace: Workspace, body: bytes
) -> None:
    path = workspace.home / TOKEN_FILE
    path.write_bytes(body)
    for call in (
        lambda: list_tokens(workspace.home),
        lambda: authenticate(workspace.home, "lt_" + "a" * 43),
        lambda: add_token(workspace.home, "new", "analyst", known=set()),
        lambda: revoke_token(workspace.home, "new"),
    ):
        with pytest.raises(ConfigError) as info:
            call()
        assert str(path) in info.value.message
        assert MARKER not in info.value.message
        assert MARKER not in str(info.value)
    assert path.read_bytes() == body  # not overwritten by the failed add


def test_a_token_file_that_is_a_folder_is_a_config_error(workspace: Workspace) -> None:
    (workspace.home / TOKEN_FILE).mkdir()
    with pytest.raises(ConfigError):
        list_tokens(workspace.home)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        json.dumps(
            {"tokens": [{"name": "a", "role": "analyst", "created": "x", "sha256": "é" * 64}]}
        ),
    ],
    ids=["deeply-nested", "non-ascii-digest"],
)
def test_any_broken_token_file_is_a_config_error(workspace: Workspace, body: str) -> None:
    (workspace.home / TOKEN_FILE).write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError):
        authenticate(workspace.home, "lt_" + "a" * 43)
