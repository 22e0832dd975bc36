"""Plan a cluster run: which events each partition task reads, so that every task is exact.

    plan = plan_tasks(store, order_clock=True)
    plan.tasks[0].seqs        # the ``_seq`` of every event the task reads, wherever stored
    plan.t_ref_time, plan.clock_offsets, plan.sends

The history store is partitioned by the UTC date of each event's ``ts_recv`` and its symbol
(lpscore.history). A task is a partition of *child orders*: those sent on one date in one
symbol, with every event that belongs to them wherever it is stored (a fill after midnight,
a session reject under ``symbol=__none__``). Planning runs once, on the client, over the few
columns that linking reads:

1. receipt order (the KPI engine's own keys) and ``link_child_orders``: each event's child;
2. each child order's key: the UTC date of its ``t_send`` and its symbol;
3. each event's key: its child's; a session reject (35=3, no symbol) that of the order its
   RefSeqNum names in its sequence epoch (the rule of ``lifecycle.match_session_rejects``);
   an event of no order its own date and symbol (``__none__`` without one);
4. keys that the data links are fused (union-find), so the fused task stays exact: children
   of one parent order (reject cost looks for the re-route among them) and a bust or
   correction with the fill it amends;
5. the global clocks: the latest ``t_send`` (time decay) and each order's index in send
   order (the ``orders`` clock), so every task decays to the same reference;
6. clock offsets per session: a median over the whole session, not mergeable, so computed
   here from the same columns;
7. packing: a date's tasks together, in key order, up to ``task_events`` events a task
   (``TASK_EVENTS``); each is exact alone and shares no order with the others, so their
   union is exact too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.history.store import scan_tables, store_files
from lpscore.ingest.orders import link_child_orders
from lpscore.kpi.engine import _RECEIPT_ORDER, clock_offsets
from lpscore.model.enums import FILL_EXEC_TYPES
from lpscore.model.schema import compact

__all__ = ["NO_SYMBOL", "TASK_EVENTS", "PartTask", "Plan", "event_files", "plan_tasks"]

NO_SYMBOL = "__none__"
_COLUMNS = (
    "kind", "session", "outbound", "lp", "seq_num", "seq_epoch", "ts_recv", "captured",
    "sending_time", "cl_ord_id", "orig_cl_ord_id", "parent_id", "exec_id", "exec_ref_id",
    "exec_type", "symbol", "ref_seq_num", "ref_epoch", "source", "offset", "_seq",
)
"""What planning reads of the events: 21 of the store's 49 columns."""


@dataclass(frozen=True)
class PartTask:
    """One partition task: the child orders of ``keys`` (``date symbol``, several when fused)
    and every event that belongs to them."""

    index: int
    keys: tuple[str, ...]
    event_files: tuple[str, ...]
    """The store files holding at least one of its events."""
    seqs: npt.NDArray[np.int64]
    """The ``_seq`` (store write order) of its events, ascending."""
    symbols: tuple[str, ...]
    """The symbols of its orders: the quotes it reads."""
    order_index: pl.DataFrame | None = None
    """``child_id, index``: each order's global index in send order (``orders`` clock)."""


@dataclass(frozen=True)
class Plan:
    """The tasks and the global facts every task shares."""

    tasks: list[PartTask]
    n_events: int
    n_orders: int
    n_keys: int
    """Distinct (send date, symbol) keys before fusion; ``len(tasks)`` after."""
    t_ref_time: int | None
    """The latest ``t_send`` (ns since the epoch): the time clock's reference."""
    clock_offsets: pl.DataFrame
    sends: pl.DataFrame
    """``symbol, t_send`` of every child order (the volatility-regime stage)."""


def event_files(store: Path) -> list[Path]:
    """The event files of a history store, in date then symbol order."""
    return store_files(store, "events")


TASK_EVENTS = 100_000
"""Partitions of one date are packed into a task up to this many events (module docstring,
step 7): a task has fixed costs whatever its size, and a store of 500 symbols has 500
partitions a day."""


