"""The HTTP service: the library's functions behind FastAPI, for people without a shell.

``create_app(home)`` builds the application; ``leaktrace serve`` runs it under uvicorn.
Every decision stays in the library: a route parses the request, checks the caller's role,
calls one library function and shapes its answer. The JSON a route returns is the JSON
the matching CLI command prints with ``--json``.

What a caller must know:

- **Errors** are ``{"error": "<one line>"}`` with a 4xx status: 400 bad input, 401 no or
  unknown token, 403 wrong role, 404 unknown recipient, erasure request, incident or
  victim case, 409 a ledger or incident record that does not verify, 413 a body over the
  limit, 429 a public route called too often from one address, 503 a ledger database or
  token file that cannot be used or a trace queue that is full. A 500 says only
  "internal error"; the details go to the server's log. A page's form over a limit is
  answered with an HTML page instead (:func:`wants_json` tells the two apart).
- **HEAD** is answered wherever GET is, as the GET (status, headers, no body).
- **Limits**: a JSON body is at most 2 MiB (``JSON_LIMIT``), a form field 1 MiB, an
  upload ``max_upload_bytes`` (default 512 MiB); a scam check takes at most 100 texts and 200,000 characters in all, a report
  intake 1,000 reports. One trace
  runs at a time (each can take gigabytes; the trace's own memory guard still applies), a
  second waits up to a minute, then gets 503.
- **Uploaded files** are written to a private temporary folder (0700, the file 0600) and
  removed when the request ends, whatever happens: a leaked file is personal data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import quote, unquote

from fastapi import Body, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, StrictBool, field_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from leaktrace.errors import (
    ConfigError,
    InputError,
    LeaktraceError,
    LedgerIntegrityError,
    NotFoundError,
    UnknownRecipientError,
    database_error_message,
)
from leaktrace.server.ratelimit import RateLimit
from leaktrace.server.tokens import Principal, Role, authenticate
from leaktrace.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    from leaktrace.respond.cases import Case
    from leaktrace.respond.incident import Incident

__all__ = [
    "DEFAULT_MAX_UPLOAD",
    "JSON_LIMIT",
    "MAX_CHOSEN",
    "MAX_REPORTS",
    "MAX_TEXTS",
    "MAX_TOTAL_CHARS",
    "ServerError",
    "create_app",
    "public_message",
]

log = logging.getLogger("leaktrace.server")
access_log = logging.getLogger("leaktrace.access")

JSON_LIMIT = 2 << 20
"""Bytes of a JSON body. 2 MiB, not 1: a scam check at its documented maximum (200,000
characters) sent as most clients send JSON, each Chinese character escaped in six bytes
(``\\uXXXX``), is 1.2 MB, and 1 MiB answered it 413."""
DEFAULT_MAX_UPLOAD = 512 << 20
MAX_TEXTS = 100
MAX_TOTAL_CHARS = 200_000
MAX_REPORTS = 1000
TRACE_WAIT_SECONDS = 60.0
COOKIE = "leaktrace_token"
CASE_REASON_MAX = 2000
"""The longest reason for a case's review or withdrawal, as the library stores it (the
incident's limit on a text)."""
CASE_STEPS: dict[str, str] = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"}
"""A step a person takes on a victim's case, as the routes and the page's form name it,
and the action the library records for it."""
CASE_REVIEWERS: tuple[Role, ...] = ("analyst",)
"""Who approves or rejects a case decided 'review': whether money is paid. Not customer
service: an agent opens the case from what the victim says on the phone, and may work for
an outsourced firm that is itself a recipient (docs/server.md, "Tokens and roles")."""
MAX_CHOSEN = 500
"""The most request ids the page of requests weighed together takes (``?id=``, repeated).
Its form is a GET, so every ticked id goes into the address (``id=12345&``, nine bytes);
500 of them keep the request line under 8 KiB, the default limit of common reverse proxies
(nginx's ``large_client_header_buffers``), which docs/server.md puts in front for TLS. One
token may hold at most 200 pending requests, so one insider's fit; a larger set is not
chosen box by box: weigh all pending requests (no id) or a firm's (``?firm=``) instead."""

_UPLOAD_PATHS = ("/api/v1/trace", "/dashboard/trace")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ServerError(Exception):
    """An HTTP error with a one-line message (the API's only error shape)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _BodyLimit:
    """Refuse a request body over its route's limit with 413, counting the bytes as they
    arrive: a client that sends no Content-Length (chunked) or a false one is cut off at the
    limit too, before the body is buffered or spooled to disk. A page's form gets an HTML
    page, the API its JSON line (:func:`_send_413`)."""

    def __init__(self, app: ASGIApp, upload_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in _UPLOAD_PATHS else JSON_LIMIT
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(scope, send, limit)
                return
        seen = 0
        too_large = replaced = False

        async def counted() -> Message:
            nonlocal seen, too_large
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return msg

        async def answered(msg: Message) -> None:
            # once the limit is passed, whatever the app makes of the cut-off body (FastAPI
            # turns a failed body read into a 400) is replaced by the 413
            nonlocal replaced
            if not too_large:
                await send(msg)
            elif msg["type"] == "http.response.start" and not replaced:
                replaced = True
                await _send_413(scope, send, limit)

        try:
            await self.app(scope, counted, answered)
        except _TooLarge:
            if not replaced:
                await _send_413(scope, send, limit)


class _TooLarge(Exception):
    pass


_FIELD_TOO_LARGE = re.compile(r"(?:Field|Part) exceeded maximum size of ([0-9]{1,9})KB\.")
"""Starlette's form parser refusing a field over its own limit (1 MiB a field, below the
body limit), as FastAPI turns it into a 400."""


def wants_json(scope: Scope) -> bool:
    """Whether a request is an API client's, answered in JSON: an ``/api/`` path (the line
    the same-origin check and the upload gate draw), a JSON body, or a client that asks for
    JSON. Otherwise it is a person's form at a browser, answered with a page."""
    if str(scope["path"]).startswith("/api/"):
        return True
    headers = Headers(scope=scope)
    return (
        headers.get("content-type", "").lower().startswith("application/json")
        or "application/json" in headers.get("accept", "").lower()
    )


