"""As-of quotes for one batch run, by sweeping the quotes in time order (numba).

    book = QuoteSweep.of(quotes)          # None unless the quotes are in time order
    hit = book.asof(book.codes(symbols), times_ns)     # as lpscore.marketdata.nbbo.QuoteBook
    regime = book.regimes(codes, t_send, window_ns, step_ns)  # as kpi.context.symbol_regimes

Why: ``QuoteBook`` sorts every quote by symbol to binary-search it (a stable argsort and a
gather of 20M rows at the benchmark's size), and ``symbol_regimes`` then gathers each symbol's
mids again. A quote feed is in time order, and a batch run asks a few lookups per order: a
walk through the quotes, keeping each symbol's latest quote in a table of one entry per
symbol, answers a whole set of lookups sorted by time in one pass, with no sort of the quotes.

Same answers as ``QuoteBook`` and ``symbol_regimes``, bit for bit: the quote as of ``t`` is
the last one given with ``ts <= t`` (a tie in time goes to the last given, as the stable
sort and ``searchsorted(side="right")`` pick it); a symbol's cumulative variance adds the
squared differences of ``np.log`` of its mids one quote at a time, as ``np.cumsum`` does,
and the quantiles are the same ``np.nanquantile`` of the same values. The regimes take
one sweep for the sampling grids and the orders, and make the log mids a part of the
quotes at a time within it (``np.log`` works element by element, so the parts give the
bits of one whole array, without holding 8 bytes per quote). Quotes not in time order give
no sweep (``of`` returns None): the engine then uses ``QuoteBook``.

The sweep reads the quotes where the frame holds them: its parts are views of the frame's
chunks (a Parquet file read gives one per row group), and each compiled sweep goes through
them one after the other, carrying each symbol's latest quote from part to part. Only the
symbol codes (2 bytes a quote) are new memory: copying 20M times and prices into one array
each took 480 MB more at the benchmark's size (benchmarks/RESULTS.md).

Each kernel is plain Python over NumPy arrays, compiled on first use and cached on disk
(``cache=True``), like lpscore.fix.kernels.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.intern import sorted_codes
from lpscore.marketdata.nbbo import AsOf, symbol_codes, symbol_text

__all__ = ["QuoteSweep"]

_JIT: Any = numba.njit(cache=True, nogil=True)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]


def _asof_part(ts: I64, code: npt.NDArray[Any], bid: F64, ask: F64, final: bool,
               quoted: npt.NDArray[np.bool_], last_ts: I64, last_bid: F64, last_ask: F64,
               times: I64, codes: I64, order: I64, found: npt.NDArray[np.bool_],
               out_ts: I64, out_bid: F64, out_ask: F64, j: int) -> int:
    """For queries sorted by time, from query ``j`` on, against one part of the quotes: the
    last quote of each query's symbol with ``ts <= time``: ``found``, and its time and
    prices into ``out_*`` (left as they are, -1 and NaN, when there is none or for code -1),
    at the query's place before the sort (``order[j]``: written there directly, no scatter
    of four arrays afterwards). Stops at the end of the part unless it is the ``final`` one
    (a later part may hold quotes as old as the query): returns the first query not
    answered. ``quoted``, ``last_ts``, ``last_bid`` and ``last_ask`` (per symbol: whether
    it has a quote so far, and that quote's time and prices) carry the sweep from part to
    part. Keeping the prices as the quotes pass (read in order) is faster than reading them
    at each query's quote (a cache miss each)."""
    n = len(ts)
    i = 0
    while j < len(times):
        t = times[j]
        while i < n and ts[i] <= t:
            c = code[i]
            quoted[c] = True
            last_ts[c], last_bid[c], last_ask[c] = ts[i], bid[i], ask[i]
            i += 1
        if i == n and not final:
            break
        c = codes[j]
        if c >= 0 and quoted[c]:
            at = order[j]
            found[at] = True
            out_ts[at], out_bid[at], out_ask[at] = last_ts[c], last_bid[c], last_ask[c]
        j += 1
    return j


def _asof_variance(ts: I64, code: npt.NDArray[Any], log_mid: F64, final: bool, total: F64,
                   previous: F64, seen: npt.NDArray[np.bool_], times: I64, codes: I64,
                   out: F64, found: npt.NDArray[np.bool_], j: int) -> int:
    """For queries sorted by time, from query ``j`` on, against one part of the quotes (their
    times, symbol codes and log mids): each query's symbol's cumulative variance (the running
    sum of squared log-mid differences between its consecutive quotes, 0 at and before its
    first quote) as of the time into ``out``, and whether it had a quote by then into
    ``found``. Stops at the end of the part unless it is the ``final`` one, as
    ``_asof_part``: returns the first query not answered. ``total``, ``previous`` and
    ``seen`` (per symbol) carry the sweep from part to part."""
    n = len(ts)
    i = 0
    while j < len(times):
        t = times[j]
        while i < n and ts[i] <= t:
            c = code[i]
            x = log_mid[i]
            if seen[c]:
                d = x - previous[c]
                total[c] = total[c] + d * d
            seen[c] = True
            previous[c] = x
            i += 1
        if i == n and not final:
            break
        c = codes[j]
        out[j] = total[c]
        found[j] = seen[c]
        j += 1
    return j


def _bounds(code: npt.NDArray[Any], n_symbols: int) -> tuple[I64, I64]:
    """The first and last row of each symbol (-1 when it has none)."""
    first = np.full(n_symbols, -1, dtype=np.int64)
    last = np.full(n_symbols, -1, dtype=np.int64)
    for i in range(len(code)):
        c = code[i]
        if first[c] < 0:
            first[c] = i
        last[c] = i
    return first, last


_asof_part_jit = _JIT(_asof_part)
_asof_variance_jit = _JIT(_asof_variance)
_bounds_jit = _JIT(_bounds)


def _nondecreasing(times: I64) -> bool:
    return bool(np.all(times[1:] >= times[:-1]))


def _in_time_order(times: I64) -> I64 | None:
    """None when ``times`` never decrease, else the stable order that sorts them."""
    return None if _nondecreasing(times) else np.argsort(times, kind="stable")


class QuoteSweep:
    """Quotes in time order, for sets of as-of lookups (module docstring).

    ``symbols`` are the quoted symbols in sorted order; a symbol's code is its index there,
    as in ``QuoteBook``. Quotes without a symbol or a time are left out, as there. The
    quotes are held as ``parts``: consecutive runs of rows, each its times, codes, bids and
    asks (``_parts``: views of the frame's own memory where its chunks allow).
    """

    def __init__(self, symbols: list[str], parts: list[_Part]) -> None:
        self.symbols = symbols
        self._enum = pl.Enum(symbols)
        self._parts = parts
        self._len = sum(len(p.ts) for p in parts)
        # each symbol's first and last quote time (-1 for none): its first part's, its last's
        self._first_ts: I64 = np.full(len(symbols), -1, dtype=np.int64)
        self._last_ts: I64 = np.full(len(symbols), -1, dtype=np.int64)
        seen = np.zeros(len(symbols), dtype=np.bool_)
        for part in parts:
            first, last = _bounds_jit(part.code, len(symbols))
            here = last >= 0
            new = here & ~seen
            self._first_ts[new] = part.ts[first[new]]
            self._last_ts[here] = part.ts[last[here]]
            seen |= here

    @classmethod
    def of(cls, quotes: pl.DataFrame) -> QuoteSweep | None:
        """The sweep of ``quotes`` (QUOTE_SCHEMA), or None when their times go back."""
        frame = quotes.select(symbol_text(quotes["symbol"]), "ts", "bid", "ask")
        if frame["symbol"].null_count() or frame["ts"].null_count():
            frame = frame.drop_nulls(["symbol", "ts"])
        # the codes of a cast to pl.Enum(sorted symbols), without hashing 20M strings twice
        symbols, code = sorted_codes(frame["symbol"])
        parts: list[_Part] = []
        for start, stop in _part_bounds(frame):
            rows = frame.slice(start, stop - start)
            ts = _epoch_ns(rows["ts"])
            if not _nondecreasing(ts) or (parts and len(ts) and ts[0] < parts[-1].ts[-1]):
                return None
            parts.append(_Part(ts, code[start:stop], _floats(rows["bid"]),
                               _floats(rows["ask"])))
        return cls(symbols, parts)

    def __len__(self) -> int:
        return self._len

    def codes(self, symbols: pl.Series | Sequence[str | None]) -> I64:
        """Index of each symbol in ``self.symbols``; -1 for a symbol without quotes."""
        return symbol_codes(self._enum, symbols)

    def asof(self, codes: I64, times_ns: I64) -> AsOf:
        """The quote as of each (symbol code, time), as ``QuoteBook.asof``."""
        if len(self) == 0:  # no symbol has quotes, so every code is -1
            return AsOf.none(len(codes))
        order = _in_time_order(times_ns)
        if order is None:
            times, sorted_codes_, order = times_ns, codes, np.arange(len(codes))
        else:
            times, sorted_codes_ = times_ns[order], codes[order]
        n, n_symbols = len(codes), len(self.symbols)
        found = np.zeros(n, dtype=np.bool_)
        ts = np.full(n, -1, dtype=np.int64)
        bid, ask = np.full(n, np.nan), np.full(n, np.nan)
        quoted = np.zeros(n_symbols, dtype=np.bool_)
        last_ts = np.full(n_symbols, -1, dtype=np.int64)
        last_bid, last_ask = np.full(n_symbols, np.nan), np.full(n_symbols, np.nan)
        j = 0
        for k, part in enumerate(self._parts):
            j = _asof_part_jit(part.ts, part.code, part.bid, part.ask,
                               k == len(self._parts) - 1, quoted, last_ts, last_bid, last_ask,
                               times, sorted_codes_, order, found, ts, bid, ask, j)
            if j == n:
                break
        known = codes >= 0
        past_end = known & (times_ns > self._last_ts[np.where(known, codes, 0)])
        return AsOf(bid=bid, ask=ask, ts=ts, found=found, past_end=past_end)

    def regimes(self, codes: I64, t_send: I64, window: int, step: int) -> I8:
        """Each order's volatility regime (an index into ``kpi.context._REGIMES``: 0 unknown,
        1 low, 2 mid, 3 high), as ``symbol_regimes`` gives it symbol by symbol."""
        regime = np.zeros(len(codes), dtype=np.int8)
        present = np.unique(codes[codes >= 0])
        if len(present) == 0 or len(self) == 0:
            return regime
        grids = [self._grid(int(c), window, step) for c in present.tolist()]
        grid = np.concatenate(grids)
        grid_code = np.repeat(present, [len(g) for g in grids])
        on_grid, value = self._realized([(grid_code, grid), (codes, t_send)], window)
        edges = np.cumsum([0, *(len(g) for g in grids)])
        low = np.full(len(self.symbols), np.nan)
        high = np.full(len(self.symbols), np.nan)
        for k, c in enumerate(present.tolist()):
            low[c], high[c] = np.nanquantile(on_grid[edges[k]:edges[k + 1]], [1 / 3, 2 / 3])
        known = codes >= 0
        code = np.where(known, codes, 0)
        inside = (known & (t_send >= self._first_ts[code])
                  & (t_send <= self._last_ts[code] + window) & ~np.isnan(value))
        lo, hi = low[code], high[code]
        return np.where(inside, np.where(value <= lo, 1, np.where(value > hi, 3, 2)),
                        0).astype(np.int8)

    def _grid(self, code: int, window: int, step: int) -> I64:
        """The sample times of one symbol's realized variance (``symbol_regimes``)."""
        first, last = int(self._first_ts[code]), int(self._last_ts[code])
        grid = np.arange(first + window, last + 1, step, dtype=np.int64)
        if len(grid) < 3:
            grid = np.linspace(first, last, 10).astype(np.int64)
        return grid

    def _realized(self, queries: Sequence[tuple[I64, I64]], window: int) -> list[F64]:
        """For each (codes, times) of ``queries``: the realized variance over the ``window``
        ns before each time (NaN before the symbol's first quote, or for code -1), as
        ``kpi.context._realized``; the quotes swept once for all of them."""
        codes = np.concatenate([c for c, _ in queries for _ in range(2)])
        times = np.concatenate([t - shift for _, t in queries for shift in (0, window)])
        total, found = self._variance(codes, times)
        out, at = [], 0
        for c, _ in queries:
            n = len(c)
            end, start = total[at:at + n], total[at + n:at + 2 * n]
            out.append(np.where(found[at:at + n] & (c >= 0), end - start, np.nan))
            at += 2 * n
        return out

    def _variance(self, codes: I64, times: I64) -> tuple[F64, npt.NDArray[np.bool_]]:
        """``_asof_variance`` of every time, the log mids made a part of the quotes at a
        time (no 160 MB array of them all)."""
        safe = np.where(codes >= 0, codes, 0)
        order = _in_time_order(times)
        if order is not None:
            times, safe = times[order], safe[order]
        n_symbols = len(self.symbols)
        total, previous = np.zeros(n_symbols), np.zeros(n_symbols)
        seen = np.zeros(n_symbols, dtype=np.bool_)
        out, found = np.empty(len(times)), np.empty(len(times), dtype=np.bool_)
        j = 0
        for k, part in enumerate(self._parts):
            # np.log((bid + ask) / 2.0) of the part, element by element as on all
            mid = part.bid + part.ask
            np.divide(mid, 2.0, out=mid)
            np.log(mid, out=mid)
            j = _asof_variance_jit(part.ts, part.code, mid, k == len(self._parts) - 1, total,
                                   previous, seen, times, safe, out, found, j)
            if j == len(times):
                break
        if order is None:
            return out, found
        back_out, back_found = np.empty_like(out), np.empty_like(found)
        back_out[order], back_found[order] = out, found
        return back_out, back_found


class _Part(NamedTuple):
    """Consecutive quotes: times (epoch ns), symbol codes, bids and asks."""

    ts: I64
    code: npt.NDArray[Any]
    bid: F64
    ask: F64


_PART = 1 << 20
"""Quotes in a part at most (8 MB a column): the log mids of the regimes are made a part at
a time."""
_MIN_PART = 1 << 16
"""Quotes in a part at least, but the last: a frame of many small chunks (a stream's
quotes, concatenated poll by poll) is copied a few chunks at a time into parts this long,
so the sweeps' per-part work stays small beside their per-quote work."""


def _part_bounds(frame: pl.DataFrame) -> list[tuple[int, int]]:
    """(start, stop) of each part of ``frame``: within one chunk of every column where the
    chunks are ``_MIN_PART`` rows or more (so its columns are views of the frame's memory),
    at most ``_PART`` rows."""
    cuts = {frame.height}
    for column in frame.get_columns():
        cuts.update(itertools.accumulate(column.chunk_lengths()))
    bounds, start = [], 0
    for cut in sorted(cuts):
        if cut - start < _MIN_PART and cut < frame.height:
            continue                    # a short chunk: goes with the next
        while cut - start > _PART:
            bounds.append((start, start + _PART))
            start += _PART
        if cut > start:
            bounds.append((start, cut))
            start = cut
    return bounds


def _epoch_ns(ts: pl.Series) -> I64:
    """Epoch ns of a Datetime column as int64, a view of its memory where it can be."""
    dtype = ts.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
        ts = ts.to_physical()
    else:
        ts = ts.dt.epoch("ns")
    return ts.to_numpy().astype(np.int64, copy=False)


def _floats(prices: pl.Series) -> F64:
    """A price column as float64 (NaN for null), a view of its memory where it can be."""
    return prices.to_numpy().astype(np.float64, copy=False)
