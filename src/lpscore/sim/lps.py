"""Simulated liquidity providers that speak FIX (docs/sim-lps.md).

    lp = SimulatedLp(LpParams(name="LP_A", fill_prob=0.95), market, seed=1, start_ns=t0)
    for deliver_ns, raw in lp.on_message(new_order_single, now_ns):
        ...                                   # ExecutionReports, cancel rejects, session rejects

One LP is one FIX session: it reads the router's NewOrderSingle (35=D) and OrderCancelRequest
(35=F) and answers with ExecutionReports (35=8), OrderCancelRejects (35=9) and session Rejects
(35=3), all made by lpscore.fix.codec.encode. Its behaviour is drawn from ``LpParams``, the
params in force when the request arrives (scheduled ``Change``s included), from one
``numpy.random.default_rng(seed)``: the same inputs give the same bytes.

A new order is acked after a lognormal latency, then decided ``fill delay + last-look hold``
later: declined (reject model), or filled against the liquidity drawn for it (the zero bin +
power law of Ganchev et al. 2010), unless last look rejects it because the mid moved against
the LP since the order arrived. Lit LPs fill at the touch improved by a drawn price
improvement, dark LPs at the mid; the rest of an IOC/FOK is canceled, a day order's stays open.

The pure ``*_rate``/``*_ms``/``*_bps`` helpers give the truth a scorecard should recover.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

import numpy as np

from lpscore.errors import ConfigError, FixError
from lpscore.fix.codec import FixMessage, decode, encode
from lpscore.model.enums import Side, side_sign
from lpscore.routing.fixout import fix_time

__all__ = [
    "Change",
    "Fill",
    "LpParams",
    "MarketView",
    "SimulatedLp",
    "ack_median_ms",
    "available_survival",
    "expected_fill_rate",
    "expected_pi_bps",
    "expected_reject_rate",
    "hold_median_ms",
    "reject_prob",
    "renumber", "resequence",
]

US = 1_000
MS = 1_000_000
KINDS = ("lit", "dark")
TIME_IN_FORCE = {"0": "day", "1": "day", "3": "ioc", "4": "fok"}   # GTC (1) is kept as a day order


class MarketView(Protocol):
    """What an LP reads of the market: the touch, the mid and the volatility regime at t."""

    def quote_at(self, t_ns: int) -> tuple[float, float]: ...   # (bid, ask)
    def mid_at(self, t_ns: int) -> float: ...
    def regime_at(self, t_ns: int) -> str: ...                  # "low" | "mid" | "high"


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """A scheduled behaviour change: from ``at_s`` seconds after the start, ``set`` applies."""

    at_s: float
    set: dict[str, float]
    """LpParams field -> new value, e.g. ``{"fill_prob": 0.4, "ack_ms": 40.0}``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LpParams:
    """One LP's behaviour; every formula is in docs/sim-lps.md."""

    name: str
    """What ExDestination (100) carries, e.g. ``LP_A``."""
    comp_id: str | None = None
    """Its FIX CompID (default: ``name``)."""
    kind: str = "lit"
    """``lit`` fills at or through the touch; ``dark`` fills at the mid or not at all."""
    ack_ms: float = 2.0
    """Median ack latency; lognormal with log-sd ``ack_sigma``."""
    ack_sigma: float = 0.5
    fill_ms: float = 5.0
    """Median time from the ack to the decision (before any last-look hold); lognormal."""
    fill_sigma: float = 0.5
    fill_prob: float = 0.9
    """Probability that a small order in a calm market is not declined."""
    reject_size_coef: float = 0.0
    """Decline probability += coef * qty / liquidity_scale (needs a finite scale)."""
    reject_high_vol_mult: float = 1.0
    """Decline probability multiplied by this in the ``high`` regime (then capped at 1)."""
    liquidity_zero_prob: float = 0.0
    """Ganchev zero bin: P(no liquidity at all for a request)."""
    liquidity_alpha: float = 1.0
    """Power-law tail exponent of the available size."""
    liquidity_scale: float = math.inf
    """Available size = 0 w.p. zero_prob, else scale * Lomax(alpha); inf = always enough."""
    last_look_ms: float = 0.0
    """Hold before the decision (0 = no last look)."""
    last_look_threshold_bps: float = 0.0
    """If the mid moved against the LP by more than this since the order arrived ..."""
    last_look_reject_prob: float = 0.0
    """... reject with this probability; moves in the LP's favour are never rejected."""
    pi_bps_mean: float = 0.0
    """Price improvement vs the touch (lit), bps of the mid, normal; never through the mid."""
    pi_bps_sd: float = 0.0
    leak_bps: float = 0.0
    """Adverse selection (>= 0): after a fill of 1% of ADV here the loop has the market drift
    this many bps further against us (up after our buy), in proportion to the fill's size
    (sim.loop.leak_drift_bps), see ``Fill``."""
    leak_s: float = 5.0
    """Time constant of that drift (``1 - exp(-age / leak_s)``, sim/market.py)."""
    changes: tuple[Change, ...] = ()

    def __post_init__(self) -> None:
        where = f"LP {self.name!r}"
        if not self.name:
            raise ConfigError("an LP needs a name (what ExDestination (100) carries)")
        if self.kind not in KINDS:
            raise ConfigError(f"{where}: kind = {self.kind!r}; use 'lit' or 'dark'")
        for name in _NUMERIC:
            value = getattr(self, name)
            if not isinstance(value, int | float) or math.isnan(value) or (
                    math.isinf(value) and name != "liquidity_scale"):
                raise ConfigError(f"{where}: {name} = {value!r}; give a finite number")
            if name in _PROBABILITIES and not 0 <= value <= 1:
                raise ConfigError(f"{where}: {name} = {value!r}; give a probability in [0, 1]")
            if name in _POSITIVE and not value > 0:
                raise ConfigError(f"{where}: {name} = {value!r}; it must be > 0")
            if name not in _SIGNED and value < 0:
                raise ConfigError(f"{where}: {name} = {value!r}; it must be >= 0")
        if self.reject_size_coef > 0 and math.isinf(self.liquidity_scale):
            raise ConfigError(f"{where}: reject_size_coef = {self.reject_size_coef:g} needs a "
                              "finite liquidity_scale (the size unit of the reject formula)")
        for change in self.changes:
            unknown = sorted(set(change.set) - set(_NUMERIC))
            if unknown:
                raise ConfigError(f"{where}: the change at {change.at_s:g} s sets "
                                  f"{', '.join(unknown)}; changeable fields are "
                                  f"{', '.join(_NUMERIC)}")
            if not math.isfinite(change.at_s):
                raise ConfigError(f"{where}: a change at {change.at_s!r} s; give seconds "
                                  "after the start")
            try:
                self.at(change.at_s)   # every state the schedule reaches is valid
            except ConfigError as exc:
                raise ConfigError(f"{exc} (after the change at {change.at_s:g} s)") from None

    def at(self, t_s: float) -> LpParams:
        """The params in force ``t_s`` seconds after the start: the changes with
        ``at_s <= t_s`` applied in time order (ties in the order given), no schedule left."""
        params = replace(self, changes=())
        for change in sorted(self.changes, key=lambda c: c.at_s):
            if change.at_s > t_s:
                break
            values: dict[str, Any] = dict(change.set)
            params = replace(params, **values)
        return params

    @property
    def fix_comp_id(self) -> str:
        return self.comp_id or self.name


