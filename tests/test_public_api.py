"""The public surface is pinned: changing it must be a deliberate, reviewed act."""

from __future__ import annotations

import re
from pathlib import Path

import leaktrace

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_is_pinned() -> None:
    assert sorted(leaktrace.__all__) == [
        "__version__",
        "add_recipient",
        "errors",
        "init_workspace",
        "open_workspace",
        "release",
        "scam",
        "trace",
    ]
    for name in leaktrace.__all__:
        assert getattr(leaktrace, name) is not None
    assert callable(leaktrace.release) and callable(leaktrace.trace)


def test_every_cli_command_is_documented() -> None:
    """Like datasette: a command that the docs do not mention fails the build."""
    import typer.main

    from leaktrace.cli import _register, app

    _register()
    group = typer.main.get_command(app)
    docs = (ROOT / "README.md").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")
    )

    def walk(cmd: object, prefix: str) -> list[str]:
        subs = getattr(cmd, "commands", None)
        if not subs:
            return [prefix]
        out = []
        for name, sub in subs.items():
            out += walk(sub, f"{prefix} {name}".strip())
        return out

    missing = [c for c in walk(group, "") if not re.search(rf"leaktrace {re.escape(c)}\b", docs)]
    assert not missing, f"undocumented commands: {missing}"


def test_every_policy_setting_is_documented() -> None:
    from leaktrace.config import CanaryPool, Policy, Recipient

    docs = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    for model in (Policy, Recipient, CanaryPool):
        for field in model.model_fields:
            assert f"`{field}`" in docs, (
                f"{model.__name__}.{field} is not documented in docs/policy.md"
            )
