"""An order's context: size bucket, volatility regime and time-of-day bucket (KPIS.md).

- ``size_bucket``: order quantity as % of the symbol's ADV when it is known, else notional
  (``order_qty x m0``, or x limit price without a benchmark), cut at configured edges.
- ``vol_regime``: realized volatility of the mid over the trailing ``vol_window_s`` at
  ``t_send`` (sum of squared log returns between consecutive quotes), against the terciles of
  the same measure sampled every ``vol_sample_s`` over the symbol's quotes: ``low``, ``mid``,
  ``high``; ``unknown`` with no quotes around ``t_send``.
- ``tod_bucket``: ``t_send`` in the configured time zone, floored to ``tod_minutes``.
"""

from __future__ import annotations

import bisect
import csv
import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.config import CONTEXT_KEYS, ContextConfig
from lpscore.errors import ConfigError
from lpscore.kpi.sweep import QuoteSweep
from lpscore.marketdata.nbbo import QuoteBook, mid_variance

__all__ = ["CONTEXT_KEYS", "add_context", "load_adv", "size_bucket_labels", "size_bucket_of",
           "symbol_regimes"]


def load_adv(config: ContextConfig) -> dict[str, float]:
    """ADV per symbol from ``adv_file`` (CSV ``symbol,adv``) overlaid with ``adv``."""
    adv: dict[str, float] = {}
    if config.adv_file is not None:
        path = Path(config.adv_file)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                for number, row in enumerate(csv.DictReader(handle), start=2):
                    try:
                        adv[row["symbol"]] = float(row["adv"])
                    except (KeyError, TypeError, ValueError) as exc:
                        raise ConfigError(f"{path}:{number}: need columns symbol,adv with a "
                                          f"number for adv, got {row}") from exc
        except OSError as exc:
            raise ConfigError(f"context.adv_file = {path}: cannot read it ({exc})") from exc
    adv.update(config.adv)
    return adv


def size_bucket_labels(edges: tuple[float, ...], *, pct: bool) -> list[str]:
    """Labels of the buckets cut at ``edges``: ``<10k``, ``10k-100k``, ``>=1M`` or
    ``adv<0.1%``, ``adv0.1-0.5%``, ``adv>=2%``."""
    text = [(_pct if pct else _short)(e) for e in edges]
    head = "adv" if pct else ""
    tail = "%" if pct else ""
    labels = [f"{head}<{text[0]}{tail}"]
    labels += [f"{head}{a}-{b}{tail}" for a, b in itertools.pairwise(text)]
    labels.append(f"{head}>={text[-1]}{tail}")
    return labels


def size_bucket_of(qty: float, price: float | None, adv: float | None,
                   config: ContextConfig) -> str | None:
    """One order's size bucket, as ``add_context`` labels it (% of ADV when known, else
    notional at ``price``); None when neither is known."""
    if adv is not None:
        value, edges, pct = qty / adv * 100.0, config.adv_pct_edges, True
    elif price is not None:
        value, edges, pct = qty * price, config.notional_edges, False
    else:
        return None
    return size_bucket_labels(edges, pct=pct)[bisect.bisect_right(edges, value)]


def add_context(orders: pl.DataFrame, book: QuoteBook | QuoteSweep, config: ContextConfig,
                adv: dict[str, float]) -> pl.DataFrame:
    """``orders`` (with symbol, order_qty, price, m0, t_send) plus the context columns."""
    notional = pl.col("order_qty") * pl.coalesce("m0", "price")
    adv_col = pl.col("symbol").replace_strict(adv, default=None, return_dtype=pl.Float64)
    by_adv = _cut(pl.col("order_qty") / adv_col * 100.0, config.adv_pct_edges, pct=True)
    by_notional = _cut(notional, config.notional_edges, pct=False)
    minutes = config.tod_minutes
    local = pl.col("t_send").dt.convert_time_zone(config.tz)
    tod = local.dt.truncate(f"{minutes}m").dt.strftime("%H:%M")
    return orders.with_columns(
        notional.alias("notional"),
        pl.when(adv_col.is_not_null()).then(by_adv).otherwise(by_notional)
        .fill_null("unknown").alias("size_bucket"),
        _vol_regime(orders, book, config),
        tod.fill_null("unknown").alias("tod_bucket"),
    )


