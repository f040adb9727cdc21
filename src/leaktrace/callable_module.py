"""Make a module callable, so ``leaktrace.release(df, ...)`` and ``leaktrace.trace(path)``
work while ``leaktrace.release`` / ``leaktrace.trace`` stay importable modules.

Why: the public API the issues name is ``leaktrace.release(...)`` and ``leaktrace.trace(...)``,
and the modules that implement them are called ``release`` and ``trace`` (one concept per
module, named for what it is). Re-binding the package attribute to a function would make
``import leaktrace.release as r`` return the function; a callable module keeps both.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["make_callable"]


def make_callable(module_name: str, fn: Callable[..., Any]) -> None:
    module = sys.modules[module_name]

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

    _CallableModule.__doc__ = fn.__doc__
    module.__class__ = _CallableModule