_NUMERIC = tuple(f.name for f in fields(LpParams)
                 if f.name not in ("name", "comp_id", "kind", "changes"))
_PROBABILITIES = frozenset({"fill_prob", "liquidity_zero_prob", "last_look_reject_prob"})
_POSITIVE = frozenset({"liquidity_alpha", "liquidity_scale"})
_SIGNED = frozenset({"pi_bps_mean"})
"""Any finite value; every other number must be >= 0 (liquidity_scale may be inf)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One fill an LP sent (truth for tests and for the loop's market impact)."""

    lp: str
    cl_ord_id: str
    exec_id: str
    symbol: str
    side: Side
    qty: float
    price: float
    mid: float
    """The mid at the decision."""
    t_ns: int
    """The decision time: TransactTime (60) and SendingTime (52) of the fill report."""
    leak_bps: float
    """The params' leak in force when the order arrived (scheduled changes included)."""
    leak_s: float


# -- the truth the scorecard should recover ---------------------------------------------------

def reject_prob(params: LpParams, qty: float, regime: str = "mid") -> float:
    """P(an order is declined at the decision), before liquidity and last look:
    ``min(1, (1 - fill_prob + reject_size_coef * qty / liquidity_scale) * m)``, with
    ``m = reject_high_vol_mult`` in the ``high`` regime, else 1."""
    size = params.reject_size_coef * qty / params.liquidity_scale
    mult = params.reject_high_vol_mult if regime == "high" else 1.0
    return min(1.0, (1.0 - params.fill_prob + size) * mult)


