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
from lpscore.config import Config, ContextConfig
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.model.schema import compact
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


@st.composite
def lifecycles(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``traffic`` with every kind of event: parents and re-routes, replaces and cancels
    (accepted or rejected), busts and corrections, session rejects, reject texts."""
    events, book = draw(traffic())
    tape = Tape(session_prefix="DESK2")
    t = 0.0
    for i in range(draw(st.integers(1, 10))):
        lp, symbol = draw(st.sampled_from(LPS)), draw(st.sampled_from(sorted(SYMBOLS)))
        px = SYMBOLS[symbol] + draw(st.integers(-5, 5)) * 0.01
        t += draw(st.sampled_from([1.0, 800.0, 6_000.0]))
        cl = f"K{i}"
        tape.order(lp, cl, symbol, 1, 500.0, t, parent=f"P{i % 3}")
        step = draw(st.sampled_from(["replace", "cancel", "cancel_reject", "bust", "correct",
                                     "session_reject", "reject"]))
        if step == "session_reject":
            tape.session_reject(lp, tape.sent_seq(lp), t + 0.4)
            continue
        tape.ack(lp, cl, t + 0.2)
        if step == "replace":
            tape.request("G", lp, f"{cl}R", cl, t + 0.5, symbol=symbol, side=1,
                         order_qty=300.0, ord_type="1")
            tape.report(lp, f"{cl}R", t + 0.7, "5", "0", orig_cl_ord_id=cl)
            tape.fill(lp, f"{cl}R", t + 0.9, 300.0, px)
        elif step in ("cancel", "cancel_reject"):
            tape.fill(lp, cl, t + 0.3, 100.0, px, leaves=400.0)
            tape.request("F", lp, f"{cl}C", cl, t + 0.5, symbol=symbol, side=1)
            if step == "cancel":
                tape.report(lp, f"{cl}C", t + 0.6, "4", "4", orig_cl_ord_id=cl)
            else:
                tape.cancel_reject(lp, f"{cl}C", cl, t + 0.6)
        elif step in ("bust", "correct"):
            fill = tape.fill(lp, cl, t + 0.3, 500.0, px)
            fields = {} if step == "bust" else {"last_qty": 400.0, "last_px": px + 0.01}
            tape.report(lp, cl, t + 2.0, "H" if step == "bust" else "G", "2",
                        exec_ref_id=fill, **fields)
        else:
            tape.reject(lp, cl, t + 0.4, reason=draw(st.sampled_from([0, 3, 99])),
                        text=draw(st.sampled_from(["Price moved", "Last look", "Bad size"])))
    return pl.concat([events, tape.events()]), book


CONFIGS = (Config(), Config(context=ContextConfig(adv={"XYZ": 2e6},
                                                  extra_keys=("ord_type",))))
"""The default, and one that sizes by ADV (looked up by symbol) with an extra key."""


@ENGINE
@given(lifecycles(), st.sampled_from(CONFIGS))
def test_compact_inputs_give_the_same_kpis(data: tuple[pl.DataFrame, pl.DataFrame],
                                           config: Config) -> None:
    """The compact form (categorical columns, empty columns made anew) changes no table."""
    events, book = data
    plain = compute_kpis(events, book, config)
    small = compute_kpis(compact(events), compact(book), config)
    for name in ("fills", "orders", "clock_offsets", "unmatched_session_rejects",
                 "orphan_rejects"):
        assert_frame_equal(getattr(small, name), getattr(plain, name))
    assert small.data_quality == plain.data_quality
    assert small.horizons == plain.horizons


@ENGINE
@given(traffic())
def test_identities_hold_for_every_fill_and_horizon(data: tuple[pl.DataFrame, pl.DataFrame]
                                                    ) -> None:
    events, book = data
    result = compute_kpis(events, book, Config())
    for row in result.fills.iter_rows(named=True):
        if not row["has_benchmark"]:
            assert row["pi_bps"] is None and row["eff_spread_bps"] is None
            assert row["pi_amount"] is None
            continue
        # the same improvement in currency: bps of the mid, times the mid and the quantity
        assert row["pi_amount"] == pytest.approx(row["pi_bps"] * row["m0"] * row["q"] / 1e4,
                                                 rel=1e-9, abs=1e-9)
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
