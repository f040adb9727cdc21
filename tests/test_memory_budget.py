"""The memory budget: MemAvailable and the cgroup's headroom (v1 and v2), the least wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaktrace.errors import ConfigError
from leaktrace.memory_budget import MEMORY_LIMIT_ENV, available_memory, cgroup_headroom

GIB = 1 << 30


def _proc(root: Path, cgroup: str, mem_available_kib: int | None = 8 * 1024 * 1024) -> Path:
    proc = root / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup)
    if mem_available_kib is not None:
        (proc / "meminfo").write_text(
            f"MemTotal:       24000000 kB\nMemAvailable:   {mem_available_kib} kB\n"
        )
    return proc


def _group(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (d / name).write_text(value)


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)


def test_v2_limit_below_the_hosts_free_memory_wins(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/kubepods/pod1/c1\n")
    cg = tmp_path / "cg"
    _group(
        cg / "kubepods" / "pod1" / "c1",
        {
            "memory.max": str(2 * GIB),
            "memory.current": str(GIB),
            "memory.stat": f"anon 1\ninactive_file {GIB // 4}\n",
        },
    )
    _group(cg / "kubepods", {"memory.max": "max", "memory.current": str(5 * GIB)})
    assert cgroup_headroom(proc, cg) == GIB + GIB // 4
    assert available_memory(proc, cg) == GIB + GIB // 4


def test_an_ancestors_tighter_limit_counts(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/slice/job\n")
    cg = tmp_path / "cg"
    _group(cg / "slice" / "job", {"memory.max": str(4 * GIB), "memory.current": str(GIB)})
    _group(cg / "slice", {"memory.max": str(3 * GIB), "memory.current": str(2 * GIB)})
    assert cgroup_headroom(proc, cg) == GIB


def test_v1_memory_controller(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n")
    cg = tmp_path / "cg"
    _group(
        cg / "memory" / "docker" / "abc",
        {
            "memory.limit_in_bytes": str(GIB),
            "memory.usage_in_bytes": str(GIB // 2),
            "memory.stat": f"cache 5\ntotal_inactive_file {GIB // 8}\n",
        },
    )
    _group(cg / "memory", {"memory.limit_in_bytes": "9223372036854771712"})
    assert cgroup_headroom(proc, cg) == GIB // 2 + GIB // 8


def test_inside_a_namespace_the_mounts_own_files_are_the_groups(tmp_path: Path) -> None:
    """A container sees its path as ``/`` (or one not under its mount): the root files."""
    for line in ("0::/\n", "0::/not/visible/here\n"):
        root = tmp_path / str(abs(hash(line)))
        proc = _proc(root, line)
        cg = root / "cg"
        _group(cg, {"memory.max": str(GIB), "memory.current": str(GIB // 4)})
        assert available_memory(proc, cg) == GIB - GIB // 4


def test_no_limit_leaves_mem_available(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/user.slice\n", mem_available_kib=1024)
    cg = tmp_path / "cg"
    _group(cg / "user.slice", {"memory.max": "max", "memory.current": "1"})
    assert cgroup_headroom(proc, cg) is None
    assert available_memory(proc, cg) == 1024 * 1024


def test_nothing_readable_is_unknown(tmp_path: Path) -> None:
    assert available_memory(tmp_path / "none", tmp_path / "none") is None
    proc = _proc(tmp_path, "garbage\n4:memory:/g\n", mem_available_kib=None)
    _group(tmp_path / "cg" / "memory" / "g", {"memory.limit_in_bytes": "junk"})
    assert available_memory(proc, tmp_path / "cg") is None


def test_a_group_over_its_limit_has_no_room(tmp_path: Path) -> None:
    proc = _proc(tmp_path, "0::/g\n")
    _group(tmp_path / "cg" / "g", {"memory.max": str(GIB), "memory.current": str(2 * GIB)})
    assert available_memory(proc, tmp_path / "cg") == 0


def test_the_override_wins_and_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = _proc(tmp_path, "0::/\n")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "12345")
    assert available_memory(proc, tmp_path / "cg") == 12345
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ConfigError, match=MEMORY_LIMIT_ENV):
        available_memory(proc, tmp_path / "cg")


@given(
    limits=st.lists(
        st.tuples(st.integers(1, 1 << 40), st.integers(0, 1 << 41), st.integers(0, 1 << 40)),
        min_size=1,
        max_size=4,
    ),
    free_kib=st.integers(0, 1 << 30),
)
def test_the_budget_is_never_more_than_any_level_allows(
    tmp_path_factory: pytest.TempPathFactory,
    limits: list[tuple[int, int, int]],
    free_kib: int,
) -> None:
    """Property: the budget never exceeds MemAvailable or any level's limit minus its
    non-reclaimable use (a guard that over-promises gets the process OOM-killed)."""
    root = tmp_path_factory.mktemp("prop")
    names = [f"l{i}" for i in range(len(limits))]
    proc = _proc(root, "0::/" + "/".join(names) + "\n", mem_available_kib=free_kib)
    cg = root / "cg"
    bounds = [free_kib * 1024]
    for depth, (limit, usage, inactive) in enumerate(limits, start=1):
        _group(
            cg.joinpath(*names[:depth]),
            {
                "memory.max": str(limit),
                "memory.current": str(usage),
                "memory.stat": f"inactive_file {inactive}\n",
            },
        )
        bounds.append(max(0, limit - max(0, usage - inactive)))
    assert available_memory(proc, cg) == min(bounds)
