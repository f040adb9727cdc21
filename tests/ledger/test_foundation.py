"""Session 13 foundation audit: ledger verify, hand-edited config, secrets, failures.

Every test here pinned a bug found (and fixed) in session 13: verify naming the first bad
record, a channel listed twice, canary pool entries that are no mobile numbers, an outside
ledger file's mode, a failed config save's temporary file, an amount step no float holds.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from conftest import make_workspace
from leaktrace.config import load_config
from leaktrace.errors import LeaktraceError, PolicyError
from leaktrace.ledger import Ledger
from leaktrace.masking import check_spec
from leaktrace.release import release
from leaktrace.synth import generate_orders
from leaktrace.workspace import add_recipient, init_workspace, open_workspace


@pytest.fixture(scope="module")
def small_shop() -> pl.DataFrame:
    return generate_orders(400, seed=3)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, small_shop: pl.DataFrame) -> Path:
    """A workspace with three releases (zto, cs-firm, zto), copied by each test."""
    root = tmp_path_factory.mktemp("s13")
    ws = make_workspace(root / "ws")
    for i, who in enumerate(["zto", "cs-firm", "zto"]):
        release(small_shop, recipient=who, workspace=ws, out=root / f"copy{i}.csv")
    return ws.home


@pytest.fixture
def home(base: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(base, dst)
    return dst


def _sql(home: Path, *statements: str) -> None:
    with closing(sqlite3.connect(home / "ledger.db")) as con, con:
        for s in statements:
            con.execute(s)


def _edit_config(home: Path, old: str, new: str) -> None:
    p = home / "leaktrace.toml"
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new, 1), encoding="utf-8")


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize(
    ("statements", "first"),
    [
        # record 1 altered, record 3's fields made unreadable: record 1 is the first bad one
        (
            (
                "update releases set rows = rows + 1 where seq = 1",
                "update releases set fields = 'x' where seq = 3",
            ),
            1,
        ),
        # one record with unreadable channels: it is named, and first_bad says so
        (("update releases set channels = 'x' where seq = 2",), 2),
    ],
)
def test_verify_names_the_first_bad_record_despite_unreadable_json_later(
    home: Path, statements: tuple[str, ...], first: int
) -> None:
    _sql(home, *statements)
    res = Ledger(open_workspace(home)).verify()
    assert not res.ok
    assert res.first_bad == first, res.problem
    assert res.problem is not None and res.problem.startswith(f"record {first} ")


# ------------------------------------------------------------------ hand-edited config


def test_a_channel_listed_twice_is_one_policy_error(home: Path, small_shop: pl.DataFrame) -> None:
    _edit_config(
        home, 'channels = [\n    "timestamp",', 'channels = [\n    "timestamp",\n    "timestamp",'
    )
    before = sorted((home / "index").iterdir())
    try:
        ws = open_workspace(home)
    except PolicyError:
        return  # refused when the workspace is opened: fine
    out = home.parent / "dup.csv"
    with pytest.raises(LeaktraceError):
        release(small_shop, recipient="zto", workspace=ws, out=out)
    assert sorted((home / "index").iterdir()) == before and not out.exists()


@pytest.mark.parametrize(
    "phones",
    [
        '["170900000000-170900099999"]',  # a 12-digit range: one digit too many
        # a word where a number belongs; with the three canaries a release needs, the
        # pool's three entries are all drawn
        '["none", "17091000000-17091000001"]',
    ],
)
def test_a_canary_pool_entry_that_is_no_phone_number_is_refused(
    home: Path, small_shop: pl.DataFrame, phones: str
) -> None:
    _edit_config(home, 'phones = [\n    "17090000000-17090099999",\n]', f"phones = {phones}")
    try:
        ws = open_workspace(home)
    except PolicyError:
        return
    # accepted: what a release then does with it
    # zto's policy keeps the phone: the canary rows' numbers are in its copy as drawn
    res = release(small_shop, recipient="zto", workspace=ws, out=home.parent / "pool.csv")
    phones_out = pl.read_csv(home.parent / "pool.csv", infer_schema=False).get_column("phone")
    assert res.canaries == 3
    assert phones_out.str.contains(r"^\d{11}$").all(), "canary rows carry a non-phone"


def test_a_round_amount_step_too_large_for_a_float_is_refused() -> None:
    with pytest.raises(PolicyError):
        check_spec("round_amount:1e400")


# ------------------------------------------------------------------ secrets and files


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_ledger_database_outside_the_workspace_is_owner_only(
    tmp_path: Path, umask_022: None
) -> None:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "ledger.db"
    init_workspace(tmp_path / "ws", database_url=f"sqlite:///{db}")
    assert db.exists()
    mode = stat.S_IMODE(db.stat().st_mode)
    assert mode & 0o077 == 0, f"ledger database mode {mode:o}"


def test_a_failed_config_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    from leaktrace.config import Recipient

    ws = init_workspace(tmp_path / "ws")
    # add_recipient now refuses such a name before saving (one line of printable text):
    # a value that got past validation still must not leave a half-written config
    with pytest.raises(LeaktraceError, match="one line"):
        add_recipient(ws, "xx", template="courier", display_name="ab\udcffcd")
    ws.config.recipients["xx"] = Recipient.model_construct(
        display_name="ab\udcffcd", kind="courier", policy="courier", where=None, active=True
    )
    with pytest.raises(UnicodeError):
        ws.save()
    assert "xx" not in open_workspace(ws.home).config.recipients
    assert sorted(p.name for p in ws.home.glob("*.tmp")) == []
    assert load_config(ws.home / "leaktrace.toml").recipients == {}