async def _send_413(scope: Scope, send: Send, limit: int) -> None:
    """The answer to a body over ``limit``: the API's JSON line, or for a page's form the
    dashboard's HTML page saying so. Its body was not read: nothing of it comes back."""
    body: Response
    if wants_json(scope):
        body = JSONResponse(
            {"error": f"request body larger than the limit of {limit:,} bytes"}, status_code=413
        )
    else:
        from leaktrace.server.dashboard import too_large_page

        body = too_large_page(Request(scope), limit)
    await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
    await send({"type": "http.response.body", "body": body.body})


def error_status(exc: LeaktraceError) -> int:
    """The HTTP status of a user error, for the API and the dashboard's pages alike."""
    if isinstance(exc, UnknownRecipientError | NotFoundError):
        return 404
    if isinstance(exc, LedgerIntegrityError):
        return 409
    return 400


class Service:
    """What the routes share: the workspace folder, the trace slot and the upload limit."""

    def __init__(self, home: Path, max_upload_bytes: int) -> None:
        self.home = home
        self.max_upload_bytes = max_upload_bytes
        self._trace_slot = threading.Semaphore(1)

    def workspace(self) -> Workspace:
        """Opened per request: a recipient added or a token revoked since the server
        started is seen at once."""
        return open_workspace(self.home)

    def principal(self, token: str | None) -> Principal | None:
        """The token's holder, or None. A token file that cannot be read is the server's
        problem, not the caller's: 503, and the details stay in the server's log."""
        if not token:
            return None
        try:
            return authenticate(self.home, token)
        except ConfigError as exc:
            log.error("API tokens unusable: %s", exc.message)
            raise ServerError(
                503, "the server's token file cannot be read; tell its administrator"
            ) from None

    @contextlib.contextmanager
    def trace_slot(self) -> Iterator[None]:
        if not self._trace_slot.acquire(timeout=TRACE_WAIT_SECONDS):
            raise ServerError(503, "another trace is running; try again in a minute")
        try:
            yield
        finally:
            self._trace_slot.release()


def bearer_token(request: Request) -> str | None:
    """The API's token: the ``Authorization: Bearer`` header only. The pages' sign-in
    cookie is not accepted here: a browser sends a cookie on its own, a header never, so
    the API cannot be driven from another site's page."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def require(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency that admits a token of one of ``roles`` (401 without a valid token,
    403 with a token of another role)."""

    def dependency(request: Request) -> Principal:
        service: Service = request.app.state.service
        who = service.principal(bearer_token(request))
        if who is None:
            raise ServerError(401, "a valid API token is required (Authorization: Bearer …)")
        if who.role not in roles:
            raise ServerError(403, f"{_article(who.role)} {who.role} token may not do this")
        return who

    return dependency


@contextlib.contextmanager
def saved_upload(upload: UploadFile, limit: int) -> Iterator[Path]:
    """The upload as a file in a private temporary folder, removed on the way out. Only the
    name's suffix is kept (readers choose by it); the rest of a client's file name never
    reaches the file system."""
    suffix = Path(upload.filename or "").suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        suffix = ""
    folder = Path(tempfile.mkdtemp(prefix="leaktrace-upload-"))  # 0700
    try:
        path = folder / f"upload{suffix}"
        size = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise ServerError(413, f"upload larger than the limit of {limit:,} bytes")
                out.write(chunk)
        if size == 0:
            raise InputError("the uploaded file is empty")
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload_name(upload: UploadFile) -> str:
    """The client's file name as safe one-line text for messages."""
    name = Path(upload.filename or "upload").name
    return "".join(ch for ch in name if ch.isprintable())[:120] or "upload"


def run_trace(
    service: Service, upload: UploadFile, alpha: float, max_rows: int | None
) -> dict[str, Any]:
    """Trace an uploaded leaked file; the JSON ``leaktrace trace --json`` prints, plus the
    contradiction warnings as sentences. Messages name the client's file, not the
    temporary copy."""
    from leaktrace.trace import trace
    from leaktrace.trace.consistency import describe

    if not 0 < alpha < 1:
        raise InputError("alpha must be between 0 and 1")
    if max_rows is not None and max_rows < 1:
        raise InputError(f"max_rows must be a positive number of rows, got {max_rows}")
    ws = service.workspace()
    name = upload_name(upload)
    with service.trace_slot(), saved_upload(upload, service.max_upload_bytes) as path:
        try:
            result = trace(path, workspace=ws, alpha=alpha, max_rows=max_rows)
        except LeaktraceError as exc:
            exc.message = exc.message.replace(str(path), name)
            raise
    out = result.summary()
    out["file"] = name
    out["warnings"] = [describe(c.recipient, f) for c in result.accused for f in c.contradictions]
    return out


class ScamCheckRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)

    @field_validator("texts")
    @classmethod
    def _bounded(cls, texts: list[str]) -> list[str]:
        # the public route's cost is bounded by what it reads in total, not per text
        total = sum(len(t) for t in texts)
        if total > MAX_TOTAL_CHARS:
            raise ValueError(f"{total:,} characters in all; at most {MAX_TOTAL_CHARS:,}")
        return texts


class ResolveRequest(BaseModel):
    alias: str = Field(min_length=1, max_length=64)
    recipient: str = Field(min_length=1, max_length=200)


_PATH_BEFORE = r"(?:^|(?<=[\s'\"`(\[=/\\]))"
_PATH_AFTER = r"(?=$|[\s'\"`)\],;:/\\]|\.(?:$|\s))"
"""What may stand on either side of the workspace's path in a message: the line's ends,
white space, quotes, brackets, path separators (and after it a comma, colon or the full
stop ending a sentence). Never a letter: ``--home ws`` must not turn "rows" into
"ro<workspace>"."""


