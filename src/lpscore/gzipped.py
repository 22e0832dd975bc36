"""Gzip files, told by their first two bytes whatever their name, decompressed whole.

    data = gunzip(data, path) if is_gzip(data) else data

FIX logs (lpscore.ingest.records) and quote files (lpscore.marketdata.files) both read
this way, so a corrupt or truncated archive stops either with the same clear error.
"""

from __future__ import annotations

import gzip
import mmap
import zlib
from pathlib import Path

from lpscore.errors import InputError

__all__ = ["GZIP_ERRORS", "GZIP_MAGIC", "gunzip", "is_gzip"]

GZIP_MAGIC = b"\x1f\x8b"
GZIP_ERRORS = (OSError, EOFError, zlib.error)
"""What reading a corrupt or truncated gzip stream raises (zlib's error is not an OSError)."""


def is_gzip(data: bytes | mmap.mmap) -> bool:
    """Whether ``data`` starts as a gzip stream does."""
    return data[:2] == GZIP_MAGIC


def gunzip(data: bytes | mmap.mmap, path: Path) -> bytes:
    """``data`` (``path``'s content, or its map) decompressed; InputError, saying what to
    do, when it is corrupt or truncated (zlib reports a corrupt stream with its own error,
    not an OSError)."""
    try:
        return gzip.decompress(data)
    except GZIP_ERRORS as exc:
        raise InputError(f"{path}: corrupt or truncated gzip ({exc}); is the file complete? "
                         "Copy it again, or decompress it yourself to see where it "
                         "breaks") from exc
