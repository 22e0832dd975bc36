"""The KPI engine: events and quotes in, per-fill and per-order KPI tables out.

    result = compute_kpis(events, quotes, config)
    result.fills    # one row per effective fill: PI, effective spread, E/Q, markouts...
    result.orders   # one row per child order: lifecycle, latencies, hold time, reject cost
    result.clock_offsets, result.data_quality

Steps: link every event to its child order; apply busts and corrections to fills; rebuild
lifecycles; look up the NBBO as of ``t_send`` (staleness: ``max_quote_age_ms``) and as of
``t_exec + h`` for every horizon (null past the end of the symbol's quotes or when the quote is
older than ``max(2h, max_quote_age_ms)``); compute the formulas of lpscore.kpi.formulas.
A negative latency is quarantined for its order (stage ``kpi``) and left null, never clipped.
Nothing here is decayed or aggregated: that is lpscore.kpi.aggregate over lpscore.stats.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import polars.selectors as cs

from lpscore.config import Config
from lpscore.ingest.orders import effective_fills, link_child_keys
from lpscore.kpi import formulas as f
from lpscore.kpi.context import add_context, load_adv
from lpscore.kpi.lifecycle import (
    KEY,
    child_orders,
    is_reject,
    match_session_rejects,
    reject_reason,
    sent_orders,
)
from lpscore.kpi.sweep import QuoteSweep
from lpscore.marketdata.nbbo import QuoteBook
from lpscore.model.schema import with_captured
from lpscore.quarantine import Quarantine

__all__ = ["EVENT_COLUMNS", "QUOTE_COLUMNS", "KpiResult", "compute_kpis", "horizon_label"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MS = 1_000_000


def horizon_label(ms: int) -> str:
    """``1s``, ``60s`` for whole seconds, else ``100ms``."""
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


@dataclass
class KpiResult:
    """Per-fill and per-order KPI tables, and what was noticed on the way."""

    fills: pl.DataFrame
    orders: pl.DataFrame
    horizons: list[str]
    clock_offsets: pl.DataFrame
    data_quality: dict[str, int] = field(default_factory=dict)
    unmatched_session_rejects: pl.DataFrame = field(default_factory=pl.DataFrame)
    """Session rejects (35=3, RefMsgType D) naming no child order, per LP (malformed orders
    that were quarantined at ingestion): they count in ``session_reject_rate``."""
    orphan_rejects: pl.DataFrame = field(default_factory=pl.DataFrame)
    """Rejects that answer no child order we know (``lp, reason, n``): reported beside the
    LP's reasons so every reject the LP sent is accounted for."""


def compute_kpis(events: pl.DataFrame, quotes: pl.DataFrame, config: Config,
                 quarantine: Quarantine | None = None, *,
                 book: QuoteBook | None = None) -> KpiResult:
    """Every per-fill and per-order KPI of docs/kpis.md. ``book``: ``quotes`` already made a
    QuoteBook (a stream computes many small batches against the same quotes)."""
    quarantine = Quarantine() if quarantine is None else quarantine
    kpi = config.kpi
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lpscore-quotes") as pool:
        # The quotes are made searchable on another core while the events are linked: the
        # two are independent, and both mostly run outside the GIL (Polars, numba nogil).
        # A feed in time order is swept, never sorted (lpscore.kpi.sweep).
        swept = pool.submit(QuoteSweep.of, quotes) if book is None else None
        ordered = _in_receipt_order(events)
        quality: Counter[str] = Counter()
        linked = link_child_keys(ordered, KEY)  # child_id, and KEY as lifecycle.child_keys
        sent = sent_orders(linked)
        session_rejects = match_session_rejects(linked, sent)
        linked = _unlink_after_session_reject(linked, session_rejects, quality)
        fills = effective_fills(linked.select(_FILL_COLUMNS))
        orders = child_orders(sent, linked, fills, session_rejects)
        del sent
        # Everything still read from the events is read now, so the events with their keys
        # (the largest table the job makes) are let go before the quote lookups below, where
        # its memory peaks.
        orders = _quarantine_negative_latency(orders, linked, quarantine, quality)
        quality["orphan_reports"] = linked.filter(
            pl.col("kind").is_in(["8", "9"]) & pl.col("child_id").is_null()).height
        offsets, orphan_rejects = clock_offsets(linked), _orphan_rejects(linked)
        del linked, ordered
        quoted: QuoteBook | QuoteSweep | None = book if swept is None else swept.result()
    if quoted is None:
        quoted = QuoteBook(quotes)
    orders = _order_benchmarks(orders, quoted, kpi.max_quote_age_ms)
    orders = add_context(orders, quoted, config.context, load_adv(config.context))
    orders = _reject_costs(orders, fills)
    fill_table, labels = _fill_kpis(fills, orders, quoted, kpi.horizons_ms,
                                    kpi.max_quote_age_ms)
    quality["fills_no_benchmark"] = int((~fill_table["has_benchmark"]).sum())
    for label in labels:
        quality[f"markout_null_{label}"] = int(fill_table[f"mid_{label}"].is_null().sum())
    quality["open_orders"] = orders.filter(~pl.col("terminal")
                                           & (pl.col("state") != "session_rejected")).height
    quality["orders_no_benchmark"] = int(orders["m0"].is_null().sum())
    return KpiResult(
        fills=_plain(fill_table),
        orders=_plain(orders.drop(KEY)),
        horizons=labels,
        clock_offsets=_plain(offsets),
        data_quality=dict(sorted(quality.items())),
        unmatched_session_rejects=_plain(_unmatched_session_rejects(session_rejects)),
        orphan_rejects=_plain(orphan_rejects),
    )