def plan_tasks(store: Path, *, order_clock: bool = False,
               task_events: int = TASK_EVENTS) -> Plan:
    """The tasks over the history store ``store`` (module docstring); with ``order_clock``
    each task carries its orders' global indices; partitions of a date packed into tasks
    of up to ``task_events`` events (1: a task per partition or fused group)."""
    files = event_files(store)
    if not files:
        return Plan([], 0, 0, 0, None, pl.DataFrame(), pl.DataFrame())
    # the compact form, and each row's file as a category: a store's path is long, and
    # its files are few next to its rows
    frame = compact(scan_tables(files, include_file_paths="_file")
                    .select(*_COLUMNS, pl.col("_file").cast(pl.Categorical))).collect()
    linked = link_child_orders(_in_receipt_order(frame))
    date = pl.col("ts_recv").dt.date().cast(pl.String).fill_null("unknown")
    own_key = pl.concat_str(date, pl.lit(" "), pl.col("symbol").fill_null(NO_SYMBOL))
    linked = linked.with_columns(own_key.alias("_own"))
    sent = linked.filter(pl.col("kind") == "D").select(
        "child_id", "session", "seq_num", pl.col("seq_epoch").fill_null(0), "symbol",
        pl.coalesce("parent_id", "child_id").alias("parent"), pl.col("ts_recv").alias("t_send"),
        pl.col("_own").alias("key"))
    keyed = _event_keys(linked, sent)
    roots = _fuse(_links(keyed, sent))
    fused = pl.col("key").replace(roots) if roots else pl.col("key")
    keyed = keyed.with_columns(fused.alias("task"))
    sent = sent.with_columns(fused.alias("task"))
    if order_clock:
        sent = sent.with_columns(pl.struct(pl.col("t_send").dt.epoch("ns"), pl.col("child_id"))
                                 .rank("ordinal").cast(pl.Int64).sub(1).alias("index"))
    tasks = _packed(_tasks(keyed, sent, order_clock=order_clock), task_events)
    t_send = sent["t_send"].dt.epoch("ns").max() if sent.height else None
    return Plan(tasks=tasks, n_events=frame.height, n_orders=sent.height,
                n_keys=keyed["key"].n_unique(),
                t_ref_time=None if t_send is None else int(t_send),  # type: ignore[arg-type]
                clock_offsets=clock_offsets(linked), sends=sent.select("symbol", "t_send"))


