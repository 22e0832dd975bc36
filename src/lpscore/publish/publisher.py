"""Score every level of the context hierarchy and publish the snapshots.

    published = publish_result(result, profile, specs, store)

A router falls back from a fine context to a coarser one, so every level is published: LP
(``*``), LP x symbol, LP x symbol x size bucket, LP x symbol x size bucket x volatility regime.
The statistics are built once at the finest level and rolled up; each level is shrunk once.
Only contexts whose scores changed get a new version (ScoreStore.publish).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult
from lpscore.publish.snapshot import Snapshot
from lpscore.publish.store import Published, ScoreStore
from lpscore.scoring import KpiSpec, Profile, score_levels

__all__ = ["HIERARCHY", "publish_result", "snapshots_of"]

HIERARCHY = ("symbol", "size_bucket", "vol_regime")
"""The published chain: every prefix of it is a level."""


def snapshots_of(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                 hierarchy: Sequence[str] = HIERARCHY,
                 now_ns: int | None = None) -> list[Snapshot]:
    """One snapshot per context of every level, scored under ``profile``."""
    now = time.time_ns() if now_ns is None else now_ns
    stats = kpi_stats(result, ["lp", *hierarchy], decay=profile.decay)
    return [Snapshot.of(card, computed_at_ns=now)
            for card in score_levels(stats, profile, specs, list(hierarchy))]


def publish_result(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                   store: ScoreStore, hierarchy: Sequence[str] = HIERARCHY
                   ) -> list[Published]:
    """Score and publish every level; the outcome per snapshot (version, changed)."""
    return store.publish(snapshots_of(result, profile, specs, hierarchy))
