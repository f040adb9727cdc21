"""Review of session 20, the service's answers: the workspace's folder hidden only where it
is a path (a workspace called ``ws`` turned "rows" into "ro<workspace>"); a phone, an ID
number or a name typed where an id or a name belongs never comes back in an answer or a
page (``_case_of``'s rule, applied to incident ids, erasure request ids, order aliases,
``firm=`` and ``taker=``, and the keys of a malformed body); the dashboard's forms answer
with the API's statuses."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.errors import InputError
from leaktrace.release import release
from leaktrace.server import create_app
from leaktrace.server.app import public_message
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token

from .conftest import Site, bearer

PHONE = "13800138000"
ID_NUMBER = "110101199003077777"
NAME = "王小明"
PERSONAL = (PHONE, ID_NUMBER, "11010119900307777X", NAME)


def _cookie(token: str) -> dict[str, str]:
    return {"cookie": f"leaktrace_token={token}"}


def _says_none_of(r: httpx.Response, *values: str) -> None:
    for value in values:
        assert value not in r.text, (value, r.text)
        assert quote(value) not in r.text, (value, r.text)


# --- M1: the workspace's folder, only where it is a path --------------------------------


@pytest.mark.parametrize("folder", ["ws", "ro", "ow"])
def test_a_short_workspace_name_is_hidden_as_a_path_never_inside_a_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    """``leaktrace serve --home ws`` (the docs' name): every "ws" in an error text was
    replaced, "no data rows" read "no data ro<workspace>"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / folder).mkdir()
    home = Path(folder)
    words = "no data rows; max_rows is more than the file shows; grows, owner, rowdy, error"
    assert public_message(home, InputError(words)) == words
    paths = (
        f"cannot read {tmp_path / folder / 'ledger.db'}: locked; "
        f"{folder}/leaktrace.toml is invalid; no workspace at {folder}; '{folder}' is a file"
    )
    shown = public_message(home, InputError(f"{words}: {paths}"))
    assert shown.startswith(words + ": "), shown
    assert str(tmp_path) not in shown and f"{folder}/" not in shown, shown
    assert f"'{folder}'" not in shown and not shown.endswith(f" {folder}"), shown
    assert shown.count("<workspace>") == 4, shown


