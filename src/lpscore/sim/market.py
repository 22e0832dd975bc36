"""The simulated market: a seeded mid-price process, or a replay of real quotes, plus the
impact of our own fills (docs/sim-market.md).

    market = SyntheticMarket(MarketParams(), start_ns=t0, duration_s=3600, seed=7)
    market = ReplayMarket.from_quotes(load.quotes, symbol="AMZN", start_ns=t0)
    bid, ask = market.quote_at(t)                 # in force at t, our impact included
    market.apply_fill(t, +1, 10_000, drift_bps=2.0, drift_s=5.0)
    frame = market.quotes(t0, t1)                 # QUOTE_SCHEMA rows: the scorecard's market data

Both markets hold a fixed tape of quotes made at construction (the synthetic one on a regular
grid, the replay one at the real quote times); between two rows the earlier one is in force.
Our fills move the mid against us by a square-root permanent impact, plus an optional drift
that builds up exponentially; both are added in bps of the tape's own mid and evaluated at the
exact time asked, so the answer to any query depends only on the seed and the fills applied
before it, never on which queries came first.

Errors: bad ``MarketParams`` raise ConfigError (they come from scenario files, like every
other config value); bad calls (a time outside the window, a fill earlier than the previous
one, a negative quantity) raise ValueError.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.config import ContextConfig
from lpscore.errors import ConfigError

# The scorecard's own regime rule, reused so a replayed quote carries the regime the KPI
# engine would give an order sent at that time (there is no public name for it yet).
from lpscore.kpi.context import symbol_regimes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema

__all__ = [
    "HIGH_REGIME_SPREAD_FACTOR",
    "REGIMES",
    "Market",
    "MarketParams",
    "ReplayMarket",
    "SyntheticMarket",
    "impact_bps",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

REGIMES = ("low", "mid", "high")
"""Volatility regimes, as the KPI engine names them; a regime's code is its index here."""
HIGH_REGIME_SPREAD_FACTOR = 1.5
"""The synthetic half spread is this many times ``half_spread_bps`` in the high regime."""

