"""Score every level of the context hierarchy and publish the snapshots.

    published = publish_result(result, profile, specs, store)

A router falls back from a fine context to a coarser one, so every level is published: LP
(``*``), LP x symbol, LP x symbol x size bucket, LP x symbol x size bucket x volatility regime.
The statistics are built once at the finest level and rolled up; each level is shrunk once.
Only contexts whose scores changed get a new version (ScoreStore.publish).

Each LP's score item also carries its ``capacity`` in the context, from the same decayed
statistics: ``fill_rate`` (filled / ordered quantity of terminal orders),
``filled_qty_per_order`` (filled quantity per terminal order) and ``n_terminal``; a spraying
router sizes child orders by them.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence

import polars as pl

from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult
from lpscore.publish.intervals import Intervals
from lpscore.publish.snapshot import Snapshot, context_key, parse_context_key
from lpscore.publish.store import Published, ScoreStore
from lpscore.scoring import KpiSpec, Profile, Scorecard, score_levels
from lpscore.scoring.estimate import near
from lpscore.stats.dense import DenseStats
from lpscore.stats.table import Stats

__all__ = ["HIERARCHY", "capacities", "dense_capacities", "levels", "publish_result",
           "published_context", "snapshots_of", "snapshots_of_cards", "snapshots_of_stats"]

HIERARCHY = ("symbol", "size_bucket", "vol_regime")
"""The published chain: every prefix of it is a level."""


def published_context(text: str, hierarchy: Sequence[str] = HIERARCHY) -> dict[str, str]:
    """A context a user typed (``parse_context_key``) whose keys can be published: ValueError,
    naming the keys there are, for any other (a context of them is never published, so
    asking for it would only ever find nothing)."""
    return parse_context_key(text, hierarchy)


def levels(context: Mapping[str, str], hierarchy: Sequence[str] = HIERARCHY) -> list[str]:
    """The canonical keys of every published level ``context`` falls in, finest first,
    ending with ``*``: ``{symbol: A, size_bucket: B}`` -> ``symbol=A,size_bucket=B``,
    ``symbol=A``, ``*`` (where a router falls back, and in that order)."""
    return [context_key({k: context[k] for k in hierarchy[:depth]})
            for depth in range(len(hierarchy), -1, -1)
            if all(k in context for k in hierarchy[:depth])]


def snapshots_of(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                 hierarchy: Sequence[str] = HIERARCHY,
                 now_ns: int | None = None) -> list[Snapshot]:
    """One snapshot per context of every level, scored under ``profile``."""
    return snapshots_of_stats(kpi_stats(result, ["lp", *hierarchy], decay=profile.decay),
                              profile, specs, hierarchy, now_ns)


def snapshots_of_stats(stats: Stats, profile: Profile, specs: Mapping[str, KpiSpec],
                       hierarchy: Sequence[str] = HIERARCHY, now_ns: int | None = None, *,
                       only: Collection[tuple[str | None, ...]] | None = None,
                       intervals: Intervals | None = None, carry: bool = False
                       ) -> list[Snapshot]:
    """``snapshots_of`` from statistics keyed ``["lp", *hierarchy]`` (decayed under
    ``profile``), as a stream or a cluster holds them. With ``only`` (tuples of leading
    hierarchy values: ``("ACME",)`` for every context of a symbol, ``("ACME", "adv<0.1%",
    "high")`` for one finest context and the levels above it), only the ``*`` level and
    the contexts on the path to one of them or under one (``score_levels``).

    ``intervals`` remembers the intervals drawn; with ``carry`` the contexts it does not
    say to draw are scored without draws and get its intervals
    (lpscore.publish.intervals)."""
    now = time.time_ns() if now_ns is None else now_ns
    capacity = capacities(stats, hierarchy, only=only)
    draw = None
    if intervals is not None and carry:
        intervals.begin(now)
        draw = intervals.needs_draws
    cards = score_levels(stats, profile, specs, list(hierarchy), only=only, draw=draw)
    return snapshots_of_cards(cards, capacity, now, intervals)


def snapshots_of_cards(cards: Iterable[Scorecard],
                       capacity: Mapping[str, Mapping[str, Mapping[str, float | None]]],
                       now_ns: int, intervals: Intervals | None = None) -> list[Snapshot]:
    """The snapshots of scorecards computed at ``now_ns``, each LP with its capacity
    (context key -> LP -> capacity); ``intervals`` remembers the cards drawn and carries
    its intervals into the others."""
    out = []
    for scored in cards:
        card, drawn_at = scored, None
        if intervals is not None:
            if card.drawn:
                intervals.remember(card, now_ns)
            else:
                card, drawn_at = intervals.carry(card)
        out.append(Snapshot.of(card, computed_at_ns=now_ns, carried_from_ns=drawn_at,
                               capacity=capacity.get(context_key(card.context), {})))
    return out


def capacities(stats: Stats, hierarchy: Sequence[str], *,
               only: Collection[tuple[str | None, ...]] | None = None
               ) -> dict[str, dict[str, dict[str, float | None]]]:
    """Context key -> LP -> capacity (see the module docstring), for every level (with
    ``only``: for the contexts ``score_levels`` keeps)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    needed = ["n_terminal", "ordered_qty_terminal", "filled_qty_terminal"]
    rows = stats
    for depth in range(len(hierarchy) + 1):
        keys = list(hierarchy[:depth])
        if only is not None and depth:      # each level's rows lie within the coarser's
            rows = near(rows, keys, only)
        # three sums per group: no need to roll the sketches and counts up (Stats.rollup)
        level = (rows.sums.group_by(["lp", *keys]).agg(pl.col(needed).sum())
                 .sort(["lp", *keys], nulls_last=True))
        groups = level.select(pl.col("lp").cast(pl.String),
                              *(pl.col(k).cast(pl.String) for k in keys)).rows()
        _add_capacities(out, keys, groups, *(
            level.get_column(name).cast(pl.Float64).fill_null(0.0).to_list()
            for name in ("ordered_qty_terminal", "filled_qty_terminal", "n_terminal")))
    return out


