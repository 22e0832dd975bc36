"""Posterior intervals carried between draws, for publishes that cannot wait for them.

    memory = Intervals(max_age_s=60.0, per_publish=32)
    snapshots_of_stats(stats, profile, specs, intervals=memory)              # draws, remembers
    snapshots_of_stats(stats, profile, specs, intervals=memory, carry=True)  # mostly carries

A score's interval and rank stability come from 1,000 posterior draws per LP and KPI, about
a millisecond per context; its point score, contributions and rank need none. A stream's
publishes (docs/stream.md) score the contexts at once and carry each LP's interval from the
context's last draws: the same distances below and above the score (``score - ci_low`` and
``ci_high - score``, kept within 0..100) and the same rank stability. A context is drawn
afresh when the memory does not know it or one of its LPs, and, at most ``per_publish``
contexts a publish, when its draws are older than ``max_age_s``: so the intervals are
renewed a few contexts at a time, never all in one publish. The snapshot's
``intervals_at_ns`` says when they were drawn. Scores, contributions, ranks and KPI values
are never carried; the stream's last publish draws every context, as the batch job does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from lpscore.publish.snapshot import context_key
from lpscore.scoring import Scorecard

__all__ = ["Intervals"]


class Intervals:
    """Per context: when its intervals were drawn, and each LP's distances and stability."""

    def __init__(self, max_age_s: float = 60.0, per_publish: int = 32) -> None:
        if max_age_s <= 0 or per_publish < 0:
            raise ValueError("Intervals needs max_age_s > 0 and per_publish >= 0")
        self.max_age_ns = int(max_age_s * 1e9)
        self.per_publish = per_publish
        self._known: dict[str, tuple[int, dict[str, tuple[float, float, float]]]] = {}
        self._now_ns = 0
        self._left = per_publish

    def __len__(self) -> int:
        return len(self._known)

    def begin(self, now_ns: int) -> None:
        """A publish at ``now_ns`` starts: its budget of renewals is full again."""
        self._now_ns = now_ns
        self._left = self.per_publish

    def needs_draws(self, context: Mapping[str, Any], lps: Sequence[str]) -> bool:
        """True when ``context`` must be drawn now: unknown, an LP unknown, or (within
        this publish's budget) drawn more than ``max_age_s`` ago."""
        known = self._known.get(context_key(context))
        if known is None or any(lp not in known[1] for lp in lps):
            return True
        if self._left > 0 and self._now_ns - known[0] > self.max_age_ns:
            self._left -= 1
            return True
        return False

    def remember(self, card: Scorecard, drawn_at_ns: int) -> None:
        """Keep ``card``'s intervals (drawn at ``drawn_at_ns``)."""
        self._known[context_key(card.context)] = (drawn_at_ns, {
            s.lp: (s.score - s.ci_low, s.ci_high - s.score, s.rank_stability)
            for s in card.scores})

    def carry(self, card: Scorecard) -> tuple[Scorecard, int]:
        """``card`` (scored without draws) with its remembered intervals, and when they
        were drawn. KeyError for a context or LP ``needs_draws`` would have drawn."""
        drawn_at, by_lp = self._known[context_key(card.context)]
        scores = []
        for s in card.scores:
            below, above, stability = by_lp[s.lp]
            scores.append(replace(s, ci_low=max(s.score - below, 0.0),
                                  ci_high=min(s.score + above, 100.0),
                                  rank_stability=stability))
        return replace(card, scores=scores), drawn_at
