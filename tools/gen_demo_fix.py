"""Generate a seeded, realistic FIX 4.4 log of a desk's child orders to four LPs.

Usage::

    .venv/bin/python tools/gen_demo_fix.py --seed 7 --out tests/data/fix/generated/demo-amzn-lps.log

Our CompID ``DESK`` routes AMZN child orders (35=D, parent id in 526) to ``LP_A``..``LP_D``, one
session each, priced against the real LOBSTER AMZN quotes of 2012-06-21 09:30-09:42:37 New York
time (tests/data/quotes): every LP decision reads the quote as of its decision time, so price
improvement and markouts computed later are meaningful. Lines are QuickFIX-style,
``YYYYMMDD-HH:MM:SS.ffffff : <message>``, the prefix being our capture time (UTC). The output
is a pure function of the seed and the quotes; PROVENANCE.md is written beside it.

LP behaviours (parameters below; latencies are round trips as we capture them):
- LP_A fast: ack ~0.3 ms, fill ~0.04 ms later at the far touch, 1 tick better 35% of the time;
  rejects 1%; "fades" (IOC cancel, no fill) 2%, or 12% when the mid is about to move our way
  within 1 s (its short-term signal): small adverse markouts.
- LP_B last look: ack ~0.9 ms, prices at the far touch as the order arrives, holds 20-80 ms,
  then fills at that price or rejects (103=99 "Price moved"): 65% when the mid moved against it
  since we sent the order, 3% when it moved its way, 6% when flat.
- LP_C block-friendly: ack ~5 ms, 2-3 partial fills 2-15 ms apart at the touch; the last piece
  of an IOC is canceled 15% of the time, 45% when the mid will not move in our direction in
  the next 5 s, so that its fills are followed by mild impact.
- LP_D dark pool: ack ~2 ms, then fills in full at the mid 40% of the time, else cancels (IOC).
The future-looking rules (LP_A's fade, LP_C's cut) stand in for the LP's signal and for our
own impact, which a replay of real quotes cannot produce. The desk re-routes a rejected child
(85%) or an unfilled dark one (50%) to LP_A or LP_C under the same 526. 60% of sends react to
the market (0.05-1.5 ms after a change of the mid), the rest arrive at random. The planted
edge cases are ``CASES``.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeAlias

import numpy as np

from lpscore.config import MarketDataConfig
from lpscore.fix.codec import encode
from lpscore.marketdata import load_quotes
from lpscore.quarantine import Quarantine

REPO = Path(__file__).resolve().parents[1]
QUOTES = REPO / "tests/data/quotes/AMZN_2012-06-21_34200000_57600000_message_1.csv"
US, MS, S = 1_000, 1_000_000, 1_000_000_000
TICK = 100  # one cent in LOBSTER units (1e-4 dollars): every price here is an integer
SYMBOL, DESK, HEARTBEAT_S = "AMZN", "DESK", 5

LPS = ("LP_A", "LP_B", "LP_C", "LP_D")
LP_WEIGHTS = (0.30, 0.25, 0.25, 0.20)
OWD_US = {"LP_A": 60, "LP_B": 250, "LP_C": 900, "LP_D": 400}  # one-way network delay
SKEW_US = {"LP_A": 150, "LP_B": -1200, "LP_C": 2400, "LP_D": 600}  # LP clock minus ours
PROC_MS = {"LP_A": (0.18, 0.35), "LP_B": (0.40, 0.30), "LP_C": (3.2, 0.40), "LP_D": (1.2, 0.30)}
"""LP processing time before the ack: lognormal (median ms, sigma)."""
EXEC_ID = {"LP_A": "A{:07d}", "LP_B": "LPB-{:06d}-E", "LP_C": "C0621.{:06d}", "LP_D": "DX{:05X}"}
ORDER_ID = {"LP_A": "A-O{:06d}", "LP_B": "BO{:06d}", "LP_C": "C0621-{:05d}", "LP_D": "DP{:05X}"}
A_REJECT, A_IMPROVE, A_FADE, A_FADE_SIGNAL = 0.01, 0.35, 0.02, 0.10
B_HOLD_MS, B_REJECT = (20.0, 80.0), {1: 0.65, 0: 0.06, -1: 0.03}  # by sign of move vs the LP
C_GAP_MS, C_CUT, C_CUT_ADVERSE = (2.0, 15.0), 0.15, 0.45
D_FILL, REROUTE_REJECT, REROUTE_DARK = 0.40, 0.85, 0.50
PARENT_GAP_S, N_CHILD_P = 1.2, (0.35, 0.25, 0.20, 0.12, 0.08)  # parents of 1-5 children
SPRAY_P, SLICE_GAP_S = 0.5, 2.5  # children within 0.3 ms (spray) or ~2.5 s apart (slices)
MARKET_P, THROUGH, THROUGH_P = 0.12, (0, 1, 2, 3, 5), (0.6, 0.2, 0.1, 0.05, 0.05)
LARGE_P, N_LATE = 0.04, 6  # share of 3,000-5,000 share children; orders in the last 50 s
TRIGGER_P, REACT_US = 0.6, (50, 1500)  # share of sends reacting to a mid change, and how fast
CASES = {
    "bust": "LP_A fill, busted 41 s later: 150=H with 19 naming it",
    "correct": "LP_C fill, corrected 17 s later: 150=G with 19, 32 and a 31 one cent better",
    "bad_checksum_then_possdup": "LP_B ack written with a wrong 10= (quarantined as "
    "bad_checksum); the fill after it shows the gap, DESK sends 35=2 and LP_B resends ack and "
    "fill with 43=Y, 122 and their MsgSeqNums: the ack's only valid copy, the fill's duplicate",
    "fill_before_ack": "LP_C sends its first partial fill before its ack",
    "reused_clordid_first": "LP_A order whose ClOrdID is reused 4 minutes later ...",
    "reused_clordid_second": "... by this different order (other side and quantity)",
    "replace": "LP_C DAY limit at the near touch; 35=G (41) to the far touch; 150=5; filled",
    "cancel_reject": "our 35=F crosses LP_D's IOC cancel: 35=9 434=1 102=1, 37=NONE",
    "session_reject": "valid 35=D answered by LP_B's 35=3 (45=its 34, 372=D, 373=1, 371=1); "
    "re-routed to LP_A under the same 526",
    "open_day_1": "LP_C DAY limit at the near touch: acked, still resting at the end",
    "open_day_2": "the same, other side",
    "open_in_last_look_1": "LP_B order acked just before the capture ends, mid-hold",
    "open_in_last_look_2": "the same, other side",
}


def ftime(ns: int, digits: int) -> str:
    """UTC ``YYYYMMDD-HH:MM:SS.fff…`` with ``digits`` fractional digits (truncated)."""
    sec, frac = divmod(ns, S)
    return datetime.fromtimestamp(sec, UTC).strftime("%Y%m%d-%H:%M:%S.") + f"{frac:09d}"[:digits]


def px(p: int) -> str:
    """An integer price in 1e-4 dollars as FIX text: 2239500 -> 223.95."""
    return f"{p // 10000}.{p % 10000:04d}".rstrip("0").rstrip(".")


@dataclass(eq=False)
class Msg:
    t: int  # capture time on our clock, ns
    lp: str
    out: bool  # sent by DESK
    mtype: str
    body: list[tuple[int, str | int | Msg]]  # a Msg value stands for that message's MsgSeqNum
    sent: int  # SendingTime on the sender's clock, ns
    k: int  # creation order, breaks ties
    seq_of: Msg | None = None  # a resend reuses the original's MsgSeqNum
    orig_sent: int | None = None
    corrupt: bool = False
    seq: int = 0

    def get(self, tag: int) -> str:
        return next(str(v) for t, v in self.body if t == tag)


Value: TypeAlias = str | int | Msg


@dataclass(eq=False)
class Child:
    t: int
    lp: str
    side: int  # +1 buy, -1 sell
    qty: int
    ord_type: str  # 1 market, 2 limit
    through: int = 0  # limit: ticks through the far touch
    tif: str = "3"
    plant: str = ""
    limit: int | None = None
    parent: str = ""
    depth: int = 0
    reuse: Child | None = None
    clid: str = ""
    oid: str = ""
    d: Msg | None = None


class Gen:
    """The simulation: orders, LP responses, session traffic, then the rendered log."""

    def __init__(self, seed: int, ts: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> None:
        self.seed, self.ts, self.bid, self.ask = seed, ts, bid, ask
        self.rng = np.random.default_rng(seed)
        self.msgs: list[Msg] = []
        self.plants: dict[str, str] = {}  # case -> ClOrdID
        self.k = self.n_cl = 0
        self.ids: Counter[str] = Counter()
        self.heap: list[tuple[int, int, Child]] = []
        self.t0, self.t_last = int(ts[0]), int(ts[-1])
        self.t_end = self.t_last + 2500 * MS  # the capture stops here
        self.changes = ts[np.r_[True, np.diff(bid + ask) != 0]]  # times the mid changes

    def quote(self, t: int) -> tuple[int, int]:
        i = max(int(np.searchsorted(self.ts, t, "right")) - 1, 0)
        return int(self.bid[i]), int(self.ask[i])

    def mid2(self, t: int) -> int:  # twice the mid, exact
        return sum(self.quote(t))

    def far(self, t: int, s: int) -> int:
        return self.quote(t)[1 if s > 0 else 0]

    def ok(self, c: Child, p: int) -> bool:
        return c.limit is None or c.side * (c.limit - p) >= 0

    def uni(self, lo: float, hi: float, unit: int) -> int:
        return int(self.rng.uniform(lo, hi) * unit)

    def snap(self, t: int) -> int:
        """Most sends react to the market: just after the next change of the mid."""
        i = int(np.searchsorted(self.changes, t))
        if i == len(self.changes) or self.rng.random() >= TRIGGER_P:
            return t
        return int(self.changes[i]) + self.uni(*REACT_US, US)

    def new(self, t: int, lp: str, out: bool, mtype: str, body: list[tuple[int, Value]],
            sent: int, **kw: object) -> Msg:
        self.k += 1
        m = Msg(t, lp, out, mtype, body, sent, self.k, **kw)  # type: ignore[arg-type]
        self.msgs.append(m)
        return m

    def send(self, t: int, lp: str, mtype: str, body: list[tuple[int, Value]]) -> Msg:
        return self.new(t, lp, True, mtype, body, t)

    def reply(self, t_lp: int, lp: str, mtype: str, body: list[tuple[int, Value]]) -> Msg:
        """A message the LP sends at true time ``t_lp``; we capture it one network hop later."""
        return self.new(t_lp + OWD_US[lp] * US, lp, False, mtype, body, t_lp + SKEW_US[lp] * US)

    def er(self, c: Child, t_lp: int, et: str, st: str, cum: int = 0, notional: int = 0,
           last: tuple[int, int] | None = None, extra: tuple[tuple[int, str], ...] = (),
           orig: str = "") -> Msg:
        self.ids[c.lp] += 1
        body: list[tuple[int, Value]] = [
            (37, c.oid), (17, EXEC_ID[c.lp].format(self.ids[c.lp])), (11, c.clid)]
        body += [(41, orig)] if orig else []
        body += [(150, et), (39, st), (55, SYMBOL), (54, "1" if c.side > 0 else "2"), (38, c.qty)]
        body += [(32, last[0]), (31, px(last[1]))] if last else []
        leaves = c.qty - cum if st in ("0", "1") else 0
        avg = px(round(notional / cum)) if cum else "0"
        body += [(151, leaves), (14, cum), (6, avg), (60, ftime(t_lp + SKEW_US[c.lp] * US, 6))]
        return self.reply(t_lp, c.lp, "8", body + list(extra))

    def new_clid(self) -> str:
        self.n_cl += 1
        return f"DSK{self.n_cl:06d}"

    def order_fields(self, c: Child) -> list[tuple[int, Value]]:
        return [(526, c.parent), (55, SYMBOL), (54, "1" if c.side > 0 else "2"), (38, c.qty)]

    def push(self, c: Child) -> None:
        self.k += 1
        heapq.heappush(self.heap, (c.t, self.k, c))

    def submit(self, c: Child) -> None:
        c.clid = c.reuse.clid if c.reuse else self.new_clid()
        body = [(11, c.clid), *self.order_fields(c), (40, c.ord_type)]
        if c.ord_type == "2":
            if c.limit is None:
                c.limit = self.far(c.t, c.side) + c.side * c.through * TICK
            body.append((44, px(c.limit)))
        c.d = self.send(c.t, c.lp, "D", [*body, (59, c.tif), (60, ftime(c.t - 25 * US, 6))])
        if c.plant:
            self.plants[c.plant] = c.clid
        self.ids[c.lp + "/order"] += 1
        c.oid = ORDER_ID[c.lp].format(self.ids[c.lp + "/order"])
        med, sigma = PROC_MS[c.lp]
        t_lp = c.t + OWD_US[c.lp] * US + int(self.rng.lognormal(np.log(med), sigma) * MS)
        {"LP_A": self.lp_a, "LP_B": self.lp_b, "LP_C": self.lp_c, "LP_D": self.lp_d}[c.lp](c, t_lp)

    def reroute(self, c: Child, t_lp: int, p: float, to: str = "") -> None:
        if c.depth >= 2 or self.rng.random() >= p:
            return
        lp = to or str(self.rng.choice([x for x in ("LP_A", "LP_C") if x != c.lp]))
        t = t_lp + OWD_US[c.lp] * US + self.uni(100, 600, US)
        self.push(Child(t, lp, c.side, c.qty, c.ord_type, c.through, parent=c.parent,
                        depth=c.depth + 1))

    def lp_a(self, c: Child, t: int) -> None:
        if not c.plant and self.rng.random() < A_REJECT:
            self.er(c, t, "8", "8", extra=((103, "3"), (58, "Order exceeds limit")))
            return self.reroute(c, t, REROUTE_REJECT)
        self.er(c, t, "0", "0")
        t += int(self.rng.lognormal(np.log(0.04), 0.3) * MS)
        bid, ask = self.quote(t)
        better = ask - bid > TICK and self.rng.random() < A_IMPROVE
        p = self.far(t, c.side) - c.side * TICK * better
        ours = c.side * (self.mid2(t + S) - self.mid2(t)) > 0
        if not c.plant and (self.rng.random() < A_FADE + A_FADE_SIGNAL * ours or not self.ok(c, p)):
            self.er(c, t, "4", "4", extra=((58, "IOC: no liquidity"),))
            return None
        fill = self.er(c, t, "F", "2", c.qty, c.qty * p, (c.qty, p))
        if c.plant == "bust":
            self.er(c, t + 41 * S, "H", "4", extra=(
                (19, fill.get(17)), (58, "Trade busted: erroneous trade")))
        return None

    def lp_b(self, c: Child, t: int) -> None:
        if c.plant == "session_reject":  # its engine wants an Account (1) in every order
            assert c.d is not None
            self.reply(t, c.lp, "3", [(45, c.d), (371, 1), (372, "D"), (373, 1),
                                      (58, "Required tag missing: Account(1)")])
            return self.reroute(c, t, 1.0, "LP_A")
        self.er(c, t, "0", "0")
        p = self.far(c.t + OWD_US[c.lp] * US, c.side)  # its price: the touch on arrival
        t += self.uni(*B_HOLD_MS, MS)
        move = int(np.sign(c.side * (self.mid2(t) - self.mid2(c.t))))
        if self.rng.random() < B_REJECT[move] or not self.ok(c, p):
            self.er(c, t, "8", "8", extra=((103, "99"), (58, "Price moved")))
            return self.reroute(c, t, REROUTE_REJECT)
        self.er(c, t, "F", "2", c.qty, c.qty * p, (c.qty, p))
        return None

    def lp_c(self, c: Child, t: int) -> None:
        if c.tif == "0":
            return self.lp_c_day(c, t)
        lots, early = c.qty // 100, c.plant == "fill_before_ack"
        n = 1 if lots == 1 or c.plant == "correct" else min(lots, int(self.rng.integers(2, 4)))
        n = 2 if early else n
        cuts = sorted(int(x) for x in self.rng.choice(np.arange(1, lots), n - 1, replace=False))
        pieces = [100 * (b - a) for a, b in itertools.pairwise([0, *cuts, lots])]
        cut = C_CUT_ADVERSE if c.side * (self.mid2(t + 5 * S) - self.mid2(t)) <= 0 else C_CUT
        self.er(c, t + 400 * US if early else t, "0", "0")
        tf = t + (150 * US if early else self.uni(0.5, 3.0, MS))
        cum = notional = 0
        for i, q in enumerate(pieces):
            p = self.far(tf, c.side)
            if (0 < i == n - 1 and not c.plant and self.rng.random() < cut) or not self.ok(c, p):
                self.er(c, tf, "4", "4", cum, notional, extra=((58, "IOC remainder canceled"),))
                return None
            cum, notional = cum + q, notional + q * p
            fill = self.er(c, tf, "F", "2" if cum == c.qty else "1", cum, notional, (q, p))
            tf += self.uni(*C_GAP_MS, MS) + 400 * US * early
        if c.plant == "correct":
            p -= c.side * TICK
            self.er(c, tf + 17 * S, "G", "2", c.qty, c.qty * p, (c.qty, p),
                    extra=((19, fill.get(17)), (58, "Trade corrected: price")))
        return None

    def lp_c_day(self, c: Child, t: int) -> None:
        """A passive DAY order rests; the "replace" one is repriced to the touch and fills."""
        self.er(c, t, "0", "0")
        if c.plant != "replace":
            return
        tr = t + OWD_US[c.lp] * US + 1800 * MS
        old, c.clid, c.limit = c.clid, self.new_clid(), self.far(tr, c.side)
        self.send(tr, c.lp, "G", [(11, c.clid), (41, old), *self.order_fields(c), (40, "2"),
                                  (44, px(c.limit)), (59, "0"), (60, ftime(tr - 20 * US, 6))])
        t = tr + OWD_US[c.lp] * US + int(self.rng.lognormal(np.log(3.0), 0.3) * MS)
        self.er(c, t, "5", "0", orig=old)
        t += self.uni(1.0, 4.0, MS)
        p = self.far(t, c.side) if self.ok(c, self.far(t, c.side)) else c.limit
        self.er(c, t, "F", "2", c.qty, c.qty * p, (c.qty, p))

    def lp_d(self, c: Child, t: int) -> None:
        self.er(c, t, "0", "0")
        t += self.uni(0.2, 1.0, MS)
        p = self.mid2(t) // 2
        if c.plant == "cancel_reject" or self.rng.random() >= D_FILL or not self.ok(c, p):
            done = self.er(c, t, "4", "4", extra=((58, "No match"),))
            if c.plant != "cancel_reject":
                return self.reroute(c, t, REROUTE_DARK)
            tf, new = done.t - 200 * US, self.new_clid()  # sent while LP_D's cancel is in flight
            self.send(tf, c.lp, "F", [(11, new), (41, c.clid), *self.order_fields(c),
                                      (60, ftime(tf - 20 * US, 6))])
            self.reply(tf + (OWD_US[c.lp] + 60) * US, c.lp, "9", [
                (37, "NONE"), (11, new), (41, c.clid), (39, "4"), (434, "1"), (102, "1"),
                (58, "Unknown order")])
            return None
        self.er(c, t, "F", "2", c.qty, c.qty * p, (c.qty, p))
        return None

    def qty(self) -> int:
        if self.rng.random() < LARGE_P:
            return 100 * int(self.rng.integers(30, 51))
        return 100 * min(50, 1 + int(self.rng.lognormal(np.log(4), 0.8)))

    def lp(self) -> str:
        return LPS[int(self.rng.choice(4, p=LP_WEIGHTS))]

    def parents(self) -> list[list[Child]]:
        rng, stop = self.rng, self.t_last - 60 * S
        out: list[list[Child]] = []
        t = self.t0 + 2 * S
        while (t := t + int(rng.exponential(PARENT_GAP_S) * S)) <= stop:
            n = 1 + int(rng.choice(5, p=N_CHILD_P))
            side, spray = (1 if rng.random() < 0.5 else -1), rng.random() < SPRAY_P
            kind = "1" if rng.random() < MARKET_P else "2"
            through = THROUGH[int(rng.choice(len(THROUGH), p=THROUGH_P))]
            kids, tc = [], self.snap(t)
            for i in range(n):
                if i and spray:
                    tc += self.uni(20, 300, US)
                elif i:
                    tc = self.snap(tc + int(rng.exponential(SLICE_GAP_S) * S))
                if tc <= stop:
                    kids.append(Child(tc, self.lp(), side, self.qty(), kind, through))
            out += [kids] if kids else []
        for t in np.sort(rng.uniform(self.t_last - 50 * S, self.t_end - 500 * MS, N_LATE)):
            side = 1 if rng.random() < 0.5 else -1
            out.append([Child(int(t), self.lp(), side, self.qty(), "2")])
        return out + [[c] for c in self.plant()]

    def plant(self) -> list[Child]:
        """The children of CASES, each its own parent, at set minutes (plus a random ms)."""
        def at(sec: int) -> int:
            return self.t0 + sec * S + self.uni(0, 1000, MS)
        first = Child(at(100), "LP_A", 1, 200, "1", plant="reused_clordid_first")
        kids = [
            first, Child(at(340), "LP_A", -1, 500, "1", plant="reused_clordid_second", reuse=first),
            Child(at(150), "LP_A", 1, 400, "1", plant="bust"),
            Child(at(210), "LP_C", -1, 300, "1", plant="correct"),
            Child(at(270), "LP_C", 1, 600, "1", plant="fill_before_ack"),
            Child(at(480), "LP_D", -1, 300, "2", plant="cancel_reject"),
            Child(at(540), "LP_B", 1, 800, "2", plant="session_reject"),
            Child(self.t_end - 18 * MS, "LP_B", 1, 300, "2", plant="open_in_last_look_1"),
            Child(self.t_end - 8 * MS, "LP_B", -1, 200, "2", plant="open_in_last_look_2"),
        ]
        for name, sec, side in (("replace", 420, 1), ("open_day_1", 600, -1),
                                ("open_day_2", 650, 1)):  # passive: limit at the near touch
            tc = at(sec)
            kids.append(Child(tc, "LP_C", side, 500, "2", tif="0", plant=name,
                              limit=self.quote(tc)[0 if side > 0 else 1]))
        return kids

    def run(self) -> None:
        for i, kids in enumerate(sorted(self.parents(), key=lambda kids: kids[0].t)):
            for c in kids:
                c.parent = f"P{i + 1:05d}"
                self.push(c)
        while self.heap:
            self.submit(heapq.heappop(self.heap)[2])
        self.msgs = [m for m in self.msgs if m.t <= self.t_end]
        for i, lp in enumerate(LPS):
            logon = self.send(self.t0 - 20 * S + i * 3 * MS, lp, "A", [(98, 0), (108, HEARTBEAT_S)])
            self.reply(logon.t + (OWD_US[lp] + 150) * US, lp, "A", [(98, 0), (108, HEARTBEAT_S)])
        for lp in LPS:  # each side sends a Heartbeat after HEARTBEAT_S seconds of silence
            for out in (True, False):
                times = sorted(m.t for m in self.msgs if m.lp == lp and m.out == out)
                for a, b in itertools.pairwise([*times, self.t_end]):
                    while (a := a + HEARTBEAT_S * S + self.uni(0, 2, MS)) < b:
                        lag = 0 if out else (SKEW_US[lp] - OWD_US[lp]) * US
                        self.new(a, lp, out, "0", [], a + lag)
        self.resend()

    def resend(self) -> None:
        """The bad_checksum_then_possdup case, on the first LP_B ack after minute 5 that is
        followed directly by its fill."""
        inbound = sorted((m for m in self.msgs if m.lp == "LP_B" and not m.out),
                         key=lambda m: (m.t, m.k))
        ack, fill = next((a, b) for a, b in itertools.pairwise(inbound)
                         if a.t > self.t0 + 300 * S and a.mtype == b.mtype == "8"
                         and a.get(150) == "0" and b.get(150) == "F" and a.get(11) == b.get(11))
        ack.corrupt = True
        request = self.send(fill.t + 70 * US, "LP_B", "2", [(7, ack), (16, 0)])
        t_lp = request.t + (OWD_US["LP_B"] + 150) * US
        for i, orig in enumerate((ack, fill)):
            t = t_lp + i * 20 * US
            self.new(t + OWD_US["LP_B"] * US, "LP_B", False, "8", orig.body,
                     t + SKEW_US["LP_B"] * US, seq_of=orig, orig_sent=orig.sent)
        self.plants["bad_checksum_then_possdup"] = ack.get(11)

    def render(self) -> bytes:
        self.msgs.sort(key=lambda m: (m.t, m.k))
        seqs: Counter[tuple[str, bool]] = Counter()
        lines = []
        for m in self.msgs:
            if m.seq_of is None:
                seqs[m.lp, m.out] += 1
            m.seq = m.seq_of.seq if m.seq_of else seqs[m.lp, m.out]
            resent = m.orig_sent is not None
            head: list[tuple[int, str | int]] = [
                (49, DESK if m.out else m.lp), (56, m.lp if m.out else DESK), (34, m.seq),
                *([(43, "Y")] if resent else []), (52, ftime(m.sent, 3)),
                *([(122, ftime(m.orig_sent or 0, 3))] if resent else [])]
            body = [(t, v.seq if isinstance(v, Msg) else v) for t, v in m.body]
            raw = encode(m.mtype, head + body, begin_string="FIX.4.4")
            if m.corrupt:
                raw = raw[:-4] + b"%03d\x01" % ((int(raw[-4:-1]) + 101) % 256)
            lines.append(ftime(m.t, 6).encode() + b" : " + raw + b"\n")
        return b"".join(lines)


def provenance(gen: Gen, data: bytes) -> str:
    counts = Counter(f"| {m.lp} | {'out' if m.out else 'in'} | {m.mtype}"
                     + (f" 150={m.get(150)}" if m.mtype == "8" else "") for m in gen.msgs)
    cases = "\n".join(f"| {name} | `{gen.plants[name]}` | {text} |" for name, text in CASES.items())
    table = "\n".join(f"{k} | {n} |" for k, n in sorted(counts.items()))
    return f"""# Provenance of tests/data/fix/generated/

`demo-amzn-lps.log` was written by us with `tools/gen_demo_fix.py` (its docstring describes the
LP models, its constants hold every parameter), seed {gen.seed}, by running

    .venv/bin/python tools/gen_demo_fix.py --seed {gen.seed} \\
        --out tests/data/fix/generated/demo-amzn-lps.log

Licence: the project's (Apache-2.0). Prices derive from the LOBSTER AMZN sample in
tests/data/quotes (see its PROVENANCE.md); no quote record is copied. {len(gen.msgs)} lines,
{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}.
tests/integration/test_demo_log.py regenerates it and asserts it is byte-identical.

| planted case | ClOrdID | what |
| --- | --- | --- |
{cases}

| LP | direction | message type | count |
| --- | --- | --- | --- |
{table}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the demo FIX log of four LPs.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    quotes = load_quotes([QUOTES], MarketDataConfig(), Quarantine()).quotes
    gen = Gen(args.seed, quotes["ts"].dt.epoch("ns").to_numpy(),
              np.rint(quotes["bid"].to_numpy() * 10000).astype(np.int64),
              np.rint(quotes["ask"].to_numpy() * 10000).astype(np.int64))
    gen.run()
    data = gen.render()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    (args.out.parent / "PROVENANCE.md").write_text(provenance(gen, data))
    print(f"wrote {args.out}: {len(gen.msgs)} lines, {len(data)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
