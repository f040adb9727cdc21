"""The commands' help as a terminal shows it (``leaktrace.cli.helptext``)."""

from __future__ import annotations

import os
import subprocess
import sys

from leaktrace.cli.helptext import unwrap


def _help(*args: str, columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "leaktrace", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    return done.stdout


def test_later_paragraphs_are_wrapped_by_the_terminal_not_the_source() -> None:
    """``verify``'s second paragraph broke after "that its last" in the source, and the
    help kept that break whatever the terminal's width."""
    wide = _help("verify", columns=200)
    assert "that its last records were removed" in wide
    narrow = _help("verify", columns=80)
    body = narrow[narrow.index("The chain") : narrow.index("is named.")]
    lines = [ln.strip() for ln in body.splitlines()]
    assert all(len(ln) > 50 for ln in lines[:-1]), lines  # filled lines, no stubs


def test_arguments_read_in_capitals_and_flags_take_no_value() -> None:
    text = _help("trace", columns=120)
    assert "LEAKED" in text and "{leaked}" not in text.lower()
    assert "[OPTIONS] LEAKED" in text  # Typer's usage line braced a required argument
    (json_row,) = [ln for ln in text.splitlines() if "--json" in ln]
    assert "<bool>" not in json_row
    assert "<path>" in next(ln for ln in text.splitlines() if "--report" in ln)
    for args in (("trace",), ()):  # --help itself, on a command and on the group
        shown = _help(*args, columns=120)
        (help_row,) = [ln for ln in shown.splitlines() if "--help" in ln]
        assert "<bool>" not in help_row, help_row


def test_unwrap_keeps_lists_and_blocks() -> None:
    doc = "First line\ngoes on.\n\nSecond para\nwraps here.\n\n- a list\n- of two\n\n\bkeep\nthis"
    assert unwrap(doc) == (
        "First line goes on.\n\nSecond para wraps here.\n\n- a list\n- of two\n\n\bkeep\nthis"
    )
