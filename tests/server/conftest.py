"""A real ``leaktrace serve``: one workspace with releases, tokens of every role, and
uvicorn listening on a loopback port in a background thread.

The workspace is built once per session (releases take a second); tests that change it
(tokens, reports) use names of their own so they do not step on each other.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.config import OfficialContacts
from leaktrace.release import release
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.server.tokens import add_token
from leaktrace.workspace import Workspace

RECIPIENTS = ("zto", "yto", "cs-firm", "sms")
OFFICIAL_PHONE = "400-000-0000"
OFFICIAL_DOMAIN = "leakshop.cn"
SCAM = "我是京东客服，您的快递丢失了，我们给您三倍赔偿，请下载会议软件并开启屏幕共享"
LEGIT = "【顺丰速运】您的快件已到达小区东门驿站，取件码1234，请于18:00前取件。"
LEAK_COLS = ["name", "phone", "address", "order_time", "product"]


@dataclass(frozen=True)
class Site:
    """A workspace with one release per recipient and a token for each role."""

    ws: Workspace
    released: dict[str, Path]  # recipient → the released CSV it was sent
    analyst: str
    agent: str
    zto: str  # a recipient token bound to zto
    sms: str  # a recipient token bound to sms

    @property
    def home(self) -> Path:
        return self.ws.home

    def copy(self, recipient: str) -> pl.DataFrame:
        """The released copy as the recipient reads it (all text: aliases keep zeros)."""
        return pl.read_csv(self.released[recipient], infer_schema=False)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, shop: pl.DataFrame) -> Site:
    root = tmp_path_factory.mktemp("server")
    ws = make_workspace(root / "ws")
    ws.config.official_contacts = OfficialContacts(
        phones=[OFFICIAL_PHONE], domains=[OFFICIAL_DOMAIN], accounts=[]
    )
    ws.save()
    released = {}
    for r in RECIPIENTS:
        released[r] = root / f"{r}.csv"
        release(shop, recipient=r, workspace=ws, out=released[r])
    known = set(ws.config.recipients)
    return Site(
        ws=ws,
        released=released,
        analyst=add_token(ws.home, "ana", "analyst", known=known),
        agent=add_token(ws.home, "cs-agent", "agent", known=known),
        zto=add_token(ws.home, "zto-api", "recipient", recipient="zto", known=known),
        sms=add_token(ws.home, "sms-api", "recipient", recipient="sms", known=known),
    )


@pytest.fixture(scope="session")
def base_url(site: Site) -> Iterator[str]:
    with serving(create_app(site.home)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of this test's own for the in-process server (so another
    process's uploads in the shared /tmp cannot be mistaken for ours)."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    assert tempfile.gettempdir() == str(d)
    return d


def upload_dirs() -> set[Path]:
    """The trace upload folders that exist now in the temporary directory."""
    return set(Path(tempfile.gettempdir()).glob("leaktrace-upload-*"))


def cs_firm_wave(home: Path, shop: pl.DataFrame) -> tuple[Workspace, list[dict[str, object]]]:
    """A workspace of its own at ``home``: every recipient released ``shop``, and twelve
    victims of a wave from cs-firm's copy reported (the erasure-request tests' queue)."""
    from leaktrace.attribution.reports import add_reports, parse_report_obj
    from leaktrace.attribution.simulate import simulate_wave

    ws = make_workspace(home)
    for r in RECIPIENTS:
        release(shop, recipient=r, workspace=ws)
    wave = simulate_wave(ws, shop, source="cs-firm", victims=12, seed=1, unrelated=0.0)
    add_reports(ws, [parse_report_obj(o, f"sim:{i}") for i, o in enumerate(wave)])
    return ws, wave
