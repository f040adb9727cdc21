from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leaktrace.prf import match_probability, prf_blocks, symbols_from_blocks


@settings(max_examples=30)
@given(key=st.binary(min_size=32, max_size=32), code=st.integers(0, 2**32))
def test_prf_is_deterministic_and_keyed(key: bytes, code: int) -> None:
    anchors = np.arange(100, dtype=np.uint64)
    a = prf_blocks(key, anchors, code)
    assert np.array_equal(a, prf_blocks(key, anchors, code))
    other = bytes([key[0] ^ 1]) + key[1:]
    assert not np.array_equal(a, prf_blocks(other, anchors, code))
    assert not np.array_equal(a, prf_blocks(key, anchors, code + 1))


def test_symbols_are_close_to_uniform_and_bounded_by_match_probability() -> None:
    anchors = np.arange(120_000, dtype=np.uint64)
    sym = symbols_from_blocks(prf_blocks(b"k" * 32, anchors, 7), [60, 2])
    counts = np.bincount(sym[:, 0], minlength=60) / len(anchors)
    assert counts.max() < match_probability(60) + 0.003
    assert abs(sym[:, 1].mean() - 0.5) < 0.01
    assert match_probability(2) == 0.5
    assert 1 / 60 < match_probability(60) < 1 / 60 + 1e-4
