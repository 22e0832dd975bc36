"""Bad scenario files stop with a ConfigError that names the key and the fix, before anything
runs: never a traceback from deep in the run (a KeyError, an OverflowError, a MemoryError)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from clirun import lpscore, strict_loads
from lpscore.errors import ConfigError
from lpscore.jsonout import strict_json
from lpscore.sim.bench import bench_routing
from lpscore.sim.loop import Simulation
from lpscore.sim.scenario import Background, ParentSpec, load_scenario

BASE = """\
name = "base"
duration_s = 120
rescore_every_s = 30

[background]
every_s = 5
qty = 500

[[orders]]
side = "buy"
qty = 5000
start_s = 10
window_s = 60
slice_every_s = 10

[[lps]]
name = "LP_A"

[[lps]]
name = "LP_B"
"""


def scenario_file(tmp_path: Path, old: str = "", new: str = "", name: str = "s.toml") -> Path:
    assert old in BASE
    path = tmp_path / name
    path.write_text(BASE.replace(old, new, 1) if old else BASE, encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    # each was a traceback at run time (ValueError, KeyError, OverflowError, MemoryError)
    ("qty = 500\n", "qty = 0\n", r"background: qty = 0: give a quantity > 0"),
    ("qty = 500\n", 'qty = 500\ntime_in_force = "forever"\n',
     r"background: time_in_force = 'forever': use one of day, ioc, fok, gtc"),
    ('name = "base"', 'name = "base"\nseed = -3', r"seed = -3: use a seed >= 0"),
    ('name = "base"', 'name = "base"\nstart = "9999-12-31T23:59:00+00:00"',
     r"start = '9999-12-31T23:59:00\+00:00' .*must lie between 1678-01-01 and 2262-04-11"),
    ('name = "base"', 'name = "base"\nstart = "0001-01-01T00:00:00+00:00"',
     r"must lie between 1678-01-01 and 2262-04-11"),
    ('name = "base"', 'name = "base"\ndraws = 1000000000',
     r"draws = 1000000000: use 10 to 100,000"),
    # accepted silently before
    ("every_s = 5", "every_s = -5", r"background: every_s = -5: .* or 0 for no background"),
    ("slice_every_s = 10", 'slice_every_s = 10\ntime_in_force = "forever"',
     r"orders: time_in_force = 'forever': use one of day, ioc, fok, gtc"),
])
def test_a_bad_value_names_the_key_and_the_valid_values(tmp_path: Path, old: str, new: str,
                                                        message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_scenario(scenario_file(tmp_path, old, new))


def test_every_time_in_force_the_router_can_send_is_accepted(tmp_path: Path) -> None:
    for tif in ("day", "ioc", "fok", "gtc"):
        scenario = load_scenario(scenario_file(
            tmp_path, "slice_every_s = 10", f'slice_every_s = 10\ntime_in_force = "{tif}"'))
        assert scenario.orders[0].time_in_force == tif
    assert Background(every_s=0.0).every_s == 0.0      # off: still valid
    with pytest.raises(ConfigError, match="time_in_force = 'GTC'"):
        ParentSpec(side="buy", qty=100.0, time_in_force="GTC")


def test_an_unknown_profile_names_the_scenario_key_and_file_not_an_option(
        tmp_path: Path) -> None:
    path = scenario_file(tmp_path, 'name = "base"', 'name = "base"\nprofile = "nope"')
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert f"scenario {path}: profile = 'nope'" in message and "--profile" not in message
    assert "hft, block, best_price" in message
    # a scenario built in code: the simulation names its key too
    built = dataclasses.replace(load_scenario(scenario_file(tmp_path)), profile="nope")
    with pytest.raises(ConfigError, match=r"scenario base: profile = 'nope'"):
        Simulation(built)


def test_a_file_that_cannot_be_read_is_a_config_error(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin.toml: not UTF-8 text .*save it as UTF-8"):
        load_scenario(latin)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"folder.toml: a folder; give a scenario file"):
        load_scenario(folder)


def test_bench_routing_refuses_a_scenario_without_orders(tmp_path: Path) -> None:
    no_orders = BASE[:BASE.index("[[orders]]")] + BASE[BASE.index("[[lps]]"):]
    path = tmp_path / "tiny.toml"
    path.write_text(no_orders, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scenario base has no \[\[orders\]\]: .*add an "):
        bench_routing(load_scenario(path), [1, 2], ["uniform"])
    done = lpscore("bench-routing", "--scenario", path, "--seeds", "2", "--jobs", "1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "has no [[orders]]" in done.stderr


def test_bench_routing_refuses_an_empty_policy_list() -> None:
    done = lpscore("bench-routing", "--policies", " , ", "--seeds", "2")
    assert done.returncode == 2, done.stdout          # ran nothing and exited 0
    assert "names no policy" in done.stderr


def test_strict_json_writes_null_for_nan() -> None:
    text = strict_json({"a": math.nan, "b": [1.0, math.inf, (-math.inf, 2)], "c": "x"})
    assert strict_loads(text) == {"a": None, "b": [1.0, None, [None, 2]],
                                                       "c": "x"}
