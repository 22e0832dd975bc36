"""Scenarios as data: a TOML or YAML file names the market, the LPs, the parent orders and the
routing, so users write their own (docs/simulator.md).

    scenario = load_scenario("acme")            # bundled, or a path to a .toml/.yaml file

Unknown keys, wrong types and bad values stop before anything runs, with the key and the fix
(the same rules as lpscore.toml, lpscore.config.parse_section).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from lpscore.config import RoutingConfig, parse_section
from lpscore.errors import ConfigError
from lpscore.routing.fixout import TIF
from lpscore.routing.policies import POLICIES
from lpscore.scoring.profiles import BUILTIN, MAX_DRAWS, parse_duration
from lpscore.sim.lps import LpParams
from lpscore.sim.market import MarketParams

__all__ = ["BUNDLED", "FIRST_START", "LAST_END", "TIMES_IN_FORCE", "Background", "ParentSpec",
           "Scenario", "check_profile", "load_scenario"]

BUNDLED = ("acme", "default")
TIMES_IN_FORCE = tuple(TIF)
"""The ``time_in_force`` of an order: what the router can put in a FIX TimeInForce (59);
the simulated LPs keep gtc as a day order (docs/sim-lps.md)."""
FIRST_START = datetime(1678, 1, 1, tzinfo=UTC)
LAST_END = datetime(2262, 4, 11, tzinfo=UTC)
"""A run lies between these: times are nanoseconds since 1970 in 64 bits (1677-09-21 to
2262-04-11)."""


def _check_time_in_force(where: str, value: str) -> None:
    if value not in TIMES_IN_FORCE:
        raise ConfigError(f"{where}: time_in_force = {value!r}: use one of "
                          f"{', '.join(TIMES_IN_FORCE)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParentSpec:
    """A parent order worked by the router: sliced in time, each slice routed by ``policy``."""

    side: str
    qty: float
    start_s: float = 0.0
    """Seconds after the scenario start."""
    window_s: float = 1800.0
    """The order must complete within this many seconds."""
    slice_every_s: float = 30.0
    """A new slice every this many seconds: what is left over the slices left (catch-up)."""
    policy: str = "spray"
    time_in_force: str = "ioc"

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ConfigError(f"orders: side = {self.side!r}: use buy or sell")
        if not self.qty > 0 or not self.window_s > 0 or not self.slice_every_s > 0:
            raise ConfigError("orders: qty, window_s and slice_every_s must be > 0")
        if self.start_s < 0:
            raise ConfigError(f"orders: start_s = {self.start_s} must be >= 0")
        if self.policy not in POLICIES:
            raise ConfigError(f"orders: policy = {self.policy!r}: use one of "
                              f"{', '.join(POLICIES)}")
        _check_time_in_force("orders", self.time_in_force)


@dataclass(frozen=True, slots=True, kw_only=True)
class Background:
    """The desk's other flow: small orders, each to one LP chosen at random among the
    eligible, so every LP keeps being measured (off when ``every_s`` is 0)."""

    every_s: float = 0.0
    """Seconds between two orders; 0: no background flow."""
    qty: float = 500.0
    time_in_force: str = "ioc"

    def __post_init__(self) -> None:
        if not self.every_s >= 0:
            raise ConfigError(f"background: every_s = {self.every_s:g}: give the seconds "
                              "between two orders (> 0), or 0 for no background flow")
        if not self.qty > 0:
            raise ConfigError(f"background: qty = {self.qty:g}: give a quantity > 0 (or "
                              "every_s = 0 for no background flow)")
        _check_time_in_force("background", self.time_in_force)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    start: str = "2024-01-02T14:30:00+00:00"
    """ISO time of the simulation start (UTC if no offset)."""
    duration_s: float = 3600.0
    seed: int = 0
    profile: str = "block"
    """A built-in profile (hft, block, best_price) or a profile file."""
    half_life: str | None = None
    """Overrides the profile's decay half-life (``10m``): a session-long scenario needs a
    scorecard that forgets within the session to see an LP change."""
    rescore_every_s: float = 30.0
    """Simulated seconds between re-scorings from the FIX log so far."""
    draws: int = 200
    """Posterior draws per score interval (the profile's, 1,000 by default, cost time at
    every re-scoring; the router reads the point scores)."""
    net_ms: float = 0.2
    """One-way network latency between the router and every LP."""
    our_comp_id: str = "DESK"
    market: MarketParams = field(default_factory=MarketParams)
    replay: str | None = None
    """A quotes file (CSV, Parquet or LOBSTER) whose quotes of ``market.symbol`` the market
    replays instead of the synthetic process, shifted to ``start`` (a relative path is read
    from the scenario file's folder); our impact applies as in the synthetic market."""
    lps: tuple[LpParams, ...] = ()
    orders: tuple[ParentSpec, ...] = ()
    background: Background = field(default_factory=Background)
    routing: RoutingConfig = field(default_factory=RoutingConfig)

    def __post_init__(self) -> None:
        if not self.lps:
            raise ConfigError(f"scenario {self.name}: give at least one [[lps]] entry")
        names = [p.name for p in self.lps]
        if len(set(names)) != len(names):
            raise ConfigError(f"scenario {self.name}: LP names repeat ({', '.join(names)})")
        strangers = [lp for lp in self.routing.static_ranking if lp not in names]
        if strangers:   # the router would send the first orders to an LP that is not there
            raise ConfigError(f"scenario {self.name}: [routing] static_ranking names "
                              f"{', '.join(strangers)}, not among the [[lps]] "
                              f"({', '.join(names)}); rank only those")
        if self.seed < 0:
            raise ConfigError(f"scenario {self.name}: seed = {self.seed}: use a seed >= 0")
        if not 10 <= self.draws <= MAX_DRAWS:
            raise ConfigError(f"scenario {self.name}: draws = {self.draws}: use 10 to "
                              f"{MAX_DRAWS:,} (default 200)")
        if not self.duration_s > 0 or not self.rescore_every_s > 0 or self.net_ms < 0:
            raise ConfigError(f"scenario {self.name}: duration_s and rescore_every_s must be "
                              "> 0 and net_ms >= 0")
        for order in self.orders:
            if order.start_s + order.window_s > self.duration_s:
                raise ConfigError(f"scenario {self.name}: an order's window ends at "
                                  f"{order.start_s + order.window_s:g} s, after duration_s = "
                                  f"{self.duration_s:g}")
        start = self.start_ns
        if not (FIRST_START.timestamp() * 1e9 <= start
                and start + self.duration_s * 1e9 < LAST_END.timestamp() * 1e9):
            raise ConfigError(f"scenario {self.name}: start = {self.start!r} and duration_s = "
                              f"{self.duration_s:g}: the run must lie between "
                              f"{FIRST_START:%Y-%m-%d} and {LAST_END:%Y-%m-%d} (times are "
                              "nanoseconds since 1970 in 64 bits); give a start in that range")
        if self.half_life is not None:
            try:
                parse_duration(self.half_life)
            except ValueError as exc:
                raise ConfigError(f"scenario {self.name}: half_life: {exc}") from exc

    @property
    def start_ns(self) -> int:
        try:
            moment = datetime.fromisoformat(self.start)
        except ValueError as exc:
            raise ConfigError(f"scenario {self.name}: start = {self.start!r} is not an ISO "
                              "time such as 2024-01-02T14:30:00+00:00") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def load_scenario(spec: str | Path) -> Scenario:
    """A bundled scenario by name (``acme``, ``default``) or a .toml/.yaml file."""
    text: str
    where = str(spec)
    if isinstance(spec, str) and spec in BUNDLED:
        text = resources.files("lpscore.sim").joinpath(f"scenarios/{spec}.toml").read_text(
            encoding="utf-8")
        raw = tomllib.loads(text)
    else:
        path = Path(spec)
        if path.is_dir():
            raise ConfigError(f"--scenario {spec}: a folder; give a scenario file "
                              f"(.toml/.yaml) or a bundled name ({', '.join(BUNDLED)})")
        if not path.is_file():
            raise ConfigError(f"--scenario {spec}: neither a bundled scenario "
                              f"({', '.join(BUNDLED)}) nor an existing file")
        raw = _read(path)
    raw.setdefault("name", Path(where).stem)
    replay = raw.get("replay")
    if isinstance(replay, str) and not Path(replay).is_absolute() and not (
            isinstance(spec, str) and spec in BUNDLED):
        raw["replay"] = str(Path(spec).parent / replay)
    scenario = parse_section(Scenario, raw, f"scenario {where}")
    check_profile(scenario, f"scenario {where}")
    return scenario


def check_profile(scenario: Scenario, where: str) -> None:
    """ConfigError, naming the scenario key, when ``profile`` is neither a built-in profile
    nor a file (what ``load_profile`` reads; it would name a ``--profile`` option)."""
    spec = scenario.profile
    if spec in BUILTIN or Path(spec).is_file():
        return
    what = "a folder" if Path(spec).is_dir() else "no such file"
    raise ConfigError(f"{where}: profile = {spec!r}: neither a built-in profile "
                      f"({', '.join(BUILTIN)}) nor a profile file ({what}); give one of "
                      "those names or the path of a .toml/.yaml profile")


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                          "it as UTF-8") from exc
    except OSError as exc:      # no permission, a special file
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}); give a readable "
                          "scenario file") from exc
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of scenario keys at the top")
    return data
