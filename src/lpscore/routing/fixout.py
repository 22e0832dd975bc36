"""Child orders and cancels as FIX messages, encoded by the same codec the logs are read with.

    writer = FixOrderWriter("DESK1", targets={"LP_C": "LPC-FIX"})
    raw = writer.new_order(cl_ord_id="P1-1", parent_id="P1", lp="LP_C", symbol="ACME",
                           side=Side.SELL, qty=80_000, now_ns=t)

Each LP is one FIX session (SenderCompID = ours, TargetCompID = the LP's, its own MsgSeqNum);
ExDestination (100) names the LP and SecondaryClOrdID (526, or ``parent_tag``) the parent, so
lpscore's own ingest attributes the traffic (docs/data-formats.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from lpscore.fix.codec import encode
from lpscore.model.enums import Side

__all__ = ["TIF", "FixOrderWriter", "fix_time"]

TIF = {"day": "0", "ioc": "3", "fok": "4", "gtc": "1"}


def fix_time(ns: int) -> str:
    """UTCTimestamp with microseconds: ``YYYYMMDD-HH:MM:SS.ffffff``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y%m%d-%H:%M:%S}.{rest // 1000:06d}"


class FixOrderWriter:
    """Encodes our side of the LP sessions (see the module docstring)."""

    def __init__(self, sender_comp_id: str = "LPSCORE", *,
                 targets: Mapping[str, str] | None = None, begin_string: str = "FIX.4.4",
                 parent_tag: int = 526) -> None:
        self.sender_comp_id = sender_comp_id
        self._targets = dict(targets or {})
        self._begin = begin_string
        self._parent_tag = parent_tag
        self._seq: dict[str, int] = {}

    def target(self, lp: str) -> str:
        return self._targets.get(lp, lp)

    def last_seq(self, lp: str) -> int:
        """The MsgSeqNum of the latest message to ``lp``'s session (0 before any)."""
        return self._seq.get(self.target(lp), 0)

    def new_order(self, *, cl_ord_id: str, parent_id: str, lp: str, symbol: str, side: Side,
                  qty: float, now_ns: int, price: float | None = None,
                  time_in_force: str = "ioc") -> bytes:
        """A NewOrderSingle (35=D): market without ``price``, else limit."""
        body: list[tuple[int, str | float]] = [
            (11, cl_ord_id), (self._parent_tag, parent_id), (100, lp), (55, symbol),
            (54, _side(side)), (60, fix_time(now_ns)), (38, _qty(qty)),
            (40, "1" if price is None else "2")]
        if price is not None:
            body.append((44, repr(float(price))))
        body.append((59, TIF[time_in_force]))
        return self._message("D", lp, now_ns, body)

    def cancel(self, *, cl_ord_id: str, orig_cl_ord_id: str, lp: str, symbol: str,
               side: Side, qty: float, now_ns: int) -> bytes:
        """An OrderCancelRequest (35=F) for the child ``orig_cl_ord_id``."""
        return self._message("F", lp, now_ns, [
            (41, orig_cl_ord_id), (11, cl_ord_id), (100, lp), (55, symbol), (54, _side(side)),
            (60, fix_time(now_ns)), (38, _qty(qty))])

    def _message(self, msg_type: str, lp: str, now_ns: int,
                 body: list[tuple[int, str | float]]) -> bytes:
        target = self.target(lp)
        seq = self._seq[target] = self._seq.get(target, 0) + 1
        header: list[tuple[int, str | float]] = [
            (49, self.sender_comp_id), (56, target), (34, seq), (52, fix_time(now_ns))]
        return encode(msg_type, header + body, begin_string=self._begin)


def _side(side: Side) -> str:
    """FIX Side(54) of ``side``; TypeError for anything but a Side (a string "buy" took
    every order for a sell)."""
    if side is Side.BUY:
        return "1"
    if side is Side.SELL:
        return "2"
    raise TypeError(f"side {side!r}: give Side.BUY or Side.SELL (lpscore.model.enums)")


def _qty(qty: float) -> str:
    return str(round(qty)) if abs(qty - round(qty)) < 1e-9 else repr(float(qty))