_NS_PER_S = 1_000_000_000
_BPS = 1e-4
_TICK_SLACK = 1e-9
"""A price within this fraction of a tick of a tick is on it (float noise, not a price)."""
_SIZE_SHAPE = 4.0
"""Gamma shape of the synthetic displayed sizes: mean ``top_size``, coefficient of variation
1/sqrt(4) = 0.5."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketParams:
    """The synthetic market, and the impact of our fills (also used by the replay)."""

    symbol: str = "ACME"
    start_mid: float = 20.0
    """The mid at the start of the window."""
    half_spread_bps: float = 2.5
    """Quoted half spread around the mid, before rounding outward to the tick (x1.5 in the
    high regime, HIGH_REGIME_SPREAD_FACTOR)."""
    tick: float = 0.01
    """Price increment: the bid is rounded down to it, the ask up."""
    quote_interval_ms: int = 100
    """One top-of-book quote this often (replay: how long the last real quote lasts)."""
    top_size: float = 5_000.0
    """Mean displayed size on each side; sizes vary (gamma, shape 4), whole shares, >= 1."""
    vol_bps_per_sqrt_s: dict[str, float] = field(
        default_factory=lambda: {"low": 1.0, "mid": 2.0, "high": 4.5})
    """Volatility of the mid per regime, bps per square-root second; keys low, mid, high."""
    regime_switch_per_hour: float = 2.0
    """Poisson rate of regime changes; each goes to one of the two other regimes, 50/50."""
    start_regime: str = "mid"
    jumps_per_hour: float = 0.5
    """Poisson rate of jumps of the mid."""
    jump_bps: float = 15.0
    """Jump size scale: sizes are Laplace (symmetric), mean absolute size ``jump_bps``."""
    adv: float = 1_000_000.0
    """Average daily volume, shares, for the square-root impact."""
    daily_vol_bps: float = 150.0
    """Daily volatility, bps, for the square-root impact."""
    impact_coef: float = 0.5
    """Permanent impact of a fill of q: impact_coef x daily_vol_bps x sqrt(q / adv) bps."""

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ConfigError("market.symbol is empty: name the simulated symbol, e.g. ACME")
        for name in ("start_mid", "tick", "quote_interval_ms", "top_size", "adv"):
            _require(name, getattr(self, name), positive=True)
        for name in ("half_spread_bps", "regime_switch_per_hour", "jumps_per_hour",
                     "jump_bps", "daily_vol_bps", "impact_coef"):
            _require(name, getattr(self, name), positive=False)
        if sorted(self.vol_bps_per_sqrt_s) != sorted(REGIMES):
            raise ConfigError(f"market.vol_bps_per_sqrt_s = {self.vol_bps_per_sqrt_s}: give "
                              "exactly low, mid and high (bps per square-root second)")
        for regime, vol in self.vol_bps_per_sqrt_s.items():
            _require(f"vol_bps_per_sqrt_s.{regime}", vol, positive=False)
        if self.start_regime not in REGIMES:
            raise ConfigError(f"market.start_regime = {self.start_regime!r}: use one of "
                              f"{', '.join(REGIMES)}")


def _require(name: str, value: float, *, positive: bool) -> None:
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ConfigError(f"market.{name} = {value!r}: must be a finite number "
                          f"{'> 0' if positive else '>= 0'}")


def impact_bps(qty: float, params: MarketParams) -> float:
    """Permanent impact of a net position of ``qty`` shares bought (negative: sold), in bps
    of the mid: ``sign(qty) * impact_coef * daily_vol_bps * sqrt(|qty| / adv)``."""
    return math.copysign(params.impact_coef * params.daily_vol_bps
                         * math.sqrt(abs(qty) / params.adv), qty)


class Market(Protocol):
    """What the LP models and the simulation loop use."""

    symbol: str

    def quote_at(self, t_ns: int) -> tuple[float, float]:
        """(bid, ask) in force at ``t_ns``, every fill at or before it included."""
        ...

    def mid_at(self, t_ns: int) -> float:
        """The mid in force at ``t_ns``, every fill at or before it included."""
        ...

    def regime_at(self, t_ns: int) -> str:
        """The volatility regime in force at ``t_ns``: low, mid or high."""
        ...

    def apply_fill(self, t_ns: int, side: int, qty: float, *, drift_bps: float = 0.0,
                   drift_s: float = 0.0) -> None:
        """Our fill of ``qty`` at ``t_ns`` (side +1: we bought, -1: we sold) moves the mid
        against us from then on; ``drift_bps`` more builds up with time constant
        ``drift_s``."""
        ...

    def quotes(self, t0_ns: int, t1_ns: int) -> pl.DataFrame:
        """Top-of-book rows with ``t0_ns <= ts < t1_ns`` in QUOTE_SCHEMA, impact included."""
        ...


class _Drift:
    """Drifts sharing one time constant tau: a drift of d bps from a fill at t_i stands at
    d (1 - exp(-(t - t_i) / tau)) at t >= t_i."""

    def __init__(self, tau_ns: int) -> None:
        self._tau_ns = tau_ns
        self._times: list[int] = []
        self._total = [0.0]
        """Sum of the drifts of the first k fills, k = 0, 1, ..."""
        self._pending = [0.0]
        """The part of those drifts not yet built up, just after the k-th fill."""

    def add(self, t_ns: int, drift_bps: float) -> None:
        pending = self._pending[-1]
        if self._times:
            pending *= math.exp(-(t_ns - self._times[-1]) / self._tau_ns)
        self._times.append(t_ns)
        self._total.append(self._total[-1] + drift_bps)
        self._pending.append(pending + drift_bps)

    def bps_at(self, t_ns: int) -> float:
        """The drift built up by ``t_ns`` (``bps_on`` for one time)."""
        k = bisect.bisect_right(self._times, t_ns)
        if k == 0:
            return 0.0
        age = t_ns - self._times[k - 1]
        return self._total[k] - self._pending[k] * math.exp(-age / self._tau_ns)

    def bps_on(self, times: I64) -> F64:
        """The drift built up by each of ``times``."""
        fill_times = np.asarray(self._times, dtype=np.int64)
        k = np.searchsorted(fill_times, times, side="right")
        age = np.maximum(times - fill_times[np.maximum(k - 1, 0)], 0)
        total = np.asarray(self._total)[k]
        built: F64 = total - np.asarray(self._pending)[k] * np.exp(-age / self._tau_ns)
        return built


class _Impacts:
    """Our fills' moves of the mid, in bps of the tape's mid, signed (+: up), in time order.

    Cumulative lists searched by bisection: a lookup costs O(log fills) per distinct drift
    time constant, whatever the number of fills."""

    def __init__(self) -> None:
        self._times: list[int] = []
        self._permanent = [0.0]
        """Cumulative permanent impact after the first k fills, k = 0, 1, ..."""
        self._drifts: dict[int, _Drift] = {}
        self._falling_bps = 0.0
        """Sum of the downward drifts so far: with the permanent total, the lowest reach."""

    def add(self, t_ns: int, permanent_bps: float, drift_bps: float, drift_ns: int) -> None:
        if self._times and t_ns < self._times[-1]:
            raise ValueError(f"fill at t = {t_ns} ns comes before the previous fill at "
                             f"{self._times[-1]} ns: apply fills in time order")
        if drift_ns == 0:
            permanent_bps, drift_bps = permanent_bps + drift_bps, 0.0
        permanent = self._permanent[-1] + permanent_bps
        lowest = permanent + self._falling_bps + min(drift_bps, 0.0)
        if lowest <= -1e4:
            raise ValueError(f"fills so far could move the mid by {lowest:.0f} bps, to zero or "
                             "below: check the fill quantities against market.adv")
        self._times.append(t_ns)
        self._permanent.append(permanent)
        if drift_bps:
            self._drifts.setdefault(drift_ns, _Drift(drift_ns)).add(t_ns, drift_bps)
            self._falling_bps += min(drift_bps, 0.0)

    def bps_at(self, t_ns: int) -> float:
        """The total move of the mid by ``t_ns``, fills at that time included (``bps_on`` for
        one time, summed in the same order)."""
        total = self._permanent[bisect.bisect_right(self._times, t_ns)]
        for drift in self._drifts.values():
            total += drift.bps_at(t_ns)
        return total

    def bps_on(self, times: I64) -> F64:
        """The total move of the mid by each of ``times`` (fills at that time included)."""
        k = np.searchsorted(np.asarray(self._times, dtype=np.int64), times, side="right")
        total: F64 = np.asarray(self._permanent)[k]
        for drift in self._drifts.values():
            total = total + drift.bps_on(times)
        return total


class _Tape:
    """What both markets share: a fixed tape of quote rows, its window, and our impacts.

    Subclasses set the rows' mids and say how bid and ask follow from a row and the impact.
    """

    def __init__(self, *, symbol: str, params: MarketParams, ts: I64, mid: F64, regime: I8,
                 bid_size: F64, ask_size: F64, end_ns: int) -> None:
        self.symbol = symbol
        self.params = params
        self._ts = ts
        self._mid = mid
        self._regime = regime
        self._bid_size = bid_size
        self._ask_size = ask_size
        self._end_ns = end_ns
        self._impacts = _Impacts()
        self._position = 0.0
        """Our net shares bought since the start (sold: negative)."""

    @property
    def start_ns(self) -> int:
        """The first quote's time: the window's start."""
        return int(self._ts[0])

    @property
    def end_ns(self) -> int:
        """The end of the window (excluded)."""
        return self._end_ns

    def quote_at(self, t_ns: int) -> tuple[float, float]:
        """(bid, ask) in force at ``t_ns``, every fill at or before it included."""
        return self._quote(self._row(t_ns), self._factor(t_ns))

    def mid_at(self, t_ns: int) -> float:
        """The mid in force at ``t_ns``, every fill at or before it included."""
        return float(self._mid[self._row(t_ns)]) * self._factor(t_ns)

    def regime_at(self, t_ns: int) -> str:
        """The volatility regime in force at ``t_ns``: low, mid or high."""
        return REGIMES[self._regime[self._row(t_ns)]]

    def apply_fill(self, t_ns: int, side: int, qty: float, *, drift_bps: float = 0.0,
                   drift_s: float = 0.0) -> None:
        """Our fill of ``qty`` at ``t_ns`` (side +1: we bought, -1: we sold) moves the mid
        from then on to the square-root impact of our net position (``impact_bps`` of every
        fill so far, signed): a parent order's impact is that of its whole quantity, however
        it is sliced. ``drift_bps`` more, against us, builds up as 1 - exp(-age / drift_s)
        (at once when ``drift_s`` is 0)."""
        if side not in (1, -1):
            raise ValueError(f"side = {side!r}: use +1 (we bought) or -1 (we sold)")
        if not (math.isfinite(qty) and qty > 0):
            raise ValueError(f"qty = {qty!r}: a fill's quantity must be > 0")
        if not (math.isfinite(drift_bps) and drift_bps >= 0
                and math.isfinite(drift_s) and drift_s >= 0):
            raise ValueError(f"drift_bps = {drift_bps!r}, drift_s = {drift_s!r}: both must be "
                             ">= 0 (the drift is always against us)")
        self._row(t_ns)  # in the window, or raise
        before = self._position
        self._position += side * qty
        step = impact_bps(self._position, self.params) - impact_bps(before, self.params)
        self._impacts.add(t_ns, step, side * drift_bps, round(drift_s * _NS_PER_S))

    def quotes(self, t0_ns: int, t1_ns: int) -> pl.DataFrame:
        """The tape's rows with ``t0_ns <= ts < t1_ns`` in QUOTE_SCHEMA, impact included
        (rows outside the window do not exist, so the range may reach past it)."""
        if t1_ns < t0_ns:
            raise ValueError(f"quotes({t0_ns}, {t1_ns}): the end comes before the start")
        lo, hi = np.searchsorted(self._ts, [t0_ns, t1_ns], side="left")
        rows = np.arange(lo, hi)
        times = self._ts[rows]
        bid, ask = self._quotes(rows, 1.0 + self._impacts.bps_on(times) * _BPS)
        return pl.DataFrame(
            {"ts": times, "symbol": [self.symbol] * len(rows), "bid": bid, "ask": ask,
             "bid_size": self._bid_size[rows], "ask_size": self._ask_size[rows]},
            schema=polars_schema(QUOTE_SCHEMA))

    def _quote(self, row: int, factor: float) -> tuple[float, float]:
        """Bid and ask of ``row`` with the mid scaled by ``factor`` (``_quotes`` for one row,
        the same to the bit)."""
        raise NotImplementedError

    def _quotes(self, rows: I64, factor: F64) -> tuple[F64, F64]:
        """Bid and ask of ``rows`` with the mid scaled by ``factor``."""
        raise NotImplementedError

    def _row(self, t_ns: int) -> int:
        """The row in force at ``t_ns``; ValueError outside the window."""
        start, end = self.start_ns, self._end_ns
        if not start <= t_ns < end:
            raise ValueError(f"t = {t_ns} ns ({_iso(t_ns)}) is outside the {self.symbol} "
                             f"market's window, {_iso(start)} to {_iso(end)} "
                             f"({(end - start) / _NS_PER_S:g} s, end excluded)")
        return int(self._ts.searchsorted(t_ns, side="right")) - 1

    def _factor(self, t_ns: int) -> float:
        """1 + our impact at ``t_ns``, as a fraction of the tape's mid."""
        return 1.0 + self._impacts.bps_at(t_ns) * _BPS


