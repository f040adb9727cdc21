"""Canary pool numbers: the lazy sequence must be exactly the expanded configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.config import PhoneNumbers


def _eager(phones: list[str]) -> list[str]:
    out: list[str] = []
    for item in phones:
        lo, _, hi = item.partition("-")
        if hi:
            out.extend(str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1))
        elif item.strip():
            out.append(item.strip())
    return out


ranges = st.builds(
    lambda lo, size, width: f"{str(lo).zfill(width)}-{str(lo + size).zfill(width)}",
    st.integers(0, 10**6),
    st.integers(0, 300),
    st.integers(7, 11),
)
singles = st.sampled_from(["17090000001", " 13800000000 ", "", "+8617000000000", "0012"])


@given(st.lists(st.one_of(ranges, singles), max_size=6))
def test_phone_numbers_are_the_expanded_pool(phones: list[str]) -> None:
    pool = PhoneNumbers(phones)  # the sequence only: CanaryPool also checks the entries
    want = _eager(phones)
    assert len(pool) == len(want)
    assert list(pool) == want
    assert [pool[i] for i in range(len(want))] == want
    assert pool[-1:] == want[-1:] and pool[2:7] == want[2:7]
    for value in want[:50]:
        assert value in pool
    for value in ("１７０９００００００１", "abc", "99999999999999", 17090000001):
        assert (value in pool) == (value in want)


@given(st.lists(st.one_of(ranges, singles), max_size=6), st.randoms(use_true_random=False))
def test_take_is_indexing_many(phones: list[str], rnd: object) -> None:
    """``take`` (the reservation's vectorised lookup) gives exactly ``pool[i]`` per index,
    in the order asked, repeats included; out-of-range indices are refused."""
    import random

    assert isinstance(rnd, random.Random)
    pool = PhoneNumbers(phones)
    want = _eager(phones)
    idx = [rnd.randrange(len(want)) for _ in range(40)] if want else []
    assert pool.take(idx) == [want[i] for i in idx]
    assert pool.take([]) == []
    with pytest.raises(IndexError):
        pool.take([len(want)])


def test_saved_config_is_owner_only_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The canary pool in leaktrace.toml tells which numbers are canaries: the file is
    created 0600, never written first and chmod-ed after (secrets audit)."""
    import os as _os

    from leaktrace.config import WorkspaceConfig, save_config

    modes: list[int] = []
    real_replace = Path.replace

    def spy(self: Path, target: Path) -> Path:
        modes.append(self.stat().st_mode & 0o777)
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    monkeypatch.setattr(_os, "chmod", lambda *a, **k: pytest.fail("chmod after writing"))
    path = tmp_path / "leaktrace.toml"
    (tmp_path / "leaktrace.toml.tmp").write_text("stale")  # a crash's leftover
    save_config(WorkspaceConfig(), path)
    assert modes == [0o600] and path.stat().st_mode & 0o777 == 0o600


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(0, 60), st.integers(0, 30)).map(
                lambda t: f"{17000000000 + t[0]}-{17000000000 + t[0] + t[1]}"
            ),
            st.integers(0, 100).map(lambda i: str(17000000000 + i)),
            st.integers(0, 100).map(lambda i: f"0{1700000000 + i}"),  # another width
            st.sampled_from(["+8617000000001", "abc"]),
        ),
        max_size=12,
    )
)
def test_a_pool_counts_each_number_once(entries: list[str]) -> None:
    """``distinct`` is the number of different numbers listed, however ranges overlap."""
    numbers = PhoneNumbers(entries)
    assert numbers.distinct() == len({numbers[i] for i in range(len(numbers))})


def test_a_display_name_is_one_line(tmp_path: Path) -> None:
    """A newline in --display-name went into leaktrace.toml and broke the notices' and the
    regulator report's sentences ("中通\\n## 八、联系人" started a heading of its own)."""
    from conftest import run_cli
    from leaktrace.errors import ConfigError
    from leaktrace.workspace import add_recipient, init_workspace

    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(ConfigError, match="one line"):
        add_recipient(ws, "zto", template="courier", display_name="中通\n## 八、联系人")
    r = run_cli(
        "recipient", "add", "zto", "--template", "courier", "--display-name", "中通\t快递",
        home=tmp_path / "ws",
    )  # fmt: skip
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "--display-name" in r.stderr and "Traceback" not in r.stderr
    assert add_recipient(ws, "zto", template="courier", display_name=" 中通快递 ").display_name == (
        "中通快递"
    )


def test_pool_entries_with_spaces_around_them_draw_their_own_numbers() -> None:
    """The config's check strips an entry; the pool drew from it unstripped, and
    " 17090000000-17090000002" gave "017090000000", a number no entry holds (every canary
    of such a pool was useless: the trace counts none of them). Session 24's review."""
    pool = PhoneNumbers([" 17090000000-17090000002", "13800138000 "])
    assert list(pool) == ["17090000000", "17090000001", "17090000002", "13800138000"]
    assert "17090000001" in pool and pool.distinct() == 4
