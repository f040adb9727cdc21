"""The leaktrace exception tree.

Every error a *user* can cause derives from :class:`LeaktraceError`; the CLI maps each
class to an exit code and prints one line (no traceback). Anything that is not a
``LeaktraceError`` is a bug and is allowed to show a traceback.

    LeaktraceError                      exit 2 (user error)
    ├── InputError                      unreadable / mis-encoded / empty file, missing column
    │   ├── MissingColumnError          a column the policy needs is absent
    │   └── NotFoundError               an id that names no stored record (HTTP 404)
    ├── ConfigError                     workspace missing, leaktrace.toml invalid
    │   ├── PolicyError                 a policy names an unknown field/operator/channel
    │   └── UnknownRecipientError       ``--to`` names nobody in the workspace
    ├── KeyError_                       key file missing or with unsafe permissions
    │   └── SigningPassphraseError      encrypted signing key: passphrase missing or wrong
    ├── LedgerIntegrityError            chain, signature or index digest does not verify
    ├── EvidenceError                   an evidence bundle fails verification
    └── ModelError                      a scam model file cannot be loaded

Messages must never contain key material or personal data: they name files, columns,
line numbers and recipients, not cell values.
"""

from __future__ import annotations

import sys

__all__ = [
    "ConfigError",
    "EvidenceError",
    "InputError",
    "KeyFileError",
    "LeaktraceError",
    "LedgerIntegrityError",
    "MissingColumnError",
    "ModelError",
    "NotFoundError",
    "PolicyError",
    "SigningPassphraseError",
    "UnknownRecipientError",
    "database_error_message",
]


class LeaktraceError(Exception):
    """Base of every user-facing error. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2
    title: str = "leaktrace error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(LeaktraceError):
    title = "bad input"


class MissingColumnError(InputError):
    title = "missing column"


class NotFoundError(InputError):
    """An id that names no stored record (an erasure request, an incident): the service
    answers 404."""

    title = "not found"


class ConfigError(LeaktraceError):
    title = "bad configuration"


class PolicyError(ConfigError):
    title = "invalid policy"


class CanaryConflictError(ConfigError):
    """Two releases running at once drew the same canary number; the later one is refused.

    :func:`leaktrace.release.release` retries with fresh numbers, so users see this only
    when every retry collided."""

    title = "canary number taken"


class UnknownRecipientError(ConfigError):
    title = "unknown recipient"


class KeyFileError(LeaktraceError):
    title = "key file problem"


class SigningPassphraseError(KeyFileError):
    """``keys/signing.key`` is encrypted and ``$LEAKTRACE_SIGNING_PASSPHRASE`` is missing or
    does not decrypt it (or a passphrase given to protect it is unusable). The message never
    quotes the passphrase."""

    title = "signing key passphrase"


class LedgerIntegrityError(LeaktraceError):
    title = "ledger integrity failure"


class EvidenceError(LeaktraceError):
    title = "evidence bundle does not verify"


class ModelError(LeaktraceError):
    title = "model problem"


def database_error_message(exc: Exception, *, new_workspace: bool = False) -> str | None:
    """One line for a ledger database that cannot be used (corrupt file, server down), or
    None when ``exc`` is not a database error. Only the driver's first line is quoted, and
    only for connection/file errors: other errors can quote SQL parameters.

    ``new_workspace``: the database was being created (``init``). Then there is no backup
    to restore and the URL came from ``--database-url``, not ``leaktrace.toml``: the advice
    for an existing workspace misled a user whose server was only unreachable."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
        return None
    detail = ""
    if isinstance(exc, sa_exc.OperationalError):
        orig = str(getattr(exc, "orig", "") or "").strip().splitlines()
        detail = f": {orig[0][:160]}" if orig else ""
        if "readonly database" in detail:  # SQLite: the file (or its folder) is read-only
            return (
                "the ledger database is read-only for this user (SQLite: attempt to write a "
                "readonly database); nothing was recorded. Give write permission on the "
                "database file and its folder, or run as their owner"
            )
    if new_workspace:
        return (
            f"the ledger database cannot be created ({type(exc).__name__}{detail}); check "
            "--database-url and that its server is running and reachable; no workspace "
            "was made"
        )
    return (
        f"the ledger database cannot be used ({type(exc).__name__}{detail}); "
        "check database_url in leaktrace.toml, or restore the database from a backup"
    )
