"""Mergeable, weighted, decayable quantile sketch (DDSketch-style) for latency quantiles.

Bins. With ``gamma = (1 + alpha) / (1 - alpha)``, a value with ``|v| >= MIN_INDEXABLE`` is in
bucket ``i = ceil(log_gamma |v|)``, i.e. ``gamma**(i-1) < |v| <= gamma**i``; its key is
``i - i_min + 1`` (i_min: the bucket of MIN_INDEXABLE, so keys are >= 1), negated for v < 0;
``|v| < MIN_INDEXABLE`` has key 0. Keys sort as values do. A key stands for
``2 * gamma**i / (gamma + 1) = (1 - alpha) * gamma**i``, signed.

Error bound. ``|bin_values(bin_keys(v)) - v| <= alpha * |v|`` (plus ~1e-13 relative rounding).
As keys are monotone, the answer to a quantile is the bin of the exact weighted lower quantile
of the data, within the same bound (absolute error < MIN_INDEXABLE near zero).

Quantile rule: the weighted lower quantile of the binned distribution. Sort bins by key, take
the running sum ``cum`` of weights (``total = cum[-1]``), answer the first bin with
``cum >= total * (q - QUANTILE_EPS)``: q=0 is the lowest bin, q=1 the highest. The epsilon
keeps a sum that reaches q*total in exact arithmetic but falls an ulp short in floats (weights
0.1 and 0.2, q=1/3) on the lower bin.

Merge and decay. A sketch is a map bin -> summed weight; merging adds weights bin by bin, so
merge(sketch(A), sketch(B)) equals sketch(A + B), in any order, whenever the weights sum exactly
(integer counts). ``scaled(0.5 ** (age / half_life))`` keeps the quantiles and scales the total:
a decayed sketch is ``old.scaled(d).merge(new)``.

Two forms, one bin function. ``QuantileSketch`` (a dict) serves the live stream; long frames
``[*keys, "metric", "bin", "weight"]`` serve batch runs and merges of partitions. Both take keys
from the numpy ``bin_keys`` (a Polars ``log`` may differ by an ulp and move a value at a bucket
edge) and values from ``bin_values``, sum weights per bin in row order and apply the rule to the
same running sums: the same rows give the same bins, weights and quantiles, bit for bit.
``bin_quantiles`` applies the same compiled rule to sketches held as rows of a matrix (the
stream's arrays, lpscore.stats.dense).
Null and NaN values are skipped, not counted; inf raises ValueError; weights must be finite and
>= 0 (zero weights are dropped).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "DEFAULT_ALPHA", "DEFAULT_QS", "MIN_INDEXABLE", "QUANTILE_EPS", "QuantileSketch", "bin_keys",
    "bin_quantiles", "bin_values", "merge_sketch_frames", "quantile_names", "sketch_frame",
    "sketch_quantiles", "sketches_from_frame",
]

DEFAULT_ALPHA = 0.01
MIN_INDEXABLE = 1e-9
QUANTILE_EPS = 1e-9
DEFAULT_QS = (0.5, 0.95, 0.99)
_KEY_DTYPE = np.int32
_RESERVED = ("metric", "bin", "weight")


@cache
def _params(alpha: float) -> tuple[float, int]:
    """``(log gamma, i_min - 1)`` for ``alpha``; ValueError unless keys fit in int32."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    log_gamma = math.log1p(2.0 * alpha / (1.0 - alpha))
    shift = math.ceil(math.log(MIN_INDEXABLE) / log_gamma) - 1
    if math.ceil(math.log(sys.float_info.max) / log_gamma) - shift >= np.iinfo(_KEY_DTYPE).max:
        raise ValueError(f"alpha {alpha!r} is too small for int32 bin keys; use alpha >= 1e-6")
    return log_gamma, shift


def bin_keys(values: npt.ArrayLike, alpha: float = DEFAULT_ALPHA) -> npt.NDArray[np.int32]:
    """Signed int32 bin key of each value (module docstring); NaN and inf are the caller's."""
    log_gamma, shift = _params(alpha)
    v = np.ascontiguousarray(values, dtype=np.float64)
    mag = np.abs(v)
    indexable = mag >= MIN_INDEXABLE
    bucket = np.ceil(np.log(np.where(indexable, mag, 1.0)) / log_gamma) - shift
    keys = np.where(indexable, np.maximum(bucket, 1.0), 0.0)
    return np.copysign(keys, v).astype(_KEY_DTYPE)


