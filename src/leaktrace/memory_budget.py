"""How much memory this process may still use: the least of the machine's and its cgroup's.

Why the cgroup: in a container (Docker, Kubernetes, a systemd slice) ``MemAvailable`` is
the *host's* free memory, and a process that plans by it is killed by the cgroup's OOM
killer long before it runs out. The trace's memory guard refuses a file it cannot hold in
one line (exit 2) instead; that only works if it knows the real limit.

What is read (Linux; elsewhere nothing is known and nothing is refused):

* ``LEAKTRACE_MEMORY_LIMIT`` (bytes), when set, overrides everything;
* ``MemAvailable`` from ``/proc/meminfo``;
* for the process's cgroup and each of its ancestors that has a memory limit: the limit
  minus what the group uses, not counting its inactive file cache (the kernel reclaims
  that before it kills anyone; ``docker stats`` counts usage the same way). cgroup v2
  (``memory.max``, ``memory.current``) and v1 (``memory.limit_in_bytes``,
  ``memory.usage_in_bytes``) are both read. Inside a cgroup namespace the process's path
  is ``/`` and the mount's own files are its group's.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MEMORY_LIMIT_ENV", "available_memory", "cgroup_headroom"]

MEMORY_LIMIT_ENV = "LEAKTRACE_MEMORY_LIMIT"
"""Bytes of memory a process may count on, instead of what the system says."""

_UNLIMITED = 1 << 60
"""A limit at least this large means none (v1 writes 2^63 rounded to a page)."""


def available_memory(
    proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Bytes this process may still use (see the module's doc); None when unknown."""
    from leaktrace.errors import ConfigError

    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if value:
        try:
            limit = int(value)
        except ValueError:
            limit = -1
        if limit < 0:
            raise ConfigError(f"{MEMORY_LIMIT_ENV} must be a number of bytes, got {value!r}")
        return limit
    known = [v for v in (_mem_available(proc), cgroup_headroom(proc, cgroup_root)) if v is not None]
    return min(known) if known else None


def _mem_available(proc: Path) -> int | None:
    try:
        with (proc / "meminfo").open(encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cgroup_headroom(
    proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """The least headroom (limit minus non-reclaimable use) of this process's memory
    cgroup and its ancestors; None when no level has a limit or nothing can be read."""
    try:
        lines = (proc / "self" / "cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    found: list[int] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2 unified hierarchy
            found += _levels(cgroup_root, path, ("memory.max", "memory.current", "inactive_file"))
        elif "memory" in controllers.split(","):
            found += _levels(
                cgroup_root / "memory",
                path,
                ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
            )
    return max(0, min(found)) if found else None


def _levels(mount: Path, path: str, names: tuple[str, str, str]) -> list[int]:
    """Headroom at each level from the group up to the mount's root that has a limit.

    A path not visible under the mount (another namespace's view) leaves only the root's
    files, which are then this namespace's own group."""
    rel = [p for p in path.strip("/").split("/") if p and p != ".."]
    out: list[int] = []
    seen: set[Path] = set()
    for depth in range(len(rel), -1, -1):
        d = mount.joinpath(*rel[:depth])
        if d in seen or not d.is_dir():
            continue
        seen.add(d)
        room = _headroom(d, names)
        if room is not None:
            out.append(room)
    return out


def _headroom(d: Path, names: tuple[str, str, str]) -> int | None:
    limit_name, usage_name, inactive_key = names
    try:
        raw = (d / limit_name).read_text(encoding="ascii").strip()
        if raw == "max":
            return None
        limit = int(raw)
        if limit >= _UNLIMITED:
            return None
        usage = int((d / usage_name).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None
    return limit - max(0, usage - _stat(d / "memory.stat", inactive_key))


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return 0
    return 0
