"""Child-order lifecycles: one row per NewOrderSingle, from every event linked to it.

    sent = sent_orders(linked)
    orders = child_orders(sent, linked, fills, match_session_rejects(linked, sent))

``linked`` is the events table with ``child_id`` (lpscore.ingest.orders.link_child_orders)
and ``_pos``, the event's position in receipt order; ``fills`` the effective fills (after
busts and corrections) with ``child_id``. The order's state is the one its last execution
report names (OrdStatus 39, else ExecType 150), last in the LP's MsgSeqNum order, so a resent
ack that arrives after the fill does not reopen the order; ``replaced`` is a transition, not
a state. A
fill that arrives before the ack is just the first report; a reused ClOrdID was already given
its own child order by the linker. Times are those of KPIS.md: ``t_send`` is the capture time
of the 35=D (else its SendingTime), report times are ``ts_recv``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.intern import intern
from lpscore.model.enums import FILL_EXEC_TYPES
from lpscore.stats.groupsum import Groups, NotFiniteError

__all__ = ["KEY", "TERMINAL_STATES", "child_keys", "child_orders", "is_reject",
           "match_session_rejects", "reject_reason", "sent_orders"]

TERMINAL_STATES = ("filled", "canceled", "expired", "rejected", "done_for_day")
"""States whose orders count in fill rates (KPIS.md)."""
_BY_ORD_STATUS = {
    "0": "new", "1": "partially_filled", "2": "filled", "3": "done_for_day", "4": "canceled",
    "5": "new", "6": "pending_cancel", "7": "stopped", "8": "rejected", "9": "suspended",
    "A": "pending_new", "B": "calculated", "C": "expired", "D": "new", "E": "pending_replace",
}
_BY_EXEC_TYPE = {
    "0": "new", "1": "partially_filled", "2": "filled", "3": "done_for_day", "4": "canceled",
    "5": "new", "6": "pending_cancel", "7": "stopped", "8": "rejected", "9": "suspended",
    "A": "pending_new", "C": "expired", "D": "new", "E": "pending_replace",
}
_REJECT_NAMES = {
    0: "broker option", 1: "unknown symbol", 2: "exchange closed", 3: "order exceeds limit",
    4: "too late to enter", 5: "unknown order", 6: "duplicate order",
    7: "duplicate of a verbally communicated order", 8: "stale order",
    9: "trade along required", 10: "invalid investor id", 11: "unsupported order characteristic",
    12: "surveillance option", 13: "incorrect quantity", 14: "incorrect allocated quantity",
    15: "unknown account(s)", 16: "price exceeds current price band",
    18: "invalid price increment", 99: "other",
}


def child_orders(sent: pl.DataFrame, linked: pl.DataFrame, fills: pl.DataFrame,
                 session_rejects: pl.DataFrame) -> pl.DataFrame:
    """One row per child order with its lifecycle (see docs/kpi-outputs.md), from its
    ``sent_orders`` row and the ``match_session_rejects`` that name it.

    The facts are joined on ``_cid`` when every frame has it (the engine's integer key of a
    child order, ``child_keys``: one per distinct ``child_id``, so the joins pair the same
    rows as on the 35-character strings, faster), else on ``child_id``."""
    key = KEY if KEY in sent.columns else "child_id"
    columns = [key, *(c for c in _REPORT_COLUMNS if c not in (key, "child_id"))]
    reports = linked.select(columns).filter(
        (pl.col("kind") == "8") & pl.col(key).is_not_null())
    aligned_fills = _fill_facts_of(fills, sent[KEY]) if key == KEY else None
    if key == KEY:  # the facts in the order of ``sent``, without a join
        with_facts = pl.concat([sent, _report_facts_of(reports, sent[KEY])], how="horizontal")
    else:
        with_facts = sent.join(_report_facts(reports, key), on=key, how="left")
    if aligned_fills is not None:
        with_facts = pl.concat([with_facts, aligned_fills], how="horizontal")
    else:
        with_facts = with_facts.join(_fill_facts(fills, key), on=key, how="left")
    return (
        with_facts
        .join(_request_facts(linked, key), on=key, how="left")
        .join(session_rejects.filter(pl.col(key).is_not_null()).select(
            key, pl.lit(True).alias("session_rejected")).unique(key),
            on=key, how="left")
        .with_columns(_finish())
        .drop("sent_qty", "replaced_qty", "last_status", "seq_num", "seq_epoch", "outbound",
              "_pos", "t_first_fill_report", "ack_pos", "decision_pos")
    )


KEY = "_cid"
"""The engine's integer key of a child order (``child_keys``; the engine gets the same keys
from ``lpscore.ingest.orders.link_child_keys``, without a join of the ``child_id`` strings)."""


def child_keys(linked: pl.DataFrame) -> pl.DataFrame:
    """``linked`` with ``_cid``: an integer per distinct ``child_id`` (null where it is
    null), the row of the first NewOrderSingle holding it in ``sent_orders``."""
    sent = linked.lazy().filter(pl.col("kind") == "D").select("child_id").with_row_index(
        KEY).select("child_id", pl.col(KEY).cast(pl.Int64))
    keys = linked.lazy().select("child_id").join(
        sent, on="child_id", how="left", maintain_order="left").collect()
    if keys.height != linked.height:  # two orders share a child_id: the first one's key
        keys = linked.lazy().select("child_id").join(
            sent.unique("child_id", keep="first", maintain_order=True), on="child_id",
            how="left", maintain_order="left").collect()
    return linked.with_columns(keys[KEY])


def sent_orders(linked: pl.DataFrame) -> pl.DataFrame:
    """The 35=D events as child orders (before anything happened to them)."""
    return linked.lazy().filter(pl.col("kind") == "D").select(
        "child_id", *([KEY] if KEY in linked.columns else []),
        pl.coalesce("parent_id", "child_id").alias("parent_id"),
        "lp", "session", "cl_ord_id", "symbol",
        pl.col("side").alias("s"),
        pl.col("order_qty").alias("sent_qty"), "price", "ord_type",
        pl.col("ts_recv").alias("t_send"), "seq_num", "seq_epoch", "outbound", "_pos",
    ).collect()


_REPORT_COLUMNS = ("child_id", "_pos", "kind", "session", "seq_epoch", "seq_num", "ts_recv",
                   "exec_type", "ord_status", "leaves_qty", "order_qty", "ord_rej_reason", "text")
"""The columns of the execution reports that ``_report_facts`` reads."""


def _report_facts(reports: pl.DataFrame, key: str = "child_id") -> pl.DataFrame:
    """Per child order, from its execution reports in receipt order (``_pos``): the first
    (the ack), the first fill, the decision (first fill or reject), whether and why it was
    rejected, its last state, a confirmed replace's quantity, busts, corrections, the count.

    The row flags are computed once; every fact is then a plain aggregation (first, any,
    last) in one ``group_by``, and the reject reason is formatted once per order."""
    if not reports["_pos"].is_sorted():
        reports = reports.sort("_pos")
    rows = _report_rows(reports, key)
    decides = pl.col("_fill") | pl.col("_reject")
    facts = rows.group_by(key).agg(
        pl.col("ts_recv").first().alias("t_ack"),
        pl.col("_pos").first().alias("ack_pos"),
        pl.col("ts_recv").filter("_fill").first().alias("t_first_fill_report"),
        pl.col("ts_recv").filter(decides).first().alias("t_decision"),
        pl.col("_pos").filter(decides).first().alias("decision_pos"),
        pl.col("_reject").any().alias("rejected"),
        pl.col("ord_rej_reason", "text").filter("_reject").first(),
        _last_status(rows).alias("last_status"),
        pl.col("_replaced_qty").drop_nulls().last().alias("replaced_qty"),
        pl.col("_busted").any().alias("busted"),
        pl.col("_corrected").any().alias("corrected"),
        pl.len().alias("n_reports"),
    )
    return facts.select(key, *_facts())


_STATES = pl.Enum(sorted({*_BY_ORD_STATUS.values(), *_BY_EXEC_TYPE.values()}))
_STATE_CODES = {name: i for i, name in enumerate(_STATES.categories.to_list())}
_FACTS_BEFORE = ("t_ack", "ack_pos", "t_first_fill_report", "t_decision", "decision_pos",
                 "rejected")
_FACTS_AFTER = ("last_status", "replaced_qty", "busted", "corrected", "n_reports")


def _facts() -> list[str | pl.Expr]:
    """The columns of a report-facts table, in order, the reject's two made from its
    ``ord_rej_reason`` and ``text`` (``_reject_facts``)."""
    return [*_FACTS_BEFORE, *_reject_facts(), *_FACTS_AFTER]


def _report_facts_of(reports: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    """``_report_facts`` of the reports keyed ``_cid``, row-aligned with ``keys`` (the
    ``_cid`` of each sent order; null facts for an order without reports), without the key.

    The facts are a first, any or last per order over its reports in receipt order: one
    compiled pass over the reports (``_fact_rows``) finds each order's rows, and the facts
    are gathered from them. When resends put MsgSeqNums out of receipt order (the last state
    then needs a sort per order), the Polars aggregation is joined instead."""
    if not reports["_pos"].is_sorted():
        reports = reports.sort("_pos")
    rows = _report_rows(reports, KEY, coded=True)
    if not _in_sequence_order(rows):
        return keys.to_frame().join(_report_facts(reports, KEY), on=KEY, how="left",
                                    maintain_order="left").drop(KEY)
    # the five row flags as the bits of one byte: one column to read out, not five
    bits = pl.sum_horizontal(flag.cast(pl.UInt8) * (1 << bit) for bit, flag in enumerate((
        pl.col("_fill"), pl.col("_reject"), pl.col("_busted"), pl.col("_corrected"),
        pl.col("_replaced_qty").is_not_null())))
    flags = rows.select(pl.col(KEY), bits.alias("_bits"), pl.col("_status").fill_null(-1))
    n = keys.len()  # keys are rows of sent_orders (child_keys)
    found = _fact_rows_jit(n, *(flags[c].to_numpy() for c in flags.columns))
    at = keys.to_numpy()
    first, fill, decision, reject, replaced, status, busted, corrected, count = (
        a[at] for a in found)
    answered = count > 0

    def gather(column: str, index: npt.NDArray[np.int64]) -> pl.Series:
        return rows[column].gather(pl.Series(index).set(pl.Series(index < 0), None))

    facts = pl.DataFrame([
        gather("ts_recv", first).alias("t_ack"),
        gather("_pos", first).alias("ack_pos"),
        gather("ts_recv", fill).alias("t_first_fill_report"),
        gather("ts_recv", decision).alias("t_decision"),
        gather("_pos", decision).alias("decision_pos"),
        _nullable("rejected", reject >= 0, answered),
        gather("ord_rej_reason", reject), gather("text", reject),
        _STATES.categories.gather(pl.Series(status.astype(np.int64)).set(
            pl.Series(status < 0), None)).alias("last_status"),
        gather("_replaced_qty", replaced).alias("replaced_qty"),
        _nullable("busted", busted, answered), _nullable("corrected", corrected, answered),
        pl.Series("n_reports", count, dtype=pl.UInt32).set(pl.Series(~answered), None),
    ])
    return facts.select(*_facts())


def _nullable(name: str, values: npt.NDArray[np.bool_],
              present: npt.NDArray[np.bool_]) -> pl.Series:
    return pl.Series(name, values).set(pl.Series(~present), None)


def _fact_rows(n: int, key: npt.NDArray[np.int64], bits: npt.NDArray[np.uint8],
               status: npt.NDArray[np.int16]) -> tuple[Any, ...]:
    """Per order key (0..n-1), over report rows in receipt order: the row of its first
    report, first fill, first fill or reject, first reject, last confirmed replace (-1 when
    none), its last state code (-1 when none), whether a row busts or corrects, the count.
    ``bits``: a row fills (1), rejects (2), busts (4), corrects (8), confirms a replace (16).
    """
    first = np.full(n, -1, dtype=np.int64)
    first_fill = np.full(n, -1, dtype=np.int64)
    decision = np.full(n, -1, dtype=np.int64)
    first_reject = np.full(n, -1, dtype=np.int64)
    last_replaced = np.full(n, -1, dtype=np.int64)
    last_status = np.full(n, -1, dtype=np.int16)
    any_bust = np.zeros(n, dtype=np.bool_)
    any_correct = np.zeros(n, dtype=np.bool_)
    count = np.zeros(n, dtype=np.int64)
    for i in range(len(key)):
        c = key[i]
        fill, reject = bits[i] & 1, bits[i] & 2
        if first[c] < 0:
            first[c] = i
        if fill and first_fill[c] < 0:
            first_fill[c] = i
        if (fill or reject) and decision[c] < 0:
            decision[c] = i
        if reject and first_reject[c] < 0:
            first_reject[c] = i
        if bits[i] & 16:
            last_replaced[c] = i
        if status[i] >= 0:
            last_status[c] = status[i]
        any_bust[c] |= (bits[i] & 4) != 0
        any_correct[c] |= (bits[i] & 8) != 0
        count[c] += 1
    return (first, first_fill, decision, first_reject, last_replaced, last_status, any_bust,
            any_correct, count)


_fact_rows_jit: Any = numba.njit(cache=True, nogil=True)(_fact_rows)


def _report_rows(reports: pl.DataFrame, key: str, *, coded: bool = False) -> pl.DataFrame:
    """The reports with their row-level facts: fill, reject, the state they name (OrdStatus,
    else ExecType, else filled / partially filled for a fill), a confirmed replace's
    quantity, bust, correction. ``coded``: the state as its index in ``_STATES`` (Int16),
    not its name (no string is built per row)."""
    is_fill = pl.col("exec_type").is_in(FILL_EXEC_TYPES).fill_null(False)
    dtype = pl.Int16 if coded else pl.String
    by_ord_status = pl.col("ord_status").replace_strict(
        _coded(_BY_ORD_STATUS, coded), default=None, return_dtype=dtype)
    by_exec_type = pl.col("exec_type").replace_strict(
        _coded(_BY_EXEC_TYPE, coded), default=None, return_dtype=dtype)
    filled, partially = (pl.lit(_STATE_CODES[name] if coded else name, dtype=dtype)
                         for name in ("filled", "partially_filled"))
    status = pl.coalesce(
        by_ord_status, by_exec_type,
        pl.when(is_fill & (pl.col("leaves_qty") == 0)).then(filled),
        pl.when(is_fill).then(partially),
    )
    return reports.select(
        key, "_pos", "session", "seq_epoch", "seq_num", "ts_recv", "ord_rej_reason",
        "text",
        is_fill.alias("_fill"),
        is_reject().fill_null(False).alias("_reject"),
        status.alias("_status"),
        pl.when(pl.col("exec_type") == "5").then(pl.col("order_qty")).alias("_replaced_qty"),
        (pl.col("exec_type") == "H").fill_null(False).alias("_busted"),
        (pl.col("exec_type") == "G").fill_null(False).alias("_corrected"),
    )


def _coded(states: dict[str, str], coded: bool) -> dict[str, str] | dict[str, int]:
    """A FIX code -> state mapping, with the states as their ``_STATES`` index if ``coded``."""
    return {code: _STATE_CODES[name] for code, name in states.items()} if coded else states


def _last_status(rows: pl.DataFrame) -> pl.Expr:
    """The state named last in the LP's MsgSeqNum order (``seq_epoch``, ``seq_num``, then
    ``_pos``; missing numbers first), as an aggregation over ``rows`` in receipt order.

    A child order's reports all come on its session; when each session's MsgSeqNums never
    go back in receipt order (no resends), that order is the receipt order and the sort per
    order is skipped."""
    if _in_sequence_order(rows):
        return pl.col("_status").drop_nulls().last()
    return pl.col("_status").sort_by("seq_epoch", "seq_num", "_pos",
                                      nulls_last=False).drop_nulls().last()


def _in_sequence_order(rows: pl.DataFrame) -> bool:
    """Every session's (``seq_epoch``, ``seq_num``) never decreases along ``rows``, and
    none is missing."""
    numbers = rows.select("session", "seq_epoch", "seq_num")
    if numbers["seq_epoch"].null_count() or numbers["seq_num"].null_count():
        return False
    session, distinct = intern(numbers["session"])  # a null session is a session too
    session = np.where(session < 0, len(distinct), session)
    return bool(_never_back_jit(session, len(distinct) + 1,
                                numbers["seq_epoch"].to_numpy().astype(np.int64, copy=False),
                                numbers["seq_num"].to_numpy().astype(np.int64, copy=False)))


def _never_back(session: npt.NDArray[np.int64], n_sessions: int,
                epoch: npt.NDArray[np.int64], number: npt.NDArray[np.int64]) -> bool:
    """No session's (epoch, number) ever decreases from one of its rows to the next."""
    last_epoch = np.zeros(n_sessions, dtype=np.int64)
    last_number = np.zeros(n_sessions, dtype=np.int64)
    seen = np.zeros(n_sessions, dtype=np.bool_)
    for i in range(len(session)):
        s = session[i]
        if seen[s] and (epoch[i] < last_epoch[s]
                        or (epoch[i] == last_epoch[s] and number[i] < last_number[s])):
            return False
        seen[s] = True
        last_epoch[s], last_number[s] = epoch[i], number[i]
    return True


