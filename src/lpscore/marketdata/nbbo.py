"""The NBBO as of a time: the last valid quote of a symbol with ``ts <= t`` (KPIS.md).

    book = QuoteBook(quotes)                         # quotes as QUOTE_SCHEMA, any order
    book.extend(more)                                # a live feed's next quotes
    hit = book.asof(book.codes(symbols), times_ns)    # one lookup per row, vectorised
    hit.mid, hit.bid, hit.ask, hit.age_ns(times_ns)   # NaN / -1 where there is no quote

Symbols become integer codes (their index among the sorted quoted symbols). Each symbol's
quotes are held in time order in arrays of their own (times, bids, asks), which grow by
doubling as a feed appends to them. A lookup groups its queries by symbol and
binary-searches each symbol's times (``side="right"``, so of several quotes with the same
timestamp the last one given wins).
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

__all__ = ["AsOf", "QuoteBook", "mid_variance", "symbol_codes"]

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

    ``symbols`` are the quoted symbols in sorted order; a symbol's code is its index there
    (codes are for one lookup: ``extend`` may insert a symbol). Quotes without a symbol or
    a time name nothing and are left out (the loaders never give any: they are quarantined
    as ``bad_symbol`` / ``bad_timestamp``).
    """

    def __init__(self, quotes: pl.DataFrame) -> None:
        self.symbols: list[str] = []
        self._enum = pl.Enum([])
        self._series: list[_Series] = []
        self._n = 0
        self.extend(quotes)

    def __len__(self) -> int:
        return self._n

    def extend(self, quotes: pl.DataFrame) -> None:
        """Take more quotes, as if the book had been made from its quotes and then these.

        A live feed gives each symbol's quotes in time order, after those held: they are
        appended to the symbol's arrays, which grow by doubling, so a poll's quotes cost
        their own number, not the day's (a book made again from every quote at each poll
        took 0.8 s at 10 million). Out of order, a symbol's quotes are merged in by a
        stable sort of its times."""
        frame = quotes.select(pl.col("symbol").cast(pl.String),
                              pl.col("ts").dt.epoch("ns"), "bid", "ask")
        if frame["symbol"].null_count() or frame["ts"].null_count():
            frame = frame.drop_nulls(["symbol", "ts"])
        if frame.is_empty():
            return
        new = sorted(set(frame["symbol"].unique().to_list()) - set(self.symbols))
        if new:
            held = dict(zip(self.symbols, self._series, strict=True))
            self.symbols = sorted([*self.symbols, *new])
            self._series = [held.get(symbol) or _Series() for symbol in self.symbols]
            self._enum = pl.Enum(self.symbols)
        codes = frame["symbol"].cast(self._enum).to_physical().to_numpy()  # narrow uint
        ts = frame["ts"].to_numpy().astype(np.int64, copy=False)
        bid = frame["bid"].to_numpy().astype(np.float64, copy=False)
        ask = frame["ask"].to_numpy().astype(np.float64, copy=False)
        order = _by_symbol_then_time(codes, ts)
        counts = np.bincount(codes, minlength=len(self.symbols))
        end = np.cumsum(counts)
        for code in np.flatnonzero(counts).tolist():
            rows = order[end[code] - counts[code]:end[code]]
            self._series[code].add(ts[rows], bid[rows], ask[rows])
        self._n += frame.height

    def codes(self, symbols: pl.Series | Sequence[str | None]) -> I64:
        """Index of each symbol in ``self.symbols``; -1 for a symbol without quotes."""
        return symbol_codes(self._enum, symbols)

    def series(self, code: int) -> tuple[I64, F64]:
        """Times and mids of one symbol's quotes."""
        one = self._series[code]
        return one.ts, (one.bid + one.ask) / 2.0

    def variance(self, code: int) -> tuple[I64, F64]:
        """Times and ``mid_variance`` of one symbol's quotes, worked out once and then kept
        up as quotes come (a live feed's volatility regimes read them at every poll)."""
        one = self._series[code]
        return one.ts, one.variance()

    def asof(self, codes: I64, times_ns: I64) -> AsOf:
        """The quote as of each (symbol code, time).

        Queries are grouped by symbol with one stable sort of their (narrow) codes; each
        symbol's times are then binary-searched with ``side="right"``, so of several quotes
        with the same timestamp the last one given wins."""
        nan = np.float64(np.nan)
        n = len(codes)
        bid, ask = np.full(n, nan), np.full(n, nan)
        at = np.full(n, -1, dtype=np.int64)
        found = np.zeros(n, dtype=np.bool_)
        past_end = np.zeros(n, dtype=np.bool_)
        narrow = codes.astype(np.int16 if len(self.symbols) < 2**15 else np.int32)
        order = np.argsort(narrow, kind="stable")
        sorted_codes = narrow[order]
        starts = np.flatnonzero(np.diff(sorted_codes, prepend=-2))  # codes are >= -1
        for lo, hi in itertools.pairwise([*starts.tolist(), n]):
            code = int(sorted_codes[lo])
            if code < 0:
                continue
            one = self._series[code]
            rows = order[lo:hi]
            times = times_ns[rows]
            index = np.searchsorted(one.ts, times, side="right") - 1
            hit = index >= 0
            safe = np.maximum(index, 0)
            found[rows] = hit
            past_end[rows] = times > one.ts[-1]
            bid[rows] = np.where(hit, one.bid[safe], nan)
            ask[rows] = np.where(hit, one.ask[safe], nan)
            at[rows] = np.where(hit, one.ts[safe], -1)
        return AsOf(bid=bid, ask=ask, ts=at, found=found, past_end=past_end)


