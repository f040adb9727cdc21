"""Review of session 21, two defects a user walk found:

1. ``HEAD`` on a page or a GET route (a monitoring probe, ``curl -I``) answered 405. It is
   now answered as the GET is (status and headers, no body), under the GET's own rules:
   a HEAD is signed in, authorised and rate-limited exactly as the GET would be.
2. A page's form posted with a body over the limit got the API's JSON error. A person
   now gets an HTML page (same 413) saying in one line that the form or file was too
   large and what the limit is; the API (``/api/`` paths, a JSON body, a client asking
   for JSON) keeps its JSON answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from leaktrace.server import create_app
from leaktrace.server.app import JSON_LIMIT
from leaktrace.server.local import serving

from .conftest import LEAK_COLS, Site, bearer

PHONE = "13912345678"
COOKIE = "leaktrace_token"
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
# headers that may differ between two answers of the same route
_VARYING = {"date", "content-length"}


def _jar(token: str | None) -> dict[str, str]:
    return {COOKIE: token} if token else {}


def _client(base_url: str, cookie: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60, cookies=_jar(cookie))


def _same_answer(get: httpx.Response, head: httpx.Response) -> None:
    """HEAD answers as GET does: the status, the headers (but the date, and the length of
    a page that shows the time), and no body."""
    assert head.status_code == get.status_code, (head.status_code, get.status_code)
    assert head.content == b""

    def kept(r: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in r.headers.items() if k not in _VARYING}

    assert kept(head) == kept(get)
    for name, value in SECURITY_HEADERS.items():
        assert head.headers.get(name) == value, name


# ---------------------------------------------------------------- 1. HEAD where GET is


@pytest.mark.parametrize("path", ["/", "/login", "/healthz", "/openapi.json"])
def test_head_answers_the_public_pages_as_get(base_url: str, path: str) -> None:
    with _client(base_url) as c:
        get, head = c.get(path), c.head(path)
    assert get.status_code == 200
    _same_answer(get, head)
    # a static page: the very length of the GET's body
    assert head.headers["content-length"] == str(len(get.content))


def test_head_of_the_contact_check(base_url: str) -> None:
    with _client(base_url) as c:
        get = c.get("/api/v1/scam/verify-contact", params={"q": PHONE})
        head = c.head("/api/v1/scam/verify-contact", params={"q": PHONE})
    assert get.status_code == 200
    _same_answer(get, head)


@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/dashboard", None, 303),  # to the sign-in page, as GET
        ("/dashboard", "agent", 303),  # an agent is no analyst
        ("/dashboard", "zto", 303),  # a recipient's token signs nobody in
        ("/dashboard", "analyst", 200),
        ("/cases", None, 303),
        ("/cases", "agent", 200),
        ("/cases", "analyst", 200),
        ("/dashboard/incidents/INC-20990101-0000dead", None, 303),
        ("/dashboard/incidents/INC-20990101-0000dead", "analyst", 404),
        ("/dashboard/erasure-requests/impact", None, 303),
        ("/dashboard/erasure-requests/42/impact", "agent", 303),
    ],
)
def test_head_of_a_page_signs_in_as_get_does(
    base_url: str, site: Site, path: str, who: str | None, status: int
) -> None:
    token = {"analyst": site.analyst, "agent": site.agent, "zto": site.zto, None: None}[who]
    with _client(base_url, token) as c:
        get, head = c.get(path), c.head(path)
    assert get.status_code == status, get.text[:300]
    assert head.status_code == status
    assert head.content == b""
    if status == 303:
        assert head.headers["location"] == get.headers["location"] == "/login"
    for name, value in SECURITY_HEADERS.items():
        assert head.headers.get(name) == value, name


@pytest.mark.parametrize(
    ("path", "auth", "status"),
    [
        ("/api/v1/releases", "none", 401),
        ("/api/v1/releases", "cookie", 401),  # the API takes no cookie, HEAD neither
        ("/api/v1/releases", "agent", 403),
        ("/api/v1/releases", "zto", 403),
        ("/api/v1/releases", "analyst", 200),
        ("/api/v1/ledger/verify", "none", 401),
        ("/api/v1/incidents", "agent", 403),
        ("/api/v1/incidents", "analyst", 200),
        ("/api/v1/erasure-requests", "zto", 403),
        ("/api/v1/incidents/INC-20990101-0000dead", "analyst", 404),
    ],
)
def test_head_of_an_api_route_is_authorised_as_get(
    base_url: str, site: Site, path: str, auth: str, status: int
) -> None:
    tokens = {"analyst": site.analyst, "agent": site.agent, "zto": site.zto}
    headers = bearer(tokens[auth]) if auth in tokens else {}
    with _client(base_url, site.analyst if auth == "cookie" else None) as c:
        get = c.get(path, headers=headers)
        head = c.head(path, headers=headers)
    assert get.status_code == status, get.text[:300]
    _same_answer(get, head)


def test_head_leaks_no_body_where_get_is_refused(base_url: str, site: Site) -> None:
    """Nothing more than GET says, and no body at all: not even the error line."""
    with _client(base_url) as c:
        r = c.head("/api/v1/releases", headers=bearer(site.agent))
    assert r.status_code == 403 and r.content == b""


def test_head_of_a_post_only_route_is_405_as_get_is(base_url: str) -> None:
    with _client(base_url) as c:
        get, head = c.get("/api/v1/scam/check"), c.head("/api/v1/scam/check")
    assert get.status_code == head.status_code == 405
    assert head.content == b""
    assert head.headers.get("allow") == get.headers.get("allow") == "POST"


def test_head_of_an_unknown_path_is_404(base_url: str) -> None:
    with _client(base_url) as c:
        get, head = c.get("/nothing-here"), c.head("/nothing-here")
    assert get.status_code == head.status_code == 404 and head.content == b""


def test_the_access_log_says_head(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="leaktrace.access"), _client(base_url) as c:
        assert c.head("/").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "leaktrace.access"]
    assert any('"HEAD /" 200' in line for line in lines), lines


def test_head_counts_against_the_public_rate_limit(site: Site) -> None:
    """A HEAD of a rate-limited route is a call like the GET: no way around the limit."""
    with serving(create_app(site.home, public_rate=2)) as url, _client(url) as c:
        path = "/api/v1/scam/verify-contact"
        assert c.head(path, params={"q": "x"}).status_code == 200
        assert c.head(path, params={"q": "x"}).status_code == 200
        third = c.head(path, params={"q": "x"})
        assert third.status_code == 429 and third.content == b""
        assert c.get(path, params={"q": "x"}).status_code == 429


# ---------------------------------------------- 2. a form over the limit: an HTML page


def _html_error(r: httpx.Response) -> str:
    """The one-line message of an HTML error page, checked as every page is checked."""
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.lstrip().lower().startswith("<!doctype html>")
    assert "<script" not in r.text.lower()
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name
    m = re.search(r'<section class="error" id="error">(.*?)</section>', r.text, re.S)
    assert m, r.text
    message = m.group(1).strip()
    assert message and "\n" not in message
    return message


def _html_413(r: httpx.Response, limit: int) -> str:
    """The one-line message of the page answering a form over the limit."""
    assert r.status_code == 413, r.text[:300]
    message = _html_error(r)
    assert f"{limit:,}" in message and "too large" in message
    return message


def _too_big_form() -> dict[str, str]:
    # a phone among the text: it must not come back in the page. Over the limit however
    # it is sent: form-encoded (nine bytes a character) or as JSON in UTF-8 (three)
    return {"text": PHONE + "骗" * (JSON_LIMIT // 3 + 10)}


def test_a_check_form_over_the_limit_gets_an_html_page(client: httpx.Client) -> None:
    r = client.post("/check", data=_too_big_form())
    assert int(r.request.headers["content-length"]) > JSON_LIMIT
    message = _html_413(r, JSON_LIMIT)
    assert "2 MiB" in message
    assert PHONE not in r.text
    assert 'href="/"' in r.text  # the way back to the form


def test_a_chunked_form_over_the_limit_gets_an_html_page(client: httpx.Client) -> None:
    # fields each under the form parser's 1 MiB a field, together over the body limit
    pad = "a" * (900 << 10)
    body = f"text={PHONE}&a={pad}&b={pad}&c={pad}".encode()
    assert len(body) > JSON_LIMIT

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off as the bytes arrive
        for i in range(0, len(body), 64 << 10):
            yield body[i : i + (64 << 10)]

    r = client.post(
        "/check",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in r.request.headers
    _html_413(r, JSON_LIMIT)
    assert PHONE not in r.text
    assert client.get("/healthz").status_code == 200


def test_a_form_field_over_the_parsers_limit_gets_an_html_page(
    client: httpx.Client, base_url: str, site: Site
) -> None:
    """A body under the limit with one field over the form parser's own 1 MiB a field
    (a long chat log pasted into the check): the page says so, in one line, with the
    status the API gives it (400), not the API's "malformed request ... (JSON in UTF-8
    expected)"."""
    text = PHONE + "骗" * (1_200_000 // 9)
    r = client.post("/check", data={"text": text})
    assert 1 << 20 < int(r.request.headers["content-length"]) < JSON_LIMIT
    assert r.status_code == 400
    message = _html_error(r)
    assert "1 MiB" in message and "1,048,576" in message and "too large" in message
    assert "JSON" not in message
    assert PHONE not in r.text
    # a multipart field of the dashboard's upload form: the page too
    files = {"file": ("leak.csv", b"name,phone\n", "text/csv")}
    alpha = {"alpha": "1" * ((1 << 20) + 1)}
    with _client(base_url, site.analyst) as c:
        r = c.post("/dashboard/trace", files=files, data=alpha)
    assert r.status_code == 400
    assert "1 MiB" in _html_error(r)
    # the API keeps its JSON line and status
    r = client.post("/api/v1/trace", files=files, data=alpha, headers=bearer(site.analyst))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert "maximum size" in r.json()["error"]


def test_a_sign_in_form_over_the_limit_gets_an_html_page(client: httpx.Client) -> None:
    r = client.post("/login", data={"token": "x" * (JSON_LIMIT + 1)})
    _html_413(r, JSON_LIMIT)
    assert "set-cookie" not in r.headers


def test_the_api_keeps_its_json_413(client: httpx.Client) -> None:
    big = _too_big_form()["text"]
    for r in (
        client.post("/api/v1/scam/check", json={"texts": [big]}),
        # an API path answers JSON even to a form body
        client.post("/api/v1/scam/check", data={"texts": big}),
        # a page's path asked for JSON (a script), or sent JSON
        client.post("/check", data=_too_big_form(), headers={"accept": "application/json"}),
        client.post("/check", json={"text": big}),
    ):
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == {"error": f"request body larger than the limit of {JSON_LIMIT:,} bytes"}
        assert PHONE not in r.text


@pytest.fixture(scope="module")
def small_upload_url(site: Site) -> Iterator[str]:
    with serving(create_app(site.home, max_upload_bytes=64 << 10)) as url:
        yield url


@pytest.fixture(scope="module")
def big_leak(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Path:
    big = tmp_path_factory.mktemp("s21") / "big.csv"
    shop.select(LEAK_COLS).write_csv(big)
    assert big.stat().st_size > 64 << 10
    return big


def test_a_dashboard_upload_over_the_limit_gets_an_html_page(
    small_upload_url: str, site: Site, big_leak: Path
) -> None:
    files = {"file": ("leak.csv", big_leak.read_bytes(), "text/csv")}
    with _client(small_upload_url, site.analyst) as c:
        r = c.post("/dashboard/trace", files=files)
    message = _html_413(r, 64 << 10)
    assert "64 KiB" in message
    assert "Sign out (ana)" in r.text  # the dashboard's page, for the analyst signed in
    assert 'href="/dashboard"' in r.text
    # nothing of the file comes back
    first_phone = pl.read_csv(big_leak, infer_schema=False)["phone"][0]
    assert first_phone not in r.text


def test_an_upload_from_no_analyst_is_still_sent_to_sign_in(
    small_upload_url: str, site: Site, big_leak: Path
) -> None:
    files = {"file": ("leak.csv", big_leak.read_bytes(), "text/csv")}
    for token in (None, site.agent):
        with _client(small_upload_url, token) as c:
            r = c.post("/dashboard/trace", files=files)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_the_api_upload_keeps_its_json_413(
    small_upload_url: str, site: Site, big_leak: Path
) -> None:
    files = {"file": ("leak.csv", big_leak.read_bytes(), "text/csv")}
    with _client(small_upload_url) as c:
        r = c.post("/api/v1/trace", files=files, headers=bearer(site.analyst))
    assert r.status_code == 413
    assert r.json() == {"error": "request body larger than the limit of 65,536 bytes"}
