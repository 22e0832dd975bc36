"""Per LP x context KPI estimates, shrunk down the hierarchy all LPs -> LP -> LP x context.

    est = shrunk_estimates(stats, specs, ["symbol", "size_bucket"], m=20)

``stats`` holds sums per ``["lp", *context]``. The chain drops context keys from the end:
LP x symbol x size_bucket borrows from LP x symbol, which borrows from LP, which borrows
from all LPs pooled. One row per (LP, context) comes out with, per KPI ``k``: ``k.x`` (the
shrunk value the score uses), ``k.raw`` (the group's own value), ``k.n`` (its own evidence),
``k.N`` (posterior strength) and, for means and quantiles, ``k.s2`` (per-observation
variance), plus ``n_orders`` (child orders, undecayed), ``n_eff`` (effective number of
orders after decay) and ``t_last``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from lpscore.scoring.catalog import KpiSpec
from lpscore.stats.shrink import shrink, unshrunk
from lpscore.stats.sketch import quantile_names, sketch_quantiles
from lpscore.stats.table import Stats, effective_n

__all__ = ["expand", "near", "shrunk_estimates", "shrunk_levels"]


def expand(specs: Sequence[KpiSpec], catalog: dict[str, KpiSpec]) -> list[KpiSpec]:
    """``specs`` with each difference replaced by its two rates (estimated and shrunk)."""
    out: list[KpiSpec] = []
    for spec in specs:
        parts = [catalog[p] for p in spec.parts] if spec.kind == "rate_diff" else [spec]
        out += [p for p in parts if p not in out]
    return out


def shrunk_levels(stats: Stats, specs: Sequence[KpiSpec], context: Sequence[str],
                  m: float, *, only: Collection[tuple[Any, ...]] | None = None
                  ) -> Iterator[tuple[list[str], pl.DataFrame]]:
    """Each level's shrunk estimates, coarse to fine: ``([], per LP)``, ``(context[:1], per
    LP x first key)``, ... ``(context, per LP x context)`` (specs already expanded).

    ``only`` (tuples of values of ``context``'s leading keys) keeps, below the LP level,
    the contexts on the path to one of them or under one (``near``): each is estimated from
    its own groups' rows only, so the others cost nothing, and its estimates are those of
    a run without ``only``."""
    if list(stats.keys) != ["lp", *context]:
        raise ValueError(f"stats keyed by {stats.keys}, expected {('lp', *context)}")
    rates = [s.name for s in specs if s.kind == "rate"]
    means = [s.name for s in specs if s.kind in ("mean", "quantile")]
    level = unshrunk(_estimates(stats.rollup([]), specs), [*rates, *means])
    parent_keys: list[str] = []
    rows = stats
    for depth in range(len(context) + 1):
        keys = ["lp", *context[:depth]]
        if only is not None and depth:      # each level's rows lie within the coarser's
            rows = near(rows, context[:depth], only)
        level = shrink(_estimates(rows.rollup(keys), specs), level, parent_keys, rates,
                       means, m)
        parent_keys = keys
        yield keys[1:], level.sort(keys, nulls_last=True)


def near(stats: Stats, keys: Sequence[str], only: Collection[tuple[Any, ...]]) -> Stats:
    """The rows of ``stats`` whose context at level ``keys`` (a leading part of the
    context) is on the path to one of ``only`` or under one: its values agree with the
    tuple's over their common length. Null matches null."""
    depth = len(keys)
    frames = []
    for length in sorted({min(depth, len(t)) for t in only}):
        if not length:
            return stats              # the empty context: every context is under it
        wanted = sorted({tuple(t[:length]) for t in only if min(depth, len(t)) == length},
                        key=repr)
        frames.append((list(keys[:length]), pl.DataFrame(
            [pl.Series(k, [t[i] for t in wanted], dtype=stats.sums.schema[k])
             for i, k in enumerate(keys[:length])])))
    if not frames:
        return replace(stats, sums=stats.sums.clear(), sketches=stats.sketches.clear(),
                       counts=stats.counts.clear())

    def pick(frame: pl.DataFrame) -> pl.DataFrame:
        if len(frames) == 1:
            on, wanted = frames[0]
            return frame.join(wanted.cast(frame.select(on).schema), on=on, how="semi",
                              nulls_equal=True, maintain_order="left")
        rows = frame.with_row_index("_r")
        index = pl.concat([rows.join(w.cast(frame.select(on).schema), on=on, how="semi",
                                     nulls_equal=True)["_r"] for on, w in frames])
        return rows.filter(pl.col("_r").is_in(index.unique().implode())).drop("_r")

    return replace(stats, sums=pick(stats.sums), sketches=pick(stats.sketches),
                   counts=pick(stats.counts))


def shrunk_estimates(stats: Stats, specs: Sequence[KpiSpec], context: Sequence[str],
                     m: float) -> pl.DataFrame:
    """Shrunk estimates per ``["lp", *context]``, the finest level of ``shrunk_levels``."""
    *_, (_, finest) = shrunk_levels(stats, specs, context, m)
    return finest


def _estimates(stats: Stats, specs: Sequence[KpiSpec]) -> pl.DataFrame:
    """Each group's own value, evidence and variance per KPI (no shrinkage)."""
    keys = list(stats.keys)
    sums = stats.sums
    exprs: list[pl.Expr] = [
        pl.col("n_orders__n").alias("n_orders"),
        effective_n(pl.col("n_orders"), pl.col("n_orders__w2")).alias("n_eff"),
    ]
    for spec in specs:
        if spec.kind == "rate":
            den = pl.col(spec.den)
            exprs += [pl.when(den > 0).then(pl.col(spec.num) / den).alias(f"{spec.name}.x"),
                      spec.n_expr().alias(f"{spec.name}.n")]
        elif spec.kind == "mean":
            w = pl.col(f"{spec.source}__w")
            mean = pl.col(f"{spec.source}__wx") / w
            var = (pl.col(f"{spec.source}__wxx") / w - mean * mean).clip(lower_bound=0.0)
            exprs += [pl.when(w > 0).then(mean).alias(f"{spec.name}.x"),
                      pl.when(w > 0).then(var).alias(f"{spec.name}.s2"),
                      spec.n_expr().alias(f"{spec.name}.n")]
        elif spec.kind == "quantile":
            exprs.append(spec.n_expr().alias(f"{spec.name}.n"))
    table = sums.select(*keys, *exprs)
    for spec in specs:
        if spec.kind == "quantile":
            table = _with_quantile(table, stats, spec)
    return table


def _with_quantile(table: pl.DataFrame, stats: Stats, spec: KpiSpec) -> pl.DataFrame:
    """The sketch quantile, and a per-observation variance from the sketch's slope there.

    The p-quantile's standard error is ``sqrt(p(1-p)/n) / f(q_p)``; the density is read off
    the sketch as ``2Δ / (q(p+Δ) - q(p-Δ))`` with ``Δ = min(0.1, (1-p)/2, p/2)``, so the
    per-observation variance is ``p(1-p) · ((q(p+Δ) - q(p-Δ)) / 2Δ)²``. For a normal
    distribution and p = 0.5 this gives 1.27 sd for the exact 1.25 sd.
    """
    keys = list(stats.keys)
    p = spec.q
    delta = min(0.1, (1 - p) / 2, p / 2)
    qs = [p - delta, p, p + delta]
    lo, mid, hi = quantile_names(qs)
    found = sketch_quantiles(stats.sketches.filter(pl.col("metric") == spec.source), keys, qs)
    slope = (pl.col(hi) - pl.col(lo)) / (2 * delta)
    found = found.select(*keys, pl.col(mid).alias(f"{spec.name}.x"),
                         (p * (1 - p) * slope * slope).alias(f"{spec.name}.s2"))
    if not keys:
        return table.hstack(found) if found.height else table.with_columns(
            pl.lit(None, pl.Float64).alias(f"{spec.name}.x"),
            pl.lit(None, pl.Float64).alias(f"{spec.name}.s2"))
    return table.join(found, on=keys, how="left", nulls_equal=True)
