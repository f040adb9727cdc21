"""Type stub of the C extension ``leaktrace._rewrite`` (source: ``_rewrite.c``)."""

from typing_extensions import Buffer

OP_CANONICAL: int
OP_NAME: int
OP_PHONE: int
OP_ADDRESS: int
OP_EMBED_ADDRESS: int
OP_EMBED_TITLE: int
OP_MASK_NAME: int
OP_MASK_PHONE: int
OP_MASK_NUMBERS: int
OK: int
NULLED: int
FALLBACK: int
SAME: int

class Output(Buffer):
    """Rewritten text, a read-only buffer; its memory is reused by later calls once freed."""

    def __buffer__(self, flags: int, /) -> memoryview: ...

def rewrite(
    op: int, views: Buffer, data: tuple[Buffer, ...], symbols: Buffer, /
) -> tuple[bytes, Output, bytes]:
    """One op over an Arrow string_view array: (views, data, one status byte per row)."""
