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

import math
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
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

__all__ = ["Level", "LpScore", "Scorecard", "composite", "level_cards", "score_contexts",
           "score_levels"]

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
        """The ``scores[]`` item of ``lpscore score --format json`` (an interval or rank
        stability not drawn, NaN here, is null there)."""
        return {
            "lp": self.lp, "score": self.score, "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high), "rank": self.rank,
            "rank_stability": _num(self.rank_stability),
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
    drawn: bool = True
    """False when scored without posterior draws: intervals and rank stabilities are NaN
    (``score_levels(draw=...)``)."""

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
                 only: Collection[tuple[Any, ...]] | None = None,
                 draw: DrawWhen | None = None) -> list[Scorecard]:
    """The scorecards of every level of the hierarchy at once: per LP (context ``{}``), per
    LP x ``context[0]``, ... per LP x ``context``; each level shrunk once. ``only`` (tuples
    of values of ``context``'s leading keys, ``("ACME",)`` or ``("ACME", "adv<0.1%",
    "high")``) keeps the LP level and the contexts on the path to one of them or under one
    (a stream re-scores what a poll touched); the others are not computed, and those kept
    score as without ``only``. ``draw(context, lps)`` False skips a context's posterior
    draws: its point scores, contributions and ranks are the same, its ``ci_low``,
    ``ci_high`` and ``rank_stability`` NaN (a stream carries them from earlier draws)."""
    weighted = [catalog[k] for k in profile.weights]
    levels = shrunk_levels(stats, expand(weighted, dict(catalog)), context, profile.shrinkage,
                           only=only)
    cards = []
    for keys, estimates in levels:
        cards += _cards(estimates, keys, profile, weighted, stats.t_ref, draw)
    return cards


DrawWhen = Callable[[Mapping[str, Any], Sequence[str]], bool]
"""Whether a context (with these LPs) gets its posterior draws (``score_levels``)."""


def _cards(estimates: pl.DataFrame, context: list[str], profile: Profile,
           weighted: Sequence[KpiSpec], t_ref: int | None,
           draw: DrawWhen | None = None) -> list[Scorecard]:
    """Every context of one level, scored in vectorised passes over chunks of contexts
    (those ``draw`` leaves without draws in their own chunks, in the same order)."""
    if not estimates.height:
        return []
    level = Level.of_frame(estimates, weighted)
    if context:
        groups = (estimates.with_row_index("_i").group_by(context, maintain_order=True)
                  .agg(pl.col("_i")))
        values = groups.select(context).rows()
        index = groups["_i"].to_list()
    else:
        values, index = [()], [list(range(estimates.height))]
    contexts = [dict(zip(context, v, strict=True)) for v in values]
    return level_cards(level, contexts, index, profile, weighted, t_ref, draw)