def _cut(value: pl.Expr, edges: tuple[float, ...], *, pct: bool) -> pl.Expr:
    labels = size_bucket_labels(edges, pct=pct)
    lows = [float("-inf"), *edges]
    highs = [*edges, float("inf")]
    return pl.coalesce([pl.when((value >= lo) & (value < hi)).then(pl.lit(label))
                        for lo, hi, label in zip(lows, highs, labels, strict=True)])


def _short(x: float) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:g}{unit}"
    return f"{x:g}"


def _pct(x: float) -> str:
    return f"{x:g}"


_REGIMES = pl.Series("vol_regime", ["unknown", "low", "mid", "high"], dtype=pl.String)


def _vol_regime(orders: pl.DataFrame, book: QuoteBook | QuoteSweep,
                config: ContextConfig) -> pl.Series:
    """Each order's volatility regime (see the module docstring): from a ``QuoteSweep`` in
    a few passes over the quotes; from a ``QuoteBook``, the orders are grouped by symbol with
    one stable sort, and each symbol's quotes are read once."""
    regime = np.zeros(orders.height, dtype=np.int8)  # an index into _REGIMES
    if orders.height and len(book):
        codes = book.codes(orders["symbol"])
        t_send = orders["t_send"].dt.epoch("ns").to_numpy().astype(np.int64)
        window = int(config.vol_window_s * 1e9)
        step = int(config.vol_sample_s * 1e9)
        if isinstance(book, QuoteSweep):
            return _REGIMES.gather(book.regimes(codes, t_send, window, step))
        by_symbol = np.argsort(codes, kind="stable")
        sorted_codes = codes[by_symbol]
        starts = np.flatnonzero(np.diff(sorted_codes, prepend=-2))  # codes are >= -1
        for lo, hi in itertools.pairwise([*starts.tolist(), len(codes)]):
            code = int(sorted_codes[lo])
            if code >= 0:
                rows = by_symbol[lo:hi]
                regime[rows] = variance_regimes(*book.variance(code), t_send[rows], window,
                                                step)
    return _REGIMES.gather(regime)


def symbol_regimes(ts: npt.NDArray[np.int64], mid: npt.NDArray[np.float64],
                    t_send: npt.NDArray[np.int64], window: int,
                    step: int) -> npt.NDArray[np.int8]:
    """The regimes (indices into ``_REGIMES``) of one symbol's orders sent at ``t_send``,
    from its quote times and mids."""
    return variance_regimes(ts, mid_variance(mid), t_send, window, step)


def variance_regimes(ts: npt.NDArray[np.int64], variance: npt.NDArray[np.float64],
                     t_send: npt.NDArray[np.int64], window: int,
                     step: int) -> npt.NDArray[np.int8]:
    """``symbol_regimes`` from the quotes' ``mid_variance``."""
    grid = np.arange(ts[0] + window, ts[-1] + 1, step, dtype=np.int64)
    if len(grid) < 3:
        grid = np.linspace(ts[0], ts[-1], 10).astype(np.int64)
    low, high = np.nanquantile(_realized(ts, variance, grid, window), [1 / 3, 2 / 3])
    value = _realized(ts, variance, t_send, window)
    inside = (t_send >= ts[0]) & (t_send <= ts[-1] + window) & ~np.isnan(value)
    return np.where(inside, np.where(value <= low, 1, np.where(value > high, 3, 2)),
                    0).astype(np.int8)


def _realized(ts: npt.NDArray[np.int64], variance: npt.NDArray[np.float64],
              times: npt.NDArray[np.int64], window: int) -> npt.NDArray[np.float64]:
    """Realized variance of the mid over the ``window`` ns before each of ``times`` (NaN
    before the first quote)."""
    end = np.searchsorted(ts, times, side="right") - 1
    start = np.searchsorted(ts, times - window, side="right") - 1
    value = variance[np.maximum(end, 0)] - variance[np.maximum(start, 0)]
    return np.where(end >= 0, value, np.nan)
