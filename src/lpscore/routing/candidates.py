"""What a router knows about one LP in one context, read once from a snapshot.

    cands = candidates_of(snapshot)          # ranked, best first; parsed when cached
    static_candidates(("LP_C", "LP_A"))      # the configured fallback ranking

Ties (equal rank) are ordered by more evidence (``n_eff``), then by name, so a decision is
the same on every run; ``tied`` names the LPs that share the rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from lpscore.publish.snapshot import Snapshot

__all__ = ["Candidate", "candidates_of", "static_candidates"]


class Candidate(NamedTuple):
    """One LP as the router sees it in one context."""

    lp: str
    rank: int
    score: float | None
    """Composite score 0..100; None under a static ranking."""
    half_width: float
    """Half the score's interval (``+/-`` in reasons); NaN while a stream has not drawn it
    yet (docs/stream.md)."""
    provisional: bool
    n_orders: int
    fill_rate: float | None
    """Filled / ordered quantity of terminal orders (decayed); None when unknown."""
    filled_qty_per_order: float | None
    """Typical filled quantity per order (decayed); None when unknown."""
    label: str
    """How a reason names it: ``LP_C: rank 1 under block, score 88.2 +/- 3.1`` (ties and a
    provisional score said); formatted once per snapshot, not at every decision."""
    tied: tuple[str, ...] = ()
    """Other LPs with the same rank."""

    @property
    def scored(self) -> bool:
        return self.score is not None


def candidates_of(snapshot: Snapshot) -> tuple[Candidate, ...]:
    """The snapshot's LPs, best first (rank, then evidence, then name)."""
    items = sorted(snapshot.scores, key=lambda s: (s["rank"], -float(s.get("n_eff") or 0.0),
                                                   s["lp"]))
    by_rank: dict[int, list[str]] = {}
    for item in items:
        by_rank.setdefault(int(item["rank"]), []).append(str(item["lp"]))
    return tuple(_candidate(item, by_rank[int(item["rank"])], snapshot.profile)
                 for item in items)


def _candidate(item: dict[str, Any], same_rank: list[str], profile: str) -> Candidate:
    capacity = item.get("capacity") or {}
    lp, rank, score = str(item["lp"]), int(item["rank"]), float(item["score"])
    low, high = item.get("ci_low"), item.get("ci_high")
    half_width = math.nan if low is None or high is None else (float(high) - float(low)) / 2.0
    provisional, n_orders = bool(item["provisional"]), int(item["n_orders"])
    tied = tuple(other for other in same_rank if other != lp)
    label = f"{lp}: rank {rank} under {profile}, score {score:.1f} " + (
        "(interval pending)" if math.isnan(half_width) else f"+/- {half_width:.1f}")
    if tied:
        label += f", tied with {', '.join(tied)}"
    if provisional:
        label += f", provisional (n={n_orders})"
    return Candidate(
        lp=lp, rank=rank, score=score, half_width=half_width, provisional=provisional,
        n_orders=n_orders, fill_rate=_opt(capacity.get("fill_rate")),
        filled_qty_per_order=_opt(capacity.get("filled_qty_per_order")), label=label,
        tied=tied)


def static_candidates(ranking: Sequence[str]) -> tuple[Candidate, ...]:
    """The configured ranking as candidates without scores."""
    return tuple(Candidate(lp=lp, rank=i, score=None, half_width=0.0, provisional=False,
                           n_orders=0, fill_rate=None, filled_qty_per_order=None,
                           label=f"{lp}: static rank {i} (no published scores)")
                 for i, lp in enumerate(ranking, start=1))


def _opt(value: object) -> float | None:
    """A capacity figure, None when unknown: null or NaN (a store that keeps JSON reads NaN
    back as null, so both stores give the router the same candidates)."""
    number = None if value is None else float(value)  # type: ignore[arg-type]
    return None if number is None or math.isnan(number) else number
