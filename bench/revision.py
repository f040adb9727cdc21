"""A module of leaktrace as it was at a git revision, for benchmarks that time old code
against the working tree in the same run (``address_ab.py``, ``customer_hits.py``,
``exposure.py``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType


def file_at(rev: str, repo_path: str, dest: Path) -> Path:
    """``repo_path`` (e.g. ``src/leaktrace/attribution/hits.py``) at ``rev``, written to
    ``dest``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{repo_path}"], check=True, capture_output=True, text=True
    ).stdout
    dest.write_text(source, encoding="utf-8")
    return dest


def module_at(rev: str, repo_path: str, name: str, folder: Path) -> ModuleType:
    """``repo_path`` at ``rev`` imported as module ``name`` (registered in ``sys.modules``:
    its dataclasses look themselves up there). Its own imports are today's package."""
    path = file_at(rev, repo_path, folder / f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