def _workspace_paths(home: Path) -> re.Pattern[str] | None:
    """The workspace's folder as a message may name it: the resolved absolute path, and
    the path as given when it is more than dots and separators (``--home ws``, ``./ws``;
    a bare ``.`` would match every full stop), each only as a whole path element, the
    longer first (the absolute path holds the short one). None when neither is."""
    given = {str(home.resolve()), str(home)}
    named = sorted((p for p in given if p.strip("./\\")), key=len, reverse=True)
    if not named:
        return None
    alternatives = "|".join(re.escape(p) for p in named)
    return re.compile(f"{_PATH_BEFORE}(?:{alternatives}){_PATH_AFTER}")


def public_message(home: Path, exc: LeaktraceError) -> str:
    """``exc``'s one line as a client may see it: the server's own folders are not the
    client's business (a broken config is reported as "the workspace's …"). The folder
    is replaced where it is a path, never inside a word: a workspace called ``ws`` (the
    name the docs use) made "no data rows" read "no data ro<workspace>"."""
    message = " ".join(exc.message.split())
    paths = _workspace_paths(home)
    return message if paths is None else paths.sub("<workspace>", message)


class CaseRequest(BaseModel):
    """What a victim's case needs, and nothing more (extra fields are refused: an ID photo
    or number sent along must not be accepted silently)."""

    model_config = {"extra": "forbid"}

    order_id: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=1, max_length=32)
    occurred: str = Field(min_length=1, max_length=40)
    loss: float
    police_receipt: str = Field(min_length=1, max_length=64)


class CaseStepRequest(BaseModel):
    """Why a case is rejected or withdrawn: the reason alone (stored encrypted; no phone or
    ID number, which the library refuses). Any other field is refused, ``another_loss``
    too: it says something only of an approval, and a rejection sent with it is a client
    that confused the two."""

    model_config = {"extra": "forbid"}

    reason: str = Field(min_length=1, max_length=CASE_REASON_MAX)


class CaseApproveRequest(CaseStepRequest):
    """An approval: the reason, and ``another_loss`` when the order or the police receipt
    already has an advance and the reviewer checked that this is a second loss. A strict
    boolean: ``"yes"`` or ``1`` is refused, not guessed, on a decision that pays money."""

    another_loss: StrictBool = False


class ErasureRequestIn(BaseModel):
    """A victim's request, taken by customer service, to erase every report of their phone.
    Nothing is erased until an analyst decides it; the answer is the same whether or not
    the phone ever reported."""

    model_config = {"extra": "forbid"}

    phone: str = Field(min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=300)


class ErasureDecision(BaseModel):
    """An analyst's decision on an erasure request: ``erase`` (what it names, now), or
    ``decline`` with the reason."""

    model_config = {"extra": "forbid"}

    decision: Literal["erase", "decline"]
    reason: str | None = Field(default=None, max_length=300)


class ErasureRequest(BaseModel):
    """Which victim reports to erase at the person's request (PIPL Art. 47): ids, and/or
    every report of a phone. ``apply`` false (the default) only lists them."""

    model_config = {"extra": "forbid"}

    ids: list[int] = Field(default_factory=list, max_length=MAX_REPORTS)
    phone: str | None = Field(default=None, min_length=1, max_length=32)
    reason: str | None = Field(default=None, max_length=300)
    apply: bool = False


_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
"""A field's name as a malformed request's answer repeats it: one of our own fields, or a
key of that shape sent along (``id_photo``)."""


def _shown_field(part: object) -> str:
    """One step of where a request is malformed, as the answer says it: a list's index or
    a name of a field's shape, else "an unknown field". A JSON key is whatever the client
    typed: an ID number sent as a key (``{"110101199003077777": 1}``) must not come back
    in the answer, nor a phone or a name."""
    text = str(part)
    if isinstance(part, int) or (_FIELD_NAME.fullmatch(text) and not _LONG_DIGITS.search(text)):
        return text
    return "an unknown field"


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "malformed request"
    first = errors[0]
    where = ".".join(_shown_field(x) for x in first.get("loc", ()) if x != "body") or "body"
    return f"malformed request: {where}: {first.get('msg', 'invalid')}"


