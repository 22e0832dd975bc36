"""Generate a seeded, synthetic but realistic QuickFIX-style FIX 4.4 log of an order-routing
session: one desk (our CompID) sending child orders to ~8 liquidity providers.

Each line is ``YYYYMMDD-HH:MM:SS.nnnnnnnnn : <SOH-delimited FIX 4.4 message>\\n``, the prefix
being the capture time (increasing through the file). Message mix, by count:

    ~25%  NewOrderSingle (35=D), desk -> LP
    ~60%  ExecutionReport (35=8), LP -> desk: acks, partial/full fills, rejects, cancels;
          some with a 453 Parties repeating group (2-3 entries of 448/447/452)
    ~5%   OrderCancelRequest (35=F) and OrderCancelReject (35=9)
    ~10%  Heartbeat (35=0), both directions
    + one Logon (35=A) per session direction at the start

Orders are simulated as life cycles (ack, fills, cancel or reject) with LP-specific latency
and clock skew, then all messages are sorted by capture time and MsgSeqNum is assigned per
direction, so sequence numbers, ids and quantities are consistent.

Speed: messages are formatted from one pre-built template per message shape (only varying
fields are formatted), and BodyLength/CheckSum are computed here
(``sum(bytes) % 256``). ``--check`` (default 20,000) re-encodes that many messages with
``lpscore.fix.codec.encode`` and validates them with ``lpscore.fix.codec.decode``, asserting
byte-for-byte equality, so the fast path cannot drift from the codec.

    python benchmarks/gen_fix_log.py --messages 1000000 --out benchmarks/data/fix_1m.log
"""

from __future__ import annotations

import argparse
import string
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "fix_1m.log"

DESK = "ALPHADESK"
ACCOUNT = "ALPHA-EQ-01"
# LP CompID, id prefix, typical ack latency (s), clock skew of its SendingTime (s).
LPS: list[tuple[str, str, float, float]] = [
    ("CITIGLOBAL", "CGX", 0.00045, 0.0012),
    ("GSET", "GS", 0.00080, -0.0021),
    ("JPMX", "JPM", 0.00120, 0.0004),
    ("MSPOOL", "MSP", 0.00060, 0.0031),
    ("VIRTUMM", "VRT", 0.00025, -0.0007),
    ("CDRGMM", "CDR", 0.00030, 0.0002),
    ("JANESTX", "JSX", 0.00055, -0.0013),
    ("UBSATS", "UBS", 0.00150, 0.0018),
]
VENUES = ["XNAS", "XNYS", "ARCX", "BATS", "EDGX", "IEXG", "XBOS", "MEMX"]
REJECT_TEXTS = [
    "Price outside of collar",
    "Symbol halted",
    "Max order quantity exceeded",
    "Duplicate ClOrdID",
    "Risk limit breached: credit",
    "Unknown symbol",
]
CXL_REJECT_TEXTS = ["Too late to cancel", "Unknown order", "Order already in pending cancel"]

SESSION_DATE = "20250612"
SESSION_START_NS = (13 * 3600 + 30 * 60) * 1_000_000_000  # 13:30 UTC
SESSION_SECONDS = 6.5 * 3600

# Event kinds in the timeline.
K_NEW, K_ACK, K_FILL, K_REJECT, K_CXL_REQ, K_CXL_ACK, K_CXL_REJ, K_HB, K_LOGON = range(9)


def _symbols(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list(string.ascii_uppercase))
    out: set[str] = set()
    while len(out) < n:
        size = int(rng.choice([1, 2, 3, 3, 4, 4, 4]))
        out.add("".join(rng.choice(letters, size)))
    return sorted(out)


class _Builder:
    """Formats one message from a template: header + body, BodyLength and CheckSum."""

    __slots__ = ()

    @staticmethod
    def frame(body: str) -> bytes:
        """``body`` runs from ``35=`` to the SOH before ``10=``."""
        b = body.encode("latin-1")
        head = b"8=FIX.4.4\x019=%d\x01" % len(b)
        return head + b + b"10=%03d\x01" % ((sum(head) + sum(b)) & 0xFF)