def bin_values(keys: npt.ArrayLike, alpha: float = DEFAULT_ALPHA) -> npt.NDArray[np.float64]:
    """Representative value ``(1 - alpha) * gamma**i`` of each key, signed; 0.0 for key 0."""
    log_gamma, shift = _params(alpha)
    k = np.asarray(keys, dtype=np.int64)
    rep = np.exp((np.abs(k) + shift) * log_gamma + math.log1p(-alpha))
    return np.where(k == 0, 0.0, np.copysign(rep, k.astype(np.float64)))


def _check_q(q: float) -> float:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile q must be in [0, 1], got {q!r}")
    return q


def _arrays(values: npt.ArrayLike, weights: npt.ArrayLike | None) -> tuple[
        npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Flat float arrays, minus NaN values and zero weights; ValueError on inf or bad weights."""
    v = np.asarray(values, dtype=np.float64).ravel()
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != v.shape:
        raise ValueError(f"{v.size} values but {w.size} weights")
    if np.isinf(v).any():
        raise ValueError("infinite value: drop or cap infinities before sketching")
    keep = ~np.isnan(v)
    if not (np.isfinite(w[keep]) & (w[keep] >= 0.0)).all():
        raise ValueError("weights must be finite and >= 0 wherever the value is present")
    keep &= w > 0.0
    return v[keep], w[keep]


class QuantileSketch:
    """Scalar sketch for the live stream: a dict bin key -> summed weight (module docstring)."""

    __slots__ = ("_bins", "alpha")
    __hash__ = None  # type: ignore[assignment]  # Mutable: equal sketches may diverge later.

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        _params(alpha)
        self.alpha = alpha
        self._bins: dict[int, float] = {}

    @classmethod
    def from_bins(cls, bins: npt.ArrayLike, weights: npt.ArrayLike,
                  alpha: float = DEFAULT_ALPHA) -> QuantileSketch:
        """A sketch holding ``weights`` on bin ``keys`` (repeats add up), e.g. one frame group."""
        keys, w = _arrays(bins, weights)  # integer keys are exact as float64
        sketch = cls(alpha)
        sketch._add_bins(keys.astype(np.int64), w)
        return sketch

    def _add_bins(self, keys: npt.NDArray[np.integer[Any]],
                  weights: npt.NDArray[np.float64]) -> None:
        """Sum weights per key in input order (as ``np.bincount`` does), then into the bins."""
        unique, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights, minlength=unique.size)
        for key, weight in zip(unique.tolist(), sums.tolist(), strict=True):
            self._bins[key] = self._bins.get(key, 0.0) + weight

    def add(self, value: float, weight: float = 1.0) -> None:
        """Add one observation; NaN is skipped, inf or a bad weight raises ValueError."""
        if math.isnan(value):
            return
        if math.isinf(value) or not (math.isfinite(weight) and weight >= 0.0):
            raise ValueError(f"cannot add {value!r} with weight {weight!r}: the value must be "
                             "finite, the weight finite and >= 0")
        if weight > 0.0:
            key = int(bin_keys(np.array([value], dtype=np.float64), self.alpha)[0])
            self._bins[key] = self._bins.get(key, 0.0) + weight

    def add_many(self, values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> None:
        """Add observations in order; NaN values are skipped, inf or bad weights raise."""
        v, w = _arrays(values, weights)
        self._add_bins(bin_keys(v, self.alpha), w)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """A new sketch holding both sketches' weights; ValueError if the alphas differ."""
        if other.alpha != self.alpha:
            raise ValueError(f"cannot merge sketches with alpha {self.alpha} and {other.alpha}")
        merged = QuantileSketch(self.alpha)
        merged._bins = dict(self._bins)
        for key, weight in other._bins.items():
            merged._bins[key] = merged._bins.get(key, 0.0) + weight
        return merged

    def scaled(self, factor: float) -> QuantileSketch:
        """A new sketch with every weight times ``factor`` > 0 (decay); underflows are dropped."""
        if not (math.isfinite(factor) and factor > 0.0):
            raise ValueError(f"scale factor must be finite and > 0, got {factor!r}")
        out = QuantileSketch(self.alpha)
        out._bins = {k: w * factor for k, w in self._bins.items() if w * factor > 0.0}
        return out

    @property
    def bins(self) -> dict[int, float]:
        """A copy of the bins, sorted by key."""
        return dict(sorted(self._bins.items()))

    @property
    def total_weight(self) -> float:
        """The sum of all weights (``math.fsum``: exact to the last bit)."""
        return math.fsum(self._bins.values())

    def quantile(self, q: float) -> float | None:
        """The weighted lower quantile (module docstring); None when the sketch is empty."""
        threshold = _check_q(q) - QUANTILE_EPS
        if not self._bins:
            return None
        keys = sorted(self._bins)
        cum = np.cumsum(np.array([self._bins[k] for k in keys]))
        return float(bin_values(keys[int(np.argmax(cum >= cum[-1] * threshold))], self.alpha))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: ``{"alpha": a, "bins": [[key, weight], ...]}`` sorted by key."""
        return {"alpha": self.alpha, "bins": [[k, w] for k, w in sorted(self._bins.items())]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """The sketch ``to_dict`` wrote."""
        pairs = data["bins"]
        keys = [int(k) for k, _ in pairs]
        return cls.from_bins(np.array(keys, dtype=np.int64), [float(w) for _, w in pairs],
                             float(data["alpha"]))

    def to_frame(self, metric: str, key_values: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Long-form rows ``[*key_values, "metric", "bin", "weight"]``, as ``sketch_frame``."""
        keys = sorted(self._bins)
        return pl.DataFrame({"bin": pl.Series(keys, dtype=pl.Int32),
                             "weight": pl.Series([self._bins[k] for k in keys], dtype=pl.Float64)}
                            ).select(*(pl.lit(v).alias(k) for k, v in (key_values or {}).items()),
                                     pl.lit(metric).alias("metric"), "bin", "weight")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return self.alpha == other.alpha and self._bins == other._bins

    def __repr__(self) -> str:
        return f"QuantileSketch(alpha={self.alpha}, bins={len(self._bins)}, " \
               f"total_weight={self.total_weight:g})"


def _check_keys(keys: Sequence[str]) -> list[str]:
    if clash := set(keys) & set(_RESERVED):
        raise ValueError(f"key columns may not be named {sorted(clash)}: rename them first")
    return [*keys, "metric"]


def _positions(bins: npt.NDArray[np.integer[Any]]) -> tuple[
        npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct bins, sorted, and the position of each bin among them (as ``np.unique``)."""
    low = int(bins.min())
    offset = bins.astype(np.int64) - low
    span = int(offset.max()) + 1
    if span > 4 * bins.size + 65_536:  # a lookup table would cost more than a sort
        return np.unique(offset + low, return_inverse=True)
    occupied = np.zeros(span, dtype=bool)
    occupied[offset] = True
    return np.flatnonzero(occupied) + low, (np.cumsum(occupied) - 1)[offset]


def _sum_by_bin(rows: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Rows ``[*group, "bin", "weight"]`` summed per (group, bin), sorted by group then bin.

    Hash group-bys on ~1M distinct (group, bin) pairs are slow, so each row gets a cell
    ``group rank * distinct bins + bin position`` and weights are summed per cell, in row order,
    by ``np.bincount``: over all cells when they are few, else over the ones in use.
    """
    if rows.height == 0:
        return rows.select(*group, pl.col("bin").cast(pl.Int32), pl.col("weight").cast(pl.Float64))
    keys, rank, bins, sums = _binned_sums(rows, group)
    return keys.gather(rank).with_columns(bin=pl.Series(bins, dtype=pl.Int32),
                                          weight=pl.Series(sums))


def _binned_sums(rows: pl.DataFrame, group: list[str]) -> tuple[
        pl.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """``_sum_by_bin`` of rows (at least one) as arrays: the groups' keys (one row per group,
    sorted), and per (group, bin) in that order its group's rank, its bin and its weight."""
    firsts = rows.with_row_index("__row").with_columns(
        __first=pl.col("__row").first().over(group))  # a group's id: the index of its first row
    ids = firsts.filter(pl.col("__row") == pl.col("__first")).select("__first", *group)
    ids = ids.sort(group, nulls_last=True)
    rank_of_first = np.empty(rows.height, dtype=np.int64)
    rank_of_first[ids["__first"].to_numpy()] = np.arange(ids.height)
    distinct, position = _positions(rows["bin"].to_numpy())
    cells = rank_of_first[firsts["__first"].to_numpy()] * distinct.size + position
    weights = rows["weight"].to_numpy().astype(np.float64)
    n_cells = ids.height * distinct.size
    if n_cells <= 2 * rows.height + 65_536:  # at most ~16 bytes per row
        sums = np.bincount(cells, weights, minlength=n_cells)
        cells = np.arange(n_cells)
    else:
        cells, inverse = np.unique(cells, return_inverse=True)
        sums = np.bincount(inverse, weights)
    used = sums != 0.0  # empty cells; bins whose weights cancel out in a hand-made frame
    cells, sums = cells[used], sums[used]
    return ids.select(group), cells // distinct.size, distinct[cells % distinct.size], sums


def _quantile_bins(rank: npt.NDArray[np.int64], bins: npt.NDArray[np.int64],
                   weights: npt.NDArray[np.float64], n_groups: int,
                   levels: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64],
                                                             npt.NDArray[np.bool_]]:
    """Per group and level ``l`` (``q - QUANTILE_EPS``), over rows sorted by group then bin:
    the first bin whose running weight reaches ``l`` times the group's total (the running
    sum and the total added in row order, as Polars' ``cum_sum`` and its last value)."""
    out = np.zeros((n_groups, len(levels)), dtype=np.int64)
    found = np.zeros((n_groups, len(levels)), dtype=np.bool_)
    start = 0
    while start < len(rank):
        g = rank[start]
        end = start
        total = 0.0
        while end < len(rank) and rank[end] == g:
            total += weights[end]
            end += 1
        for k in range(len(levels)):
            threshold = total * levels[k]
            cum = 0.0
            for i in range(start, end):
                cum += weights[i]
                if cum >= threshold:
                    out[g, k] = bins[i]
                    found[g, k] = True
                    break
        start = end
    return out, found


_quantile_bins_jit: Any = numba.njit(cache=True, nogil=True)(_quantile_bins)


def sketch_frame(frame: pl.DataFrame, keys: Sequence[str], value: str, metric: str,
                 weight: str | None = None, alpha: float = DEFAULT_ALPHA) -> pl.DataFrame:
    """Sketch ``value`` per ``keys`` into rows ``[*keys, "metric", "bin", "weight"]``.

    One row per (keys, bin), weights summed (1 per row without ``weight``), sorted by keys then
    bin. Null and NaN values are skipped; inf, or a null/NaN/negative weight on a present
    value, raises ValueError.
    """
    group = _check_keys(keys)
    _params(alpha)
    v = pl.col(value).cast(pl.Float64)
    w = pl.lit(1.0) if weight is None else pl.col(weight).cast(pl.Float64)
    present = v.is_not_null() & v.is_not_nan()
    bad = frame.select(inf=v.is_infinite().any(),
                       weight=(present & ~(w.is_finite() & (w >= 0.0)).fill_null(False)).any())
    if bad.item(0, "inf"):
        raise ValueError(f"column {value!r} holds inf: drop or cap infinities before sketching")
    if bad.item(0, "weight"):
        raise ValueError(f"column {weight!r} must be finite and >= 0 wherever {value!r} is set")
    rows = frame.lazy().filter(present & (w > 0.0)).select(  # "bin" holds the value until...
        *keys, pl.lit(metric).alias("metric"), v.alias("bin"), w.alias("weight")).collect()
    binned = rows.with_columns(bin=pl.Series(bin_keys(rows["bin"].to_numpy(), alpha)))  # ...here
    # Grouping on the constant metric costs time for nothing; it is put back after.
    summed = _sum_by_bin(binned, group[:-1] or group)
    return summed.select(*group[:-1], pl.lit(metric).alias("metric"), "bin", "weight")


def merge_sketch_frames(frames: Sequence[pl.DataFrame], keys: Sequence[str]) -> pl.DataFrame:
    """Sum the weights of equal (keys, metric, bin) across sketch frames; sorted as sketch_frame."""
    if not frames:
        raise ValueError("merge_sketch_frames needs at least one frame")
    return _sum_by_bin(pl.concat(frames, how="vertical"), _check_keys(keys))


def quantile_names(qs: Sequence[float]) -> list[str]:
    """Column names ``p{100 q}``, a decimal point written ``_``: 0.5 -> p50, 0.999 -> p99_9."""
    names = [f"p{f'{q * 100:.10g}'.replace('.', '_')}" for q in qs]
    if len(set(names)) != len(names):
        raise ValueError(f"quantiles {list(qs)} repeat a column name")
    return names


def sketch_quantiles(frame: pl.DataFrame, keys: Sequence[str], qs: Sequence[float] = DEFAULT_QS,
                     alpha: float = DEFAULT_ALPHA) -> pl.DataFrame:
    """Quantiles per (keys, metric) of a sketch frame: ``[*keys, "metric", *quantile_names]``.

    Same rule as ``QuantileSketch.quantile``; groups with no rows are absent (left-join for
    nulls). ``alpha`` must be the one the frame was sketched with.
    """
    group = _check_keys(keys)
    names = quantile_names([_check_q(q) for q in qs])
    rows = frame.select(*group, pl.col("bin").cast(pl.Int32), pl.col("weight").cast(pl.Float64))
    if rows.is_empty():
        found = rows.select(group).with_columns(pl.lit(None, dtype=pl.Int32).alias(n)
                                                for n in names)
    else:  # one compiled pass over the summed bins of every group, sorted by group then bin
        group_keys, rank, bins, sums = _binned_sums(rows, group)
        picked, hit = _quantile_bins_jit(rank, bins, sums, group_keys.height,
                                         np.array([q - QUANTILE_EPS for q in qs]))
        held = np.unique(rank)  # a group whose weights all summed to 0 has no row: absent
        picked, hit = picked[held], hit[held]
        found = group_keys[held].with_columns(
            pl.Series(name, picked[:, k], dtype=pl.Int32).set(pl.Series(~hit[:, k]), None)
            for k, name in enumerate(names))
    return _as_values(found, names, alpha)


def bin_quantiles(bins: Sequence[int], weights: npt.NDArray[np.float64], qs: Sequence[float],
                  alpha: float = DEFAULT_ALPHA) -> npt.NDArray[np.float64]:
    """Quantiles of several sketches held as rows of ``weights`` (``(sketches, bins)``, each
    row its weight in each of ``bins``, sorted), by the rule of ``sketch_quantiles`` (the
    same compiled pass): ``(sketches, len(qs))``, NaN for a sketch without weight."""
    rank, at = np.nonzero(weights)          # row by row, each row's bins in order
    keys = np.asarray(bins, dtype=np.int64)[at]
    picked, hit = _quantile_bins_jit(rank.astype(np.int64), keys, weights[rank, at],
                                     weights.shape[0],
                                     np.array([_check_q(q) - QUANTILE_EPS for q in qs]))
    return np.where(hit, bin_values(picked, alpha), np.nan)


def _as_values(found: pl.DataFrame, names: Sequence[str], alpha: float) -> pl.DataFrame:
    """``found`` with its bin columns ``names`` as the bins' values (null stays null)."""
    return found.with_columns(
        pl.when(pl.col(n).is_not_null())
        .then(pl.Series(bin_values(found[n].fill_null(0).to_numpy(), alpha))).alias(n)
        for n in names)


def sketches_from_frame(frame: pl.DataFrame, keys: Sequence[str],
                        alpha: float = DEFAULT_ALPHA) -> dict[tuple[Any, ...], QuantileSketch]:
    """One scalar sketch per (keys..., metric) group of a sketch frame (the stream's seed)."""
    group = _check_keys(keys)
    return {k: QuantileSketch.from_bins(part["bin"].to_numpy(), part["weight"].to_numpy(), alpha)
            for k, part in frame.partition_by(group, as_dict=True).items()}