def create_app(
    home: Path, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD, public_rate: int = 0
) -> FastAPI:
    """The application for the workspace at ``home`` (which must exist).

    ``public_rate``: requests a minute per client address on the routes anyone may call
    (:mod:`leaktrace.server.ratelimit`); 0, the library's default, is no limit
    (``leaktrace serve`` sets one)."""
    open_workspace(home)  # fail at start, not on the first request
    app = FastAPI(
        title="leaktrace",
        summary="Traceable releases, scam checks, leak tracing",
        version=_version(),
        # the interactive /docs page loads its script from a CDN: neither reachable offline
        # nor allowed by the content policy; the description is at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = Service(home, max_upload_bytes)

    @app.exception_handler(ServerError)
    async def _server_error(_: Request, exc: ServerError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(LeaktraceError)
    async def _user_error(_: Request, exc: LeaktraceError) -> JSONResponse:
        return JSONResponse({"error": public_message(home, exc)}, status_code=error_status(exc))

    @app.exception_handler(RequestValidationError)
    async def _malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI's own refusals (unknown path, wrong method, a body it cannot decode) in
        # the API's one error shape
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        field_too_large = _FIELD_TOO_LARGE.fullmatch(detail)
        if exc.status_code == 400 and field_too_large and not wants_json(request.scope):
            # a page's form with a field over the form parser's own limit (a long chat
            # log pasted into the check): a page saying so, with the API's status
            from leaktrace.server.dashboard import too_large_page

            limit = int(field_too_large.group(1)) << 10
            return too_large_page(request, limit, status=400, per_field=True)
        if exc.status_code == 400:
            detail = f"malformed request: {detail.lower()} (JSON in UTF-8 expected)"
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    _add_api_routes(app)
    from leaktrace.server.dashboard import add_dashboard_routes

    add_dashboard_routes(app)
    # the last added is the outermost: the security headers wrap every answer, the 413s
    # and the 500s included
    app.add_middleware(_BodyLimit, upload_limit=max_upload_bytes)
    app.add_middleware(RateLimit, per_minute=public_rate)
    app.add_middleware(_UploadGate)
    app.add_middleware(_SameOrigin)
    app.add_middleware(_InternalErrors)
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(_HeadAsGet)
    app.add_middleware(_AccessLog)
    return app


class _HeadAsGet:
    """``HEAD`` is answered wherever ``GET`` is (a monitoring probe, ``curl -I``), as the
    GET: the same status and headers, no body. FastAPI's routes take only the methods they
    name, so a HEAD was 405. Everything inside sees a GET: signing in, roles, the rate
    limit and the route itself decide exactly as for the GET, and only the body is
    dropped. The access log, outside, still says HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def bodiless(msg: Message) -> None:
            if msg["type"] != "http.response.body":
                await send(msg)
            elif not msg.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, bodiless)


class _SameOrigin:
    """A page's form may be posted only from this site's own pages. SameSite=Strict keeps
    the sign-in cookie off another site's posts, but not another site's post of its OWN
    token to /login (signing a browser in as the attacker: login CSRF). A browser says
    where a post comes from (Sec-Fetch-Site, Origin); a post that says another site is
    refused. The API takes no cookie, so it needs no such check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope["path"].startswith("/api/")
            and not _same_origin(Request(scope))
        ):
            message = "a form of this site must be posted from this site"
            await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _same_origin(request: Request) -> bool:
    """Sec-Fetch-Site first: every current browser sends it. Origin is only a fallback,
    and "null" says nothing (our pages' no-referrer policy makes a browser send "null" on
    its own forms). A request with neither is not a browser's and carries no cookie it did
    not choose to."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return origin.split("://", 1)[-1] == request.headers.get("host", "")
    return True


# digits split by "-", "." or an encoded space (138-0013-8000) that are a word of their
# own: not the 085835-63581 inside rel-20261130T085835-63581e04
_SPLIT_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9](?:(?:-|\.|%20)?[0-9])*[Xx]?(?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"[0-9]{11,}[Xx]?")  # anywhere: no id of ours has such a run
# percent-encoded bytes of non-ASCII text (a name typed where an id belongs)
_ENCODED_TEXT = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")
_PERSONAL_DIGITS = 11  # a mobile number; ID, card and landline-with-area numbers are longer
# the characters of a phone, ID or card number and of an e-mail address, percent-encoded
# (%30-%39, %2B "+", %2D "-", %2E ".", %40 "@"): decoded before masking, and no others
_ENCODED_NUMBER_CHAR = re.compile(r"%(3[0-9]|2[BbDdEe]|40)")
# a path segment of an e-mail's shape, local@domain ("@" is allowed unencoded in a path);
# tried at a segment's start only: tried everywhere, a 16,000-character segment without
# an "@" cost 1.4 s (each start scanned to the segment's end; session 22's review)
_EMAIL = re.compile(r"(?<![^/])[^/@]+@[^/@]+(?:@[^/@]*)*")
_LOGGED_SEGMENT = 256
"""A longer path segment is logged as ``***`` unread: no id of ours is that long, and
checking it for personal numbers is work any client could ask for with every request."""
_CHECKED_PATH = 1024
"""Characters of a path checked for personal numbers; the segments past them are logged
as ``***`` unread (60 segments of 256 characters cost 0.3-0.5 s on the event loop)."""


def _logged_path(scope: Scope) -> str:
    """The request path as the client sent it (percent-encoded), never decoded but for the
    characters a number or an e-mail address is written with: a decoded ``%0A`` would end
    the line and let a client write a forged second line into the log.

    Personal data stays out of the log even where a caller put it in the path (a phone
    pasted where an incident or case id belongs): a run of 11 or more digits becomes
    ``***``, a segment of an e-mail's shape (``local@domain``) ``***`` and non-ASCII text
    ``…``. No id of ours holds any of them (release ids have runs of 8 and 6 digits), so a
    line still says which route was asked for. Digits, ``-``, ``.``, ``+`` and ``@`` sent
    percent-encoded (``/1380013800%30``, ``138%2D0013%2D8000``) are decoded first: left
    encoded, they split the number and it escaped the mask."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        path = raw.split(b"?", 1)[0].decode("ascii", "backslashreplace")
    else:
        path = quote(str(scope.get("path", "")), safe="/")
    path = _ENCODED_NUMBER_CHAR.sub(lambda m: chr(int(m.group(1), 16)), path)
    path = _EMAIL.sub("***", _ENCODED_TEXT.sub("…", path))
    path = _LONG_DIGITS.sub("***", path)
    path = _SPLIT_DIGITS.sub(
        lambda m: "***" if sum(c.isdigit() for c in m.group()) >= _PERSONAL_DIGITS else m.group(),
        path,
    )
    # any other spelling a reason check refuses (138_0013_8000, 138+0013+8000, (138)0013…,
    # 一三八…): judged on the segment decoded, logged as *** (never decoded into the line)
    from leaktrace.attribution.erasure import holds_personal_number

    logged, budget = [], _CHECKED_PATH
    for seg in path.split("/"):
        budget -= len(seg)
        unread = len(seg) > _LOGGED_SEGMENT or budget < 0
        logged.append("***" if unread or holds_personal_number(unquote(seg)) else seg)
    return "/".join(logged)


class _AccessLog:
    """One line per request: client, method, path, status. Not the query string: it can
    carry a phone number (``verify-contact?q=…``), and personal data stays out of logs.
    ``leaktrace serve`` turns uvicorn's own access log (which prints the query) off."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("-", 0))[0]
        logged = False

        def log_line(status: int) -> None:
            nonlocal logged
            logged = True
            access_log.info('%s "%s %s" %s', client, scope["method"], _logged_path(scope), status)

        async def noted(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                # logged as the answer starts, so the line is written before the client
                # has the whole answer (a caller reading the log right after sees it)
                log_line(int(msg["status"]))
            await send(msg)

        try:
            await self.app(scope, receive, noted)
        finally:
            if not logged:  # no answer was started (the connection went away)
                log_line(0)


class _UploadGate:
    """An upload route answers a caller who is not an analyst before a byte of the body is
    read. FastAPI parses a multipart body (spooling it to disk) before any dependency runs,
    so without this gate anyone could make the server write an upload-sized file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in _UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        service: Service = scope["app"].state.service
        api = scope["path"].startswith("/api/")
        token = bearer_token(request) if api else request.cookies.get(COOKIE)
        try:
            who = service.principal(token)
        except ServerError as exc:
            await JSONResponse({"error": exc.message}, status_code=exc.status)(scope, receive, send)
            return
        if who is not None and who.role == "analyst":
            await self.app(scope, receive, send)
        elif not api:
            await RedirectResponse("/login", status_code=303)(scope, receive, send)
        elif who is None:
            message = "a valid API token is required (Authorization: Bearer …)"
            await JSONResponse({"error": message}, status_code=401)(scope, receive, send)
        else:
            message = f"{_article(who.role)} {who.role} token may not do this"
            await JSONResponse({"error": message}, status_code=403)(scope, receive, send)


class _InternalErrors:
    """An exception no handler took becomes a one-line answer here, inside the security
    headers (Starlette's own last-resort handler sits outside every middleware). A ledger
    database or workspace that cannot be used is the server's state, not a bug: 503."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if scope["type"] != "http" or started:
                raise
            db = database_error_message(exc)
            if db is not None:
                status, message = 503, db
            elif isinstance(exc, OSError):
                status, message = 503, "the workspace cannot be read"
            else:
                log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
                status, message = 500, "internal error (see the server log)"
            await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def _version() -> str:
    from leaktrace import __version__

    return __version__


class _SecurityHeaders:
    """Headers every response carries: no framing, no sniffing, no caching of answers that
    can hold personal data, and a content policy that allows no script at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (
                        b"content-security-policy",
                        b"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    ),
                ]
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)