_never_back_jit: Any = numba.njit(cache=True, nogil=True)(_never_back)


def _reject_facts() -> tuple[pl.Expr, pl.Expr]:
    """A rejected order's ``reject_reason`` and ``reject_text`` (the Text (58) of its reject,
    kept whatever the reason: an OrdRejReason 99 "other" is often explained only there),
    from the reject's ``ord_rej_reason`` and ``text``."""
    return (pl.when("rejected").then(reject_reason()).alias("reject_reason"),
            pl.when("rejected").then(pl.col("text")).alias("reject_text"))


def reject_reason() -> pl.Expr:
    """``<OrdRejReason> <name>`` (103), else the Text (58), else ``unspecified``."""
    return pl.coalesce(
        pl.format("{} {}", pl.col("ord_rej_reason"),
                  pl.col("ord_rej_reason").replace_strict(_REJECT_NAMES, default="code")),
        pl.col("text"),
        pl.lit("unspecified"),
    )


def is_reject() -> pl.Expr:
    """An execution report that rejects an order (ExecType 8 or OrdStatus 8)."""
    return (pl.col("kind") == "8") & ((pl.col("exec_type") == "8") | (pl.col("ord_status") == "8"))


def _fill_facts(fills: pl.DataFrame, key: str) -> pl.DataFrame:
    """Filled quantity and fill count per order (the two columns are selected first: a
    filter of every column of the fills would copy them all)."""
    return fills.select(key, "last_qty").filter(pl.col(key).is_not_null()).group_by(key).agg(
        pl.col("last_qty").sum().alias("filled_qty"),
        pl.len().alias("n_fills"),
    )


