"""File digests: the background form gives the same digest, and its errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from leaktrace.io.checksum import file_sha256, file_sha256_in_background


def test_background_digest_equals_the_streamed_one(tmp_path: Path) -> None:
    p = tmp_path / "orders.csv"
    data = ("订单号,手机\n" + "1234567890123456,13812345678\n" * 50_000).encode("gb18030")
    p.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert file_sha256(p) == want
    assert file_sha256_in_background(p).result(timeout=30) == want


def test_background_digest_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256_in_background(tmp_path / "gone.csv").result(timeout=30)