def _service(request: Request) -> Service:
    s: Service = request.app.state.service
    return s


ServiceDep = Annotated[Service, Depends(_service)]


def _add_api_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/api/v1/scam/check", tags=["scam"])
    def scam_check(body: ScamCheckRequest) -> dict[str, list[dict[str, object]]]:
        """Check up to 100 texts (no token needed: shoppers use it). Each result is what
        ``leaktrace scam check --json`` prints.

        A text longer than ``MAX_CHARS`` (20,000) is refused with 413, as the web form
        does: ``check()`` reads only that prefix, and an answer for a transcript whose
        script step comes late would say "no scam" with nothing showing it was half read."""
        from leaktrace.scam import MAX_CHARS, check

        long = [i for i, t in enumerate(body.texts) if len(t) > MAX_CHARS]
        if long:
            raise ServerError(
                413,
                f"texts[{long[0]}] has {len(body.texts[long[0]]):,} characters; at most "
                f"{MAX_CHARS:,} per text are analysed, send the part to check",
            )
        return {"results": [r.to_dict() for r in check(body.texts)]}

    @app.get("/api/v1/scam/verify-contact", tags=["scam"])
    def scam_verify_contact(
        svc: ServiceDep, q: Annotated[str, Query(min_length=1, max_length=300)]
    ) -> dict[str, object]:
        """Is this phone number, domain or account one of the platform's official ones?"""
        from leaktrace.scam import verify_contact

        return verify_contact(q, svc.workspace().config.official_contacts).to_dict()

    @app.get("/api/v1/releases", tags=["ledger"])
    def releases(
        svc: ServiceDep,
        _: Annotated[Principal, Depends(require("analyst"))],
        recipient: str | None = None,
    ) -> list[dict[str, Any]]:
        from leaktrace.ledger import Ledger

        ws = svc.workspace()
        entries = Ledger(ws).entries(recipient)
        if recipient is not None and not entries and recipient not in ws.config.recipients:
            with unechoed(recipient=recipient):
                ws.config.recipient(recipient)  # 404, naming the nearest known names
        return [e.as_dict() for e in entries]

    @app.get("/api/v1/ledger/verify", tags=["ledger"])
    def verify(
        svc: ServiceDep, _: Annotated[Principal, Depends(require("analyst"))]
    ) -> dict[str, Any]:
        """Re-check chain, signatures, index digests, checkpoints and the erasure
        requests' seals (``leaktrace verify --json``)."""
        return verify_ledger(svc.workspace())

    @app.post("/api/v1/trace", tags=["trace"])
    def trace_upload(
        svc: ServiceDep,
        _: Annotated[Principal, Depends(require("analyst"))],
        file: Annotated[UploadFile, File(description="The leaked file, any supported format")],
        alpha: Annotated[float, Form()] = 1e-9,
        max_rows: Annotated[int | None, Form()] = None,
    ) -> dict[str, Any]:
        """Trace an uploaded leaked file (``leaktrace trace --json``, plus ``warnings``)."""
        return run_trace(svc, file, alpha, max_rows)

    @app.post("/api/v1/resolve", tags=["ledger"])
    def resolve(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst", "recipient"))],
        body: ResolveRequest,
    ) -> dict[str, object]:
        """Map an order-number alias back to the order. A recipient's token resolves only
        that recipient's own aliases: one partner must not learn another's orders."""
        from leaktrace.alias import resolve_alias

        if who.role == "recipient" and body.recipient != who.recipient:
            raise ServerError(403, "a recipient token resolves only its own recipient's aliases")
        with unechoed(recipient=body.recipient):
            order_id, version = resolve_alias(svc.workspace(), body.alias, body.recipient)
        return {
            "alias": body.alias,
            "recipient": body.recipient,
            "order_id": order_id,
            "key_version": version,
        }

    @app.get("/api/v1/incidents", tags=["incidents"])
    def incidents(
        svc: ServiceDep, _: Annotated[Principal, Depends(require("analyst"))]
    ) -> list[dict[str, Any]]:
        """Every incident, each verified (``leaktrace incident list --json``)."""
        return incident_rows(svc.workspace())

    @app.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
    def incident(
        svc: ServiceDep,
        _: Annotated[Principal, Depends(require("analyst"))],
        incident_id: str,
    ) -> dict[str, Any]:
        """One incident's events, its regulator report draft and what the draft lacks."""
        return incident_view(svc.workspace(), incident_id)

    @app.post("/api/v1/incidents/{incident_id}/cases", tags=["incidents"])
    def open_case_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst", "agent"))],
        incident_id: str,
        body: CaseRequest,
    ) -> dict[str, Any]:
        """A victim's advance payment, decided and recorded (``leaktrace case open
        --json``; the cap is the default one). Customer-service staff read ``message_zh``
        to the victim. No ID photo or ID number is asked for, and none is accepted."""
        from leaktrace.respond.cases import open_case

        case = open_case(
            svc.workspace(),
            incident_id,
            order_id=body.order_id,
            phone=body.phone,
            occurred=body.occurred,
            loss=body.loss,
            police_receipt=body.police_receipt,
            actor=f"token:{who.name}",
            person=who.person,
        )
        return {"incident": incident_id, **case.as_dict()}

    @app.post("/api/v1/incidents/{incident_id}/cases/{case_id}/approve", tags=["incidents"])
    def approve_case_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require(*CASE_REVIEWERS))],
        incident_id: str,
        case_id: str,
        body: CaseApproveRequest,
    ) -> dict[str, Any]:
        """Approve a case decided 'review' once a person checked that the caller owns the
        order (``leaktrace case approve --json``): it becomes an advance of the loss up to
        the case's cap. Refused while the order or the police receipt has another advance,
        unless ``another_loss``. Analysts only: it decides that money is paid."""
        case = take_case_step(
            svc.workspace(),
            who,
            incident_id,
            case_id,
            "approve",
            body.reason,
            another_loss=body.another_loss,
        )
        return case_step_answer(incident_id, case)

    @app.post("/api/v1/incidents/{incident_id}/cases/{case_id}/reject", tags=["incidents"])
    def reject_case_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require(*CASE_REVIEWERS))],
        incident_id: str,
        case_id: str,
        body: CaseStepRequest,
    ) -> dict[str, Any]:
        """Reject a case decided 'review' (``leaktrace case reject --json``): closed,
        nothing paid, and the order may have another case (its owner's). Analysts only."""
        case = take_case_step(svc.workspace(), who, incident_id, case_id, "reject", body.reason)
        return case_step_answer(incident_id, case)

    @app.post("/api/v1/incidents/{incident_id}/cases/{case_id}/withdraw", tags=["incidents"])
    def withdraw_case_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst", "agent"))],
        incident_id: str,
        case_id: str,
        body: CaseStepRequest,
    ) -> dict[str, Any]:
        """Withdraw a case opened by mistake (``leaktrace case withdraw --json``): it stays
        in the record, is no longer counted, and the order may be opened again. Refused
        once anything was paid on it, and for a rejected case. An agent withdraws only the
        cases its own token opened; an analyst any."""
        case = take_case_step(svc.workspace(), who, incident_id, case_id, "withdraw", body.reason)
        return case_step_answer(incident_id, case)

    @app.post("/api/v1/reports", tags=["reports"])
    def add_reports_route(
        svc: ServiceDep,
        _: Annotated[Principal, Depends(require("analyst", "agent"))],
        body: Annotated[list[Any], Body()],
    ) -> dict[str, Any]:
        """Store victim reports (the objects ``leaktrace report add`` reads from JSON
        lines); a bad report is kept, flagged and explained, as in the CLI."""
        from leaktrace.attribution.reports import add_reports, parse_report_obj

        if not 1 <= len(body) <= MAX_REPORTS:
            raise InputError(f"send 1 to {MAX_REPORTS:,} reports per request, not {len(body):,}")
        parsed = [parse_report_obj(obj, f"report {i}") for i, obj in enumerate(body, start=1)]
        return add_reports(svc.workspace(), parsed).as_dict()

    @app.post("/api/v1/reports/erase", tags=["reports"])
    def erase_reports_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst"))],
        body: ErasureRequest,
    ) -> dict[str, Any]:
        """Erase victim reports at the person's request (``leaktrace report erase
        --json``): what they told us is deleted, the rows' ids and seals stay. Without
        ``apply`` nothing changes and the answer lists what would be erased. Analysts
        only: customer service takes the person's request (``POST
        /api/v1/erasure-requests``), which tells it nothing about what is stored."""
        from leaktrace.attribution.erasure import erase_reports

        res = erase_reports(
            svc.workspace(),
            ids=body.ids,
            phone=body.phone,
            reason=body.reason,
            actor=f"token:{who.name}",
            apply=body.apply,
        )
        return res.as_dict()

    @app.post("/api/v1/erasure-requests", tags=["reports"])
    def request_erasure_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst", "agent"))],
        body: ErasureRequestIn,
    ) -> dict[str, Any]:
        """Customer service records a victim's request to erase their reports (PIPL Art.
        47). Nothing is looked up or erased: the answer is the request's id whether or not
        the phone ever reported, so an agent token cannot learn who reported a scam (an
        outsourced customer-service firm is itself a recipient), nor erase the evidence.
        An analyst decides it (``leaktrace report requests``)."""
        from leaktrace.attribution.erasure_requests import PENDING, request_erasure

        rid = request_erasure(
            svc.workspace(),
            phone=body.phone,
            reason=body.reason,
            actor=f"token:{who.name}",
            taker_recipient=taker_firm(who),
        )
        return {"request_id": rid, "status": PENDING}

    @app.get("/api/v1/erasure-requests", tags=["reports"])
    def erasure_requests_route(
        svc: ServiceDep,
        _who: Annotated[Principal, Depends(require("analyst"))],
        pending: bool = True,
    ) -> list[dict[str, Any]]:
        """The erasure requests (``leaktrace report requests --json``): pending ones with
        how many stored reports each would erase; ``pending=false`` for all."""
        from leaktrace.attribution.erasure_requests import erasure_requests

        return [r.as_dict() for r in erasure_requests(svc.workspace(), pending_only=pending)]

    @app.get("/api/v1/erasure-requests/impact", tags=["reports"])
    def erasure_impact_together_route(
        svc: ServiceDep,
        _who: Annotated[Principal, Depends(require("analyst"))],
        firm: str | None = None,
        taker: str | None = None,
        request_ids: Annotated[list[int] | None, Query(alias="id")] = None,
    ) -> dict[str, Any]:
        """What erasing several pending requests together would do to the evidence
        (``leaktrace report requests --impact --json``'s ``impact``): all pending
        requests, those taken by agents of ``firm``, those taken by ``taker``, or the ones
        named (``id``, repeated). One agent's requests may each barely move the evidence
        and all together remove what names its firm. The single impact's statuses: 404
        for an unknown request id or firm, 400 for an empty selection, a decided request
        or one whose seal fails (the set is refused, naming it). Analysts only."""
        from leaktrace.attribution.erasure_impact import erasure_impact_together

        check_request_ids(request_ids or [])
        ws = svc.workspace()
        with unechoed(firm=firm, taker=taker):
            return erasure_impact_together(ws, request_ids, firm=firm, taker=taker).as_dict()

    @app.get("/api/v1/erasure-requests/{request_id}/impact", tags=["reports"])
    def erasure_impact_route(
        svc: ServiceDep,
        _who: Annotated[Principal, Depends(require("analyst"))],
        request_id: int,
    ) -> dict[str, Any]:
        """What erasing a pending request would do to the evidence (``leaktrace report
        erase --request N --json``'s ``impact``): the partners the attribution names now
        and without the reports it would erase, each named partner's bound before and
        after, and ``conflict`` when the agent who took it works for a partner named now.
        Counts, recipient names and bounds only. 404 for an unknown request, 400 for a
        decided one (its phone is forgotten). Analysts only: it tells who reported."""
        from leaktrace.attribution.erasure_impact import erasure_impact

        return erasure_impact(svc.workspace(), request_id).as_dict()

    @app.post("/api/v1/erasure-requests/{request_id}", tags=["reports"])
    def decide_erasure_route(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("analyst"))],
        request_id: int,
        body: ErasureDecision,
    ) -> dict[str, Any]:
        """Erase what a pending request names, or decline it with a reason."""
        from leaktrace.attribution.erasure_requests import decide_erasure_request

        view, res = decide_erasure_request(
            svc.workspace(),
            request_id,
            erase=body.decision == "erase",
            actor=f"token:{who.name}",
            note=body.reason,
        )
        return {"request": view.as_dict(), **({"erasure": res.as_dict()} if res else {})}

    @app.post("/api/v1/telecom/{adapter_name}", tags=["canaries"])
    def telecom_push(
        svc: ServiceDep,
        who: Annotated[Principal, Depends(require("telecom", "analyst"))],
        adapter_name: str,
        body: Annotated[Any, Body()],
    ) -> dict[str, Any]:
        """A telecom provider's push of call/SMS records (``leaktrace canary adapters``
        lists the formats): each contact with a canary pool number is recorded once,
        whatever is sent again. The answer is the provider's expected acknowledgement
        with counts only: which partner a canary names is not the provider's to know.
        Readable records are recorded even when others are not; those are listed in
        ``problems`` (and logged without their numbers)."""
        from leaktrace.telecom import adapter, ingest

        res = ingest(svc.workspace(), adapter_name, body, all_or_nothing=False)
        for problem in res.problems[:20]:
            log.warning("telecom push by %s (%s): %s", who.name, adapter_name, problem)
        return {**adapter(adapter_name).ack(len(res.hits)), **res.counts()}


