"""Link every event to its child order, and apply busts and corrections to fills (KPIS.md).

A child order is one NewOrderSingle. Replaces (35=G) and cancels (35=F) link to it by
OrigClOrdID and lend it their own ClOrdIDs. Any other event belongs to the most recent child
order of its session holding its ClOrdID (or, failing that, its OrigClOrdID) sent at or before
the event was received; so a reused ClOrdID starts a new child order, and a fill that arrives
before its ack is simply linked like any other report.
"""

from __future__ import annotations

import polars as pl

from lpscore.model.enums import FILL_EXEC_TYPES

__all__ = ["effective_fills", "link_child_orders"]


def link_child_orders(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``child_id`` (null when no child order matches: counted as orphans)."""
    aliases = _aliases(events)
    keyed = events.with_row_index("_row").sort("ts_recv")
    by_id = keyed.join_asof(aliases, on="ts_recv", by=["session", "cl_ord_id"],
                            strategy="backward", check_sortedness=False)
    by_orig = keyed.join_asof(
        aliases.rename({"cl_ord_id": "orig_cl_ord_id", "child_id": "_orig_child"}),
        on="ts_recv", by=["session", "orig_cl_ord_id"], strategy="backward",
        check_sortedness=False,
    ).select("_row", "_orig_child")
    own = pl.when(pl.col("kind").is_in(["F", "G"])).then(pl.col("_orig_child"))
    linked = by_id.join(by_orig, on="_row").with_columns(
        own.otherwise(pl.coalesce("child_id", "_orig_child")).alias("child_id")
    )
    return linked.sort("_row").drop("_row", "_orig_child")


def _aliases(events: pl.DataFrame) -> pl.DataFrame:
    """Every ClOrdID a child order is known by, from when: its own, then those of the
    replaces and cancels that name it (through OrigClOrdID) at the time they are sent.

    One pass in time order over orders and requests; ``current`` holds the child order each
    (session, ClOrdID) names at that moment, so a reused ClOrdID moves on to the new order.
    """
    requests = events.filter(pl.col("kind").is_in(["D", "F", "G"])).select(
        "kind", "session", "cl_ord_id", "orig_cl_ord_id", pl.col("ts_recv").dt.epoch("ns")
    ).sort("ts_recv", maintain_order=True)
    current: dict[tuple[str, str], str] = {}
    rows: list[tuple[str, str, int, str]] = []
    for kind, session, cl_ord_id, orig, ts_ns in requests.iter_rows():
        if kind == "D":
            child = f"{session}#{cl_ord_id}#{ts_ns}"
        else:
            owner = current.get((session, orig)) if orig is not None else None
            if owner is None:
                continue
            child = owner
        current[(session, cl_ord_id)] = child
        rows.append((session, cl_ord_id, ts_ns, child))
    schema = {"session": pl.String, "cl_ord_id": pl.String, "ts_recv": pl.Int64,
              "child_id": pl.String}
    aliases = pl.DataFrame(rows, schema=schema, orient="row")
    ts_type = events.schema["ts_recv"]
    return aliases.with_columns(pl.col("ts_recv").cast(ts_type)).sort("ts_recv")


def effective_fills(events: pl.DataFrame) -> pl.DataFrame:
    """Fills after busts (ExecType H removes the fill named by ExecRefID) and corrections
    (ExecType G replaces its quantity and price), in order of receipt."""
    fills = events.filter(
        (pl.col("kind") == "8") & pl.col("exec_type").is_in(FILL_EXEC_TYPES)
    ).with_columns(pl.lit(False).alias("corrected"))
    amendments = events.filter(
        (pl.col("kind") == "8") & pl.col("exec_type").is_in(["G", "H"])
    ).sort("ts_recv")
    for amend in amendments.iter_rows(named=True):
        target = (pl.col("session") == amend["session"]) & (
            pl.col("exec_id") == amend["exec_ref_id"])
        if amend["exec_type"] == "H":
            fills = fills.filter(~target)
            continue
        fills = fills.with_columns(
            *(pl.when(target).then(pl.lit(amend[c])).otherwise(pl.col(c)).alias(c)
              for c in ("last_qty", "last_px", "exec_id")),
            (target | pl.col("corrected")).alias("corrected"),
        )
    return fills
