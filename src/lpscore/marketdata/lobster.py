"""LOBSTER message/orderbook pairs to parsed, not yet validated, quote frames.

A LOBSTER pair is two header-less CSVs of equal length named
``TICKER_YYYY-MM-DD_START_END_{message,orderbook}_LEVEL.csv``: row i of the orderbook is the
book after message i. One quote per orderbook row: ask, ask size, bid, bid size are its first
four columns (level 1 of any level); the time is message column 1, seconds after local
midnight with up to nanosecond decimals, in ``MarketDataConfig.lobster_tz``. Prices are
dollars x 10000; the dummy prices +-9999999999 mark an empty side and become null (bad_price).

The time text is split into whole seconds and a 9-digit fraction, never read as a float,
so nanoseconds are exact. A quarantined row is recorded against the orderbook file (offset and
line there; the line number is the same in both files), its raw bytes being the message line
and the orderbook line joined by a comma.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError
from lpscore.marketdata.files import LOBSTER_NAME, LineIndex, Located, read_bytes
from lpscore.marketdata.timestamps import localize
from lpscore.marketdata.validate import ROW, ParsedFile

__all__ = ["LobsterPair", "lobster_pair", "read_lobster"]

_DUMMY_PRICE = 9_999_999_999
_PRICE_SCALE = 10_000
_NS_PER_DAY = 86_400 * 1_000_000_000
_BOOK_COLUMNS = ("ask", "ask_size", "bid", "bid_size")


@dataclass(frozen=True, slots=True)
class LobsterPair:
    """The two files of one LOBSTER day, with the ticker and date from their names."""

    ticker: str
    day: date
    message: Path
    orderbook: Path


def lobster_pair(path: Path) -> LobsterPair:
    """The pair that ``path`` (either file) belongs to; InputError when the partner is absent."""
    match = LOBSTER_NAME.match(path.name)
    if match is None:
        raise InputError(
            f"{path}: not a LOBSTER file name (TICKER_YYYY-MM-DD_START_END_"
            "message_N.csv or ..._orderbook_N.csv)"
        )
    try:
        day = date.fromisoformat(match["date"])
    except ValueError as exc:
        raise InputError(f"{path}: {match['date']!r} in the name is not a date") from exc
    partner_kind = "orderbook" if match["kind"] == "message" else "message"
    stem = path.name[: match.start("kind")] + partner_kind + f"_{match['level']}.csv"
    candidates = [
        path.with_name(stem + (match["gz"] or "")),
        path.with_name(stem),
        path.with_name(stem + ".gz"),
    ]
    partner = next((c for c in candidates if c.is_file()), None)
    if partner is None:
        raise InputError(
            f"{path}: LOBSTER {match['kind']} file without its {partner_kind} "
            f"file {candidates[0].name} beside it; put both files of the pair "
            "in the same folder"
        )
    message, orderbook = (path, partner) if match["kind"] == "message" else (partner, path)
    return LobsterPair(match["ticker"], day, message, orderbook)


def _read_columns(path: Path, data: bytes, names: Sequence[str]) -> pl.DataFrame:
    if not data.strip():
        return pl.DataFrame({name: [] for name in names}, schema=dict.fromkeys(names, pl.String))
    try:
        frame = pl.read_csv(
            data,
            has_header=False,
            columns=list(range(len(names))),
            infer_schema=False,
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{path}: not a LOBSTER file with at least {len(names)} columns ({exc})"
        ) from exc
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _seconds_to_ns(text: pl.Expr) -> pl.Expr:
    """``34200.004241176`` -> 34200004241176 (exact); null unless digits[.digits]."""
    value = text.str.strip_chars()
    parts = value.str.split_exact(".", 1)
    whole = parts.struct.field("field_0").cast(pl.Int64, strict=False)
    frac = (
        parts.struct.field("field_1")
        .fill_null("")
        .str.pad_end(9, "0")
        .str.slice(0, 9)
        .cast(pl.Int64, strict=False)
    )
    return pl.when(value.str.contains(r"^\d+(\.\d+)?$")).then(whole * 1_000_000_000 + frac)


def _price(text: pl.Expr) -> pl.Expr:
    """Dollars from ticks; a positive tick count is read as its own digits with the point
    moved 4 places ("2239500" -> "223.9500"), so the float is the nearest to the true price
    (Polars divides by a literal through its reciprocal, 1 ulp off for 223.95)."""
    digits = text.str.strip_chars()
    ticks = digits.cast(pl.Int64, strict=False)
    shifted = digits.str.pad_start(5, "0").str.replace(r"(\d{4})$", r".$1")
    return (
        pl.when(ticks.abs() == _DUMMY_PRICE)
        .then(pl.lit(None, dtype=pl.Float64))
        .when((ticks > 0) & digits.str.contains(r"^\d+$"))
        .then(shifted.cast(pl.Float64, strict=False))
        .otherwise(ticks / _PRICE_SCALE)
    )


def _size(text: pl.Expr) -> pl.Expr:
    value = text.str.strip_chars()
    return pl.when(value.is_not_null()).then(
        value.cast(pl.Float64, strict=False).fill_null(float("nan"))
    )


def read_lobster(pair: LobsterPair, config: MarketDataConfig) -> ParsedFile:
    """Parse one LOBSTER pair into one quote per orderbook row (see the module docstring)."""
    msg_data, msg_gz = read_bytes(pair.message)
    book_data, book_gz = read_bytes(pair.orderbook)
    times = _read_columns(pair.message, msg_data, ["time"])
    book = _read_columns(pair.orderbook, book_data, _BOOK_COLUMNS)
    if times.height != book.height:
        raise InputError(
            f"{pair.orderbook}: {book.height} orderbook rows but {times.height} rows in "
            f"{pair.message}; a LOBSTER pair has one book per message: re-extract both files"
        )
    midnight_ns = (pair.day - date(1970, 1, 1)).days * _NS_PER_DAY
    local = pl.from_epoch(_seconds_to_ns(pl.col("time")) + midnight_ns, time_unit="ns")
    frame = (
        pl.concat([times, book], how="horizontal")
        .with_row_index(ROW)
        .select(
            pl.col(ROW).cast(pl.Int64),
            localize(local, config.lobster_tz).alias("ts"),
            pl.lit(pair.ticker, dtype=pl.String).alias("symbol"),
            _price(pl.col("bid")).alias("bid"),
            _price(pl.col("ask")).alias("ask"),
            _size(pl.col("bid_size")).alias("bid_size"),
            _size(pl.col("ask_size")).alias("ask_size"),
        )
    )
    msg_index = LineIndex(data=msg_data, first_line=1, rows=times.height, offsets=not msg_gz)
    book_index = LineIndex(data=book_data, first_line=1, rows=book.height, offsets=not book_gz)

    def locate(rows: Sequence[int]) -> list[Located]:
        out: list[Located] = []
        for row, msg, bk in zip(rows, msg_index.locate(rows), book_index.locate(rows), strict=True):
            if msg is None or bk is None:
                out.append((-1, row + 1, b"<row %d: line not found>" % (row + 1)))
            else:
                out.append((bk[0], bk[1], msg[2] + b"," + bk[2]))
        return out

    return ParsedFile(pair.orderbook, "lobster", frame, locate)
