"""Composite LP scores: estimates shrunk down the context hierarchy, normalised across the
LPs of a context, weighed by a strategy profile, with intervals and contributions.

    specs = catalog(result.horizons)
    profile = load_profile("block", specs)
    card = score_result(result, profile, specs, {"symbol": "ACME"})
    card.scores[0].lp, card.scores[0].score, card.scores[0].contributions

docs/scoring.md has the method and the JSON contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lpscore.errors import InputError
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult
from lpscore.scoring.catalog import KpiSpec, catalog, config_catalog
from lpscore.scoring.composite import LpScore, Scorecard, score_contexts, score_levels
from lpscore.scoring.profiles import BUILTIN, Profile, load_profile
from lpscore.stats.table import Stats

__all__ = ["BUILTIN", "KpiSpec", "LpScore", "Profile", "Scorecard", "catalog", "config_catalog",
           "context_keys", "load_profile", "no_orders_in", "score_contexts", "score_levels",
           "score_result"]


def context_keys(context: Mapping[str, str], order: Sequence[str]) -> list[str]:
    """The keys of ``context`` from coarse to fine in hierarchy ``order``."""
    unknown = sorted(set(context) - set(order))
    if unknown:
        raise InputError(f"--context: unknown key(s) {', '.join(unknown)}; use "
                         f"{', '.join(order)}")
    return [k for k in order if k in context]


def score_result(result: KpiResult, profile: Profile, specs: Mapping[str, KpiSpec],
                 context: Mapping[str, str], order: Sequence[str]) -> Scorecard:
    """The scorecard of one context (``{}``: every LP over all its orders)."""
    keys = context_keys(context, order)
    stats = kpi_stats(result, ["lp", *keys], decay=profile.decay)
    cards = score_contexts(stats, profile, specs, keys,
                           where={k: str(context[k]) for k in keys})
    if cards:
        return cards[0]
    raise no_orders_in(context, keys, stats)


def no_orders_in(context: Mapping[str, str], keys: Sequence[str], stats: Stats) -> InputError:
    """The error of a context that ``stats`` (keyed by ``keys``) holds no orders of: the
    contexts that have some, or that the input has none at all."""
    if stats.sums.is_empty():
        return InputError("no child orders (NewOrderSingle) in the input: nothing to score; "
                          "the quarantine says what was not read")
    present = sorted({", ".join(f"{k}={v}" for k, v in zip(keys, row, strict=True))
                      for row in stats.sums.select(keys).iter_rows()}) if keys else []
    shown = "; ".join(present[:10]) + (" ..." if len(present) > 10 else "")
    return InputError(f"no orders in context {dict(context)}; contexts with orders: "
                      f"{shown or 'none'}")
