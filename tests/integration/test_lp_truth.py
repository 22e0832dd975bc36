"""The KPI engine recovers the true parameters of simulated LPs (tests/lp_truth.py)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lp_truth import HALF_SPREAD, LpTruth, simulate
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats, summarize
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.quarantine import Quarantine

LPS = [
    LpTruth("FAST", fill_prob=0.80, ack_ms=1.0, pi_bps=0.2, impact_bps=3.0),
    LpTruth("BLOCK", fill_prob=0.97, ack_ms=25.0, pi_bps=0.5, impact_bps=0.5),
    LpTruth("PRICE", fill_prob=0.90, ack_ms=10.0, pi_bps=2.0, impact_bps=1.5),
]
N_ORDERS = 500
SEED = 20240301


@pytest.fixture(scope="module")
def run() -> tuple[KpiResult, Quarantine, dict[str, dict[str, Any]]]:
    events, quotes = simulate(LPS, N_ORDERS, SEED)
    quarantine = Quarantine()
    result = compute_kpis(events, quotes, Config(), quarantine)
    table = summarize(kpi_stats(result), result.horizons)
    return result, quarantine, {row["lp"]: row for row in table.iter_rows(named=True)}


def test_every_order_is_seen_terminal_and_benchmarked(run) -> None:
    result, quarantine, rows = run
    assert set(rows) == {lp.name for lp in LPS}
    for lp in LPS:
        row = rows[lp.name]
        assert row["n_orders"] == N_ORDERS
        assert row["n_terminal"] == N_ORDERS
        assert row["n_no_benchmark"] == 0
    assert result.data_quality["orders_no_benchmark"] == 0
    assert result.data_quality["fills_no_benchmark"] == 0
    assert result.data_quality["open_orders"] == 0
    assert result.data_quality["orphan_reports"] == 0
    assert result.data_quality["markout_null_5s"] == 0
    assert not quarantine.records


@pytest.mark.parametrize("lp", LPS, ids=lambda lp: lp.name)
def test_engine_recovers_the_truth(run, lp: LpTruth) -> None:
    row = run[2][lp.name]
    assert row["fill_rate"] == pytest.approx(lp.fill_prob, abs=0.04)
    assert row["reject_rate"] == pytest.approx(1 - lp.fill_prob, abs=0.04)
    assert row["complete_fill_rate"] == pytest.approx(lp.fill_prob, abs=0.04)
    assert row["ack_latency_ms_p50"] == pytest.approx(lp.ack_ms, rel=0.10)
    assert row["hold_time_ms_p50"] == pytest.approx(2.0, rel=0.10)  # uniform 1..3 ms
    assert row["pi_bps"] == pytest.approx(lp.pi_bps, abs=0.15)
    assert row["impact_bps_5s"] == pytest.approx(lp.impact_bps, abs=0.2)
    assert row["impact_bps_1s"] == pytest.approx(lp.impact_bps, abs=0.2)
    assert row["markout_bps_5s"] == pytest.approx(lp.markout_bps(), abs=0.2)
    assert row["eff_spread_bps"] == pytest.approx(lp.eff_spread_bps(), abs=0.3)
    # 100 ms after the fill the mid has moved already (it moves 1 ms after)
    assert row["impact_bps_100ms"] == pytest.approx(lp.impact_bps, abs=0.2)
    reasons = {r["category"]: r["weight"] for r in row["reject_reasons"]}
    assert reasons == {"99 other": pytest.approx(row["n_orders"] * row["reject_rate"])}


def test_per_fill_identities(run) -> None:
    fills = run[0].fills
    # with the book reset before each order, the far touch is exactly one half spread away
    assert (fills["far0"] - fills["m0"]).abs().min() == pytest.approx(HALF_SPREAD)
    assert (fills["far0"] - fills["m0"]).abs().max() == pytest.approx(HALF_SPREAD)
    assert (fills["eff_spread_bps"] - fills["real_spread_bps_5s"]
            - fills["impact_bps_5s"]).abs().max() == pytest.approx(0.0, abs=1e-9)


def test_same_seed_same_tape_other_seed_another() -> None:
    events, quotes = simulate(LPS, 50, seed=1)
    again_events, again_quotes = simulate(LPS, 50, seed=1)
    assert_frame_equal(events, again_events)
    assert_frame_equal(quotes, again_quotes)
    other_events, other_quotes = simulate(LPS, 50, seed=2)
    assert not events.equals(other_events)
    assert not quotes.equals(other_quotes)


def test_counts_per_lp_and_interleaving() -> None:
    events, _ = simulate(LPS, {"FAST": 5, "BLOCK": 0, "PRICE": 12}, seed=3)
    orders = events.filter(pl.col("kind") == "D")
    assert dict(orders.group_by("lp").len().iter_rows()) == {"FAST": 5, "PRICE": 12}
    assert orders["ts_recv"].is_sorted()
    assert orders["lp"].n_unique() == 2
    with pytest.raises(ValueError, match="no count"):
        simulate(LPS, {"FAST": 5}, seed=3)
