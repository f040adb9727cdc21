"""A policy naming a masking operator that does not exist (a typo, a plugin no longer
installed) stops releases to the recipients using it, and nothing else.

Before session 15 loading the workspace refused the whole config, so ``verify``, ``trace``,
``releases`` and ``recipient list`` failed for every recipient although none of them
applies a policy. Now the config loads, commands name the broken policy in one warning
line, and a release to a recipient using it is refused in one error line naming the
recipient, the field, the operator and the known operators.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from conftest import run_cli
from leaktrace.config import load_config
from leaktrace.errors import PolicyError
from leaktrace.ledger import Ledger
from leaktrace.release import release
from leaktrace.workspace import open_workspace

# the courier policy's name field, as `leaktrace init` writes it
COURIER_NAME = (
    '[policies.courier.fields]\norder_id = "alias"\norder_time = "keep"\nname = "mask_name"'
)

# a recipient and a policy added by hand, using an operator a plugin used to provide
VAULT = """
[recipients.bank]
display_name = "合作银行"
kind = "other"
policy = "vault"

[policies.vault]
channels = ["title"]
[policies.vault.fields]
order_id = "alias"
phone = "vault_token:v2"
product = "keep"
"""


def _ok(r: object) -> str:
    code, err = r.returncode, r.stderr  # type: ignore[attr-defined]
    assert code == 0, err
    assert "Traceback" not in err, err
    return str(err)


def _one_error(r: object, *needles: str) -> str:
    code, err = r.returncode, r.stderr  # type: ignore[attr-defined]
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return str(err)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, shop_parquet: Path) -> Path:
    """``leaktrace init`` + ``recipient add`` + a release to each recipient, as a user
    makes them; copied by each test."""
    root = tmp_path_factory.mktemp("unknown-op")
    home = root / "ws"
    assert run_cli("init", home=home).returncode == 0
    for args in (
        ("zto", "--template", "courier", "--where", "courier = '中通快递'"),
        ("cs", "--template", "customer-service"),
    ):
        _ok(run_cli("recipient", "add", *args, home=home))
    for who in ("zto", "cs"):
        out = root / f"{who}.csv"
        _ok(run_cli("release", str(shop_parquet), "--to", who, "--out", str(out), home=home))
    return root


@pytest.fixture
def home(base: Path, tmp_path: Path) -> Path:
    shutil.copytree(base, tmp_path / "root")
    return tmp_path / "root" / "ws"


def _break(home: Path, *, typo: bool = True, plugin: bool = False) -> None:
    """Write the broken policies by hand, as an analyst editing leaktrace.toml would."""
    p = home / "leaktrace.toml"
    text = p.read_text(encoding="utf-8")
    if typo:
        assert COURIER_NAME in text
        text = text.replace(COURIER_NAME, COURIER_NAME.replace("mask_name", "mask_nam"), 1)
    if plugin:
        text += VAULT
    p.write_text(text, encoding="utf-8")


def _leak(home: Path) -> Path:
    """20 rows of the courier's copy, re-typed into a scammer's spreadsheet."""
    copy = pl.read_csv(home.parent / "zto.csv", infer_schema=False)
    leak = home.parent / "leak.csv"
    copy.head(20).select(["name", "phone", "address", "product"]).write_csv(leak)
    return leak


def test_reading_commands_keep_working_with_one_warning(home: Path) -> None:
    _break(home)
    for args in (
        ("verify",),
        ("releases",),
        ("recipient", "list"),
        ("recipient", "list", "--json"),
    ):
        err = _ok(run_cli(*args, home=home))
        (warning,) = _warnings(err)
        assert "'courier'" in warning and "mask_nam" in warning and "'name'" in warning, warning
        assert "zto" in warning, warning  # whose releases it stops
    listed = json.loads(run_cli("recipient", "list", "--json", home=home).stdout)
    assert sorted(x["name"] for x in listed) == ["cs", "zto"]
    # trace of the earlier release: the courier is still named
    r = run_cli("trace", str(_leak(home)), "--json", home=home)
    _ok(r)
    assert [c["recipient"] for c in json.loads(r.stdout)["accused"]] == ["zto"]


def test_a_release_to_that_recipient_is_refused_in_one_line(home: Path, shop_parquet: Path) -> None:
    _break(home)
    before = len(Ledger(open_workspace(home)).entries())
    out = home.parent / "again.csv"
    err = _one_error(
        run_cli("release", str(shop_parquet), "--to", "zto", "--out", str(out), home=home),
        "'zto'",
        "'name'",
        "'mask_nam'",
        "known: ",
        "mask_name",
    )
    assert err.startswith("error: ")
    assert not out.exists()
    assert len(Ledger(open_workspace(home)).entries()) == before
    # a recipient under another policy is not held up
    ok = home.parent / "cs-again.csv"
    _ok(run_cli("release", str(shop_parquet), "--to", "cs", "--out", str(ok), home=home))
    assert ok.exists()
    # nor is adding one under another template; under the broken one it is refused
    _ok(run_cli("recipient", "add", "m1", "--template", "merchant", home=home))
    _one_error(run_cli("recipient", "add", "z2", "--template", "courier", home=home), "mask_nam")


def test_an_operator_of_a_plugin_no_longer_installed(home: Path, shop_parquet: Path) -> None:
    """A hand-written policy for a hand-written recipient: only that recipient stops."""
    _break(home, typo=False, plugin=True)
    for args in (("verify",), ("releases",), ("recipient", "list")):
        (warning,) = _warnings(_ok(run_cli(*args, home=home)))
        assert "'vault'" in warning and "vault_token" in warning and "bank" in warning
    out = home.parent / "bank.csv"
    _one_error(
        run_cli("release", str(shop_parquet), "--to", "bank", "--out", str(out), home=home),
        "'bank'",
        "'phone'",
        "'vault_token'",
        "known: ",
    )
    assert not out.exists()
    _ok(run_cli("trace", str(_leak(home)), home=home))


def test_two_broken_policies_are_named_once_each(home: Path) -> None:
    _break(home, typo=True, plugin=True)
    warnings = _warnings(_ok(run_cli("verify", home=home)))
    assert len(warnings) == 2, warnings
    assert any("'courier'" in w for w in warnings) and any("'vault'" in w for w in warnings)


def test_python_api(home: Path, shop_parquet: Path) -> None:
    """The library loads the workspace, lists the problem, and refuses the release."""
    _break(home)
    cfg = load_config(home / "leaktrace.toml")
    problems = cfg.policy_problems()
    assert list(problems) == ["courier"] and "mask_nam" in problems["courier"]
    ws = open_workspace(home)
    assert Ledger(ws).verify().ok
    with pytest.raises(PolicyError, match=r"'zto'.*'name'.*'mask_nam'.*known: .*mask_name"):
        release(shop_parquet, recipient="zto", workspace=ws)
    # fixed in memory: the release goes ahead (the check is made at release time)
    ws.config.policies["courier"].fields["name"] = "mask_name"
    assert release(shop_parquet, recipient="zto", workspace=ws).rows > 0


def test_an_operator_broken_in_memory_is_still_refused(home: Path, shop_parquet: Path) -> None:
    """The release-time check is not weakened: a policy edited in memory after loading."""
    ws = open_workspace(home)
    ws.config.policies["customer-service"].fields["phone"] = "mask_phone:bogus"
    with pytest.raises(PolicyError, match=r"'cs'.*'phone'.*bogus"):
        release(shop_parquet, recipient="cs", workspace=ws)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ('name = "mask_name"', 'nmae = "mask_name"', "nmae"),  # an unknown role
        ('name = "mask_name"', 'name = ""', "empty masking operator"),  # no operator at all
        ('    "title",\n]', '    "title",\n    "title",\n]', "listed twice"),
    ],
)
def test_other_config_errors_still_stop_the_workspace(
    home: Path, old: str, new: str, needle: str
) -> None:
    """Only an operator that cannot be applied is left to release time; a config that
    cannot be read as written is refused when loaded, as before."""
    p = home / "leaktrace.toml"
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    _one_error(run_cli("verify", home=home), needle)


def test_a_mark_channel_this_installation_does_not_know(home: Path, shop_parquet: Path) -> None:
    """A channel of a plugin no longer installed is the same case as an operator: releases
    under that policy are refused, everything else works with one warning."""
    p = home / "leaktrace.toml"
    text = p.read_text(encoding="utf-8")
    assert '    "title",\n]' in text
    p.write_text(text.replace('    "title",\n]', '    "title",\n    "watermark",\n]', 1), "utf-8")
    (warning,) = _warnings(_ok(run_cli("verify", home=home)))
    assert "unknown mark channel 'watermark'" in warning, warning
    _ok(run_cli("trace", str(_leak(home)), home=home))
    users = [r for r, rec in load_config(p).recipients.items() if "watermark" in
             load_config(p).policies[rec.policy].channels]  # fmt: skip
    out = home.parent / "again.csv"
    _one_error(
        run_cli("release", str(shop_parquet), "--to", users[0], "--out", str(out), home=home),
        "unknown mark channel 'watermark'",
    )
    assert not out.exists()


def test_serve_says_it_at_the_start_not_when_it_stops(home: Path) -> None:
    """``serve`` runs until it is stopped: the warning comes before it starts serving."""
    import signal
    import socket
    import subprocess
    import sys

    _break(home)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "leaktrace", "serve", "--home", str(home), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        lines = []
        while not any("serving on" in line for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)  # the server ended before it said it serves
            lines.append(line)
        (warning,) = _warnings("".join(lines))
        assert "mask_nam" in warning and lines.index(warning + "\n") < len(lines) - 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert not _warnings(err)  # said once
