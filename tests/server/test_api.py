"""The public part of the HTTP API over a real uvicorn: health, scam check, contact check,
the error shape, body limits and the headers every answer carries."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leaktrace.errors import ConfigError
from leaktrace.scam import check
from leaktrace.server import create_app
from leaktrace.server.app import JSON_LIMIT, MAX_TEXTS

from .conftest import LEGIT, OFFICIAL_DOMAIN, OFFICIAL_PHONE, SCAM, Site, bearer, serving

RESULT_KEYS = {"is_scam", "fraud_type", "score", "stages", "advice"}
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


def _one_line_error(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"]
    msg = body["error"]
    assert isinstance(msg, str) and msg and "\n" not in msg
    return msg


def _assert_security_headers(r: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, name
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script allowed at all (default-src 'none')


def test_healthz(client: httpx.Client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_scam_check_answers_each_text_in_order(client: httpx.Client) -> None:
    texts = [LEGIT, SCAM, "你好，明天一起吃饭吗？", "客服：" + SCAM]
    r = client.post("/api/v1/scam/check", json={"texts": texts})
    assert r.status_code == 200
    results = r.json()["results"]
    assert len(results) == len(texts)
    for res in results:
        assert set(res) == RESULT_KEYS
        assert 0 <= res["score"] <= 1 and isinstance(res["advice"], str) and res["advice"]
    assert [res["is_scam"] for res in results] == [False, True, False, True]
    assert results[1]["fraud_type"] == "冒充电商物流客服类"
    assert results[3]["fraud_type"] == "冒充电商物流客服类"
    # every stage's span points at its cue in the text that was sent
    for text, res in zip(texts, results, strict=True):
        for st in res["stages"]:
            assert text[st["start"] : st["end"]] == st["cue"]
    assert any("屏幕共享" in st["cue"] for st in results[1]["stages"])
    # the same answer the library (and `leaktrace scam check --json`) gives
    assert results == [c.to_dict() for c in check(texts)]


def test_scam_check_needs_no_token_and_ignores_a_bad_one(client: httpx.Client) -> None:
    r = client.post("/api/v1/scam/check", json={"texts": [SCAM]}, headers=bearer("lt_nope"))
    assert r.status_code == 200 and r.json()["results"][0]["is_scam"] is True


def test_scam_check_takes_up_to_the_limit_of_texts(client: httpx.Client) -> None:
    r = client.post("/api/v1/scam/check", json={"texts": [LEGIT] * MAX_TEXTS})
    assert r.status_code == 200 and len(r.json()["results"]) == MAX_TEXTS
    r = client.post("/api/v1/scam/check", json={"texts": [LEGIT] * (MAX_TEXTS + 1)})
    assert r.status_code == 400
    assert str(MAX_TEXTS) in _one_line_error(r)


@pytest.mark.parametrize(
    "body",
    [{"texts": []}, {}, {"texts": "one text"}, {"texts": [1, 2]}, {"text": [SCAM]}, [SCAM]],
    ids=["empty-list", "no-texts", "string", "numbers", "misspelt", "bare-list"],
)
def test_scam_check_refuses_malformed_requests(client: httpx.Client, body: object) -> None:
    r = client.post("/api/v1/scam/check", json=body)
    assert r.status_code == 400
    _one_line_error(r)


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"texts": ["a"', b"{'texts': []}", b""],
    ids=["text", "cut", "quotes", "empty"],
)
def test_a_body_that_is_not_json_is_a_one_line_400(client: httpx.Client, raw: bytes) -> None:
    r = client.post("/api/v1/scam/check", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400
    msg = _one_line_error(r)
    assert "Traceback" not in msg


def test_a_body_that_is_not_utf8_is_a_one_line_400(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/scam/check",
        content=b'{"texts": ["\xff\xfe"]}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    _one_line_error(r)


def test_unknown_paths_and_methods_use_the_error_shape(client: httpx.Client) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    _one_line_error(r)
    r = client.delete("/api/v1/scam/check")
    assert r.status_code == 405
    _one_line_error(r)


def test_a_check_at_its_documented_maximum_is_read_as_clients_send_it(
    client: httpx.Client,
) -> None:
    """100 texts of 2,000 Chinese characters (200,000 in all, the documented maximum),
    escaped as json.dumps and requests send them (six bytes a character): 1.2 MB, which a
    1 MiB limit answered 413."""
    body = json.dumps({"texts": ["我" * 2000] * 100}).encode()
    assert 1 << 20 < len(body) < JSON_LIMIT
    r = client.post(
        "/api/v1/scam/check", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 and len(r.json()["results"]) == 100


def test_a_check_reads_at_most_200000_characters_in_all(client: httpx.Client) -> None:
    """The public route's cost is bounded in total: 100 texts of 20,000 characters each
    (each within the per-text limit) are refused as a whole, in one line."""
    texts = ["1" * 20_000] * 11
    r = client.post("/api/v1/scam/check", json={"texts": texts})
    assert r.status_code == 400
    assert "220,000 characters in all; at most 200,000" in _one_line_error(r)
    assert client.post("/api/v1/scam/check", json={"texts": texts[:10]}).status_code == 200


def _too_big() -> bytes:
    body = json.dumps({"texts": ["骗" * (JSON_LIMIT // 3 + 10)]}).encode()
    assert len(body) > JSON_LIMIT
    return body


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/scam/check", content=_too_big(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert f"{JSON_LIMIT:,}" in _one_line_error(r)


def test_a_chunked_body_over_one_mib_is_413(client: httpx.Client) -> None:
    body = _too_big()

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for i in range(0, len(body), 64 << 10):
            yield body[i : i + (64 << 10)]

    r = client.post(
        "/api/v1/scam/check", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    _one_line_error(r)
    # and the server is still there for the next caller
    assert client.get("/healthz").status_code == 200


def test_a_small_chunked_body_is_read(client: httpx.Client) -> None:
    body = json.dumps({"texts": [SCAM]}).encode()
    r = client.post(
        "/api/v1/scam/check",
        content=iter([body[:10], body[10:]]),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["results"][0]["is_scam"] is True


def test_the_body_limit_also_guards_routes_with_a_token(client: httpx.Client, site: Site) -> None:
    r = client.post(
        "/api/v1/reports",
        content=b"[" + b'{"a": 1},' * (JSON_LIMIT // 8) + b"{}]",
        headers={**bearer(site.agent), "content-type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("query", "verdict"),
    [
        (OFFICIAL_PHONE, "official"),
        ("４００ ０００ ００００", "official"),  # full-width, spaced: the same number
        ("13800138000", "not_official"),
        (f"https://www.{OFFICIAL_DOMAIN}/help", "official"),
    ],
)
def test_verify_contact_reads_the_workspaces_official_list(
    client: httpx.Client, query: str, verdict: str
) -> None:
    r = client.get("/api/v1/scam/verify-contact", params={"q": query})
    assert r.status_code == 200
    d = r.json()
    assert d["query"] == query and d["verdict"] == verdict and d["reasons"]


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "9" * 301}])
def test_verify_contact_refuses_a_missing_or_huge_query(
    client: httpx.Client, params: dict[str, str]
) -> None:
    r = client.get("/api/v1/scam/verify-contact", params=params)
    assert r.status_code == 400
    _one_line_error(r)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/login"), ("GET", "/healthz"), ("GET", "/api/v1/releases")],
)
def test_security_headers_on_pages_and_json(client: httpx.Client, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code in (200, 401)
    _assert_security_headers(r)
    if path in ("/", "/login"):
        assert r.headers["content-type"].startswith("text/html")
        assert "<script" not in r.text.lower()


def test_security_headers_on_a_posted_answer(client: httpx.Client) -> None:
    r = client.post("/api/v1/scam/check", json={"texts": [SCAM]})
    assert r.status_code == 200
    _assert_security_headers(r)
    r = client.post("/check", data={"text": SCAM})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    _assert_security_headers(r)


@pytest.fixture
def failing_server(
    site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[str]:
    import leaktrace.scam

    def broken(*_a: object, **_k: object) -> object:
        raise RuntimeError("secret-ish detail /srv/private/path")

    monkeypatch.setattr(leaktrace.scam, "check", broken)
    caplog.set_level(logging.ERROR)
    with serving(create_app(site.home)) as url:
        yield url


def test_an_unexpected_error_says_only_internal_error(
    failing_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    # a fresh connection per request: the server drops a connection after a crash
    for path, kw in [
        ("/api/v1/scam/check", {"json": {"texts": [SCAM]}}),
        ("/check", {"data": {"text": SCAM}}),
    ]:
        with httpx.Client(base_url=failing_server, timeout=30) as c:
            r = c.post(path, **kw)  # type: ignore[arg-type]
        assert r.status_code == 500
        msg = _one_line_error(r)
        assert "internal error" in msg
        assert "secret-ish" not in r.text and "/srv/private" not in r.text
        assert "RuntimeError" not in r.text and "Traceback" not in r.text
    # the details went to the server's log instead
    assert "secret-ish detail" in caplog.text


def test_security_headers_on_a_500(failing_server: str) -> None:
    with httpx.Client(base_url=failing_server, timeout=30) as c:
        r = c.post("/api/v1/scam/check", json={"texts": [SCAM]})
    assert r.status_code == 500
    _assert_security_headers(r)


def test_security_headers_on_a_413(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/scam/check", content=_too_big(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    _assert_security_headers(r)


def test_create_app_needs_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app(tmp_path / "nowhere")