def _fill_facts_of(fills: pl.DataFrame, keys: pl.Series) -> pl.DataFrame | None:
    """``_fill_facts`` row-aligned with ``keys`` (the ``_cid`` of each sent order; null
    facts for an order without fills), without a group-by or a join: the ``_cid`` of a
    fill is the row of its order's group. The quantities are summed as Polars' hash
    group-by sums them (lpscore.stats.groupsum: Kahan, in row order, nulls left out), so
    the bits are the same. None when Polars must do it: ``_cid`` flagged sorted (Polars
    then sums slices pairwise), a NaN or infinite quantity, or a sent order without key."""
    key = fills[KEY]
    if keys.null_count() or any(key.flags.values()):
        return None
    present = key.is_not_null().to_numpy()
    ids = key.fill_null(0).to_numpy().astype(np.int64)
    qty = fills["last_qty"].cast(pl.Float64)
    try:  # group g: the sent order of row g (child_keys)
        filled = Groups(ids, keys.to_frame()).sum(qty.fill_null(0.0).to_numpy(),
                                                 ~present | qty.is_null().to_numpy())
    except NotFiniteError:
        return None
    count = np.bincount(ids[present], minlength=keys.len())
    at = keys.to_numpy()
    none = pl.Series(count[at] == 0)
    return pl.DataFrame([pl.Series("filled_qty", filled[at], dtype=pl.Float64).set(none, None),
                         pl.Series("n_fills", count[at], dtype=pl.UInt32).set(none, None)])


