"""The dark pool problem (Ganchev, Kearns, Nevmyvaka, Vaughan 2010), reproduced.

    curves = run_darkpool(VENUES, total=1_000, episodes=2_000, seeds=range(100))

Each episode an order of ``total`` shares is split over the venues; venue ``i`` holds
``V_i`` shares, 0 with probability ``zero`` else ``scale * Lomax(alpha)`` (the zero bin plus
power law the paper fitted to real dark pools: zero mass 0.67-0.96, exponents 0.25-1.3),
drawn afresh each episode; it fills ``min(sent_i, V_i)``. The measure is the fraction of the
order executed per episode; the ideal allocator knows the distributions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lpscore.learn.allocation import Allocator, GreedyKM, Ideal, ThompsonKM, Ucb, UniformSplit

__all__ = ["ALLOCATORS", "VENUES", "DarkVenue", "run_darkpool"]


@dataclass(frozen=True, slots=True)
class DarkVenue:
    name: str
    zero: float
    """P(nothing available)."""
    alpha: float
    """Power-law (Lomax) tail exponent."""
    scale: float
    """Size scale, shares."""

    def at_least(self, v: float) -> float:
        """P(V >= v), 1 for v <= 0. The draws are a Lomax ``T`` floored to whole shares,
        ``V = floor(T)``, so ``P(V >= v) = P(T >= ceil(v)) = (1 - zero) (1 + ceil(v) /
        scale) ** -alpha`` (the 1e12 cap of ``draw`` is not modelled)."""
        if v <= 0:
            return 1.0
        return float((1.0 - self.zero)
                     * (1.0 + math.ceil(v - 1e-9) / self.scale) ** -self.alpha)

    def draw(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        u = rng.random(n)
        tail = self.scale * ((1.0 - rng.random(n)) ** (-1.0 / self.alpha) - 1.0)
        return np.where(u < self.zero, 0.0, np.floor(np.minimum(tail, 1e12)))


VENUES = (DarkVenue("D1", 0.67, 0.25, 300.0), DarkVenue("D2", 0.80, 0.6, 1_000.0),
          DarkVenue("D3", 0.90, 1.0, 3_000.0), DarkVenue("D4", 0.96, 1.3, 10_000.0))
"""Four venues spanning the ranges the paper reports."""

DECAY = 0.98
"""The learners' discount: about 50 observations of memory, to follow a change."""
EXPLORE = 0.25
"""Each venue's chance of a one-unit probe per episode: a runner-up that improves is seen."""
PRIOR = 1.0
"""One optimistic pseudo-observation per venue: a venue seen once at zero is tried again."""

ALLOCATORS: dict[str, Callable[[Callable[[str, float], float], float, int], Allocator]] = {
    "ideal": lambda truth, unit, seed: Ideal(truth, unit),
    "uniform": lambda truth, unit, seed: UniformSplit(unit),
    "bandit": lambda truth, unit, seed: Ucb(),
    "greedy_km": lambda truth, unit, seed: GreedyKM(unit, decay=DECAY, explore=EXPLORE,
                                                    prior=PRIOR, seed=seed),
    "thompson_km": lambda truth, unit, seed: ThompsonKM(unit, decay=0.99, explore=0.1,
                                                        seed=seed),
}
"""Each made from the truth (``P(V >= v)`` of a venue now: only ``ideal`` reads it), the
allocation unit and the seed. Thompson keeps the longer memory and no prior: its draws
already explore, and with ``DECAY``, ``EXPLORE`` and ``PRIOR`` it measured worse
(docs/learn.md)."""


def run_darkpool(venues: Sequence[DarkVenue], *, total: float, episodes: int,
                 seeds: Iterable[int], allocators: Sequence[str] = tuple(ALLOCATORS),
                 unit: float | None = None, swap_at: int | None = None,
                 progress: Callable[[str, int], None] | None = None
                 ) -> dict[str, npt.NDArray[np.float64]]:
    """Per allocator, the executed fraction per seed x episode (the same venue draws for
    every allocator on a seed). ``unit`` defaults to ``total / 100``. ``swap_at``: from that
    episode on the first two venues exchange their distributions (the ideal knows)."""
    step = unit or total / 100.0
    names = [v.name for v in venues]
    swapped = [venues[1], venues[0], *venues[2:]] if len(venues) > 1 else list(venues)
    out: dict[str, list[npt.NDArray[np.float64]]] = {a: [] for a in allocators}
    for seed in seeds:
        rng = np.random.default_rng([seed, 1])
        available = np.stack([v.draw(rng, episodes) for v in venues], axis=1)
        if swap_at is not None and len(venues) > 1:
            available[swap_at:, [0, 1]] = available[swap_at:, [1, 0]]
        for name in allocators:
            episode = [0]

            def truth(venue: str, v: float, episode: list[int] = episode) -> float:
                now = swapped if swap_at is not None and episode[0] >= swap_at else venues
                return now[names.index(venue)].at_least(v)

            allocator = ALLOCATORS[name](truth, step, seed)
            done = np.empty(episodes)
            for e in range(episodes):
                episode[0] = e
                plan = allocator.allocate(total, names)
                executed = 0.0
                for i, venue in enumerate(names):
                    sent = plan[venue]
                    if sent <= 0:
                        continue
                    filled = min(sent, float(available[e, i]))
                    allocator.observe(venue, sent, filled)
                    executed += filled
                done[e] = executed / total
            out[name].append(done)
            if progress is not None:
                progress(name, seed)
    return {name: np.stack(rows) for name, rows in out.items()}