def available_survival(params: LpParams, size: float) -> float:
    """P(available size > ``size``) for ``size >= 0``: ``(1 - z) * (1 + size/scale)**-alpha``."""
    if math.isinf(params.liquidity_scale):
        return 1.0 - params.liquidity_zero_prob
    return (1.0 - params.liquidity_zero_prob) * math.pow(1.0 + size / params.liquidity_scale,
                                                         -params.liquidity_alpha)


def _expected_min(params: LpParams, qty: float) -> float:
    """E[min(qty, V)] = integral of P(V > v) from 0 to qty (exact for the Lomax tail)."""
    s, a = params.liquidity_scale, params.liquidity_alpha
    if math.isinf(s):
        inner = qty
    elif abs(a - 1.0) < 1e-12:
        inner = s * math.log1p(qty / s)
    else:
        inner = s / (1.0 - a) * ((1.0 + qty / s) ** (1.0 - a) - 1.0)
    return (1.0 - params.liquidity_zero_prob) * inner


def expected_fill_rate(params: LpParams, qty: float, regime: str = "mid", *,
                       p_adverse: float = 0.0, time_in_force: str = "ioc") -> float:
    """E[filled / ordered] of a marketable order of ``qty`` (docs/sim-lps.md, Truth).

    ``p_adverse``: probability that the mid moves against the LP by more than the last-look
    threshold between arrival and decision (0 in a still market); the market decides it.
    Exact for the continuous model; fills are floored to whole units when the order quantity
    is whole, which lowers the true rate by less than ``1 / qty``.
    """
    if qty <= 0:
        raise ValueError(f"qty = {qty}: give a positive order quantity")
    kept = 1.0 - reject_prob(params, qty, regime)
    if params.last_look_ms > 0:
        kept *= 1.0 - params.last_look_reject_prob * p_adverse
    if time_in_force == "fok":
        return kept * (available_survival(params, qty) if qty > 0 else 1.0)
    return kept * _expected_min(params, qty) / qty


def expected_reject_rate(params: LpParams, qty: float, regime: str = "mid", *,
                         p_adverse: float = 0.0) -> float:
    """E[share of orders answered 150=8]: declines, plus last-look rejects of orders that
    found liquidity (``P(V > 0) = 1 - zero_prob``, up to the whole-unit floor)."""
    declined = reject_prob(params, qty, regime)
    look = params.last_look_reject_prob * p_adverse if params.last_look_ms > 0 else 0.0
    return declined + (1.0 - declined) * (1.0 - params.liquidity_zero_prob) * look


def ack_median_ms(params: LpParams) -> float:
    """Median ack latency (arrival -> 35=8 150=0): ``ack_ms``."""
    return params.ack_ms


def hold_median_ms(params: LpParams) -> float:
    """Median ack -> decision time (KPIS.md ``hold_time_ms``): ``fill_ms + last_look_ms``."""
    return params.fill_ms + params.last_look_ms


def expected_pi_bps(params: LpParams, half_spread_bps: float) -> float:
    """Mean price improvement vs the far touch in a still market with the given half spread.

    Lit: ``E[min(X, h)]``, X ~ N(pi_bps_mean, pi_bps_sd), h = half spread (the fill never goes
    through the mid); dark: h (the mid). Tick rounding is ignored.
    """
    if params.kind == "dark":
        return half_spread_bps
    mu, sd, h = params.pi_bps_mean, params.pi_bps_sd, half_spread_bps
    if sd == 0:
        return min(mu, h)
    d = (mu - h) / sd
    phi = math.exp(-0.5 * d * d) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1.0 + math.erf(d / math.sqrt(2)))
    return mu - ((mu - h) * cdf + sd * phi)


