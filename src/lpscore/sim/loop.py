"""The closed loop: router -> FIX -> simulated LPs -> FIX -> scorecard -> score store -> router.

    result = Simulation(load_scenario("acme"), seed=7).run()
    result.shortfall_bps, result.fill_share, result.timeline

Everything between the router and the LPs is FIX bytes on a simulated clock: the router's
NewOrderSingle and cancel messages reach the LP after ``net_ms``; the LP's answers come back
the same way. Every message we send or receive is written to a FIX log with a capture
prefix (our clock), exactly as a FIX engine would log it. The scorecard reads those messages
as the live pipeline does (lpscore.sim.live: the stream's decoder and incremental processor,
which run the batch ingest and KPI engine on the orders a message touches). Before every
decision of the router under test (each slice, each re-route after a reject or a partial
fill), the scorecard takes every message logged since the last time, the changed contexts
are scored and published to the store, and the router's score cache takes the new
snapshots: every decision sees every fill and reject received before it, as if the scores
had been published after each (nobody reads the store in between). Quotes reach the
scorecard once final (``net_ms`` after their time); every ``rescore_every_s`` the desk's
other flow and the markouts completed by new quotes are published too. There is no shortcut from the
simulator into the KPI tables.

Our fills move the market (square-root impact, plus the drift of LPs that leak).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lpscore.config import (
    Config,
    ContextConfig,
    IngestConfig,
    MarketDataConfig,
    RoutingConfig,
)
from lpscore.errors import ConfigError
from lpscore.fix.codec import FixMessage, decode
from lpscore.kpi.context import size_bucket_of
from lpscore.marketdata import load_quotes
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore
from lpscore.quarantine import Quarantine
from lpscore.routing import (
    FixOrderWriter,
    ParentOrder,
    Plan,
    Policy,
    Router,
    RouteRequest,
    ScoreCache,
)
from lpscore.routing.fixout import fix_time
from lpscore.routing.journal import decision_record
from lpscore.routing.policies import lots, policy_named
from lpscore.scoring import config_catalog, load_profile
from lpscore.scoring.profiles import parse_duration
from lpscore.sim.live import LiveScorecard
from lpscore.sim.lps import SimulatedLp, renumber
from lpscore.sim.market import Market, ReplayMarket, SyntheticMarket
from lpscore.sim.policies import RandomOne
from lpscore.sim.scenario import ParentSpec, Scenario, check_profile
from lpscore.stats.table import Decay

__all__ = ["SimResult", "Simulation", "TimelineRow", "leak_drift_bps"]

NS = 1_000_000_000
TAIL_S = 120.0
"""The market runs this long past the scenario so the last fills' markouts have quotes."""


@dataclass(frozen=True, slots=True)
class TimelineRow:
    t_s: float
    what: str
    """``route``, ``fill``, ``reject``, ``cancel``, ``scores``, ``start``, ``end``."""
    lp: str
    qty: float
    price: float | None
    latency_ms: float | None
    note: str


@dataclass
class SimResult:
    scenario: str
    seed: int
    completed: bool
    completion_s: float | None
    qty: float
    filled_qty: float
    vwap: float | None
    arrival_mid: float
    shortfall_bps: float | None
    """Implementation shortfall vs the arrival mid, positive = cost: the fills' cost plus the
    unfilled quantity valued at the mid when the window closed, over the order's value."""
    fill_share: dict[str, float]
    rejects: int
    scores: list[dict[str, Any]]
    timeline: list[TimelineRow]
    fix_log: bytes
    quotes: pl.DataFrame
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """The router under test's decisions, as ``decisions.jsonl`` records."""

    def to_json(self, fix_log_path: str | None = None) -> dict[str, Any]:
        return {"scenario": self.scenario, "seed": self.seed, "completed": self.completed,
                "completion_s": self.completion_s, "qty": self.qty,
                "filled_qty": self.filled_qty, "vwap": self.vwap,
                "arrival_mid": self.arrival_mid, "shortfall_bps": self.shortfall_bps,
                "fill_share": self.fill_share, "rejects": self.rejects,
                "scores": self.scores, "fix_log": fix_log_path}


