"""score_dense equals score_levels on the same statistics (what a stream's publishes between
full ones rely on, docs/stream.md), and DenseStats sums parts the way Stats.merge_all and
Stats.rollup do."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import polars as pl
import pytest

from cards import assert_same_cards, close
from lp_truth import LpTruth, simulate
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis
from lpscore.publish.publisher import capacities, dense_capacities
from lpscore.quarantine import Quarantine
from lpscore.scoring import BUILTIN, Profile, catalog, score_levels
from lpscore.scoring.dense import score_dense
from lpscore.stats.dense import DenseStats
from lpscore.stats.sketch import sketch_quantiles
from lpscore.stats.table import Stats

KEYS = ["symbol", "size_bucket", "vol_regime"]
FINEST = ("lp", *KEYS)
SPECS = catalog(["1s", "5s"])
LPS = (LpTruth("A", fill_prob=0.9, ack_ms=5.0, pi_bps=0.5, impact_bps=1.0),
       LpTruth("B", fill_prob=0.8, ack_ms=9.0, pi_bps=1.5, impact_bps=0.5),
       LpTruth("C", fill_prob=0.6, ack_ms=20.0, pi_bps=0.2, impact_bps=2.0))


def parts_of(profile: Profile) -> list[Stats]:
    """Three parts, as three lanes hold them: different symbols, LP C in one only, each
    decayed to its own latest send time."""
    out = []
    for symbol, lps, seed, n in (("ACME", LPS, 1, 40), ("BETA", LPS[:2], 2, 30),
                                 ("GAMMA", LPS[1:], 3, 12)):
        events, quotes = simulate(lps, n, seed=seed, symbol=symbol)
        result = compute_kpis(events, quotes, Config(), Quarantine())
        out.append(kpi_stats(result, list(FINEST), decay=profile.decay))
    return out


@pytest.fixture(scope="module", params=["block", "hft", "undecayed"])
def case(request: pytest.FixtureRequest) -> tuple[Profile, list[Stats]]:
    if request.param == "undecayed":
        profile = dataclasses.replace(BUILTIN["block"], decay=None)
    else:
        profile = BUILTIN[request.param]
    return profile, parts_of(profile)


def dense_of(parts: list[Stats]) -> DenseStats:
    dense = DenseStats(FINEST, parts[0].decay)
    for i, part in enumerate(parts):
        dense.set_part(f"lane-{i}", part)
    return dense


def test_every_context_scores_as_score_levels(case: tuple[Profile, list[Stats]]) -> None:
    profile, parts = case
    total = Stats.merge_all(parts)
    dense = dense_of(parts)
    assert dense.t_ref == total.t_ref
    for draw in (None, lambda context, lps: len(context) % 2 == 0):
        assert_same_cards(score_dense(dense, profile, SPECS, KEYS, draw=draw),
                          score_levels(total, profile, SPECS, KEYS, draw=draw))


def test_only_scores_the_path_and_what_lies_under_it(case: tuple[Profile, list[Stats]]
                                                     ) -> None:
    profile, parts = case
    total = Stats.merge_all(parts)
    dense = dense_of(parts)
    finest = total.sums.filter(pl.col("symbol") == "BETA").select(KEYS).row(0)
    for only in ({finest}, {("ACME",)}, {finest, ("GAMMA",)}, set()):
        want = score_levels(total, profile, SPECS, KEYS, only=only)
        assert_same_cards(score_dense(dense, profile, SPECS, KEYS, only=only), want)
        got, expected = dense_capacities(dense, KEYS, only=only), capacities(total, KEYS,
                                                                             only=only)
        assert got.keys() == expected.keys() and expected
        for context, lps in expected.items():
            assert got[context].keys() == lps.keys()
            for lp, capacity in lps.items():
                for name, value in capacity.items():
                    close(got[context][lp][name], value, (context, lp, name))


def test_quantiles_and_sums_of_a_level_match_a_rollup(case: tuple[Profile, list[Stats]]
                                                      ) -> None:
    _, parts = case
    total = Stats.merge_all(parts)
    dense = dense_of(parts)
    for depth in (None, 0, 1, 2):
        keys = [] if depth is None else list(FINEST[:depth + 1])
        rolled = total.rollup(keys)
        level = dense.level(depth)
        assert level.groups == (rolled.sums.select(keys).rows() if keys else [()])
        for name in ("n_orders", "n_orders__w2", "n_orders__n", "ack_latency_ms__wx"):
            np.testing.assert_allclose(level.column(name), rolled.sums[name].to_numpy(),
                                       rtol=1e-12)
        want = sketch_quantiles(rolled.sketches.filter(pl.col("metric") == "ack_latency_ms"),
                                keys, [0.1, 0.5, 0.99])
        got = level.quantiles("ack_latency_ms", [0.1, 0.5, 0.99])
        rows = {r[:len(keys)]: r[len(keys) + 1:] for r in want.rows()}
        for group, values in zip(level.groups, got.tolist(), strict=True):
            expected = rows.get(group)
            if expected is None:
                assert all(math.isnan(v) for v in values)
            else:
                assert values == pytest.approx(list(expected), rel=1e-12)


def test_replacing_some_contexts_of_a_part_equals_building_it_anew(
        case: tuple[Profile, list[Stats]]) -> None:
    """``set_part(..., only=)`` swaps the rows of those contexts (a context that is gone
    loses its rows), keeps the part's other rows and takes the later reference time."""
    profile, parts = case
    first, second = parts[0], parts[1]
    contexts = first.sums.select(KEYS).unique().rows()
    changed, kept = set(contexts[::2]), set(contexts[1::2])
    dense = dense_of(parts)
    shifted = first if first.decay is None else first.decayed_to(first.t_ref + 10**9)
    fewer = set(list(changed)[1:])            # one context goes
    newer = dataclasses.replace(shifted, sums=_only(shifted.sums, fewer),
                                sketches=_only(shifted.sketches, fewer),
                                counts=_only(shifted.counts, fewer))
    dense.set_part("lane-0", newer, only=changed)
    rest = dataclasses.replace(first, sums=_only(first.sums, kept),
                               sketches=_only(first.sketches, kept),
                               counts=_only(first.counts, kept))
    want = Stats.merge_all([newer, rest, second, parts[2]])
    assert dense.t_ref == want.t_ref
    assert_same_cards(score_dense(dense, profile, SPECS, KEYS),
                      score_levels(want, profile, SPECS, KEYS))
    dense.drop_part("lane-1")
    assert_same_cards(score_dense(dense, profile, SPECS, KEYS),
                      score_levels(Stats.merge_all([newer, rest, parts[2]]), profile, SPECS,
                                   KEYS))
    assert "lane-1" not in dense.parts


def _only(frame: pl.DataFrame, contexts: set[tuple[Any, ...]]) -> pl.DataFrame:
    keep = [tuple(r) in contexts for r in frame.select(KEYS).rows()]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


def test_empty_and_mismatched_input() -> None:
    dense = DenseStats(FINEST, None)
    assert score_dense(dense, BUILTIN["block"], SPECS, KEYS) == []
    assert dense.level(0).groups == [] and dense.level(None).groups == []
    with pytest.raises(ValueError, match="expected"):
        score_dense(dense, BUILTIN["block"], SPECS, ["symbol"])
    with pytest.raises(ValueError, match="must start with lp"):
        DenseStats(("symbol", "lp"), None)