def check_request_ids(ids: Sequence[int]) -> None:
    """Refuse more than :data:`MAX_CHOSEN` request ids, or one that cannot be a request
    id (more than ten digits, or not positive), with one line that never repeats a value
    given: a mobile number pasted as an id must not come back in "no erasure request has
    id …" (the API and the dashboard's form take the same ids)."""
    if len(ids) > MAX_CHOSEN:
        raise InputError(
            f"at most {MAX_CHOSEN} request ids at once ({len(ids)} given): weigh all "
            "pending requests (no id) or a firm's (firm=) instead"
        )
    for n, value in enumerate(ids, 1):
        if not 0 < value < 10**10:
            raise InputError(
                f"id {n} of the {len(ids)} given is not a request id (a whole number of at "
                "most 10 digits, as the list of requests shows it)"
            )


_NUMBER_SEPARATORS = re.compile(r"[\s+().-]")


def looks_personal(value: str) -> bool:
    """Whether a value given where a name belongs (``firm=``, ``taker=``) may be a
    person's data: a run of 11 or more digits once the separators a number is written
    with are dropped (a mobile, a landline with its area code, an ID or a card number;
    an ID number's final X follows 17 digits). No recipient's or token's name is
    expected to hold one, and one that does is only not repeated, not refused."""
    return bool(_LONG_DIGITS.search(_NUMBER_SEPARATORS.sub("", value)))