def _request_facts(linked: pl.DataFrame, key: str) -> pl.DataFrame:
    return linked.select(key, "kind").filter(
        pl.col("kind").is_in(["F", "G", "9"]) & pl.col(key).is_not_null()
    ).group_by(key).agg(
        pl.col("kind").is_in(["F", "G"]).sum().alias("n_cancel_requests"),
        (pl.col("kind") == "9").sum().alias("n_cancel_rejects"),
    )


def match_session_rejects(linked: pl.DataFrame, sent: pl.DataFrame) -> pl.DataFrame:
    """Session Rejects (35=3) from the LP, each with the child order it names (or null):
    RefSeqNum (45) is the MsgSeqNum of a 35=D of the session in the sequence epoch current
    when the reject came (an order quarantined as malformed is named by none)."""
    rejects = linked.filter((pl.col("kind") == "3") & ~pl.col("outbound")
                            & pl.col("ref_seq_num").is_not_null()).select(
        "lp", "session", "ref_msg_type", pl.col("ref_seq_num").alias("seq_num"),
        pl.col("ref_epoch").fill_null(0).alias("seq_epoch"), "ts_recv")
    by = ["session", "seq_epoch", "seq_num"]
    orders = sent.lazy().select(
        "child_id", *([KEY] if KEY in sent.columns else []), "session", "seq_num",
        pl.col("seq_epoch").fill_null(0), pl.col("t_send").alias("ts_recv"),
    ).join(rejects.lazy().select(by), on=by, how="semi", maintain_order="left").collect()
    # Only the orders a reject can name are sorted (none without rejects): the as-of join
    # looks within each (session, epoch, MsgSeqNum) group, and a null never matches.
    return rejects.sort("ts_recv").join_asof(
        orders.sort("ts_recv"), on="ts_recv", by=by, strategy="backward",
        check_sortedness=False)


