"""Properties of the KPI engine: the KPIS.md identities, order independence, mergeable stats."""

from __future__ import annotations

import dataclasses
import functools

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_builders import Tape, quotes
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.stats.table import Stats

LPS = ("LP_A", "LP_B", "LP_C")
ENGINE = settings(deadline=None, max_examples=40,
                  suppress_health_check=[HealthCheck.too_slow])
"""A whole engine run per example: no per-example deadline on a shared 2-core machine."""
SYMBOLS = {"XYZ": 100.0, "ABC": 50.0}


@st.composite
def traffic(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = []
    for symbol, base in SYMBOLS.items():
        ms = 0.0
        for _ in range(draw(st.integers(1, 12))):
            mid = base + draw(st.integers(-20, 20)) * 0.01
            half = draw(st.integers(0, 3)) * 0.01
            rows.append((ms, symbol, round(mid - half, 2), round(mid + half, 2)))
            ms += draw(st.sampled_from([1.0, 50.0, 700.0, 4_000.0, 20_000.0]))
    tape = Tape()
    t = 0.0
    for i in range(draw(st.integers(1, 15))):
        lp = draw(st.sampled_from(LPS))
        symbol = draw(st.sampled_from(sorted(SYMBOLS)))
        side = draw(st.sampled_from([1, -1]))
        qty = float(draw(st.integers(1, 50)) * 100)
        t += draw(st.sampled_from([0.5, 3.0, 900.0, 7_000.0]))
        cl = f"C{i % 4}"  # ClOrdIDs get reused
        tape.order(lp, cl, symbol, side, qty, t)
        outcome = draw(st.sampled_from(["fill", "partial", "reject", "ack"]))
        tape.ack(lp, cl, t + 0.3)
        price = round(SYMBOLS[symbol] + draw(st.integers(-25, 25)) * 0.01, 2)
        if outcome == "fill":
            tape.fill(lp, cl, t + 0.4, qty, price)
        elif outcome == "partial":
            tape.fill(lp, cl, t + 0.4, qty / 2, price, leaves=qty / 2)
            tape.report(lp, cl, t + 0.45, "4", "4")
        elif outcome == "reject":
            tape.reject(lp, cl, t + 0.4)
    return tape.events(), quotes(rows)


@ENGINE
@given(traffic())
def test_identities_hold_for_every_fill_and_horizon(data: tuple[pl.DataFrame, pl.DataFrame]
                                                    ) -> None:
    events, book = data
    result = compute_kpis(events, book, Config())
    for row in result.fills.iter_rows(named=True):
        if not row["has_benchmark"]:
            assert row["pi_bps"] is None and row["eff_spread_bps"] is None
            continue
        for h in result.horizons:
            real, imp, mark = (row[f"real_spread_bps_{h}"], row[f"impact_bps_{h}"],
                               row[f"markout_bps_{h}"])
            if mark is None:
                assert real is None and imp is None
                continue
            assert row["eff_spread_bps"] == pytest.approx(real + imp, abs=1e-9)
            assert real == pytest.approx(-2 * mark, abs=1e-9)


def _canonical(result: KpiResult) -> tuple[pl.DataFrame, pl.DataFrame]:
    return result.orders.sort("child_id"), result.fills.sort("child_id", "exec_id")


@ENGINE
@given(traffic(), st.integers(0, 2**32 - 1))
def test_shuffled_events_and_quotes_give_the_same_kpis(
        data: tuple[pl.DataFrame, pl.DataFrame], seed: int) -> None:
    events, book = data
    base = _canonical(compute_kpis(events, book, Config()))
    shuffled = events.sample(fraction=1.0, shuffle=True, seed=seed)
    again = _canonical(compute_kpis(shuffled, book.reverse(), Config()))
    assert_frame_equal(base[0], again[0])
    assert_frame_equal(base[1], again[1])


@ENGINE
@given(traffic(), st.integers(0, 2**32 - 1), st.integers(2, 4))
def test_merge_of_stats_equals_stats_of_the_union(data: tuple[pl.DataFrame, pl.DataFrame],
                                                  seed: int, k: int) -> None:
    """Orders split in ``k`` parts: the parts' statistics merged two at a time, and all at
    once (``Stats.merge_all``, as a stream merges its lanes), are the whole's."""
    events, book = data
    result = compute_kpis(events, book, Config())
    keys = ["lp", "symbol", "size_bucket"]
    part_of = result.orders.select("child_id", (pl.col("child_id").hash(seed) % k)
                                   .alias("part"))
    parts = []
    for i in range(k):
        ids = part_of.filter(pl.col("part") == i)["child_id"]
        parts.append(kpi_stats(dataclasses.replace(
            result, orders=result.orders.filter(pl.col("child_id").is_in(ids.implode())),
            fills=result.fills.filter(pl.col("child_id").is_in(ids.implode()))), keys))
    whole = kpi_stats(result, keys)
    chained = functools.reduce(Stats.merge, parts)
    for merged in (chained, Stats.merge_all(parts)):
        assert_frame_equal(merged.sums.select(whole.sums.columns), whole.sums,
                           check_exact=False, rel_tol=1e-12, abs_tol=1e-9)
        counts = [c for c in whole.sums.columns if c.startswith("n_") or c.endswith("__n")]
        assert_frame_equal(merged.sums.select(counts), whole.sums.select(counts),
                           check_exact=True)
        bins = whole.sketches.sort(merged.sketches.columns[:-1], nulls_last=True)
        assert_frame_equal(merged.sketches, bins, check_exact=True)
        assert_frame_equal(merged.counts, whole.counts, check_exact=True)
