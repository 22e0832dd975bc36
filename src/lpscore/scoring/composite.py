"""Composite scores per context: Σ w_k · norm_k with an interval, contributions and rank.

    cards = score_contexts(stats, profile, specs, ["symbol"])   # one Scorecard per symbol

Point scores use the shrunk estimates, normalised across the context's LPs. The interval and
the rank stability come from posterior draws, seeded per context: each KPI of each LP is
drawn from its posterior (Beta for rates, normal for means and quantiles; a difference of
rates draws both), mapped by the same normalisation as the point estimates (their median and
MAD, range or ranking), and weighed into a score. So ``ci_low``/``ci_high``, the draws'
central ``interval`` quantiles, show how far the LP's own evidence could move its score;
``rank_stability`` is the share of draws (every LP drawn at once) in which it holds its rank.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.scoring.catalog import KpiSpec
from lpscore.scoring.estimate import expand, shrunk_estimates, shrunk_levels
from lpscore.scoring.normalize import normalize
from lpscore.scoring.profiles import Profile
from lpscore.stats.table import Stats

__all__ = ["LpScore", "Scorecard", "composite", "score_contexts", "score_levels"]

Array = npt.NDArray[np.float64]
TINY = 1e-9


@dataclass(frozen=True, slots=True)
class LpScore:
    """One LP's score in one context, and everything needed to explain it."""

    lp: str
    score: float
    ci_low: float
    ci_high: float
    rank: int
    rank_stability: float
    provisional: bool
    n_orders: int
    n_eff: float
    contributions: dict[str, float]
    """Points per KPI (``w_k · norm_k``); they sum to ``score``."""
    kpis: dict[str, float | None]
    """The shrunk values the score rests on."""
    raw_kpis: dict[str, float | None]
    """The LP's own values in the context, before shrinkage (decayed)."""

    def to_json(self) -> dict[str, Any]:
        """The ``scores[]`` item of ``lpscore score --format json``."""
        return {
            "lp": self.lp, "score": self.score, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "rank": self.rank, "rank_stability": self.rank_stability,
            "provisional": self.provisional, "n_orders": self.n_orders, "n_eff": self.n_eff,
            "contributions": self.contributions, "kpis": self.kpis, "raw_kpis": self.raw_kpis,
        }


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The ranked scores of the LPs of one context under one profile."""

    profile: str
    context: dict[str, Any]
    scores: list[LpScore]
    interval: float
    t_ref: int | None

    def to_json(self) -> dict[str, Any]:
        """The object ``lpscore score --format json`` prints (docs/scoring.md)."""
        return {"profile": self.profile, "context": self.context,
                "interval": self.interval, "t_ref": self.t_ref,
                "scores": [s.to_json() for s in self.scores]}


def score_contexts(stats: Stats, profile: Profile, catalog: Mapping[str, KpiSpec],
                   context: Sequence[str], *,
                   where: Mapping[str, str] | None = None) -> list[Scorecard]:
    """One scorecard per distinct value of ``context`` in ``stats`` (keyed ``["lp",
    *context]``), LPs shrunk down the hierarchy and normalised within their context.
    ``where`` keeps only the contexts with those values (compared as text), so one context
    is scored without drawing posteriors for the others."""
    weighted = [catalog[k] for k in profile.weights]
    estimates = shrunk_estimates(stats, expand(weighted, dict(catalog)), context,
                                 profile.shrinkage)
    if where:
        estimates = estimates.filter(*(pl.col(k).cast(pl.String) == v for k, v in where.items()))
    return _cards(estimates, list(context), profile, weighted, stats.t_ref)


def score_levels(stats: Stats, profile: Profile, catalog: Mapping[str, KpiSpec],
                 context: Sequence[str], *,
                 only: Mapping[str, Collection[str]] | None = None) -> list[Scorecard]:
    """The scorecards of every level of the hierarchy at once: per LP (context ``{}``), per
    LP x ``context[0]``, ... per LP x ``context``; each level shrunk once. ``only`` keeps the
    cards of the contexts whose value of each given key is among those listed (levels
    without that key are all kept): a stream re-scores what a poll touched."""
    weighted = [catalog[k] for k in profile.weights]
    levels = shrunk_levels(stats, expand(weighted, dict(catalog)), context, profile.shrinkage)
    cards = []
    for keys, estimates in levels:
        chosen = estimates
        for key, values in (only or {}).items():
            if key in keys:
                chosen = chosen.filter(pl.col(key).cast(pl.String).is_in(list(values)))
        cards += _cards(chosen, keys, profile, weighted, stats.t_ref)
    return cards


def _cards(estimates: pl.DataFrame, context: list[str], profile: Profile,
           weighted: Sequence[KpiSpec], t_ref: int | None) -> list[Scorecard]:
    if not estimates.height:
        return []
    level = _Level(estimates)
    groups = (estimates.with_row_index("_i").group_by(context, maintain_order=True)
              .agg(pl.col("_i")).iter_rows() if context else [(list(range(estimates.height)),)])
    cards = []
    for *values, index in groups:
        ctx = dict(zip(context, values, strict=True))
        rows = _Rows(level, np.asarray(index, dtype=np.int64))
        cards.append(Scorecard(profile.name, ctx, _score(rows, profile, weighted, ctx),
                               profile.interval, t_ref))
    return cards


class _Level:
    """A level's estimates as numpy columns, converted once (not once per context)."""

    def __init__(self, estimates: pl.DataFrame) -> None:
        self.frame = estimates
        self._columns: dict[str, Array] = {}
        self.lp = estimates["lp"].cast(pl.String).to_list()

    def column(self, name: str) -> Array:
        if name not in self._columns:
            self._columns[name] = (self.frame[name].cast(pl.Float64).fill_null(np.nan)
                                   .to_numpy().astype(np.float64))
        return self._columns[name]


