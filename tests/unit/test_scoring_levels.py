"""score_levels: contexts scored together give what each gives alone, and ``only`` keeps
the right contexts with the numbers of a full run (what a stream's partial publish relies
on, docs/stream.md)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lp_truth import LpTruth, simulate
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis
from lpscore.quarantine import Quarantine
from lpscore.scoring import BUILTIN, Profile, Scorecard, catalog, score_levels
from lpscore.scoring import composite as composite_module
from lpscore.scoring.composite import _total, composite
from lpscore.stats.table import Stats

KEYS = ["symbol", "size_bucket", "vol_regime"]
LPS = (LpTruth("A", fill_prob=0.9, ack_ms=5.0, pi_bps=0.5, impact_bps=1.0),
       LpTruth("B", fill_prob=0.8, ack_ms=9.0, pi_bps=1.5, impact_bps=0.5),
       LpTruth("C", fill_prob=0.95, ack_ms=20.0, pi_bps=0.2, impact_bps=2.0))


@pytest.fixture(scope="module")
def stats() -> Stats:
    """Two symbols, LP C trading only one of them (contexts of different widths)."""
    parts = []
    for symbol, lps, seed in (("ACME", LPS, 1), ("BETA", LPS[:2], 2)):
        events, quotes = simulate(lps, 40, seed=seed, symbol=symbol)
        result = compute_kpis(events, quotes, Config(), Quarantine())
        parts.append(kpi_stats(result, ["lp", *KEYS], decay=BUILTIN["block"].decay))
    return parts[0].merge(parts[1])


def json_of(cards: list[Scorecard]) -> dict[str, object]:
    return {repr(sorted(c.context.items())): c.to_json() for c in cards}


@pytest.mark.parametrize("name", ["block", "hft"])
def test_chunks_of_contexts_score_as_each_context_alone(
        stats: Stats, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = catalog(["1s", "5s"])
    profile = BUILTIN[name]
    together = json_of(score_levels(stats, profile, specs, KEYS))
    assert len({len(c["scores"]) for c in together.values()}) > 1   # padding exercised
    monkeypatch.setattr(composite_module, "_CHUNK_ELEMENTS", 1)     # one context a pass
    assert json_of(score_levels(stats, profile, specs, KEYS)) == together


def test_only_keeps_the_path_to_a_context_and_what_lies_under_it(stats: Stats) -> None:
    specs = catalog(["1s", "5s"])
    profile: Profile = dataclasses.replace(BUILTIN["block"], normalization="rank")
    full = json_of(score_levels(stats, profile, specs, KEYS))
    finest = next(tuple(c["context"][k] for k in KEYS) for c in full.values()
                  if c["context"].get("symbol") == "ACME" and len(c["context"]) == 3)
    path = json_of(score_levels(stats, profile, specs, KEYS, only={finest}))
    assert [len(json_of_key) for json_of_key in path] and sorted(
        len(c["context"]) for c in path.values()) == [0, 1, 2, 3]
    for key, card in path.items():
        assert card == full[key]                          # the numbers of a full run
        assert tuple(card["context"].values()) == finest[:len(card["context"])]
    under = json_of(score_levels(stats, profile, specs, KEYS, only={("BETA",)}))
    want = {k: c for k, c in full.items()
            if c["context"].get("symbol", "BETA") == "BETA"}
    assert under == want
    assert json_of(score_levels(stats, profile, specs, KEYS, only=set())) == {
        k: c for k, c in full.items() if not c["context"]}


@pytest.mark.parametrize("kpis", [1, 3, 7, 8, 11])
def test_total_is_the_composite_summed(kpis: int) -> None:
    rng = np.random.default_rng(kpis)
    points = rng.normal(size=(5, 4, kpis))
    draws = points + rng.normal(size=(200, 5, 4, kpis))
    draws[:, 0, 2] = np.nan
    weights = rng.dirichlet(np.ones(kpis))
    better = [1 if j % 2 else -1 for j in range(kpis)]
    floors = [0.01] * kpis
    for method in ("robust_z", "minmax", "rank"):
        want = composite(draws, weights, better, method, floors, reference=points).sum(axis=-1)
        got = _total(np.moveaxis(draws, -1, 0), weights, better, method, floors,
                     reference=points)
        assert np.array_equal(got, want), method


def test_contexts_left_without_draws_keep_every_number_but_the_intervals(stats: Stats) -> None:
    """``draw`` False: the same scores, contributions, ranks and KPI values, intervals and
    rank stabilities NaN; the contexts drawn score to the bit as in a run that draws all."""
    specs = catalog(["1s", "5s"])
    profile = BUILTIN["block"]
    full = {repr(sorted(c.context.items())): c for c in score_levels(stats, profile, specs,
                                                                      KEYS)}
    asked: list[tuple[dict[str, object], list[str]]] = []

    def draw(context: object, lps: object) -> bool:
        asked.append((dict(context), list(lps)))  # type: ignore[call-overload]
        return context.get("symbol") == "BETA"  # type: ignore[attr-defined, no-any-return]

    cards = score_levels(stats, profile, specs, KEYS, draw=draw)
    assert len(asked) == len(cards) == len(full)
    assert [repr(sorted(c.context.items())) for c in cards] == list(full)  # same order
    for card in cards:
        want = full[repr(sorted(card.context.items()))]
        assert card.drawn == (card.context.get("symbol") == "BETA")
        if card.drawn:
            assert card.to_json() == want.to_json()
            continue
        for got, exp in zip(card.scores, want.scores, strict=True):
            assert (got.lp, got.score, got.rank, got.contributions, got.kpis, got.n_eff) == \
                (exp.lp, exp.score, exp.rank, exp.contributions, exp.kpis, exp.n_eff)
            assert np.isnan(got.ci_low) and np.isnan(got.ci_high)
            assert np.isnan(got.rank_stability)
    assert {tuple(lps) for _, lps in asked} >= {("A", "B", "C"), ("A", "B")}
