"""Censored liquidity model: a discounted Kaplan-Meier estimate of an LP's available size.

    model = CensoredLiquidity(unit=1.0, decay=0.99)
    model.observe("LP_A", sent=500, filled=120)     # partial fill: V = 120 exactly
    model.observe("LP_A", sent=300, filled=300)     # full fill: only V >= 300 (censored)
    model.at_least("LP_A", 200)                      # P(V >= 200)
    model.expected_fill("LP_A", 400)                 # E[min(V, 400)]

Sending ``s`` to a venue holding ``V`` fills ``min(s, V)``: a fill below ``s`` reveals ``V``,
a full fill says only ``V >= s``. Per key (an LP, or an LP x context tuple) the model keeps
the weighted counts of exact observations and of censorings at each size and computes the
Kaplan-Meier estimate of the distribution of ``V`` on demand, as in Ganchev, Kearns,
Nevmyvaka and Vaughan, "Censored exploration and the dark pool problem" (UAI 2009; CACM 53(5),
2010). Full description, conventions and when to use it: docs/learn.md.

- Grid: sizes are counted in whole ``unit`` s; the model estimates ``K = floor(V / unit)``, so
  every probability is of the available size rounded down to the grid, ``unit * K``.
- Ties: a censoring at ``c`` (``K >= c``) is in the risk set of the hazard
  ``h(u) = P(K = u | K >= u)`` for every ``u < c``, not at ``u = c`` (it cannot tell ``K = c``
  from ``K > c``): it supports ``P(K >= c)`` and nothing beyond. An exact observation at
  ``e`` is in the risk set for every ``u <= e``. This is the discrete maximum-likelihood
  estimate; it differs from "censored after events at ties" only when an exact observation
  and a censoring fall on the same grid value.
- Beyond the largest observation the estimate stays flat (no one at risk, no hazard), so
  a key seen only as full fills stays optimistic beyond its largest order.
- Prior: ``prior = a`` adds ``a`` pseudo-observations censored at infinity to every risk
  set, so each hazard is ``d(u) / (n(u) + a)``: a key seen once at zero reads
  ``P(V > 0) = a / (1 + a)``, not 0, and the estimate is optimistic by about ``a / n``
  (the pseudo-observations are never discounted, so they keep that weight against the
  ``1 / (1 - decay)`` real ones). ``a = 0`` is plain Kaplan-Meier.
- Discounting: each observation of a key multiplies the weight of every earlier observation
  of that key by ``decay`` (lazily: new observations get a growing weight, rescaled now and
  then), so ``decay = 1`` is plain Kaplan-Meier and ``decay < 1`` has an effective memory
  of about ``1 / (1 - decay)`` observations.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

__all__ = ["CensoredLiquidity"]

EPS = 1e-9
"""Tolerance of the grid rounding (float noise in ``qty / unit``)."""
RESCALE_AT = 1e100
"""A key's lazy weight scale is folded back into its counts once it passes this."""
PRUNE_BELOW = 1e-12
"""At a rescale, counts whose decayed weight fell below this are dropped (they are older
than ``log(1e-12) / log(decay)`` observations: 2,750 at ``decay = 0.99``)."""


@dataclass(slots=True)
class _Curve:
    """The KM step function of one key: at each event value ``values[i]`` (ascending grid
    units) ``after[i] = P(K > values[i])``; ``cum[i] = sum_{j < values[i]} P(K > j)``."""

    values: list[int]
    after: list[float]
    cum: list[float]


@dataclass(slots=True)
class _Key:
    """One key's evidence: weights are stored multiplied by ``scale`` (lazy discounting)."""

    exact: dict[int, float] = field(default_factory=dict)
    censored: dict[int, float] = field(default_factory=dict)
    total: float = 0.0
    scale: float = 1.0
    """The stored weight of the latest observation: a count's actual weight is stored / scale
    (1 for the latest, ``decay ** age`` for older ones)."""
    curve: _Curve | None = None


