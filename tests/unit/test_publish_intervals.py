"""Intervals carried between posterior draws (lpscore.publish.intervals): what a stream's
publishes do with a context whose draws they skip."""

from __future__ import annotations

import math

import pytest

from lp_truth import LpTruth, simulate
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis
from lpscore.publish.intervals import Intervals
from lpscore.publish.publisher import snapshots_of_stats
from lpscore.publish.snapshot import Snapshot
from lpscore.quarantine import Quarantine
from lpscore.scoring import BUILTIN, LpScore, Scorecard, catalog
from lpscore.stats.table import Stats

S = 1_000_000_000


def card(scores: dict[str, tuple[float, float, float]], drawn: bool = True,
         context: dict[str, object] | None = None) -> Scorecard:
    items = [LpScore(lp=lp, score=score, ci_low=low, ci_high=high, rank=i + 1,
                     rank_stability=0.5 + i / 10, provisional=False, n_orders=50, n_eff=50.0,
                     contributions={}, kpis={}, raw_kpis={})
             for i, (lp, (score, low, high)) in enumerate(scores.items())]
    return Scorecard("block", context or {"symbol": "ACME"}, items, 0.95, None, drawn)


def test_unknown_contexts_and_lps_are_drawn_known_ones_carried() -> None:
    memory = Intervals(max_age_s=60.0, per_publish=10)
    memory.begin(10 * S)
    ctx = {"symbol": "ACME"}
    assert memory.needs_draws(ctx, ["A", "B"])
    memory.remember(card({"A": (80.0, 75.0, 83.0), "B": (60.0, 50.0, 70.0)}), 10 * S)
    assert not memory.needs_draws(ctx, ["A", "B"])
    assert not memory.needs_draws(ctx, ["B"])            # an LP gone: nothing to draw
    assert memory.needs_draws(ctx, ["A", "B", "C"])      # a new LP: drawn
    assert memory.needs_draws({"symbol": "BETA"}, ["A"])
    carried, at = memory.carry(card({"A": (90.0, math.nan, math.nan),
                                     "B": (3.0, math.nan, math.nan)}, drawn=False))
    assert at == 10 * S
    a, b = carried.scores
    assert (a.ci_low, a.ci_high, a.rank_stability) == (85.0, 93.0, 0.5)   # same distances
    assert (b.ci_low, b.ci_high) == (0.0, 13.0)          # kept within 0..100
    assert b.rank_stability == pytest.approx(0.6)
    assert (a.score, a.rank, b.score) == (90.0, 1, 3.0)  # never carried


def test_what_has_nothing_to_carry_stays_pending() -> None:
    memory = Intervals(per_publish=10)
    memory.remember(card({"A": (80.0, 75.0, 83.0)}), 10 * S)
    nan = (50.0, math.nan, math.nan)
    undrawn = card({"A": nan, "C": nan}, drawn=False)
    carried, at = memory.carry(undrawn)
    a, c = carried.scores
    assert at == 10 * S and (a.ci_low, a.ci_high) == (45.0, 53.0)
    assert c is undrawn.scores[1] and math.isnan(c.ci_low)     # as scored: pending
    unknown = card({"A": nan}, drawn=False, context={"symbol": "BETA"})
    assert memory.carry(unknown) == (unknown, None)


def test_a_publish_draws_no_more_than_its_budget() -> None:
    """New contexts and old draws share the budget, first come first drawn; a new publish
    has a new budget."""
    memory = Intervals(max_age_s=5.0, per_publish=2)
    old = [{"symbol": f"S{i}"} for i in range(5)]
    for ctx in old:
        memory.remember(card({"A": (50.0, 40.0, 60.0)}, context=ctx), 0)
    memory.begin(5 * S)                                   # not older than 5 s yet
    assert not any(memory.needs_draws(ctx, ["A"]) for ctx in old)
    memory.begin(6 * S)
    assert [memory.needs_draws(ctx, ["A"]) for ctx in old] == [True, True] + [False] * 3
    memory.begin(7 * S)
    assert memory.needs_draws({"symbol": "NEW"}, ["A"])   # a new context takes a draw
    assert sum(memory.needs_draws(ctx, ["A"]) for ctx in old) == 1
    assert not memory.needs_draws({"symbol": "NEW2"}, ["A"])   # budget spent: pending
    with pytest.raises(ValueError, match="max_age_s"):
        Intervals(max_age_s=0.0)


def test_a_publish_that_carries_scores_as_one_that_draws(stats: Stats) -> None:
    """snapshots_of_stats with ``carry``: the contexts drawn before keep their intervals'
    distances and say when they were drawn; a memory that knows nothing and may draw
    nothing publishes the same scores with intervals pending (null); every other number is
    what a full draw publishes."""
    specs = catalog(["1s", "5s"])
    profile = BUILTIN["block"]
    memory = Intervals(max_age_s=3600.0, per_publish=0)
    first = snapshots_of_stats(stats, profile, specs, now_ns=1 * S, intervals=memory)
    assert len(memory) == len(first)
    again = snapshots_of_stats(stats, profile, specs, now_ns=2 * S, intervals=memory,
                               carry=True)
    drawn = snapshots_of_stats(stats, profile, specs, now_ns=2 * S)
    for got, want, before in zip(again, drawn, first, strict=True):
        assert (got.intervals_at_ns, got.computed_at_ns, want.intervals_at_ns) == (S, 2 * S,
                                                                                   2 * S)
        assert got.scores == before.scores == want.scores   # same stats: nothing moved
    pending = snapshots_of_stats(stats, profile, specs, now_ns=3 * S, intervals=Intervals(
        per_publish=0), carry=True)
    for got, want in zip(pending, drawn, strict=True):
        assert got.intervals_at_ns is None
        decoded = Snapshot.decode(got.encode())
        for a, b in zip(decoded.scores, want.scores, strict=True):
            assert a["ci_low"] is None and a["ci_high"] is None
            assert a["rank_stability"] is None
            assert (a["lp"], a["score"], a["rank"]) == (b["lp"], b["score"], b["rank"])
    snapshots_of_stats(stats, profile, specs, now_ns=3 * S, intervals=memory)  # draws all
    assert all(s.intervals_at_ns == 3 * S for s in snapshots_of_stats(
        stats, profile, specs, now_ns=4 * S, intervals=memory, carry=True))


@pytest.fixture(scope="module")
def stats() -> Stats:
    lps = (LpTruth("A", fill_prob=0.9, ack_ms=5.0, pi_bps=0.5, impact_bps=1.0),
           LpTruth("B", fill_prob=0.8, ack_ms=9.0, pi_bps=1.5, impact_bps=0.5))
    events, quotes = simulate(lps, 40, seed=3, symbol="ACME")
    result = compute_kpis(events, quotes, Config(), Quarantine())
    return kpi_stats(result, ["lp", "symbol", "size_bucket", "vol_regime"],
                     decay=BUILTIN["block"].decay)
