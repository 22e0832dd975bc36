"""Routing policies: how an order's quantity is allocated over the eligible LPs.

    policy = POLICIES["spray"](top_k=3)
    allocations = policy.allocate(qty, options, lot=100)

A policy sees the eligible LPs best first (``Option``: the LP as published, and the smallest
and largest child it may be sent) and returns ``Allocation`` s; the router turns them into
child orders with reasons. Learning policies (lpscore.learn, a later stage) implement the same
two methods: ``allocate``, and ``observe``, which the parent order calls with the outcome of
every child order.

- ``primary``: the whole quantity to the best LP that may take it (cut to its maximum size;
  the parent order re-routes the rest).
- ``spray``: split across the top ``k`` LPs at once, in proportion to score x fill rate x
  typical filled size per order (an LP's expected fill capacity; an unknown factor counts
  as the median of the others'), each slice within the LP's maximum size (what it cannot
  take goes to the others in the same proportions); slices below an LP's minimum are
  dropped and their quantity given to the others; slices are whole lots.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from lpscore.routing.candidates import Candidate

__all__ = [
    "POLICIES",
    "Allocation",
    "Option",
    "Outcome",
    "Policy",
    "Primary",
    "Spray",
    "Uniform",
    "default_options",
    "lots",
    "policy_named",
    "qty_text",
    "waterfill",
]

EPS = 1e-9


class Option(NamedTuple):
    """An eligible LP and the size limits of a child order to it."""

    candidate: Candidate
    min_qty: float
    max_qty: float
    """``inf`` when unlimited."""


class Allocation(NamedTuple):
    candidate: Candidate
    qty: float
    note: str = ""
    """Why this size, for the child's reason."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one child order (fed to ``Policy.observe``)."""

    lp: str
    symbol: str
    sent_qty: float
    filled_qty: float
    rejected: bool
    ack_latency_ns: int | None = None


class Policy(ABC):
    """Allocates a quantity over eligible LPs (see the module docstring)."""

    name: ClassVar[str]

    @abstractmethod
    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        """Allocations summing to at most ``qty``, in whole ``lot`` s, within each option's
        limits; empty when nothing can be sent. ``options`` come best first and are screened
        as they are taken: take only as many as needed (``list(options)`` takes all)."""

    def observe(self, outcome: Outcome) -> None:  # noqa: B027 - optional hook
        """Learn from a finished child order (static policies ignore it)."""


def default_options(candidates: Sequence[Candidate]) -> tuple[Option, ...]:
    """Each candidate without size limits (built once per snapshot, not per decision)."""
    return tuple(Option(c, 0.0, math.inf) for c in candidates)


def lots(qty: float, lot: float) -> float:
    """``qty`` rounded down to whole lots (tolerant of float noise); ``inf`` stays."""
    if math.isinf(qty):
        return qty
    return math.floor(qty / lot + EPS) * lot


class Primary(Policy):
    """The best eligible LP gets the whole order (or its maximum size)."""

    name = "primary"

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        for option in options:
            size = lots(min(qty, option.max_qty), lot)
            if size >= max(option.min_qty, lot) - EPS:
                cut = (f"cut to its maximum {qty_text(size)}" if option.max_qty < qty - EPS
                       else f"rounded down to whole lots of {qty_text(lot)}")
                note = "" if size >= qty - EPS else (
                    f"{cut}; {qty_text(qty - size)} left to re-route")
                return [Allocation(option.candidate, size, note)]
        return []


