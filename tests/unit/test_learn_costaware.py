"""lpscore.learn.policy.CostAwareGreedy: expected-cost splitting on the censored liquidity
model and the scorecard's costs, by hand; snapshot_costs; it plugs into the router."""

from __future__ import annotations

import pytest

from lpscore.config import RoutingConfig
from lpscore.learn.policy import CostAwareGreedy, snapshot_costs
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore
from lpscore.publish.snapshot import Snapshot
from lpscore.routing import Outcome, Router, RouteRequest, ScoreCache
from lpscore.routing.candidates import static_candidates
from lpscore.routing.policies import default_options
from routing_builders import item, snap

OPTIONS = default_options(static_candidates(("G", "D")))


def fitted(cost_d: float) -> CostAwareGreedy:
    """D (a dark pool): V = 0, V = 500, V >= 1000 twice, so in lots of 100
    P(V >= 100..500) = 3/4 and P(V >= 600..) = 3/4 * 2/3 = 1/2; G fills everything."""
    policy = CostAwareGreedy(100, {"D": cost_d, "G": -0.6}.get, reroute_bps=0.5,
                             explore=0.0, prior=0.0, decay=1.0)
    for filled in (0, 500, 1_000, 1_000):
        policy.observe(Outcome("D", "ACME", 1_000, filled, False))
    for _ in range(3):
        policy.observe(Outcome("G", "ACME", 1_000, 1_000, False))
    return policy


def sizes(policy: CostAwareGreedy, qty: float) -> dict[str, float]:
    return {a.candidate.lp: a.qty for a in policy.allocate(qty, OPTIONS, 100)}


def test_the_cheap_uncertain_venue_first_when_its_expected_saving_is_larger() -> None:
    # G is sure (P = 1 >= 0.9): an unfilled share costs G's -0.6 + 0.5 re-routing = -0.1.
    # D saves P(fill) * (-0.1 - -2.5) = 2.4 * 3/4 and 2.4 * 1/2 per lot; G 1 * 0.5: all to D
    assert sizes(fitted(-2.5), 2_000) == {"D": 2_000}


def test_split_where_the_marginal_savings_cross() -> None:
    # cost of D -1.0: D's lots save 0.9 * 3/4 = 0.675 up to 500, then 0.9 * 1/2 = 0.45,
    # below G's 0.5: D takes 500, G the rest
    assert sizes(fitted(-1.0), 1_200) == {"G": 700, "D": 500}
    # cost of D -0.4: 0.3 * 3/4 = 0.225 < 0.5 from the first lot: all to G
    assert sizes(fitted(-0.4), 1_200) == {"G": 1_200}


def test_rejects_lower_the_fill_probability() -> None:
    policy = fitted(-1.0)
    assert policy.fill_prob("G", 1_000) == pytest.approx(1.0)
    policy.observe(Outcome("G", "ACME", 1_000, 0, True))   # 1 reject in 4 children
    assert policy.fill_prob("G", 1_000) == pytest.approx(0.75)
    assert policy.allocator.model.n("G") == 3              # not a liquidity observation
    # G is no longer sure: an unfilled share costs the worst known cost, -0.6, + 0.5;
    # D saves 0.9 * 3/4 = 0.675 then 0.45, G 0.75 * 0.5 = 0.375: D takes it all
    assert sizes(policy, 1_200) == {"D": 1_200}


def test_unknown_costs_count_as_the_worst_known() -> None:
    policy = CostAwareGreedy(100, {"G": -0.6}.get, explore=0.0, prior=0.0)
    assert policy.fill_prob("D", 500) == 1.0        # never seen, no prior: optimistic
    for _ in range(3):
        policy.observe(Outcome("D", "ACME", 1_000, 1_000, False))
        policy.observe(Outcome("G", "ACME", 1_000, 1_000, False))
    # both cost -0.6; both sure; an unfilled share -0.1: equal savings, ties to G (first)
    assert sizes(policy, 500) == {"G": 500}


def test_bad_parameters() -> None:
    costs: dict[str, float] = {}
    with pytest.raises(ValueError, match="reroute_bps"):
        CostAwareGreedy(100, costs.get, reroute_bps=-1)
    with pytest.raises(ValueError, match="sure"):
        CostAwareGreedy(100, costs.get, sure=0)


def test_snapshot_costs_from_the_scorecard_kpis() -> None:
    snapshot = Snapshot("block", {}, [
        {"lp": "D", "kpis": {"pi_bps": 2.5, "impact_bps_5s": 1.0}},
        {"lp": "G", "kpis": {"pi_bps": 0.6, "impact_bps_5s": 0.4}},
        {"lp": "W", "kpis": {"pi_bps": None, "impact_bps_5s": 3.0}},     # not enough data
        {"lp": "X"}], computed_at_ns=0, watermark_ns=None)
    assert snapshot_costs(snapshot) == pytest.approx({"D": -2.5, "G": -0.6})
    assert snapshot_costs(snapshot, impact_weight=0.5) == pytest.approx({"D": -2.0, "G": -0.4})
    assert snapshot_costs(None) == {}


def test_it_plugs_into_the_router() -> None:
    cache = ScoreCache(MemoryStore(), ["block"])
    cache.install(snap({"symbol": "ACME"}, item("LP_A", 1, 80.0), item("LP_B", 2, 60.0)))
    policy = CostAwareGreedy(100, {"LP_A": 0.0, "LP_B": -2.0}.get, explore=0.0)
    for _ in range(20):
        policy.observe(Outcome("LP_A", "ACME", 1_000, 1_000, False))
        policy.observe(Outcome("LP_B", "ACME", 1_000, 1_000, False))
    router = Router(cache, "block", RoutingConfig(lot_size=100))
    plan = router.plan(RouteRequest("ACME", Side.BUY, 2_000), policy)
    assert {c.lp: c.qty for c in plan.children} == {"LP_B": 2_000}   # cheaper, as sure
    assert "expected saving" in plan.children[0].reason
