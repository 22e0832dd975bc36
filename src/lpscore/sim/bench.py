"""Routing policies compared on the same seeds: ``lpscore bench-routing``.

    table = bench_routing(load_scenario("default"), seeds=range(1, 21))

Each policy works the scenario's first parent order on the same seeds (the same market path,
the same LP draws, the same background flow), so policies differ only by where the order
went. Per policy: implementation shortfall vs the arrival mid (bps, positive = cost),
completion time, fill %, rejects, and the regret vs the oracle (shortfall minus the oracle's
on the same seed); mean and a 95% bootstrap interval across seeds (the fills are heavy
tailed, so no normal assumption).

- ``static``: always the first LP of ``[routing] static_ranking`` (the desk's habit);
- ``uniform``: equal slices to every LP;
- ``primary``: the scorecard's top LP, re-routing after rejects and partial fills;
- ``spray``: the scorecard's top LPs at once, sized by score and capacity;
- ``censored_greedy`` / ``censored_thompson``: no scores; learn each LP's available size
  from the fills (censored Kaplan-Meier, lpscore.learn) and split greedily on it;
- ``oracle``: knows every LP's true parameters at every moment (scheduled changes too) and
  sprays over the LPs of best true value per share.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpscore.errors import ConfigError
from lpscore.learn.policy import (
    CensoredGreedy,
    CensoredThompson,
    CostAwareGreedy,
    snapshot_costs,
)
from lpscore.routing import Primary, Spray, Uniform
from lpscore.routing.policies import Allocation, Option, Policy
from lpscore.sim.loop import SimResult, Simulation, leak_drift_bps
from lpscore.sim.lps import expected_fill_rate
from lpscore.sim.scenario import Scenario

__all__ = ["POLICY_NAMES", "Interval", "Oracle", "PolicyResult", "bench_routing", "interval",
           "policy_variant", "scorecard_costs"]

POLICY_NAMES = ("static", "uniform", "primary", "spray", "censored_greedy",
                "censored_thompson", "cost_greedy", "oracle")


@dataclass(frozen=True, slots=True)
class Interval:
    mean: float
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, float]:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True, slots=True)
class PolicyResult:
    name: str
    runs: tuple[SimResult, ...]
    shortfall_bps: Interval
    completion_s: Interval
    fill_pct: Interval
    rejects: Interval
    regret_bps: Interval
    """Shortfall minus the oracle's on the same seed; NaN (null in the command's JSON)
    when the oracle was not among the policies."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "seeds": len(self.runs),
                "shortfall_bps": self.shortfall_bps.to_json(),
                "completion_s": self.completion_s.to_json(),
                "fill_pct": self.fill_pct.to_json(), "rejects": self.rejects.to_json(),
                "regret_bps": self.regret_bps.to_json()}


def interval(values: Sequence[float], *, seed: int = 0, resamples: int = 4000,
             level: float = 0.95) -> Interval:
    """Mean and percentile-bootstrap interval of the mean."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    means = np.random.default_rng(seed).choice(x, size=(resamples, x.size)).mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(x.mean()), float(low), float(high))


class Oracle(Policy):
    """Spray over the LPs of best *true* value per share routed (see the module docstring)."""

    name = "oracle"

    def __init__(self, sim: Simulation, top_k: int) -> None:
        self._sim = sim
        self._spray = Spray(top_k)

    def value(self, lp: str, qty: float) -> tuple[float, float]:
        """(value in bps per share routed, expected fill rate) of ``lp`` now: what a fill
        saves against paying the half spread (price improvement, or the whole half spread at
        a dark pool), minus what its leak costs the rest of the order, times the chance of
        the fill."""
        sim = self._sim
        params = sim.lps[lp].params_at(sim.now_ns)
        fill = expected_fill_rate(params, qty, sim.market.regime_at(sim.now_ns))
        market = sim.scenario.market
        half = market.half_spread_bps
        # a share filled here moves the price of every share still to do by this much
        leak = leak_drift_bps(params.leak_bps, sim.remaining(), market.adv)
        saving = (half if params.kind == "dark" else params.pi_bps_mean) - leak
        return fill * (half + saving), fill

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        ranked = []
        for option in options:
            value, fill = self.value(option.candidate.lp, qty)
            truth = option.candidate._replace(
                score=max(value, 0.0) * 10.0, fill_rate=fill, filled_qty_per_order=None,
                label=f"{option.candidate.lp}: oracle rank by true value")
            ranked.append((value, option._replace(candidate=truth)))
        ranked.sort(key=lambda item: -item[0])
        values = {o.candidate.lp: v for v, o in ranked}
        return [a._replace(note=f"true value {values[a.candidate.lp]:.2f} bps per share routed")
                for a in self._spray.allocate(qty, [o for _, o in ranked], lot)]


def policy_variant(name: str, scenario: Scenario
                   ) -> tuple[Callable[[Simulation], Policy], bool, tuple[str, ...] | None]:
    """(policy factory, scores on, static ranking) of each benchmarked policy."""
    k = scenario.routing.spray_top_k
    lot = scenario.routing.lot_size
    everyone = tuple(p.name for p in scenario.lps)
    first = (scenario.routing.static_ranking or everyone)[:1]
    variants: dict[str, tuple[Callable[[Simulation], Policy], bool, tuple[str, ...] | None]] = {
        "static": (lambda sim: Primary(), False, first),
        "uniform": (lambda sim: Uniform(), False, everyone),
        "primary": (lambda sim: Primary(), True, None),
        "spray": (lambda sim: Spray(k), True, None),
        "censored_greedy": (_once(lambda sim: CensoredGreedy(lot)), False, everyone),
        "censored_thompson": (_once(lambda sim: CensoredThompson(lot)), False, everyone),
        "cost_greedy": (_once(lambda sim: CostAwareGreedy(lot, scorecard_costs(sim))), True,
                        None),
        "oracle": (lambda sim: Oracle(sim, k), False, everyone),
    }
    return variants[name]


def _once(make: Callable[[Simulation], Policy]) -> Callable[[Simulation], Policy]:
    """One policy instance per simulation, so a learning policy keeps what it learned from
    slice to slice."""
    made: dict[int, Policy] = {}

    def factory(sim: Simulation) -> Policy:
        if id(sim) not in made:
            made.clear()          # one simulation at a time: forget the previous one
            made[id(sim)] = make(sim)
        return made[id(sim)]

    return factory


def scorecard_costs(sim: Simulation) -> Callable[[str], float | None]:
    """Each LP's cost per filled share (bps, ``snapshot_costs``) in the scorecard the
    simulation publishes, as of the call: the symbol's context, else the LP level."""
    last: list[tuple[object, dict[str, float]]] = []      # (snapshot read, its costs)

    def cost(lp: str) -> float | None:
        entry = (sim.cache.entry(sim.profile.name, f"symbol={sim.symbol}")
                 or sim.cache.entry(sim.profile.name, "*"))
        snapshot = entry.snapshot if entry else None
        if not last or last[0][0] is not snapshot:     # once per snapshot, not per LP
            last[:] = [(snapshot, snapshot_costs(snapshot))]
        return last[0][1].get(lp)

    return cost


