"""Bad input: one-line InputErrors that name the file and never quote a cell value."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest

from leaktrace.errors import InputError
from leaktrace.io import open_table, read_table
from leaktrace.io.encoding import detect_encoding, transcode_to_utf8

SECRET = "13812345678"


def _check(exc: InputError, path: Path) -> None:
    msg = str(exc)
    assert "\n" not in msg
    assert str(path) in msg
    assert SECRET not in msg and "张三" not in msg


def _make(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("junk.csv", bytes(range(256)) * 40, "not a text file"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50, "workbook"),
        ("broken.parquet", b"PAR1" + b"nonsense" * 50, "Parquet"),
        ("bad.jsonl", f'{{"手机": "{SECRET}"}}\n{{"手机": broken\n'.encode(), "line 2"),
        ("nocols.csv", b"foo,bar\nxx,yy\n", "no usable columns"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    p = _make(tmp_path, name, data)
    with pytest.raises(InputError, match=fragment) as ei:
        read_table(p)
    _check(ei.value, p)


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="not found") as ei:
        open_table(p)
    _check(ei.value, p)


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    p = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", SECRET)
    with pytest.raises(InputError) as ei:
        read_table(p)
    _check(ei.value, p)


def test_bad_bytes_deep_in_gbk_file_name_the_line(tmp_path: Path) -> None:
    good = ("手机,姓名\n" + f"{SECRET},张三\n" * 2000).encode("gbk")
    p = _make(tmp_path, "gbk.csv", good + b"\x81\x20oops\n")
    with pytest.raises(InputError, match=r"line 2002") as ei:
        transcode_to_utf8(p, "gb18030")
    _check(ei.value, p)


def test_no_temp_files_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    p = _make(tmp_path, "g.csv", f"手机,姓名\n{SECRET},张三\n".encode("gbk"))
    with open_table(p) as src:
        assert src.encoding == "gb18030"
        assert len(list((tmp_path / "t").iterdir())) == 1
        src.read()
    assert list((tmp_path / "t").iterdir()) == []


@pytest.mark.parametrize(
    ("data", "enc"),
    [
        ("订单号,手机\n1,2\n".encode(), "utf-8"),
        ("\ufeff订单号".encode(), "utf-8-sig"),
        ("订单号,收货人,地址\n1,张三,北京市朝阳区\n".encode("gbk"), "gb18030"),
        ("订单号,收货人\n1,张三,䶮\n".encode("gb18030"), "gb18030"),
        (b"order,phone\n1,2\n", "utf-8"),
        (b"\x00\x01\x02\x03" * 100, None),
    ],
)
def test_detect_encoding(data: bytes, enc: str | None) -> None:
    assert detect_encoding(data) == enc


def test_utf8_truncated_sample_still_utf8() -> None:
    data = ("收货地址" * 100).encode()
    assert detect_encoding(data[:-1]) == "utf-8"


def test_frame_with_no_roles_is_input_error() -> None:
    from leaktrace.io import read_frame

    with pytest.raises(InputError, match="no usable columns"):
        read_frame(pl.DataFrame({"x": ["a"], "y": ["b"]}))


_HUGE = "1" + "0" * 5000  # valid JSON; more digits than Python's int() converts
_DEEP = "[" * 100_000 + "]" * 100_000  # valid JSON; deeper than the recursion limit


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("huge.jsonl", f'{{"手机": "{SECRET}"}}\n{{"手机": {_HUGE}}}\n', "line 2: a number"),
        ("deep.jsonl", f'{{"手机": "{SECRET}", "x": {_DEEP}}}\n', "line 1: nested too deeply"),
        ("deep.json", _DEEP, "nested too deeply"),
        ("huge.json", f'[{{"手机": "{SECRET}", "n": {_HUGE}}}]', "more than 4300 digits"),
        ("bad.json", f'[{{"手机": "{SECRET}"', r"not valid JSON \(JSONDecodeError\)"),
    ],
)
def test_hostile_json_is_an_input_error(
    tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    """Valid JSON that Python refuses to build (ValueError, RecursionError) is a user
    error naming the file and line, like malformed JSON (whose wording is unchanged)."""
    p = _make(tmp_path, name, text.encode())
    with pytest.raises(InputError, match=fragment) as ei:
        read_table(p)
    _check(ei.value, p)


@pytest.mark.parametrize("codec", ["rot13", "rot_13", "hex_codec", "hex", "base64", "zlib"])
def test_a_codec_that_is_not_a_text_encoding_is_refused(tmp_path: Path, codec: str) -> None:
    """codecs.lookup finds these, but they map str→str or bytes→bytes: decoding a file
    with one crashed with TypeError / binascii.Error instead of naming the encoding."""
    p = _make(tmp_path, "o.csv", f"手机,姓名\n{SECRET},张三\n".encode())
    j = _make(tmp_path, "o.json", f'[{{"手机": "{SECRET}"}}]'.encode())
    for path in (p, j):
        with pytest.raises(InputError, match=f"{codec!r} is not a text encoding") as ei:
            read_table(path, encoding=codec)
        assert "\n" not in str(ei.value) and SECRET not in str(ei.value)
