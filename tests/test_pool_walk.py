"""Random walks over a canary pool, and the ledger-free kernel draw that uses them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.config import CanaryPool, PhoneNumbers, WorkspaceConfig
from leaktrace.errors import ConfigError
from leaktrace.pool_walk import RandomWalk, take_from_pool
from leaktrace.release import _BatchKernel, make_plan
from leaktrace.workspace import Workspace


@given(n=st.integers(0, 3000), chunks=st.lists(st.integers(1, 700), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_random_walk_visits_each_index_once(n: int, chunks: list[int]) -> None:
    """Sparse (rejection) and dense (shuffled rest) phases together: no repeats, and the
    walk only ends when every index was drawn."""
    walk = RandomWalk(n, np.random.default_rng(n))
    drawn: list[int] = []
    for m in chunks * (n // max(sum(chunks), 1) + 2):
        part = walk.take(m)
        assert len(part) == min(m, n - len(drawn))
        drawn += part
    assert sorted(drawn) == list(range(n)) and walk.exhausted


def test_take_from_pool_matches_indexing() -> None:
    pool = PhoneNumbers(["17090000000-17090000099", "13800000000", "17190000000-17190000009"])
    idx = [0, 99, 100, 101, 110, 5]
    assert take_from_pool(pool, idx) == [pool[i] for i in idx]
    assert take_from_pool(list(pool), idx) == [pool[i] for i in idx]


class _NoListing(PhoneNumbers):
    """A pool that fails the test if anything lists it whole."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the pool was listed")


def _ledger_free_kernel(
    ws: Workspace, pool: list[str], used: set[str], release_id: str = "rel-1"
) -> _BatchKernel:
    """The kernel as a Spark partition runs it: its own pool slice, no ledger."""
    plan = dataclasses.replace(make_plan(ws, "cs-firm"), release_id=release_id)
    cfg = WorkspaceConfig(canary_pool=CanaryPool.model_construct(phones=pool, emails=[]))
    plan = dataclasses.replace(plan, ws=dataclasses.replace(plan.ws, config=cfg))
    kernel = _BatchKernel(plan, used_canary_contacts=used)
    kernel._pool = _NoListing(pool)
    return kernel


def test_ledger_free_kernel_walks_the_pool(workspace: Workspace, shop: pl.DataFrame) -> None:
    """Numbers come from the pool, never twice and never one already used, without the
    pool being listed (a million-number pool used to be listed in every batch)."""
    used = {f"170900{i:05d}" for i in range(0, 100_000, 2)}  # every other number taken
    kernel = _ledger_free_kernel(workspace, ["17090000000-17090099999"], used)
    drawn: list[str] = []
    for i in range(0, shop.height, 1000):
        drawn += kernel.prepare(shop.slice(i, 1000)).phones
    assert len(drawn) == kernel.canaries_emitted > 0
    assert len(set(drawn)) == len(drawn)
    assert not set(drawn) & used
    assert all(17090000000 <= int(p) <= 17090099999 for p in drawn)


def test_ledger_free_kernel_refuses_a_short_pool(workspace: Workspace, shop: pl.DataFrame) -> None:
    """Fewer unused numbers than canaries: an error naming how many are left, no reuse."""
    pool = [f"1709000000{i}" for i in range(10)]
    kernel = _ledger_free_kernel(workspace, pool, used=set(pool[:8]))
    with pytest.raises(ConfigError, match="has 2 unused numbers, this release needs 30"):
        kernel.prepare(shop)


def test_ledger_free_kernel_draw_is_keyed(workspace: Workspace, shop: pl.DataFrame) -> None:
    """Same plan, same numbers (a retried Spark task writes the same copy); numbers are not
    taken in pool order (sequential canary numbers would stand out in a copy)."""
    pool = ["17090000000-17090099999"]
    a = _ledger_free_kernel(workspace, pool, set()).prepare(shop).phones
    b = _ledger_free_kernel(workspace, pool, set()).prepare(shop).phones
    assert a == b
    assert _ledger_free_kernel(workspace, pool, set(), "rel-2").prepare(shop).phones != a
    assert a != sorted(a)
    assert np.ptp([int(p) for p in a]) > 50_000
