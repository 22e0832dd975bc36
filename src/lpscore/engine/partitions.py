"""The partition function: one task's events and quotes -> mergeable statistics.

    part = run_part(store, task, config, StatsSpec(("lp",)))
    both = merge_parts(part, other)     # associative: a tree reduction on the cluster

A task (lpscore.engine.plan) reads its events by ``_seq`` from every store file that holds
one, in store order, and the quotes of its orders' symbols over the times it looks up
(``t_send``, decisions, ``t_exec + h`` up to the longest horizon), plus, per symbol, the last
quotes before that span and the first after it. As-of lookups inside the span are then the
ones a run over all quotes gives (the quote in force, its age, whether the data ended), so a
markout past midnight or past the task's day reads the next day's quotes, never a null.
It runs ``compute_kpis`` and ``kpi_stats`` exactly as the local engine does, with the global
decay reference and order indices. The volatility regime compares an order's realized
volatility with terciles over the symbol's whole quote history: when it is a grouping key,
it comes from a per-symbol stage (``symbol_regimes``) and replaces the task's own.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from lpscore.config import Config
from lpscore.engine.plan import PartTask
from lpscore.history.store import scan_tables, store_files
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.context import add_context
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.marketdata.nbbo import QuoteBook
from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine, QuarantinedRecord
from lpscore.stats.table import Decay, Stats

__all__ = ["PartResult", "StatsSpec", "merge_parts", "read_quote_slice", "read_task_events",
           "run_part", "symbol_regimes"]

MS = 1_000_000
DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class StatsSpec:
    """What each task aggregates: the ``kpi_stats`` keys, decay and global reference."""

    keys: tuple[str, ...]
    decay: Decay | None = None
    t_ref: int | None = None


@dataclass
class PartResult:
    """A task's statistics and side outputs, or the merge of several (all plain sums)."""

    stats: Stats | None
    data_quality: dict[str, int]
    unmatched_session_rejects: pl.DataFrame
    orphan_rejects: pl.DataFrame
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    n_tasks: int = 1
    n_events: int = 0
    n_orders: int = 0
    seconds: float = 0.0
    """Summed wall time of the partition functions (not of the job)."""


def run_part(store: Path, task: PartTask, config: Config, spec: StatsSpec,
             regimes: list[pl.DataFrame] | None = None) -> PartResult:
    """The statistics of one task (module docstring); ``regimes`` the ``symbol_regimes`` of
    its symbols when ``vol_regime`` is a key."""
    started = time.perf_counter()
    events = read_task_events(store, task)
    quotes = _task_quotes(store, task, events, config)
    quarantine = Quarantine()
    result = compute_kpis(events, quotes, config, quarantine)
    if regimes is not None:
        result = _with_regimes(result, regimes)
    stats = None
    if result.orders.height or result.fills.height:
        index = None
        if task.order_index is not None:
            index = result.orders.select("child_id").join(
                task.order_index, on="child_id", how="left", maintain_order="left")["index"]
        stats = kpi_stats(result, spec.keys, decay=spec.decay, t_ref=spec.t_ref,
                          order_index=index)
    return PartResult(
        stats=stats, data_quality=dict(result.data_quality),
        unmatched_session_rejects=result.unmatched_session_rejects,
        orphan_rejects=result.orphan_rejects, quarantined=list(quarantine.records),
        n_events=events.height, n_orders=result.orders.height,
        seconds=time.perf_counter() - started)


def merge_parts(a: PartResult, b: PartResult) -> PartResult:
    """Both parts' statistics and side outputs together."""
    if a.stats is None or b.stats is None:
        stats = a.stats if b.stats is None else b.stats
    else:
        stats = a.stats.merge(b.stats)
    return PartResult(
        stats=stats, data_quality={k: a.data_quality.get(k, 0) + b.data_quality.get(k, 0)
                                   for k in a.data_quality | b.data_quality},
        unmatched_session_rejects=_sum_rows([a.unmatched_session_rejects,
                                             b.unmatched_session_rejects], ["lp"]),
        orphan_rejects=_sum_rows([a.orphan_rejects, b.orphan_rejects], ["lp", "reason"]),
        quarantined=a.quarantined + b.quarantined, n_tasks=a.n_tasks + b.n_tasks,
        n_events=a.n_events + b.n_events, n_orders=a.n_orders + b.n_orders,
        seconds=a.seconds + b.seconds)


