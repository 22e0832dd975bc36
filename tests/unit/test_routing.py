"""Routing decisions on hand-built snapshots: primary, spray, screening, fallbacks, reasons."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest

from lpscore.config import LpRule, RoutingConfig
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore
from lpscore.routing import (
    Allocation,
    Option,
    Policy,
    Primary,
    Router,
    RouteRequest,
    ScoreCache,
    Spray,
)
from lpscore.routing.policies import waterfill
from routing_builders import item, snap

ACME = {"symbol": "ACME"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache_with(*snapshots: object) -> ScoreCache:
    cache = ScoreCache(MemoryStore(), ["block"])
    for s in snapshots:
        cache.install(s)  # type: ignore[arg-type]
    assert cache.refresh()  # the (empty) store answered just now: not stale
    return cache


def request(qty: float = 10_000, **kw: object) -> RouteRequest:
    return RouteRequest("ACME", Side.SELL, qty, **kw)  # type: ignore[arg-type]


THREE = snap(ACME, item("LP_C", 1, 88.2, half=3.1), item("LP_D", 2, 70.0),
             item("LP_A", 3, 40.0))


def test_primary_picks_the_top_ranked_lp_with_a_readable_reason() -> None:
    plan = Router(cache_with(THREE), "block", RoutingConfig()).plan(request(), Primary())
    assert [(c.lp, c.qty) for c in plan.children] == [("LP_C", 10_000)]
    assert plan.children[0].reason == "LP_C: rank 1 under block, score 88.2 +/- 3.1"
    assert (plan.policy, plan.context, plan.fallback, plan.stale, plan.unrouted) == (
        "primary", "symbol=ACME", "", False, 0.0)
    assert plan.to_json()["children"] == [{"lp": "LP_C", "qty": 10_000,
                                           "reason": plan.children[0].reason}]


def test_ties_are_broken_by_evidence_then_name_and_say_so() -> None:
    tied = snap(ACME, item("LP_B", 1, 75.0, n=50), item("LP_A", 1, 75.0, n=50),
                item("LP_Z", 1, 75.0, n=400), item("LP_Q", 4, 10.0))
    plan = Router(cache_with(tied), "block", RoutingConfig()).plan(request(), Primary())
    assert plan.children[0].lp == "LP_Z"                      # most evidence
    assert plan.children[0].reason.endswith("tied with LP_A, LP_B")
    plan = Router(cache_with(tied), "block", RoutingConfig(killed=("LP_Z",))).plan(
        request(), Primary())
    assert plan.children[0].lp == "LP_A"                      # then by name
    assert [(s.lp, s.why) for s in plan.skipped] == [("LP_Z", "kill switch")]


def test_killed_lp_is_skipped_from_config_and_at_runtime() -> None:
    router = Router(cache_with(THREE), "block", RoutingConfig(killed=("LP_C",)))
    assert router.plan(request(), Primary()).children[0].lp == "LP_D"
    router.kill("LP_D")
    plan = router.plan(request(), Primary())
    assert plan.children[0].lp == "LP_A"
    assert {s.lp for s in plan.skipped} == {"LP_C", "LP_D"}
    router.revive("LP_D")
    assert router.plan(request(), Primary()).children[0].lp == "LP_D"


def test_reject_cool_down_is_per_symbol_and_expires() -> None:
    clock = Clock()
    router = Router(cache_with(THREE, snap({"symbol": "XYZ"}, item("LP_C", 1, 90.0))),
                    "block", RoutingConfig(reject_cooldown_s=30), clock=clock)
    router.record_reject("LP_C", "ACME")
    clock.now += 12.0
    plan = router.plan(request(), Primary())
    assert plan.children[0].lp == "LP_D"
    assert plan.skipped[0].lp == "LP_C"
    assert plan.skipped[0].why == "rejected ACME 12.0 s ago (cool-down 30 s)"
    other = router.plan(RouteRequest("XYZ", Side.BUY, 100), Primary())
    assert other.children[0].lp == "LP_C"                    # another symbol: not cooled
    clock.now += 18.5
    assert router.plan(request(), Primary()).children[0].lp == "LP_C"


def test_all_provisional_context_routes_but_says_so_or_falls_back_when_excluded() -> None:
    fine = snap(ACME, item("LP_A", 1, 80.0, provisional=True, n=3),
                item("LP_B", 2, 60.0, provisional=True, n=2))
    coarse = snap({}, item("LP_B", 1, 70.0, n=900), item("LP_A", 2, 65.0, n=800))
    plan = Router(cache_with(fine, coarse), "block", RoutingConfig()).plan(request(),
                                                                            Primary())
    assert plan.children[0].lp == "LP_A"
    assert plan.children[0].reason.endswith("provisional (n=3)")
    strict = Router(cache_with(fine, coarse), "block",
                    RoutingConfig(exclude_provisional=True)).plan(request(), Primary())
    assert (strict.children[0].lp, strict.context) == ("LP_B", "*")
    assert strict.fallback == "no eligible LP at symbol=ACME; used *"
    assert {s.lp for s in strict.skipped} == set()           # skipped at the level used


def test_nothing_eligible_anywhere_uses_the_static_ranking_then_nothing() -> None:
    only = snap(ACME, item("LP_A", 1, 80.0, provisional=True))
    config = RoutingConfig(exclude_provisional=True, static_ranking=("LP_S", "LP_A"))
    plan = Router(cache_with(only), "block", config).plan(request(), Primary())
    assert (plan.context, plan.children[0].lp) == ("static", "LP_S")
    assert plan.children[0].reason == "LP_S: static rank 1 (no published scores)"
    assert plan.fallback == ("no eligible LP at symbol=ACME; no scores at *; "
                             "used the static ranking")
    none = Router(cache_with(only), "block",
                  RoutingConfig(exclude_provisional=True)).plan(request(), Primary())
    assert none.children == () and none.unrouted == 10_000
    assert none.fallback.endswith("no static ranking configured (routing.static_ranking)")


def test_context_falls_back_from_finest_to_coarser() -> None:
    bucket = snap({"symbol": "ACME", "size_bucket": "adv>=2%"}, item("LP_D", 1, 90.0))
    router = Router(cache_with(THREE, bucket), "block", RoutingConfig())
    exact = router.plan(request(context={"size_bucket": "adv>=2%"}), Primary())
    assert (exact.context, exact.fallback, exact.children[0].lp) == (
        "symbol=ACME,size_bucket=adv>=2%", "", "LP_D")
    finer = router.plan(request(context={"size_bucket": "adv>=2%", "vol_regime": "high"}),
                        Primary())
    assert finer.context == "symbol=ACME,size_bucket=adv>=2%"
    assert finer.fallback == ("no scores at symbol=ACME,size_bucket=adv>=2%,vol_regime=high; "
                              "used symbol=ACME,size_bucket=adv>=2%")
    other = router.plan(request(context={"size_bucket": "adv<0.1%"}), Primary())
    assert (other.context, other.children[0].lp) == ("symbol=ACME", "LP_C")
    assert router.chain(request(context={"vol_regime": "high"})) == ("symbol=ACME", "*")


def test_without_a_cache_decisions_are_static_and_stale() -> None:
    plan = Router(None, "block", RoutingConfig(static_ranking=("LP_X",))).plan(request(),
                                                                               Primary())
    assert (plan.stale, plan.context, plan.children[0].lp) == (True, "static", "LP_X")


def test_symbol_and_size_rules() -> None:
    config = RoutingConfig(lps={"LP_C": LpRule(symbols=("XYZ",)),
                                "LP_D": LpRule(max_notional=100_000.0)})
    router = Router(cache_with(THREE), "block", config)
    plan = router.plan(request(), Primary())
    assert plan.children[0].lp == "LP_A"   # LP_D has a notional cap and the order no price
    assert [(s.lp, s.why) for s in plan.skipped] == [
        ("LP_C", "not allowed ACME (routing.lps.LP_C.symbols)"),
        ("LP_D", "has a max_notional and the order no price")]
    priced = router.plan(request(price=25.0), Primary())   # LP_D can take 4,000 of 10,000
    assert [(c.lp, c.qty) for c in priced.children] == [("LP_D", 4_000)]
    assert priced.children[0].reason.endswith("cut to its maximum 4,000; 6,000 left to re-route")
    assert priced.unrouted == 6_000


def test_spray_sizes_by_score_fill_rate_and_typical_fill() -> None:
    snapshot = snap(ACME, item("LP_C", 1, 80.0, fill_rate=1.0, per_order=40_000),
                    item("LP_D", 2, 60.0, fill_rate=0.5, per_order=20_000),
                    item("LP_A", 3, 40.0, fill_rate=1.0, per_order=10_000),
                    item("LP_B", 4, 30.0))
    plan = Router(cache_with(snapshot), "block", RoutingConfig(lot_size=100)).plan(
        request(100_000), Spray(3))
    # weights 80*1*40k = 3.2M, 60*.5*20k = .6M, 40*1*10k = .4M of 4.2M: 76,190 / 14,286 /
    # 9,524, down to whole lots of 100 (76,100 / 14,200 / 9,500), the 200 left to the largest
    assert [(c.lp, c.qty) for c in plan.children] == [
        ("LP_C", 76_300), ("LP_D", 14_200), ("LP_A", 9_500)]
    assert sum(c.qty for c in plan.children) == 100_000
    assert plan.children[1].reason == (
        "LP_D: rank 2 under block, score 60.0 +/- 3.0; 14% of 100,000 by score 60.0 x "
        "fill rate 0.50 x typical fill 20,000")


def test_spray_respects_maximums_minimums_and_lots() -> None:
    snapshot = snap(ACME, item("LP_C", 1, 80.0), item("LP_D", 2, 60.0),
                    item("LP_A", 3, 40.0))
    config = RoutingConfig(lot_size=100, lps={"LP_C": LpRule(max_qty=20_000),
                                              "LP_A": LpRule(min_qty=35_000)})
    plan = Router(cache_with(snapshot), "block", config).plan(request(100_000), Spray(3))
    sizes = {c.lp: c.qty for c in plan.children}
    # LP_C capped at 20,000; the 80,000 left splits 60:40, LP_A's 32,000 is under its 35,000
    # minimum: dropped, so LP_D takes the rest
    assert sizes == {"LP_C": 20_000, "LP_D": 80_000}
    assert plan.children[0].reason.endswith("at its maximum 20,000")


def test_spray_never_exceeds_the_order_and_leaves_what_no_lp_can_take() -> None:
    snapshot = snap(ACME, item("LP_C", 1, 80.0), item("LP_D", 2, 60.0))
    config = RoutingConfig(lps={"LP_C": LpRule(max_qty=3_000), "LP_D": LpRule(max_qty=2_000)})
    plan = Router(cache_with(snapshot), "block", config).plan(request(10_000), Spray(3))
    assert {c.lp: c.qty for c in plan.children} == {"LP_C": 3_000, "LP_D": 2_000}
    assert plan.unrouted == 5_000


def test_waterfill_hands_capped_quantity_to_the_others() -> None:
    sizes, left = waterfill(100.0, [3.0, 1.0], [50.0, 100.0])
    assert sizes == pytest.approx([50.0, 50.0]) and left == 0.0
    sizes, left = waterfill(100.0, [1.0, 1.0], [10.0, 20.0])
    assert sizes == pytest.approx([10.0, 20.0]) and left == pytest.approx(70.0)


class Everything(Policy):
    """A custom policy: everything to the last eligible LP (plugs in unchanged)."""

    name = "last"

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        everyone = list(options)
        return [Allocation(everyone[-1].candidate, qty, "custom")] if everyone else []


def test_a_custom_policy_plugs_into_the_router() -> None:
    plan = Router(cache_with(THREE), "block", RoutingConfig()).plan(request(), Everything())
    assert plan.policy == "last"
    assert plan.children[0].lp == "LP_A"
    assert plan.children[0].reason.endswith("; custom")


def test_stale_when_the_store_has_not_answered_for_too_long() -> None:
    clock = Clock()
    cache = ScoreCache(MemoryStore(), ["block"], stale_after_s=5.0, clock=clock)
    cache.install(THREE)
    assert cache.stale("block")                       # never reached the store
    assert cache.refresh()
    assert not cache.stale("block")
    clock.now += 5.5
    assert cache.stale("block")
    plan = Router(cache, "block", RoutingConfig(), clock=clock).plan(request(), Primary())
    assert plan.stale and plan.children[0].lp == "LP_C"   # still routes on the last good


def test_stale_when_the_newest_publish_is_too_old() -> None:
    store = MemoryStore()
    store.publish([snap(ACME, item("LP_C", 1, 80.0), at=1_000_000_000)])
    wall = [1_000_000_000 + 10 * 10**9]
    cache = ScoreCache(store, ["block"], max_publish_age_s=60.0, wall_ns=lambda: wall[0])
    assert cache.refresh() and not cache.stale("block")
    wall[0] += 60 * 10**9
    assert cache.stale("block")


def test_an_unreadable_snapshot_is_counted_and_the_last_good_one_kept() -> None:
    store = MemoryStore()
    store.publish([THREE])
    cache = ScoreCache(store, ["block"])
    assert cache.refresh()
    broken = snap(ACME, {"lp": "LP_X", "score": 99.0}, at=2)          # no rank, no interval
    store.publish([broken])
    assert cache.refresh()                                             # the store answered
    assert cache.bad_snapshots == 1
    assert "unreadable" in str(cache.last_error)
    assert cache.entry("block", "symbol=ACME").snapshot == THREE.with_version(1)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unreadable"):
        cache.install(broken)


def test_the_request_symbol_wins_over_a_symbol_in_its_context() -> None:
    router = Router(cache_with(THREE), "block", RoutingConfig())
    odd = RouteRequest("ACME", Side.BUY, 1, context={"symbol": "XYZ", "size_bucket": ""})
    assert router.chain(odd) == ("symbol=ACME,size_bucket=", "symbol=ACME", "*")
    assert router.chain(request()) == ("symbol=ACME", "*")


def test_a_pending_interval_routes_on_the_score_and_says_so() -> None:
    """A stream's snapshot whose intervals are not drawn yet (null, docs/stream.md) routes
    as any other; the reason says the interval is pending."""
    pending = item("LP_C", 1, 88.2)
    pending["ci_low"] = pending["ci_high"] = None
    cache = cache_with(snap(ACME, pending, item("LP_D", 2, 70.0)))
    plan = Router(cache, "block", RoutingConfig()).plan(request(), Primary())
    assert [(c.lp, c.qty) for c in plan.children] == [("LP_C", 10_000)]
    assert plan.children[0].reason == "LP_C: rank 1 under block, score 88.2 (interval pending)"


def test_remembered_screening_follows_the_symbol_config_snapshot_and_runtime_state() -> None:
    """What the rules decide about a snapshot's LPs is worked out once per snapshot, symbol
    and configuration (Entry.memo); the order's exclusions, the kill switch and the
    cool-downs are still checked at every decision."""
    star = snap({}, item("LP_C", 1, 88.2), item("LP_D", 2, 70.0), item("LP_A", 3, 40.0))
    clock = Clock()
    config = RoutingConfig(lps={"LP_C": LpRule(symbols=("XYZ",)),
                                "LP_D": LpRule(max_qty=3_000.0)})
    router = Router(cache_with(star), "block", config, clock=clock)

    def first(symbol: str, **kw: object) -> tuple[str, float]:
        plan = router.plan(RouteRequest(symbol, Side.SELL, 10_000, **kw),  # type: ignore[arg-type]
                           Primary())
        return plan.children[0].lp, plan.children[0].qty

    assert first("ACME") == ("LP_D", 3_000)        # LP_C not allowed ACME, LP_D capped
    assert first("XYZ") == ("LP_C", 10_000)        # same snapshot, another symbol
    assert first("ACME") == ("LP_D", 3_000)        # remembered, the same answer
    assert first("XYZ", exclude=frozenset({"LP_C"})) == ("LP_D", 3_000)
    router.kill("LP_D")
    assert first("ACME") == ("LP_A", 10_000)
    router.revive("LP_D")
    router.record_reject("LP_D", "ACME")
    assert first("ACME") == ("LP_A", 10_000)
    clock.now += config.reject_cooldown_s + 1
    assert first("ACME") == ("LP_D", 3_000)
    router.config = RoutingConfig()                # a new configuration: worked out afresh
    assert first("ACME") == ("LP_C", 10_000)
    assert router.cache is not None                # a new snapshot: worked out afresh
    router.cache.install(snap({}, item("LP_A", 1, 90.0), item("LP_C", 2, 88.2)))
    assert first("ACME") == ("LP_A", 10_000)


def test_spray_weights_follow_new_candidates_not_a_remembered_set() -> None:
    """The spray remembers each set of candidates' weights; a new snapshot version of the
    same LPs (new candidates) must be weighed afresh."""
    spray = Spray(2)
    before = snap(ACME, item("LP_C", 1, 80.0, fill_rate=1.0), item("LP_D", 2, 80.0,
                                                                    fill_rate=1.0))
    after = snap(ACME, item("LP_C", 1, 80.0, fill_rate=1.0), item("LP_D", 2, 80.0,
                                                                   fill_rate=0.25))
    router = Router(cache_with(before), "block", RoutingConfig(lot_size=100))
    first = router.plan(request(100_000), spray)
    assert [(c.lp, c.qty) for c in first.children] == [("LP_C", 50_000), ("LP_D", 50_000)]
    assert router.plan(request(100_000), spray) == first      # same set: same answer
    assert router.cache is not None
    router.cache.install(after)
    # weights 80 x 1 x 50k and 80 x .25 x 50k: 80% / 20%
    assert [(c.lp, c.qty) for c in router.plan(request(100_000), spray).children] == [
        ("LP_C", 80_000), ("LP_D", 20_000)]


@pytest.mark.parametrize(("qty", "price"), [(float("nan"), None), (-100.0, None),
                                            (float("inf"), None), (100.0, 0.0),
                                            (100.0, float("nan")), (100.0, -20.0)])
def test_a_request_with_a_bad_quantity_or_price_is_refused(qty: float,
                                                           price: float | None) -> None:
    """A library caller's request is checked too (the CLI and the parent order check theirs):
    a NaN quantity would otherwise fail deep in a policy's rounding."""
    with pytest.raises(ValueError, match="route request ACME"):
        RouteRequest("ACME", Side.SELL, qty, price=price)
    assert RouteRequest("ACME", Side.SELL, 0.0, price=None).qty == 0.0


