"""leaktrace: make customer data traceable wherever it goes.

Public Python API (pinned by ``tests/test_public_api.py``)::

    import leaktrace
    ws = leaktrace.init_workspace(Path(".leaktrace"))          # or open_workspace
    leaktrace.add_recipient(ws, "zto", template="courier", where="courier = '中通快递'")
    res = leaktrace.release(df, recipient="zto", home=".leaktrace", out="zto.csv")
    result = leaktrace.trace("leaked.xlsx", home=".leaktrace")
    leaktrace.scam.check(["您好，我是淘宝客服……"])

``leaktrace.release`` and ``leaktrace.trace`` are modules that can be called like their main
function (see :mod:`leaktrace.callable_module`).
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

from leaktrace import errors

if TYPE_CHECKING:
    from leaktrace import release, scam, trace
    from leaktrace.workspace import add_recipient, init_workspace, open_workspace

_LAZY = {
    "release": ("leaktrace.release", None),
    "trace": ("leaktrace.trace", None),
    "scam": ("leaktrace.scam", None),
    "add_recipient": ("leaktrace.workspace", "add_recipient"),
    "init_workspace": ("leaktrace.workspace", "init_workspace"),
    "open_workspace": ("leaktrace.workspace", "open_workspace"),
}


def __getattr__(name: str) -> Any:
    """Import heavy parts on first use, so ``leaktrace --help`` starts fast."""
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'leaktrace' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr)


__all__ = [
    "__version__",
    "add_recipient",
    "errors",
    "init_workspace",
    "open_workspace",
    "release",
    "scam",
    "trace",
]
