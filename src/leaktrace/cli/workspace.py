"""``leaktrace init``, ``recipient add|list``, ``keys rotate|protect-signing-key``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leaktrace.cli import app
from leaktrace.cli.common import (
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    note_trusted_keys,
    out_console,
    print_json,
    resolve_home,
)
from leaktrace.errors import SigningPassphraseError

# Written out for the help texts, so that registering the commands does not import the
# library (Polars, cryptography …); tests/test_cli_startup.py pins that they agree with
# leaktrace.keys.SIGNING_PASSPHRASE_ENV and leaktrace.workspace.TEMPLATES.
SIGNING_PASSPHRASE_ENV = "LEAKTRACE_SIGNING_PASSPHRASE"
TEMPLATE_NAMES = ("courier", "merchant", "customer-service", "sms-vendor", "internal")

recipient_app = typer.Typer(
    help="Manage data recipients (couriers, merchants, vendors …).", no_args_is_help=True
)
keys_app = typer.Typer(help="Key management.", no_args_is_help=True)
app.add_typer(recipient_app, name="recipient")
app.add_typer(keys_app, name="keys")


@app.command("init")
@handle_errors
def init_cmd(
    home: HomeOption = None,
    name: Annotated[str, typer.Option(help="Workspace name.")] = "leaktrace",
    platform: Annotated[
        str,
        typer.Option(
            help="The organisation operating the platform (报告单位 of regulator reports)."
        ),
    ] = "",
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the ledger (default: SQLite in the workspace).",
        ),
    ] = "sqlite:///ledger.db",
    protect_signing_key: Annotated[
        bool,
        typer.Option(
            "--protect-signing-key",
            help=f"Encrypt keys/signing.key with the passphrase in ${SIGNING_PASSPHRASE_ENV}; "
            "releases, key rotations and evidence bundles then need it.",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Create a workspace: config, master key (0600), signing keys and the ledger."""
    from leaktrace.workspace import init_workspace

    h = resolve_home(home)
    passphrase = _passphrase_to_protect_with() if protect_signing_key else None
    ws = init_workspace(
        h,
        name=name,
        database_url=database_url,
        signing_passphrase=passphrase,
        platform=platform,
    )
    if json_out:
        print_json(
            {
                "home": str(ws.home),
                "key_version": ws.keys.current_version,
                "signing_key_protected": protect_signing_key,
            }
        )
    else:
        protected = ", signing key encrypted" if protect_signing_key else ""
        err_console.print(
            f"workspace created at {ws.home} (master key v{ws.keys.current_version}, "
            f"mode 0600{protected})"
        )


def _passphrase_to_protect_with() -> bytes:
    """The passphrase to encrypt ``signing.key`` with: ``$LEAKTRACE_SIGNING_PASSPHRASE``, the
    variable every later command reads it from (never an option: it would show in ``ps``
    and the shell's history)."""
    from leaktrace.keys import signing_passphrase_from_env

    passphrase = signing_passphrase_from_env()
    if passphrase is None:
        raise SigningPassphraseError(
            f"set {SIGNING_PASSPHRASE_ENV} to the passphrase to protect keys/signing.key with"
        )
    return passphrase


@recipient_app.command("add")
@handle_errors
def recipient_add(
    name: Annotated[str, typer.Argument(help="Short id, e.g. zto-express.")],
    template: Annotated[str, typer.Option(help=f"One of: {', '.join(TEMPLATE_NAMES)}.")],
    where: Annotated[
        str | None,
        typer.Option(help="Row filter, SQL over role names, e.g. \"courier = '中通快递'\"."),
    ] = None,
    display_name: Annotated[
        str, typer.Option("--display-name", help="Human name, e.g. 中通快递.")
    ] = "",
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a recipient from a policy template (no TOML editing needed)."""
    from leaktrace.workspace import add_recipient, open_workspace

    ws = open_workspace(resolve_home(home))
    r = add_recipient(ws, name, template=template, where=where, display_name=display_name)
    if json_out:
        print_json({"name": name, **r.model_dump()})
    else:
        err_console.print(f"recipient {name} added (policy {r.policy})")


@recipient_app.command("list")
@handle_errors
def recipient_list(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List recipients with their policy and filter."""
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    rows = [{"name": n, **r.model_dump()} for n, r in sorted(ws.config.recipients.items())]
    if json_out:
        print_json(rows)
        return
    t = Table("name", "display name", "kind", "policy", "where", "fields", "channels")
    for row in rows:
        p = ws.config.policies[row["policy"]]
        t.add_row(
            row["name"],
            row["display_name"],
            row["kind"],
            row["policy"],
            row["where"] or "",
            ", ".join(f"{k}:{v}" for k, v in p.fields.items()),
            ", ".join(p.channels),
        )
    out_console.print(t)


@keys_app.command("rotate")
@handle_errors
def keys_rotate(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Add a new master key version; old releases keep tracing with their version.

    The new version is key format 2 (SipHash-2-4 digests): rotating is also how a workspace
    made before format 2 gets the faster digests for its future releases."""
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    v = ws.keys.rotate()
    note_trusted_keys(ws)
    key_format = ws.keys.master(v).key_format
    if json_out:
        print_json({"key_version": v, "key_format": key_format})
    else:
        err_console.print(f"master key rotated to v{v} (key format {key_format})")


@keys_app.command("protect-signing-key")
@handle_errors
def keys_protect_signing_key(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """Encrypt keys/signing.key with the passphrase in $LEAKTRACE_SIGNING_PASSPHRASE.

    The key pair stays the same (earlier signatures still verify); from now on every
    release, key rotation and evidence bundle needs the passphrase in that variable, so a
    reader of the workspace files can no longer re-sign a rewritten ledger. Copies of the
    key made before (backups) stay unencrypted."""
    from leaktrace.workspace import open_workspace

    ws = open_workspace(resolve_home(home))
    if ws.keys.signing_key_protected():  # say so before asking for a passphrase
        raise SigningPassphraseError(
            f"{ws.keys.signing_key_path} is already protected by a passphrase"
        )
    ws.keys.protect_signing_key(_passphrase_to_protect_with())
    path = ws.keys.signing_key_path
    if json_out:
        print_json({"signing_key": str(path), "protected": True})
    else:
        err_console.print(
            f"{path} is now encrypted (mode 0600); releases, key rotations and evidence "
            f"bundles need ${SIGNING_PASSPHRASE_ENV}",
            soft_wrap=True,
        )
