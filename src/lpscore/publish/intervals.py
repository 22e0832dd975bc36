"""Posterior intervals carried between draws, for publishes that cannot wait for them.

    memory = Intervals(max_age_s=60.0, per_publish=32)
    snapshots_of_stats(stats, profile, specs, intervals=memory)              # draws, remembers
    snapshots_of_stats(stats, profile, specs, intervals=memory, carry=True)  # mostly carries

A score's interval and rank stability come from 1,000 posterior draws per LP and KPI,
1-2 ms per context; its point score, contributions and rank need none. A stream's
publishes (docs/stream.md) score contexts without draws and carry each LP's interval from
the context's last draws: the same distances below and above the score (``score - ci_low``
and ``ci_high - score``, kept within 0..100) and the same rank stability. A publish draws
at most ``per_publish`` contexts: those it does not know (or one of whose LPs it does not
know) first come, then those whose draws are older than ``max_age_s``, in the order they
are scored (coarse levels first). An LP with nothing to carry has its interval and rank
stability *pending* (NaN; null in JSON) until a later publish draws its context. So a
publish never draws more than its budget, however many contexts are new or old, and the
intervals follow within a few publishes. The snapshot's ``intervals_at_ns`` says when they
were drawn (None while pending). Scores, contributions, ranks and KPI values are never
carried; the stream's last publish draws every context, as the batch job does.
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
        """True when ``context`` is to be drawn now: unknown, an LP unknown, or drawn more
        than ``max_age_s`` ago, while this publish's budget lasts."""
        if self._left <= 0:
            return False
        known = self._known.get(context_key(context))
        if (known is None or any(lp not in known[1] for lp in lps)
                or self._now_ns - known[0] > self.max_age_ns):
            self._left -= 1
            return True
        return False

    def remember(self, card: Scorecard, drawn_at_ns: int) -> None:
        """Keep ``card``'s intervals (drawn at ``drawn_at_ns``)."""
        self._known[context_key(card.context)] = (drawn_at_ns, {
            s.lp: (s.score - s.ci_low, s.ci_high - s.score, s.rank_stability)
            for s in card.scores})

    def carry(self, card: Scorecard) -> tuple[Scorecard, int | None]:
        """``card`` (scored without draws) with its remembered intervals, and when they
        were drawn; an LP without any keeps NaN (pending), and a context without any gets
        None for the time."""
        known = self._known.get(context_key(card.context))
        if known is None:
            return card, None
        drawn_at, by_lp = known
        scores = []
        for s in card.scores:
            found = by_lp.get(s.lp)
            if found is None:
                scores.append(s)
                continue
            below, above, stability = found
            scores.append(replace(s, ci_low=max(s.score - below, 0.0),
                                  ci_high=min(s.score + above, 100.0),
                                  rank_stability=stability))
        return replace(card, scores=scores), drawn_at
