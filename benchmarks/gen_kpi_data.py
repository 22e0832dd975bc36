"""Generate a seeded KPI benchmark input: child orders with their execution reports, and quotes.

    .venv/bin/python benchmarks/gen_kpi_data.py        # 1M orders, 500 symbols, 20M quotes
    .venv/bin/python benchmarks/gen_kpi_data.py --orders 100000 --symbols 50 --quotes 2000000

Writes ``events.parquet`` (the columns and types of ``polars_schema(EVENT_SCHEMA)``, sorted by
``ts_recv``, as ``lpscore ingest`` would produce them) and ``quotes.parquet`` (QUOTE_SCHEMA,
in time order across symbols, as a consolidated feed would deliver them) to ``--out``
(default ``benchmarks/data/kpi/``, git-ignored).

One trading day (2026-11-20 14:30-21:00 UTC), 8 LPs, one FIX session per LP. Everything is
vectorised (numpy and Polars, no Python loop per row), so the full size takes well under a
minute:

- Quotes: each symbol has an activity weight (log-normal), a start price (5..500), a tick
  (0.01) and a daily volatility (1-4%). Quote times are uniform over the day, the mid is a
  Gaussian random walk in log price scaled to the time between quotes, and the spread is
  1, 2, 3... ticks (geometric), with ~0.2% locked quotes (bid = ask). Quiet symbols have gaps
  of several seconds, so some orders have no fresh benchmark (``max_quote_age``), and orders
  late in the day have horizons past the end of the data: both staleness rules are exercised.
- Orders: symbols drawn by the same activity weights, send times uniform over the day, side
  +1/-1, quantity 100..5,000, 70% marketable limits (price 2 ticks through the far touch) and
  30% market orders; parents of 1..n consecutive children (``parent_id``), so reject costs
  have re-routes to find.
- Each order gets an ack (ExecType 0) after an LP-specific latency, then after an LP-specific
  hold either a reject (ExecType 8, ~10% on average, 2-20% by LP), one fill (ExecType F), two
  fills, or a partial fill and a cancel of the rest (ExecType 4). The fill price is the far
  touch as of the send time, improved or worsened by a few ticks with LP-specific odds.
  TransactTime has sub-second precision and is 50-500 us before our receipt time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "kpi"

DAY_START = "2026-11-20T14:30:00"
DAY_NS = 23_400 * 10**9
MS = 1_000_000
US = 1_000
TS_BITS = 45  # a day in ns < 2**45, so (symbol code << 45) + time sorts as (symbol, time)

LPS = ("LP_A", "LP_B", "LP_C", "LP_D", "LP_E", "LP_F", "LP_G", "LP_H")
LP_COMP = ("LPA-FIX", "LPB-FIX", "LPC-FIX", "LPD-FIX", "LPE-FIX", "LPF-FIX", "LPG-FIX",
           "LPH-FIX")
DESK = "DESK1"
# Per LP: share of order flow, reject probability, median ack latency (ms), median hold (ms),
# odds of price improvement by -1, 0, +1, +2 ticks.
LP_SHARE = np.array([0.20, 0.16, 0.14, 0.12, 0.12, 0.10, 0.08, 0.08])
LP_REJECT = np.array([0.02, 0.05, 0.08, 0.10, 0.12, 0.14, 0.17, 0.20])
LP_ACK_MS = np.array([0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0])
LP_HOLD_MS = np.array([0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0])
LP_IMPROVE = np.array([
    [0.05, 0.60, 0.30, 0.05],
    [0.10, 0.60, 0.25, 0.05],
    [0.10, 0.70, 0.15, 0.05],
    [0.15, 0.65, 0.15, 0.05],
    [0.15, 0.70, 0.10, 0.05],
    [0.20, 0.65, 0.10, 0.05],
    [0.25, 0.60, 0.10, 0.05],
    [0.30, 0.55, 0.10, 0.05],
])
REJECT_REASONS = np.array([0, 3, 99], dtype=np.int32)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _ts(values: I64) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC"))


def _names(prefix: str, index: npt.NDArray[np.integer]) -> pl.Series:
    """``prefix`` + the decimal index, as a String column (vectorised)."""
    return pl.select(pl.concat_str(pl.lit(prefix), pl.Series(index).cast(pl.String))).to_series()


def _pick(names: list[str] | tuple[str, ...], codes: npt.NDArray[np.integer]) -> pl.Series:
    return pl.Series(list(names), dtype=pl.String).gather(pl.Series(codes, dtype=pl.Int64))


def make_quotes(rng: np.random.Generator, symbols: int, quotes: int, day0: int,
                ) -> tuple[pl.DataFrame, dict[str, npt.NDArray[np.generic]]]:
    """Quotes in time order, and the per-symbol arrays the orders need (sorted by symbol,
    time: ``key``, ``bid``, ``ask``; and ``weight``, ``p0``, ``tick``)."""
    weight = rng.lognormal(0.0, 0.8, symbols)
    weight /= weight.sum()
    p0 = np.exp(rng.uniform(np.log(5.0), np.log(500.0), symbols))
    tick = np.full(symbols, 0.01)
    vol = rng.uniform(0.01, 0.04, symbols)

    sym = rng.choice(symbols, size=quotes, p=weight).astype(np.int64)
    ts = rng.integers(0, DAY_NS, size=quotes, dtype=np.int64)
    key = (sym << TS_BITS) + ts
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]]  # one quote per (symbol, ns)
    sym = key >> TS_BITS
    ts = key - (sym << TS_BITS)
    n = len(key)

    first = np.r_[True, sym[1:] != sym[:-1]]
    starts = np.flatnonzero(first)
    gap = np.where(first, 0, np.diff(ts, prepend=0)).astype(np.float64)
    step = rng.standard_normal(n) * vol[sym] * np.sqrt(gap / DAY_NS)
    walk = np.cumsum(step)
    before = walk[starts] - step[starts]  # the running sum before each symbol's first quote
    seg = np.cumsum(first) - 1
    mid = p0[sym] * np.exp(walk - before[seg])
    del step, walk, gap

    width = rng.geometric(0.55, size=n).astype(np.float64)  # 1, 2, 3... ticks
    width[rng.random(n) < 0.002] = 0.0  # locked
    t = tick[sym]
    bid_ticks = np.maximum(np.floor(mid / t - width / 2.0), 1.0)
    bid = bid_ticks * t
    ask = (bid_ticks + width) * t
    bid_size = rng.integers(1, 50, size=n).astype(np.float64) * 100.0
    ask_size = rng.integers(1, 50, size=n).astype(np.float64) * 100.0

    by_time = np.argsort(ts, kind="stable")
    names = [f"S{i:04d}" for i in range(symbols)]  # one per symbol, not per row
    frame = pl.DataFrame({
        "ts": _ts(ts[by_time] + day0),
        "symbol": _pick(names, sym[by_time]),
        "bid": bid[by_time],
        "ask": ask[by_time],
        "bid_size": bid_size[by_time],
        "ask_size": ask_size[by_time],
    })
    book = {"key": key, "bid": bid, "ask": ask, "weight": weight, "p0": p0, "tick": tick,
            "names": np.array(names)}
    return frame, book


def make_events(rng: np.random.Generator, orders: int, book: dict[str, npt.NDArray[np.generic]],
                day0: int) -> pl.DataFrame:
    """Child orders (35=D) and their execution reports (35=8), sorted by ``ts_recv``."""
    from lpscore.model.schema import EVENT_SCHEMA, polars_schema  # noqa: PLC0415

    n = orders
    weight = np.asarray(book["weight"], dtype=np.float64)
    # Parents of consecutive children (in send order), each child on the parent's symbol
    # and side, so a rejected child's re-route is a like-for-like refill.
    parent = np.cumsum(np.r_[True, rng.random(n - 1) < 0.6]) - 1
    n_parents = int(parent[-1]) + 1
    sym = rng.choice(len(weight), size=n_parents, p=weight).astype(np.int64)[parent]
    s = rng.choice(np.array([1, -1], dtype=np.int8), size=n_parents)[parent]
    t_send = np.sort(rng.integers(1_000 * MS, DAY_NS - 1_000 * MS, size=n, dtype=np.int64))
    lp = rng.choice(len(LPS), size=n, p=LP_SHARE)
    qty = rng.integers(1, 51, size=n).astype(np.float64) * 100.0
    limit = rng.random(n) < 0.7

    # The quote as of t_send (one searchsorted over (symbol, time) keys).
    key = np.asarray(book["key"], dtype=np.int64)
    pos = np.searchsorted(key, (sym << TS_BITS) + t_send, side="right") - 1
    known = (pos >= 0) & ((key[np.maximum(pos, 0)] >> TS_BITS) == sym)
    bid = np.asarray(book["bid"], dtype=np.float64)
    ask = np.asarray(book["ask"], dtype=np.float64)
    p0 = np.asarray(book["p0"], dtype=np.float64)[sym]
    tick = np.asarray(book["tick"], dtype=np.float64)[sym]
    safe = np.maximum(pos, 0)
    far0 = np.where(known, np.where(s > 0, ask[safe], bid[safe]), p0)

    # Price improvement in ticks (-1, 0, +1, +2) with LP-specific odds.
    cum = np.cumsum(LP_IMPROVE, axis=1)[lp]
    improve = (rng.random(n)[:, None] > cum[:, :-1]).sum(axis=1) - 1
    px1 = np.round((far0 - s * improve * tick) / tick) * tick
    px2 = px1 + s * tick * rng.integers(0, 2, size=n)  # second fill: same or a tick worse
    price = np.where(limit, np.round((far0 + s * 2 * tick) / tick) * tick, np.nan)

    ack_lat = (LP_ACK_MS[lp] * rng.lognormal(0.0, 0.5, size=n) * MS).astype(np.int64) + 1
    hold = (LP_HOLD_MS[lp] * rng.lognormal(0.0, 0.7, size=n) * MS).astype(np.int64) + 1
    gap2 = (rng.exponential(50.0, size=n) * MS).astype(np.int64) + 1
    t_ack = t_send + ack_lat
    t_dec = t_ack + hold
    t_second = t_dec + gap2

    u = rng.random(n)
    rejected = u < LP_REJECT[lp]
    rest = (u - LP_REJECT[lp]) / (1.0 - LP_REJECT[lp])
    partial = ~rejected & (rest < 0.05) & (qty >= 200)
    two = ~rejected & ~partial & (rest < 0.45) & (qty >= 200)
    one = ~rejected & ~partial & ~two
    split = np.clip(np.round(qty * rng.uniform(0.2, 0.8, size=n) / 100.0) * 100.0, 100.0,
                    qty - 100.0)
    q1 = np.where(one, qty, split)

    idx = np.arange(n, dtype=np.int64)
    transit = rng.integers(50 * US, 500 * US, size=n, dtype=np.int64)

    lp_s = pl.Series(list(LPS), dtype=pl.String)
    sessions = pl.Series([f"{DESK}->{c}" for c in LP_COMP], dtype=pl.String)
    comps = pl.Series(list(LP_COMP), dtype=pl.String)
    names = np.asarray(book["names"])
    sym_s = pl.Series(list(names), dtype=pl.String)
    base = pl.DataFrame({
        "session": sessions.gather(lp),
        "lp": lp_s.gather(lp),
        "_comp": comps.gather(lp),
        "cl_ord_id": _names("C", idx),
        "symbol": sym_s.gather(sym),
        "side": s,
        "order_qty": qty,
    })

    def reports(mask: npt.NDArray[np.bool_], at: I64, exec_type: str,
                status: npt.NDArray[np.str_] | str, **cols: npt.NDArray[np.generic],
                ) -> pl.DataFrame:
        rows = np.flatnonzero(mask)
        recv = at[rows]
        status_col = (pl.Series(status[rows], dtype=pl.String) if isinstance(status, np.ndarray)
                      else pl.lit(status))
        return base[rows].with_columns(
            pl.lit("8").alias("kind"), pl.lit(False).alias("outbound"),
            pl.col("_comp").alias("sender"), pl.lit(DESK).alias("target"),
            _ts(recv + day0).alias("ts_recv"), _ts(recv + day0).alias("sending_time"),
            _ts(recv - transit[rows] + day0).alias("transact_time"),
            pl.lit(True).alias("transact_time_subsecond"),
            pl.lit(exec_type).alias("exec_type"), status_col.alias("ord_status"),
            pl.lit(False).alias("exec_id_reused"),
            *(pl.Series(name, values[rows]) for name, values in cols.items()),
        ).drop("_comp")

    all_rows = np.ones(n, dtype=np.bool_)
    zero = np.zeros(n)
    sent = base.select(
        pl.lit("D").alias("kind"), "session", pl.lit(DESK).alias("sender"),
        pl.col("_comp").alias("target"), pl.lit(True).alias("outbound"), "lp",
        _ts(t_send + day0).alias("ts_recv"), _ts(t_send - 20 * US + day0).alias("sending_time"),
        "cl_ord_id", pl.concat_str(pl.lit("P"), pl.Series(parent).cast(pl.String))
        .alias("parent_id"), "symbol", "side", "order_qty",
        pl.Series("price", price).fill_nan(None),
        pl.Series("ord_type", np.where(limit, "2", "1"), dtype=pl.String),
        pl.lit("0").alias("time_in_force"),
    )
    acks = reports(all_rows, t_ack, "0", "0", last_qty=zero, last_px=zero, leaves_qty=qty,
                   cum_qty=zero)
    rejects = reports(rejected, t_dec, "8", "8", last_qty=zero, last_px=zero, leaves_qty=zero,
                      cum_qty=zero, ord_rej_reason=rng.choice(REJECT_REASONS, size=n))
    first_status = np.where(one, "2", "1")
    fills1 = reports(one | two | partial, t_dec, "F", first_status, last_qty=q1, last_px=px1,
                     leaves_qty=qty - q1, cum_qty=q1)
    fills2 = reports(two, t_second, "F", "2", last_qty=qty - q1, last_px=px2,
                     leaves_qty=zero, cum_qty=qty)
    cancels = reports(partial, t_second, "4", "4", last_qty=zero, last_px=zero,
                      leaves_qty=zero, cum_qty=q1)

    schema = polars_schema(EVENT_SCHEMA)
    events = pl.concat([sent, acks, rejects, fills1, fills2, cancels], how="diagonal_relaxed")
    events = events.sort("ts_recv", maintain_order=True).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("session", "outbound")
        .alias("seq_num"),
        pl.lit(0, dtype=pl.Int64).alias("seq_epoch"),
        pl.lit(False).alias("poss_dup"),
        pl.col("ts_recv").alias("ts_event"),
        pl.lit(True).alias("captured"),                 # ts_recv is our capture time
        pl.when(pl.col("kind") == "8").then(
            pl.concat_str(pl.lit("E"), pl.int_range(pl.len()).cast(pl.String)))
        .alias("exec_id"),
        pl.when(pl.col("kind") == "8").then(pl.col("cl_ord_id").str.replace("C", "O"))
        .alias("order_id"),
        pl.lit("gen_kpi_data").alias("source"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("offset"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"),
    )
    out = events.select(
        (pl.col(name) if name in events.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items())
    assert out.schema == schema
    return out


def generate(orders: int, symbols: int, quotes: int, seed: int, out: Path) -> dict[str, float]:
    """Write ``events.parquet`` and ``quotes.parquet`` under ``out``; returns timings."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    day0 = int(np.datetime64(DAY_START, "ns").astype(np.int64))
    t0 = time.perf_counter()
    quote_frame, book = make_quotes(rng, symbols, quotes, day0)
    t1 = time.perf_counter()
    quote_frame.write_parquet(out / "quotes.parquet")
    n_quotes = quote_frame.height
    del quote_frame
    t2 = time.perf_counter()
    events = make_events(rng, orders, book, day0)
    t3 = time.perf_counter()
    events.write_parquet(out / "events.parquet")
    t4 = time.perf_counter()
    counts = dict(events.group_by("kind", "exec_type").len().sort("kind", "exec_type")
                  .select(pl.concat_str("kind", pl.lit("/"), pl.col("exec_type").fill_null("-")),
                          "len").iter_rows())
    print(f"{out}: {n_quotes:,} quotes over {symbols} symbols (built {t1 - t0:.1f} s, "
          f"written {t2 - t1:.1f} s); {events.height:,} events for {orders:,} orders "
          f"(built {t3 - t2:.1f} s, written {t4 - t3:.1f} s); kind/exec_type: {counts}")
    return {"quotes": n_quotes, "events": events.height, "seconds": t4 - t0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--quotes", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.orders < 2 or args.symbols < 1 or args.quotes < args.symbols:
        parser.error("need --orders >= 2, --symbols >= 1 and --quotes >= --symbols")
    generate(args.orders, args.symbols, args.quotes, args.seed, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
