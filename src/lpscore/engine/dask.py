"""The batch scorecard on a Dask cluster: plan, map the partition function, tree-reduce.

    with connect("tcp://scheduler:8786") as client:       # or connect(None): a LocalCluster
        run = cluster_stats(store, config, ["lp", "symbol"], client=client)
    run.stats            # == kpi_stats(compute_kpis(all events, all quotes), ...), merged
    run.data_quality, run.clock_offsets, run.unmatched_session_rejects, run.orphan_rejects

The client plans (lpscore.engine.plan), then submits one ``run_part`` per task, optionally
after one ``symbol_regimes`` per symbol, and merges the parts pairwise on the workers
(``merge_parts``: Stats.merge and plain sums) until one is left. Workers read the history
store themselves, so it must be on storage they all see. A worker that dies mid-job loses
its tasks and the parts it held; the scheduler runs them again elsewhere (Dask's
``distributed.scheduler.allowed-failures``, default 3, bounds how often one task may take a
worker down). Dask is imported here only: the local engine never needs it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from lpscore.config import Config
from lpscore.engine.partitions import PartResult, StatsSpec, merge_parts, run_part, symbol_regimes
from lpscore.engine.plan import TASK_EVENTS, Plan, plan_tasks
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.context import load_adv
from lpscore.kpi.engine import compute_kpis, horizon_label
from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import QuarantinedRecord
from lpscore.stats.table import Decay, Stats

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["ClusterResult", "cluster_stats", "connect"]


@dataclass
class ClusterResult:
    """The merged statistics of a cluster run, with what the local engine reports beside."""

    stats: Stats
    horizons: list[str]
    data_quality: dict[str, int]
    unmatched_session_rejects: pl.DataFrame
    orphan_rejects: pl.DataFrame
    clock_offsets: pl.DataFrame
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    n_tasks: int = 0
    n_keys: int = 0
    """(send date, symbol) partitions before fusion (docs/dask.md)."""
    n_events: int = 0
    n_orders: int = 0
    task_seconds: float = 0.0
    """Summed wall time of the partition functions on the workers."""
    plan_seconds: float = 0.0
    seconds: float = 0.0


@contextmanager
def connect(scheduler: str | None, *, n_workers: int | None = None,
            threads_per_worker: int = 1, processes: bool = True) -> Iterator[Client]:
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (``tcp://host:8786``), or of
    a ``LocalCluster`` started for the block and closed after (worker processes, each with
    ``threads_per_worker`` threads and Polars capped to as many)."""
    from distributed import Client, LocalCluster  # noqa: PLC0415  (lazy: optional at run time)

    if scheduler is not None:
        with Client(scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    nanny = {"env": {"POLARS_MAX_THREADS": str(threads_per_worker)}} if processes else {}
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      processes=processes, dashboard_address=None,
                      **nanny) as cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def cluster_stats(store: Path, config: Config, keys: Sequence[str], *,
                  decay: Decay | None = None, client: Client,
                  task_events: int = TASK_EVENTS) -> ClusterResult:
    """``kpi_stats`` of the whole history store at ``store``, computed by partitions on the
    cluster of ``client`` (module docstring), with the local engine's side outputs;
    ``task_events``: see ``plan_tasks``."""
    started = time.perf_counter()
    order_clock = decay is not None and decay.clock == "orders"
    plan = plan_tasks(store, order_clock=order_clock, task_events=task_events)
    planned = time.perf_counter()
    spec = StatsSpec(("lp", *[k for k in keys if k != "lp"]), decay, _t_ref(plan, decay))
    config = _self_contained(config)
    empty = _empty_part(config, spec)
    token = uuid.uuid4().hex[:8]
    regimes = _regimes(client, store, plan, config, token) if "vol_regime" in spec.keys else {}
    parts = [client.submit(run_part, store, task, config, spec,
                           [regimes[s] for s in task.symbols] if regimes else None,
                           key=f"lpscore-part-{token}-{task.index}", pure=False)
             for task in plan.tasks]
    merged = _tree_reduce(client, parts, token).result() if parts else empty
    total = merge_parts(empty, merged)
    stats = total.stats if total.stats is not None else _empty_stats(config, spec)
    return ClusterResult(
        stats=stats, horizons=[horizon_label(h) for h in config.kpi.horizons_ms],
        data_quality=dict(sorted(total.data_quality.items())),
        unmatched_session_rejects=total.unmatched_session_rejects,
        orphan_rejects=total.orphan_rejects, clock_offsets=plan.clock_offsets,
        quarantined=total.quarantined, n_tasks=len(plan.tasks), n_keys=plan.n_keys,
        n_events=total.n_events, n_orders=total.n_orders, task_seconds=total.seconds,
        plan_seconds=planned - started, seconds=time.perf_counter() - started)


def _t_ref(plan: Plan, decay: Decay | None) -> int | None:
    """The decay reference every task shares: the latest ``t_send``, or the last order's
    index on the orders clock."""
    if decay is None or plan.n_orders == 0:
        return None
    return plan.n_orders - 1 if decay.clock == "orders" else plan.t_ref_time


def _self_contained(config: Config) -> Config:
    """``config`` with the ADV file read here, so workers need no access to it."""
    if config.context.adv_file is None:
        return config
    context = replace(config.context, adv=load_adv(config.context), adv_file=None)
    return replace(config, context=context)


def _regimes(client: Client, store: Path, plan: Plan, config: Config,
             token: str) -> dict[str, Future[pl.DataFrame]]:
    """One ``symbol_regimes`` future per symbol with orders."""
    return {str(symbol): client.submit(symbol_regimes, store, str(symbol), part["t_send"],
                                       config, key=f"lpscore-regimes-{token}-{i}", pure=False)
            for i, ((symbol,), part) in enumerate(sorted(
                plan.sends.partition_by("symbol", as_dict=True).items(),
                key=lambda item: str(item[0][0])))}


def _tree_reduce(client: Client, parts: list[Future[PartResult]], token: str
                 ) -> Future[PartResult]:
    """Merge futures pairwise, level by level, on the workers; the last future."""
    level = 0
    while len(parts) > 1:
        pairs = [client.submit(merge_parts, a, b, key=f"lpscore-merge-{token}-{level}-{i}",
                               pure=False)
                 for i, (a, b) in enumerate(zip(parts[::2], parts[1::2], strict=False))]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
        level += 1
    return parts[0]


def _empty_part(config: Config, spec: StatsSpec) -> PartResult:
    """What the local engine reports on no input: every data-quality counter at 0 and the
    side tables with their columns, so a merge with it has the local engine's shape."""
    result = compute_kpis(pl.DataFrame(schema=polars_schema(EVENT_SCHEMA)),
                          pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)), config)
    return PartResult(stats=None, data_quality=dict(result.data_quality),
                      unmatched_session_rejects=result.unmatched_session_rejects,
                      orphan_rejects=result.orphan_rejects, n_tasks=0)


def _empty_stats(config: Config, spec: StatsSpec) -> Stats:
    result = compute_kpis(pl.DataFrame(schema=polars_schema(EVENT_SCHEMA)),
                          pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)), config)
    return kpi_stats(result, spec.keys, decay=spec.decay, t_ref=spec.t_ref)