# -- the LP ------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Order:
    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    qty: float
    parent: bytes | None
    busy_ns: int                   # its last scheduled message; a cancel is handled after it
    closed_ns: int | None = None   # when it became terminal; None while open
    cum: float = 0.0
    notional: float = 0.0
    status: str = "0"              # OrdStatus (39) of its last report

    def leaves(self) -> float:
        return 0.0 if self.closed_ns is not None else max(self.qty - self.cum, 0.0)

    def avg_px(self) -> float:
        return round(self.notional / self.cum, 6) if self.cum else 0.0


class _RefusedError(Exception):
    """A message refused at the session level (becomes a 35=3)."""

    def __init__(self, reason: int, text: str, tag: int | None = None) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.tag = tag


class SimulatedLp:
    """One simulated LP and its FIX session (see the module docstring)."""

    def __init__(self, params: LpParams, market: MarketView, *, seed: int, start_ns: int,
                 our_comp_id: str = "LPSCORE", begin_string: str = "FIX.4.4") -> None:
        self.params = params
        self.market = market
        self.start_ns = start_ns
        self.comp_id = params.fix_comp_id
        self.our_comp_id = our_comp_id
        self._begin = begin_string
        self._rng = np.random.default_rng(seed)
        steps = sorted({c.at_s for c in params.changes})
        self._times = steps
        self._states = [params.at(-math.inf), *(params.at(t) for t in steps)]
        self._seq = 0
        self._ids: dict[str, int] = {}
        self._orders: dict[str, _Order] = {}
        self._fills: list[Fill] = []
        self._last_exec = ""

    def params_at(self, t_ns: int) -> LpParams:
        """The params in force at ``t_ns`` (``LpParams.at``, precomputed)."""
        t_s = (t_ns - self.start_ns) / 1e9
        return self._states[bisect.bisect_right(self._times, t_s)]

    def fills(self) -> list[Fill]:
        """Every fill sent so far, in the order sent."""
        return list(self._fills)

    def on_message(self, raw: bytes, t_ns: int) -> list[tuple[int, bytes]]:
        """Answers to one message from us arriving at ``t_ns``: ``(deliver_at_ns, message)``
        pairs in MsgSeqNum order. Never raises on bad input: it gets a session Reject."""
        try:
            message = decode(raw)
        except FixError as exc:
            return [self._session_reject(t_ns, _lenient_seq(raw), None, _RefusedError(
                99, f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason))]
        try:
            return self._dispatch(message, t_ns)
        except _RefusedError as refused:
            return [self._session_reject(t_ns, _lenient_seq(raw), message.msg_type, refused)]

    def _dispatch(self, message: FixMessage, t_ns: int) -> list[tuple[int, bytes]]:
        """Answers to a decoded message; raises _RefusedError for a session Reject."""
        if not (_text(message, 34) or "").isdigit():
            raise _RefusedError(1 if message.get(34) is None else 6,
                                "MsgSeqNum (34) missing or not a number", 34)
        if _text(message, 49) != self.our_comp_id or _text(message, 56) != self.comp_id:
            raise _RefusedError(9, f"CompID problem: expected 49={self.our_comp_id} "
                                   f"56={self.comp_id}")
        kind = message.msg_type
        if kind == "D":
            return self._new_order(message, t_ns)
        if kind == "F":
            return self._cancel(message, t_ns)
        if kind == "G":
            return [self._cancel_reject(_ceil_us(t_ns), message, self._orders.get(
                _text(message, 41) or ""), 2, 2, "replace not supported")]
        if kind == "0":
            return []
        if kind == "1":
            test_id = message.get(112)
            return [(_ceil_us(t_ns), self._encode(
                "0", _ceil_us(t_ns), [] if test_id is None else [(112, test_id)]))]
        raise _RefusedError(11, f"MsgType {kind} not supported by the simulated LP", 35)

    # -- new orders -----------------------------------------------------------------------

    def _new_order(self, message: FixMessage, t_ns: int) -> list[tuple[int, bytes]]:
        cl = _required(message, 11)
        symbol = _required(message, 55)
        side = _required(message, 54)
        sign = side_sign(side)
        if sign is None:
            raise _RefusedError(5, f"Side {side} not supported", 54)
        qty = _positive(message, 38)
        ord_type = _required(message, 40)
        limit = _positive(message, 44) if ord_type == "2" else None
        tif = TIME_IN_FORCE.get(_text(message, 59) or "0")
        p = self.params_at(t_ns)
        u = [float(x) for x in self._rng.random(4)]            # decline, zero bin, size, look
        z = [float(x) for x in self._rng.standard_normal(3)]   # ack, fill delay, improvement
        ack_ns = _ceil_us(t_ns + _lognormal(p.ack_ms, p.ack_sigma, z[0]) * MS)
        hold_ms = _lognormal(p.fill_ms, p.fill_sigma, z[1]) + p.last_look_ms
        decide_ns = max(_ceil_us(ack_ns + hold_ms * MS), ack_ns + US)
        order = _Order(self._next_id("O"), cl, symbol, side, qty, message.get(526), decide_ns)
        previous = self._orders.get(cl)
        problem = None
        if previous is not None and (previous.closed_ns is None or previous.closed_ns > t_ns):
            problem = (6, f"duplicate ClOrdID {cl}: that order is still live")
        elif ord_type not in ("1", "2"):
            problem = (99, f"OrdType {ord_type} not supported (market 1 or limit 2)")
        elif tif is None:
            problem = (99, f"TimeInForce {_text(message, 59)} not supported (0, 1, 3, 4)")
        if problem is not None:
            order.closed_ns = ack_ns
            return [self._report(ack_ns, order, "8", "8", text=problem[1], rej=problem[0])]
        self._orders[cl] = order
        ack = self._report(ack_ns, order, "0", "0")
        declined = u[0] < reject_prob(p, qty, self.market.regime_at(t_ns))
        if declined:
            order.closed_ns = decide_ns
            return [ack, self._report(decide_ns, order, "8", "8", text="declined", rej=0)]
        available = 0.0 if u[1] < p.liquidity_zero_prob else p.liquidity_scale * _lomax(
            u[2], p.liquidity_alpha)
        return [ack, *self._decide(order, p, sign, t_ns, available, limit, tif or "day",
                                   look=u[3], pi_bps=p.pi_bps_mean + p.pi_bps_sd * z[2])]

    def _decide(self, order: _Order, p: LpParams, sign: Side, t_ns: int, available: float,
                limit: float | None, tif: str, *, look: float,
                pi_bps: float) -> list[tuple[int, bytes]]:
        """The reports at the decision time of an acked order that was not declined."""
        at = order.busy_ns
        bid, ask = self.market.quote_at(at)
        mid = self.market.mid_at(at)
        if not 0 < bid <= ask or not mid > 0:
            order.closed_ns = at
            return [self._report(at, order, "8", "8", text="no valid quote", rej=99)]
        filled = min(order.qty, available)
        if order.qty == math.floor(order.qty):
            filled = float(math.floor(filled))
        # a dark pool pegs to the quoted midpoint (what the scorecard measures against)
        price = (round((bid + ask) / 2.0, 4) if p.kind == "dark"
                 else _lit_price(sign, bid, ask, mid, pi_bps))
        why = "no liquidity"
        if tif == "fok" and filled < order.qty:
            filled, why = 0.0, "FOK: not enough liquidity"
        if filled > 0 and limit is not None and sign * (price - limit) > 1e-9:
            filled, why = 0.0, "limit price not reached"
        if filled > 0 and p.last_look_ms > 0:
            arrival_mid = self.market.mid_at(t_ns)
            moved_bps = sign * (mid - arrival_mid) / arrival_mid * 1e4 if arrival_mid > 0 else 0.0
            if moved_bps > p.last_look_threshold_bps and look < p.last_look_reject_prob:
                order.closed_ns = at
                return [self._report(at, order, "8", "8", rej=99,
                                     text=f"last look: price moved {moved_bps:.2f} bps")]
        out = []
        if filled > 0:
            order.cum, order.notional = filled, filled * price
            done = filled >= order.qty
            if done:
                order.closed_ns = at
            out.append(self._report(at, order, "F", "2" if done else "1", last_qty=filled,
                                    last_px=price))
            self._fills.append(Fill(lp=p.name, cl_ord_id=order.cl_ord_id,
                                    exec_id=self._last_exec, symbol=order.symbol, side=sign,
                                    qty=filled, price=price, mid=mid, t_ns=at,
                                    leak_bps=p.leak_bps, leak_s=p.leak_s))
            at += US
            why = "IOC remainder canceled" if tif == "ioc" else why
        if order.closed_ns is None and tif != "day":     # IOC and FOK: the rest is canceled
            order.closed_ns = order.busy_ns = at
            out.append(self._report(at, order, "4", "4", text=why))
        return out

    # -- cancels --------------------------------------------------------------------------

    def _cancel(self, message: FixMessage, t_ns: int) -> list[tuple[int, bytes]]:
        cl = _required(message, 11)
        orig = _required(message, 41)
        p = self.params_at(t_ns)
        z = float(self._rng.standard_normal())
        order = self._orders.get(orig)
        handled = _ceil_us(t_ns + _lognormal(p.ack_ms, p.ack_sigma, z) * MS)
        if order is None:
            return [self._cancel_reject(handled, message, None, 1, 1, f"unknown order {orig}")]
        handled = max(handled, order.busy_ns + US)
        if order.closed_ns is not None:
            return [self._cancel_reject(handled, message, order, 0, 1,
                                        "too late to cancel: the order is done")]
        order.closed_ns = order.busy_ns = handled
        return [self._report(handled, order, "4", "4", cl_ord_id=cl, orig=orig,
                             text="canceled on request")]

    # -- encoding -------------------------------------------------------------------------

    def _report(self, at_ns: int, order: _Order, exec_type: str, status: str, *,
                last_qty: float = 0.0, last_px: float = 0.0, cl_ord_id: str | None = None,
                orig: str | None = None, text: str | None = None,
                rej: int | None = None) -> tuple[int, bytes]:
        self._last_exec = self._next_id("E")
        order.status = status
        stamp = fix_time(at_ns)
        body: list[tuple[int, str | bytes | float]] = [
            (37, order.order_id), (11, cl_ord_id or order.cl_ord_id)]
        if orig is not None:
            body.append((41, orig))
        if order.parent is not None:
            body.append((526, order.parent))
        body += [(17, self._last_exec), (150, exec_type), (39, status), (55, order.symbol),
                 (54, order.side), (38, _num(order.qty)), (32, _num(last_qty)),
                 (31, _num(last_px)), (14, _num(order.cum)),
                 (151, _num(0.0 if status in "248" else order.leaves())),
                 (6, _num(order.avg_px())), (60, stamp), (100, self.params.name)]
        if rej is not None:
            body.append((103, rej))
        if text is not None:
            body.append((58, text))
        return at_ns, self._encode("8", stamp, body)

    def _cancel_reject(self, at_ns: int, message: FixMessage, order: _Order | None,
                       reason: int, response_to: int, text: str) -> tuple[int, bytes]:
        status = "8" if order is None else order.status
        body: list[tuple[int, str | bytes | float]] = [
            (37, "NONE" if order is None else order.order_id), (11, message.get(11) or b""),
            (41, message.get(41) or b""), (39, status), (434, response_to), (102, reason),
            (60, fix_time(at_ns)), (58, text)]
        return at_ns, self._encode("9", at_ns, body)

    def _session_reject(self, t_ns: int, ref_seq: int, ref_type: str | None,
                        refused: _RefusedError) -> tuple[int, bytes]:
        at = _ceil_us(t_ns)
        body: list[tuple[int, str | bytes | float]] = [(45, ref_seq)]
        if refused.tag is not None:
            body.append((371, refused.tag))
        if ref_type is not None:
            body.append((372, ref_type))
        body += [(373, refused.reason), (58, refused.text)]
        return at, self._encode("3", at, body)

    def _encode(self, msg_type: str, at: int | str,
                body: Iterable[tuple[int, str | bytes | float]]) -> bytes:
        """The next message of the session; ``at``: its SendingTime, in ns or as FIX text."""
        self._seq += 1
        header: list[tuple[int, str | bytes | float]] = [
            (49, self.comp_id), (56, self.our_comp_id), (34, self._seq),
            (52, at if isinstance(at, str) else fix_time(at))]
        return encode(msg_type, [*header, *body], begin_string=self._begin)

    def _next_id(self, prefix: str) -> str:
        n = self._ids[prefix] = self._ids.get(prefix, 0) + 1
        return f"{self.params.name}-{prefix}{n}"


