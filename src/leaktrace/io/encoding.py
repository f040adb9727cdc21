"""Text-encoding detection and streaming transcoding to UTF-8.

Polars reads only UTF-8 CSV, while Chinese spreadsheets are exported as GBK (Excel's
"CSV" on a Chinese Windows), GB18030 or UTF-8 with a BOM. We detect from a sample and, for
anything that is not UTF-8, transcode once to a temporary UTF-8 file in fixed-size chunks —
memory stays bounded however large the file.

GBK and GB2312 are read as GB18030: it is a strict superset (same bytes, same characters),
so choosing it can only decode *more* files correctly. Because leaked files are Chinese,
a sample that decodes cleanly as GB18030 into mostly CJK text is taken as GB18030 before
asking charset-normalizer, whose guesses on short Chinese samples sometimes wander to
Big5 or Shift-JIS.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

from charset_normalizer import from_bytes

from leaktrace.errors import InputError

__all__ = [
    "SAMPLE_BYTES",
    "detect_encoding",
    "detect_file_encoding",
    "looks_binary",
    "normalise_encoding_name",
    "resolve_encoding",
    "transcode_to_utf8",
]

SAMPLE_BYTES = 256 * 1024
_CHUNK_BYTES = 8 * 1024 * 1024
_GB_FAMILY = {"gbk", "gb2312", "gb18030", "cp936", "hz", "euc_cn", "euccn", "ms936"}
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def normalise_encoding_name(name: str) -> str:
    """Python codec name, with the GB family collapsed to ``gb18030``."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return name.lower()
    if canonical.replace("-", "_") in _GB_FAMILY or canonical in _GB_FAMILY:
        return "gb18030"
    if canonical == "ascii":
        return "utf-8"
    return canonical


def resolve_encoding(name: str) -> str:
    """A caller's encoding name as :func:`detect_encoding` would name it; InputError if
    Python has no such codec, or if the codec is not a text encoding: ``rot13`` (str to
    str), ``hex_codec``, ``base64`` … (bytes to bytes) are found by ``codecs.lookup`` but
    cannot decode a file to text, and crashed later with a TypeError or binascii.Error."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise InputError(
            f"unknown encoding {name!r}; use e.g. utf-8, utf-8-sig, gbk or gb18030"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(
            f"{name!r} is not a text encoding; use e.g. utf-8, utf-8-sig, gbk or gb18030"
        )
    return normalise_encoding_name(name)


def looks_binary(sample: bytes) -> bool:
    """True for data that is not text in any encoding we read (NULs, control bytes)."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample[:4096] if b < 0x09 or 0x0E <= b < 0x20)
    return controls > len(sample[:4096]) * 0.02


def _decodes(sample: bytes, encoding: str) -> str | None:
    """Decode a sample that may end mid-character; None if it is not that encoding."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        return decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def _mostly_cjk(text: str) -> bool:
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii:
        return False
    cjk = sum(
        1
        for c in non_ascii
        if "\u4e00" <= c <= "\u9fff"
        or "\u3400" <= c <= "\u4dbf"
        or "\u3000" <= c <= "\u303f"
        or "\uff00" <= c <= "\uffef"
        # punctuation common in Chinese text and encoded by GBK (· — ‘ ’ “ ” …)
        or c == "\u00b7"
        or "\u2010" <= c <= "\u2027"
    )
    return cjk >= 0.8 * len(non_ascii)


def detect_encoding(sample: bytes) -> str | None:
    """Best encoding for ``sample`` (a Python codec name), or None if it is not text.

    Order: BOM; strict UTF-8; GB18030 when it yields mostly CJK; charset-normalizer.
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    if looks_binary(sample):
        return None
    if _decodes(sample, "utf-8") is not None:
        return "utf-8"
    gb = _decodes(sample, "gb18030")
    if gb is not None and _mostly_cjk(gb):
        return "gb18030"
    best = from_bytes(sample).best()
    if best is None:
        return None
    return normalise_encoding_name(str(best.encoding))


def detect_file_encoding(path: Path, *, sample_bytes: int = SAMPLE_BYTES) -> str:
    """Detect the encoding of a text file from its first ``sample_bytes`` bytes.

    Raises :class:`InputError` naming the file when it is empty or not text.
    """
    with path.open("rb") as fh:
        sample = fh.read(sample_bytes)
    if not sample.strip():
        raise InputError(f"{path}: file is empty")
    enc = detect_encoding(sample)
    if enc is None:
        raise InputError(f"{path}: not a text file (binary data or unknown encoding)")
    return enc


def transcode_to_utf8(
    path: Path,
    encoding: str,
    *,
    chunk_bytes: int = _CHUNK_BYTES,
    tmp_dir: Path | None = None,
) -> Path:
    """Stream ``path`` from ``encoding`` into a new temporary UTF-8 file; returns its path.

    A BOM is dropped. The caller owns (and deletes) the temporary file. A byte that does
    not decode raises :class:`InputError` with the file name and the 1-based line number.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fd, name = tempfile.mkstemp(prefix="leaktrace-", suffix=".utf8.csv", dir=tmp_dir)
    out = Path(name)
    lines_before = 0
    try:
        with path.open("rb") as src, os.fdopen(fd, "wb") as dst:
            first = True
            while True:
                chunk = src.read(chunk_bytes)
                final = not chunk
                try:
                    text = decoder.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    line = lines_before + chunk[: max(exc.start, 0)].count(b"\n") + 1
                    raise InputError(
                        f"{path}: line {line}: bytes that are not valid {encoding}"
                    ) from None
                except UnicodeError as exc:  # e.g. UTF-16 without a byte-order mark
                    raise InputError(f"{path}: cannot be read as {encoding}: {exc}") from None
                if first and text.startswith("\ufeff"):
                    text = text[1:]
                first = first and not text
                dst.write(text.encode("utf-8"))
                lines_before += chunk.count(b"\n")
                if final:
                    break
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out