def shown_name(value: str | None, what: str) -> str | None:
    """``value`` as an answer may repeat it, or ``the <what> given`` when it
    :func:`looks_personal`."""
    if value is None or not looks_personal(value):
        return value
    return f"the {what} given"


@contextlib.contextmanager
def unechoed(**given: str | None) -> Iterator[None]:
    """A user error raised inside, its message without the values ``given`` that
    :func:`looks_personal` (``firm="13800138000"``): the library names what it was asked
    for ("unknown recipient '…'", "taken by token:…"), which is right for a mistyped
    name and wrong for a phone or ID number pasted in its place. The error's class, and
    so its status, is kept."""
    try:
        yield
    except LeaktraceError as exc:
        for what, value in given.items():
            if value is None or not looks_personal(value):
                continue
            instead = f"(the {what} given)"
            for form in (repr(value[:80]), repr(value), f"token:{value}", value, value[:80]):
                exc.message = exc.message.replace(form, instead)
        raise


def taker_firm(who: Principal) -> str | None:
    """The recipient an agent token's holder works for (``token add --role agent
    --recipient``), recorded with the erasure requests it takes; None for other roles."""
    return who.recipient if who.role == "agent" else None


def case_opener(inc: Incident, case_id: str) -> str | None:
    """Who opened the case (``token:<name>``, ``cli:<user>``), or None when the incident
    has no such case. Read from the case's first ``case`` event (the one without an
    ``action``: docs/respond.md, "What is recorded for a review or a withdrawal"), since
    the library's :class:`~leaktrace.respond.cases.Case` does not carry it. The opener
    never changes, so reading it before the library takes its lock cannot race."""
    for e in inc.all("case"):
        if e.body.get("case_id") == case_id and "action" not in e.body:
            return str(e.body.get("by", ""))
    return None


