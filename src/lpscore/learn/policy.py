"""The learning allocators as routing policies: they plug into the router unchanged.

    router.plan(request, CensoredGreedy(lot=100))     # like Primary() or Spray(3)

``allocate`` splits the order over the eligible LPs (best first, screened by the router's
rules) greedily on each LP's censored liquidity estimate, within each LP's size limits;
``observe`` (called by the parent order with every finished child) feeds the estimate: a
partial fill reveals the LP's available size, a full fill bounds it from below; rejects are
not liquidity observations and are left out.

``CostAwareGreedy`` splits on expected cost instead of expected fill: each lot to the LP
whose fill saves most against leaving the lot unfilled, ``P(fill) * (c_unfilled - c_i)``,
with each LP's cost per filled share from the scorecard (``snapshot_costs``) and
``P(fill)`` from the censored model and the LP's decline rate (docs/learn.md, "Cost-aware
routing policy").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from lpscore.learn.allocation import GreedyKM, ThompsonKM
from lpscore.publish.snapshot import Snapshot
from lpscore.routing.policies import Allocation, Option, Outcome, Policy, qty_text

__all__ = ["CensoredGreedy", "CensoredThompson", "CostAwareGreedy", "snapshot_costs"]


class _Learned(Policy):
    def __init__(self, allocator: GreedyKM | ThompsonKM, top_k: int | None) -> None:
        self.allocator = allocator
        self.top_k = top_k

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        chosen = [o for o in options if o.max_qty >= max(o.min_qty, lot)]
        chosen = chosen[:self.top_k] if self.top_k else chosen
        if not chosen:
            return []
        plan, note = self._plan(qty, [o.candidate.lp for o in chosen],
                                [o.max_qty for o in chosen])
        return [Allocation(o.candidate, plan[o.candidate.lp],
                           note(o.candidate.lp, plan[o.candidate.lp]))
                for o in chosen
                if plan[o.candidate.lp] >= max(o.min_qty, lot)]

    def _plan(self, qty: float, venues: list[str], caps: list[float]
              ) -> tuple[dict[str, float], Callable[[str, float], str]]:
        """Quantity per venue (LP), and why each size (for the child's reason)."""
        return self.allocator.allocate(qty, venues, caps), self._fill_note

    def _fill_note(self, lp: str, size: float) -> str:
        model = self.allocator.model
        return (f"{qty_text(size)} by expected fill: P(available >= {qty_text(size)}) = "
                f"{model.at_least(lp, size):.2f} (n={model.n(lp):.0f})")

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


class CostAwareGreedy(_Learned):
    """Expected-cost greedy over the LPs: each lot to the LP with the largest expected saving
    ``P(fill) * (c_unfilled - c_i)`` (docs/learn.md, "Cost-aware routing policy")."""

    name = "cost_greedy"

    def __init__(self, lot: float, cost_bps: Callable[[str], float | None], *,
                 reroute_bps: float = 0.1, sure: float = 0.9, decay: float = 0.99,
                 explore: float = 0.05, prior: float = 1.0, seed: int = 0,
                 top_k: int | None = None) -> None:
        if not (math.isfinite(reroute_bps) and reroute_bps >= 0):
            raise ValueError(f"reroute_bps = {reroute_bps!r}: give the cost of routing a "
                             "share again, in bps, finite and >= 0")
        if not 0 < sure <= 1:
            raise ValueError(f"sure = {sure!r}: give a probability in (0, 1]")
        super().__init__(GreedyKM(lot, decay=decay, explore=explore, prior=prior, seed=seed),
                         top_k)
        self.cost_bps = cost_bps
        self.reroute_bps = reroute_bps
        self.sure = sure
        self._rejects: dict[str, tuple[float, float]] = {}
        self._decay = decay

    def fill_prob(self, lp: str, size: float) -> float:
        """P(a child of ``size`` to ``lp`` fills its last unit): not declined, times the
        censored model's ``P(available >= size)``."""
        rejected, seen = self._rejects.get(lp, (0.0, 0.0))
        weight = seen + self.allocator.model.prior          # the prior: not declined
        kept = 1.0 - rejected / weight if weight > 0 else 1.0
        return kept * self.allocator.model.at_least(lp, size)

    def _plan(self, qty: float, venues: list[str], caps: list[float]
              ) -> tuple[dict[str, float], Callable[[str, float], str]]:
        known = {lp: c for lp in venues if (c := self.cost_bps(lp)) is not None}
        worst = max(known.values(), default=0.0)
        cost = {lp: known.get(lp, worst) for lp in venues}
        sure = [cost[lp] for lp in venues if self.fill_prob(lp, qty) >= self.sure]
        unfilled = (min(sure) if sure else worst) + self.reroute_bps

        def saving(lp: str, size: float) -> float:
            return self.fill_prob(lp, size) * (unfilled - cost[lp])

        def note(lp: str, size: float) -> str:
            return (f"{qty_text(size)} by expected saving: cost {cost[lp]:+.2f} bps vs "
                    f"{unfilled:+.2f} unfilled, P(fill) {self.fill_prob(lp, size):.2f}")

        return self.allocator.allocate(qty, venues, caps, saving), note

    def observe(self, outcome: Outcome) -> None:
        rejected, seen = self._rejects.get(outcome.lp, (0.0, 0.0))
        self._rejects[outcome.lp] = (self._decay * rejected + outcome.rejected,
                                     self._decay * seen + 1.0)
        super().observe(outcome)


def snapshot_costs(snapshot: Snapshot | None, *, impact_weight: float = 0.0
                   ) -> dict[str, float]:
    """Each LP's expected cost per filled share from a published scorecard, in bps of the
    mid, up to the half spread that every lit fill pays: ``-pi_bps + impact_weight *
    impact_bps_5s`` (the scorecard's shrunk KPIs, docs/kpis.md). LPs without the KPIs it
    needs are left out. ``impact_weight`` is 0 by default: a parent order's own footprint
    lands in the impact of whichever LP it uses most, which would push the policy away
    from its best LP and back (docs/learn.md)."""
    out: dict[str, float] = {}
    for item in snapshot.scores if snapshot is not None else []:
        kpis = item.get("kpis") or {}
        pi, impact = kpis.get("pi_bps"), kpis.get("impact_bps_5s")
        if pi is None or not math.isfinite(pi):
            continue
        if impact_weight:
            if impact is None or not math.isfinite(impact):
                continue
            out[str(item["lp"])] = -float(pi) + impact_weight * float(impact)
        else:
            out[str(item["lp"])] = -float(pi)
    return out