class Spray(Policy):
    """Split across the top ``k`` eligible LPs (see the module docstring)."""

    name = "spray"

    def __init__(self, top_k: int = 3) -> None:
        self.top_k = top_k
        self._shapes: dict[tuple[int, ...], _Shape] = {}

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        chosen, sizes, shape = _split(qty, _top(options, self.top_k, lot), lot, self._shape)
        if not chosen:
            return []
        text = qty_text(qty)
        out = []
        for o, size, basis in zip(chosen, sizes, shape.basis, strict=True):
            if size > 0:    # why this size: ``35% of 1,000,000 by score 87.6 x ...``
                note = f"{size / qty:.0%} of {text} by {basis}"
                if size >= o.max_qty - EPS:
                    note = f"{note}, at its maximum {qty_text(o.max_qty)}"
                out.append(Allocation(o.candidate, size, note))
        return out

    def _shape(self, chosen: list[Option]) -> _Shape:
        """The weights and notes of a set of LPs, worked out once per set of candidates
        (a snapshot's candidates live until the next version replaces them). Keyed by the
        candidates' identities: a remembered shape holds its candidates, so while it is
        remembered no other object can have their ids."""
        key = tuple([id(o.candidate) for o in chosen])
        found = self._shapes.get(key)
        if found is not None:
            return found
        if len(self._shapes) >= SHAPES:
            self._shapes.clear()
        candidates = [o.candidate for o in chosen]
        factors = _factors(candidates)
        shape = self._shapes[key] = _Shape.of(
            candidates, [a * b * c for a, b, c in factors],
            [_basis(c, *f) for c, f in zip(candidates, factors, strict=True)])
        return shape


SHAPES = 4096
"""Sets of candidates whose spray weights a policy remembers."""


class _Shape(NamedTuple):
    """What a split needs of its set of LPs, worked out before any quantity is known."""

    candidates: tuple[Candidate, ...]
    weights: list[float]
    """Relative shares, the largest scaled to 1 (no subnormal shares)."""
    mass: float
    """Their sum."""
    order: list[int]
    """Positions by weight, largest first: who gets leftover lots first."""
    basis: list[str]
    """Per LP, why its share: ``score 87.6 x fill rate 0.72 x typical fill 40,250``."""

    @classmethod
    def of(cls, candidates: Sequence[Candidate], weights: list[float],
           basis: list[str]) -> _Shape:
        top = max(weights, default=0.0)
        weights = [w / top for w in weights] if top > 0 else weights
        order = sorted(range(len(weights)), key=weights.__getitem__, reverse=True)
        return cls(tuple(candidates), weights, sum(weights), order, basis)


_NO_SHAPE = _Shape((), [], 0.0, [], [])


def _basis(c: Candidate, score: float, rate: float, per_order: float) -> str:
    basis = f"score {score:.1f}" if c.score is not None else f"static rank {c.rank}"
    return f"{basis} x fill rate {rate:.2f} x typical fill {per_order:,.0f}"


def _top(options: Iterable[Option], k: float, lot: float) -> list[Option]:
    """The first ``k`` options that can take at least one lot (screened lazily: no more are
    taken from ``options`` than needed)."""
    chosen: list[Option] = []
    least = lot - EPS
    for o in options:
        top = o.max_qty
        if top >= least and top >= o.min_qty - EPS:     # max(min_qty, lot) - EPS
            chosen.append(o)
            if len(chosen) >= k:
                break
    return chosen


def _split(qty: float, chosen: list[Option], lot: float,
           shape_of: Callable[[list[Option]], _Shape]
           ) -> tuple[list[Option], list[float], _Shape]:
    """``qty`` over ``chosen`` in proportion to their shape's weights, in whole lots within
    each option's maximum; while a slice falls under its LP's minimum, the lowest-ranked
    such LP is dropped and the split redone. The options kept, their sizes and shape."""
    low = lot - EPS
    while chosen:
        shape = shape_of(chosen)
        sizes = _sizes(qty, chosen, shape, lot)
        small = [i for i, o in enumerate(chosen) if sizes[i] < low or sizes[i] < o.min_qty - EPS]
        if not small:
            return chosen, sizes, shape
        del chosen[max(small, key=lambda i: (chosen[i].candidate.rank, i))]
    return [], [], _NO_SHAPE