def dense_capacities(dense: DenseStats, hierarchy: Sequence[str], *,
                     only: Collection[tuple[str | None, ...]] | None = None
                     ) -> dict[str, dict[str, dict[str, float | None]]]:
    """``capacities`` of the statistics ``dense`` holds (for the contexts
    ``scoring.score_dense`` scores with ``only``)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for depth in range(len(hierarchy) + 1):
        sums = dense.level(depth, only)
        _add_capacities(out, hierarchy[:depth], sums.groups, *(
            sums.column(name).tolist()
            for name in ("ordered_qty_terminal", "filled_qty_terminal", "n_terminal")))
    return out


def _add_capacities(out: dict[str, dict[str, dict[str, float | None]]], keys: Sequence[str],
                    groups: Sequence[tuple[object, ...]], ordered: list[float],
                    filled: list[float], terminal: list[float]) -> None:
    """Each group's (LP, context values...) capacity into ``out``: context key -> LP ->
    ``fill_rate`` (filled / ordered quantity), ``filled_qty_per_order`` (filled quantity per
    terminal order), ``n_terminal``; a ratio whose denominator is not > 0 is None."""
    names: dict[tuple[object, ...], str] = {}
    for group, o, f, t in zip(groups, ordered, filled, terminal, strict=True):
        ctx = names.get(group[1:])
        if ctx is None:
            ctx = names[group[1:]] = context_key(
                {k: str(v) for k, v in zip(keys, group[1:], strict=True)})
        out.setdefault(ctx, {})[str(group[0])] = {
            "fill_rate": f / o if o > 0 else None,
            "filled_qty_per_order": f / t if t > 0 else None,
            "n_terminal": t}


def publish_result(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                   store: ScoreStore, hierarchy: Sequence[str] = HIERARCHY
                   ) -> list[Published]:
    """Score and publish every level; the outcome per snapshot (version, changed)."""
    return store.publish(snapshots_of(result, profile, specs, hierarchy))
