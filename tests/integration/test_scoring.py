"""Composite scores end to end: known truth, thin data, weights, shrinkage, decay, merging."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from kpi_builders import Tape, quotes
from lp_truth import LpTruth, simulate
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats, summarize
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.publish.publisher import HIERARCHY, capacities
from lpscore.quarantine import Quarantine
from lpscore.scoring import (
    BUILTIN,
    Profile,
    Scorecard,
    catalog,
    score_contexts,
    score_levels,
    score_result,
)
from lpscore.scoring.composite import composite
from lpscore.stats.table import Decay

# Four archetypes whose true composite scores differ by >= 6 points under every built-in
# profile (robust-z across the four), each profile with a different winner.
FAST = LpTruth("FAST", fill_prob=0.82, ack_ms=0.7, pi_bps=0.3, impact_bps=2.0)
BLOCK = LpTruth("BLOCK", fill_prob=0.97, ack_ms=37.0, pi_bps=0.4, impact_bps=0.4)
PRICE = LpTruth("PRICE", fill_prob=0.82, ack_ms=22.0, pi_bps=2.1, impact_bps=1.9)
MID = LpTruth("MID", fill_prob=0.90, ack_ms=20.0, pi_bps=0.65, impact_bps=1.2)
ARCHETYPES = (FAST, BLOCK, PRICE, MID)
WINNER = {"hft": "FAST", "block": "BLOCK", "best_price": "PRICE"}


def kpis_of(lps: tuple[LpTruth, ...], orders: int | dict[str, int], seed: int) -> KpiResult:
    events, book = simulate(lps, orders, seed=seed)
    return compute_kpis(events, book, Config(), Quarantine())


def card(result: KpiResult, profile: str | Profile, **context: str) -> Scorecard:
    specs = catalog(result.horizons)
    chosen = BUILTIN[profile] if isinstance(profile, str) else profile
    return score_result(result, chosen, specs, context, CONTEXT_KEYS)


def truth_ranking(profile: Profile, lps: tuple[LpTruth, ...]) -> list[str]:
    specs = catalog(["5s"])
    value = {"ack_latency_ms_p50": lambda t: t.ack_ms, "fill_rate": lambda t: t.fill_prob,
             "pi_bps": lambda t: t.pi_bps, "impact_bps_5s": lambda t: t.impact_bps}
    kpis = list(profile.weights)
    points = np.array([[value[k](t) for k in kpis] for t in lps])
    score = composite(points, [profile.weights[k] for k in kpis], [specs[k].better for k in kpis],
                      profile.normalization, [specs[k].mad_floor for k in kpis]).sum(axis=-1)
    return [lps[i].name for i in np.argsort(-score)]


@pytest.fixture(scope="module")
def archetypes() -> KpiResult:
    return kpis_of(ARCHETYPES, 500, seed=0)


@pytest.mark.parametrize("profile", list(BUILTIN))
def test_each_builtin_profile_ranks_as_the_truth_implies(archetypes: KpiResult,
                                                         profile: str) -> None:
    expected = truth_ranking(BUILTIN[profile], ARCHETYPES)
    scored = card(archetypes, profile)
    assert [s.lp for s in scored.scores] == expected
    assert expected[0] == WINNER[profile]
    assert [s.rank for s in scored.scores] == [1, 2, 3, 4]
    for s in scored.scores:
        assert not s.provisional
        assert s.n_orders == 500
        assert 0.0 <= s.ci_low <= s.score <= s.ci_high <= 100.0
        assert s.ci_high - s.ci_low < 15.0
        assert sum(s.contributions.values()) == pytest.approx(s.score, abs=1e-9)
    assert scored.scores[0].rank_stability > 0.9


def test_fast_and_worst_priced_moves_up_under_hft_down_under_best_price(
        archetypes: KpiResult) -> None:
    rank = {p: {s.lp: s.rank for s in card(archetypes, p).scores} for p in BUILTIN}
    assert rank["hft"]["FAST"] < rank["best_price"]["FAST"]
    assert rank["best_price"]["PRICE"] < rank["hft"]["PRICE"]
    heavier = dataclasses.replace(BUILTIN["best_price"], name="latency_only",
                                  weights={"ack_latency_ms_p50": 1.0})
    assert card(archetypes, heavier).scores[0].lp == "FAST"


def test_an_lp_with_five_orders_is_provisional_and_its_interval_wide() -> None:
    result = kpis_of(ARCHETYPES, {"FAST": 500, "BLOCK": 500, "PRICE": 5, "MID": 500}, seed=1)
    scored = {s.lp: s for s in card(result, "best_price").scores}
    thin = scored["PRICE"]
    assert thin.provisional
    assert thin.n_orders == 5
    widths = {lp: s.ci_high - s.ci_low for lp, s in scored.items()}
    assert widths["PRICE"] > 20.0
    assert widths["PRICE"] > 2 * max(w for lp, w in widths.items() if lp != "PRICE")
    assert not any(s.provisional for lp, s in scored.items() if lp != "PRICE")
    # shrunk toward coarser levels: its PI lies between its own and all LPs' pooled value
    own, shrunk = thin.raw_kpis["pi_bps"], thin.kpis["pi_bps"]
    assert own is not None and shrunk is not None
    assert 0.3 < shrunk < own


def _two_lp_tape() -> pl.DataFrame:
    """LP_A: 2 orders in X (one filled, one rejected) and 8 filled in Y; LP_B: 10 filled in X.
    Every order 100 shares."""
    tape = Tape()
    ms = 0.0
    for lp, symbol, n, filled in (("LP_A", "X", 1, True), ("LP_A", "X", 1, False),
                                  ("LP_A", "Y", 8, True), ("LP_B", "X", 10, True)):
        for _ in range(n):
            ms += 1000
            cl = f"{lp}-{ms:.0f}"
            tape.order(lp, cl, symbol, 1, 100, ms)
            tape.ack(lp, cl, ms + 1)
            if filled:
                tape.fill(lp, cl, ms + 2, 100, 10.0)
            else:
                tape.reject(lp, cl, ms + 2)
    return tape.events()


def test_shrinkage_chain_by_hand() -> None:
    result = compute_kpis(_two_lp_tape(), quotes([]), Config(), Quarantine())
    profile = Profile("fill", {"fill_rate": 1.0}, decay=None, shrinkage=20.0)
    scored = {s.lp: s for s in card(result, profile, symbol="X").scores}
    pooled = 19 / 20
    lp_a = (9 + 20 * pooled) / (10 + 20)           # LP_A over X and Y: 9 of 10 filled
    lp_a_x = (1 + 20 * lp_a) / (2 + 20)            # LP_A in X: 1 of 2
    lp_b = (10 + 20 * pooled) / (10 + 20)
    lp_b_x = (10 + 20 * lp_b) / (10 + 20)
    assert scored["LP_A"].kpis["fill_rate"] == pytest.approx(lp_a_x, abs=1e-12)
    assert scored["LP_A"].raw_kpis["fill_rate"] == pytest.approx(0.5, abs=1e-12)
    assert scored["LP_B"].kpis["fill_rate"] == pytest.approx(lp_b_x, abs=1e-12)
    # two LPs under robust-z: median halfway, MAD half the gap -> z = +-1/1.4826
    assert scored["LP_B"].score == pytest.approx(100 / (1 + np.exp(-1 / 1.4826)), abs=1e-9)
    assert scored["LP_A"].score == pytest.approx(100 - scored["LP_B"].score, abs=1e-9)
    assert scored["LP_A"].n_orders == 2
    assert scored["LP_A"].provisional and scored["LP_B"].provisional  # < 30 orders


def test_no_shrinkage_uses_own_values() -> None:
    result = compute_kpis(_two_lp_tape(), quotes([]), Config(), Quarantine())
    profile = Profile("fill", {"fill_rate": 1.0}, decay=None, shrinkage=0.0)
    scored = {s.lp: s for s in card(result, profile, symbol="X").scores}
    assert scored["LP_A"].kpis["fill_rate"] == 0.5
    assert scored["LP_B"].kpis["fill_rate"] == 1.0


def test_identical_data_gives_identical_scores() -> None:
    twin = LpTruth("TWIN", MID.fill_prob, MID.ack_ms, MID.pi_bps, MID.impact_bps)
    events, book = simulate((FAST, MID), 200, seed=3)
    mid = events.filter(pl.col("lp") == "MID")
    copy = mid.with_columns(
        pl.col(c).str.replace_all("MID", twin.name) for c in ("lp", "session", "sender",
                                                               "target"))
    result = compute_kpis(pl.concat([events, copy]), book, Config(), Quarantine())
    for profile in BUILTIN:
        scored = {s.lp: s for s in card(result, profile).scores}
        assert scored["TWIN"].score == pytest.approx(scored["MID"].score, abs=1e-9)
        assert scored["TWIN"].contributions == pytest.approx(scored["MID"].contributions,
                                                             abs=1e-9)
        assert scored["TWIN"].rank == scored["MID"].rank


@pytest.mark.parametrize("decay", [None, Decay(3_600e9), Decay(50, clock="orders")])
def test_scores_from_merged_partial_stats_equal_batch_scores(archetypes: KpiResult,
                                                            decay: Decay | None) -> None:
    orders = archetypes.orders.sort("t_send", "child_id")
    cut = orders["t_send"][orders.height // 3]
    early = orders.filter(pl.col("t_send") < cut)["child_id"].implode()
    keys = ["lp", "symbol", "size_bucket"]
    parts = []
    for first, mask in ((0, pl.col("child_id").is_in(early)),
                        (early.list.len()[0], ~pl.col("child_id").is_in(early))):
        part = dataclasses.replace(archetypes, orders=archetypes.orders.filter(mask),
                                   fills=archetypes.fills.filter(mask))
        parts.append(kpi_stats(part, keys, decay=decay, first_order=first))
    merged = parts[0].merge(parts[1])
    whole = kpi_stats(archetypes, keys, decay=decay)
    assert merged.t_ref == whole.t_ref
    specs = catalog(archetypes.horizons)
    profile = dataclasses.replace(BUILTIN["block"], decay=decay)
    for a, b in zip(score_contexts(merged, profile, specs, ["symbol", "size_bucket"]),
                    score_contexts(whole, profile, specs, ["symbol", "size_bucket"]),
                    strict=True):
        assert a.context == b.context
        for x, y in zip(a.scores, b.scores, strict=True):
            assert x.lp == y.lp
            assert x.score == pytest.approx(y.score, abs=1e-9)
            assert x.ci_low == pytest.approx(y.ci_low, abs=1e-9)
            assert x.n_eff == pytest.approx(y.n_eff, rel=1e-12)
            assert x.kpis == pytest.approx(y.kpis, rel=1e-9)


def test_recent_behaviour_counts_most() -> None:
    """An LP that turns bad late scores lower with a short half-life than undecayed."""
    good = LpTruth("LP_X", 0.98, 5.0, 1.0, 0.5)
    events, book = simulate((good, MID), 300, seed=5)
    late = events["ts_recv"].min() + timedelta(hours=1)
    # after the first hour LP_X rejects everything it acked (its fills become rejects)
    turned = events.with_columns(
        pl.when((pl.col("lp") == "LP_X") & (pl.col("ts_recv") > late)
                & (pl.col("exec_type") == "F"))
        .then(pl.lit("8")).otherwise(pl.col("exec_type")).alias("exec_type"),
        pl.when((pl.col("lp") == "LP_X") & (pl.col("ts_recv") > late)
                & (pl.col("exec_type") == "F"))
        .then(pl.lit("8")).otherwise(pl.col("ord_status")).alias("ord_status"))
    result = compute_kpis(turned, book, Config(), Quarantine())
    fill_only = {"fill_rate": 1.0}
    undecayed = Profile("f", fill_only, decay=None)
    recent = Profile("f", fill_only, decay=Decay(600e9))
    by_orders = Profile("f", fill_only, decay=Decay(30, clock="orders"))
    raw = {s.lp: s for s in card(result, undecayed).scores}["LP_X"]
    for decayed in (recent, by_orders):
        now = {s.lp: s for s in card(result, decayed).scores}["LP_X"]
        assert now.kpis["fill_rate"] is not None and raw.kpis["fill_rate"] is not None
        assert now.kpis["fill_rate"] < raw.kpis["fill_rate"] - 0.1
        assert now.n_eff < raw.n_eff / 3
        assert now.n_orders == raw.n_orders


def test_all_levels_at_once_equal_each_level_scored_alone(archetypes: KpiResult) -> None:
    specs = catalog(archetypes.horizons)
    profile = BUILTIN["hft"]
    chain = ["symbol", "size_bucket", "vol_regime"]
    together = score_levels(kpi_stats(archetypes, ["lp", *chain], decay=profile.decay),
                            profile, specs, chain)
    alone = [card for depth in range(len(chain) + 1)
             for card in score_contexts(kpi_stats(archetypes, ["lp", *chain[:depth]],
                                                  decay=profile.decay),
                                        profile, specs, chain[:depth])]
    assert [c.context for c in together] == [c.context for c in alone]
    assert len({len(c.context) for c in together}) == len(chain) + 1
    for a, b in zip(together, alone, strict=True):
        assert [s.lp for s in a.scores] == [s.lp for s in b.scores]
        for x, y in zip(a.scores, b.scores, strict=True):
            assert x.score == pytest.approx(y.score, abs=1e-9)
            assert x.ci_high == pytest.approx(y.ci_high, abs=1e-9)
            assert x.n_orders == y.n_orders


def test_published_capacity_is_the_lps_fill_rate_and_filled_size(archetypes: KpiResult
                                                                  ) -> None:
    """Without decay, the capacity a router sizes sprays by is the KPI table's fill rate and
    the filled quantity per terminal order of the orders table, at every level."""
    stats = kpi_stats(archetypes, ["lp", *HIERARCHY])
    capacity = capacities(stats, HIERARCHY)
    table = summarize(kpi_stats(archetypes, ["lp"]), archetypes.horizons)
    orders = archetypes.orders.filter(pl.col("terminal"))
    for row in table.iter_rows(named=True):
        mine = orders.filter(pl.col("lp") == row["lp"])
        got = capacity["*"][row["lp"]]
        assert got["fill_rate"] == pytest.approx(row["fill_rate"], rel=1e-12)
        assert got["filled_qty_per_order"] == pytest.approx(
            mine["filled_qty"].sum() / mine.height, rel=1e-12)
        assert got["n_terminal"] == mine.height
    symbol = next(iter(k for k in capacity if k.startswith("symbol=") and k.count(",") == 0))
    assert set(capacity[symbol]) <= set(table["lp"])
