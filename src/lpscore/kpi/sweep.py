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

Each kernel is plain Python over NumPy arrays, compiled on first use and cached on disk
(``cache=True``), like lpscore.fix.kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.intern import sorted_codes
from lpscore.marketdata.nbbo import AsOf, symbol_codes

__all__ = ["QuoteSweep"]

_JIT: Any = numba.njit(cache=True, nogil=True)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]


def _asof_rows(ts: I64, code: npt.NDArray[Any], n_symbols: int, times: I64,
               codes: I64) -> I64:
    """For queries sorted by time, the row of the last quote of each query's symbol with
    ``ts <= time`` (-1 when none, or for code -1)."""
    last = np.full(n_symbols, -1, dtype=np.int64)
    out = np.empty(len(times), dtype=np.int64)
    i = 0
    n = len(ts)
    for j in range(len(times)):
        t = times[j]
        while i < n and ts[i] <= t:
            last[code[i]] = i
            i += 1
        c = codes[j]
        out[j] = last[c] if c >= 0 else -1
    return out


def _asof_variance(ts: I64, code: npt.NDArray[Any], log_mid: F64, start: int, total: F64,
                   previous: F64, seen: npt.NDArray[np.bool_], times: I64, codes: I64,
                   out: F64, found: npt.NDArray[np.bool_], j: int, i: int) -> tuple[int, int]:
    """For queries sorted by time, from query ``j`` and quote ``i`` on: each query's
    symbol's cumulative variance (the running sum of squared log-mid differences between
    its consecutive quotes, 0 at and before its first quote) as of the time into ``out``,
    and whether it had a quote by then into ``found``. ``log_mid`` holds the log mids of
    the quotes from ``start`` on; the sweep stops at the first quote past them, to be
    resumed with the next part: returns where it stopped (``j == len(times)``: done).
    ``total``, ``previous`` and ``seen`` (per symbol) carry the sweep across parts."""
    end = start + len(log_mid)
    n = len(ts)
    while j < len(times):
        t = times[j]
        while i < n and ts[i] <= t:
            if i == end:
                return j, i
            c = code[i]
            x = log_mid[i - start]
            if seen[c]:
                d = x - previous[c]
                total[c] = total[c] + d * d
            seen[c] = True
            previous[c] = x
            i += 1
        c = codes[j]
        out[j] = total[c]
        found[j] = seen[c]
        j += 1
    return j, i


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


_asof_rows_jit = _JIT(_asof_rows)
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
    as in ``QuoteBook``. Quotes without a symbol or a time are left out, as there.
    """

    def __init__(self, symbols: list[str], ts: I64, code: npt.NDArray[Any], bid: F64,
                 ask: F64) -> None:
        self.symbols = symbols
        self._enum = pl.Enum(symbols)
        self._ts, self._code, self._bid, self._ask = ts, code, bid, ask
        first, last = _bounds_jit(code, len(symbols))
        self._first_ts: I64 = ts[np.maximum(first, 0)] if len(ts) else first
        self._last_ts: I64 = ts[np.maximum(last, 0)] if len(ts) else last

    @classmethod
    def of(cls, quotes: pl.DataFrame) -> QuoteSweep | None:
        """The sweep of ``quotes`` (QUOTE_SCHEMA), or None when their times go back."""
        frame = quotes.select(pl.col("symbol").cast(pl.String),
                              pl.col("ts").dt.epoch("ns"), "bid", "ask")
        if frame["symbol"].null_count() or frame["ts"].null_count():
            frame = frame.drop_nulls(["symbol", "ts"])
        ts = frame["ts"].to_numpy().astype(np.int64, copy=False)
        if not _nondecreasing(ts):
            return None
        # the codes of a cast to pl.Enum(sorted symbols), without hashing 20M strings twice
        symbols, code = sorted_codes(frame["symbol"])
        return cls(symbols, ts, code,
                   frame["bid"].to_numpy().astype(np.float64, copy=False),
                   frame["ask"].to_numpy().astype(np.float64, copy=False))

    def __len__(self) -> int:
        return len(self._ts)

    def codes(self, symbols: pl.Series | Sequence[str | None]) -> I64:
        """Index of each symbol in ``self.symbols``; -1 for a symbol without quotes."""
        return symbol_codes(self._enum, symbols)

    def asof(self, codes: I64, times_ns: I64) -> AsOf:
        """The quote as of each (symbol code, time), as ``QuoteBook.asof``."""
        if len(self._ts) == 0:  # no symbol has quotes, so every code is -1
            return AsOf.none(len(codes))
        nan = np.float64(np.nan)
        order = _in_time_order(times_ns)
        if order is None:
            row = _asof_rows_jit(self._ts, self._code, len(self.symbols), times_ns, codes)
        else:
            row = np.empty(len(codes), dtype=np.int64)
            row[order] = _asof_rows_jit(self._ts, self._code, len(self.symbols),
                                        times_ns[order], codes[order])
        known = codes >= 0
        found = row >= 0
        past_end = known & (times_ns > self._last_ts[np.where(known, codes, 0)])
        safe = np.where(found, row, 0)
        return AsOf(
            bid=np.where(found, self._bid[safe], nan),
            ask=np.where(found, self._ask[safe], nan),
            ts=np.where(found, self._ts[safe], -1),
            found=found,
            past_end=past_end,
        )

    def regimes(self, codes: I64, t_send: I64, window: int, step: int) -> I8:
        """Each order's volatility regime (an index into ``kpi.context._REGIMES``: 0 unknown,
        1 low, 2 mid, 3 high), as ``symbol_regimes`` gives it symbol by symbol."""
        regime = np.zeros(len(codes), dtype=np.int8)
        present = np.unique(codes[codes >= 0])
        if len(present) == 0 or len(self._ts) == 0:
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
        time (``_LOG_PART`` quotes: no 160 MB array of them all)."""
        safe = np.where(codes >= 0, codes, 0)
        order = _in_time_order(times)
        if order is not None:
            times, safe = times[order], safe[order]
        n_symbols = len(self.symbols)
        total, previous = np.zeros(n_symbols), np.zeros(n_symbols)
        seen = np.zeros(n_symbols, dtype=np.bool_)
        out, found = np.empty(len(times)), np.empty(len(times), dtype=np.bool_)
        j = i = 0
        while j < len(times):
            # np.log((bid + ask) / 2.0) of the next part, element by element as on all
            part = self._bid[i:i + _LOG_PART] + self._ask[i:i + _LOG_PART]
            np.divide(part, 2.0, out=part)
            np.log(part, out=part)
            j, i = _asof_variance_jit(self._ts, self._code, part, i, total, previous, seen,
                                      times, safe, out, found, j, i)
        if order is None:
            return out, found
        back_out, back_found = np.empty_like(out), np.empty_like(found)
        back_out[order], back_found[order] = out, found
        return back_out, back_found


_LOG_PART = 1 << 20
"""Quotes whose log mids ``QuoteSweep._variance`` makes at once (8 MB)."""
