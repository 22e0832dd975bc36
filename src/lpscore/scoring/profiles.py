"""Strategy profiles: which KPIs matter, by how much, and how evidence is weighed.

Built in, from the table in docs/kpis.md: ``hft``, ``block``, ``best_price``. A custom profile
is a TOML or YAML file (docs/scoring.md)::

    name = "desk_fx"
    normalization = "robust_z"     # robust_z | minmax | rank
    half_life = "4h"               # ms, s, m, h, d; "off" for no decay
    # half_life_orders = 500       # or decay by the number of orders sent since
    shrinkage = 20                 # prior strength, in pseudo-orders
    min_orders = 30                # fewer child orders: provisional
    normalize = false              # true: rescale weights to sum to 1
    [weights]
    ack_latency_ms_p50 = 0.3
    fill_rate = 0.3
    markout_bps_5s = 0.4

Validation names the key and the fix: unknown KPI (with the closest known names), negative
weight, weights that do not sum to 1 within 1e-9 unless ``normalize = true``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import yaml

from lpscore.errors import ConfigError
from lpscore.scoring.catalog import KpiSpec, weighable
from lpscore.stats.table import Decay

__all__ = ["BUILTIN", "MAX_DRAWS", "NORMALIZATIONS", "Profile", "load_profile",
           "parse_duration"]

T = TypeVar("T")
NS_PER = {"ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "d": 86_400e9}
NORMALIZATIONS = ("robust_z", "minmax", "rank")
MAX_DRAWS = 100_000
"""Posterior draws a profile may ask for: each context holds draws x LPs x KPIs floats (at
100,000 draws, 8 LPs and 10 KPIs, 64 MB), and the interval's error falls only as
1/sqrt(draws)."""
Normalization = Literal["robust_z", "minmax", "rank"]


@dataclass(frozen=True, slots=True)
class Profile:
    """A named set of non-negative KPI weights summing to 1, and how to weigh evidence."""

    name: str
    weights: dict[str, float]
    normalization: Normalization = "robust_z"
    decay: Decay | None = field(default_factory=lambda: Decay(NS_PER["d"]))
    """Default: half-life of one day of wall time (KPIS.md: one trading day in batch)."""
    shrinkage: float = 20.0
    """Prior strength ``m`` in pseudo-orders (KPIS.md default 20); 0 turns shrinkage off."""
    min_orders: int = 30
    interval: float = 0.95
    """Coverage of the score's interval."""
    draws: int = 1000
    """Posterior draws behind the interval and the rank stability."""
    seed: int = 0
    mad_floor: dict[str, float] = field(default_factory=dict)
    """Per-KPI floor of 1.4826 x MAD (robust_z), overriding the catalog's."""
    description: str = ""

    def validated(self, specs: Mapping[str, KpiSpec], *, normalize: bool = False,
                  where: str = "") -> Profile:
        """This profile checked against ``specs``; weights rescaled to 1 if ``normalize``."""
        where = where or f"profile {self.name!r}"
        known = weighable(dict(specs))
        for kpi in [*self.weights, *self.mad_floor]:
            if kpi not in known:
                close = difflib.get_close_matches(kpi, known, n=3, cutoff=0.5)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                horizon = (" (per-horizon KPIs exist only for kpi.horizons_ms in the config)"
                           if re.search(r"_\d+(ms|s|m)$", kpi) else "")
                raise ConfigError(f"{where}: unknown KPI {kpi!r}{horizon}; {hint}"
                                  f"known KPIs: {', '.join(known)}")
        for kpi, weight in self.weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ConfigError(f"{where}: weight of {kpi} is {weight}; weights must be "
                                  "finite and >= 0")
        for kpi, floor in self.mad_floor.items():
            if not math.isfinite(floor) or floor <= 0:
                raise ConfigError(f"{where}: mad_floor of {kpi} is {floor}; use a number > 0")
        try:
            total = math.fsum(self.weights.values())
        except OverflowError as exc:
            raise ConfigError(f"{where}: weights too large to add up; weights are relative, "
                              "give numbers such as 0.25 or 25") from exc
        if total <= 0:
            raise ConfigError(f"{where}: no KPI carries weight; give [weights] with at least "
                              "one positive weight")
        if normalize:
            return replace(self, weights={k: w / total for k, w in self.weights.items()})
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(f"{where}: weights sum to {total:.12g}, not 1; make them sum to "
                              "1 or set normalize = true to rescale them")
        return self


BUILTIN: dict[str, Profile] = {
    "hft": Profile("hft", {"ack_latency_ms_p50": 0.60, "fill_rate": 0.15, "pi_bps": 0.10,
                           "impact_bps_5s": 0.15},
                   description="high-frequency: speed first"),
    "block": Profile("block", {"ack_latency_ms_p50": 0.10, "fill_rate": 0.40, "pi_bps": 0.20,
                               "impact_bps_5s": 0.30},
                     description="block: size done, little impact"),
    "best_price": Profile("best_price", {"ack_latency_ms_p50": 0.20, "fill_rate": 0.20,
                                         "pi_bps": 0.50, "impact_bps_5s": 0.10},
                          description="best price: improvement first"),
}