class SyntheticMarket(_Tape):
    """A seeded market: geometric Brownian mid with regime-dependent volatility, Poisson
    regime switches and jumps, quoted every ``quote_interval_ms`` over ``duration_s``."""

    def __init__(self, params: MarketParams, *, start_ns: int, duration_s: float,
                 seed: int) -> None:
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"duration_s = {duration_s!r}: the window must last > 0 seconds")
        if seed < 0:
            raise ValueError(f"seed = {seed}: use a seed >= 0")
        step_ns = params.quote_interval_ms * 1_000_000
        duration_ns = round(duration_s * _NS_PER_S)
        offsets = np.arange(0, duration_ns, step_ns, dtype=np.int64)
        regimes, diffusion, jumps, sizes = np.random.default_rng(seed).spawn(4)
        regime = _regime_path(params, offsets, duration_ns, regimes)
        jump_step, jump_size = _jumps(params, len(offsets) - 1, step_ns, jumps)
        log_mid = _log_mid(params, regime, step_ns, diffusion, jump_step, jump_size)
        bid_size, ask_size = np.maximum(
            1.0, np.round(params.top_size / _SIZE_SHAPE
                          * sizes.gamma(_SIZE_SHAPE, size=(2, len(offsets)))))
        super().__init__(symbol=params.symbol, params=params, ts=start_ns + offsets,
                         mid=params.start_mid * np.exp(log_mid), regime=regime,
                         bid_size=bid_size, ask_size=ask_size, end_ns=start_ns + duration_ns)
        self._ticks = _Ticks.of(params.tick)
        self._half = np.where(np.array(REGIMES) == "high", HIGH_REGIME_SPREAD_FACTOR,
                              1.0) * params.half_spread_bps * _BPS
        """Half spread per regime code, as a fraction of the mid."""
        self._jumps = [(start_ns + int(offsets[s + 1]), float(b))
                       for s, b in zip(jump_step, jump_size, strict=True)]

    @property
    def jumps(self) -> list[tuple[int, float]]:
        """Each jump of the mid: (time it shows in the quotes, ns; size, bps of log mid)."""
        return list(self._jumps)

    def _quote(self, row: int, factor: float) -> tuple[float, float]:
        return self._ticks.outward_one(float(self._mid[row]) * factor,
                                       float(self._half[self._regime[row]]))

    def _quotes(self, rows: I64, factor: F64) -> tuple[F64, F64]:
        return self._ticks.outward(self._mid[rows] * factor, self._half[self._regime[rows]])