def _order_events(rng: np.random.Generator, n_orders: int) -> dict[str, np.ndarray]:
    """Life cycles of ``n_orders`` child orders: arrays of (time, kind, order, extra) plus
    per-order attributes."""
    span_ns = int(SESSION_SECONDS * 1e9)
    t_new = np.sort(rng.integers(0, span_ns, n_orders)) + SESSION_START_NS + 1_000_000_000
    lp = rng.integers(0, len(LPS), n_orders)
    ack_lat = np.array([x[2] for x in LPS])[lp] * rng.lognormal(0.0, 0.5, n_orders)
    ack_ns = (ack_lat * 1e9).astype(np.int64)

    u = rng.random(n_orders)
    rejected = u < 0.05
    cancelled = (u >= 0.05) & (u < 0.20)  # 15% get a cancel request
    cxl_ok = cancelled & (rng.random(n_orders) < 2 / 3)
    # Fills per live order; cancelled orders fill at most 1 before the cancel.
    n_fill = rng.choice([0, 1, 2, 3], n_orders, p=[0.08, 0.50, 0.30, 0.12])
    n_fill = np.where(rejected, 0, n_fill)
    n_fill = np.where(cancelled, np.minimum(n_fill, 1), n_fill)
    qty = rng.choice([100, 200, 300, 500, 1000, 1500, 2000, 2500, 5000], n_orders,
                     p=[0.22, 0.18, 0.12, 0.16, 0.12, 0.06, 0.06, 0.04, 0.04])
    # Every fill is at least a round lot; a cancelled order must stay partly open.
    n_fill = np.minimum(n_fill, qty // 100 - cancelled.astype(np.int64))

    times: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    orders: list[np.ndarray] = []
    extra: list[np.ndarray] = []
    idx = np.arange(n_orders)

    def add(t: np.ndarray, k: int, o: np.ndarray, e: np.ndarray | int = 0) -> None:
        times.append(t.astype(np.int64))
        kinds.append(np.full(len(t), k, dtype=np.int8))
        orders.append(o.astype(np.int64))
        extra.append(np.broadcast_to(np.asarray(e, dtype=np.int64), len(t)).copy())

    add(t_new, K_NEW, idx)
    add(t_new[rejected] + ack_ns[rejected], K_REJECT, idx[rejected])
    live = ~rejected
    add(t_new[live] + ack_ns[live], K_ACK, idx[live])
    # Fills: the j-th fill of an order, spread from ms to a minute after the ack.
    last_fill = t_new + ack_ns
    for j in range(3):
        has = n_fill > j
        gap = (rng.lognormal(np.log(0.4), 1.6, n_orders) * 1e9).astype(np.int64) + 50_000
        last_fill = np.where(has, last_fill + gap, last_fill)
        add(last_fill[has], K_FILL, idx[has], j)
    cxl_t = last_fill + (rng.lognormal(np.log(2.0), 1.0, n_orders) * 1e9).astype(np.int64)
    add(cxl_t[cancelled], K_CXL_REQ, idx[cancelled])
    resp = cxl_t + ack_ns
    add(resp[cxl_ok], K_CXL_ACK, idx[cxl_ok])
    cxl_rej = cancelled & ~cxl_ok
    add(resp[cxl_rej], K_CXL_REJ, idx[cxl_rej])
    return {
        "t": np.concatenate(times), "kind": np.concatenate(kinds),
        "order": np.concatenate(orders), "extra": np.concatenate(extra),
        "lp": lp, "n_fill": n_fill, "cancelled": cancelled, "qty": qty,
    }


def _timeline(rng: np.random.Generator, n_messages: int) -> dict[str, np.ndarray]:
    """Exactly ``n_messages`` messages in capture-time order: a Logon per session direction,
    ~10% heartbeats, the rest order life cycles (the earliest events of enough orders)."""
    n_dir = 2 * len(LPS)
    n_logon = min(n_dir, n_messages)
    n_hb = int((n_messages - n_logon) * 0.10)
    n_app = n_messages - n_logon - n_hb
    n_orders = n_app // 4 + 16
    while True:
        ev = _order_events(rng, n_orders)
        if len(ev["t"]) >= n_app:
            break
        n_orders = int(n_orders * n_app / len(ev["t"]) * 1.02) + 16
    keep = np.argsort(ev["t"], kind="stable")[:n_app]
    t_app = ev["t"][keep]
    t_end = int(t_app[-1]) if n_app else SESSION_START_NS + 10**9
    # Heartbeats over the same span, random direction (LP i outbound = i, inbound = 8 + i).
    t_hb = rng.integers(SESSION_START_NS + 10**9, t_end + 1, n_hb)
    t_logon = SESSION_START_NS + np.arange(n_logon, dtype=np.int64) * 3_000_000
    t = np.concatenate([t_logon, t_app, t_hb])
    kind = np.concatenate([np.full(n_logon, K_LOGON, np.int8), ev["kind"][keep],
                           np.full(n_hb, K_HB, np.int8)])
    order = np.concatenate([np.arange(n_logon), ev["order"][keep],
                            rng.integers(0, n_dir, n_hb)])
    extra = np.concatenate([np.zeros(n_logon, np.int64), ev["extra"][keep],
                            np.zeros(n_hb, np.int64)])
    by_time = np.argsort(t, kind="stable")
    t = t[by_time]
    # Strictly increasing capture times (ties broken by a nanosecond).
    ar = np.arange(len(t), dtype=np.int64)
    t = np.maximum.accumulate(t - ar) + ar
    return {
        "t": t, "kind": kind[by_time], "order": order[by_time], "extra": extra[by_time],
        "lp": ev["lp"], "n_fill": ev["n_fill"], "cancelled": ev["cancelled"], "qty": ev["qty"],
    }


def _fmt_times(ns: np.ndarray, digits: int) -> list[str]:
    """FIX UTCTimestamps with ``digits`` fractional digits (vectorised through Polars)."""
    import polars as pl  # noqa: PLC0415 - only the generator needs it

    fmt = "%Y%m%d-%H:%M:%S" + (f"%.{digits}f" if digits else "")
    day = np.datetime64(f"{SESSION_DATE[:4]}-{SESSION_DATE[4:6]}-{SESSION_DATE[6:]}", "ns")
    series = pl.Series(ns + day.astype(np.int64), dtype=pl.Int64).cast(pl.Datetime("ns"))
    return series.dt.strftime(fmt).to_list()


def generate(n_messages: int, seed: int) -> tuple[list[bytes], list[tuple[str, list]]]:
    """The log lines, and for the first messages their (msg_type, fields) for checking."""
    rng = np.random.default_rng(seed)
    tl = _timeline(rng, n_messages)
    n = len(tl["t"])
    n_orders = len(tl["lp"])
    symbols = _symbols(rng, 500)
    # Child orders come in parent orders (same symbol and side, close in time); a few
    # symbols dominate the flow, as in real order books.
    new_parent = rng.random(n_orders) < 0.35
    new_parent[0] = True
    parent = np.cumsum(new_parent) - 1
    n_parents = int(parent[-1]) + 1
    weight = 1.0 / np.arange(1, len(symbols) + 1) ** 0.9
    parent_sym = rng.choice(len(symbols), n_parents, p=weight / weight.sum())
    parent_side = rng.choice(["1", "2", "5"], n_parents, p=[0.5, 0.45, 0.05])
    sym_idx = parent_sym[parent]
    sym_px = np.round(np.exp(rng.uniform(np.log(4), np.log(600), len(symbols))), 2)
    px = sym_px[sym_idx] * (1 + rng.normal(0, 0.002, n_orders))
    tick = np.where(px < 1, 0.0001, 0.01)
    px = np.round(px / tick) * tick
    side = parent_side[parent]
    qty = tl["qty"]
    tif = rng.choice(["0", "3"], n_orders, p=[0.7, 0.3])
    exdest = rng.random(n_orders) < 0.3
    # Partial fill quantities: split qty into n_fill lots (last takes the rest).
    n_fill = tl["n_fill"]

    capture = _fmt_times(tl["t"], 9)
    lp_of_event = np.where(
        np.isin(tl["kind"], [K_HB, K_LOGON]), tl["order"] % len(LPS), tl["lp"][
            np.minimum(tl["order"], n_orders - 1)])
    inbound = np.isin(tl["kind"], [K_ACK, K_FILL, K_REJECT, K_CXL_ACK, K_CXL_REJ]) | (
        np.isin(tl["kind"], [K_HB, K_LOGON]) & (tl["order"] >= len(LPS)))
    skew = np.array([x[3] for x in LPS])[lp_of_event]
    jitter = rng.normal(0, 150e-6, n)
    send_ns = np.where(
        inbound,
        tl["t"] + ((skew + jitter - 0.0004) * 1e9).astype(np.int64),
        tl["t"] - rng.integers(15_000, 90_000, n),
    )
    sending = _fmt_times(send_ns, 3)
    transact_out = sending  # the desk stamps 60 with its own clock, ms
    transact_in = _fmt_times(send_ns - rng.integers(10_000, 300_000, n), 6)
    trade_date = SESSION_DATE

    seq = [0] * (2 * len(LPS))
    cum = np.zeros(n_orders, dtype=np.int64)
    notional = np.zeros(n_orders, dtype=np.float64)
    exec_counter = 0
    lines: list[bytes] = []
    checks: list[tuple[str, list]] = []
    frame = _Builder.frame
    kinds = tl["kind"].tolist()
    ords = tl["order"].tolist()
    extras = tl["extra"].tolist()
    party_roll = rng.random(n).tolist()
    venue_roll = rng.integers(0, len(VENUES), n).tolist()
    fill_frac = rng.uniform(0.2, 0.8, n).tolist()
    px_noise = rng.normal(0, 0.0004, n).tolist()
    text_roll = rng.integers(0, 1 << 30, n).tolist()
    lps = tl["lp"].tolist()
    px_l = px.tolist()
    qty_l = qty.tolist()
    side_l = side.tolist()
    tif_l = tif.tolist()
    exdest_l = exdest.tolist()
    parent_l = parent.tolist()
    sym_l = [symbols[i] for i in sym_idx.tolist()]
    nfill_l = n_fill.tolist()
    cancelled_l = tl["cancelled"].tolist()
    n_lp = len(LPS)

    for i in range(n):
        kind = kinds[i]
        o = ords[i]
        if kind in (K_HB, K_LOGON):
            d = o
            lp_id, inbound_i = (o - n_lp, True) if o >= n_lp else (o, False)
        else:
            lp_id = lps[o]
            inbound_i = kind not in (K_NEW, K_CXL_REQ)
            d = lp_id + n_lp if inbound_i else lp_id
        comp, pfx, _, _ = LPS[lp_id]
        seq[d] += 1
        sender, target = (comp, DESK) if inbound_i else (DESK, comp)
        head = f"34={seq[d]}\x0149={sender}\x0152={sending[i]}\x0156={target}\x01"
        clid = f"ALD{SESSION_DATE}-{o:08d}"
        if kind == K_NEW:
            mt = "D"
            body = (
                f"1={ACCOUNT}\x0111={clid}\x0115=USD\x0121=1\x0138={qty_l[o]}\x0140=2\x01"
                f"44={px_l[o]:.4f}\x0154={side_l[o]}\x0155={sym_l[o]}\x0159={tif_l[o]}\x01"
                f"60={transact_out[i]}\x01"
                + (f"100={comp}\x01" if exdest_l[o] else "")
                + f"526=PAR{SESSION_DATE}-{parent_l[o]:07d}\x01"
            )
        elif kind == K_CXL_REQ:
            mt = "F"
            body = (
                f"1={ACCOUNT}\x0111={clid}C\x0137={pfx}-O-{o:010d}\x0138={qty_l[o]}\x01"
                f"41={clid}\x0154={side_l[o]}\x0155={sym_l[o]}\x0160={transact_out[i]}\x01"
            )
        elif kind == K_CXL_REJ:
            mt = "9"
            body = (
                f"11={clid}C\x0137={pfx}-O-{o:010d}\x0139={'1' if cum[o] else '0'}\x01"
                f"41={clid}\x0158={CXL_REJECT_TEXTS[text_roll[i] % 3]}\x0160={transact_in[i]}"
                f"\x01102={'0' if text_roll[i] % 3 == 0 else '1'}\x01434=1\x01"
            )
        elif kind in (K_HB, K_LOGON):
            mt = "0" if kind == K_HB else "A"
            body = "" if kind == K_HB else "98=0\x01108=30\x01141=Y\x01"
        else:
            mt = "8"
            exec_counter += 1
            q = qty_l[o]
            last_qty = 0
            last_px = 0.0
            if kind == K_ACK:
                et, st = "0", "0"
            elif kind == K_REJECT:
                et, st = "8", "8"
            elif kind == K_CXL_ACK:
                et, st = "4", "4"
            else:
                j = extras[i]
                remaining = q - cum[o]
                if j == nfill_l[o] - 1 and not cancelled_l[o]:
                    last_qty = int(remaining)
                else:  # leave a round lot for each later fill (or the cancel)
                    keep = 100 * (nfill_l[o] - j - (0 if cancelled_l[o] else 1))
                    last_qty = int(remaining * fill_frac[i]) // 100 * 100
                    last_qty = min(max(100, last_qty), int(remaining) - keep)
                last_px = round(px_l[o] * (1 + px_noise[i]), 4)
                cum[o] += last_qty
                notional[o] += last_qty * last_px
                et = "F"
                st = "2" if cum[o] >= q else "1"
            c = int(cum[o])
            leaves = 0 if st in ("2", "4", "8") else q - c
            avg = notional[o] / c if c else 0.0
            parts = [
                f"1={ACCOUNT}\x016={avg:.4f}\x0111={clid}C\x01" if kind == K_CXL_ACK
                else f"1={ACCOUNT}\x016={avg:.4f}\x0111={clid}\x01",
                f"14={c}\x0115=USD\x0117={pfx}-X-{exec_counter:012d}\x01",
            ]
            if kind == K_FILL:
                parts.append(f"30={VENUES[venue_roll[i]]}\x0131={last_px:.4f}\x0132={last_qty}\x01")
            else:
                parts.append("31=0\x0132=0\x01")
            parts.append(f"37={pfx}-O-{o:010d}\x0138={q}\x0139={st}\x0140=2\x01")
            if kind == K_CXL_ACK:
                parts.append(f"41={clid}\x01")
            parts.append(f"44={px_l[o]:.4f}\x0154={side_l[o]}\x0155={sym_l[o]}\x01")
            if kind == K_REJECT:
                parts.append(f"58={REJECT_TEXTS[text_roll[i] % len(REJECT_TEXTS)]}\x01")
            parts.append(f"59={tif_l[o]}\x0160={transact_in[i]}\x0175={trade_date}\x01")
            if kind == K_REJECT:
                parts.append(f"103={text_roll[i] % 6}\x01")
            parts.append(f"150={et}\x01151={leaves}\x01")
            roll = party_roll[i]
            if roll < 0.35:
                if roll < 0.12:
                    parts.append(f"453=3\x01448={comp}\x01447=D\x01452=1\x01448={DESK}\x01"
                                 f"447=D\x01452=3\x01448={VENUES[venue_roll[i]]}\x01447=G\x01"
                                 "452=73\x01")
                else:
                    parts.append(f"453=2\x01448={comp}\x01447=D\x01452=1\x01448={DESK}\x01"
                                 "447=D\x01452=3\x01")
            if kind == K_FILL:
                parts.append(f"851={1 + (text_roll[i] & 1)}\x01")
            body = "".join(parts)
        full = f"35={mt}\x01{head}{body}"
        msg = frame(full)
        lines.append(b"%s : %s\n" % (capture[i].encode(), msg))
        if len(checks) < _CHECK_LIMIT:
            checks.append((mt, [(int(t), v) for t, _, v in
                                (f.partition("=") for f in full.split("\x01")[1:-1])]))
    return lines, checks


_CHECK_LIMIT = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--date", default="20250612",
                        help="the session's UTC date, YYYYMMDD (a log per day: vary the seed too)")
    parser.add_argument("--check", type=int, default=20_000,
                        help="re-encode and validate this many messages with lpscore.fix.codec")
    args = parser.parse_args(argv)
    global _CHECK_LIMIT, SESSION_DATE  # noqa: PLW0603 - knobs of this one-shot script
    _CHECK_LIMIT = args.check
    if len(args.date) != 8 or not args.date.isdigit():
        raise SystemExit(f"--date {args.date}: give YYYYMMDD")
    SESSION_DATE = args.date
    t0 = time.perf_counter()
    lines, checks = generate(args.messages, args.seed)
    t1 = time.perf_counter()
    if checks:
        from lpscore.fix.codec import decode, encode  # noqa: PLC0415

        for (mt, fields), line in zip(checks, lines, strict=False):
            msg = line[line.index(b" : ") + 3 : -1]
            expected = encode(mt, fields, begin_string="FIX.4.4")
            if msg != expected:
                raise SystemExit(f"generator drifted from lpscore.fix.codec.encode:\n"
                                 f"{msg!r}\n{expected!r}")
            decode(msg)  # raises on a bad BodyLength or CheckSum
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(b"".join(lines))
    tmp.replace(args.out)
    t2 = time.perf_counter()
    size = args.out.stat().st_size
    print(f"wrote {len(lines):,} messages, {size / 1e6:.1f} MB ({size / len(lines):.0f} B/line) "
          f"to {args.out} in {t2 - t0:.1f} s (generate {t1 - t0:.1f} s; "
          f"{len(checks):,} checked against lpscore.fix.codec)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