def _in_receipt_order(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in the KPI engine's receipt order, ties in store write order (``_seq``):
    the order compute_kpis gives the events read in write order, so that linking sees the
    rows as it does. One sort: sorting by ``_seq`` first, then stably by receipt, peaked at
    5.0 GB instead of 2.1 GB on a store of 9 million events."""
    keys = [*_RECEIPT_ORDER, "_seq"]
    return frame.sort(keys, descending=[*_RECEIPT_ORDER.values(), False], nulls_last=True)


def _event_keys(linked: pl.DataFrame, sent: pl.DataFrame) -> pl.DataFrame:
    """Each event's key: its child order's, the named order's for a session reject, else its
    own date and symbol."""
    child_key = sent.select("child_id", pl.col("key").alias("_child")).unique(
        "child_id", keep="first")
    rejects = linked.filter((pl.col("kind") == "3") & ~pl.col("outbound")
                            & pl.col("ref_seq_num").is_not_null()).select(
        "_seq", "session", pl.col("ref_seq_num").alias("seq_num"),
        pl.col("ref_epoch").fill_null(0).alias("seq_epoch"), "ts_recv")
    named = rejects.sort("ts_recv").join_asof(
        sent.select("session", "seq_num", "seq_epoch", pl.col("t_send").alias("ts_recv"),
                    pl.col("key").alias("_named")).sort("ts_recv"),
        on="ts_recv", by=["session", "seq_epoch", "seq_num"], strategy="backward",
        check_sortedness=False).select("_seq", "_named")
    return linked.join(child_key, on="child_id", how="left", maintain_order="left").join(
        named, on="_seq", how="left", maintain_order="left").select(
        "_seq", "_file", "kind", "session", "exec_type", "exec_id", "exec_ref_id",
        pl.coalesce("_child", "_named", "_own").alias("key"))


def _links(keyed: pl.DataFrame, sent: pl.DataFrame) -> list[tuple[str, str]]:
    """Pairs of keys that must be one task: the keys of one parent's children, and a bust
    or correction's key with that of every fill (or correction) carrying the ExecID it
    names in its session (a correction renames the fill, so chains follow)."""
    parents = sent.group_by("parent").agg(pl.col("key").unique().sort()).filter(
        pl.col("key").list.len() > 1)
    pairs = [(keys[0], other) for keys in parents["key"].to_list() for other in keys[1:]]
    report = pl.col("kind") == "8"
    targets = keyed.filter(report & pl.col("exec_type").is_in([*FILL_EXEC_TYPES, "G"])).select(
        "session", "exec_id", pl.col("key").alias("_target"))
    amends = keyed.filter(report & pl.col("exec_type").is_in(["G", "H"])
                          & pl.col("exec_ref_id").is_not_null()).select(
        "session", pl.col("exec_ref_id").alias("exec_id"), "key")
    crossing = amends.join(targets, on=["session", "exec_id"]).filter(
        pl.col("key") != pl.col("_target")).select("key", "_target").unique()
    return pairs + [(a, b) for a, b in crossing.iter_rows()]


def _fuse(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Union-find over keys: each key of a linked group -> the group's smallest key (only
    keys that move are listed)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        root = key
        while parent.get(root, root) != root:
            root = parent[root]
        while key != root:
            parent[key], key = root, parent[key]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {key: find(key) for key in parent if find(key) != key}


def _tasks(keyed: pl.DataFrame, sent: pl.DataFrame, *, order_clock: bool) -> list[PartTask]:
    """One task per fused key, in key order (date, then symbol)."""
    groups = keyed.group_by("task").agg(
        pl.col("key").unique().sort().alias("keys"), pl.col("_seq").sort().alias("seqs"),
        pl.col("_file").unique().sort().alias("files")).sort("task")
    symbols = dict(sent.group_by("task").agg(pl.col("symbol").drop_nulls().unique().sort())
                   .iter_rows())
    indices = (sent.select("task", "child_id", "index").partition_by("task", as_dict=True)
               if order_clock else {})
    tasks = []
    for i, (task, keys, seqs, files) in enumerate(groups.iter_rows()):
        index = indices.get((task,))
        tasks.append(PartTask(
            index=i, keys=tuple(keys), event_files=tuple(files),
            seqs=np.asarray(seqs, dtype=np.int64), symbols=tuple(symbols.get(task, [])),
            order_index=None if index is None else index.select("child_id", "index")))
    return tasks


def _packed(tasks: list[PartTask], task_events: int) -> list[PartTask]:
    """``tasks`` (in key order) packed: consecutive tasks whose first key has the same date,
    together while they hold at most ``task_events`` events (a task holding more stays
    alone). A pack is the union of its tasks: each is exact on its own and shares nothing
    with the others, so the engine gives each order what it gives it alone."""
    packs: list[list[PartTask]] = []
    size, pack_day = 0, None
    for task in tasks:
        day = task.keys[0].split(" ")[0]
        if day == pack_day and size + len(task.seqs) <= task_events:
            packs[-1].append(task)
            size += len(task.seqs)
        else:
            packs.append([task])
            size, pack_day = len(task.seqs), day
    return [_union(i, pack) for i, pack in enumerate(packs)]


def _union(index: int, pack: list[PartTask]) -> PartTask:
    if len(pack) == 1:
        return replace(pack[0], index=index)
    indices = [t.order_index for t in pack if t.order_index is not None]
    return PartTask(
        index=index, keys=tuple(sorted(k for t in pack for k in t.keys)),
        event_files=tuple(sorted({f for t in pack for f in t.event_files})),
        seqs=np.sort(np.concatenate([t.seqs for t in pack])),
        symbols=tuple(sorted({s for t in pack for s in t.symbols})),
        order_index=pl.concat(indices) if indices else None)
