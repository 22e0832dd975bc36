"""Decayed, mergeable sufficient statistics per group (LP x context).

    stats = Stats.build(keys, sums, sketches, counts, t_ref_ns, half_life_ns)
    merged = a.merge(b)          # == the stats of both inputs together
    later = stats.decayed_to(t)  # the same evidence, seen from a later time

Three long tables hold everything, each a plain sum per group, so merging is concatenation
and a group-by sum, in one process, a stream or across a cluster:

- ``sums``: one row per group, Float64 columns of weighted counts and moment sums (for a
  KPI ``k``: ``k__w`` = Σw, ``k__wx`` = Σw·x, ``k__wxx`` = Σw·x², ``k__w2`` = Σw², ``k__n`` =
  number of observations, undecayed);
- ``sketches``: quantile-sketch bins (lpscore.stats.sketch), ``metric, bin, weight``;
- ``counts``: weighted counts of categories (reject reasons), ``name, category, weight``.

Recency (KPIS.md): an observation made at ``t`` carries ``0.5 ** ((t_ref - t) / half_life)``.
Two stats decayed to different ``t_ref`` are first brought to the later one (every weight
scaled by the same factor, which also keeps sketch quantiles unchanged). Without a half-life
every weight is exactly 1, so counts are exact integers and merge(stats(A), stats(B)) equals
stats(A + B) exactly for counts and to float rounding (~1e-15 relative) for sums.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from lpscore.stats.sketch import merge_sketch_frames

__all__ = ["Stats", "decay_weight", "mean_of", "moment_sums"]


def decay_weight(t: pl.Expr, t_ref_ns: int | None, half_life_ns: int | None) -> pl.Expr:
    """``0.5 ** ((t_ref - t)/half_life)`` for a timestamp column, or exactly 1 undecayed."""
    if half_life_ns is None or t_ref_ns is None:
        return pl.lit(1.0)
    age = pl.lit(t_ref_ns) - t.dt.epoch("ns")
    return pl.lit(0.5).pow(age.cast(pl.Float64) / half_life_ns)


def moment_sums(name: str, value: pl.Expr, weight: pl.Expr) -> list[pl.Expr]:
    """Aggregations of the weighted moments of ``value`` (nulls skipped) as ``name__*``."""
    present = value.is_not_null() & weight.is_not_null()
    w = pl.when(present).then(weight).otherwise(0.0)
    x = value.fill_null(0.0)
    return [
        w.sum().alias(f"{name}__w"),
        (w * x).sum().alias(f"{name}__wx"),
        (w * x * x).sum().alias(f"{name}__wxx"),
        (w * w).sum().alias(f"{name}__w2"),
        present.sum().cast(pl.Float64).alias(f"{name}__n"),
    ]


def mean_of(name: str) -> pl.Expr:
    """The weighted mean from ``name__*`` sums; null with no weight."""
    w = pl.col(f"{name}__w")
    return pl.when(w > 0).then(pl.col(f"{name}__wx") / w).alias(name)


@dataclass(frozen=True, slots=True)
class Stats:
    """Sufficient statistics per group; see the module docstring."""

    keys: tuple[str, ...]
    sums: pl.DataFrame
    sketches: pl.DataFrame
    counts: pl.DataFrame
    t_ref_ns: int | None = None
    half_life_ns: int | None = None

    def merge(self, other: Stats) -> Stats:
        """The statistics of both inputs, decayed to the later reference time."""
        if self.keys != other.keys or self.half_life_ns != other.half_life_ns:
            raise ValueError("cannot merge stats with different keys or half-lives: "
                             f"{self.keys}/{self.half_life_ns} vs {other.keys}/"
                             f"{other.half_life_ns}")
        t_ref = _later(self.t_ref_ns, other.t_ref_ns)
        a, b = self.decayed_to(t_ref), other.decayed_to(t_ref)
        keys = list(self.keys)
        return replace(
            a,
            sums=_sum_by(pl.concat([a.sums, b.sums], how="diagonal_relaxed"), keys),
            sketches=merge_sketch_frames([a.sketches, b.sketches], keys),
            counts=_sum_by(pl.concat([a.counts, b.counts], how="vertical_relaxed"),
                           [*keys, "name", "category"]),
        )

    def decayed_to(self, t_ref_ns: int | None) -> Stats:
        """Every weight scaled to a later reference time (``__n`` counts stay as they are)."""
        if self.half_life_ns is None or t_ref_ns is None or self.t_ref_ns is None:
            return replace(self, t_ref_ns=t_ref_ns if self.t_ref_ns is None else self.t_ref_ns)
        if t_ref_ns < self.t_ref_ns:
            raise ValueError("stats can only be decayed forward in time")
        factor = 0.5 ** ((t_ref_ns - self.t_ref_ns) / self.half_life_ns)
        scaled = [pl.col(c) * (factor * factor if c.endswith("__w2") else factor)
                  for c in self.sums.columns
                  if c not in self.keys and not c.endswith("__n")]
        return replace(
            self,
            sums=self.sums.with_columns(scaled),
            sketches=self.sketches.with_columns(pl.col("weight") * factor),
            counts=self.counts.with_columns(pl.col("weight") * factor),
            t_ref_ns=t_ref_ns,
        )


def _later(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _sum_by(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    if not keys:
        return frame.select(pl.all().sum())
    values = [c for c in frame.columns if c not in keys]
    return frame.group_by(keys).agg(pl.col(values).sum()).sort(keys, nulls_last=True)
