"""The simulated market (lpscore.sim.market, docs/sim-market.md): seeded paths, regimes, jumps,
the square-root impact and drift of our fills, the quote tape, and the replay of real AMZN
quotes."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lpscore.config import ContextConfig, MarketDataConfig
from lpscore.errors import ConfigError
from lpscore.kpi.context import add_context
from lpscore.marketdata import load_quotes
from lpscore.marketdata.nbbo import QuoteBook
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine
from lpscore.sim.market import (
    HIGH_REGIME_SPREAD_FACTOR,
    Market,
    MarketParams,
    ReplayMarket,
    SyntheticMarket,
    impact_bps,
)
from realdata import AMZN_MESSAGES

NS = 1_000_000_000
MS = 1_000_000
T0 = 1_704_205_800 * NS  # 2024-01-02 14:30:00 UTC
FLAT = {"low": 0.0, "mid": 0.0, "high": 0.0}
# A mid that stays at 20.00 unless we trade: no volatility, no jumps, no regime switches.
CALM = MarketParams(vol_bps_per_sqrt_s=FLAT, jumps_per_hour=0.0, regime_switch_per_hour=0.0)


def grid(market: SyntheticMarket, step_ms: int = 100) -> list[int]:
    return list(range(market.start_ns, market.end_ns, step_ms * MS))


# --- determinism ------------------------------------------------------------------------------

def test_same_seed_same_path_whatever_the_queries() -> None:
    a = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=600, seed=11)
    b = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=600, seed=11)
    times = sorted(random.Random(1).sample(range(T0, T0 + 600 * NS), 500))
    expected = {t: (a.quote_at(t), a.mid_at(t), a.regime_at(t)) for t in times}
    shuffled = times[:]
    random.Random(2).shuffle(shuffled)
    for t in shuffled + shuffled[:50]:  # another order, some twice
        assert (b.quote_at(t), b.mid_at(t), b.regime_at(t)) == expected[t]
    assert_frame_equal(a.quotes(T0, T0 + 600 * NS), b.quotes(T0, T0 + 600 * NS))
    assert a.jumps == b.jumps
    other = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=600, seed=12)
    assert sum(other.mid_at(t) != expected[t][1] for t in times) > 490


def test_quote_in_force_between_grid_points() -> None:
    market = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=60, seed=3)
    rows = market.quotes(T0, T0 + NS)
    assert rows["ts"].dt.epoch("ns").to_list() == [T0 + k * 100 * MS for k in range(10)]
    for k, (bid, ask) in enumerate(zip(rows["bid"], rows["ask"], strict=True)):
        point = T0 + k * 100 * MS
        for t in (point, point + 1, point + 50 * MS, point + 100 * MS - 1):
            assert market.quote_at(t) == (bid, ask)
            assert market.mid_at(t) == market.mid_at(point)


# --- the mid process --------------------------------------------------------------------------

def test_realized_volatility_per_regime_matches_the_parameter() -> None:
    params = MarketParams(jumps_per_hour=0.0, regime_switch_per_hour=6.0)
    market = SyntheticMarket(params, start_ns=T0, duration_s=2 * 3600, seed=5)
    points = grid(market)
    log_mid = np.log([market.mid_at(t) for t in points])
    steps = np.diff(log_mid)
    regime = np.array([market.regime_at(t) for t in points[:-1]])  # a step has its start's
    for name, vol in params.vol_bps_per_sqrt_s.items():
        mine = steps[regime == name]
        assert len(mine) > 5_000, (name, len(mine))
        expected = vol * 1e-4 * math.sqrt(0.1)  # per 100 ms step
        standard_error = expected / math.sqrt(2 * len(mine))
        assert abs(mine.std() - expected) < 3 * standard_error, (name, mine.std(), expected)


def test_regimes_switch_at_the_poisson_rate() -> None:
    params = MarketParams(regime_switch_per_hour=60.0, jumps_per_hour=0.0)
    market = SyntheticMarket(params, start_ns=T0, duration_s=6 * 3600, seed=8)
    regimes = [market.regime_at(t) for t in grid(market, step_ms=1000)]
    assert regimes[0] == "mid"
    changes = sum(a != b for a, b in itertools.pairwise(regimes))
    # every switch changes the regime: 360 expected, standard deviation 19 (two switches
    # within one second are rare enough); 240 if a third of them stayed put
    assert 360 - 4 * 19 <= changes <= 360 + 4 * 19
    assert set(regimes) == {"low", "mid", "high"}


def test_jumps_count_size_and_effect_on_the_mid() -> None:
    params = MarketParams(vol_bps_per_sqrt_s=FLAT, regime_switch_per_hour=0.0,
                          jumps_per_hour=120.0, jump_bps=15.0, quote_interval_ms=1000)
    market = SyntheticMarket(params, start_ns=T0, duration_s=5 * 3600, seed=4)
    jumps = market.jumps
    # Poisson with mean 120 x 5 = 600, standard deviation 24.5
    assert 600 - 4 * 24.5 <= len(jumps) <= 600 + 4 * 24.5
    sizes = np.array([size for _, size in jumps])
    assert abs(np.abs(sizes).mean() - 15.0) < 3 * 15.0 / math.sqrt(len(sizes))  # Laplace
    by_time: dict[int, float] = defaultdict(float)
    for t, size in jumps:
        by_time[t] += size
    points = grid(market, step_ms=1000)
    for before, t in itertools.pairwise(points):
        move_bps = math.log(market.mid_at(t) / market.mid_at(before)) * 1e4
        assert move_bps == pytest.approx(by_time.get(t, 0.0), abs=1e-9)


# --- our impact -------------------------------------------------------------------------------

def test_square_root_impact_is_exact_and_adds_up() -> None:
    assert impact_bps(10_000, MarketParams()) == pytest.approx(7.5, abs=1e-12)
    market = SyntheticMarket(CALM, start_ns=T0, duration_s=60, seed=1)
    t1 = T0 + 10 * NS + 50 * MS  # between two quotes
    assert (market.mid_at(t1), market.quote_at(t1)) == (20.0, (19.99, 20.01))
    market.apply_fill(t1, +1, 10_000)
    assert market.mid_at(t1 - 1) == 20.0
    assert market.mid_at(t1) == pytest.approx(20.0 * (1 + 7.5e-4), rel=1e-12, abs=0)
    # 20.015 x (1 -/+ 2.5 bps) = 20.00999625 / 20.02000375, rounded outward to the cent
    assert market.quote_at(t1) == (20.00, 20.03)
    # the impact is that of the net position: 30,000 bought in three fills move the mid as
    # one fill of 30,000 would, 0.5 x 150 x sqrt(0.03) bps, not three times 7.5 bps
    market.apply_fill(t1 + 5 * NS, +1, 10_000)
    market.apply_fill(t1 + 5 * NS, +1, 10_000)
    thirty = 0.5 * 150 * math.sqrt(0.03)
    assert market.mid_at(t1 + 5 * NS) == pytest.approx(20.0 * (1 + thirty / 1e4), rel=1e-12)
    market.apply_fill(t1 + 6 * NS, -1, 70_000)  # net 40,000 sold: 0.5 x 150 x 0.2 = 15 down
    assert market.mid_at(t1 + 6 * NS) == pytest.approx(20.0 * (1 - 15e-4), rel=1e-12, abs=0)
    assert impact_bps(-40_000, MarketParams()) == pytest.approx(-15.0, abs=1e-12)
    row = market.quotes(T0 + 10_100 * MS, T0 + 10_200 * MS)  # the next quote shows the buy
    assert (row["bid"].item(), row["ask"].item()) == (20.00, 20.03)


def test_drift_builds_up_exponentially_against_us() -> None:
    params = MarketParams(vol_bps_per_sqrt_s=FLAT, jumps_per_hour=0.0,
                          regime_switch_per_hour=0.0, impact_coef=0.0)
    market = SyntheticMarket(params, start_ns=T0, duration_s=60, seed=1)
    t1, t2 = T0 + 10 * NS, T0 + 14 * NS
    market.apply_fill(t1, +1, 5_000, drift_bps=10.0, drift_s=2.0)
    assert market.mid_at(t1) == 20.0

    def drift_bps(t: int) -> float:
        return (market.mid_at(t) / 20.0 - 1) * 1e4

    assert drift_bps(t1 + 2 * NS) == pytest.approx(10 * (1 - math.exp(-1)), abs=1e-9)  # 6.32
    assert drift_bps(t1 + 4 * NS) == pytest.approx(10 * (1 - math.exp(-2)), abs=1e-9)  # 8.65
    market.apply_fill(t2, -1, 5_000, drift_bps=6.0, drift_s=1.0)  # a sell drifts down
    assert drift_bps(t2 + 3 * NS) == pytest.approx(
        10 * (1 - math.exp(-3.5)) - 6 * (1 - math.exp(-3)), abs=1e-9)
    assert drift_bps(T0 + 59 * NS) == pytest.approx(10 - 6, abs=1e-6)
    market.apply_fill(T0 + 59 * NS + 1, +1, 1, drift_bps=2.0, drift_s=0.0)  # 0 s: at once
    assert drift_bps(T0 + 59 * NS + 1) == pytest.approx(10 - 6 + 2, abs=1e-6)


def test_many_fills_match_a_direct_sum_and_the_quote_tape() -> None:
    market = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=600, seed=2)
    base = SyntheticMarket(MarketParams(), start_ns=T0, duration_s=600, seed=2)
    rng = random.Random(7)
    fills = sorted((rng.randrange(T0, T0 + 600 * NS), rng.choice((1, -1)), rng.uniform(1, 3000),
                    rng.choice((0.0, 3.0)), rng.choice((0.5, 5.0, 30.0))) for _ in range(2_000))
    for t, side, qty, drift, tau in fills:
        market.apply_fill(t, side, qty, drift_bps=drift, drift_s=tau)
    for t in rng.sample(range(T0, T0 + 600 * NS), 200):
        done = [f for f in fills if f[0] <= t]
        position = sum(side * qty for _, side, qty, _, _ in done)
        moved = math.copysign(0.5 * 150 * math.sqrt(abs(position) / 1e6), position) + sum(
            side * drift * (1 - math.exp(-(t - t_fill) / (tau * NS)))
            for t_fill, side, _, drift, tau in done)
        assert market.mid_at(t) == pytest.approx(base.mid_at(t) * (1 + moved * 1e-4),
                                                  rel=1e-12, abs=0)
    tape = market.quotes(T0, T0 + 600 * NS)
    for t, bid, ask in tape.select(pl.col("ts").dt.epoch("ns"), "bid", "ask").iter_rows():
        assert market.quote_at(t) == (bid, ask)  # one tape, whichever way it is read


# --- the quote tape ---------------------------------------------------------------------------

def test_quotes_schema_ticks_and_spread_by_regime() -> None:
    params = MarketParams(start_mid=1000.0, start_regime="high", regime_switch_per_hour=20.0)
    market = SyntheticMarket(params, start_ns=T0, duration_s=1800, seed=9)
    tape = market.quotes(T0 - NS, T0 + 3600 * NS)  # reaches past the window: clipped
    assert tape.schema == polars_schema(QUOTE_SCHEMA)
    assert tape.height == 18_000
    assert (tape["symbol"] == "ACME").all()
    assert (tape["bid"] < tape["ask"]).all()
    for column in ("bid", "ask"):
        cents = tape[column] * 100
        assert ((cents - cents.round()).abs() < 1e-6).all()
    assert tape["bid_size"].min() >= 1 and 4_500 < tape["bid_size"].mean() < 5_500
    seen = set()
    for t, bid, ask in tape.select(pl.col("ts").dt.epoch("ns"), "bid", "ask").iter_rows():
        regime = market.regime_at(t)
        seen.add(regime)
        half = 2.5 * (HIGH_REGIME_SPREAD_FACTOR if regime == "high" else 1.0) * 1e-4
        spread = 2 * half * market.mid_at(t)  # 0.50 (0.75 high) at 1000, before rounding
        assert spread <= ask - bid <= spread + 0.02 + 1e-9
    assert "high" in seen and len(seen) > 1


def test_a_market_is_a_market() -> None:
    synthetic: Market = SyntheticMarket(CALM, start_ns=T0, duration_s=1, seed=0)
    assert synthetic.symbol == "ACME"


# --- replay of real quotes --------------------------------------------------------------------

@pytest.fixture(scope="module")
def amzn() -> pl.DataFrame:
    return load_quotes([AMZN_MESSAGES], MarketDataConfig(), Quarantine()).quotes


def test_replay_gives_the_real_quotes_shifted(amzn: pl.DataFrame) -> None:
    market = ReplayMarket.from_quotes(amzn, symbol="AMZN", start_ns=T0)
    real_ts = amzn["ts"].dt.epoch("ns")
    shift = T0 - real_ts[0]
    assert market.skipped == 0
    assert (market.start_ns, market.end_ns) == (T0, real_ts[-1] + shift + 100 * MS)
    last_per_time = {t: (b, a) for t, b, a in zip(real_ts, amzn["bid"], amzn["ask"],
                                                   strict=True)}
    for t, (bid, ask) in last_per_time.items():
        assert market.quote_at(t + shift) == (bid, ask)
        assert market.mid_at(t + shift) == (bid + ask) / 2
    replayed = market.quotes(market.start_ns, market.end_ns)
    shifted = amzn.with_columns(pl.col("ts") + pl.duration(nanoseconds=shift))
    assert_frame_equal(replayed, shifted)
    assert (replayed["bid"] < replayed["ask"]).all()
    with pytest.raises(ValueError, match=r"757\.\d+ s"):  # 09:30:00.017 to 09:42:37.587 ET
        market.mid_at(market.end_ns)


def test_replay_regimes_are_the_scorecards(amzn: pl.DataFrame) -> None:
    market = ReplayMarket.from_quotes(amzn, symbol="AMZN", start_ns=T0)
    shift = T0 - amzn["ts"].dt.epoch("ns")[0]
    orders = amzn.select("symbol", t_send=pl.col("ts")).gather_every(10).with_columns(
        order_qty=pl.lit(100.0), price=pl.lit(220.0), m0=pl.lit(220.0))
    labelled = add_context(orders, QuoteBook(amzn), ContextConfig(), {})
    times = labelled["t_send"].dt.epoch("ns").to_list()
    regimes = [market.regime_at(t + shift) for t in times]
    assert regimes == labelled["vol_regime"].to_list()
    assert set(regimes) == {"low", "mid", "high"}


def test_replay_skips_crossed_and_locked_and_takes_our_impact() -> None:
    quotes = pl.DataFrame({
        "ts": [5 * NS, 6 * NS, 7 * NS, 8 * NS, 9 * NS, 9 * NS, 10 * NS],
        "symbol": ["XYZ", "XYZ", "XYZ", "XYZ", "XYZ", "OTHER", "XYZ"],
        "bid": [10.00, 10.01, 10.05, 10.02, None, 1.0, 10.02],
        "ask": [10.02, 10.03, 10.04, 10.02, 10.03, 2.0, 10.04],  # crossed, locked, no bid
        "bid_size": [100.0] * 7, "ask_size": [200.0] * 7,
    }, schema=polars_schema(QUOTE_SCHEMA))
    market = ReplayMarket.from_quotes(quotes, symbol="XYZ", start_ns=T0)
    assert market.skipped == 3
    assert market.quotes(T0, T0 + 60 * NS)["ts"].dt.epoch("ns").to_list() == [
        T0, T0 + NS, T0 + 5 * NS]
    for t in (T0 + NS, T0 + 2 * NS, T0 + 4 * NS, T0 + 5 * NS - 1):
        assert market.quote_at(t) == (10.01, 10.03)
    market.apply_fill(T0 + 5 * NS, +1, 10_000)  # 7.5 bps up
    assert market.quote_at(T0 + 5 * NS) == pytest.approx((10.02 * 1.00075, 10.04 * 1.00075),
                                                         rel=1e-12)
    assert market.mid_at(T0 + 5 * NS) == pytest.approx(10.03 * 1.00075, rel=1e-12)


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "key"), [
    ({"half_spread_bps": -1.0}, "half_spread_bps"),
    ({"tick": 0.0}, "tick"),
    ({"start_regime": "calm"}, "start_regime"),
    ({"vol_bps_per_sqrt_s": {"low": 1.0, "high": 2.0}}, "vol_bps_per_sqrt_s"),
    ({"vol_bps_per_sqrt_s": {"low": 1.0, "mid": -2.0, "high": 2.0}}, "vol_bps_per_sqrt_s.mid"),
    ({"jumps_per_hour": float("nan")}, "jumps_per_hour"),
    ({"adv": 0.0}, "adv"),
])
def test_bad_params_are_config_errors(change: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"market\.{key} = "):
        MarketParams(**change)  # type: ignore[arg-type]


def test_bad_calls_say_what_is_wrong(amzn: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="duration_s = 0"):
        SyntheticMarket(CALM, start_ns=T0, duration_s=0, seed=1)
    market = SyntheticMarket(CALM, start_ns=T0, duration_s=60, seed=1)
    for t in (T0 - 1, T0 + 60 * NS):
        with pytest.raises(ValueError, match=r"outside the ACME market's window.*\(60 s"):
            market.quote_at(t)
    market.apply_fill(T0 + 5 * NS, +1, 100)
    with pytest.raises(ValueError, match="before the previous fill"):
        market.apply_fill(T0 + 4 * NS, +1, 100)
    with pytest.raises(ValueError, match="side = 0"):
        market.apply_fill(T0 + 6 * NS, 0, 100)
    with pytest.raises(ValueError, match="qty = 0"):
        market.apply_fill(T0 + 6 * NS, +1, 0)
    with pytest.raises(ValueError, match="drift_bps = -1"):
        market.apply_fill(T0 + 6 * NS, +1, 100, drift_bps=-1.0, drift_s=1.0)
    with pytest.raises(ValueError, match="to zero or below"):
        market.apply_fill(T0 + 6 * NS, -1, 1e12)
    assert market.mid_at(T0 + 7 * NS) == pytest.approx(20 * (1 + 0.75e-4))  # nothing applied
    with pytest.raises(ValueError, match="the end comes before the start"):
        market.quotes(T0 + NS, T0)
    with pytest.raises(ValueError, match=r"no quotes of 'GOOG' to replay; .* have AMZN"):
        ReplayMarket.from_quotes(amzn, symbol="GOOG", start_ns=T0)