@dataclass
class _Parent:
    """The scenario's parent order and its slices."""

    spec: ParentSpec
    symbol: str
    start_ns: int
    end_ns: int
    arrival_mid: float = math.nan
    slices: list[ParentOrder] = field(default_factory=list)
    completed_ns: int | None = None
    """When what is left fell under one lot (nothing more can be routed)."""

    @property
    def sign(self) -> int:
        return 1 if self.spec.side == "buy" else -1

    def filled(self) -> float:
        return sum(s.filled_qty for s in self.slices)

    def filled_by_lp(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for child in (c for s in self.slices for c in s.children.values()):
            out[child.lp] = out.get(child.lp, 0.0) + child.cum_qty
        return {lp: q for lp, q in out.items() if q > 0}

    def working(self) -> float:
        return sum(c.leaves for s in self.slices for c in s.open_children)


class Simulation:
    """One seeded run of a scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None,
                 policy: Callable[[Simulation], Policy] | None = None,
                 scoring: bool = True, static_ranking: tuple[str, ...] | None = None,
                 progress: Callable[[float], None] | None = None) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.t0 = scenario.start_ns
        self._end_ns = self.t0 + int(scenario.duration_s * NS)
        self._net_ns = int(scenario.net_ms * 1e6)
        self._progress = progress
        self.market = _market(scenario, self.seed)
        self.symbol = scenario.market.symbol
        self.lps = {p.name: SimulatedLp(p, self.market, seed=self.seed * 1_000 + i,
                                        start_ns=self.t0, our_comp_id=scenario.our_comp_id)
                    for i, p in enumerate(scenario.lps)}
        self.writer = FixOrderWriter(scenario.our_comp_id, targets={
            p.name: p.comp_id or p.name for p in scenario.lps})
        self._config = Config(context=ContextConfig(adv={self.symbol: scenario.market.adv}))
        self._ingest = IngestConfig(own_comp_ids=(scenario.our_comp_id,), lp_map={
            p.fix_comp_id: p.name for p in scenario.lps if p.fix_comp_id != p.name})
        check_profile(scenario, f"scenario {scenario.name}")   # not "--profile ..."
        self.profile = load_profile(scenario.profile,
                                    config_catalog(self._config.kpi))
        self.profile = replace(self.profile, draws=scenario.draws)
        if scenario.half_life is not None:
            self.profile = replace(self.profile, decay=Decay(parse_duration(scenario.half_life)))
        self.store = MemoryStore()
        self.card = LiveScorecard(self._ingest, self._config, self.profile, self.store)
        self._quotes_to = self.t0
        """Quotes before this time went to the scorecard."""
        self._rescored_ns = self.t0
        self.cache = ScoreCache(self.store, [self.profile.name],
                                stale_after_s=3 * scenario.rescore_every_s, clock=self._now_s)
        routing = scenario.routing
        everyone = tuple(p.name for p in scenario.lps)
        if not routing.static_ranking:    # before any score, the desk's LPs in listed order
            routing = replace(routing, static_ranking=everyone)
        self._scoring = scoring
        self.router: Router = _FreshRouter(
            self.cache if scoring else None, self.profile.name,
            routing if static_ranking is None
            else replace(routing, static_ranking=static_ranking),
            clock=self._now_s, before_plan=self._rescore if scoring else None)
        # the desk's other flow goes to every LP whatever the policy under test
        self._bg_router = Router(None, self.profile.name,
                                 replace(routing, static_ranking=everyone), clock=self._now_s)
        self._make_policy = policy
        self._rng = np.random.default_rng([self.seed, 17])
        self._background = RandomOne(np.random.default_rng([self.seed, 23]))
        self._queue: list[tuple[int, int, str, object]] = []
        self._seq = itertools.count()
        self._now = self.t0
        self._log: list[bytes] = []
        self._owner: dict[str, ParentOrder] = {}
        self._sent_ns: dict[str, int] = {}
        self._parents: list[_Parent] = []
        self._slice_parent: dict[int, _Parent] = {}
        self.timeline: list[TimelineRow] = []
        self.scores: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        """The router under test's decisions as journal records (lpscore.routing.journal)."""
        self.freshness: list[tuple[int, int]] = []
        """At each of its decisions: (messages logged, messages the scorecard had taken)."""
        self.rejects = 0
        self._lp_seq: dict[str, int] = {}
        self._last_scores: dict[str, float] = {}

    # -- the clock ----------------------------------------------------------------------------

    def _now_s(self) -> float:
        return (self._now - self.t0) / NS

    @property
    def now_ns(self) -> int:
        """The simulated clock."""
        return self._now

    def remaining(self) -> float:
        """What the scenario's parent orders still have to do (not filled, not working)."""
        return sum(max(p.spec.qty - p.filled() - p.working(), 0.0) for p in self._parents)

    def _at(self, t_ns: int, kind: str, payload: object = None) -> None:
        heapq.heappush(self._queue, (t_ns, next(self._seq), kind, payload))

    # -- running ------------------------------------------------------------------------------

    def run(self) -> SimResult:
        scenario = self.scenario
        for order in scenario.orders:
            start = self.t0 + int(order.start_s * NS)
            parent = _Parent(order, self.symbol, start, start + int(order.window_s * NS))
            self._parents.append(parent)
            slices = math.ceil(order.window_s / order.slice_every_s)
            for k in range(slices):
                self._at(start + int(k * order.slice_every_s * NS), "slice", (parent, k))
            sweep = min(5.0, order.slice_every_s / 4)      # a last slice for what fell short
            self._at(parent.end_ns - int(sweep * NS), "slice", (parent, slices))
            self._at(parent.end_ns, "window_end", parent)
        if scenario.background.every_s > 0:
            self._at(self.t0 + int(scenario.background.every_s * NS / 2), "background")
        if self._scoring:
            self._at(self.t0 + int(scenario.rescore_every_s * NS), "rescore")
        while self._queue:
            t, _, kind, payload = heapq.heappop(self._queue)
            if t > self._end_ns and kind in ("slice", "background", "rescore"):
                continue
            self._now = t
            getattr(self, f"_on_{kind}")(payload)
            if self._progress is not None:
                self._progress(min(self._now_s() / scenario.duration_s, 1.0))
        return self._result()

    # -- events -------------------------------------------------------------------------------

    def _on_slice(self, payload: tuple[_Parent, int]) -> None:
        parent, k = payload
        lot = self.router.config.lot_size
        if k == 0:
            parent.arrival_mid = self.market.mid_at(self._now)
            self._row("start", "", parent.spec.qty, None, None,
                      f"{parent.spec.side} {parent.spec.qty:,.0f} {self.symbol} within "
                      f"{parent.spec.window_s:g} s, arrival mid {parent.arrival_mid:.4f}")
        if parent.completed_ns is not None:
            return
        remaining = parent.spec.qty - parent.filled() - parent.working()
        slices_left = max(math.ceil((parent.end_ns - self._now) / (parent.spec.slice_every_s
                                                                  * NS)), 1)
        qty = lots(max(remaining, 0.0) / slices_left, lot)
        if qty < lot:
            qty = lots(max(remaining, 0.0), lot)
        if qty < lot:
            return
        deadline = min(self._now + int(parent.spec.slice_every_s * NS), parent.end_ns)
        policy = (self._make_policy(self) if self._make_policy is not None else
                  policy_named(parent.spec.policy, top_k=self.scenario.routing.spray_top_k))
        name, side = f"P{len(self._parents)}S{k}", Side.BUY if parent.sign > 0 else Side.SELL
        order = ParentOrder(self.router, policy, self.writer,
                            parent_id=name, symbol=self.symbol, side=side, qty=qty,
                            deadline_ns=deadline, time_in_force=parent.spec.time_in_force,
                            context=self._context(qty),
                            on_decision=partial(self._decided, name, side))
        parent.slices.append(order)
        self._slice_parent[id(order)] = parent
        self._send(order, order.start(self._now))
        self._at(deadline, "timer", order)

    def _on_background(self, _: object) -> None:
        bg = self.scenario.background
        side = Side.BUY if self._rng.random() < 0.5 else Side.SELL
        order = ParentOrder(self._bg_router, self._background, self.writer,
                            parent_id=f"B{next(self._seq)}", symbol=self.symbol, side=side,
                            qty=bg.qty, deadline_ns=self._now + int(bg.every_s * NS),
                            time_in_force=bg.time_in_force, context=self._context(bg.qty))
        self._send(order, order.start(self._now))
        self._at(self._now + int(bg.every_s * NS), "timer", order)
        self._at(self._now + int(bg.every_s * NS), "background")

    def _on_timer(self, order: ParentOrder) -> None:
        self._send(order, order.on_timer(self._now))

    def _on_window_end(self, parent: _Parent) -> None:
        for order in parent.slices:
            self._send(order, order.on_timer(self._now))
        self._row("end", "", parent.filled(), None, None,
                  f"window over: {parent.filled():,.0f} of {parent.spec.qty:,.0f} filled")

    def _on_to_lp(self, payload: tuple[str, bytes]) -> None:
        lp, raw = payload
        for deliver, answer in self.lps[lp].on_message(raw, self._now):
            self._at(deliver + self._net_ns, "to_us", (lp, answer))

    def _on_to_us(self, payload: tuple[str, bytes]) -> None:
        lp, raw = payload
        seq = self._lp_seq[lp] = self._lp_seq.get(lp, 0) + 1
        raw = renumber(raw, seq)       # numbered as sent, not as the LP generated it
        self._write(raw)
        message = decode(raw)
        if message.msg_type != "8":
            order = None
        else:
            cl = (message.get(11) or b"").decode()
            order = self._owner.get(cl) or self._owner.get((message.get(41) or b"").decode())
        exec_type = (message.get(150) or b"").decode()
        if exec_type in ("F", "1", "2"):
            self._filled(lp, message, order)
        elif exec_type == "8":
            self.rejects += 1
            self._row("reject", lp, float(message.get(38) or 0), None, None,
                      (message.get(58) or b"").decode())
        if order is not None:
            self._send(order, order.on_message(raw, self._now))
            parent = self._slice_parent.get(id(order))
            if parent is not None and parent.completed_ns is None and (
                    parent.spec.qty - parent.filled() < self.router.config.lot_size - 1e-9):
                parent.completed_ns = self._now

    def _on_rescore(self, _: object) -> None:
        every = int(self.scenario.rescore_every_s * NS)
        if self._now - self._rescored_ns >= every:     # else a decision just did it
            self._rescore()
        self._at(self._rescored_ns + every, "rescore")

    def _rescore(self) -> None:
        """The scorecard takes what was logged and the quotes that became final (those
        older than the network delay: a later fill of ours still moves the mid after its
        own time), and publishes; the router's cache takes the new snapshots."""
        self._rescored_ns = self._now
        final = max(self._now - self._net_ns, self._quotes_to)
        if final > self._quotes_to:
            self.card.quotes(self.market.quotes(self._quotes_to, final))
            self._quotes_to = final
        if self.card.rescore(self._now):
            self.cache.refresh()
            self._record_scores()

    # -- helpers ------------------------------------------------------------------------------

    def _send(self, order: ParentOrder, messages: list[bytes]) -> None:
        for raw in messages:
            message = decode(raw)
            cl = (message.get(11) or b"").decode()
            self._owner[cl] = order
            self._sent_ns.setdefault(cl, self._now)
            self._write(raw)
            lp = (message.get(100) or b"").decode()
            self._at(self._now + self._net_ns, "to_lp", (lp, raw))

    def _write(self, raw: bytes) -> None:
        """Log a message we sent or received, and give it to the scorecard."""
        line = _line(self._now, raw)
        self._log.append(line)
        if self._scoring:
            self.card.log(self._now, raw, len(line))

    def _filled(self, lp: str, message: FixMessage, order: ParentOrder | None) -> None:
        qty = float(message.get(32) or 0.0)
        px = float(message.get(31) or 0.0)
        if qty <= 0:
            return
        side = (message.get(54) or b"1").decode()
        sign = 1 if side == "1" else -1
        params = self.lps[lp].params_at(self._now - self._net_ns)
        self.market.apply_fill(self._now - self._net_ns, sign, qty,
                               drift_bps=leak_drift_bps(params.leak_bps, qty,
                                                        self.scenario.market.adv),
                               drift_s=params.leak_s)
        cl = (message.get(11) or b"").decode()
        sent = self._sent_ns.get(cl)
        parent = self._slice_parent.get(id(order)) if order is not None else None
        if parent is not None:
            self._row("fill", lp, qty, px, None if sent is None else (self._now - sent) / 1e6,
                      f"{parent.filled() + qty:,.0f} of {parent.spec.qty:,.0f}")

    def _decided(self, parent: str, side: Side, t_ns: int, plan: Plan) -> None:
        """A decision of the router under test: to the journal and the timeline."""
        asked = plan.unrouted + sum(c.qty for c in plan.children)
        self.decisions.append(decision_record(plan, ts_ns=t_ns, symbol=self.symbol,
                                              side=side.name.lower(), qty=asked,
                                              parent=parent))
        self.freshness.append((len(self._log), self.card.taken))
        for child in plan.children:
            self._row("route", child.lp, child.qty, None, None,
                      child.reason + (" [stale]" if plan.stale else ""))

    def _context(self, qty: float) -> dict[str, str]:
        bucket = size_bucket_of(qty, None, self.scenario.market.adv, self._config.context)
        return {} if bucket is None else {"size_bucket": bucket}

    def _record_scores(self) -> None:
        entry = self.cache.entry(self.profile.name, f"symbol={self.symbol}") or \
            self.cache.entry(self.profile.name, "*")
        if entry is None:
            return
        scored = [c for c in entry.candidates if c.score is not None]
        if all(self._last_scores.get(c.lp) == c.score for c in scored):
            return                 # another context changed; the symbol's scores did not
        changes = []
        for c in scored:
            assert c.score is not None
            self.scores.append({"t_s": round(self._now_s(), 3), "lp": c.lp, "score": c.score})
            before = self._last_scores.get(c.lp)
            delta = "" if before is None else f" ({c.score - before:+.1f})"
            changes.append(f"{c.lp} {c.score:.1f}{delta}")
            self._last_scores[c.lp] = c.score
        self._row("scores", "", 0.0, None, None, ", ".join(changes))

    def _row(self, what: str, lp: str, qty: float, price: float | None,
             latency_ms: float | None, note: str) -> None:
        self.timeline.append(TimelineRow(round(self._now_s(), 6), what, lp, qty, price,
                                         latency_ms, note))

    def _result(self) -> SimResult:
        parent = self._parents[0] if self._parents else None
        quotes = self.market.quotes(self.t0, self._end_ns + int(TAIL_S * NS) - 1)
        if parent is None:
            return SimResult(self.scenario.name, self.seed, True, None, 0.0, 0.0, None,
                             math.nan, None, {}, self.rejects, self.scores, self.timeline,
                             b"".join(self._log), quotes, self.decisions)
        filled = parent.filled()
        notional = sum(c.notional for s in parent.slices for c in s.children.values())
        vwap = notional / filled if filled else None
        # implementation shortfall (Perold): what was done vs the arrival mid, plus what was
        # not done, valued at the mid when the window closed (opportunity cost)
        arrival, unfilled = parent.arrival_mid, max(parent.spec.qty - filled, 0.0)
        closing = self.market.mid_at(min(parent.end_ns, self._end_ns))
        shortfall = parent.sign * (notional - filled * arrival + unfilled * (closing - arrival)
                                   ) / (parent.spec.qty * arrival) * 1e4
        done = parent.completed_ns is not None
        return SimResult(
            self.scenario.name, self.seed, done,
            (parent.completed_ns - parent.start_ns) / NS if done else None,  # type: ignore[operator]
            parent.spec.qty, filled, vwap, parent.arrival_mid, shortfall,
            {lp: q / filled for lp, q in sorted(parent.filled_by_lp().items())} if filled
            else {},
            self.rejects, self.scores, self.timeline, b"".join(self._log), quotes,
            self.decisions)


class _FreshRouter(Router):
    """The router under test: brings the scorecard up to date before every decision."""

    def __init__(self, cache: ScoreCache | None, profile: str, config: RoutingConfig, *,
                 clock: Callable[[], float], before_plan: Callable[[], None] | None) -> None:
        super().__init__(cache, profile, config, clock=clock)
        self._before_plan = before_plan

    def plan(self, request: RouteRequest, policy: Policy) -> Plan:
        if self._before_plan is not None:
            self._before_plan()
        return super().plan(request, policy)


def _market(scenario: Scenario, seed: int) -> Market:
    """The scenario's synthetic market, or the replay of its quotes file."""
    if scenario.replay is None:
        return SyntheticMarket(scenario.market, start_ns=scenario.start_ns,
                               duration_s=scenario.duration_s + TAIL_S, seed=seed)
    path = Path(scenario.replay)
    if not path.is_file():
        raise ConfigError(f"scenario {scenario.name}: replay = {scenario.replay} does not "
                          "exist; give a quotes file (CSV, Parquet or LOBSTER)")
    quotes = load_quotes([path], MarketDataConfig(), Quarantine()).quotes
    try:
        market = ReplayMarket.from_quotes(quotes, symbol=scenario.market.symbol,
                                          start_ns=scenario.start_ns, params=scenario.market)
    except ValueError as exc:
        raise ConfigError(f"scenario {scenario.name}: replay: {exc}") from exc
    covered = (market.end_ns - market.start_ns) / NS
    if covered < scenario.duration_s:
        raise ConfigError(f"scenario {scenario.name}: the replayed quotes cover {covered:,.0f} "
                          f"s, less than duration_s = {scenario.duration_s:g}; shorten the "
                          "scenario or replay a longer file")
    return market


def leak_drift_bps(leak_bps: float, qty: float, adv: float) -> float:
    """The drift against us after a fill of ``qty`` at an LP that leaks: ``leak_bps`` per 1%
    of ADV filled, in proportion (a 100-share fill leaks a hundredth of a 10,000-share one)."""
    return leak_bps * qty / (0.01 * adv)


def _line(t_ns: int, raw: bytes) -> bytes:
    """A FIX engine's log line: capture time, `` : ``, the message."""
    return f"{fix_time(t_ns)} : ".encode() + raw + b"\n"
