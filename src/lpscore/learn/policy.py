"""The learning allocators as routing policies: they plug into the router unchanged.

    router.plan(request, CensoredGreedy(lot=100))     # like Primary() or Spray(3)

``allocate`` splits the order over the eligible LPs (best first, screened by the router's
rules) greedily on each LP's censored liquidity estimate, within each LP's size limits;
``observe`` (called by the parent order with every finished child) feeds the estimate: a
partial fill reveals the LP's available size, a full fill bounds it from below; rejects are
not liquidity observations and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from lpscore.learn.allocation import GreedyKM, ThompsonKM
from lpscore.routing.policies import Allocation, Option, Outcome, Policy, qty_text

__all__ = ["CensoredGreedy", "CensoredThompson"]


class _Learned(Policy):
    def __init__(self, allocator: GreedyKM | ThompsonKM, top_k: int | None) -> None:
        self.allocator = allocator
        self.top_k = top_k

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        chosen = [o for o in options if o.max_qty >= max(o.min_qty, lot)]
        chosen = chosen[:self.top_k] if self.top_k else chosen
        if not chosen:
            return []
        venues = [o.candidate.lp for o in chosen]
        plan = self.allocator.allocate(qty, venues, [o.max_qty for o in chosen])
        model = self.allocator.model
        return [Allocation(o.candidate, plan[o.candidate.lp],
                           f"{qty_text(plan[o.candidate.lp])} by expected fill: P(available "
                           f">= {qty_text(plan[o.candidate.lp])}) = "
                           f"{model.at_least(o.candidate.lp, plan[o.candidate.lp]):.2f} "
                           f"(n={model.n(o.candidate.lp):.0f})")
                for o in chosen
                if plan[o.candidate.lp] >= max(o.min_qty, lot)]

    def observe(self, outcome: Outcome) -> None:
        if not outcome.rejected and outcome.sent_qty > 0:
            self.allocator.observe(outcome.lp, outcome.sent_qty, outcome.filled_qty)


class CensoredGreedy(_Learned):
    """Greedy on each LP's discounted Kaplan-Meier available-size estimate, with a little
    forced exploration (lpscore.learn.allocation.GreedyKM)."""

    name = "censored_greedy"

    def __init__(self, lot: float, *, decay: float = 0.99, explore: float = 0.05,
                 seed: int = 0, top_k: int | None = None) -> None:
        super().__init__(GreedyKM(lot, decay=decay, explore=explore, seed=seed), top_k)


class CensoredThompson(_Learned):
    """Thompson sampling on the posterior of each LP's available-size curve."""

    name = "censored_thompson"

    def __init__(self, lot: float, *, decay: float = 0.99, explore: float = 0.02,
                 seed: int = 0, top_k: int | None = None) -> None:
        super().__init__(ThompsonKM(lot, decay=decay, explore=explore, seed=seed), top_k)
