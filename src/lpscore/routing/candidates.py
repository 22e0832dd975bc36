"""What a router knows about one LP in one context, read once from a snapshot.

    cands = candidates_of(snapshot)          # ranked, best first; parsed when cached
    static_candidates(("LP_C", "LP_A"))      # the configured fallback ranking

Ties (equal rank) are ordered by more evidence (``n_eff``), then by name, so a decision is
the same on every run; ``tied`` names the LPs that share the rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lpscore.publish.snapshot import Snapshot

__all__ = ["Candidate", "candidates_of", "static_candidates"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One LP as the router sees it in one context."""

    lp: str
    rank: int
    score: float | None
    """Composite score 0..100; None under a static ranking."""
    half_width: float
    """Half the score's interval (``+/-`` in reasons)."""
    provisional: bool
    n_orders: int
    fill_rate: float | None
    """Filled / ordered quantity of terminal orders (decayed); None when unknown."""
    filled_qty_per_order: float | None
    """Typical filled quantity per order (decayed); None when unknown."""
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
    return tuple(_candidate(item, by_rank[int(item["rank"])]) for item in items)


def _candidate(item: dict[str, Any], same_rank: list[str]) -> Candidate:
    capacity = item.get("capacity") or {}
    return Candidate(
        lp=str(item["lp"]), rank=int(item["rank"]), score=float(item["score"]),
        half_width=(float(item["ci_high"]) - float(item["ci_low"])) / 2.0,
        provisional=bool(item["provisional"]), n_orders=int(item["n_orders"]),
        fill_rate=_opt(capacity.get("fill_rate")),
        filled_qty_per_order=_opt(capacity.get("filled_qty_per_order")),
        tied=tuple(lp for lp in same_rank if lp != item["lp"]),
    )


def static_candidates(ranking: Sequence[str]) -> tuple[Candidate, ...]:
    """The configured ranking as candidates without scores."""
    return tuple(Candidate(lp=lp, rank=i, score=None, half_width=0.0, provisional=False,
                           n_orders=0, fill_rate=None, filled_qty_per_order=None)
                 for i, lp in enumerate(ranking, start=1))


def _opt(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