def case_steps_allowed(who: Principal, opener: str | None) -> tuple[str, ...]:
    """The steps ``who`` may take on a case opened by ``opener`` (the page offers these
    and no others; the routes refuse the rest with 403):

    - an analyst: approve, reject, withdraw;
    - an agent: withdraw, and only a case its own token opened. Customer service fixes
      its own typing mistakes; whether a victim is paid is an analyst's decision, and
      withdrawing someone else's case would take it out of the counts and free its order
      (an agent may work for an outsourced firm that is itself a recipient, as
      :func:`taker_firm` records);
    - anyone else: nothing."""
    if who.role in CASE_REVIEWERS:
        return tuple(CASE_STEPS)
    if who.role == "agent" and opener == f"token:{who.name}":
        return ("withdraw",)
    return ()


def take_case_step(
    ws: Workspace,
    who: Principal,
    incident_id: str,
    case_id: str,
    step: str,
    reason: str,
    *,
    another_loss: bool = False,
) -> Case:
    """Approve, reject or withdraw a case for ``who`` (the API's routes and the page's
    form alike): the role checked here (403, :func:`case_steps_allowed`), the transition,
    the reason and the amount by the library, which records ``token:<name>`` as who. The
    case as the step left it. An unknown incident or case is the library's 404, a step
    the case does not have its 400."""
    from leaktrace.respond.cases import review_case, withdraw_case
    from leaktrace.respond.incident import load_incident

    if step not in CASE_STEPS:
        raise InputError("the step on a case is approve, reject or withdraw")
    if who.role not in CASE_REVIEWERS:
        if step != "withdraw":
            raise ServerError(
                403,
                f"{_article(who.role)} {who.role} token may not {step} a case: an analyst "
                "reviews it",
            )
        opener = case_opener(load_incident(ws, incident_id), case_id)
        # an unknown case (None) goes on to the library, which answers 404
        if opener is not None and "withdraw" not in case_steps_allowed(who, opener):
            raise ServerError(
                403,
                f"{_article(who.role)} {who.role} token withdraws only the cases it opened; "
                "an analyst withdraws another's",
            )
    actor = f"token:{who.name}"
    if step == "withdraw":
        return withdraw_case(ws, incident_id, case_id, reason, actor=actor, person=who.person)
    return review_case(
        ws,
        incident_id,
        case_id,
        CASE_STEPS[step],
        reason,
        actor=actor,
        person=who.person,
        another_loss=another_loss,
    )


def case_step_answer(incident_id: str, case: Case) -> dict[str, Any]:
    """A step's answer: the case as the case routes answer it, and the event that
    recorded the step (``leaktrace case approve|reject|withdraw --json``); never the
    reason, which is stored encrypted."""
    step = case.history[-1]
    return {
        "incident": incident_id,
        **case.as_dict(),
        "action": step.action,
        "event": step.seq,
        "by": step.by,
        **({"another_loss": step.another_loss} if step.action == "approved" else {}),
    }


def incident_view(ws: Workspace, incident_id: str) -> dict[str, Any]:
    """An incident (``leaktrace incident show --json``) with its regulator report draft
    and the items the draft still lacks. Verified first: a tampered record is a 409."""
    from leaktrace.respond.incident import load_incident
    from leaktrace.respond.regulator import regulator_report

    inc = load_incident(ws, incident_id)
    draft = regulator_report(ws, inc)
    return {**inc.as_dict(), "report_draft": draft.text, "missing": draft.missing}


def incident_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Every incident, verified (``leaktrace incident list --json``)."""
    from leaktrace.respond.incident import incident_ids, load_incident

    return [load_incident(ws, i).row() for i in incident_ids(ws)]


def verify_ledger(ws: Workspace) -> dict[str, Any]:
    """``leaktrace verify --json``'s answer (``ok`` false names the first bad record, or
    the first erasure request whose seals fail)."""
    from leaktrace.attribution.erasure_requests import verify_requests
    from leaktrace.ledger import Ledger

    return verify_requests(ws, Ledger(ws).verify()).as_dict()