_KEYS = {"name", "description", "weights", "normalize", "normalization", "half_life",
         "half_life_orders", "shrinkage", "min_orders", "interval", "draws", "seed",
         "mad_floor"}


def load_profile(spec: str, specs: Mapping[str, KpiSpec]) -> Profile:
    """A built-in profile by name, or a TOML/YAML profile file, validated against ``specs``."""
    path = Path(spec)
    if spec in BUILTIN and not path.is_file():
        return BUILTIN[spec].validated(specs, where=f"built-in profile {spec!r}")
    if not path.is_file():
        raise ConfigError(f"--profile {spec}: neither a built-in profile "
                          f"({', '.join(BUILTIN)}) nor an existing .toml/.yaml file")
    raw = _read(path)
    where = str(path)
    unknown = sorted(str(k) for k in set(raw) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys are "
                          f"{', '.join(sorted(_KEYS))}")
    weights = _table(raw, "weights", where)
    if not weights:
        raise ConfigError(f"{where}: no [weights] table; give KPI = weight pairs")
    normalization = raw.get("normalization", "robust_z")
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"{where}: normalization = {normalization!r}; use one of "
                          f"{', '.join(NORMALIZATIONS)}")
    profile = Profile(
        name=_typed(raw, "name", str, where, path.stem),
        weights=weights,
        normalization=cast(Normalization, normalization),
        decay=_decay(raw, where),
        shrinkage=_number(raw, "shrinkage", where, 20.0, low=0.0),
        min_orders=int(_number(raw, "min_orders", where, 30, low=0, integer=True)),
        interval=_number(raw, "interval", where, 0.95, low=0.0, high=1.0, open_ends=True),
        draws=int(_number(raw, "draws", where, 1000, low=10, high=MAX_DRAWS, integer=True)),
        seed=int(_number(raw, "seed", where, 0, low=0, integer=True)),
        mad_floor=_table(raw, "mad_floor", where),
        description=_typed(raw, "description", str, where, ""),
    )
    return profile.validated(specs, normalize=_typed(raw, "normalize", bool, where, False),
                             where=where)


def parse_duration(text: str) -> float:
    """``"500ms"``, ``"30s"``, ``"15m"``, ``"4h"``, ``"1d"`` (24 h) -> nanoseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)\s*", text)
    if not match or not 0 < float(match[1]) * NS_PER[match[2]] < math.inf:
        raise ValueError(f"{text!r} is not a positive duration such as 500ms, 30s, 15m, 4h, 1d")
    return float(match[1]) * NS_PER[match[2]]


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from exc
    except OSError as exc:      # no permission
        raise ConfigError(f"profile file {path} cannot be read ({exc.strerror}); give a "
                          ".toml or .yaml profile file you may read") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot parse it ({exc}); fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a profile is a table of keys (name, weights, ...)")
    return raw


def _decay(raw: dict[str, Any], where: str) -> Decay | None:
    if "half_life" in raw and "half_life_orders" in raw:
        raise ConfigError(f"{where}: give half_life (time) or half_life_orders (count), "
                          "not both")
    if "half_life_orders" in raw:
        return Decay(_number(raw, "half_life_orders", where, 1, low=1, integer=True),
                     clock="orders")
    text = raw.get("half_life", "1d")
    if text == "off" or text is False:  # YAML reads a bare `off` as false (and 0 == False)
        return None
    try:
        return Decay(parse_duration(str(text)))
    except ValueError as exc:
        raise ConfigError(f"{where}: half_life = {text!r}: {exc}, or \"off\"") from exc


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, float]:
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: {key} must be a table of KPI = number")
    out: dict[str, float] = {}
    for kpi, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {key}.{kpi} = {value!r}; give a number")
        out[str(kpi)] = float(value)
    return out


def _typed(raw: dict[str, Any], key: str, kind: type[T], where: str, default: T) -> T:
    value = raw.get(key, default)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} = {value!r}; give a {kind.__name__}")
    return value


def _number(raw: dict[str, Any], key: str, where: str, default: float, *, low: float,
            high: float | None = None, integer: bool = False, open_ends: bool = False) -> float:
    value = raw.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        number = float(value)
        below = number <= low if open_ends else number < low
        above = high is not None and (number >= high if open_ends else number > high)
        ok = math.isfinite(number) and not below and not above
    if not ok:
        bounds = f"> {low}" if open_ends else f">= {low}"
        if high is not None:
            bounds += f" and {'<' if open_ends else '<='} {high}"
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{where}: {key} = {value!r}; give {kind} {bounds}")
    return float(value)
