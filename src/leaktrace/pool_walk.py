"""Drawing canary numbers from a pool in random order, without listing the pool.

Why a module of its own: two places draw canary numbers — the ledger's reservations (a
release on one machine) and the kernel of a Spark partition (which holds its own slice of
the pool and no ledger). A pool may hold millions of numbers and a release batch needs a
few thousand, so both walk the pool's indices in random order and look numbers up one
chunk at a time: O(drawn) work, whatever the size of the pool. (Listing the unused numbers
first cost a Spark partition a pass over its whole slice in every batch.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["RandomWalk", "take_from_pool"]


class RandomWalk:
    """Indices ``0..n-1`` in random order, drawn a chunk at a time without repeats.

    Why not ``rng.permutation(n)``: the walk samples with rejection (O(drawn)) while less
    than half of the indices have been visited, and only then shuffles what is left.
    """

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self._n = n
        self._rng = rng
        self._visited: set[int] = set()
        self._rest: list[int] | None = None  # the unvisited indices, once dense

    @property
    def exhausted(self) -> bool:
        return len(self._visited) >= self._n

    def take(self, m: int) -> list[int]:
        out: list[int] = []
        while len(out) < m and not self.exhausted:
            if self._rest is None and 2 * len(self._visited) >= self._n:
                rest = np.setdiff1d(np.arange(self._n), np.fromiter(self._visited, dtype=np.int64))
                self._rest = self._rng.permutation(rest).tolist()
            if self._rest is not None:
                part = self._rest[: m - len(out)]
                del self._rest[: len(part)]
            else:
                draw = self._rng.integers(0, self._n, size=m - len(out)).tolist()
                part = [i for i in dict.fromkeys(draw) if i not in self._visited]
            self._visited.update(part)
            out.extend(part)
        return out


def take_from_pool(pool: Sequence[str], indices: list[int]) -> list[str]:
    """``[pool[i] for i in indices]``, vectorised when the pool can (a canary pool's
    :class:`~leaktrace.config.PhoneNumbers`)."""
    take = getattr(pool, "take", None)
    return take(indices) if callable(take) else [pool[i] for i in indices]
