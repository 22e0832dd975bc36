"""Routing decisions: the context's published LPs, screened by the rules, allocated by a policy.

    router = Router(cache, "block", config.routing)
    plan = router.plan(RouteRequest("ACME", Side.SELL, 200_000, price=20.0,
                                    context={"size_bucket": "adv>=2%"}), Spray(3))
    plan.children   # (Child("LP_C", 80000, "LP_C: rank 1 under block, score 88.2 +/- 3.1; ..."),)

The order's context is looked up finest first (LP x symbol x size bucket x regime, then
coarser, then the LP level ``*``) in the cache, which never touches the network; a level
with no snapshot, or whose LPs are all screened out, falls back to the next, and past the
LP level to the configured static ranking. ``Plan.fallback`` says which and why.

Screening (docs/routing.md): LPs already tried for this order, the kill switch, symbols an
LP is not allowed, an LP that rejected this symbol within the cool-down, provisional scores
(when configured); per-LP minimum and maximum child sizes (``max_qty``, ``max_notional`` at
the order's price) bound what a policy may send.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lpscore.config import LpRule, RoutingConfig
from lpscore.model.enums import Side
from lpscore.publish.publisher import HIERARCHY, levels
from lpscore.routing.cache import ScoreCache
from lpscore.routing.candidates import Candidate, static_candidates
from lpscore.routing.policies import Option, Policy, default_options

__all__ = ["STATIC", "Child", "Plan", "RouteRequest", "Router", "Skipped"]

STATIC = "static"


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """An order (or the remainder of one) to route."""

    symbol: str
    side: Side
    qty: float
    price: float | None = None
    """Limit or reference price; needed when an LP has a ``max_notional``."""
    context: Mapping[str, str] = field(default_factory=dict)
    """Finer context keys (``size_bucket``, ``vol_regime``); the symbol is added."""
    exclude: frozenset[str] = frozenset()
    """LPs not to use for this order (already tried)."""
    why: str = ""
    """Why this request (``re-route after LP_A rejected``), added to every child's reason."""

    def __post_init__(self) -> None:
        # every entry point checks its input; a library caller's request is checked here,
        # before a NaN quantity reaches the policies' rounding
        if not (math.isfinite(self.qty) and self.qty >= 0):
            raise ValueError(f"route request {self.symbol}: qty {self.qty!r} must be finite "
                             "and >= 0")
        if self.price is not None and not (math.isfinite(self.price) and self.price > 0):
            raise ValueError(f"route request {self.symbol}: price {self.price!r} must be "
                             "positive and finite, or None")


class Child(NamedTuple):
    lp: str
    qty: float
    reason: str


class Skipped(NamedTuple):
    lp: str
    why: str


class Plan(NamedTuple):
    """A routing decision and everything needed to explain it."""

    policy: str
    profile: str
    stale: bool
    context: str
    """The context key whose scores were used, or ``static``."""
    fallback: str
    """Empty when the order's own context had eligible LPs; else what happened."""
    children: tuple[Child, ...]
    skipped: tuple[Skipped, ...]
    """LPs the rules screened out, of those ranked above the last LP the policy looked at
    (all of them when nothing was eligible)."""
    unrouted: float
    """Quantity no eligible LP could take now."""

    def to_json(self) -> dict[str, Any]:
        """``lpscore route --format json``."""
        return {"policy": self.policy, "profile": self.profile, "stale": self.stale,
                "context": self.context, "fallback": self.fallback or None,
                "children": [{"lp": c.lp, "qty": _num(c.qty), "reason": c.reason}
                             for c in self.children],
                "skipped": [{"lp": s.lp, "why": s.why} for s in self.skipped],
                "unrouted": _num(self.unrouted)}


