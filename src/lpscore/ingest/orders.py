"""Link every event to its child order, and apply busts and corrections to fills (KPIS.md).

A child order is one NewOrderSingle. Replaces (35=G) and cancels (35=F) link to it by
OrigClOrdID and lend it their own ClOrdIDs. Any other event belongs to the most recent child
order of its session holding its ClOrdID (or, failing that, its OrigClOrdID) sent at or before
the event was received; so a reused ClOrdID starts a new child order, and a fill that arrives
before its ack is simply linked like any other report.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

__all__ = ["effective_fills", "link_child_orders"]

_FILL_TYPES = ("F", "1", "2")


def link_child_orders(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``child_id`` (null when no child order matches: counted as orphans)."""
    orders = events.filter(pl.col("kind") == "D").select(
        "session", "cl_ord_id", "ts_recv",
        pl.concat_str(["session", "cl_ord_id", pl.col("ts_recv").dt.epoch("ns").cast(pl.String)],
                      separator="#").alias("child_id"),
    )
    aliases = orders
    requests = events.filter(pl.col("kind").is_in(["F", "G"])).sort("ts_recv")
    for request in requests.iter_rows(named=True):
        owner = _lookup(aliases, request["session"], request["orig_cl_ord_id"],
                        request["ts_recv"])
        if owner is not None:
            aliases = pl.concat([aliases, pl.DataFrame(
                {"session": [request["session"]], "cl_ord_id": [request["cl_ord_id"]],
                 "ts_recv": [request["ts_recv"]], "child_id": [owner]},
                schema=aliases.schema)])
    aliases = aliases.sort("ts_recv")
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


def _lookup(aliases: pl.DataFrame, session: str, cl_ord_id: str | None,
            ts: datetime) -> str | None:
    if cl_ord_id is None:
        return None
    hits = aliases.filter(
        (pl.col("session") == session) & (pl.col("cl_ord_id") == cl_ord_id)
        & (pl.col("ts_recv") <= ts)
    )
    return None if hits.is_empty() else str(hits.sort("ts_recv")["child_id"][-1])


def effective_fills(events: pl.DataFrame) -> pl.DataFrame:
    """Fills after busts (ExecType H removes the fill named by ExecRefID) and corrections
    (ExecType G replaces its quantity and price), in order of receipt."""
    fills = events.filter(
        (pl.col("kind") == "8") & pl.col("exec_type").is_in(_FILL_TYPES)
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