def _regime_path(params: MarketParams, offsets: I64, duration_ns: int,
                 rng: np.random.Generator) -> I8:
    """The regime code at each grid offset: Poisson switch times over the window, each to one
    of the other regimes with equal odds, in force from the first grid point at or after it."""
    count = rng.poisson(params.regime_switch_per_hour / 3600 * duration_ns / _NS_PER_S)
    switch_ns = np.sort(rng.uniform(0, duration_ns, size=count))
    moves = rng.integers(1, len(REGIMES), size=count)
    codes = REGIMES.index(params.start_regime) + np.concatenate([[0], np.cumsum(moves)])
    sequence = codes % len(REGIMES)
    return sequence[np.searchsorted(switch_ns, offsets, side="right")].astype(np.int8)


def _jumps(params: MarketParams, steps: int, step_ns: int,
           rng: np.random.Generator) -> tuple[I64, F64]:
    """The grid step of each jump (Poisson per step) and its Laplace size in bps."""
    rate = params.jumps_per_hour / 3600 * step_ns / _NS_PER_S
    step = np.repeat(np.arange(steps, dtype=np.int64), rng.poisson(rate, size=steps))
    return step, rng.laplace(0.0, params.jump_bps, size=len(step))


def _log_mid(params: MarketParams, regime: I8, step_ns: int, rng: np.random.Generator,
             jump_step: I64, jump_bps: F64) -> F64:
    """log(mid / start_mid) at each grid point. The step from point k to k + 1 has the
    volatility of the regime at k, the GBM drift -sigma^2 dt / 2 (the mid is a martingale
    between jumps) and the jumps of that step."""
    dt = step_ns / _NS_PER_S
    vols = np.array([params.vol_bps_per_sqrt_s[r] for r in REGIMES]) * _BPS
    sigma = vols[regime[:-1]]
    jumped = np.bincount(jump_step, weights=jump_bps, minlength=len(sigma)) * _BPS
    steps = sigma * math.sqrt(dt) * rng.standard_normal(len(sigma)) - sigma**2 * dt / 2 + jumped
    return np.concatenate([[0.0], np.cumsum(steps)])