class CensoredLiquidity:
    """Discounted Kaplan-Meier estimates of available size per key (module docstring).

    ``unit``: the grid, in shares (1 = whole shares; 100 = round lots). ``decay``: in
    (0, 1], the factor every earlier observation of a key is multiplied by at each new one.
    ``unseen``: ``P(V >= v)`` for every ``v > 0`` of a key without observations; 1.0
    (default) is optimistic, so an unseen LP gets tried. ``prior``: the weight of the
    optimistic pseudo-observations (censored at infinity) in every hazard's risk set; 0
    (default) is plain Kaplan-Meier.
    """

    def __init__(self, *, unit: float = 1.0, decay: float = 1.0, unseen: float = 1.0,
                 prior: float = 0.0) -> None:
        if not (math.isfinite(unit) and unit > 0):
            raise ValueError(f"unit = {unit!r}: give the grid step in shares, a finite "
                             "number > 0 (1 = whole shares, 100 = round lots)")
        if not 0 < decay <= 1:
            raise ValueError(f"decay = {decay!r}: give a factor in (0, 1]; 1 is plain "
                             "Kaplan-Meier, 0.99 remembers about 100 observations")
        if not 0 <= unseen <= 1:
            raise ValueError(f"unseen = {unseen!r}: give P(V >= v) for a key without data, "
                             "a probability in [0, 1] (1.0 = optimistic)")
        if not (math.isfinite(prior) and prior >= 0):
            raise ValueError(f"prior = {prior!r}: give a pseudo-count >= 0 (0 = plain "
                             "Kaplan-Meier, 1 = one optimistic observation)")
        self.unit = float(unit)
        self.decay = float(decay)
        self.unseen = float(unseen)
        self.prior = float(prior)
        self._keys: dict[Hashable, _Key] = {}

    # -- evidence -----------------------------------------------------------------------

    def observe(self, key: Hashable, sent: float, filled: float) -> None:
        """One order to ``key``: ``sent`` shares, ``filled`` of them filled.

        ``filled < sent`` observes ``V = filled`` (0 included: the zero bin); ``filled ==
        sent`` observes ``V >= sent``. Rejected orders say nothing about liquidity: do not
        pass them (the caller decides what a reject is).
        """
        if not (math.isfinite(sent) and sent > 0):
            raise ValueError(f"{key!r}: sent = {sent!r}; an observation needs a positive, "
                             "finite order size")
        if not (math.isfinite(filled) and filled >= 0):
            raise ValueError(f"{key!r}: filled = {filled!r}; give the filled quantity, "
                             "finite and >= 0 (0 when nothing filled)")
        if filled > sent:
            raise ValueError(f"{key!r}: filled = {filled!r} > sent = {sent!r}; a venue "
                             "cannot fill more than it was sent (check the units)")
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key()
        if self.decay < 1:
            state.scale /= self.decay
            if state.scale > RESCALE_AT:
                _rescale(state)
        w = state.scale
        if filled < sent:
            k = self._down(filled)
            state.exact[k] = state.exact.get(k, 0.0) + w
        else:
            k = self._down(sent)
            state.censored[k] = state.censored.get(k, 0.0) + w
        state.total += w
        state.curve = None

    def n(self, key: Hashable) -> float:
        """The effective number of observations of ``key``: the sum of their decayed
        weights (the plain count when ``decay = 1``; at most ``1 / (1 - decay)``)."""
        state = self._keys.get(key)
        return 0.0 if state is None else state.total / state.scale

    def keys(self) -> list[Hashable]:
        """The keys observed so far, in first-seen order."""
        return list(self._keys)

    # -- estimates ----------------------------------------------------------------------

    def survival(self, key: Hashable, v: float) -> float:
        """``P(V > v)`` (``V`` on the grid); ``unseen`` for a key without data, 1 for
        ``v < 0``."""
        if v < 0:
            return 1.0
        return self._after(key, math.floor(v / self.unit + EPS))

    def at_least(self, key: Hashable, v: float) -> float:
        """``P(V >= v)`` (``V`` on the grid); 1 for ``v <= 0``, ``unseen`` for a key without
        data and ``v > 0``."""
        k = math.ceil(v / self.unit - EPS)
        return 1.0 if k <= 0 else self._after(key, k - 1)

    def marginal(self, key: Hashable, s: float) -> float:
        """``P(V >= s + unit)``: the chance that one more grid unit on top of ``s`` fills;
        ``unit * marginal`` is its expected extra fill (greedy allocation's gain)."""
        return self.at_least(key, s + self.unit)

    def expected_fill(self, key: Hashable, s: float) -> float:
        """``E[min(V, s)]`` in shares: ``unit * sum_{j=1..m} P(K >= j)``, ``m =
        floor(s / unit)`` (an order's part below one grid unit counts as unfilled)."""
        m = math.floor(s / self.unit + EPS) if s > 0 else 0
        if m <= 0:
            return 0.0
        curve = self._curve(key)
        if curve is None:
            return self.unit * m * self.unseen
        # sum_{j=1..m} P(K >= j) = sum_{j=0..m-1} P(K > j)
        i = bisect.bisect_left(curve.values, m) - 1      # last event value below m
        if i < 0:
            return self.unit * m
        return self.unit * (curve.cum[i] + (m - curve.values[i]) * curve.after[i])

    def steps(self, key: Hashable) -> list[tuple[float, float]]:
        """The estimate as ``(v, P(V > v))`` at each exact-observation size, ascending;
        ``P(V > u)`` is that of the last ``v <= u`` (1 before the first). Empty when the key
        has no exact observation."""
        curve = self._curve(key)
        if curve is None:
            return []
        return [(k * self.unit, p) for k, p in zip(curve.values, curve.after, strict=True)]

    def hazards(self, key: Hashable) -> list[tuple[float, float, float]]:
        """``(v, events, at_risk)`` at each exact-observation size, ascending, in decayed
        weights: the evidence behind the hazard ``P(V = v | V >= v)`` (a posterior over it
        is Beta(events, at_risk - events) plus a prior; Thompson sampling draws from it)."""
        state = self._keys.get(key)
        if state is None or state.total <= 0:
            return []
        f = 1.0 / state.scale
        return [(u * self.unit, d * f, (d + beyond) * f)
                for u, d, beyond in _risk_sets(state.exact, state.censored)]

    # -- internals ----------------------------------------------------------------------

    def _down(self, qty: float) -> int:
        return math.floor(qty / self.unit + EPS)

    def _after(self, key: Hashable, k: int) -> float:
        """``P(K > k)`` for a grid value ``k >= 0``."""
        curve = self._curve(key)
        if curve is None:
            return self.unseen
        i = bisect.bisect_right(curve.values, k) - 1
        return 1.0 if i < 0 else curve.after[i]

    def _curve(self, key: Hashable) -> _Curve | None:
        """The key's cached step function; None for a key without data."""
        state = self._keys.get(key)
        if state is None or state.total <= 0:
            return None
        if state.curve is None:
            # the prior in stored units: actual weights are stored / scale
            state.curve = _km(state.exact, state.censored, self.prior * state.scale)
        return state.curve