def _sum_rows(frames: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    """Counts per ``keys`` summed across frames, sorted as the engine sorts them."""
    frames = [f for f in frames if f.width]
    if not frames:
        return pl.DataFrame()
    both = pl.concat(frames, how="vertical_relaxed")
    return both.group_by(keys).agg(pl.exclude(keys).sum()).sort(keys)


def read_task_events(store: Path, task: PartTask) -> pl.DataFrame:
    """The task's events in store order (EVENT_SCHEMA columns)."""
    schema = polars_schema(EVENT_SCHEMA)
    if not task.event_files:
        return pl.DataFrame(schema=schema)
    seqs = pl.Series("_seq", task.seqs)
    frame = scan_tables([Path(f) for f in task.event_files]).filter(
        pl.col("_seq").is_in(seqs)).collect()
    return frame.sort("_seq").select(list(schema.keys()))


def _task_quotes(store: Path, task: PartTask, events: pl.DataFrame,
                 config: Config) -> pl.DataFrame:
    """Quotes of the task's symbols over every time the engine looks up (module
    docstring): receipt and transact times, plus the longest horizon."""
    if not task.symbols or events.height == 0:
        return pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
    times = events.select(
        lo=pl.min_horizontal(pl.col("ts_recv").min(), pl.col("transact_time").min()),
        hi=pl.max_horizontal(pl.col("ts_recv").max(), pl.col("transact_time").max()),
    ).select(pl.all().dt.epoch("ns"))
    lo, hi = int(times.item(0, "lo")), int(times.item(0, "hi"))
    hi += max(config.kpi.horizons_ms, default=0) * MS
    return read_quote_slice(store, task.symbols, lo, hi)


def read_quote_slice(store: Path, symbols: tuple[str, ...], lo: int, hi: int) -> pl.DataFrame:
    """The quotes of ``symbols`` with ``lo <= ts <= hi`` (ns), plus those at the last time
    before ``lo`` and at the first after ``hi``, each symbol in store order."""
    parts = [_symbol_slice(_quote_files(store, s), lo, hi) for s in symbols]
    schema = polars_schema(QUOTE_SCHEMA)
    found = [p for p in parts if p is not None]
    if not found:
        return pl.DataFrame(schema=schema)
    return pl.concat(found, how="vertical").select(list(schema.keys()))


def _quote_files(store: Path, symbol: str) -> list[tuple[str, Path]]:
    """(date, file) of one symbol's quote partitions, by date."""
    files = [(p.parent.parent.name.removeprefix("date="), p)
             for p in store_files(store, "quotes", symbol)]
    return sorted(f for f in files if f[0] != "unknown")


def _day(ns: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=ns // DAY_NS)).isoformat()


def _ts(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path, hive_partitioning=False, glob=False).with_columns(
        _ns=pl.col("ts").dt.epoch("ns"))


def _symbol_slice(files: list[tuple[str, Path]], lo: int, hi: int) -> pl.DataFrame | None:
    dates = [d for d, _ in files]
    start, end = lo, hi
    for i in range(bisect.bisect_right(dates, _day(lo)) - 1, -1, -1):  # back to a quote < lo
        before = _ts(files[i][1]).filter(pl.col("_ns") < lo).select(pl.col("_ns").max())
        value = before.collect().item()
        if value is not None:
            start = int(value)
            break
    for i in range(bisect.bisect_left(dates, _day(hi)), len(files)):  # on to a quote > hi
        after = _ts(files[i][1]).filter(pl.col("_ns") > hi).select(pl.col("_ns").min())
        value = after.collect().item()
        if value is not None:
            end = int(value)
            break
    wanted = [path for day, path in files if _day(start) <= day <= _day(end)]
    if not wanted:
        return None
    frame = pl.scan_parquet(wanted, hive_partitioning=False, glob=False).filter(
        pl.col("ts").dt.epoch("ns").is_between(start, end)).collect()
    return frame.sort("_seq") if frame.height else None


def symbol_regimes(store: Path, symbol: str, t_send: pl.Series,
                   config: Config) -> pl.DataFrame:
    """``symbol, t_send, vol_regime`` of one symbol's orders, from its whole quote history
    (the terciles are over all of it): ``add_context`` itself, on that symbol alone."""
    files = [p for _, p in _quote_files(store, symbol)]
    schema = polars_schema(QUOTE_SCHEMA)
    quotes = (pl.scan_parquet(files, hive_partitioning=False, glob=False).collect().sort("_seq")
              .select(list(schema.keys())) if files else pl.DataFrame(schema=schema))
    sends = pl.DataFrame({"t_send": t_send.unique().sort()}).with_columns(
        pl.lit(symbol).alias("symbol"), pl.lit(1.0).alias("order_qty"),
        pl.lit(None, dtype=pl.Float64).alias("price"), pl.lit(None, dtype=pl.Float64).alias("m0"))
    context = add_context(sends, QuoteBook(quotes), config.context, {})
    return context.select("symbol", "t_send", "vol_regime")


def _with_regimes(result: KpiResult, regimes: list[pl.DataFrame]) -> KpiResult:
    """``result`` with each order's (and fill's) regime from the per-symbol stage."""
    table = pl.concat(regimes, how="vertical") if regimes else None
    if table is None or result.orders.height == 0:
        return result
    orders = result.orders
    regime = orders.select("symbol", "t_send").join(
        table, on=["symbol", "t_send"], how="left", maintain_order="left")["vol_regime"]
    orders = orders.with_columns(regime.fill_null("unknown"))
    by_child = orders.select("child_id", "vol_regime").unique("child_id", keep="first")
    fills = result.fills.with_columns(result.fills.select("child_id").join(
        by_child, on="child_id", how="left", maintain_order="left")["vol_regime"])
    return replace(result, orders=orders, fills=fills)
