"""Score every level of the context hierarchy and publish the snapshots.

    published = publish_result(result, profile, specs, store, levels=DEFAULT_LEVELS)

A router falls back from a fine context to a coarser one, so every level is published: LP
(``*``), LP x symbol, LP x symbol x size bucket, LP x symbol x size bucket x volatility regime.
Only contexts whose scores changed get a new version (ScoreStore.publish).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult
from lpscore.publish.snapshot import Snapshot
from lpscore.publish.store import Published, ScoreStore
from lpscore.scoring import KpiSpec, Profile, score_contexts

__all__ = ["DEFAULT_LEVELS", "publish_result", "snapshots_of"]

DEFAULT_LEVELS: tuple[tuple[str, ...], ...] = (
    (), ("symbol",), ("symbol", "size_bucket"), ("symbol", "size_bucket", "vol_regime"))


def snapshots_of(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                 levels: Sequence[Sequence[str]] = DEFAULT_LEVELS,
                 now_ns: int | None = None) -> list[Snapshot]:
    """One snapshot per context of every level, scored under ``profile``."""
    now = time.time_ns() if now_ns is None else now_ns
    snaps = []
    for keys in levels:
        stats = kpi_stats(result, ["lp", *keys], decay=profile.decay)
        for card in score_contexts(stats, profile, specs, list(keys)):
            snaps.append(Snapshot.of(card, computed_at_ns=now))
    return snaps


def publish_result(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                   store: ScoreStore, levels: Sequence[Sequence[str]] = DEFAULT_LEVELS
                   ) -> list[Published]:
    """Score and publish every level; the outcome per snapshot (version, changed)."""
    return store.publish(snapshots_of(result, profile, specs, levels))
