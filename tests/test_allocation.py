"""Allocator settings: applied before Polars loads, never over the user's own choice."""

from __future__ import annotations

import os
import subprocess
import sys

from leaktrace.allocation import JEMALLOC_CONF


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_cli_configures_jemalloc_before_polars_loads() -> None:
    out = _python(
        "import os, sys\n"
        "sys.argv = ['leaktrace', 'releases', '--help']\n"
        "from leaktrace.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        # the commands import Polars when they run (`--help` need not): as a command would
        "import polars\n"
        "print('polars' in sys.modules, os.environ['_RJEM_MALLOC_CONF'], sep='|')"
    )
    loaded, conf = out.splitlines()[-1].split("|")
    # Polars prepends its own defaults to the variable when it loads: ours come last, so win
    assert loaded == "True" and conf.endswith("," + JEMALLOC_CONF), conf


def test_too_late_or_user_choice_is_left_alone() -> None:
    code = (
        "{pre}from leaktrace.allocation import configure_process\n"
        "import os\nprint(configure_process(), os.environ.get('_RJEM_MALLOC_CONF'))"
    )
    assert _python(code.format(pre="")) == f"True {JEMALLOC_CONF}"
    late = _python(code.format(pre="import polars\n"))
    assert late.startswith("False") and JEMALLOC_CONF not in late
    mine = _python(code.format(pre=""), _RJEM_MALLOC_CONF="dirty_decay_ms:100")
    assert mine == "False dirty_decay_ms:100"