@dataclass(frozen=True, slots=True)
class _Ticks:
    """Outward rounding to the tick. A price of k ticks is ``k / per_unit`` when the tick is
    1/n (so 1999 ticks of 0.01 are 19.99 exactly), else ``k * tick``."""

    tick: float
    per_unit: float | None

    @classmethod
    def of(cls, tick: float) -> _Ticks:
        per_unit = round(1 / tick)
        whole = per_unit >= 1 and abs(per_unit * tick - 1) < 1e-12
        return cls(tick, float(per_unit) if whole else None)

    def outward_one(self, mid: float, half: float) -> tuple[float, float]:
        """``outward`` for one mid, the same to the bit."""
        bid = math.floor(mid * (1 - half) / self.tick + _TICK_SLACK)
        ask = max(math.ceil(mid * (1 + half) / self.tick - _TICK_SLACK), bid + 1)
        if self.per_unit is None:
            return bid * self.tick, ask * self.tick
        return bid / self.per_unit, ask / self.per_unit

    def outward(self, mid: F64, half: F64) -> tuple[F64, F64]:
        """Bid ``mid (1 - half)`` rounded down to the tick, ask ``mid (1 + half)`` rounded up,
        the ask at least one tick above the bid."""
        bid = np.floor(mid * (1 - half) / self.tick + _TICK_SLACK)
        ask = np.maximum(np.ceil(mid * (1 + half) / self.tick - _TICK_SLACK), bid + 1)
        if self.per_unit is None:
            return bid * self.tick, ask * self.tick
        return bid / self.per_unit, ask / self.per_unit


