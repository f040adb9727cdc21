"""Session 25 review of the scam check's inputs: a file with no texts and a text the API
would only half read.

Both used to answer as if all was well: ``scam check -f`` on a BOM-only file or a
header-only CSV exited 0 with no output (a batch run reads that as "nothing suspicious"),
and ``POST /api/v1/scam/check`` analysed only the first 20,000 characters of a longer
transcript and said 未发现明显诈骗特征 with nothing showing the rest was never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import leaktrace.cli.scam  # noqa: F401  (registers the sub-app)
from leaktrace.cli import app
from leaktrace.scam import MAX_CHARS
from leaktrace.server import create_app
from leaktrace.server.local import serving
from leaktrace.workspace import init_workspace

runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bom.txt", b"\xef\xbb\xbf"),
        ("bom-lines.txt", b"\xef\xbb\xbf\n\n"),
        ("header.csv", b"text\n"),
        ("blank.jsonl", b"\n\n"),
    ],
)
def test_file_without_texts_is_an_error(tmp_path: Path, name: str, data: bytes) -> None:
    """docs/scam.md: "an empty file is an error, not an empty answer" — exit 2, one line,
    also when the file holds only a BOM or only a CSV header."""
    f = tmp_path / name
    f.write_bytes(data)
    r = runner.invoke(app, ["scam", "check", "-f", str(f), "--json"])
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    err = r.stderr.replace("\n", "")  # Rich wraps long lines at the console width
    assert err.startswith("error:") and "Traceback" not in err
    assert "empty" in err or "no texts" in err


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The service of a fresh workspace, in this process (the scam check needs no token)."""
    home = tmp_path_factory.mktemp("s25") / "ws"
    init_workspace(home)
    with serving(create_app(home)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_api_refuses_a_text_it_would_only_half_read(client: httpx.Client) -> None:
    """A 27,000-character transcript whose 腾讯会议 / 屏幕共享 / 备用金 step comes last was
    answered "no scam"; it is refused with 413 and a one-line reason, as the web form
    refuses more than 20,000 characters."""
    chit_chat = "客服：嗯嗯好的，您稍等，我这边帮您查询一下。\n用户：好的。\n" * 800
    script = "客服：我是淘宝客服，您的快递丢失了，给您三倍赔偿，请下载腾讯会议，开启屏幕共享，再开通备用金。"
    text = chit_chat + script
    assert MAX_CHARS < len(text) < 200_000
    r = client.post("/api/v1/scam/check", json={"texts": ["你好", text]})
    assert r.status_code == 413
    body = r.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    assert "texts[1]" in body["error"] and f"{MAX_CHARS:,}" in body["error"]


def test_api_still_checks_a_text_of_exactly_the_cap(client: httpx.Client) -> None:
    """The refusal starts after ``MAX_CHARS``: a text of exactly that length is read whole."""
    text = "我是淘宝客服，请下载腾讯会议开启屏幕共享。".ljust(MAX_CHARS, "好")
    r = client.post("/api/v1/scam/check", json={"texts": [text]})
    assert r.status_code == 200 and r.json()["results"][0]["is_scam"] is True
