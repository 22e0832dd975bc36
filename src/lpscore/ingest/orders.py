"""Link every event to its child order, and apply busts and corrections to fills (KPIS.md).

A child order is one NewOrderSingle. Replaces (35=G) and cancels (35=F) link to it by
OrigClOrdID and lend it their own ClOrdIDs. Any other event belongs to the most recent child
order of its session holding its ClOrdID (or, failing that, its OrigClOrdID) sent at or before
the event was received; so a reused ClOrdID starts a new child order, and a fill that arrives
before its ack is simply linked like any other report.
"""

from __future__ import annotations

import bisect
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.intern import intern
from lpscore.model.enums import FILL_EXEC_TYPES

__all__ = ["effective_fills", "link_child_keys", "link_child_orders"]


I64 = npt.NDArray[np.int64]

_KEYS = ("kind", "session", "cl_ord_id", "orig_cl_ord_id", "ts_recv")
"""The columns linking reads: it works on these alone, never on a full-width copy."""


def link_child_orders(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``child_id`` (null when no child order matches: counted as orphans)."""
    keys = events.select(_KEYS)
    return events.with_columns(_child_ids(keys, _aliases(keys))["child_id"])


def link_child_keys(events: pl.DataFrame, key: str) -> pl.DataFrame:
    """``link_child_orders``, plus ``key``: an integer per child order, the index of its
    NewOrderSingle among the rows of kind D of ``events`` (the first of them holding that
    ``child_id``, should two share it); null where ``child_id`` is. Found by the same
    as-of join as ``child_id``, so no join of the ``child_id`` strings is needed."""
    keys = events.select(_KEYS)
    linked = _child_ids(keys, _aliases(keys))
    return events.with_columns(linked["child_id"], _first_holders(
        linked["_cid"], (keys["kind"] == "D").fill_null(False)).alias(key))


def _first_holders(cid: pl.Series, sent: pl.Series) -> pl.Series:
    """``cid`` (the NewOrderSingle each row's ``child_id`` was named after) as the index of
    the first NewOrderSingle row *linked* to that ``child_id``, null when none is.

    They differ only when a NewOrderSingle is not linked to itself: a replace lent its
    ClOrdID away in the same nanosecond, or a second order shares its ``child_id``."""
    held = cid.filter(sent).fill_null(-1).to_numpy()
    own = np.arange(len(held))
    if bool((held == own).all()):  # every NewOrderSingle linked to itself
        return cid
    first = np.full(len(held), len(held), dtype=np.int64)
    linked = held >= 0
    np.minimum.at(first, held[linked], own[linked])
    first[first == len(held)] = -1  # a child_id that no NewOrderSingle is linked to
    values = cid.fill_null(0).to_numpy()
    mapped = first[values] if len(first) else values
    return pl.Series(cid.name, mapped, dtype=pl.Int64).set(
        cid.is_null() | pl.Series(mapped < 0), None)


def _child_ids(keys: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """The child order of each row of ``keys`` (``child_id`` and ``_cid``, see
    ``link_child_keys``): by its ClOrdID, else by its OrigClOrdID; a cancel or replace
    request always by its OrigClOrdID (its own ClOrdID is an alias).

    Rows in time order (as ``compute_kpis`` passes them) are linked in one compiled pass
    (``_swept_child_ids``); others by Polars' as-of joins, with the same result."""
    if _in_time_order(keys):
        return _swept_child_ids(keys, aliases)
    return _joined_child_ids(keys, aliases)


def _in_time_order(keys: pl.DataFrame) -> bool:
    return keys["ts_recv"].null_count() == 0 and keys["ts_recv"].is_sorted()


def _joined_child_ids(keys: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """``_child_ids`` by Polars' as-of joins (rows in any order)."""
    keyed = keys.with_row_index("_row")
    in_time_order = _in_time_order(keys)
    if not in_time_order:  # compute_kpis passes rows in receipt order: no sort there
        keyed = keyed.sort("ts_recv")
    by_id = keyed.join_asof(aliases, on="ts_recv", by=["session", "cl_ord_id"],
                            strategy="backward", check_sortedness=False)
    by_orig = keyed.filter(pl.col("orig_cl_ord_id").is_not_null()).join_asof(
        aliases.rename({"cl_ord_id": "orig_cl_ord_id", "child_id": "_orig_child",
                        "_cid": "_orig_cid"}),
        on="ts_recv", by=["session", "orig_cl_ord_id"], strategy="backward",
        check_sortedness=False,
    ).select("_row", "_orig_child", "_orig_cid")
    linked = by_id.select("_row", "kind", "child_id", "_cid").join(
        by_orig, on="_row", how="left", maintain_order="left")
    if not in_time_order:
        linked = linked.sort("_row")
    # child_id and _cid come from the same alias row: null together, chosen together
    by_orig_only = pl.col("kind").is_in(["F", "G"]) | pl.col("child_id").is_null()
    return linked.select(
        pl.when(by_orig_only).then(pl.col("_orig_child")).otherwise(pl.col("child_id"))
        .alias("child_id"),
        pl.when(by_orig_only).then(pl.col("_orig_cid")).otherwise(pl.col("_cid")).alias("_cid"))


def _swept_child_ids(keys: pl.DataFrame, aliases: pl.DataFrame) -> pl.DataFrame:
    """``_child_ids`` of rows in time order, as the as-of joins give it: each row takes the
    last alias (in the order of ``aliases``, which is time order) of its session and
    ClOrdID (or OrigClOrdID) received at or before it; a null session or ClOrdID matches
    nothing. The (session, ClOrdID) pairs are numbered (``lpscore.intern``), then one pass
    over the rows keeps each pair's latest alias (``_latest_aliases``)."""
    n, m = keys.height, aliases.height
    session, _ = intern(pl.concat([keys["session"], aliases["session"]], rechunk=False))
    pair, distinct = intern(  # rows by ClOrdID, rows by OrigClOrdID, aliases
        pl.concat([keys["cl_ord_id"], keys["orig_cl_ord_id"], aliases["cl_ord_id"]],
                  rechunk=False), within=np.r_[session[:n], session[:n], session[n:]],
        expected=m)  # about one pair per alias
    ts = keys["ts_recv"].dt.epoch("ns").to_numpy()
    alias_ts = aliases["ts_recv"].dt.epoch("ns").to_numpy()
    by_id, by_orig = _latest_aliases_jit(ts, pair[:n], pair[n:2 * n], alias_ts, pair[2 * n:],
                                         len(distinct))
    by_orig_only = keys["kind"].is_in(["F", "G"]).fill_null(False).to_numpy() | (by_id < 0)
    at = np.where(by_orig_only, by_orig, by_id)
    missing = pl.Series(at < 0)
    cid = aliases["_cid"].to_numpy()[at] if m else np.zeros(n, dtype=np.int64)
    return pl.DataFrame([
        aliases["child_id"].gather(pl.Series(at).set(missing, None)).alias("child_id"),
        pl.Series("_cid", cid, dtype=pl.Int64).set(missing, None),
    ])


def _latest_aliases(ts: I64, pair: I64, orig_pair: I64, alias_ts: I64, alias_pair: I64,
                    n_pairs: int) -> tuple[I64, I64]:
    """For rows in time order: the last alias (row of ``alias_*``, in time order) of each
    row's pair and of its OrigClOrdID's pair received at or before the row (-1 when none,
    or for pair -1)."""
    latest = np.full(n_pairs, -1, dtype=np.int64)
    by_id = np.empty(len(ts), dtype=np.int64)
    by_orig = np.empty(len(ts), dtype=np.int64)
    j = 0
    for i in range(len(ts)):
        while j < len(alias_ts) and alias_ts[j] <= ts[i]:
            if alias_pair[j] >= 0:
                latest[alias_pair[j]] = j
            j += 1
        by_id[i] = latest[pair[i]] if pair[i] >= 0 else -1
        by_orig[i] = latest[orig_pair[i]] if orig_pair[i] >= 0 else -1
    return by_id, by_orig


_latest_aliases_jit: Any = numba.njit(cache=True, nogil=True)(_latest_aliases)


def _aliases(events: pl.DataFrame) -> pl.DataFrame:
    """Every ClOrdID a child order is known by, from when: its own, then those of the
    replaces and cancels that name it (through OrigClOrdID) at the time they are sent.

    Requests are taken in time order (ties in the order given); each (session, ClOrdID)
    names the child order of the latest request that used it, so a reused ClOrdID moves on to
    the new order. A NewOrderSingle is its own child order, ``session#ClOrdID#ts_recv_ns``;
    the few cancels and replaces are resolved one by one (``_owners``).
    """
    sent_index = ((pl.col("kind") == "D").cum_sum() - 1).cast(pl.Int64)  # in row order
    requests = events.filter(pl.col("kind").is_in(["D", "F", "G"])).select(
        "kind", "session", "cl_ord_id", "orig_cl_ord_id", "ts_recv", sent_index.alias("_cid"),
    ).sort("ts_recv", maintain_order=True).rechunk().with_row_index("_at")
    # One chunk: Polars 2.1's pl.format panics on columns split in chunks of which one is
    # empty, which the filter can leave. A missing part reads ``None``, as Python formats it
    # (the ingest never leaves one).
    parts = (pl.col("session"), pl.col("cl_ord_id"), pl.col("ts_recv").dt.epoch("ns"))
    child = pl.format("{}#{}#{}", *(part.cast(pl.String).fill_null("None") for part in parts))
    sent = requests.filter(pl.col("kind") == "D").select(
        "_at", "session", "cl_ord_id", "ts_recv", child.alias("child_id"), "_cid")
    if _shared_child_ids(sent):  # two orders share a child_id: the first's
        sent = sent.with_columns(pl.col("_cid").min().over("child_id"))
    changes = requests.filter(pl.col("kind") != "D")
    if not changes.is_empty():
        lent = changes.select("_at", "session", "cl_ord_id", "ts_recv").join(
            _owners(changes, sent), on="_at", how="inner")
        sent = pl.concat([sent, lent]).sort("_at")
    return sent.drop("_at")


def _shared_child_ids(sent: pl.DataFrame) -> bool:
    """Whether two of ``sent`` (in ``ts_recv`` order) have the same ``child_id``. A child id
    ends with its receipt time (digits, or ``None``, after the last ``#``), so only orders
    received at the same time can share one: only they are compared, not 1M strings."""
    ts = sent.get_column("ts_recv")
    null = ts.is_null().to_numpy()
    t = ts.dt.epoch("ns").fill_null(0).to_numpy()
    same = (t[1:] == t[:-1]) & (null[1:] == null[:-1])
    if not same.any():
        return False
    tied = np.zeros(len(t), dtype=np.bool_)
    tied[1:] |= same
    tied[:-1] |= same
    candidates = sent.get_column("child_id").filter(pl.Series(tied))
    return candidates.n_unique() < len(candidates)


def _owners(changes: pl.DataFrame, sent: pl.DataFrame) -> pl.DataFrame:
    """The child order (``_at``, ``child_id``) each of the cancels and replaces ``changes``
    lends its ClOrdID to: the one its OrigClOrdID names at that moment (``_at``, its place in
    time order), from the latest of the NewOrderSingles ``sent`` and the earlier cancels and
    replaces that used that ClOrdID. A request naming no known ClOrdID lends nothing."""
    named = sent.join(changes.select("session", pl.col("orig_cl_ord_id").alias("cl_ord_id")),
                      on=["session", "cl_ord_id"], how="semi", nulls_equal=True)
    orders: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
    for at, session, cl_ord_id, child, cid in named.select(
            "_at", "session", "cl_ord_id", "child_id", "_cid").iter_rows():
        orders.setdefault((session, cl_ord_id), []).append((at, child, cid))
    lent: dict[tuple[str, str], tuple[int, str, int]] = {}  # the latest per (session, ClOrdID)
    owners: list[tuple[int, str, int]] = []
    for at, session, cl_ord_id, orig in changes.select(
            "_at", "session", "cl_ord_id", "orig_cl_ord_id").iter_rows():
        if orig is None:
            continue
        latest = [lent.get((session, orig)), _last_before(orders.get((session, orig)), at)]
        known = [entry for entry in latest if entry is not None]
        if known:
            _, child, cid = max(known)
            lent[(session, cl_ord_id)] = (at, child, cid)
            owners.append(lent[(session, cl_ord_id)])
    return pl.DataFrame(owners, schema={"_at": pl.UInt32, "child_id": pl.String,
                                        "_cid": pl.Int64}, orient="row")


def _last_before(entries: list[tuple[int, str, int]] | None,
                 at: int) -> tuple[int, str, int] | None:
    """The last of ``entries`` (in ``_at`` order) placed before ``at``."""
    if not entries:
        return None
    i = bisect.bisect_left(entries, (at,))
    return entries[i - 1] if i else None


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