class ReplayMarket(_Tape):
    """Real quotes replayed from ``start_ns`` (build it with ``from_quotes``); bid and ask are
    the real ones scaled by our impact, not re-rounded to the tick."""

    def __init__(self, *, symbol: str, params: MarketParams, ts: I64, bid: F64, ask: F64,
                 bid_size: F64, ask_size: F64, skipped: int) -> None:
        mid = (bid + ask) / 2
        codes = symbol_regimes(ts, mid, ts, *_regime_window_ns())
        assert codes.min() >= 1, "every quote time lies inside its own quotes"  # 0: unknown
        super().__init__(symbol=symbol, params=params, ts=ts, mid=mid,
                         regime=(codes - 1).astype(np.int8), bid_size=bid_size,
                         ask_size=ask_size,
                         end_ns=int(ts[-1]) + params.quote_interval_ms * 1_000_000)
        self._bid = bid
        self._ask = ask
        self.skipped = skipped
        """Quotes of the symbol left out: crossed, locked, or missing a time or a price."""

    @classmethod
    def from_quotes(cls, quotes: pl.DataFrame, *, symbol: str, start_ns: int,
                    params: MarketParams | None = None) -> ReplayMarket:
        """The quotes of ``symbol`` (QUOTE_SCHEMA, e.g. from lpscore.marketdata.load_quotes)
        shifted so the first is at ``start_ns``; ``params`` gives the impact (default
        MarketParams()) and how long the last quote lasts."""
        mine = quotes.filter(pl.col("symbol") == symbol)
        if mine.is_empty():
            found = sorted(quotes["symbol"].drop_nulls().unique().to_list())
            raise ValueError(f"no quotes of {symbol!r} to replay; the quotes given have "
                             f"{', '.join(found) or 'no symbol at all'}")
        good = mine.filter(pl.col("ts").is_not_null() & (pl.col("bid") > 0)
                           & (pl.col("bid") < pl.col("ask")) & pl.col("ask").is_finite())
        if good.is_empty():
            raise ValueError(f"all {mine.height} quotes of {symbol!r} are crossed, locked or "
                             "missing a price: nothing to replay")
        good = good.sort("ts", maintain_order=True)
        ts = good["ts"].dt.epoch("ns").to_numpy().astype(np.int64)
        return cls(symbol=symbol, params=params or MarketParams(symbol=symbol),
                   ts=ts - ts[0] + start_ns, bid=_floats(good["bid"]), ask=_floats(good["ask"]),
                   bid_size=_floats(good["bid_size"]), ask_size=_floats(good["ask_size"]),
                   skipped=mine.height - good.height)

    def _quote(self, row: int, factor: float) -> tuple[float, float]:
        return float(self._bid[row]) * factor, float(self._ask[row]) * factor

    def _quotes(self, rows: I64, factor: F64) -> tuple[F64, F64]:
        return self._bid[rows] * factor, self._ask[rows] * factor


def _regime_window_ns() -> tuple[int, int]:
    """The trailing volatility window and the tercile sampling step of the default
    ContextConfig, in ns: the regimes the scorecard gives by default."""
    context = ContextConfig()
    return round(context.vol_window_s * _NS_PER_S), round(context.vol_sample_s * _NS_PER_S)


def _floats(column: pl.Series) -> F64:
    return np.asarray(column.cast(pl.Float64).to_numpy(), dtype=np.float64)


def _iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / _NS_PER_S, UTC).isoformat()