def bench_routing(scenario: Scenario, seeds: Iterable[int],
                  policies: Sequence[str] = POLICY_NAMES,
                  progress: Callable[[str, int], None] | None = None, *,
                  jobs: int = 1) -> list[PolicyResult]:
    """Every policy on every seed (see the module docstring). With ``jobs`` > 1 the
    simulations run that many at a time, each in a process of its own (``_simulations``);
    each is the same as run alone, whatever ran beside it. The processes are spawned, so a
    script that asks for them runs its work under ``if __name__ == "__main__":`` (Python's
    rule for spawned processes: each imports the script's main module)."""
    seeds = list(seeds)
    if not scenario.orders:
        raise ConfigError(f"scenario {scenario.name} has no [[orders]]: the policies are "
                          "compared on its first parent order; add an [[orders]] entry (side, "
                          "qty, start_s, window_s, slice_every_s; docs/simulator.md), or give "
                          "--scenario default")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    runs = _simulations(scenario, seeds, policies, progress, jobs)
    oracle = runs.get("oracle")
    out = []
    window = scenario.orders[0].window_s
    for name, results in runs.items():
        shortfall = [_num(r.shortfall_bps) for r in results]
        regret = ([s - _num(o.shortfall_bps) for s, o in zip(shortfall, oracle, strict=True)]
                  if oracle is not None else [])
        out.append(PolicyResult(
            name, tuple(results), interval(shortfall),
            interval([r.completion_s if r.completion_s is not None else window
                      for r in results]),
            interval([100.0 * r.filled_qty / r.qty for r in results]),
            interval([float(r.rejects) for r in results]),
            interval(regret)))
    return out


def _num(x: float | None) -> float:
    return math.nan if x is None else x


def simulate_policy(scenario: Scenario, name: str, seed: int) -> SimResult:
    """One policy on one seed: the simulation ``bench_routing`` runs."""
    factory, scoring, ranking = policy_variant(name, scenario)
    return Simulation(scenario, seed=seed, policy=factory, scoring=scoring,
                      static_ranking=ranking).run()


def _simulations(scenario: Scenario, seeds: list[int], policies: Sequence[str],
                 progress: Callable[[str, int], None] | None, jobs: int
                 ) -> dict[str, list[SimResult]]:
    """Policy -> its results, seed by seed: one simulation after the other, or ``jobs`` at
    a time in fresh processes (spawned, not forked: a fork would copy Polars' threads
    mid-work), each with Polars on one thread, so that the processes share the CPUs
    instead of each taking all of them."""
    tasks = [(name, i) for name in policies for i in range(len(seeds))]
    done: dict[tuple[str, int], SimResult] = {}
    for (name, i), result in _finished(scenario, seeds, tasks, jobs):
        done[name, i] = result
        if progress is not None:
            progress(name, seeds[i])
    return {name: [done[name, i] for i in range(len(seeds))] for name in policies}


def _finished(scenario: Scenario, seeds: list[int], tasks: list[tuple[str, int]], jobs: int
              ) -> Iterator[tuple[tuple[str, int], SimResult]]:
    """Each task (policy, seed index) with its result, as the simulations finish."""
    if jobs == 1 or len(tasks) < 2:
        for name, i in tasks:
            yield (name, i), simulate_policy(scenario, name, seeds[i])
        return
    with _polars_threads(1), ProcessPoolExecutor(
            min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(simulate_policy, scenario, name, seeds[i]): (name, i)
                   for name, i in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()


@contextmanager
def _polars_threads(n: int) -> Iterator[None]:
    """``POLARS_MAX_THREADS`` for the processes started meanwhile (this one's Polars keeps
    the pool it started with)."""
    before = os.environ.get("POLARS_MAX_THREADS")
    os.environ["POLARS_MAX_THREADS"] = str(n)
    try:
        yield
    finally:
        if before is None:
            del os.environ["POLARS_MAX_THREADS"]
        else:
            os.environ["POLARS_MAX_THREADS"] = before
