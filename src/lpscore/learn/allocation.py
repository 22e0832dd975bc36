"""Allocating an order over venues whose liquidity is learned from censored fills.

    allocator = GreedyKM(unit=10, decay=0.999)
    plan = allocator.allocate(1_000, ["V1", "V2", "V3", "V4"])   # {"V1": 400, ...}
    allocator.observe("V1", sent=400, filled=120)

Each allocator splits ``total`` in whole ``unit`` s and learns from what each venue filled
(docs/learn.md, "Allocation policies"):

- ``Ideal``: knows each venue's true ``P(V >= v)``; greedy on it (optimal for the expected
  filled quantity, which is a sum of concave functions of the allocation).
- ``UniformSplit``: the same share to every venue, learning nothing.
- ``Ucb``: a simple bandit: everything to the venue with the best upper confidence bound on
  the share of an order it fills (UCB1).
- ``GreedyKM``: greedy on each venue's discounted Kaplan-Meier estimate (CensoredLiquidity)
  with ``prior`` optimistic pseudo-observations (default 1: a venue seen once at zero is
  not written off), optimistic where it has no evidence (an unseen venue, or sizes beyond
  the largest partial fill, keep their last estimate), plus probes: before the split each
  venue gets its first unit with probability ``explore``, so no venue is starved of data
  and a runner-up that becomes the best is noticed.
- ``ThompsonKM``: greedy on one draw of each venue's survival curve from the posterior of
  its Kaplan-Meier hazards (Beta per event size, Jeffreys prior, ``prior`` default 0), so
  exploration follows the uncertainty; plus the same probes (default 2%), because a
  venue's evidence only changes when it is sent something.

With ``decay < 1`` the learned allocators track a venue whose behaviour changes.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from lpscore.learn.censored import CensoredLiquidity

__all__ = ["Allocator", "GreedyKM", "Ideal", "ThompsonKM", "Ucb", "UniformSplit", "greedy"]


def greedy(total: float, unit: float, venues: Sequence[str],
           at_least: Callable[[str, float], float],
           caps: Sequence[float] | None = None,
           start: Sequence[float] | None = None) -> dict[str, float]:
    """``total`` in whole ``unit`` s, each unit to the venue whose next unit is likeliest to
    fill (``at_least(venue, size)``: P(V >= size)); ties to the earlier venue. ``caps``
    bound each venue's size; ``start``: units already given (part of ``total``)."""
    alloc = dict(zip(venues, start, strict=True)) if start is not None else dict.fromkeys(
        venues, 0.0)
    limit = dict(zip(venues, caps, strict=True)) if caps is not None else {}
    heap = [(-at_least(v, alloc[v] + unit), i, v) for i, v in enumerate(venues)
            if limit.get(v, math.inf) >= alloc[v] + unit - 1e-9]
    heapq.heapify(heap)
    for _ in range(math.floor((total - sum(alloc.values())) / unit + 1e-9)):
        if not heap:
            break
        _, i, v = heapq.heappop(heap)
        alloc[v] += unit
        if alloc[v] + unit <= limit.get(v, math.inf) + 1e-9:
            heapq.heappush(heap, (-at_least(v, alloc[v] + unit), i, v))
    return alloc


class Allocator(ABC):
    """Splits an order over venues and learns from the fills (module docstring)."""

    name: str

    @abstractmethod
    def allocate(self, total: float, venues: Sequence[str]) -> dict[str, float]: ...

    def observe(self, venue: str, sent: float, filled: float) -> None:  # noqa: B027
        """What one venue filled of what it was sent (non-learning allocators ignore it)."""


class Ideal(Allocator):
    name = "ideal"

    def __init__(self, at_least: Callable[[str, float], float], unit: float) -> None:
        self._at_least = at_least
        self.unit = unit

    def allocate(self, total: float, venues: Sequence[str]) -> dict[str, float]:
        return greedy(total, self.unit, venues, self._at_least)


class UniformSplit(Allocator):
    name = "uniform"

    def __init__(self, unit: float) -> None:
        self.unit = unit

    def allocate(self, total: float, venues: Sequence[str]) -> dict[str, float]:
        if not venues:
            raise ValueError(f"UniformSplit.allocate({total!r}, []): no venues to split the "
                             "order over; give at least one venue")
        units = math.floor(total / self.unit + 1e-9)
        base, extra = divmod(units, len(venues))
        return {v: (base + (i < extra)) * self.unit for i, v in enumerate(venues)}


