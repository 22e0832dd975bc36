"""Batch engines: ``local`` (one process, lpscore.kpi.engine) or ``dask`` (the same partition
functions over the history store's partitions on a Dask cluster; docs/dask.md).

    from lpscore.engine.dask import cluster_stats, connect    # imports dask
    with connect(None) as client:                             # a LocalCluster
        run = cluster_stats(store, config, ["lp"], client=client)

This module and lpscore.engine.plan / lpscore.engine.partitions never import Dask.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Engine"]


class Engine(StrEnum):
    """Where ``lpscore kpis`` and ``lpscore score`` compute."""

    LOCAL = "local"
    DASK = "dask"