def _risk_sets(exact: dict[int, float], censored: dict[int, float]
               ) -> list[tuple[int, float, float]]:
    """``(u, d(u), beyond(u))`` at each event value ``u`` (``d(u) > 0``), ascending, where
    ``beyond(u)`` is the weight of the exact observations at values ``> u`` plus the
    censorings at values ``> u``: the risk set is ``n(u) = d(u) + beyond(u)`` (module
    docstring, Ties). The sums run from the largest value down, so they only ever add
    positive weights: a running ``total - cumulative`` would cancel catastrophically once
    the old observations at large sizes decayed to ~1e-13 of the recent ones."""
    out: list[tuple[int, float, float]] = []
    beyond = 0.0                        # weight of every observation at a value > u
    for u in sorted(exact.keys() | censored.keys(), reverse=True):
        d = exact.get(u, 0.0)
        if d > 0:
            out.append((u, d, beyond))
        beyond += d + censored.get(u, 0.0)
    out.reverse()
    return out


def _km(exact: dict[int, float], censored: dict[int, float], prior: float = 0.0) -> _Curve:
    """Kaplan-Meier over the event values, ascending: ``P(K > u)`` is the product of
    ``1 - h = (beyond + prior) / (d + beyond + prior)`` up to ``u`` (``_risk_sets``; the
    censorings at ``u`` are not at risk at ``u``); ``prior`` (pseudo-observations censored
    at infinity) stays in every risk set. Written as that ratio, a hazard of 1 (no one else
    at risk) gives exactly 0."""
    values: list[int] = []
    after: list[float] = []
    cum: list[float] = []
    s = 1.0
    area, last = 0.0, 0                    # sum_{j < last} P(K > j); P(K > j) = s from last
    for u, d, beyond in _risk_sets(exact, censored):
        area += (u - last) * s
        last = u
        rest = beyond + prior
        s *= rest / (d + rest)
        values.append(u)
        after.append(s)
        cum.append(area)
    return _Curve(values, after, cum)


def _rescale(state: _Key) -> None:
    """Fold the lazy scale into the stored weights (amortised: once per
    ``100 / -log10(decay)`` = ``230 / -ln(decay)`` observations, when the scale passes
    ``RESCALE_AT``) and drop the negligible ones."""
    f = 1.0 / state.scale
    for counts in (state.exact, state.censored):
        for k in list(counts):
            w = counts[k] * f
            if w < PRUNE_BELOW:
                del counts[k]
            else:
                counts[k] = w
    state.total = sum(state.exact.values()) + sum(state.censored.values())
    state.scale = 1.0