class Ucb(Allocator):
    """UCB1 on the share of the order each venue fills; the whole order to one venue."""

    name = "bandit"

    def __init__(self) -> None:
        self._n: dict[str, int] = {}
        self._mean: dict[str, float] = {}
        self._t = 0

    def allocate(self, total: float, venues: Sequence[str]) -> dict[str, float]:
        self._t += 1
        untried = [v for v in venues if v not in self._n]
        if untried:
            pick = untried[0]
        else:
            pick = max(venues, key=lambda v: self._mean[v] + math.sqrt(
                2.0 * math.log(self._t) / self._n[v]))
        return {v: (total if v == pick else 0.0) for v in venues}

    def observe(self, venue: str, sent: float, filled: float) -> None:
        if sent <= 0:
            return
        n = self._n.get(venue, 0) + 1
        self._n[venue] = n
        self._mean[venue] = self._mean.get(venue, 0.0) + (filled / sent
                                                          - self._mean.get(venue, 0.0)) / n


class _Learner(Allocator):
    """What the censored learners share: the model, the probes and the caps."""

    def __init__(self, unit: float, *, decay: float, explore: float, prior: float,
                 seed: int) -> None:
        if not 0 <= explore <= 1:
            raise ValueError(f"explore = {explore!r}: a probability in [0, 1] (each venue's "
                             "chance of a one-unit probe per allocation)")
        self.unit = unit
        self.explore = explore
        self.model = CensoredLiquidity(unit=unit, decay=decay, unseen=1.0, prior=prior)
        self._rng = np.random.default_rng(seed)

    def allocate(self, total: float, venues: Sequence[str],
                 caps: Sequence[float] | None = None,
                 value: Callable[[str, float], float] | None = None) -> dict[str, float]:
        """Greedy on ``_at_least`` (or on ``value(venue, size)``, the worth of a venue's unit
        ending at ``size``, non-increasing in ``size``) within ``caps``, after the probes:
        each venue gets its first unit up front with probability ``explore`` (as many as
        ``total`` allows, in venue order). A venue's evidence only changes when it is sent
        something, so the runners-up are looked at regularly and a venue that improved is
        noticed; a probe of a venue greedy would have used anyway costs nothing."""
        limit = list(caps) if caps is not None else [math.inf] * len(venues)
        start = [0.0] * len(venues)
        room = math.floor(total / self.unit + 1e-9)
        if self.explore:
            draws = self._rng.random(len(venues))
            for i in range(len(venues)):
                if draws[i] < self.explore and room > 0 and limit[i] >= self.unit:
                    start[i], room = self.unit, room - 1
        return greedy(total, self.unit, venues, value or self._at_least(venues), limit, start)

    def _at_least(self, venues: Sequence[str]) -> Callable[[str, float], float]:
        return self.model.at_least

    def observe(self, venue: str, sent: float, filled: float) -> None:
        if sent > 0:
            self.model.observe(venue, sent, filled)


class GreedyKM(_Learner):
    name = "greedy_km"

    def __init__(self, unit: float, *, decay: float = 1.0, explore: float = 0.05,
                 prior: float = 1.0, seed: int = 0) -> None:
        super().__init__(unit, decay=decay, explore=explore, prior=prior, seed=seed)


class ThompsonKM(_Learner):
    name = "thompson_km"

    def __init__(self, unit: float, *, decay: float = 1.0, explore: float = 0.02,
                 prior: float = 0.0, seed: int = 0) -> None:
        super().__init__(unit, decay=decay, explore=explore, prior=prior, seed=seed)

    def _at_least(self, venues: Sequence[str]) -> Callable[[str, float], float]:
        """``P(V >= size)`` on one posterior draw of each venue's curve."""
        curves = {v: self._draw(v) for v in venues}

        def at_least(venue: str, size: float) -> float:
            values, after = curves[venue]
            if not values:
                return 1.0                      # no evidence: optimistic
            i = int(np.searchsorted(values, size - 1e-9, side="left")) - 1
            return 1.0 if i < 0 else float(after[i])   # P(V >= size) = P(V > last < size)

        return at_least

    def _draw(self, venue: str) -> tuple[list[float], list[float]]:
        """One posterior draw of the survival at each event size: hazards ~ Beta."""
        hazards = self.model.hazards(venue)
        if not hazards:
            return [], []
        values = [v for v, _, _ in hazards]
        d = np.array([e for _, e, _ in hazards])
        n = np.array([r for _, _, r in hazards]) + self.model.prior
        h = self._rng.beta(d + 0.5, np.maximum(n - d, 0.0) + 0.5)
        return values, list(np.cumprod(1.0 - h))
