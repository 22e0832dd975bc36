"""The NBBO as of a time: the last valid quote of a symbol with ``ts <= t`` (KPIS.md).

    book = QuoteBook(quotes)              # quotes as QUOTE_SCHEMA, any order
    hit = book.asof(symbols, times_ns)     # one lookup per row, vectorised
    hit.mid, hit.bid, hit.ask, hit.age_ns  # NaN / -1 where there is no quote

Quotes are held sorted by (symbol, ts) in flat numpy arrays with one slice per symbol; a
lookup groups its queries by symbol and binary-searches each slice (``side="right"``, so of
several quotes with the same timestamp the last one given wins). Staleness is the caller's
rule (it differs between the routing time and the markout horizons); this module reports
the quote's age and whether the time lies past the symbol's last quote.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = ["AsOf", "QuoteBook"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AsOf:
    """Quotes as of some times; NaN prices and ``found == False`` where there is none."""

    bid: F64
    ask: F64
    ts: I64
    """Epoch ns of the quote used (-1 when none)."""
    found: npt.NDArray[np.bool_]
    past_end: npt.NDArray[np.bool_]
    """The time is after the symbol's last quote (the data ended before it)."""

    @property
    def mid(self) -> F64:
        return (self.bid + self.ask) / 2.0

    def age_ns(self, times_ns: I64) -> I64:
        """How old the quote was at each time (-1 when there is none)."""
        return np.where(self.found, times_ns - self.ts, -1)


class QuoteBook:
    """Top-of-book quotes of many symbols, for as-of lookups."""

    def __init__(self, quotes: pl.DataFrame) -> None:
        frame = quotes.select(
            pl.col("symbol"), pl.col("ts").dt.epoch("ns").alias("ts"), "bid", "ask"
        ).sort("symbol", "ts", maintain_order=True)
        symbols = frame["symbol"].to_numpy()
        self._ts: I64 = frame["ts"].to_numpy().astype(np.int64, copy=False)
        self._bid: F64 = frame["bid"].to_numpy().astype(np.float64, copy=False)
        self._ask: F64 = frame["ask"].to_numpy().astype(np.float64, copy=False)
        if len(symbols):
            starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self.symbols: list[str] = [str(s) for s in symbols[starts]]
        self._start = starts.astype(np.int64)
        self._end = np.r_[starts[1:], len(symbols)].astype(np.int64)
        self._mapping = pl.DataFrame({
            "symbol": pl.Series(self.symbols, dtype=pl.String),
            "code": np.arange(len(self.symbols), dtype=np.int64)})

    def __len__(self) -> int:
        return len(self._ts)

    def codes(self, symbols: pl.Series | Sequence[str | None]) -> I64:
        """Index of each symbol in ``self.symbols``; -1 for a symbol without quotes."""
        series = (symbols if isinstance(symbols, pl.Series)
                  else pl.Series(symbols, dtype=pl.String)).cast(pl.String)
        coded = series.rename("symbol").to_frame().join(
            self._mapping, on="symbol", how="left", maintain_order="left")
        return coded["code"].fill_null(-1).to_numpy().astype(np.int64, copy=False)

    def series(self, code: int) -> tuple[I64, F64]:
        """Times and mids of one symbol's quotes."""
        lo, hi = self._start[code], self._end[code]
        return self._ts[lo:hi], (self._bid[lo:hi] + self._ask[lo:hi]) / 2.0

    def asof(self, codes: I64, times_ns: I64) -> AsOf:
        """The quote as of each (symbol code, time)."""
        n = len(codes)
        index = np.full(n, -1, dtype=np.int64)
        past_end = np.zeros(n, dtype=np.bool_)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.diff(sorted_codes, prepend=-2))  # codes are >= -1
        for lo, hi in itertools.pairwise([*starts.tolist(), n]):
            code = int(sorted_codes[lo])
            if code < 0:
                continue
            rows = order[lo:hi]
            start, end = self._start[code], self._end[code]
            pos = np.searchsorted(self._ts[start:end], times_ns[rows], side="right") - 1
            index[rows] = np.where(pos >= 0, pos + start, -1)
            past_end[rows] = times_ns[rows] > self._ts[end - 1]
        found = index >= 0
        safe = np.where(found, index, 0)
        nan = np.float64(np.nan)
        if len(self._ts) == 0:  # nothing found; ``safe`` would index an empty array
            return AsOf(np.full(n, nan), np.full(n, nan), index, found, past_end)
        return AsOf(
            bid=np.where(found, self._bid[safe], nan),
            ask=np.where(found, self._ask[safe], nan),
            ts=np.where(found, self._ts[safe], -1),
            found=found,
            past_end=past_end,
        )
