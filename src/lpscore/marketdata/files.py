"""Quote files on disk: reading (gzip or not), format detection, and where a row sits.

Detection looks at the name first (LOBSTER pairs are named by their content), then at the
bytes (Parquet's ``PAR1`` magic, gzip's ``1f 8b``), then at the CSV header. Locating a row
(byte offset, line number, raw bytes) is done only for rows that are quarantined, so the good
path never pays for it.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from lpscore.errors import InputError, UnknownFormatError
from lpscore.gzipped import GZIP_ERRORS, gunzip, is_gzip

__all__ = [
    "ACCEPTED_FORMATS",
    "LOBSTER_NAME",
    "LineIndex",
    "Located",
    "QuoteFormat",
    "detect_format",
    "read_bytes",
]

QuoteFormat = Literal["csv", "parquet", "lobster"]

ACCEPTED_FORMATS = (
    "quotes CSV (.csv or .csv.gz, header ts,symbol,bid,ask[,bid_size,ask_size]); "
    "quotes Parquet (the same columns); "
    "LOBSTER pairs (TICKER_YYYY-MM-DD_START_END_message_N.csv with "
    "TICKER_YYYY-MM-DD_START_END_orderbook_N.csv, optionally .gz)"
)

LOBSTER_NAME = re.compile(
    r"^(?P<ticker>.+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)_"
    r"(?P<kind>message|orderbook)_(?P<level>[1-9]\d*)\.csv(?P<gz>\.gz)?$"
)

_PARQUET_MAGIC = b"PAR1"
_HEADER_PROBE = 64 * 1024
_TS_NAMES = frozenset({"ts", "timestamp"})

Located = tuple[int, int, bytes]
"""(byte offset or -1, 1-based line number, raw bytes of the line without its line ending)."""


def read_bytes(path: Path) -> tuple[bytes, bool]:
    """The whole content of ``path``, decompressed when it is gzip; and whether it was."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from exc
    if not is_gzip(data):
        return data, False
    return gunzip(data, path), True


def _first_line(path: Path) -> bytes:
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if is_gzip(magic):
                with gzip.open(raw) as unzipped:
                    head = unzipped.read(_HEADER_PROBE)
            else:
                head = raw.read(_HEADER_PROBE)
    except GZIP_ERRORS:
        return b""
    return head.split(b"\n", 1)[0].rstrip(b"\r")


def detect_format(path: Path) -> QuoteFormat:
    """The format of one quote file, or UnknownFormatError listing the accepted formats."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass the quote files in it")
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    if LOBSTER_NAME.match(path.name):
        return "lobster"
    try:
        with path.open("rb") as raw:
            magic = raw.read(4)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check the path") from exc
    if magic == _PARQUET_MAGIC:
        return "parquet"
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    header = _first_line(path)
    if b"\x00" not in header:
        names = {part.strip().strip('"').lower() for part in header.decode("latin-1").split(",")}
        if names & _TS_NAMES and "bid" in names:
            return "csv"
    raise UnknownFormatError(f"{path}: not a recognised quote file; accepted: {ACCEPTED_FORMATS}")


@dataclass(frozen=True, slots=True)
class LineIndex:
    """Maps data row numbers of a parsed text file back to lines and byte offsets.

    ``first_line`` is the 1-based line of data row 0 (2 below a header). When the file's line
    count does not match ``rows`` (a quoted field spanning lines), rows cannot be placed and
    ``locate`` answers None so the caller re-renders the row from its values instead.
    ``offsets`` is False for decompressed data, whose offsets are not file offsets.
    """

    data: bytes
    first_line: int
    rows: int
    offsets: bool

    def locate(self, rows: Sequence[int]) -> list[Located | None]:
        """Offset, line number and raw bytes of each data row in ``rows``."""
        if not rows:
            return []
        starts, ends = _line_bounds(self.data)
        if len(starts) - (self.first_line - 1) != self.rows:
            return [None] * len(rows)
        out: list[Located | None] = []
        for row in rows:
            index = row + self.first_line - 1
            start, end = int(starts[index]), int(ends[index])
            raw = self.data[start:end].rstrip(b"\r")
            out.append((start if self.offsets else -1, index + 1, raw))
        return out


def _line_bounds(data: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end byte of every line (a final line ending does not open another line)."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A).astype(np.int64)
    starts = np.concatenate((np.zeros(1, dtype=np.int64), newlines + 1))
    ends = np.concatenate((newlines, np.array([len(data)], dtype=np.int64)))
    if len(data) == 0 or starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends
