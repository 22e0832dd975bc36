"""A seeded multi-day, multi-symbol desk for the Dask engine tests (EVENT_SCHEMA / QUOTE_SCHEMA).

Three nights of trading around midnight UTC (23:00-01:00), three symbols, three LPs with one
FIX session each, so that many things cross a date partition: orders sent before midnight
and filled after it, markout horizons past midnight, parents whose re-route after a reject
goes out after midnight, a bust after midnight. Also session rejects (no symbol) matched by
MsgSeqNum and one naming no order, cancel requests and cancel rejects without a symbol,
corrections, an orphan report, a reused ClOrdID, a symbol with no quotes on the second night
(its as-of lookups walk back to the first) and a gap in another symbol's quotes.
"""

from __future__ import annotations

import bisect
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, polars_schema

START = datetime(2024, 3, 4, 23, 0, tzinfo=UTC)
SYMBOLS = ("AAA", "BBB", "CCC")
LPS = ("LP_A", "LP_B", "LP_C")
REJECT = {"LP_A": 0.05, "LP_B": 0.15, "LP_C": 0.3}
ACK_MS = {"LP_A": 0.4, "LP_B": 1.5, "LP_C": 4.0}
WINDOW_S = 7200


def _quotes(rng: random.Random, nights: int) -> dict[str, list[tuple[datetime, float, float]]]:
    book: dict[str, list[tuple[datetime, float, float]]] = {}
    for n, symbol in enumerate(SYMBOLS):
        mid, rows = 50.0 * (n + 1), []
        for night in range(nights):
            if symbol == "CCC" and night == 1:
                continue  # no quotes that night
            t = START + timedelta(days=night, seconds=-120)
            end = t + timedelta(seconds=WINDOW_S + 240)
            while t < end:
                t += timedelta(milliseconds=rng.uniform(200, 2500))
                if symbol == "AAA" and night == 0 and 1800 < (t - START).total_seconds() < 1830:
                    continue  # a 30 s gap: stale benchmarks
                mid = round(mid * (1 + rng.gauss(0, 2e-4)), 4)
                half = 0.0 if rng.random() < 0.01 else 0.01 * rng.choice((1, 1, 2, 3))
                rows.append((t, round(mid - half, 4), round(mid + half, 4)))
        book[symbol] = rows
    return book


class _Desk:
    def __init__(self, rng: random.Random, book: dict[str, list[tuple[datetime, float, float]]]
                 ) -> None:
        self.rng, self.book = rng, book
        self.rows: list[dict[str, Any]] = []
        self.times = {s: [q[0] for q in rows] for s, rows in book.items()}
        self.n_exec = 0
        self.n_order = 0

    def quote(self, symbol: str, t: datetime) -> tuple[float, float] | None:
        i = bisect.bisect_right(self.times[symbol], t) - 1
        return None if i < 0 else self.book[symbol][i][1:]

    def row(self, kind: str, lp: str, t: datetime, *, outbound: bool, **fields: Any) -> dict:
        row = {"kind": kind, "session": f"DESK->{lp}", "sender": "DESK" if outbound else lp,
               "target": lp if outbound else "DESK", "outbound": outbound, "lp": lp,
               "seq_epoch": 0, "poss_dup": False, "ts_event": t, "ts_recv": t,
               "sending_time": t + timedelta(microseconds=0 if outbound else 1700),
               "exec_id_reused": False, "source": "dask_data", **fields}
        self.rows.append(row)
        return row

    def report(self, lp: str, cl: str, symbol: str, t: datetime, exec_type: str,
               status: str, **fields: Any) -> dict:
        self.n_exec += 1
        fields.setdefault("exec_id", f"E{self.n_exec}")
        return self.row("8", lp, t, outbound=False, cl_ord_id=cl, symbol=symbol,
                        exec_type=exec_type, ord_status=status, **fields)

    def order(self, t: datetime, symbol: str, parent: str, depth: int = 0,
              cl: str | None = None) -> None:
        rng = self.rng
        lp = rng.choice(LPS)
        self.n_order += 1
        cl = cl or f"{lp}-{self.n_order}"
        side = rng.choice((1, 2))
        qty = float(rng.randrange(1, 50) * 100)
        sent = self.row("D", lp, t, outbound=True, cl_ord_id=cl, symbol=symbol, side=side,
                        order_qty=qty, ord_type="1", parent_id=parent)
        if rng.random() < 0.03:  # refused at the session level: 35=3 names its MsgSeqNum
            self.row("3", lp, t + timedelta(milliseconds=2), outbound=False, ref_epoch=0,
                     ref_msg_type="D", text="Required tag missing", _ref=sent)
            return
        t_ack = t + timedelta(milliseconds=rng.expovariate(1 / ACK_MS[lp]))
        self.report(lp, cl, symbol, t_ack, "0", "0", leaves_qty=qty)
        t_dec = t_ack + timedelta(milliseconds=rng.uniform(1, 400))
        quote = self.quote(symbol, t)
        if rng.random() < REJECT[lp] or quote is None:
            self.report(lp, cl, symbol, t_dec, "8", "8", ord_rej_reason=rng.choice((3, 99)),
                        text="Price moved")
            if depth < 2 and rng.random() < 0.8:  # re-routed within the parent
                self.order(t_dec + timedelta(milliseconds=rng.uniform(1, 30)), symbol, parent,
                           depth + 1)
            return
        bid, ask = quote
        far = ask if side == 1 else bid
        sign = 1 if side == 1 else -1
        fills = [qty] if rng.random() < 0.7 else [qty / 2, qty / 2]
        left = qty
        for k, q in enumerate(fills):
            px = round(far - sign * 0.01 * rng.choice((-1, 0, 0, 1, 2)), 4)
            left -= q
            t_fill = t_dec + timedelta(milliseconds=k * rng.uniform(5, 900))
            fill = self.report(lp, cl, symbol, t_fill, "F", "2" if left == 0 else "1",
                               last_qty=q, last_px=px, leaves_qty=left,
                               transact_time=t_fill - timedelta(microseconds=300),
                               transact_time_subsecond=True)
            if rng.random() < 0.03:  # busted or corrected a few seconds later
                amend = "H" if rng.random() < 0.5 else "G"
                extra = {"last_qty": q, "last_px": round(px + 0.01, 4)} if amend == "G" else {}
                self.report(lp, cl, symbol, t_fill + timedelta(seconds=rng.uniform(1, 20)),
                            amend, "2", exec_ref_id=fill["exec_id"], **extra)
        if rng.random() < 0.06:  # a late cancel request, refused without a symbol
            t_cxl = t_dec + timedelta(seconds=1)
            self.row("F", lp, t_cxl, outbound=True, cl_ord_id=f"{cl}-X", orig_cl_ord_id=cl,
                     symbol=symbol, side=side, order_qty=qty)
            self.row("9", lp, t_cxl + timedelta(milliseconds=3), outbound=False,
                     cl_ord_id=f"{cl}-X", orig_cl_ord_id=cl, ord_status="2",
                     cxl_rej_reason=0, cxl_rej_response_to="1", text="Too late to cancel")


def make_dataset(seed: int = 7, nights: int = 3, orders_per_night: int = 160
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, quotes) of the desk in the module docstring, events in receipt order."""
    rng = random.Random(seed)
    book = _quotes(rng, nights)
    desk = _Desk(rng, book)
    for night in range(nights):
        base = START + timedelta(days=night)
        times = sorted(rng.uniform(0, WINDOW_S) for _ in range(orders_per_night))
        times += [3600 - rng.uniform(0.05, 0.9) for _ in range(6)]  # just before midnight
        times += [3600 - rng.uniform(1, 55) for _ in range(6)]       # markouts past midnight
        for k, s in enumerate(times):
            desk.order(base + timedelta(seconds=s), rng.choice(SYMBOLS), f"P{night}-{k}")
    first = desk.rows[0]
    desk.row("D", first["lp"], first["ts_recv"] + timedelta(seconds=5), outbound=True,
             cl_ord_id=first["cl_ord_id"], symbol="BBB", side=1, order_qty=100.0,
             ord_type="1", parent_id=None)  # a reused ClOrdID starts a new child order
    desk.report("LP_B", "NO-SUCH-ORDER", "AAA", START + timedelta(seconds=99), "8", "8",
                text="Unknown order")                                 # an orphan report
    desk.row("3", "LP_C", START + timedelta(seconds=120), outbound=False, ref_seq_num=999_999,
             ref_epoch=0, ref_msg_type="D", text="Invalid tag")       # names no order
    return _events(desk.rows), _quote_frame(book)


def _events(rows: list[dict[str, Any]]) -> pl.DataFrame:
    rows.sort(key=lambda r: (r["ts_recv"], not r["outbound"]))
    seq: dict[tuple[str, bool], int] = {}
    for i, row in enumerate(rows):
        key = (row["session"], row["outbound"])
        seq[key] = seq.get(key, 0) + 1
        row.update(seq_num=seq[key], offset=i, line=i + 1)
    for row in rows:
        ref = row.pop("_ref", None)
        if ref is not None:
            row["ref_seq_num"] = ref["seq_num"]
    return pl.DataFrame(rows, schema=polars_schema(EVENT_SCHEMA))


def _quote_frame(book: dict[str, list[tuple[datetime, float, float]]]) -> pl.DataFrame:
    data = [{"ts": t, "symbol": s, "bid": b, "ask": a, "bid_size": 100.0, "ask_size": 100.0}
            for s, rows in book.items() for t, b, a in rows]
    return pl.DataFrame(data, schema=polars_schema(QUOTE_SCHEMA)).sort("ts", maintain_order=True)
