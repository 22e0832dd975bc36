"""Direction-aware normalisation of one KPI across the LPs of a context, into 0..100.

Values are shaped ``(..., n_lps)`` and normalised along the last axis against a
``reference`` of the same LPs (by default the values themselves): the reference fixes the
median and MAD, the minimum and maximum, or the ranking, so that posterior draws of an LP's
KPI are mapped exactly as its point estimate is. NaN (no estimate) scores a neutral 50 and
takes no part in the reference. ``better`` is +1 when higher is better, -1 when lower is.
All three are monotone: of two LPs of the same context, the better value never normalises
lower.

- ``robust_z`` (default, KPIS.md): ``100 / (1 + exp(-z))``, ``z = better·(x - median) /
  max(1.4826·MAD, floor)``; the floor (per KPI, in its unit) keeps LPs that differ by noise
  from being spread to 0 and 100.
- ``minmax``: best LP 100, worst 0, linear between; all equal: 50 (draws beyond the
  reference's range are clipped to 0..100).
- ``rank``: the value's average rank among the other LPs' reference values, best 100,
  worst 0; a lone LP: 50.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["normalize"]

Array = npt.NDArray[np.float64]
MAD_TO_SIGMA = 1.4826
Z_CLIP = 50.0


def normalize(values: npt.ArrayLike, better: int, method: str, floor: float,
              reference: npt.ArrayLike | None = None) -> Array:
    """``values`` normalised along the last axis into 0..100 (see the module docstring)."""
    x = np.multiply(np.asarray(values, dtype=np.float64), better)   # a new array, ours
    ref = x if reference is None else np.asarray(reference, dtype=np.float64) * better
    invalid, known = np.isnan(x), ~np.isnan(ref)
    ref = np.where(known, ref, 0.0)
    np.copyto(x, 0.0, where=invalid)
    if method == "robust_z":
        out = _robust_z(x, ref, known, floor)
    elif method == "minmax":
        out = _minmax(x, ref, known)
    elif method == "rank":
        out = _rank(x, ref, known)
    else:
        raise ValueError(f"unknown normalization {method!r}: use robust_z, minmax or rank")
    np.copyto(out, 50.0, where=invalid)
    return out


def _robust_z(x: Array, ref: Array, known: npt.NDArray[np.bool_], floor: float) -> Array:
    """In place in ``x``: ``100 / (1 + exp(-clip((x - median) / scale)))``."""
    median = _masked_median(ref, known)
    mad = _masked_median(np.abs(ref - median), known)
    scale = np.maximum(MAD_TO_SIGMA * mad, floor)
    np.subtract(x, median, out=x)
    np.divide(x, scale, out=x)
    np.clip(x, -Z_CLIP, Z_CLIP, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)
    np.add(1.0, x, out=x)
    return np.divide(100.0, x, out=x)


def _masked_median(x: Array, valid: npt.NDArray[np.bool_]) -> Array:
    """Median of the valid entries along the last axis (0 where none), keepdims."""
    ordered = np.sort(np.where(valid, x, np.inf), axis=-1)
    count = valid.sum(axis=-1, keepdims=True)
    lo = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=-1)
    hi = np.take_along_axis(ordered, np.maximum(count // 2, 0), axis=-1)
    hi = np.where(count > 0, hi, 0.0)
    lo = np.where(count > 0, lo, 0.0)
    return np.asarray((lo + hi) / 2.0)


def _minmax(x: Array, ref: Array, known: npt.NDArray[np.bool_]) -> Array:
    lo = np.min(np.where(known, ref, np.inf), axis=-1, keepdims=True)
    hi = np.max(np.where(known, ref, -np.inf), axis=-1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.clip(100.0 * (x - lo) / span, 0.0, 100.0)
    return np.where(span > 0, scaled, 50.0)


def _rank(x: Array, ref: Array, known: npt.NDArray[np.bool_]) -> Array:
    """Average rank of ``x[i]`` among ``ref[j]``, ``j != i``, over ``n - 1``."""
    n = x.shape[-1]
    others = known[..., None, :] & ~np.eye(n, dtype=bool)
    a, b = x[..., :, None], ref[..., None, :]
    below = ((b < a) & others).sum(axis=-1)
    ties = ((b == a) & others).sum(axis=-1)
    count = others.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = 100.0 * (below + ties / 2.0) / count
    return np.where(count > 0, scaled, 50.0)