def test_a_context_key_no_level_can_hold_is_said_not_dropped() -> None:
    """``--context vol_regime=high`` without a size bucket matched no published level (a
    level is a prefix of symbol, size bucket, regime): it was dropped and the plan said the
    order's own context decided (fallback empty)."""
    router = Router(cache_with(THREE), "block", RoutingConfig())
    plan = router.plan(request(context={"vol_regime": "high"}), Spray())
    assert plan.context == "symbol=ACME"
    assert plan.fallback == ("vol_regime=high not used: published levels need size_bucket "
                             "before it (give the order's price, or size_bucket=)")
    fell = router.plan(request(context={"size_bucket": "<10k", "vol_regime": "high"}), Spray())
    assert "not used" not in fell.fallback     # the chain itself falls back to symbol=ACME
    assert router.plan(request(), Spray()).fallback == ""


def test_a_nan_fill_rate_is_unknown_as_a_missing_one() -> None:
    """A NaN fill rate skipped the 'unknown: the others' median' rule (the split became
    equal, the reason said 'fill rate nan'); the store's JSON reads it back as null, so a
    memory and a Redis store split the same order differently."""
    def split(rate: float | None) -> dict[str, float]:
        got = snap(ACME, item("LP_C", 1, 88.0, fill_rate=0.9),
                   item("LP_D", 2, 70.0, fill_rate=rate), item("LP_A", 3, 40.0, fill_rate=0.3))
        plan = Router(cache_with(got), "block", RoutingConfig()).plan(request(), Spray())
        assert "nan" not in " ".join(c.reason for c in plan.children)
        return {c.lp: c.qty for c in plan.children}
    assert split(math.nan) == split(None)