def _sizes(qty: float, chosen: Sequence[Option], shape: _Shape, lot: float) -> list[float]:
    caps = [o.max_qty for o in chosen]
    mass = shape.mass
    if mass > 0 and math.inf == min(caps):       # the usual case: nothing to cap, one pass
        floor = math.floor
        whole = [floor(min(qty * w / mass, qty) / lot + EPS) * lot for w in shape.weights]
        residual = round((lots(qty, lot) - sum(whole)) / lot) * lot
        if residual >= lot - EPS:                # no cap: the largest weight takes them all
            whole[shape.order[0]] += residual
        return whole
    sizes, left = waterfill(qty, shape.weights, caps)
    inf, floor = math.inf, math.floor
    whole = [s if s == inf else floor(s / lot + EPS) * lot for s in sizes]
    target = lots(qty if left <= EPS * max(qty, 1.0) else sum(sizes), lot)
    residual = round((target - sum(whole)) / lot) * lot     # whole lots, float noise out
    for i in shape.order:                                   # leftover lots, largest first
        if residual < lot - EPS:
            break
        take = min(lots(caps[i] - whole[i], lot), residual)
        whole[i] += take
        residual -= take
    return whole


def _factors(candidates: Sequence[Candidate]) -> list[tuple[float, float, float]]:
    """Per LP: (score or 1/rank, fill rate, typical fill); unknowns take the others' median."""
    rate = [c.fill_rate for c in candidates]
    size = [c.filled_qty_per_order for c in candidates]
    if None not in rate and all(size) and all(c.score is not None for c in candidates):
        return [(max(c.score, 1.0), r, s)  # type: ignore[type-var,misc]  # the usual case
                for c, r, s in zip(candidates, rate, size, strict=True)]
    rate_fill = _median([r for r in rate if r is not None and not math.isnan(r)])
    size_fill = _median([s for s in size if s and not math.isnan(s)])
    return [(max(c.score, 1.0) if c.score is not None else 1.0 / c.rank,
             r if r is not None and not math.isnan(r) else rate_fill,
             s if s and not math.isnan(s) else size_fill)
            for c, r, s in zip(candidates, rate, size, strict=True)]


def _median(values: list[float]) -> float:
    """The median of ``values`` (1.0 when there are none)."""
    if not values:
        return 1.0
    values.sort()
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0


def waterfill(total: float, weights: Sequence[float], caps: Sequence[float]
              ) -> tuple[list[float], float]:
    """Split ``total`` in proportion to ``weights``, none above its cap; what the caps leave
    over is handed to the others in the same proportions (equally when none of them has any
    weight). Returns the sizes and the rest."""
    sizes = [0.0] * len(weights)
    active = [i for i, cap in enumerate(caps) if cap > EPS]
    left = total
    while left > EPS and active:
        mass = sum(map(weights.__getitem__, active))
        even = 1.0 / len(active)   # no weight left among those with room: equal shares
        taken = 0.0
        below = []
        for i in active:
            share = left * (weights[i] / mass if mass > 0 else even)
            cap, size = caps[i], sizes[i]
            room = cap - size
            take = room if room < share else share     # min(share, room), NaN as min has it
            sizes[i] = size = size + take
            taken += take
            if size < cap - EPS:
                below.append(i)
        left -= taken
        active = below
        if taken <= EPS:
            break
    return sizes, max(left, 0.0)


def qty_text(x: float) -> str:
    """``200,000`` or ``12.50``: quantities in reasons."""
    return f"{x:,.0f}" if abs(x - round(x)) < EPS else f"{x:,.2f}"


class Uniform(Policy):
    """Equal slices to every eligible LP (at most ``top_k``), within their limits: the
    baseline that ignores scores."""

    name = "uniform"

    def __init__(self, top_k: int | None = None) -> None:
        self.top_k = top_k

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        chosen, sizes, _ = _split(qty, _top(options, self.top_k or math.inf, lot), lot,
                                  _equal)
        return [Allocation(o.candidate, s, f"1/{len(chosen)} of {qty_text(qty)}")
                for o, s in zip(chosen, sizes, strict=True) if s > 0]


def _equal(chosen: list[Option]) -> _Shape:
    return _Shape.of([o.candidate for o in chosen], [1.0] * len(chosen), [])


POLICIES: dict[str, type[Policy]] = {"primary": Primary, "spray": Spray, "uniform": Uniform}


def policy_named(name: str, *, top_k: int) -> Policy:
    """The policy called ``name`` (spray over at most ``top_k`` LPs; uniform over every
    eligible LP); ValueError naming the choices for an unknown one."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}: use one of {', '.join(POLICIES)}")
    return Spray(top_k) if name == "spray" else POLICIES[name]()
