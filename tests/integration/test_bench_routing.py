"""The routing benchmark: scorecard routing against static and uniform routing on the same
seeds, and ``lpscore bench-routing``."""

from __future__ import annotations

import json
from pathlib import Path

from clirun import lpscore, strict_loads
from lpscore.sim.bench import bench_routing, interval
from lpscore.sim.scenario import load_scenario

SMALL = Path(__file__).parents[1] / "data" / "sim" / "small.toml"


def test_scorecard_routing_beats_static_and_uniform_on_shortfall() -> None:
    results = {r.name: r for r in bench_routing(load_scenario("default"), range(1, 13),
                                                ["static", "uniform", "primary"])}
    scorecard = results["primary"].runs
    for baseline in ("static", "uniform"):
        paired = [a.shortfall_bps - b.shortfall_bps  # type: ignore[operator]
                  for a, b in zip(scorecard, results[baseline].runs, strict=True)]
        diff = interval(paired)
        assert diff.ci_high < 0, (baseline, diff, paired)   # cheaper, and not by chance
    assert all(r.completed for r in scorecard)


def test_interval_covers_the_mean_of_a_known_sample() -> None:
    wide = interval([0.0, 10.0] * 20)
    assert wide.mean == 5.0 and 3.0 < wide.ci_low < 5.0 < wide.ci_high < 7.0
    flat = interval([2.0] * 10)
    assert (flat.mean, flat.ci_low, flat.ci_high) == (2.0, 2.0, 2.0)


def test_bench_routing_command_json() -> None:
    done = lpscore("bench-routing", "--seeds", "2", "--policies", "uniform,oracle", "--format",
                   "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    names = [p["name"] for p in payload["policies"]]
    assert names == ["uniform", "oracle"]
    for p in payload["policies"]:
        for key in ("shortfall_bps", "completion_s", "fill_pct", "regret_bps"):
            assert set(p[key]) == {"mean", "ci_low", "ci_high"}
    oracle = payload["policies"][1]
    assert oracle["regret_bps"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    bad = lpscore("bench-routing", "--policies", "magic")
    assert bad.returncode == 2 and "use some of" in bad.stderr


def test_bench_routing_json_is_strict_without_the_oracle() -> None:
    """No oracle, no regret: null in the JSON (it was NaN, which strict parsers refuse)."""
    done = lpscore("bench-routing", "--scenario", SMALL, "--seeds", "2", "--policies",
                   "primary", "--jobs", "1", "--format", "json")
    assert done.returncode == 0, done.stderr
    parsed = strict_loads(done.stdout)
    assert isinstance(parsed, dict)
    (primary,) = parsed["policies"]
    assert primary["regret_bps"] == {"mean": None, "ci_low": None, "ci_high": None}
    assert isinstance(primary["shortfall_bps"]["mean"], float)


def test_simulations_in_parallel_are_the_ones_run_one_after_the_other() -> None:
    scenario = load_scenario("default")
    alone = bench_routing(scenario, [1, 2], ["uniform", "primary"])
    together = bench_routing(scenario, [1, 2], ["uniform", "primary"], jobs=2)
    assert [r.name for r in together] == ["uniform", "primary"]
    for a, b in zip(alone, together, strict=True):
        assert a.to_json() == b.to_json()
        for x, y in zip(a.runs, b.runs, strict=True):
            assert (x.seed, x.to_json(), x.fix_log, x.decisions) == (
                y.seed, y.to_json(), y.fix_log, y.decisions)
            assert x.quotes.equals(y.quotes)


def test_the_table_names_every_policy_whole_on_an_80_column_terminal() -> None:
    done = lpscore("bench-routing", "--seeds", "2", "--policies",
                   "censored_greedy,censored_thompson", env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│ censored")]
    assert [row.split("│")[1].strip() for row in rows] == ["censored_greedy",
                                                          "censored_thompson"]
    assert "…" not in done.stdout   # both were "censored_…"