def level_cards(level: Level, contexts: Sequence[dict[str, Any]],
                index: Sequence[Sequence[int]], profile: Profile,
                weighted: Sequence[KpiSpec], t_ref: int | None,
                draw: DrawWhen | None = None) -> list[Scorecard]:
    """The scorecards of ``contexts``, the LPs of context ``c`` being the rows ``index[c]``
    of ``level`` (in LP order), as ``score_levels`` scores them."""
    drawn = [True] * len(index) if draw is None else [
        draw(ctx, [level.lp[i] for i in rows]) for ctx, rows in zip(contexts, index,
                                                                  strict=True)]
    cards: list[Scorecard | None] = [None] * len(index)
    for with_draws in (True, False):
        at = [c for c, d in enumerate(drawn) if d == with_draws]
        if not at:
            continue
        widest = max(len(index[c]) for c in at)
        per_context = (max(profile.draws, 1) if with_draws else 1) * widest * max(
            len(weighted), widest)
        chunk = max(1, _CHUNK_ELEMENTS // per_context)
        for start in range(0, len(at), chunk):
            part = at[start:start + chunk]
            block = _Block(level, [index[c] for c in part])
            chosen = [contexts[c] for c in part]
            for c, scores in zip(part, _score(block, profile, weighted, chosen, with_draws),
                                 strict=True):
                cards[c] = Scorecard(profile.name, dict(contexts[c]), scores, profile.interval,
                                     t_ref, with_draws)
    return [card for card in cards if card is not None]


_CHUNK_ELEMENTS = 4_000_000
"""Contexts are scored together in chunks of about this many floats of draws (x KPIs)."""


class Level:
    """A level's shrunk estimates as numpy columns, one row per (LP, context): ``{k}.x``,
    ``{k}.raw``, ``{k}.N``, ``{k}.s2``, ``n_eff`` and ``n_orders`` (NaN where null), and
    each row's LP."""

    def __init__(self, lp: list[str], columns: dict[str, Array]) -> None:
        self.lp = lp
        self._columns = columns

    @classmethod
    def of_frame(cls, estimates: pl.DataFrame, specs: Sequence[KpiSpec]) -> Level:
        """The columns scoring reads, from a frame of ``shrunk_levels``, in one conversion."""
        names = ["n_eff", "n_orders"]
        for spec in specs:
            for part in (spec.parts if spec.kind == "rate_diff" else (spec.name,)):
                names += [f"{part}.{k}" for k in ("x", "raw", "N", "s2")
                          if f"{part}.{k}" in estimates.columns and f"{part}.{k}" not in names]
        table = estimates.select(pl.col(names).cast(pl.Float64).fill_null(np.nan)).to_numpy()
        return cls(estimates["lp"].cast(pl.String).to_list(),
                   {name: np.ascontiguousarray(table[:, i], dtype=np.float64)
                    for i, name in enumerate(names)})

    def column(self, name: str) -> Array:
        return self._columns[name]


class _Block:
    """The LPs of several contexts of a level, padded to one width: ``(contexts, lps)``
    arrays; a padding slot (``~mask``) holds NaN."""

    def __init__(self, level: Level, index: Sequence[Sequence[int]]) -> None:
        self.level = level
        self.sizes = [len(i) for i in index]
        width = max(self.sizes)
        self.rows = np.zeros((len(index), width), dtype=np.int64)
        self.mask = np.zeros((len(index), width), dtype=bool)
        for c, rows in enumerate(index):
            self.rows[c, :len(rows)] = rows
            self.mask[c, :len(rows)] = True

    def column(self, name: str) -> Array:
        return np.where(self.mask, self.level.column(name)[self.rows], np.nan)

    def lps(self, c: int) -> list[str]:
        return [self.level.lp[i] for i in self.rows[c, :self.sizes[c]].tolist()]


def _score(block: _Block, profile: Profile, specs: Sequence[KpiSpec],
           contexts: Sequence[Mapping[str, Any]], with_draws: bool = True
           ) -> list[list[LpScore]]:
    """The scores of each context of ``block``; each context exactly as scored alone (its
    own seeded draws, normalised among its own LPs), the arithmetic done for all at once.
    Without draws, intervals and rank stabilities are NaN."""
    weights = np.array([profile.weights[s.name] for s in specs])
    points = np.stack([_values(block, s, "x") for s in specs], axis=-1)  # (ctx, lps, kpis)
    better = [s.better for s in specs]
    floors = [profile.mad_floor.get(s.name, s.mad_floor) for s in specs]
    contributions = composite(points, weights, better, profile.normalization, floors)
    score = contributions.sum(axis=-1)
    rank = _ranks(np.where(block.mask, score, -np.inf))    # padding ranks below every LP
    if with_draws:
        draws = _draws(block, specs, profile, contexts)                  # (k, draws, ctx, lps)
        drawn = _total(draws, weights, better, profile.normalization, floors,
                       reference=points)                                 # (draws, ctx, lps)
        tail = (1.0 - profile.interval) / 2.0
        # each LP's column of draws made contiguous: the same quantiles, partitioned faster
        columns = np.ascontiguousarray(drawn.reshape(drawn.shape[0], -1).T)
        low, high = np.quantile(columns, [tail, 1.0 - tail], axis=-1).reshape(2, *score.shape)
        stability = (_ranks(np.where(block.mask, drawn, -np.inf)) == rank).mean(axis=0)
    else:
        low = high = stability = np.full(score.shape, np.nan)
    raw = np.stack([_values(block, s, "raw") for s in specs], axis=-1)
    n_eff, n_orders = block.column("n_eff"), block.column("n_orders")
    provisional = (n_eff < profile.min_orders - 1e-9).tolist()
    names = [s.name for s in specs]
    # every number leaves numpy in one conversion per array, not one per LP and KPI
    score_, low_, high_, rank_, stability_, n_eff_, n_orders_, parts, kpis, raws = (
        score.tolist(), low.tolist(), high.tolist(), rank.tolist(), stability.tolist(),
        n_eff.tolist(), n_orders.tolist(), contributions.tolist(), _or_none(points),
        _or_none(raw))
    out = []
    for c in range(len(contexts)):
        scores = []
        for i, lp in enumerate(block.lps(c)):
            scores.append(LpScore(
                lp=lp, score=score_[c][i], ci_low=low_[c][i], ci_high=high_[c][i],
                rank=rank_[c][i], rank_stability=stability_[c][i],
                provisional=provisional[c][i], n_orders=int(n_orders_[c][i]),
                n_eff=n_eff_[c][i], contributions=dict(zip(names, parts[c][i], strict=True)),
                kpis=dict(zip(names, kpis[c][i], strict=True)),
                raw_kpis=dict(zip(names, raws[c][i], strict=True)),
            ))
        out.append(sorted(scores, key=lambda s: (s.rank, s.lp)))
    return out


def _or_none(values: Array) -> list[Any]:
    """``values.tolist()`` with None for NaN."""
    cells = values.astype(object)
    cells[np.isnan(values)] = None
    out: list[Any] = cells.tolist()
    return out


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


def _total(values: Array, weights: npt.ArrayLike, better: Sequence[int], method: str,
           floors: Sequence[float], reference: Array) -> Array:
    """``composite(np.moveaxis(values, 0, -1), ...).sum(axis=-1)`` for values shaped
    ``(kpis, ...)``, the same numbers, without holding every KPI's points at once: a sum
    over fewer than 8 terms adds them in order, as numpy does."""
    w = np.asarray(weights, dtype=np.float64)
    if values.shape[0] >= 8:       # numpy sums 8 or more pairwise
        summed: Array = composite(np.moveaxis(values, 0, -1), w, better, method, floors,
                                  reference=reference).sum(axis=-1)
        return summed
    total: Array | None = None
    for j in range(values.shape[0]):
        points = normalize(values[j], better[j], method, floors[j],
                           reference=reference[..., j])
        np.multiply(points, w[j], out=points)
        if total is None:
            total = points
        else:
            np.add(total, points, out=total)
    assert total is not None
    return total


def _ranks(score: Array) -> npt.NDArray[np.int64]:
    """Competition ranks along the last axis: 1 for the highest, ties share the better rank."""
    rank = np.ones(score.shape, dtype=np.int64)
    for j in range(score.shape[-1]):
        rank += score[..., j:j + 1] > score
    return rank


def _values(block: _Block, spec: KpiSpec, part: str) -> Array:
    if spec.kind == "rate_diff":
        a, b = spec.parts
        return block.column(f"{a}.{part}") - block.column(f"{b}.{part}")
    return block.column(f"{spec.name}.{part}")


def _draws(block: _Block, specs: Sequence[KpiSpec], profile: Profile,
           contexts: Sequence[Mapping[str, Any]]) -> Array:
    """Posterior draws of every KPI, shaped (kpis, draws, contexts, lps); NaN where no
    estimate and in padding. Each context draws from its own generator, seeded by the
    profile's seed and the context, in KPI order (a difference: its first rate, then its
    second), so its draws do not depend on the other contexts scored with it."""
    n = profile.draws
    calls: list[tuple[str, str]] = []         # (kind, estimate name), in drawing order
    for spec in specs:
        if spec.kind == "rate_diff":
            calls += [("rate", spec.parts[0]), ("rate", spec.parts[1])]
        else:
            calls.append(("rate" if spec.kind == "rate" else "normal", spec.name))
    params = [_rate_params(block, name) if kind == "rate" else None for kind, name in calls]
    shape = block.mask.shape
    drawn = np.full((len(calls), n, *shape), np.nan)
    for c, context in enumerate(contexts):
        rng = np.random.default_rng([profile.seed, zlib.crc32(repr(sorted(
            (k, str(v)) for k, v in context.items())).encode())])
        size = block.sizes[c]
        for j, param in enumerate(params):
            if param is None:
                drawn[j, :, c, :size] = rng.standard_normal((n, size))
            else:
                a, b = param[0][c, :size], param[1][c, :size]
                drawn[j, :, c, :size] = rng.beta(a, b, size=(n, size))
    out: list[Array] = []     # NaN stays NaN: padding needs no mask
    for j, (kind, name) in enumerate(calls):
        if kind == "normal":
            mean = block.column(f"{name}.x")
            strength = block.column(f"{name}.N")
            var = np.nan_to_num(block.column(f"{name}.s2"))
            with np.errstate(divide="ignore", invalid="ignore"):
                sd = np.where(strength > 0, np.sqrt(var / strength), 0.0)
            out.append(mean + sd * drawn[j])
        else:
            rate, known = _rate_known(block, name)
            out.append(np.where(known, drawn[j], rate))
    by_spec = []
    k = 0
    for spec in specs:
        if spec.kind == "rate_diff":
            by_spec.append(out[k] - out[k + 1])
            k += 2
        else:
            by_spec.append(out[k])
            k += 1
    return np.stack(by_spec)


def _rate_known(block: _Block, name: str) -> tuple[Array, npt.NDArray[np.bool_]]:
    rate = block.column(f"{name}.x")
    strength = block.column(f"{name}.N")
    return rate, ~np.isnan(rate) & (strength > 0)


def _rate_params(block: _Block, name: str) -> tuple[Array, Array]:
    """The Beta parameters a rate is drawn from; ``Beta(1, 1)`` (drawn, then replaced by
    the estimate) where it has no evidence."""
    rate, known = _rate_known(block, name)
    strength = block.column(f"{name}.N")
    p = np.clip(np.nan_to_num(rate), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        a = np.maximum(p * strength, TINY)
        b = np.maximum((1.0 - p) * strength, TINY)
    return np.where(known, a, 1.0), np.where(known, b, 1.0)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else value
