"""A leaktrace workspace: config, keys and ledger under one folder.

Layout of ``--home`` (default ``$LEAKTRACE_HOME`` or ``./.leaktrace``)::

    leaktrace.toml        recipients, policies, canary pool, official contacts, database URL
    keys/                 master.v<N>.key (0600), signing.key (0600), signing.pub
    ledger.db             SQLite ledger (or any SQLAlchemy URL in the config)
    index/<release>.parquet   row-level exposure index (keyed digests only)
    ledger.lock           serialises ledger appends

Policies shipped as templates (``TEMPLATES``) encode what each kind of partner needs; they
are the starting point of ``leaktrace recipient add --template``.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from leaktrace.config import (
    CanaryPool,
    OfficialContacts,
    Policy,
    Recipient,
    WorkspaceConfig,
    WorkspaceSection,
    load_config,
    save_config,
)
from leaktrace.errors import ConfigError, InputError, PolicyError, database_error_message
from leaktrace.keys import KeyRing

__all__ = [
    "MAX_RECIPIENT_NAME",
    "TEMPLATES",
    "Workspace",
    "add_recipient",
    "init_workspace",
    "open_workspace",
]

CONFIG_NAME = "leaktrace.toml"
MAX_RECIPIENT_NAME = 64

TEMPLATES: dict[str, Policy] = {
    "courier": Policy(
        description="快递公司: needs who/where/what to deliver; sees only its own shipments",
        fields={
            "order_id": "alias",
            "order_time": "keep",
            "name": "mask_name",
            "phone": "keep",
            "address": "keep",
            "product": "keep",
            "quantity": "keep?",
        },
        channels=["timestamp", "address", "title"],
    ),
    "merchant": Policy(
        description="商家: fulfils its own sales; no full phone (platform virtual numbers)",
        fields={
            "order_id": "alias",
            "order_time": "keep",
            "name": "mask_name",
            "phone": "mask_phone",
            "address": "keep",
            "product": "keep",
            "sku": "keep?",
            "quantity": "keep?",
            "amount": "keep?",
        },
        channels=["timestamp", "address", "title"],
    ),
    "customer-service": Policy(
        description="外包客服: answers order questions; district-level address, masked phone",
        fields={
            "order_id": "alias",
            "order_time": "keep",
            "name": "mask_name",
            "phone": "mask_phone",
            "address": "generalise_address",
            "product": "keep",
            "amount": "keep?",
            "card_last4": "keep?",
        },
        channels=["timestamp", "address", "title"],
    ),
    "sms-vendor": Policy(
        description="短信服务商: sends order notifications; phone + masked name + product only",
        fields={
            "order_id": "alias",
            "name": "mask_name",
            "phone": "keep",
            "product": "keep",
        },
        channels=["title"],
    ),
    "internal": Policy(
        description="内部团队 (analytics): no direct identifiers",
        fields={
            "order_id": "alias",
            "order_time": "keep",
            "address": "generalise_address",
            "product": "keep",
            "amount": "keep?",
        },
        channels=["timestamp", "address", "title"],
    ),
}


@dataclass
class Workspace:
    home: Path
    config: WorkspaceConfig
    keys: KeyRing

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_NAME

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def database_url(self) -> str:
        url = self.config.workspace.database_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:":
                return f"sqlite:///{(self.home / rel).resolve()}"
        return url

    def save(self) -> None:
        save_config(self.config, self.config_path)

    def refuse_output(self, option: str, path: str | Path | None) -> None:
        """Refuse to write an output (``option`` names it in the error) inside the
        workspace. Why: a copy, a report or a bundle aimed at ``ledger.db``, a key file, the
        config or an index file replaces it, and the workspace stops working or verifying
        (a review once overwrote ``ledger.db``; a user's walk through the docs replaced
        ``keys/signing.pub`` with an evidence bundle). Symlinks are followed, so a link
        placed outside that points in is refused too."""
        if path is None:
            return
        home = self.home.resolve()
        target = Path(path).resolve()
        if target == home or home in target.parents:
            raise InputError(
                f"{option} {path} is inside the workspace {self.home}; write it elsewhere"
            )
        if target in self._ledger_files():
            raise InputError(
                f"{option} {path} is the workspace's ledger database; write it elsewhere"
            )

    def _ledger_files(self) -> set[Path]:
        """A SQLite ledger kept outside the workspace (``sqlite:////abs/ledger.db``) and its
        journal files: an output written over them destroys the ledger as surely."""
        url = self.database_url
        if not url.startswith("sqlite:///"):
            return set()
        name = url[len("sqlite:///") :].split("?", 1)[0]
        if not name or name == ":memory:":
            return set()
        db = Path(name).resolve()
        return {db, *(db.with_name(db.name + tail) for tail in ("-wal", "-shm", "-journal"))}


def init_workspace(
    home: Path,
    *,
    name: str = "leaktrace",
    database_url: str = "sqlite:///ledger.db",
    canary_phones: list[str] | None = None,
    signing_passphrase: str | bytes | None = None,
    platform: str = "",
) -> Workspace:
    """Create a new workspace. Refuses to touch an existing one (keys are irreplaceable).

    ``platform``: the organisation that operates it (报告单位 of a regulator report; a
    report drafted without one marks it to be filled in).

    ``signing_passphrase``: write ``keys/signing.key`` encrypted with it; every later
    signature (release, key rotation, evidence bundle, key check value) then needs it in
    ``$LEAKTRACE_SIGNING_PASSPHRASE`` (the returned workspace can sign without it)."""
    if (home / CONFIG_NAME).exists() or (home / "keys").exists():
        raise ConfigError(f"a workspace already exists at {home}; refusing to overwrite it")
    if home.exists() and not home.is_dir():
        raise ConfigError(f"{home} is a file, not a folder for a workspace")
    made_home = not home.exists()
    home.mkdir(parents=True, exist_ok=True)
    before = set(home.iterdir())
    try:
        return _init_in(home, name, database_url, canary_phones, signing_passphrase, platform)
    except BaseException:
        # nothing half-made (a workspace without its ledger would refuse a second init);
        # only what this call created is removed
        if made_home:
            shutil.rmtree(home, ignore_errors=True)
        else:
            for part in set(home.iterdir()) - before:
                if part.is_dir():
                    shutil.rmtree(part, ignore_errors=True)
                else:
                    part.unlink(missing_ok=True)
        raise


def _init_in(
    home: Path,
    name: str,
    database_url: str,
    canary_phones: list[str] | None,
    signing_passphrase: str | bytes | None = None,
    platform: str = "",
) -> Workspace:
    # config (canary pool), ledger (canary tokens, victim reports) and index are private
    os.chmod(home, 0o700)
    keys = KeyRing.create(home / "keys", signing_passphrase=signing_passphrase)
    cfg = WorkspaceConfig(
        workspace=WorkspaceSection(
            name=name, database_url=database_url, platform=" ".join(platform.split())
        ),
        policies={k: v.model_copy(deep=True) for k, v in TEMPLATES.items()},
        canary_pool=CanaryPool(phones=canary_phones or _default_canary_phones()),
        official_contacts=OfficialContacts(phones=["400-000-0000"], domains=[], accounts=[]),
    )
    ws = Workspace(home=home, config=cfg, keys=keys)
    ws.index_dir.mkdir(mode=0o700, exist_ok=True)
    ws.save()
    from sqlalchemy.exc import SQLAlchemyError

    from leaktrace.ledger import Ledger

    try:
        Ledger(ws, create=True).create_schema()
    except SQLAlchemyError as exc:
        # said here, not by the CLI's generic handler: its advice (restore a backup, edit
        # leaktrace.toml) is for a workspace that exists, and init_workspace removes this one
        raise ConfigError(
            database_error_message(exc, new_workspace=True) or type(exc).__name__
        ) from None
    from sqlalchemy.engine import make_url

    url = make_url(ws.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # wherever the file is (inside the workspace or not): its canary tokens say which
        # numbers are canaries and whom each names
        db = Path(url.database)
        if db.exists():
            os.chmod(db, 0o600)
    return ws


def _default_canary_phones() -> list[str]:
    """Placeholder pool for demos: 170/171 virtual-operator blocks reserved by the platform.

    A real deployment replaces these with numbers it has actually bought and monitors.
    """
    return ["17090000000-17090099999"]


def open_workspace(home: Path) -> Workspace:
    """Open the workspace at ``home``.

    A policy whose masking operators cannot be applied here (a typo such as ``mask_nam``,
    an operator of a plugin no longer installed) does not stop it: ``verify``, ``trace``
    and the releases of other recipients need no operator. Each such policy is logged as a
    warning on the ``leaktrace.workspace`` logger (once per process; the CLI prints it as
    one ``warning:`` line), and a release under it is refused
    (:meth:`WorkspaceConfig.check_release_policy`).

    A ``home`` that is a file (``--home orders.parquet``) is refused as such: reading the
    config inside it failed with the system's "Not a directory: …/leaktrace.toml"."""
    if home.exists() and not home.is_dir():
        raise ConfigError(
            f"{home} is a file, not a workspace folder (run 'leaktrace init' or pass --home)"
        )
    cfg = load_config(home / CONFIG_NAME)
    keys = KeyRing(home / "keys")
    _warn_policy_problems(home, cfg)
    return Workspace(home=home, config=cfg, keys=keys)


_log = logging.getLogger("leaktrace.workspace")
_warned: set[tuple[str, str]] = set()
"""(config path, message) pairs already logged: the service opens the workspace for every
request, and one broken policy is one warning, not one per request."""


def _policy_warning(cfg: WorkspaceConfig, pname: str, problem: str) -> str:
    """The one line that says a policy cannot be applied, and whose releases it stops."""
    users = cfg.recipients_of(pname)
    stops = (
        f"releases to {', '.join(users)} are refused until it is fixed"
        if users
        else "no recipient uses it"
    )
    return f"{problem} ({stops})"


def _warn_policy_problems(home: Path, cfg: WorkspaceConfig) -> None:
    problems = cfg.policy_problems()
    if not problems:
        return
    where = str((home / CONFIG_NAME).resolve())
    for pname, problem in problems.items():
        message = _policy_warning(cfg, pname, problem)
        if (where, message) not in _warned:
            _warned.add((where, message))
            _log.warning("%s", message)


def add_recipient(
    ws: Workspace,
    name: str,
    *,
    template: str,
    where: str | None = None,
    display_name: str = "",
) -> Recipient:
    if template not in TEMPLATES:
        raise PolicyError(f"unknown template {template!r}; known: {', '.join(TEMPLATES)}")
    if name in ws.config.recipients:
        raise ConfigError(f"recipient {name!r} already exists")
    if len(name) > MAX_RECIPIENT_NAME:  # it is quoted in every message about the recipient
        raise ConfigError(
            f"a recipient name may have at most {MAX_RECIPIENT_NAME} characters "
            f"(this one has {len(name)}); put a longer label in --display-name"
        )
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"recipient name {name!r} may contain only letters, digits, - and _")
    if template not in ws.config.policies:
        ws.config.policies[template] = TEMPLATES[template].model_copy(deep=True)
    ws.config.check_policy(template)  # a release to this recipient must be possible
    kind = (
        template
        if template in ("courier", "merchant", "customer-service", "sms-vendor", "internal")
        else "other"
    )
    where = where.strip() or None if where is not None else None  # blank: every row
    try:
        r = Recipient(display_name=display_name or name, kind=kind, policy=template, where=where)
    except ValidationError as exc:
        msg = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"--display-name: {msg}") from None
    if where:
        from leaktrace.release import check_where

        check_where(where)
    ws.config.recipients[name] = r
    ws.save()
    return r