def _plain(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its categorical columns as strings: events in the compact form
    (lpscore.model.schema.compact) give the same tables as plain ones."""
    return frame.with_columns(cs.categorical().cast(pl.String))


_RECEIPT_ORDER = {"ts_recv": False, "session": False, "outbound": True, "seq_num": False,
                  "source": False, "offset": False}
"""Receipt order: time, then session, our own messages first, MsgSeqNum, file and offset
(column: descending)."""
EVENT_COLUMNS = (
    "kind", "session", "outbound", "lp", "seq_num", "seq_epoch", "ts_recv", "captured",
    "sending_time", "transact_time", "transact_time_subsecond", "cl_ord_id", "orig_cl_ord_id",
    "parent_id", "exec_id", "exec_ref_id", "exec_type", "ord_status", "symbol", "side",
    "order_qty", "price", "ord_type", "last_qty", "last_px", "leaves_qty", "ord_rej_reason",
    "ref_seq_num", "ref_epoch", "ref_msg_type", "text", "source", "offset", "line",
)
"""The event columns the engine reads (34 of EVENT_SCHEMA's 48): a caller reading events
from Parquet for ``compute_kpis`` alone may read only these (a third less memory)."""
_FILL_COLUMNS = ("kind", "session", "exec_type", "exec_id", "exec_ref_id", "ts_recv",
                 "transact_time", "transact_time_subsecond", "last_qty", "last_px",
                 "child_id", KEY)
"""The event columns that ``effective_fills`` and the stages reading its fills use: it
filters only these (a filter copies every column it is given)."""
QUOTE_COLUMNS = ("symbol", "ts", "bid", "ask")
"""The quote columns the engine reads (of QUOTE_SCHEMA's 6), likewise."""


def _in_receipt_order(events: pl.DataFrame) -> pl.DataFrame:
    """The columns of ``events`` that the engine reads, in receipt order, with ``_pos``, the
    position in that order. The rows are never sorted whole: only the few that move are
    gathered (``_moved``), and none when they already are in order.

    The result keeps the chunks of ``events`` (a Parquet read gives several): making one
    would copy every column. Polars 2.1's ``pl.format`` panics on columns split in chunks of
    which one is empty, which a filter of a chunked frame can give: the few frames that go
    through it are made one chunk first (``_orphan_rejects``, ``_aliases``)."""
    frame = with_captured(events).select(EVENT_COLUMNS)
    order = _receipt_order(events)
    moved = np.flatnonzero(order != np.arange(len(order)))
    if len(moved):
        frame = _moved(frame, order, moved)
    return frame.with_row_index("_pos")


def _receipt_order(events: pl.DataFrame) -> I64:
    """The permutation that puts ``events`` in receipt order (a stable sort on the keys).

    Events usually come sorted by time already (the ingest's order): then only rows sharing
    a timestamp can move, within their run, and only those are sorted."""
    keys = events.select(list(_RECEIPT_ORDER))
    ts = keys["ts_recv"]
    if ts.null_count() or not ts.is_sorted():
        return _arg_sort(keys)
    t = ts.dt.epoch("ns").to_numpy()
    same = t[1:] == t[:-1]
    tied = np.flatnonzero(np.r_[False, same] | np.r_[same, False])
    order = np.arange(len(t), dtype=np.int64)
    if len(tied):
        order[tied] = tied[_arg_sort(keys[tied])]
    return order


def _arg_sort(keys: pl.DataFrame) -> I64:
    return keys.select(pl.arg_sort_by(
        list(_RECEIPT_ORDER), descending=list(_RECEIPT_ORDER.values()), nulls_last=True,
        maintain_order=True)).to_series().to_numpy().astype(np.int64)


def _moved(frame: pl.DataFrame, order: I64, moved: I64, max_runs: int = 64) -> pl.DataFrame:
    """``frame[order]`` where ``order`` moves only the rows ``moved``: the rows between runs of
    moved rows are kept as zero-copy slices (one gather of everything when there are more
    than ``max_runs`` runs)."""
    breaks = np.flatnonzero(np.diff(moved) != 1) + 1
    runs = list(zip(moved[np.r_[0, breaks]].tolist(), (moved[np.r_[breaks - 1, -1]] + 1).tolist(),
                    strict=True))
    if len(runs) > max_runs:
        return frame[order]
    pieces, start = [], 0
    for lo, hi in runs:
        pieces += [frame.slice(start, lo - start), frame[order[lo:hi]]]
        start = hi
    pieces.append(frame.slice(start))
    return pl.concat(pieces, how="vertical", rechunk=False)


def _orphan_rejects(linked: pl.DataFrame) -> pl.DataFrame:
    """Rejects that answer no child order we know, per LP and reason (the few rows are made
    one chunk for ``pl.format``: see ``_in_receipt_order``)."""
    orphans = linked.filter(is_reject() & pl.col("child_id").is_null()).rechunk()
    return orphans.group_by("lp", reject_reason().alias("reason")).len("n").sort("lp", "reason")


def _unmatched_session_rejects(session_rejects: pl.DataFrame) -> pl.DataFrame:
    """Session rejects of a NewOrderSingle naming no child order, counted per LP."""
    return session_rejects.filter(
        pl.col("child_id").is_null() & (pl.col("ref_msg_type") == "D")
    ).group_by("lp").len("n_unmatched").sort("lp")


def _unlink_after_session_reject(linked: pl.DataFrame, session_rejects: pl.DataFrame,
                                 quality: Counter[str]) -> pl.DataFrame:
    """An order refused at the session level never reached the LP's application, so a later
    report with its ClOrdID answers something else (often a malformed order that was
    quarantined): it is left unlinked and counted, not credited to the refused order."""
    refused = session_rejects.filter(
        pl.col(KEY).is_not_null()).group_by(KEY).agg(
        pl.col("ts_recv").min().alias("_refused_at"))
    if refused.is_empty():
        quality["reports_after_session_reject"] = 0
        return linked
    out = linked.select(KEY, "kind", "ts_recv").join(
        refused, on=KEY, how="left", maintain_order="left")
    late = (pl.col("kind").is_in(["8", "9"]) & (pl.col("ts_recv") > pl.col("_refused_at"))
            ).fill_null(False)
    quality["reports_after_session_reject"] = int(out.select(late.sum()).item())
    unlinked = out.select(late.alias("_late"))["_late"]
    return linked.with_columns(
        pl.when(unlinked).then(None).otherwise(pl.col(name)).alias(name)
        for name in ("child_id", KEY))


def _epoch(column: pl.Series) -> I64:
    return column.dt.epoch("ns").fill_null(0).to_numpy().astype(np.int64)


def _order_benchmarks(orders: pl.DataFrame, book: QuoteBook | QuoteSweep,
                      max_age_ms: int) -> pl.DataFrame:
    codes = book.codes(orders["symbol"])
    t_send = _epoch(orders["t_send"])
    at_send = book.asof(codes, t_send)
    age = at_send.age_ns(t_send)
    fresh = at_send.found & (age <= max_age_ms * MS)
    s = orders["s"].to_numpy().astype(np.float64)
    m0 = np.where(fresh, at_send.mid, np.nan)
    far0 = np.where(fresh, np.where(s > 0, at_send.ask, at_send.bid), np.nan)
    decided = orders["t_decision"].is_not_null().to_numpy()
    t_decision = _epoch(orders["t_decision"])
    at_decision = book.asof(codes, t_decision)
    mid_decision = np.where(decided & at_decision.found, at_decision.mid, np.nan)
    moved = s * (mid_decision - m0)
    return orders.with_columns(
        _col("bid0", at_send.bid), _col("ask0", at_send.ask),
        _col("quote_age0_ms", np.where(at_send.found, age / MS, np.nan)),
        _col("m0", m0), _col("far0", far0),
        _col("mid_decision", mid_decision),
        pl.Series("adverse_move", moved > 0).set(
            pl.Series(np.isnan(moved) | (moved == 0)), None),
    )


def _col(name: str, values: F64) -> pl.Series:
    """A float column with NaN written as null (a missing KPI is null, never NaN or 0)."""
    # built null where NaN, not filled after: a fill is a Polars query (85 us a call)
    return pl.Series(name, np.asarray(values, dtype=np.float64), nan_to_null=True)


def _quarantine_negative_latency(orders: pl.DataFrame, linked: pl.DataFrame,
                                 quarantine: Quarantine, quality: Counter[str]) -> pl.DataFrame:
    """KPIS.md: a negative latency is quarantined for that order, not clipped."""
    latencies = ("ack_latency_ms", "fill_latency_ms", "hold_time_ms")
    sent: pl.DataFrame | None = None  # read only when some latency is negative
    for name in latencies:
        bad = orders.lazy().filter(pl.col(name) < 0).select("child_id", name).collect()
        quality[f"negative_{name}"] = bad.height
        if bad.is_empty():
            continue
        if sent is None:
            sent = linked.lazy().filter(pl.col("kind") == "D").select(
                "child_id", "source", "offset", "line").collect()
        bad = bad.join(sent, on="child_id", how="left")
        quality[f"negative_{name}"] = bad.height
        for child, source, offset, line, value in bad.select(
                "child_id", "source", "offset", "line", name).iter_rows():
            quarantine.add(str(source), int(offset or 0), int(line or 0),
                           f"negative_latency:{name}", b"",
                           f"child order {child}: {name} = {value:.3f} ms (clock skew or bad "
                           "data); left null for this order", stage="kpi")
    return orders.with_columns(
        pl.when(pl.col(name) >= 0).then(pl.col(name)).alias(name) for name in latencies)


def _reject_costs(orders: pl.DataFrame, fills: pl.DataFrame) -> pl.DataFrame:
    """For a rejected child re-routed within its parent: the VWAP of the next child of the
    same parent sent at or after the reject, against the rejected child's far touch. When
    several children of the parent are sent at that same time (a re-route split at once),
    the VWAP of all of them: no tie is broken by the order rows happen to come in.

    Only the children of a parent with a rejected child can be a re-route: the VWAPs, the
    join and the sort are done for them alone (the same rows as over every order)."""
    rejected = orders.lazy().filter(pl.col("rejected") & pl.col("t_decision").is_not_null()
                                    ).select(KEY, "parent_id",
                                             pl.col("t_decision").alias("t_refill")).collect()
    candidates = orders.lazy().select(KEY, "parent_id", "t_send").join(
        rejected.lazy().select("parent_id"), on="parent_id", how="semi", maintain_order="left")
    traded = fills.lazy().select(KEY, "last_qty", "last_px").join(
        candidates.select(KEY), on=KEY, how="semi", maintain_order="left",
    ).group_by(KEY).agg((pl.col("last_qty") * pl.col("last_px")).sum().alias("_value"),
                        pl.col("last_qty").sum().alias("_qty"))
    refills = candidates.join(traded, on=KEY).group_by(
        "parent_id", pl.col("t_send").alias("t_refill")).agg(
        (pl.col("_value").sum() / pl.col("_qty").sum()).alias("p_refill"),
        pl.len().alias("_children"), pl.col(KEY).first().alias("refill_child"),
    ).sort("t_refill").collect()
    rejected = rejected.sort("t_refill")
    matched = rejected.join_asof(refills, on="t_refill", by="parent_id", strategy="forward",
                                 check_sortedness=False)
    # a rejected child that traded is no re-route of itself
    matched = matched.filter((pl.col("_children") > 1) | (pl.col("refill_child") != pl.col(KEY))
                             ).select(KEY, "p_refill")
    p_refill = orders.select(KEY).join(matched, on=KEY, how="left",
                                       maintain_order="left")["p_refill"]
    if len(p_refill) == orders.height:  # no copy of the orders table for one column
        out = orders.with_columns(p_refill)
    else:  # two orders share a child_id (same session, ClOrdID and ns): rows multiply
        out = orders.join(matched, on=KEY, how="left", maintain_order="left")
    cost = f.reject_cost_bps(*(out[c].cast(pl.Float64).to_numpy()
                               for c in ("s", "p_refill", "far0", "m0")))
    return out.with_columns(_col("reject_cost_bps", cost))


def _fill_kpis(fills: pl.DataFrame, orders: pl.DataFrame, book: QuoteBook | QuoteSweep,
               horizons_ms: tuple[int, ...], max_age_ms: int) -> tuple[pl.DataFrame, list[str]]:
    table = _with_orders(fills.select(
        KEY, "child_id", "exec_id", pl.col("last_qty").alias("q"), pl.col("last_px").alias("p"),
        "corrected", pl.col("ts_recv").alias("t_recv"),
        pl.when(pl.col("transact_time_subsecond").fill_null(False))
        .then(pl.col("transact_time")).otherwise(pl.col("ts_recv")).alias("t_exec"),
    ), orders.select(
        KEY, "parent_id", "lp", "session", "symbol", "s", "t_send", "bid0", "ask0",
        "quote_age0_ms", "m0", "far0", "size_bucket", "vol_regime", "tod_bucket"))
    codes = book.codes(table["symbol"])
    s = table["s"].to_numpy().astype(np.float64)
    p = table["p"].to_numpy().astype(np.float64)
    m0 = table["m0"].fill_null(np.nan).to_numpy()
    far0 = table["far0"].fill_null(np.nan).to_numpy()
    t_exec = _epoch(table["t_exec"])
    columns = [
        pl.Series("has_benchmark", ~np.isnan(m0)),
        _col("pi_bps", f.pi_bps(s, p, far0, m0)),
        _col("pi_amount", f.pi_amount(s, p, far0, table["q"].to_numpy().astype(np.float64))),
        _col("eff_spread_bps", f.eff_spread_bps(s, p, m0)),
        _col("e_over_q", f.e_over_q(s, p, far0, m0)),
    ]
    labels = []
    for h in horizons_ms:
        label = horizon_label(h)
        labels.append(label)
        t_h = t_exec + h * MS
        hit = book.asof(codes, t_h)
        usable = hit.found & ~hit.past_end & (hit.age_ns(t_h) <= max(2 * h, max_age_ms) * MS)
        mid_h = np.where(usable & ~np.isnan(m0), hit.mid, np.nan)
        columns += [
            _col(f"mid_{label}", mid_h),
            _col(f"markout_bps_{label}", f.markout_bps(s, p, mid_h, m0)),
            _col(f"real_spread_bps_{label}", f.real_spread_bps(s, p, mid_h, m0)),
            _col(f"impact_bps_{label}", f.impact_bps(s, mid_h, m0)),
        ]
    table = table.with_columns(columns).with_columns((pl.col("q") * pl.col("p")).alias("notional"))
    return table, labels


def _with_orders(fills: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """Each fill with its order's columns, fills without an order left out: the inner join
    on KEY, done as a gather of the orders' rows when the orders are in key order (a child's
    key is its row among the orders sent, ``child_keys``, and ``child_orders`` keeps that
    order), which pairs the same rows in the fills' order, without hashing 1M keys."""
    keys = orders.get_column(KEY)
    if keys.null_count() or not np.array_equal(keys.to_numpy(), np.arange(orders.height)):
        return fills.join(orders, on=KEY, how="inner", maintain_order="left").drop(KEY)
    kept = fills.filter(pl.col(KEY) < orders.height)  # null keys too are left out
    return pl.concat([kept.drop(KEY), orders.drop(KEY)[kept.get_column(KEY)]],
                     how="horizontal")


def clock_offsets(linked: pl.DataFrame) -> pl.DataFrame:
    """Per session: median of (the LP's SendingTime - our capture time) over the LP's
    messages that carry a capture time; positive means the LP's clock is ahead of ours
    (or its messages took that long to reach us, which a median cannot tell apart)."""
    # not known (events stored before ``captured`` was kept): a receipt time other than
    # the SendingTime is a capture time, and one equal to it is taken for none
    captured = pl.col("captured").fill_null(pl.col("ts_recv") != pl.col("sending_time"))
    inbound = linked.lazy().filter(~pl.col("outbound") & captured)
    return inbound.group_by("session").agg(
        pl.col("lp").drop_nulls().first(),
        ((pl.col("sending_time") - pl.col("ts_recv")).dt.total_nanoseconds()
         .cast(pl.Float64) / MS).median().alias("offset_ms"),
        pl.len().alias("n"),
    ).sort("session").collect()