class _Series:
    """One symbol's quotes in time order (equal times in the order given), in arrays with
    room to grow; and, once asked for, the cumulative variance of their mid
    (``mid_variance``), kept up as quotes are appended."""

    __slots__ = ("_ask", "_bid", "_n", "_ts", "_var")

    def __init__(self) -> None:
        self._ts: I64 = np.empty(0, dtype=np.int64)
        self._bid: F64 = np.empty(0, dtype=np.float64)
        self._ask: F64 = np.empty(0, dtype=np.float64)
        self._var: F64 | None = None
        self._n = 0

    @property
    def ts(self) -> I64:
        return self._ts[:self._n]

    @property
    def bid(self) -> F64:
        return self._bid[:self._n]

    @property
    def ask(self) -> F64:
        return self._ask[:self._n]

    def variance(self) -> F64:
        if self._var is None:
            self._var = np.empty(len(self._ts), dtype=np.float64)
            self._var[:self._n] = mid_variance((self.bid + self.ask) / 2.0)
        return self._var[:self._n]

    def add(self, ts: I64, bid: F64, ask: F64) -> None:
        """Quotes in time order (``_by_symbol_then_time``), in arrays this takes over."""
        n, k = self._n, len(ts)
        if not n or ts[0] < self._ts[n - 1]:   # the first; or out of order: merged, equal
            if n:                               # times held first
                ts, bid, ask = (np.concatenate([self.ts, ts]), np.concatenate([self.bid, bid]),
                                np.concatenate([self.ask, ask]))
                order = np.argsort(ts, kind="stable")
                ts, bid, ask = ts[order], bid[order], ask[order]
            self._ts, self._bid, self._ask, self._var, self._n = ts, bid, ask, None, n + k
            return
        if n + k > len(self._ts):
            room = max(n + k, 2 * len(self._ts))
            for name in ("_ts", "_bid", "_ask", "_var"):
                old = getattr(self, name)
                if old is not None:
                    grown = np.empty(room, dtype=old.dtype)
                    grown[:n] = old[:n]
                    setattr(self, name, grown)
        self._ts[n:n + k] = ts
        self._bid[n:n + k] = bid
        self._ask[n:n + k] = ask
        if self._var is not None:   # the running sum goes on from the last quote held
            mid = (self._bid[n - 1:n + k] + self._ask[n - 1:n + k]) / 2.0
            self._var[n:n + k] = np.cumsum(
                np.r_[self._var[n - 1], np.diff(np.log(mid)) ** 2])[1:]
        self._n = n + k


def mid_variance(mid: F64) -> F64:
    """The running sum of the squared log returns of ``mid``, 0 at the first quote: the
    realized variance between two quotes is the difference of their sums (KPIS.md,
    volatility regime)."""
    out: F64 = np.r_[0.0, np.cumsum(np.diff(np.log(mid)) ** 2)]
    return out


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
