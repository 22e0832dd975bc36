"""One parent order worked to the end: child orders out as FIX, execution reports in.

    parent = ParentOrder(router, Spray(3), writer, parent_id="P1", symbol="ACME",
                         side=Side.SELL, qty=200_000, deadline_ns=t0 + 30 * 60 * 10**9)
    outgoing = parent.start(t0)                    # NewOrderSingle messages (bytes)
    outgoing = parent.on_message(report, now)      # ExecutionReport / reject in, more out
    outgoing = parent.on_timer(now)                # past the deadline: cancels out
    parent.status                                  # working, filled, out_of_time,
                                                   # under_a_lot, out_of_lps

A child that ends with quantity left (rejected, canceled, expired, an IOC partially filled)
makes the parent route what is left to the next-best LP, skipping every LP that already fell
short on this order, and (after a reject) every LP in its reject cool-down for the symbol.
A day order that is partially filled is canceled first, so the remainder is never live at two
LPs at once. Fills are counted once per ExecID (PossDup resends are ignored); trade cancels
and corrections are the KPI engine's business, not the router's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from lpscore.fix.codec import FixMessage, decode
from lpscore.model.enums import Side
from lpscore.routing.fixout import FixOrderWriter
from lpscore.routing.policies import Outcome, Policy, lots, qty_text
from lpscore.routing.router import Plan, Router, RouteRequest

__all__ = ["ChildState", "ParentOrder"]

EPS = 1e-9
FINISHED = ("filled", "out_of_time", "under_a_lot", "out_of_lps")
"""A parent's final statuses: all filled; the deadline passed with nothing live; what is
left is less than a lot (``routing.lot_size``), which no child order can carry; nothing
eligible and nothing live."""
TERMINAL_STATUS = frozenset("248C3")   # filled, canceled, rejected, expired, done for day
TERMINAL_EXEC = frozenset("48C3")
FILL_EXEC = frozenset("F12")


@dataclass(slots=True)
class ChildState:
    cl_ord_id: str
    lp: str
    qty: float
    reason: str
    sent_ns: int
    seq_num: int
    cum_qty: float = 0.0
    notional: float = 0.0
    ack_ns: int | None = None
    done: bool = False
    rejected: bool = False
    cancel_sent: bool = False
    text: str = ""

    @property
    def leaves(self) -> float:
        return 0.0 if self.done else max(self.qty - self.cum_qty, 0.0)


class ParentOrder:
    """Owns one parent order (see the module docstring)."""

    def __init__(self, router: Router, policy: Policy, writer: FixOrderWriter, *,
                 parent_id: str, symbol: str, side: Side, qty: float,
                 price: float | None = None, context: dict[str, str] | None = None,
                 deadline_ns: int | None = None, time_in_force: str = "ioc",
                 on_decision: Callable[[int, Plan], None] | None = None) -> None:
        if not isinstance(side, Side):      # a string "buy" was sent as a sell
            raise TypeError(f"parent order {parent_id}: side {side!r}: give Side.BUY or "
                            "Side.SELL")
        if not 0 < qty < math.inf:
            raise ValueError(f"parent order {parent_id}: qty {qty} must be positive and finite")
        if price is not None and not 0 < price < math.inf:
            raise ValueError(f"parent order {parent_id}: price {price} must be positive and "
                             "finite (or None)")
        self.router = router
        self.policy = policy
        self.writer = writer
        self.parent_id = parent_id
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.price = price
        self.context = dict(context or {})
        self.deadline_ns = deadline_ns
        self.time_in_force = time_in_force
        self.children: dict[str, ChildState] = {}
        self.decisions: list[tuple[int, Plan]] = []
        self.status = "new"
        self._cancels: dict[str, str] = {}     # cancel ClOrdID -> child ClOrdID
        self._by_seq: dict[tuple[str, int], str] = {}
        self._short: set[str] = set()          # LPs that fell short on this order
        self._exec_ids: set[str] = set()
        self._count = 0
        self._expired = False
        self._on_decision = on_decision

    # -- state --------------------------------------------------------------------------------

    @property
    def filled_qty(self) -> float:
        return sum(c.cum_qty for c in self.children.values())

    @property
    def avg_px(self) -> float | None:
        filled = self.filled_qty
        return sum(c.notional for c in self.children.values()) / filled if filled else None

    @property
    def open_children(self) -> list[ChildState]:
        return [c for c in self.children.values() if not c.done]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    # -- events -------------------------------------------------------------------------------

    def start(self, now_ns: int) -> list[bytes]:
        """The first routing decision's child orders."""
        self.status = "working"
        return self._route(now_ns, "")

    def on_message(self, raw: bytes, now_ns: int) -> list[bytes]:
        """Consume one FIX message from an LP; the messages to send in answer."""
        message = decode(raw, lenient=True)
        if message.msg_type == "8":
            child = self._child_of(message)
            if child is None:
                return []
            return self._on_report(child, message, now_ns)
        if message.msg_type == "3":
            ref = _int(message.get(45))
            cl = self._by_seq.get((_text(message.get(49)), ref if ref is not None else -1))
            child = self.children.get(cl) if cl else None
            if child is not None and not child.done:
                child.rejected = True
                child.text = _text(message.get(58)) or "session reject"
                return self._finish_child(child, now_ns)
        return []   # cancel rejects: the child is still live; its next report decides

    def on_timer(self, now_ns: int) -> list[bytes]:
        """Past the deadline: cancel what is live and route nothing more."""
        if self.finished or self._working_time(now_ns):
            return []
        out = [self._cancel(c, now_ns) for c in self.open_children if not c.cancel_sent]
        self._settle()
        return out

    # -- internals ----------------------------------------------------------------------------

    def _child_of(self, message: FixMessage) -> ChildState | None:
        cl = _text(message.get(11))
        if cl in self.children:
            return self.children[cl]
        orig = self._cancels.get(cl) or _text(message.get(41))
        return self.children.get(orig)

    def _on_report(self, child: ChildState, message: FixMessage, now_ns: int) -> list[bytes]:
        exec_type = _text(message.get(150))
        status = _text(message.get(39))
        if child.ack_ns is None:
            child.ack_ns = now_ns
        if exec_type in FILL_EXEC:
            exec_id = _text(message.get(17))
            if exec_id in self._exec_ids:
                return []
            if exec_id:
                self._exec_ids.add(exec_id)
            qty = _float(message.get(32)) or 0.0
            child.cum_qty += qty
            child.notional += qty * (_float(message.get(31)) or 0.0)
        if child.done:      # a late report (a fill after the cancel, a repeat): counted only
            self._settle()
            return []
        if exec_type == "8" or status == "8":
            child.rejected = True
            child.text = _text(message.get(58))
        leaves = _float(message.get(151))
        if (status in TERMINAL_STATUS or exec_type in TERMINAL_EXEC
                or (leaves is not None and leaves <= EPS and exec_type in FILL_EXEC)):
            return self._finish_child(child, now_ns)
        if (exec_type in FILL_EXEC and not child.cancel_sent
                and self.time_in_force not in ("ioc", "fok")):  # a resting partial: take it back
            return [self._cancel(child, now_ns)]
        return []

    def _working_time(self, now_ns: int) -> bool:
        if self.deadline_ns is not None and now_ns >= self.deadline_ns:
            self._expired = True
        return not self._expired

    def _finish_child(self, child: ChildState, now_ns: int) -> list[bytes]:
        child.done = True
        short = child.rejected or child.cum_qty < child.qty - EPS
        if child.rejected:
            self.router.record_reject(child.lp, self.symbol)
        if short:
            self._short.add(child.lp)
        self.policy.observe(Outcome(
            child.lp, self.symbol, child.qty, child.cum_qty, child.rejected,
            None if child.ack_ns is None else child.ack_ns - child.sent_ns))
        if not self._working_time(now_ns):
            self._settle()
            return []
        if child.rejected:
            why = f"re-route after {child.lp} rejected" + (f" ({child.text})" if child.text
                                                           else "")
        elif short:
            why = (f"re-route after {child.lp} filled {qty_text(child.cum_qty)} of "
                   f"{qty_text(child.qty)}")
        else:
            why = "route the rest"
        return self._route(now_ns, why)

    def _route(self, now_ns: int, why: str) -> list[bytes]:
        remaining = self.qty - self.filled_qty - sum(c.leaves for c in self.open_children)
        lot = self.router.config.lot_size
        if remaining <= EPS or (lots(remaining, lot) < lot - EPS and self.open_children):
            self._settle()      # nothing left, or less than a lot while children work
            return []
        busy = {c.lp for c in self.open_children}
        # the whole remainder: a part under a lot is the plan's unrouted (a parent of 1,050
        # in lots of 100 routes 1,000 and says 50 cannot go), and a parent under a lot gets
        # a decision routing nothing, journaled like any other
        request = RouteRequest(self.symbol, self.side, remaining, self.price,
                               self.context, frozenset(self._short | busy), why)
        plan = self.router.plan(request, self.policy)
        self.decisions.append((now_ns, plan))
        if self._on_decision is not None:
            self._on_decision(now_ns, plan)
        out = []
        for decided in plan.children:
            self._count += 1
            cl = f"{self.parent_id}-{self._count}"
            raw = self.writer.new_order(cl_ord_id=cl, parent_id=self.parent_id, lp=decided.lp,
                                        symbol=self.symbol, side=self.side, qty=decided.qty,
                                        now_ns=now_ns, price=self.price,
                                        time_in_force=self.time_in_force)
            seq = self.writer.last_seq(decided.lp)
            self.children[cl] = ChildState(cl, decided.lp, decided.qty, decided.reason,
                                           now_ns, seq)
            self._by_seq[(self.writer.target(decided.lp), seq)] = cl
            out.append(raw)
        self._settle()
        return out

    def _cancel(self, child: ChildState, now_ns: int) -> bytes:
        child.cancel_sent = True
        self._count += 1
        cl = f"{self.parent_id}-{self._count}"
        self._cancels[cl] = child.cl_ord_id
        return self.writer.cancel(cl_ord_id=cl, orig_cl_ord_id=child.cl_ord_id, lp=child.lp,
                                  symbol=self.symbol, side=self.side, qty=child.qty,
                                  now_ns=now_ns)

    def _settle(self) -> None:
        if self.open_children:
            return
        lot = self.router.config.lot_size
        left = self.qty - self.filled_qty
        if left <= EPS:
            self.status = "filled"
        elif self._expired:
            self.status = "out_of_time"
        elif lots(left, lot) < lot - EPS:
            self.status = "under_a_lot"     # what is left no child order can carry
        elif self.decisions and not self.decisions[-1][1].children:
            self.status = "out_of_lps"


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("latin-1")


def _float(value: bytes | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _int(value: bytes | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