def resequence(messages: Iterable[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The messages sorted by delivery time (ties in the order given) with each session's
    MsgSeqNum (34) renumbered 1, 2, ... in that order; BodyLength and CheckSum recomputed.

    An LP numbers its messages when it generates them; when the answers to two orders
    interleave in time, delivery order differs from generation order. Use this to write a log
    whose sequence numbers increase in delivery order (docs/sim-lps.md).
    """
    ordered = sorted(messages, key=lambda item: item[0])
    counters: dict[tuple[bytes, bytes], int] = {}
    out = []
    for at_ns, raw in ordered:
        message = decode(raw)
        session = (message.get(49) or b"", message.get(56) or b"")
        seq = counters[session] = counters.get(session, 0) + 1
        out.append((at_ns, renumber(raw, seq)))
    return out


def renumber(raw: bytes, seq: int) -> bytes:
    """``raw`` with MsgSeqNum (34) ``seq``; BodyLength and CheckSum recomputed (a session
    numbers a message when it sends it)."""
    message = decode(raw)
    body = [(tag, str(seq).encode() if tag == 34 else value)
            for tag, value in message.fields[3:-1]]
    return encode(message.msg_type, body, begin_string=message.begin_string)


def _lomax(u: float, alpha: float) -> float:
    """Inverse of the Lomax survival ``(1 + y)**-alpha`` at ``1 - u``, capped far out."""
    return math.expm1(min(-math.log1p(-u) / alpha, 700.0))


def _lognormal(median: float, sigma: float, z: float) -> float:
    return median * math.exp(sigma * z)


def _ceil_us(t_ns: float) -> int:
    """Up to the next whole microsecond: SendingTime (52) shows microseconds, so a delivery
    time is exactly what the message says."""
    return -(-math.ceil(t_ns) // US) * US


def _lit_price(sign: Side, bid: float, ask: float, mid: float, pi_bps: float) -> float:
    """The touch improved by ``pi_bps`` of the mid, to 4 decimals, never better for us than
    the mid to 4 decimals; a negative ``pi_bps`` fills through the touch."""
    far = ask if sign is Side.BUY else bid
    price = round(far - sign * pi_bps * mid / 1e4, 4)
    limit = round(mid, 4)
    return max(price, limit) if sign is Side.BUY else min(price, limit)


def _num(value: float) -> str:
    """A quantity or price as FIX text: whole numbers without a decimal point."""
    if value == math.floor(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 8))


def _text(message: FixMessage, tag: int) -> str | None:
    value = message.get(tag)
    return None if value is None else value.decode("latin-1")


def _required(message: FixMessage, tag: int) -> str:
    value = _text(message, tag)
    if not value:
        raise _RefusedError(1, f"required tag {tag} missing", tag)
    return value


def _positive(message: FixMessage, tag: int) -> float:
    text = _required(message, tag)
    try:
        value = float(text)
    except ValueError:
        raise _RefusedError(6, f"tag {tag} = {text!r} is not a number", tag) from None
    if not math.isfinite(value) or value <= 0:
        raise _RefusedError(5, f"tag {tag} = {text!r} must be positive", tag)
    return value


def _lenient_seq(raw: bytes) -> int:
    """MsgSeqNum of a message for a Reject's RefSeqNum (45): 0 when it cannot be read."""
    try:
        value = decode(raw, lenient=True).get(34)
    except FixError:
        return 0
    return int(value) if value is not None and value.isdigit() else 0
