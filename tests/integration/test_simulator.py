"""The closed loop: determinism, the scorecard recovering the simulated truth, the ACME
scenario, and ``lpscore simulate``."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from clirun import lpscore, strict_loads
from lpscore.config import Config, IngestConfig, RoutingConfig
from lpscore.errors import ConfigError
from lpscore.ingest import ingest_logs
from lpscore.kpi.aggregate import kpi_stats, summarize
from lpscore.kpi.engine import compute_kpis
from lpscore.publish.publisher import snapshots_of_stats
from lpscore.quarantine import Quarantine
from lpscore.sim.loop import SimResult, Simulation, leak_drift_bps
from lpscore.sim.lps import LpParams, expected_fill_rate
from lpscore.sim.market import MarketParams
from lpscore.sim.scenario import Background, Scenario, load_scenario
from realdata import AMZN_MESSAGES

SMALL = Path(__file__).parents[1] / "data" / "sim" / "small.toml"


def kpis_of(result: SimResult, tmp: Path, our: str = "DESK") -> pl.DataFrame:
    """The scorecard's per-LP KPI table from the simulator's FIX log and quotes only."""
    log = tmp / "fix.log"
    log.write_bytes(result.fix_log)
    quarantine = Quarantine()
    ingested = ingest_logs([log], IngestConfig(own_comp_ids=(our,)), quarantine)
    assert len(quarantine) == 0, quarantine.records[:3]
    kpis = compute_kpis(ingested.events, result.quotes, Config(), quarantine)
    return summarize(kpi_stats(kpis, ["lp"]), kpis.horizons)


def test_same_seed_same_fix_log_byte_for_byte() -> None:
    scenario = load_scenario(SMALL)
    first, again = Simulation(scenario).run(), Simulation(scenario).run()
    assert first.fix_log == again.fix_log and len(first.fix_log) > 10_000
    assert first.to_json() == again.to_json()
    other = Simulation(scenario, seed=4).run()
    assert other.fix_log != first.fix_log
    assert first.completed and 20_000 - 100 < first.filled_qty <= 20_000   # under a lot left


# Two lit LPs with known truth; all-or-nothing fills (unlimited liquidity), no impact and no
# jumps, so each LP's fill rate, ack latency and 5 s markout have closed forms.
TRUTH = (LpParams(name="LP_P", ack_ms=3.0, ack_sigma=0.4, fill_prob=0.8, pi_bps_mean=0.5,
                  pi_bps_sd=0.2),
         LpParams(name="LP_Q", ack_ms=12.0, ack_sigma=0.6, fill_prob=0.95, leak_bps=5.0,
                  leak_s=2.5))   # 2,000 shares leak 1 bps: 0.86 bps of it within 5 s
NET_MS = 0.2
QTY = 2_000


def test_scorecard_recovers_the_simulated_lps(tmp_path: Path) -> None:
    market = MarketParams(start_mid=100.0, tick=0.0001, half_spread_bps=2.5,
                          vol_bps_per_sqrt_s={"low": 1.0, "mid": 1.0, "high": 1.0},
                          jumps_per_hour=0.0, regime_switch_per_hour=0.0, impact_coef=0.0)
    scenario = Scenario(name="truth", duration_s=2_000, rescore_every_s=2_000, net_ms=NET_MS,
                        market=market, lps=TRUTH, background=Background(every_s=0.5, qty=QTY),
                        routing=RoutingConfig(reject_cooldown_s=0))  # every LP, all along
    result = Simulation(scenario, seed=11).run()
    table = kpis_of(result, tmp_path)
    for params in TRUTH:
        row = table.filter(pl.col("lp") == params.name).row(0, named=True)
        n = row["n_orders"]
        assert n > 1_800
        # fill rate: all or nothing, a binomial share
        p = expected_fill_rate(params, QTY)
        assert abs(row["fill_rate"] - p) < 3 * math.sqrt(p * (1 - p) / n), (params.name, row)
        # ack latency: lognormal around ack_ms, plus the network both ways; the sample
        # median's standard error is m * sigma * sqrt(pi / 2) / sqrt(n)
        median = params.ack_ms + 2 * NET_MS
        se = params.ack_ms * params.ack_sigma * math.sqrt(math.pi / 2) / math.sqrt(n)
        assert abs(row["ack_latency_ms_p50"] - median) < 3 * se + 0.01, (params.name, row)
        # 5 s markout: s * (mid(t + 5 s) - p) / m0: the price improvement minus the half
        # spread, plus the leak drift's build-up over 5 s; the random walk averages out
        truth = (params.pi_bps_mean - market.half_spread_bps
                 + leak_drift_bps(params.leak_bps, QTY, market.adv)
                 * (1 - math.exp(-5.0 / params.leak_s)))
        fills = row["n_fills"]
        se = math.sqrt(5.0 * 1.0 ** 2 + params.pi_bps_sd ** 2) / math.sqrt(fills)
        assert abs(row["markout_bps_5s"] - truth) < 3 * se + 0.05, (params.name, row, truth)


def test_acme_lp_a_degrades_the_router_moves_away_and_the_order_completes() -> None:
    result = Simulation(load_scenario("acme")).run()
    assert result.completed and result.completion_s is not None
    assert result.completion_s <= 1_800
    scores = pl.DataFrame(result.scores)
    a = scores.filter(pl.col("lp") == "LP_A")
    before = a.filter(pl.col("t_s").is_between(1_500, 2_100))["score"].mean()
    after = a.filter(pl.col("t_s") >= 3_000)["score"].mean()
    assert after < before - 10, (before, after)
    fills = pl.DataFrame([dataclasses.asdict(r) for r in result.timeline if r.what == "fill"])
    window = fills.filter(pl.col("t_s") >= 1_800)

    def share(frame: pl.DataFrame) -> float:
        return frame.filter(pl.col("lp") == "LP_A")["qty"].sum() / frame["qty"].sum()

    assert share(window.filter(pl.col("t_s") < 2_100)) > 0.4
    assert share(window.filter(pl.col("t_s") >= 2_400)) < 0.1
    assert set(result.fill_share) == {"LP_A", "LP_B", "LP_C", "LP_D"}
    assert result.fill_share["LP_C"] + result.fill_share["LP_D"] > 0.6


def test_every_decision_sees_every_message_received_before_it() -> None:
    """Scores after every fill: before each decision of the router under test, the live
    scorecard has taken every FIX message logged so far and published what changed."""
    sim = Simulation(load_scenario(SMALL))
    result = sim.run()
    assert len(sim.freshness) == len(result.decisions) > 5
    assert all(logged == taken for logged, taken in sim.freshness), sim.freshness
    assert sim.card.rescores >= len(result.decisions) // 2   # unchanged data: no publish
    first = result.decisions[0]
    assert first["parent"] == "P1S0" and first["symbol"] == sim.symbol
    assert first["qty"] == sum(c["qty"] for c in first["children"]) + first["unrouted"]
    assert {d["side"] for d in result.decisions} == {"buy"}


def test_simulate_command_writes_everything(tmp_path: Path) -> None:
    done = lpscore("simulate", "--scenario", SMALL, "--out", tmp_path, "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) >= {"completed", "completion_s", "filled_qty", "vwap", "arrival_mid",
                            "shortfall_bps", "fill_share", "scores", "fix_log"}
    assert payload["fix_log"] == str(tmp_path / "fix.log")
    # a buy: the fills' cost over the arrival mid, plus what was left valued at the mid when
    # the window closed (14:30 + 30 s + 80 s), over the order's value
    quotes = pl.read_parquet(tmp_path / "quotes.parquet", glob=False)
    close = quotes.filter(pl.col("ts") <= datetime(2024, 1, 2, 14, 31, 50, tzinfo=UTC))[-1]
    closing = (close["bid"].item() + close["ask"].item()) / 2
    arrival, qty, filled = payload["arrival_mid"], payload["qty"], payload["filled_qty"]
    expected = (filled * (payload["vwap"] - arrival) + (qty - filled) * (closing - arrival)
                ) / (qty * arrival) * 1e4
    assert payload["shortfall_bps"] == pytest.approx(expected, abs=0.01)
    for name in ("fix.log", "quotes.parquet", "timeline.csv", "result.json",
                 "kpis/report.html", "kpis/kpis.json"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "result.json").read_text()) == payload
    decisions = [json.loads(line) for line in
                 (tmp_path / "kpis" / "decisions.jsonl").read_text().splitlines()]
    assert decisions and all(d["policy"] and d["children"] is not None for d in decisions)


def test_simulate_json_is_strict_without_an_order(tmp_path: Path) -> None:
    """No [[orders]]: no arrival mid, written null (it was NaN, which strict parsers
    refuse), on stdout and in result.json."""
    text = SMALL.read_text()
    scenario = tmp_path / "flow.toml"
    scenario.write_text(text[:text.index("[[orders]]")] + text[text.index("[[lps]]"):])
    done = lpscore("simulate", "--scenario", scenario, "--out", tmp_path / "out", "--format",
                   "json")
    assert done.returncode == 0, done.stderr
    for payload in (done.stdout, (tmp_path / "out" / "result.json").read_text()):
        parsed = strict_loads(payload)
        assert isinstance(parsed, dict)
        assert parsed["arrival_mid"] is None and parsed["qty"] == 0


def test_scenario_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.read_text().replace('side = "buy"', 'side = "hold"'))
    with pytest.raises(ConfigError, match="use buy or sell"):
        load_scenario(bad)
    bad.write_text(SMALL.read_text().replace("slice_every_s = 10",
                                             'slice_every_s = 10\npolicy = "magic"'))
    with pytest.raises(ConfigError, match="use one of primary, spray"):
        load_scenario(bad)
    bad.write_text(SMALL.read_text().replace("duration_s = 120", "duraton_s = 120"))
    with pytest.raises(ConfigError, match="unknown key"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="bundled scenario"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="at least one"):
        dataclasses.replace(load_scenario(SMALL), lps=())
    acme = load_scenario("acme")    # an LP ranked that is not there was a KeyError mid-run
    with pytest.raises(ConfigError, match=r"static_ranking names LP_X, not among the"):
        dataclasses.replace(acme, routing=dataclasses.replace(
            acme.routing, static_ranking=("LP_A", "LP_X")))


def test_a_scenario_can_replay_real_quotes(tmp_path: Path) -> None:
    """The LOBSTER AMZN day as the market: the LPs quote around the real book."""
    text = SMALL.read_text().replace('symbol = "ACME"\nstart_mid = 50.0\ntick = 0.001',
                                     'symbol = "AMZN"')
    scenario_file = tmp_path / "replay.toml"
    scenario_file.write_text(f'replay = "{AMZN_MESSAGES.name}"\n' + text)
    for pair in (AMZN_MESSAGES, AMZN_MESSAGES.with_name(  # relative to the scenario file
            AMZN_MESSAGES.name.replace("message", "orderbook"))):
        (tmp_path / pair.name).symlink_to(pair)
    scenario = load_scenario(scenario_file)
    assert scenario.replay == str(tmp_path / AMZN_MESSAGES.name)
    result = Simulation(scenario).run()
    assert result.filled_qty > 0
    first = result.quotes.row(0, named=True)
    assert first["symbol"] == "AMZN" and 200 < first["bid"] < first["ask"] < 250
    assert 200 < (result.vwap or 0) < 250
    table = kpis_of(result, tmp_path)
    assert set(table["lp"]) == {"LP_A", "LP_B", "LP_D"}
    short = tmp_path / "long.toml"
    short.write_text(scenario_file.read_text().replace("duration_s = 120",
                                                       "duration_s = 100000"))
    with pytest.raises(ConfigError, match="cover"):
        Simulation(load_scenario(short))


def test_the_live_scorecard_publishes_what_the_batch_scorer_gives() -> None:
    """The simulator scores from arrays (``score_dense``); what it publishes equals
    ``snapshots_of_stats`` (Polars) on the same statistics: scores, contributions,
    intervals and capacities to 1e-9, ranks alike but for exact ties."""
    sim = Simulation(load_scenario(SMALL))
    sim.run()
    card = sim.card
    card._touched = {sim.symbol}         # every context of the symbol scored once more
    card.rescore(sim.now_ns)
    stats = card._processor.stats()
    assert stats is not None
    batch = snapshots_of_stats(stats, sim.profile, card._specs, now_ns=sim.now_ns,
                               only={(sim.symbol,)})
    assert len(batch) >= 10      # the LP level, the symbol and its size buckets x regimes
    for expected in batch:
        got = card.store.get(sim.profile.name, expected.context)
        assert got is not None, expected.context
        mine = {s["lp"]: s for s in got.scores}
        assert set(mine) == {s["lp"] for s in expected.scores}
        for want in expected.scores:
            have = mine[want["lp"]]
            for name in ("score", "ci_low", "ci_high", "n_eff", "rank_stability"):
                assert have[name] == pytest.approx(want[name], rel=1e-9, abs=1e-9), name
            for part in ("contributions", "kpis", "raw_kpis", "capacity"):
                for k, v in want[part].items():
                    assert have[part][k] == (v if v is None else pytest.approx(
                        v, rel=1e-9, abs=1e-9)), (part, k)
            tied = sum(abs(s["score"] - want["score"]) < 1e-9 for s in expected.scores) > 1
            assert tied or have["rank"] == want["rank"]
