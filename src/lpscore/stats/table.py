"""Decayed, mergeable sufficient statistics per group (LP x context).

    stats = Stats(keys, sums, sketches, counts, t_ref, decay)
    merged = a.merge(b)          # == the stats of both inputs together
    later = stats.decayed_to(t)  # the same evidence, seen from a later time
    coarser = stats.rollup(["lp"])  # summed over every other key

Three long tables hold everything, each a plain sum per group, so merging is concatenation
and a group-by sum, in one process, a stream or across a cluster:

- ``sums``: one row per group, Float64 columns of weighted counts and moment sums (for a
  KPI ``k``: ``k__w`` = Σw, ``k__wx`` = Σw·x, ``k__wxx`` = Σw·x², ``k__w2`` = Σw², ``k__n`` =
  number of observations, undecayed);
- ``sketches``: quantile-sketch bins (lpscore.stats.sketch), ``metric, bin, weight``;
- ``counts``: weighted counts of categories (reject reasons), ``name, category, weight``.

Recency (KPIS.md): an observation made at ``t`` carries ``0.5 ** ((t_ref - t) / half_life)``,
on one of two clocks (``Decay.clock``): ``time`` (nanoseconds since the epoch) or ``orders``
(the index of the child order in the order in which orders were sent, so that the age of an
observation is the number of orders sent after it). Two stats decayed to different ``t_ref``
are first brought to the later one (every weight scaled by the same factor, which also keeps
sketch quantiles unchanged). Without a decay every weight is exactly 1, so counts are exact
integers and merge(stats(A), stats(B)) equals stats(A + B) exactly for counts and to float
rounding (~1e-15 relative) for sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import polars as pl

from lpscore.stats.sketch import merge_sketch_frames

__all__ = ["Decay", "Stats", "decay_power", "decay_weight", "effective_n", "mean_of",
           "moment_sums"]


@dataclass(frozen=True, slots=True)
class Decay:
    """Recency weighting ``0.5 ** (age / half_life)``, the age measured on ``clock``:
    nanoseconds (``time``) or child orders sent since (``orders``)."""

    half_life: float
    clock: Literal["time", "orders"] = "time"

    def __post_init__(self) -> None:
        if not self.half_life > 0:
            raise ValueError(f"half-life must be > 0, got {self.half_life}")


def decay_power(column: str) -> int:
    """How a sums column scales when its weights are decayed by a factor: ``__n`` counts
    not at all (0), ``__w2`` by its square (2), every other weighted sum by it (1)."""
    return 0 if column.endswith("__n") else 2 if column.endswith("__w2") else 1


def decay_weight(t: pl.Expr, t_ref: int | pl.Expr | None, decay: Decay | None) -> pl.Expr:
    """``0.5 ** ((t_ref - t)/half_life)`` for an integer clock column, or exactly 1 undecayed.
    ``t_ref`` may be an integer column (each row's own reference: several streams' rows
    weighed at once, lpscore.stream.processor.add_all)."""
    if decay is None or t_ref is None:
        return pl.lit(1.0)
    age = (t_ref if isinstance(t_ref, pl.Expr) else pl.lit(t_ref)) - t
    return pl.lit(0.5).pow(age.cast(pl.Float64) / decay.half_life)


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


def effective_n(w: pl.Expr, w2: pl.Expr) -> pl.Expr:
    """Kish's effective sample size ``(Σw)² / Σw²`` from a weight sum and a squared-weight sum;
    0 with no weight."""
    return pl.when(w2 > 0).then(w * w / w2).otherwise(0.0)


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
    t_ref: int | None = None
    decay: Decay | None = None

    def merge(self, other: Stats) -> Stats:
        """The statistics of both inputs, decayed to the later reference time."""
        return Stats.merge_all([self, other])

    @staticmethod
    def merge_all(parts: Sequence[Stats]) -> Stats:
        """The statistics of every part (at least one), decayed to the latest reference
        time: ``a.merge(b).merge(c)`` in one group-by per table instead of one per part
        (the same sums, added in another order)."""
        first = parts[0]
        for other in parts[1:]:
            if first.keys != other.keys or first.decay != other.decay:
                raise ValueError("cannot merge stats with different keys or decays: "
                                 f"{first.keys}/{first.decay} vs {other.keys}/{other.decay}")
        t_ref = first.t_ref
        for other in parts[1:]:
            t_ref = _later(t_ref, other.t_ref)
        decayed = [part.decayed_to(t_ref) for part in parts]
        if len(decayed) == 1:
            return decayed[0]
        keys = list(first.keys)
        return replace(
            decayed[0],
            sums=_sum_by(pl.concat([d.sums for d in decayed], how="diagonal_relaxed"), keys),
            sketches=merge_sketch_frames([d.sketches for d in decayed], keys),
            counts=_sum_by(pl.concat([d.counts for d in decayed], how="vertical_relaxed"),
                           [*keys, "name", "category"]),
        )

    def decayed_to(self, t_ref: int | None) -> Stats:
        """Every weight scaled to a later reference time (``__n`` counts stay as they are)."""
        if self.decay is None or t_ref is None or self.t_ref is None:
            return replace(self, t_ref=t_ref if self.t_ref is None else self.t_ref)
        if t_ref < self.t_ref:
            raise ValueError("stats can only be decayed forward in time")
        if t_ref == self.t_ref:      # a factor of 1: every weight as it is
            return self
        factor = 0.5 ** ((t_ref - self.t_ref) / self.decay.half_life)
        scaled = [pl.col(c) * factor ** decay_power(c) for c in self.sums.columns
                  if c not in self.keys and decay_power(c)]
        return replace(
            self,
            sums=self.sums.with_columns(scaled),
            sketches=self.sketches.with_columns(pl.col("weight") * factor),
            counts=self.counts.with_columns(pl.col("weight") * factor),
            t_ref=t_ref,
        )

    def rollup(self, keys: Sequence[str]) -> Stats:
        """The statistics of coarser groups: summed over every key not in ``keys``.

        ``keys`` must be a subset of ``self.keys`` and may be empty (one group of everything).
        Sums and counts add exactly; sketches merge bin by bin, so quantiles are those of a
        sketch built on the coarser groups directly.
        """
        unknown = [k for k in keys if k not in self.keys]
        if unknown:
            raise ValueError(f"cannot roll {self.keys} up to {tuple(keys)}: "
                             f"{', '.join(unknown)} not among the keys")
        target = [k for k in self.keys if k in keys]
        dropped = [k for k in self.keys if k not in keys]
        return replace(
            self,
            keys=tuple(target),
            sums=_sum_by(self.sums.drop(dropped), target),
            sketches=merge_sketch_frames([self.sketches.drop(dropped)], target),
            counts=_sum_by(self.counts.drop(dropped), [*target, "name", "category"]),
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