class _Rows:
    """The LPs of one context: row ``index`` of a level."""

    def __init__(self, level: _Level, index: npt.NDArray[np.int64]) -> None:
        self.level = level
        self.index = index

    def column(self, name: str) -> Array:
        return self.level.column(name)[self.index]

    @property
    def lps(self) -> list[str]:
        return [self.level.lp[i] for i in self.index.tolist()]


def _score(rows: _Rows, profile: Profile, specs: Sequence[KpiSpec],
           context: Mapping[str, Any]) -> list[LpScore]:
    rng = np.random.default_rng([profile.seed, zlib.crc32(repr(sorted(
        (k, str(v)) for k, v in context.items())).encode())])
    weights = np.array([profile.weights[s.name] for s in specs])
    points = np.stack([_values(rows, s, "x") for s in specs], axis=-1)      # (lps, kpis)
    draws = np.stack([_draw(rows, s, rng, profile.draws) for s in specs], axis=-1)
    better = [s.better for s in specs]
    floors = [profile.mad_floor.get(s.name, s.mad_floor) for s in specs]
    contributions = composite(points, weights, better, profile.normalization, floors)
    score = contributions.sum(axis=-1)
    drawn = composite(draws, weights, better, profile.normalization, floors,
                      reference=points).sum(axis=-1)                        # (draws, lps)
    tail = (1.0 - profile.interval) / 2.0
    low, high = np.quantile(drawn, [tail, 1.0 - tail], axis=0)
    rank = _ranks(score)
    stability = (_ranks(drawn) == rank).mean(axis=0)
    raw = {s.name: _values(rows, s, "raw") for s in specs}
    n_eff, n_orders = rows.column("n_eff"), rows.column("n_orders")
    out = []
    for i, lp in enumerate(rows.lps):
        out.append(LpScore(
            lp=lp, score=float(score[i]), ci_low=float(low[i]),
            ci_high=float(high[i]), rank=int(rank[i]), rank_stability=float(stability[i]),
            provisional=bool(n_eff[i] < profile.min_orders - 1e-9),
            n_orders=int(n_orders[i]), n_eff=float(n_eff[i]),
            contributions={s.name: float(contributions[i, j]) for j, s in enumerate(specs)},
            kpis={s.name: _num(points[i, j]) for j, s in enumerate(specs)},
            raw_kpis={s.name: _num(raw[s.name][i]) for s in specs},
        ))
    return sorted(out, key=lambda s: (s.rank, s.lp))


def composite(values: npt.ArrayLike, weights: npt.ArrayLike, better: Sequence[int],
              method: str, floors: Sequence[float],
              reference: npt.ArrayLike | None = None) -> Array:
    """Each KPI's points ``w_k · norm_k`` for values shaped ``(..., lps, kpis)``.

    The score is their sum over the last axis. ``reference`` (``(lps, kpis)``, default the
    values) fixes each KPI's normalisation across the LPs (scoring.normalize).
    """
    x = np.asarray(values, dtype=np.float64)
    ref = x if reference is None else np.asarray(reference, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    norms = [normalize(x[..., j], better[j], method, floors[j], reference=ref[..., j])
             for j in range(x.shape[-1])]
    return np.stack(norms, axis=-1) * w


def _ranks(score: Array) -> npt.NDArray[np.int64]:
    """Competition ranks along the last axis: 1 for the highest, ties share the better rank."""
    return np.asarray((score[..., None, :] > score[..., :, None]).sum(axis=-1) + 1)


def _values(rows: _Rows, spec: KpiSpec, part: str) -> Array:
    if spec.kind == "rate_diff":
        a, b = spec.parts
        return rows.column(f"{a}.{part}") - rows.column(f"{b}.{part}")
    return rows.column(f"{spec.name}.{part}")


def _draw(rows: _Rows, spec: KpiSpec, rng: np.random.Generator, n: int) -> Array:
    """``n`` posterior draws of the KPI per LP, shaped (n, lps); NaN where no estimate."""
    if spec.kind == "rate_diff":
        a, b = spec.parts
        return _draw_rate(rows, a, rng, n) - _draw_rate(rows, b, rng, n)
    if spec.kind == "rate":
        return _draw_rate(rows, spec.name, rng, n)
    mean = rows.column(f"{spec.name}.x")
    strength = rows.column(f"{spec.name}.N")
    var = np.nan_to_num(rows.column(f"{spec.name}.s2"))
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(strength > 0, np.sqrt(var / strength), 0.0)
    return mean + sd * rng.standard_normal((n, mean.size))


def _draw_rate(rows: _Rows, name: str, rng: np.random.Generator, n: int) -> Array:
    rate = rows.column(f"{name}.x")
    strength = rows.column(f"{name}.N")
    known = ~np.isnan(rate) & (strength > 0)
    p = np.clip(np.nan_to_num(rate), 0.0, 1.0)
    a = np.maximum(p * strength, TINY)
    b = np.maximum((1.0 - p) * strength, TINY)
    drawn = rng.beta(np.where(known, a, 1.0), np.where(known, b, 1.0), size=(n, rate.size))
    return np.where(known, drawn, rate)


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