class Router:
    """Decisions for one profile from a score cache (see the module docstring)."""

    def __init__(self, cache: ScoreCache | None, profile: str, config: RoutingConfig, *,
                 hierarchy: Sequence[str] = HIERARCHY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cache = cache
        self.profile = profile
        self.config = config
        self._hierarchy = tuple(hierarchy)
        self._finer = self._hierarchy[1:]
        self._clock = clock
        self._killed = set(config.killed)
        self._cooldown: dict[tuple[str, str], float] = {}
        self._chains: dict[tuple[str | None, ...], tuple[tuple[str, ...], str]] = {}
        self._static_memo: dict[object, Any] = {}
        self._static = static_candidates(config.static_ranking)
        self._static_options = default_options(self._static)

    # -- runtime controls ---------------------------------------------------------------------

    def kill(self, lp: str) -> None:
        """Stop routing to ``lp`` (kill switch) until ``revive``."""
        self._killed.add(lp)

    def revive(self, lp: str) -> None:
        self._killed.discard(lp)

    def record_reject(self, lp: str, symbol: str) -> None:
        """``lp`` rejected an order in ``symbol``: skip it for the cool-down."""
        self._cooldown[(lp, symbol)] = self._clock() + self.config.reject_cooldown_s

    # -- decisions ----------------------------------------------------------------------------

    def plan(self, request: RouteRequest, policy: Policy) -> Plan:
        """Route ``request`` with ``policy``; never waits on the network. LPs are screened
        in rank order as the policy asks for them, so a primary decision screens only down
        to the first eligible LP."""
        chain, unused = self._levels(request)
        tried: list[str] = []
        skipped: list[Skipped] = []
        options: Iterator[Option] = iter(())
        used = STATIC
        lookup = self.cache.entry if self.cache is not None else None
        for key in chain:
            entry = lookup(self.profile, key) if lookup is not None else None
            if entry is None:
                tried.append(f"no scores at {key}")
                continue
            screened: list[Skipped] = []
            found = self._screen(entry.candidates, entry.options, entry.memo, request,
                                 screened)
            first = next(found, None)
            if first is not None:
                used, skipped = key, screened
                options = itertools.chain((first,), found)
                break
            skipped = skipped or screened      # explain the finest level that had LPs
            tried.append(f"no eligible LP at {key}")
        if used == STATIC:     # screened as the policy takes them, explained with the rest
            options = self._screen(self._static, self._static_options, self._static_memo,
                                   request, skipped)
        allocations = policy.allocate(request.qty, options, self.config.lot_size)
        why = request.why
        children = tuple([Child(c.lp, qty, _reason(c.label, note, why))
                          for c, qty, note in allocations])
        stale = self.cache.stale(self.profile) if self.cache is not None else True
        notes = [unused] if unused else []
        if used != chain[0]:
            notes += [*tried, f"used {used}" if used != STATIC else
                      "used the static ranking" if self._static else
                      "no static ranking configured (routing.static_ranking)"]
        fallback = "; ".join(notes)
        routed = sum([c.qty for c in children]) if len(children) != 1 else children[0].qty
        return Plan(policy.name, self.profile, stale, used, fallback, children,
                    tuple(dict.fromkeys(skipped)) if skipped else (),
                    max(request.qty - routed, 0.0))

    def _unused(self, request: RouteRequest) -> str:
        """The keys of the order's context that no published level can hold, said: a level
        is a prefix of the hierarchy, so ``vol_regime`` without ``size_bucket`` matches no
        level (it was dropped, and the plan claimed the order's own context decided)."""
        given = {"symbol", *request.context}
        depth = next((i for i, k in enumerate(self._hierarchy) if k not in given),
                     len(self._hierarchy))
        unused = [f"{k}={request.context[k]}" for k in self._hierarchy[depth:]
                  if k in request.context]
        if not unused:
            return ""
        return (f"{', '.join(unused)} not used: published levels need "
                f"{self._hierarchy[depth]} before it (give the order's price, or "
                f"{self._hierarchy[depth]}=)")

    def chain(self, request: RouteRequest) -> tuple[str, ...]:
        """The context keys to look up, finest first, ending with ``*``."""
        return self._levels(request)[0]

    def _levels(self, request: RouteRequest) -> tuple[tuple[str, ...], str]:
        """``chain`` and ``_unused`` of the order's context, worked out once per context."""
        values = (request.symbol, *map(request.context.get, self._finer))
        found = self._chains.get(values)
        if found is None:
            found = self._chains[values] = (tuple(
                levels({**request.context, "symbol": request.symbol}, self._hierarchy)),
                self._unused(request))
        return found

    def _screen(self, candidates: Sequence[Candidate], defaults: Sequence[Option],
                memo: dict[object, Any], request: RouteRequest, skipped: list[Skipped]
                ) -> Iterator[Option]:
        """The eligible LPs in rank order, lazily; those screened out go to ``skipped``.
        What the configuration alone decides is worked out once per snapshot and symbol
        (``_rules``, kept in the snapshot's ``memo``); a decision checks the order's
        exclusions, the kill switch and the cool-downs, and sizes the LPs with a
        ``max_notional`` at the order's price."""
        symbol = request.symbol
        exclude, killed, cooldown = request.exclude, self._killed, self._cooldown
        for c, option, before, after, rule in self._rules(candidates, defaults, memo, symbol):
            lp = c.lp
            if exclude and lp in exclude:
                why = "already tried for this order"
            elif killed and lp in killed:
                why = "kill switch"
            elif before:
                why = before
            elif cooldown and (until := cooldown.get((lp, symbol))) is not None and (
                    until > (now := self._clock())):
                ago = self.config.reject_cooldown_s - (until - now)
                why = (f"rejected {symbol} {ago:.1f} s ago (cool-down "
                       f"{self.config.reject_cooldown_s:g} s)")
            elif after:
                why = after
            elif option is not None:
                yield option
                continue
            elif request.price is None:
                why = "has a max_notional and the order no price"
            else:
                assert rule is not None
                assert rule.max_notional is not None
                top = rule.max_qty if rule.max_qty is not None else math.inf
                yield Option(c, rule.min_qty, min(top, rule.max_notional / request.price))
                continue
            skipped.append(Skipped(lp, why))

    def _rules(self, candidates: Sequence[Candidate], defaults: Sequence[Option],
               memo: dict[object, Any], symbol: str) -> tuple[_Rule, ...]:
        """Per LP of a snapshot, what the configuration decides for ``symbol``: its option
        (None when its size depends on the order's price), why it is screened out before
        the cool-down (provisional) and after it (symbol not allowed). Kept in ``memo``
        (the snapshot's) per configuration and symbol."""
        config = self.config
        key = (id(config), symbol)     # a RoutingConfig (its rules a dict) has no hash
        found = memo.get(key)
        if found is not None:   # the memo holds that config: no other object has its id
            return found[1]  # type: ignore[no-any-return]
        rules = config.lps
        out = []
        for c, default in zip(candidates, defaults, strict=True):
            lp = c.lp
            before = (f"provisional (n={c.n_orders}) and routing.exclude_provisional is on"
                      if config.exclude_provisional and c.provisional else "")
            rule = rules.get(lp)
            option: Option | None = default
            after = ""
            if rule is not None:
                if rule.symbols and symbol not in rule.symbols:
                    after = f"not allowed {symbol} (routing.lps.{lp}.symbols)"
                elif rule.max_notional is None:
                    option = Option(c, rule.min_qty,
                                    rule.max_qty if rule.max_qty is not None else math.inf)
                else:
                    option = None
            out.append(_Rule(c, option, before, after, rule))
        rules_of = tuple(out)
        memo[key] = (config, rules_of)
        return rules_of


class _Rule(NamedTuple):
    """What the configuration decides about one LP of a snapshot for one symbol."""

    candidate: Candidate
    option: Option | None
    """None when its size depends on the order's price (``max_notional``)."""
    before: str
    after: str
    rule: LpRule | None


def _reason(label: str, note: str, why: str) -> str:
    """A child's reason: the LP as ranked (``Candidate.label``), then why this size, then
    why this request."""
    if note:
        label = f"{label}; {note}"
    return f"{label}; {why}" if why else label


def _num(x: float) -> float | int:
    return round(x) if abs(x - round(x)) < 1e-9 else x

