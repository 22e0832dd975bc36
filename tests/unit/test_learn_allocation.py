"""Learning allocators: greedy is optimal for known curves, learners approach the ideal on the
dark pool problem, exploration never starves a venue, decay follows a change, and the
allocators plug into the router."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable

import numpy as np
import pytest

from clirun import lpscore
from lpscore.config import RoutingConfig
from lpscore.learn.allocation import Allocator, GreedyKM, ThompsonKM, UniformSplit, greedy
from lpscore.learn.darkpool import VENUES, DarkVenue, run_darkpool
from lpscore.learn.policy import CensoredGreedy
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore
from lpscore.routing import Outcome, Router, RouteRequest, ScoreCache
from routing_builders import item, snap


def test_greedy_is_the_brute_force_optimum_for_known_curves() -> None:
    curves = {"A": lambda v: 0.9 ** v, "B": lambda v: 0.5 if v <= 3 else 0.05,
              "C": lambda v: 1.0 / (1 + v)}

    def expected(plan: dict[str, int]) -> float:   # E[sum min(s, V)] = sum_v P(V >= v)
        return sum(curves[k](v) for k, s in plan.items() for v in range(1, s + 1))

    best = max((dict(zip("ABC", split, strict=True))
                for split in itertools.product(range(9), repeat=3) if sum(split) == 8),
               key=expected)
    got = greedy(8, 1, ["A", "B", "C"], lambda k, v: curves[k](v))
    assert math.isclose(expected({k: int(v) for k, v in got.items()}), expected(best))
    capped = greedy(8, 1, ["A", "B", "C"], lambda k, v: curves[k](v), caps=[2, 8, 8])
    assert capped["A"] == 2 and sum(capped.values()) == 8


def test_greedy_continues_from_a_start() -> None:
    # A's units fill with 0.9, 0.8, ...; B's with 0.5 flat. B already holds one unit (a
    # probe), so the other 4 go A, A, A, A (0.9, 0.8, 0.7, 0.6 > 0.5) and total is 5.
    def at_least(venue: str, size: float) -> float:
        return 1.0 - size / 10 if venue == "A" else 0.5

    assert greedy(5, 1, ["A", "B"], at_least, start=[0, 1]) == {"A": 4, "B": 1}
    assert greedy(5, 1, ["A", "B"], at_least) == {"A": 5, "B": 0}
    assert greedy(7, 1, ["A", "B"], at_least, start=[0, 1]) == {"A": 5, "B": 2}   # 0.5 tie
    # a venue whose start reaches its cap gets nothing more
    assert greedy(5, 1, ["A", "B"], at_least, caps=[2, 9], start=[2, 0]) == {"A": 2, "B": 3}


def test_uniform_split_by_hand_and_without_venues() -> None:
    assert UniformSplit(10).allocate(30, ["A", "B", "C", "D"]) == {"A": 10, "B": 10, "C": 10,
                                                                   "D": 0}
    with pytest.raises(ValueError, match="no venues"):
        UniformSplit(10).allocate(30, [])


def test_dark_venue_truth_is_the_floored_draws_tail() -> None:
    # V = floor(T), T Lomax: P(V >= v) = P(T >= ceil(v)) = (1 - zero) (1 + ceil(v) / scale)^-a
    venue = DarkVenue("X", 0.5, 1.0, 2.0)
    assert venue.at_least(0) == 1.0
    assert venue.at_least(1) == pytest.approx(0.5 / 1.5, rel=1e-12)     # not P(V >= 0) = 0.5
    assert venue.at_least(0.5) == pytest.approx(0.5 / 1.5, rel=1e-12)   # V is whole shares
    assert venue.at_least(2) == pytest.approx(0.5 / 2.0, rel=1e-12)
    assert venue.at_least(2.5) == pytest.approx(0.5 / 2.5, rel=1e-12)
    draws = venue.draw(np.random.default_rng(11), 400_000)
    for v in (1, 2, 3, 10, 50):          # standard error below 0.001
        assert float((draws >= v).mean()) == pytest.approx(venue.at_least(v), abs=0.004), v


@pytest.mark.parametrize("make", [lambda e: GreedyKM(10, explore=e, seed=3),
                                  lambda e: ThompsonKM(10, explore=e, seed=3)])
def test_probes_give_each_venue_a_first_unit(make: Callable[[float], Allocator]) -> None:
    venues = ["A", "B", "C"]
    every = make(1.0)
    for _ in range(3):
        every.observe("A", 500, 500)      # A looks bottomless, B and C empty
        every.observe("B", 500, 0)
        every.observe("C", 500, 0)
    plan = every.allocate(100, venues)
    assert plan == {"A": 80, "B": 10, "C": 10}
    assert every.allocate(20, venues) == {"A": 10, "B": 10, "C": 0}   # no room for C's
    never = make(0.0)
    for _ in range(3):
        never.observe("A", 500, 500)
        never.observe("B", 500, 0)
        never.observe("C", 500, 0)
    assert never.allocate(100, venues) == {"A": 100, "B": 0, "C": 0}


def test_learners_approach_the_ideal_on_the_dark_pool_problem() -> None:
    runs = run_darkpool(VENUES, total=1_000, episodes=1_000, seeds=range(4))

    def of_ideal(name: str, start: int, end: int) -> float:
        return float(runs[name][:, start:end].mean() / runs["ideal"][:, start:end].mean())

    # the target: 95% of the ideal within 200 episodes (greedy, seeded, 4 seeds)
    assert of_ideal("greedy_km", 150, 200) >= 0.95
    assert of_ideal("greedy_km", 500, 1_000) >= 0.95
    late = {name: of_ideal(name, 500, 1_000) for name in runs}
    assert late["uniform"] < 0.8 and late["bandit"] < 0.85
    assert late["thompson_km"] > max(late["uniform"], late["bandit"])
    # the same draws for every allocator on a seed: ideal is best episode-averaged
    assert all(runs["ideal"].mean() >= done.mean() - 0.005 for done in runs.values())


@pytest.mark.parametrize("make", [lambda: GreedyKM(10, explore=0.05, seed=1),
                                  lambda: ThompsonKM(10, explore=0.05, seed=1)])
def test_exploration_never_starves_a_venue(make: Callable[[], Allocator]) -> None:
    dead, rich = DarkVenue("dead", 0.999, 1.0, 10.0), DarkVenue("rich", 0.0, 0.5, 1e6)
    allocator = make()
    rng = np.random.default_rng(3)
    sent_to_dead = 0
    for _ in range(2_000):
        plan = allocator.allocate(1_000, ["dead", "rich"])
        for venue in (dead, rich):
            sent = plan[venue.name]
            if sent:
                allocator.observe(venue.name, sent, min(sent, float(venue.draw(rng, 1)[0])))
        sent_to_dead += plan["dead"] > 0
    assert 50 < sent_to_dead < 200          # about 5% x 1/2 of 2,000, never zero


def test_learners_recover_after_two_venues_swap() -> None:
    # the target on a small seeded configuration: the best venue and the runner-up
    # exchange distributions at episode 300; 200 episodes later greedy is back near ideal
    runs = run_darkpool(VENUES, total=1_000, episodes=500, seeds=range(6), swap_at=300,
                        allocators=("ideal", "uniform", "greedy_km"))

    def of_ideal(name: str, start: int, end: int) -> float:
        return float(runs[name][:, start:end].mean() / runs["ideal"][:, start:end].mean())

    assert of_ideal("greedy_km", 250, 300) >= 0.95          # before the swap
    assert of_ideal("greedy_km", 450, 500) >= 0.95          # 150-200 episodes after it
    assert of_ideal("uniform", 450, 500) < 0.8


def test_decay_follows_a_venue_that_dries_up() -> None:
    def share_to_first(decay: float) -> float:
        allocator = GreedyKM(10, decay=decay, explore=0.05, seed=2)
        rng = np.random.default_rng(5)
        first, second = DarkVenue("X", 0.0, 2.0, 800.0), DarkVenue("Y", 0.3, 2.0, 400.0)
        share = 0.0
        for episode in range(1_200):
            if episode == 600:
                first = DarkVenue("X", 0.97, 2.0, 800.0)       # X dries up
            plan = allocator.allocate(1_000, ["X", "Y"])
            for venue in (first, second):
                sent = plan[venue.name]
                if sent:
                    allocator.observe(venue.name, sent,
                                      min(sent, float(venue.draw(rng, 1)[0])))
            if episode >= 1_000:
                share += plan["X"] / 1_000 / 200
        return share

    assert share_to_first(0.98) < share_to_first(1.0) - 0.1


def test_thompson_draws_differ_and_stay_within_the_order() -> None:
    allocator = ThompsonKM(10, seed=4)
    for filled in (120, 40, 250, 300, 90):     # five orders each: uncertain curves
        allocator.observe("A", 300, filled)
        allocator.observe("B", 300, min(300, filled + 60))
    plans = {tuple(allocator.allocate(600, ["A", "B"]).values()) for _ in range(20)}
    assert len(plans) > 1 and all(sum(p) == 600 for p in plans)


def test_a_learning_policy_plugs_into_the_router() -> None:
    cache = ScoreCache(MemoryStore(), ["block"])
    cache.install(snap({"symbol": "ACME"}, item("LP_A", 1, 80.0), item("LP_B", 2, 60.0)))
    policy = CensoredGreedy(100, explore=0.0, decay=1.0)
    router = Router(cache, "block", RoutingConfig(lot_size=100))
    for _ in range(30):
        policy.observe(Outcome("LP_A", "ACME", 1_000, 200, False))   # A holds about 200
        policy.observe(Outcome("LP_B", "ACME", 1_000, 1_000, False))  # B took everything
        policy.observe(Outcome("LP_A", "ACME", 1_000, 0, True))      # a reject: ignored
    plan = router.plan(RouteRequest("ACME", Side.BUY, 2_000), policy)
    sizes = {c.lp: c.qty for c in plan.children}
    assert sizes["LP_B"] > sizes.get("LP_A", 0) and sum(sizes.values()) == 2_000
    assert "P(available >=" in plan.children[0].reason
    assert policy.allocator.model.n("LP_A") == 30


@pytest.mark.parametrize("sizes", ["1.5", "1000,0.5", "", "1000,x", "-5", "inf"])
def test_bench_allocation_refuses_sizes_that_are_not_whole_and_positive(sizes: str) -> None:
    """``--sizes 1.5`` ran as V = 1 (cut by int())."""
    done = lpscore("bench-allocation", "--seeds", "2", "--episodes", "100", "--sizes", sizes,
                   "--format", "json")
    assert done.returncode == 2, done.stdout
    assert "--sizes" in done.stderr and "Traceback" not in done.stderr


def test_bench_allocation_command_json() -> None:
    done = lpscore("bench-allocation", "--seeds", "2", "--episodes", "200", "--sizes", "1000",
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    rows = payload["dark_pool"]
    assert {(r["config"], r["V"]) for r in rows} == {("ganchev4", 1000),
                                                     ("ganchev4_swap", 1000)}
    assert [r["policy"] for r in rows[:5]] == ["ideal", "uniform", "bandit", "greedy_km",
                                               "thompson_km"]
    for r in rows:
        assert set(r["fraction_of_ideal"]) == {"50", "200"}
        assert isinstance(r["below_uniform"], bool)
    ideal = rows[0]
    assert ideal["fraction_of_ideal"] == {"50": 1.0, "200": 1.0}
    assert "after_swap" in rows[5] and "after_swap" not in rows[0]
    cases = payload["cont_kukanov"]
    assert [c["case"] for c in cases] == ["1 venue, cap 20", "2 venues, cap 20",
                                          "2 venues, cap 10"]
    for case in cases:   # brute force on the grid is the optimum; SGD within 1% of it
        assert case["optimum"] <= case["cost"] + 1e-9
        assert 0 <= case["gap"] < 0.01
    capped = cases[2]    # at the cap, clip-then-rescale settles measurably worse
    assert capped["clip_rescale_cost"] > capped["cost"] + 0.1
