"""Properties of the spray and primary allocations, whatever the scores and limits."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from lpscore.config import ContextConfig
from lpscore.kpi.context import _cut, size_bucket_of
from lpscore.routing import Candidate, Option, Primary, Spray
from lpscore.routing.policies import lots

QTY = st.floats(1.0, 1e7, allow_nan=False)


@st.composite
def options(draw: st.DrawFn) -> list[Option]:
    n = draw(st.integers(1, 8))
    out = []
    for rank in range(1, n + 1):
        score = draw(st.one_of(st.none(), st.floats(0.0, 100.0)))
        lo = draw(st.sampled_from([0.0, 100.0, 5_000.0]))
        hi = draw(st.sampled_from([math.inf, 1_000.0, 50_000.0, 1e6]))
        cand = Candidate(f"LP_{rank}", rank, score, 1.0, False, 10,
                         draw(st.one_of(st.none(), st.floats(0.0, 1.0))),
                         draw(st.one_of(st.none(), st.floats(0.0, 1e6))), f"LP_{rank}")
        out.append(Option(cand, lo, max(hi, lo)))
    return out


@given(options(), QTY, st.sampled_from([1.0, 100.0]), st.integers(1, 5))
def test_spray_stays_within_the_order_limits_and_lots(opts: list[Option], qty: float,
                                                      lot: float, k: int) -> None:
    allocations = Spray(k).allocate(qty, opts, lot)
    by_lp = {o.candidate.lp: o for o in opts}
    assert len(allocations) <= k
    assert len({a.candidate.lp for a in allocations}) == len(allocations)
    assert sum(a.qty for a in allocations) <= qty + 1e-6
    for a in allocations:
        o = by_lp[a.candidate.lp]
        assert a.qty > 0
        assert max(o.min_qty, lot) - 1e-6 <= a.qty <= o.max_qty + 1e-6
        assert abs(a.qty / lot - round(a.qty / lot)) < 1e-6


@given(options(), QTY, st.integers(1, 5))
def test_spray_routes_all_whole_lots_when_no_limit_binds(opts: list[Option], qty: float,
                                                         k: int) -> None:
    free = [Option(o.candidate, 0.0, math.inf) for o in opts]
    allocations = Spray(k).allocate(qty, free, 1.0)
    assert sum(a.qty for a in allocations) == lots(qty, 1.0)


@given(options(), QTY)
def test_primary_sends_one_child_to_the_best_lp_that_can_take_it(opts: list[Option],
                                                                 qty: float) -> None:
    allocations = Primary().allocate(qty, opts, 1.0)
    takers = [o for o in opts if lots(min(qty, o.max_qty), 1.0) >= max(o.min_qty, 1.0)]
    if not takers:
        assert allocations == []
        return
    (a,) = allocations
    assert a.candidate == takers[0].candidate
    assert a.qty == lots(min(qty, takers[0].max_qty), 1.0)


@settings(deadline=None)   # a Polars expression per example: slow on a loaded 2-core machine
@given(st.floats(1.0, 1e8), st.one_of(st.none(), st.floats(0.01, 1e4)),
       st.one_of(st.none(), st.floats(1.0, 1e9)))
def test_a_single_orders_size_bucket_is_the_kpi_engines(qty: float, price: float | None,
                                                       adv: float | None) -> None:
    """``lpscore route`` looks up the bucket the KPI engine filed the LPs' orders under."""
    config = ContextConfig()
    got = size_bucket_of(qty, price, adv, config)
    if adv is not None:
        value, edges, pct = qty / adv * 100.0, config.adv_pct_edges, True
    elif price is not None:
        value, edges, pct = qty * price, config.notional_edges, False
    else:
        assert got is None
        return
    expected = pl.select(_cut(pl.lit(value), edges, pct=pct)).item()
    assert got == expected


def test_spray_with_a_subnormal_weight_never_exceeds_the_order() -> None:
    """Found by Hypothesis: a typical fill of 5e-324 made 1.5 shares into 2."""
    tiny = Candidate("LP_1", 1, None, 1.0, False, 10, None, 5e-324, "LP_1")
    allocations = Spray(1).allocate(1.5, [Option(tiny, 0.0, math.inf)], 1.0)
    assert [a.qty for a in allocations] == [1.0]