def _finish() -> list[pl.Expr]:
    answered = pl.col("n_reports").fill_null(0) > 0
    session_rejected = pl.col("session_rejected").fill_null(False)
    state = (
        pl.when(answered).then(pl.col("last_status").fill_null("new"))
        .when(session_rejected).then(pl.lit("session_rejected"))
        .otherwise(pl.lit("pending"))
    )
    order_qty = pl.coalesce("replaced_qty", "sent_qty")
    filled = pl.col("filled_qty").fill_null(0.0)
    hold = pl.col("ack_pos") < pl.col("decision_pos")
    return [
        order_qty.alias("order_qty"),
        state.alias("state"),
        state.is_in(TERMINAL_STATES).alias("terminal"),
        filled.alias("filled_qty"),
        pl.col("n_fills").fill_null(0).cast(pl.Int64),
        (filled >= order_qty).alias("complete"),
        pl.col("rejected").fill_null(False),
        session_rejected.alias("session_rejected"),
        pl.col("n_cancel_requests").fill_null(0).cast(pl.Int64),
        pl.col("n_cancel_rejects").fill_null(0).cast(pl.Int64),
        pl.col("busted").fill_null(False),
        pl.col("corrected").fill_null(False),
        pl.col("t_first_fill_report").alias("t_first_fill"),
        _ms(pl.col("t_ack") - pl.col("t_send")).alias("ack_latency_ms"),
        _ms(pl.col("t_first_fill_report") - pl.col("t_send")).alias("fill_latency_ms"),
        pl.when(hold).then(_ms(pl.col("t_decision") - pl.col("t_ack"))).alias("hold_time_ms"),
    ]


def _ms(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_nanoseconds().cast(pl.Float64) / 1e6
