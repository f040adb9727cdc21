"""Key bytes that never print themselves.

Why: derived subkeys (mark, alias, anchor, index, customer, canary …) travel through plans,
pickles to Spark executors and error paths, and ``bytes`` shows its contents in ``repr``,
``str``, f-strings and ``json.dumps(default=str)``. A :class:`SecretKey` is still ``bytes``
(hashlib, the C extensions, AES and FF1 take it unchanged) but every way of *formatting* it
gives ``<hidden>``; only an explicit ``bytes(key)`` or ``key.hex()`` shows the value.
"""

from __future__ import annotations

__all__ = ["SecretKey"]


class SecretKey(bytes):
    """Key material: formats as ``SecretKey(<hidden>)``, pickles as itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<hidden>)"

    def __str__(self) -> str:
        return repr(self)

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (bytes(self),))