def test_an_error_about_rows_comes_back_intact_from_a_server_on_ws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the service started on the relative folder ``ws``, as the docs do."""
    make_workspace(tmp_path / "ws")
    token = add_token(tmp_path / "ws", "ana", "analyst", known=set())
    monkeypatch.chdir(tmp_path)
    with serving(create_app(Path("ws"))) as url, httpx.Client(base_url=url, timeout=60) as c:
        files = {"file": ("leak.csv", b"phone\n13800138000\n", "text/csv")}
        r = c.post("/api/v1/trace", files=files, data={"max_rows": "0"}, headers=bearer(token))
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "max_rows must be a positive number of rows, got 0"}


# --- M3: no personal data typed in the place of an id comes back -------------------------


@pytest.mark.parametrize("value", PERSONAL)
def test_an_incident_id_that_is_personal_data_is_not_echoed(
    client: httpx.Client, site: Site, value: str
) -> None:
    r = client.get(f"/api/v1/incidents/{value}", headers=bearer(site.analyst))
    assert r.status_code == 400, r.text
    assert "is not an incident id" in r.json()["error"]
    _says_none_of(r, value)
    # nor behind INC- (it was looked up and came back in "no incident INC-…")
    r = client.get(f"/api/v1/incidents/INC-{value}", headers=bearer(site.analyst))
    assert r.status_code == 400, r.text
    _says_none_of(r, value)


def test_an_incident_id_typo_is_still_named(client: httpx.Client, site: Site) -> None:
    r = client.get("/api/v1/incidents/INC-2026", headers=bearer(site.analyst))
    assert r.status_code == 404 and r.json() == {"error": "no incident INC-2026"}
    r = client.get("/api/v1/incidents/inc-20261130-1a2b3c4d", headers=bearer(site.analyst))
    assert r.status_code == 400 and "'inc-20261130-1a2b3c4d'" in r.json()["error"]


@pytest.mark.parametrize("value", [PHONE, ID_NUMBER, "1000000000"])
def test_an_erasure_request_id_that_cannot_be_one_is_not_echoed(
    client: httpx.Client, site: Site, value: str
) -> None:
    r = client.get(f"/api/v1/erasure-requests/{value}/impact", headers=bearer(site.analyst))
    assert r.status_code == 404, r.text
    assert r.json()["error"].startswith("no erasure request has that id")
    _says_none_of(r, value)
    r = client.post(
        f"/api/v1/erasure-requests/{value}",
        json={"decision": "decline", "reason": "x"},
        headers=bearer(site.analyst),
    )
    assert r.status_code == 404, r.text
    _says_none_of(r, value)
    # a plausible one is named
    r = client.get("/api/v1/erasure-requests/999999999/impact", headers=bearer(site.analyst))
    assert r.status_code == 404 and "has id 999999999" in r.json()["error"]


@pytest.mark.parametrize("value", [PHONE, "8613800138000", ID_NUMBER, "110101900307777"])
def test_an_alias_that_is_personal_data_is_not_echoed(
    client: httpx.Client, site: Site, value: str
) -> None:
    r = client.post(
        "/api/v1/resolve", json={"alias": value, "recipient": "zto"}, headers=bearer(site.zto)
    )
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "that alias is not an order alias issued to 'zto'"}


def test_an_alias_mistyped_is_still_quoted(client: httpx.Client, site: Site) -> None:
    r = client.post(
        "/api/v1/resolve", json={"alias": "12345", "recipient": "zto"}, headers=bearer(site.zto)
    )
    assert r.status_code == 400
    assert r.json() == {"error": "'12345' is not an order alias issued to 'zto'"}


@pytest.mark.parametrize("value", [PHONE, "138-0013-8000", ID_NUMBER, "11010119900307777X"])
def test_a_firm_or_taker_that_is_personal_data_is_not_echoed(
    client: httpx.Client, site: Site, value: str
) -> None:
    url = "/api/v1/erasure-requests/impact"
    r = client.get(url, params={"firm": value}, headers=bearer(site.analyst))
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error.startswith("unknown recipient") and "known recipients: " in error, error
    assert "zto" in error  # still says which firms there are
    _says_none_of(r, value)
    r = client.get(url, params={"taker": value}, headers=bearer(site.analyst))
    assert r.status_code == 400, r.text
    assert "no pending erasure requests" in r.json()["error"]
    _says_none_of(r, value)


@pytest.mark.parametrize("value", [PHONE, ID_NUMBER])
def test_a_recipient_that_is_personal_data_is_not_echoed(
    client: httpx.Client, site: Site, value: str
) -> None:
    r = client.get("/api/v1/releases", params={"recipient": value}, headers=bearer(site.analyst))
    assert r.status_code == 404, r.text
    assert r.json()["error"].startswith("unknown recipient (the recipient given); known")
    _says_none_of(r, value)
    r = client.post(
        "/api/v1/resolve", json={"alias": "12345", "recipient": value}, headers=bearer(site.analyst)
    )
    assert r.status_code == 404, r.text
    _says_none_of(r, value)


def test_a_firm_mistyped_is_still_named(client: httpx.Client, site: Site) -> None:
    r = client.get(
        "/api/v1/erasure-requests/impact", params={"firm": "ztoo"}, headers=bearer(site.analyst)
    )
    assert r.status_code == 404 and "unknown recipient 'ztoo'" in r.json()["error"]


@pytest.mark.parametrize("key", [ID_NUMBER, PHONE, NAME, "tel:13800138000"])
def test_an_unknown_key_of_a_body_that_is_personal_data_is_not_echoed(
    client: httpx.Client, site: Site, key: str
) -> None:
    r = client.post(
        "/api/v1/erasure-requests/999999",
        json={"decision": "decline", key: 1},
        headers=bearer(site.analyst),
    )
    assert r.status_code == 400, r.text
    assert r.json() == {
        "error": "malformed request: an unknown field: Extra inputs are not permitted"
    }
    # a key of a field's shape is still named (an ID photo sent along)
    r = client.post(
        "/api/v1/erasure-requests/999999",
        json={"decision": "decline", "id_photo": 1},
        headers=bearer(site.analyst),
    )
    assert r.status_code == 400 and "id_photo" in r.json()["error"]


@pytest.mark.parametrize("value", PERSONAL)
def test_the_pages_do_not_echo_personal_data_given_as_an_id(
    client: httpx.Client, site: Site, value: str
) -> None:
    page = client.get(f"/dashboard/incidents/{value}", headers=_cookie(site.analyst))
    assert page.status_code == 400, page.text
    _says_none_of(page, value)
    form = {
        "incident": value,
        "order_id": "1",
        "phone": "13900000000",
        "occurred": "2026-01-01T10:00:00+08:00",
        "loss": "10",
        "police_receipt": "A1",
    }
    posted = client.post("/cases", data=form, headers=_cookie(site.agent))
    assert posted.status_code == 400, posted.text
    assert "is not an incident id" in posted.text
    _says_none_of(posted, value)


@pytest.mark.parametrize("value", [PHONE, ID_NUMBER])
def test_the_erasure_pages_do_not_echo_personal_data(
    client: httpx.Client, site: Site, value: str
) -> None:
    page = client.get(f"/dashboard/erasure-requests/{value}/impact", headers=_cookie(site.analyst))
    assert page.status_code == 404, page.text
    assert "no erasure request has that id" in page.text
    _says_none_of(page, value)
    page = client.get(
        "/dashboard/erasure-requests/impact", params={"firm": value}, headers=_cookie(site.analyst)
    )
    assert page.status_code == 404, page.text
    assert "unknown recipient" in page.text
    _says_none_of(page, value)


# --- M5: the dashboard's forms answer with the API's statuses ---------------------------


def test_a_case_for_an_unknown_incident_is_a_404_on_the_page_as_in_the_api(
    client: httpx.Client, site: Site
) -> None:
    unknown = "INC-20990101-00000000"
    form = {
        "incident": unknown,
        "order_id": "1",
        "phone": "13900000000",
        "occurred": "2026-01-01T10:00:00+08:00",
        "loss": "10",
        "police_receipt": "A1",
    }
    api = client.post(
        f"/api/v1/incidents/{unknown}/cases",
        json={**{k: v for k, v in form.items() if k != "incident"}, "loss": 10},
        headers=bearer(site.agent),
    )
    assert api.status_code == 404, api.text
    page = client.post("/cases", data=form, headers=_cookie(site.agent))
    assert page.status_code == 404, page.text
    assert f"no incident {unknown}" in page.text


@pytest.fixture
def tampered(tmp_path: Path, shop: pl.DataFrame) -> Iterator[tuple[httpx.Client, str, bytes]]:
    """A workspace whose release record was edited in the database afterwards, its
    service, an analyst token and a leak cut from the copy."""
    ws = make_workspace(tmp_path / "ws")
    out = tmp_path / "zto.csv"
    release(shop.head(400), recipient="zto", workspace=ws, out=out)
    token = add_token(ws.home, "ana", "analyst", known=set())
    leak = tmp_path / "leak.csv"
    pl.read_csv(out, infer_schema=False).head(20).write_csv(leak)
    with sqlite3.connect(ws.home / "ledger.db") as con:
        con.execute("update releases set rows = rows + 1 where seq = 1")
    with serving(create_app(ws.home)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c, token, leak.read_bytes()


def test_a_trace_on_a_ledger_that_does_not_verify_is_a_409_on_the_page_as_in_the_api(
    tampered: tuple[httpx.Client, str, bytes],
) -> None:
    c, token, leak = tampered
    files = {"file": ("leak.csv", leak, "text/csv")}
    api = c.post("/api/v1/trace", files=files, headers=bearer(token))
    assert api.status_code == 409, api.text
    page = c.post("/dashboard/trace", files=files, headers=_cookie(token))
    assert page.status_code == 409, page.text
