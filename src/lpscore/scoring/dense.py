"""``score_levels`` for a few contexts, from ``DenseStats``, in numpy instead of Polars.

    cards = score_dense(dense, profile, catalog, HIERARCHY, only={("ACME", "adv<0.1%", "high")})

A stream's publish re-scores the ``*`` level and the few contexts a poll touched, with the
levels above them. ``score_levels`` does that with a few hundred Polars operations, some
40-70 ms whatever the size of the statistics; this computes the same estimates (each
group's own value, evidence and variance; shrunk down the hierarchy all LPs -> LP -> LP x
context) with numpy arrays over the groups of each level, and hands them to the same
normalisation, composite and posterior draws (``composite.level_cards``). Scores equal
``score_levels``' on the same statistics to float rounding (the sums are added in another
order; tests/unit/test_scoring_dense.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lpscore.scoring.catalog import KpiSpec
from lpscore.scoring.composite import DrawWhen, Level, Scorecard, level_cards
from lpscore.scoring.estimate import expand
from lpscore.scoring.profiles import Profile
from lpscore.stats.dense import DenseStats, LevelSums

__all__ = ["score_dense"]

Array = npt.NDArray[np.float64]
Columns = dict[str, Array]


def score_dense(dense: DenseStats, profile: Profile, catalog: Mapping[str, KpiSpec],
                hierarchy: Sequence[str], *, only: Collection[tuple[Any, ...]] | None = None,
                draw: DrawWhen | None = None) -> list[Scorecard]:
    """``score_levels(stats, profile, catalog, hierarchy, only=only, draw=draw)`` where
    ``dense`` holds ``stats`` (keyed ``["lp", *hierarchy]``)."""
    if list(dense.keys) != ["lp", *hierarchy]:
        raise ValueError(f"stats keyed by {dense.keys}, expected {('lp', *hierarchy)}")
    weighted = [catalog[k] for k in profile.weights]
    specs = expand(weighted, dict(catalog))
    top = dense.level(None)
    if not top.groups:
        return []
    parent = _unshrunk(_estimates(top, specs), [s.name for s in specs])
    parent_groups: list[tuple[Any, ...]] = [()]
    levels: list[tuple[LevelSums, Columns, list[str]]] = []
    for depth in range(len(hierarchy) + 1):
        sums = dense.level(depth, only)
        if not sums.groups:
            break
        position = {g: i for i, g in enumerate(parent_groups)}
        up = np.array([position.get(g[:depth] if depth else (), -1) for g in sums.groups],
                      dtype=np.int64)
        own = _estimates(sums, specs)
        shrunk = _shrink(own, parent, up, specs, profile.shrinkage)
        levels.append((sums, shrunk, list(hierarchy[:depth])))
        parent, parent_groups = shrunk, sums.groups
    return _cards(levels, profile, weighted, dense.t_ref, draw)


def _cards(levels: Sequence[tuple[LevelSums, Columns, list[str]]], profile: Profile,
           weighted: Sequence[KpiSpec], t_ref: int | None,
           draw: DrawWhen | None) -> list[Scorecard]:
    """The scorecards of every level, scored together in one ``level_cards`` call (its
    fixed cost, about half a millisecond, paid once, not once per level: 0.75 -> 0.70 s
    over 20 publishes of 200-record polls, cProfile), in level order. A level's groups are
    sorted by LP then context, so each context's LPs come in LP order, as in
    ``score_levels``."""
    if not levels:
        return []
    lps: list[str] = []
    contexts: list[dict[str, Any]] = []
    index: list[list[int]] = []
    for sums, _, keys in levels:
        rows: dict[tuple[Any, ...], list[int]] = {}
        for i, group in enumerate(sums.groups, start=len(lps)):
            rows.setdefault(group[1:], []).append(i)
        contexts += [dict(zip(keys, values, strict=True)) for values in rows]
        index += rows.values()
        lps += [str(g[0]) for g in sums.groups]
    names = levels[0][1].keys()
    columns = {name: np.concatenate([shrunk[name] for _, shrunk, _ in levels])
               for name in names}
    return level_cards(Level(lps, columns), contexts, index, profile, weighted, t_ref, draw)


def _effective_n(w: Array, w2: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(w2 > 0, w * w / w2, 0.0)


def _estimates(sums: LevelSums, specs: Sequence[KpiSpec]) -> Columns:
    """``scoring.estimate._estimates``: each group's own value ``.x``, evidence ``.n`` and,
    for means and quantiles, per-observation variance ``.s2`` (NaN for null)."""
    col = sums.column
    out: Columns = {"n_orders": col("n_orders__n"),
                    "n_eff": _effective_n(col("n_orders"), col("n_orders__w2"))}
    with np.errstate(divide="ignore", invalid="ignore"):
        for spec in specs:
            if spec.kind == "rate" and spec.count:
                n = col(spec.count)
            else:
                n = _effective_n(col(f"{spec.source}__w"), col(f"{spec.source}__w2"))
            out[f"{spec.name}.n"] = n
            if spec.kind == "rate":
                den = col(spec.den)
                out[f"{spec.name}.x"] = np.where(den > 0, col(spec.num) / den, np.nan)
            elif spec.kind == "mean":
                w = col(f"{spec.source}__w")
                mean = col(f"{spec.source}__wx") / w
                var = np.maximum(col(f"{spec.source}__wxx") / w - mean * mean, 0.0)
                out[f"{spec.name}.x"] = np.where(w > 0, mean, np.nan)
                out[f"{spec.name}.s2"] = np.where(w > 0, var, np.nan)
            elif spec.kind == "quantile":
                p = spec.q
                delta = min(0.1, (1 - p) / 2, p / 2)
                lo, mid, hi = sums.quantiles(spec.source, [p - delta, p, p + delta]).T
                slope = (hi - lo) / (2 * delta)
                out[f"{spec.name}.x"] = mid
                out[f"{spec.name}.s2"] = p * (1 - p) * slope * slope
    return out


def _unshrunk(own: Columns, names: Sequence[str]) -> Columns:
    """The top of the hierarchy borrows nothing (``stats.shrink.unshrunk``)."""
    out = dict(own)
    for k in names:
        out[f"{k}.raw"] = own[f"{k}.x"]
        out[f"{k}.N"] = np.nan_to_num(own[f"{k}.n"])
    return out


def _shrink(own: Columns, parent: Columns, up: npt.NDArray[np.int64],
            specs: Sequence[KpiSpec], m: float) -> Columns:
    """``stats.shrink.shrink`` of each group toward its parent row ``up`` (-1: none)."""
    if m < 0:
        raise ValueError(f"shrinkage strength must be >= 0, got {m}")
    out = dict(own)
    missing = up < 0
    at = np.where(missing, 0, up)

    def prior(name: str) -> Array:
        values = parent[name][at] if len(parent[name]) else np.full(len(up), np.nan)
        return np.where(missing, np.nan, values)

    for spec in specs:      # rates, means and quantiles (``expand`` split the differences)
        k = spec.name
        x = own[f"{k}.x"]
        n = np.nan_to_num(own[f"{k}.n"])
        mine = (n > 0) & ~np.isnan(x)
        n = np.where(mine, n, 0.0)
        total = n + m
        out[f"{k}.raw"] = x
        out[f"{k}.x"] = _blend(mine, x, prior(f"{k}.x"), n, total, m)
        out[f"{k}.N"] = total
        if spec.kind != "rate":
            out[f"{k}.s2"] = _blend(mine, own[f"{k}.s2"], prior(f"{k}.s2"), n, total, m)
    return out


def _blend(mine: npt.NDArray[np.bool_], x: Array, p: Array, n: Array, total: Array,
           m: float) -> Array:
    """Own value where there is evidence and no prior (or ``m`` 0); else the
    evidence-weighted blend with the prior where it exists; else NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        blended = (n * np.nan_to_num(x) + m * p) / total
    keep = mine & (np.isnan(p) | (m == 0))
    return np.where(keep, x, np.where(~np.isnan(p) & (total > 0), blended, np.nan))
