"""``leaktrace serve`` and ``leaktrace token …``: the HTTP service and who may use it."""

from __future__ import annotations

import errno
import logging
import os
import socket
from typing import Annotated

import typer
from rich.table import Table

from leaktrace.cli import app
from leaktrace.cli.common import (
    HomeOption,
    JsonOption,
    err_console,
    handle_errors,
    out_console,
    print_json,
    print_workspace_warnings_now,
    resolve_home,
)
from leaktrace.errors import InputError

__all__ = ["token_app"]

token_app = typer.Typer(
    help="API tokens for 'leaktrace serve' (analyst, agent, recipient, telecom).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_address_free(host: str, port: int) -> None:
    """Refuse, as one ``error:`` line and exit code 2, an address the server cannot
    listen on (a port another process holds, an address this machine does not have, a
    port below 1024 without the privilege), before the start-up banner. uvicorn found it
    only after "leaktrace serving on …" was printed, logged its own "[Errno 98] address
    already in use" and exited 3.

    Binds every address ``host`` resolves to as asyncio's ``create_server`` does (which
    uvicorn uses: SO_REUSEADDR on POSIX, IPv6 sockets IPv6 only) and releases them at
    once. Another process may still take the port in between: then uvicorn's own error
    stands."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = set(
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        )
    except socket.gaierror as exc:
        raise InputError(f"cannot listen on {shown}: {exc.strerror}") from None
    for family, kind, proto, _, address in infos:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError:  # a family this machine lacks: asyncio skips it too
            continue
        with sock:
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                why = (
                    "the address is already in use (is another server running there? "
                    "choose another --port)"
                    if exc.errno == errno.EADDRINUSE
                    else (exc.strerror or str(exc)).lower()
                )
                raise InputError(f"cannot listen on {shown}: {why}") from None


@app.command("serve")
@handle_errors
def serve_cmd(
    home: HomeOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    max_upload_mb: Annotated[
        int, typer.Option("--max-upload-mb", help="Largest leaked file a trace accepts.")
    ] = 512,
    public_rate: Annotated[
        int,
        typer.Option(
            "--public-rate",
            help="Requests a minute per client address on the routes anyone may call (the "
            "scam and contact checks, sign-in); 0 turns the limit off (behind a proxy that "
            "limits).",
        ),
    ] = 120,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Listen on an address other than loopback (put TLS in front: tokens "
            "travel in every request).",
        ),
    ] = False,
) -> None:
    """Serve the scam check page, the staff pages and the JSON API.

    The API's description is at /openapi.json."""
    import uvicorn

    from leaktrace.server import create_app

    if host not in _LOOPBACK and not allow_remote:
        raise InputError(
            f"--host {host} is not a loopback address; add --allow-remote (and serve "
            "behind TLS: API tokens travel in every request)"
        )
    if not 0 < port < 65536:
        raise InputError(f"--port must be 1–65535, got {port}")
    if max_upload_mb < 1:
        raise InputError(f"--max-upload-mb must be at least 1, got {max_upload_mb}")
    if public_rate < 0:
        raise InputError(f"--public-rate must be 0 (off) or more, got {public_rate}")
    application = create_app(
        resolve_home(home), max_upload_bytes=max_upload_mb << 20, public_rate=public_rate
    )
    _check_address_free(host, port)  # before the banner, which must not promise a server
    print_workspace_warnings_now()  # a broken policy: said at the start, not at Ctrl-C
    err_console.print(f"leaktrace serving on http://{host}:{port}/ (Ctrl-C stops)")
    # tokens travel in headers and cookies, never in a URL; the access log prints client,
    # method, path and status, not the query string (a phone number can be in it)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        server_header=False,
        access_log=False,  # ours (leaktrace.access) leaves the query string out
        # the peer address is the client's: trusting X-Forwarded-For (uvicorn does, from
        # loopback) let any caller pick the address its public rate limit counts
        proxy_headers=False,
    )


@token_app.command("add")
@handle_errors
def token_add(
    name: Annotated[str, typer.Argument(help="Who holds the token (a person or a system).")],
    role: Annotated[
        str,
        typer.Option(
            "--role", help="analyst, agent, recipient or telecom (a provider's call-record push)."
        ),
    ],
    recipient: Annotated[
        str | None,
        typer.Option(
            "--recipient",
            help="For role recipient: whose aliases it may resolve. For role agent "
            "(optional): the recipient its holder works for (an outsourced customer-service "
            "firm); the erasure requests it takes are marked with it.",
        ),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            help="The login name of the person who holds it (as USER at their shell): "
            "nobody approves a victim's case they opened, with another token or at the "
            "command line.",
        ),
    ] = None,
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Make a token and print it once: only its SHA-256 is stored."""
    from leaktrace.server.tokens import add_token
    from leaktrace.workspace import open_workspace

    root = resolve_home(home)
    ws = open_workspace(root)
    token = add_token(
        root, name, role, recipient=recipient, known=set(ws.config.recipients), person=person
    )
    if json_out:
        print_json(
            {"name": name, "role": role, "recipient": recipient, "person": person, "token": token}
        )
        return
    out_console.print(token, highlight=False, markup=False, soft_wrap=True)
    bound = f", {'for' if role == 'recipient' else 'working for'} {recipient}" if recipient else ""
    bound += f", held by {person}" if person else ""
    err_console.print(
        f"token for {name} ({role}{bound}); it is shown only now: keep it safe", markup=False
    )


@token_app.command("list")
@handle_errors
def token_list(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List tokens: names, roles and dates (the tokens themselves are not stored).

    Dates are platform time (UTC+8) with their offset, as every time a person reads;
    ``--json`` gives them as stored (UTC)."""
    from leaktrace.respond.times import shown_time
    from leaktrace.server.tokens import list_tokens
    from leaktrace.workspace import open_workspace

    root = resolve_home(home)
    open_workspace(root)
    tokens = list_tokens(root)
    if json_out:
        print_json(
            [
                {
                    "name": t.name,
                    "role": t.role,
                    "recipient": t.recipient,
                    "person": t.person,
                    "created": t.created,
                }
                for t in tokens
            ]
        )
        return
    t = Table("name", "role", "recipient", "person", "created")
    for tok in tokens:
        t.add_row(
            tok.name, tok.role, tok.recipient or "", tok.person or "", shown_time(tok.created)
        )
    out_console.print(t)


@token_app.command("revoke")
@handle_errors
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")], home: HomeOption = None
) -> None:
    """Revoke a token: a running server refuses it from its next request on."""
    from leaktrace.server.tokens import revoke_token
    from leaktrace.workspace import open_workspace

    root = resolve_home(home)
    open_workspace(root)
    revoke_token(root, name)
    err_console.print(f"token {name} revoked")
