"""The NBBO as of a time: the last valid quote of a symbol with ``ts <= t`` (KPIS.md).

    book = QuoteBook(quotes)                         # quotes as QUOTE_SCHEMA, any order
    hit = book.asof(book.codes(symbols), times_ns)    # one lookup per row, vectorised
    hit.mid, hit.bid, hit.ask, hit.age_ns(times_ns)   # NaN / -1 where there is no quote

Symbols become integer codes (their index among the sorted quoted symbols). Quote times are
held sorted by (code, ts) in a flat numpy array with one slice per symbol, with the
permutation that sorts them; bid and ask stay in the order given and are gathered only where
a lookup hits. A lookup groups its queries by symbol and binary-searches each slice
(``side="right"``, so of several quotes with the same timestamp the last one given wins).
Staleness is the caller's rule (it differs between the routing time and the markout
horizons); this module reports the quote's age and whether the time lies past the symbol's
last quote.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.intern import intern

__all__ = ["AsOf", "QuoteBook", "symbol_codes"]

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

    @classmethod
    def none(cls, n: int) -> AsOf:
        """``n`` times without a quote (a book with no quotes at all)."""
        nan = np.float64(np.nan)
        return cls(np.full(n, nan), np.full(n, nan), np.full(n, -1, dtype=np.int64),
                   np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_))

    @property
    def mid(self) -> F64:
        return (self.bid + self.ask) / 2.0

    def age_ns(self, times_ns: I64) -> I64:
        """How old the quote was at each time (-1 when there is none)."""
        return np.where(self.found, times_ns - self.ts, -1)


class QuoteBook:
    """Top-of-book quotes of many symbols, for as-of lookups.

    ``symbols`` are the quoted symbols in sorted order; a symbol's code is its index there.
    Quotes without a symbol or a time name nothing and are left out (the loaders never give
    any: they are quarantined as ``bad_symbol`` / ``bad_timestamp``).
    """

    def __init__(self, quotes: pl.DataFrame) -> None:
        frame = quotes.select(pl.col("symbol").cast(pl.String),
                              pl.col("ts").dt.epoch("ns"), "bid", "ask")
        if frame["symbol"].null_count() or frame["ts"].null_count():
            frame = frame.drop_nulls(["symbol", "ts"])
        self.symbols: list[str] = frame["symbol"].unique().sort().to_list()
        self._enum = pl.Enum(self.symbols)
        codes = frame["symbol"].cast(self._enum).to_physical().to_numpy()  # narrow uint
        ts = frame["ts"].to_numpy().astype(np.int64, copy=False)
        # Sorted by (symbol, ts) are only the times and the permutation; bid and ask stay in
        # the order given and are gathered through ``_order`` where a lookup hits.
        self._order: I64 = _by_symbol_then_time(codes, ts)
        self._ts: I64 = ts[self._order]
        self._bid: F64 = frame["bid"].to_numpy().astype(np.float64, copy=False)
        self._ask: F64 = frame["ask"].to_numpy().astype(np.float64, copy=False)
        counts = np.bincount(codes, minlength=len(self.symbols)).astype(np.int64)
        self._end: I64 = np.cumsum(counts)
        self._start: I64 = self._end - counts

    def __len__(self) -> int:
        return len(self._ts)

    def codes(self, symbols: pl.Series | Sequence[str | None]) -> I64:
        """Index of each symbol in ``self.symbols``; -1 for a symbol without quotes."""
        return symbol_codes(self._enum, symbols)

    def series(self, code: int) -> tuple[I64, F64]:
        """Times and mids of one symbol's quotes."""
        lo, hi = self._start[code], self._end[code]
        rows = self._order[lo:hi]
        return self._ts[lo:hi], (self._bid[rows] + self._ask[rows]) / 2.0

    def asof(self, codes: I64, times_ns: I64) -> AsOf:
        """The quote as of each (symbol code, time)."""
        if len(self._ts) == 0:  # no symbol has quotes, so every code is -1
            return AsOf.none(len(codes))
        nan = np.float64(np.nan)
        known = codes >= 0
        code = np.where(known, codes, 0)
        index = self._search(codes, times_ns)
        found = known & (index >= self._start[code])
        past_end = known & (times_ns > self._ts[self._end[code] - 1])
        safe = np.where(found, index, 0)
        row = self._order[safe]  # the quote's row in the order given
        return AsOf(
            bid=np.where(found, self._bid[row], nan),
            ask=np.where(found, self._ask[row], nan),
            ts=np.where(found, self._ts[safe], -1),
            found=found,
            past_end=past_end,
        )

    def _search(self, codes: I64, times_ns: I64) -> I64:
        """For each query, the position of the last quote of its symbol at or before its time
        (in the book's sorted arrays; before the symbol's slice when there is none).

        Queries are grouped by symbol with one stable sort of their (narrow) codes; each
        symbol's times are then binary-searched in its slice with ``side="right"``."""
        narrow = codes.astype(np.int16 if len(self.symbols) < 2**15 else np.int32)
        order = np.argsort(narrow, kind="stable")
        sorted_codes = narrow[order]
        sorted_times = times_ns[order]
        hits = np.full(len(codes), -1, dtype=np.int64)
        starts = np.flatnonzero(np.diff(sorted_codes, prepend=-2))  # codes are >= -1
        for lo, hi in itertools.pairwise([*starts.tolist(), len(codes)]):
            code = int(sorted_codes[lo])
            if code < 0:
                continue
            start, end = self._start[code], self._end[code]
            hits[lo:hi] = start - 1 + np.searchsorted(self._ts[start:end], sorted_times[lo:hi],
                                                      side="right")
        index = np.empty_like(hits)
        index[order] = hits
        return index


def symbol_codes(enum: pl.Enum, symbols: pl.Series | Sequence[str | None]) -> I64:
    """Index of each symbol among ``enum``'s categories; -1 for one not among them. A
    categorical series is looked up once per distinct symbol."""
    series = symbol_text(symbols if isinstance(symbols, pl.Series)
                         else pl.Series(symbols, dtype=pl.String))
    if series.dtype == pl.Categorical:
        codes, first = intern(series)
        found = symbol_codes(enum, series.gather(first).cast(pl.String))
        return np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else -1, -1)
    coded = series.cast(enum, strict=False).to_physical().cast(pl.Int64)
    return coded.fill_null(-1).to_numpy().astype(np.int64, copy=False)


def symbol_text(symbols: pl.Series) -> pl.Series:
    """``symbols`` as strings, or kept categorical (the compact form,
    lpscore.model.schema.compact): both are read by value."""
    return symbols if symbols.dtype == pl.Categorical else symbols.cast(pl.String)


def _by_symbol_then_time(codes: npt.NDArray[np.unsignedinteger[Any]], ts: I64) -> I64:
    """The stable sort order of quotes by (symbol code, ts).

    A feed is time-ordered, and then a stable sort of the (narrow) codes alone is enough: a
    radix sort, faster than sorting on two keys."""
    if bool(np.all(ts[1:] >= ts[:-1])):
        return np.argsort(codes, kind="stable").astype(np.int64, copy=False)
    return np.lexsort((ts, codes)).astype(np.int64, copy=False)
